-- One token from a pre-minted pool per request, so every request presents a fresh token.
-- args = pool file, thread count, mode ("bearer" or "form"), form prefix, then headers.
-- Threads take disjoint shares of the pool; "POOL_WRAPPED n" reports reuse if it ran out.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(args[2])
  mode, prefix = args[3], args[4]
  pool, index, wrapped = {}, 0, 0
  local i = 0
  for line in io.lines(args[1]) do
    if i % nthreads == tid then pool[#pool + 1] = line end
    i = i + 1
  end
  headers = {}
  for j = 5, #args do
    local name, value = args[j]:match("^([^:]+):%s*(.*)$")
    headers[name] = value
  end
end

function request()
  index = index + 1
  if index > #pool then index, wrapped = 1, wrapped + 1 end
  local token = pool[index]
  if mode == "bearer" then
    headers["Authorization"] = "Bearer " .. token
    return wrk.format("GET", nil, headers, nil)
  end
  return wrk.format("POST", nil, headers, prefix .. token)
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("wrapped") end
  io.write(string.format("POOL_WRAPPED %d\n", total))
end

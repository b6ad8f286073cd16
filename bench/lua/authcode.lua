-- Authorization-code round trips with a remembered consent: GET /oauth/authorize with the
-- session cookie answers 302 with a code, then POST /oauth/token redeems it (PKCE S256).
-- One connection per thread (wrk -c equal to -t), so each thread's requests alternate.
-- args = authorize path, cookie, token body prefix (ends "&code="), Basic credentials.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  authorize_path, cookie, token_prefix, basic = args[1], args[2], args[3], args[4]
  state, code, failures, trips = "authorize", nil, 0, 0
end

function request()
  if state == "authorize" then
    return wrk.format("GET", authorize_path, { ["Cookie"] = cookie }, nil)
  end
  return wrk.format("POST", "/oauth/token", {
    ["Authorization"] = "Basic " .. basic,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, token_prefix .. code)
end

function response(status, headers, body)
  if state == "authorize" then
    local location = headers["Location"] or headers["location"] or ""
    code = location:match("[?&]code=([^&]+)")
    if status == 302 and code then state = "token" else failures = failures + 1 end
  else
    if status == 200 then trips = trips + 1 else failures = failures + 1 end
    state = "authorize"
  end
end

function done(summary, latency, requests)
  local f, t = 0, 0
  for _, thread in ipairs(threads) do
    f = f + thread:get("failures")
    t = t + thread:get("trips")
  end
  io.write(string.format("ROUND_TRIPS %d\nFAILURES %d\n", t, f))
end

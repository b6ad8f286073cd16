-- A fixed request built once per thread: args = method, body, then "Name: value" headers.
-- No request() function, so wrk sends its pre-built bytes and the generator stays cheap.
function init(args)
  wrk.method = args[1]
  wrk.body = args[2] ~= "" and args[2] or nil
  for i = 3, #args do
    local name, value = args[i]:match("^([^:]+):%s*(.*)$")
    wrk.headers[name] = value
  end
end

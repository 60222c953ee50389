-- wrk script: POST pre-signed inbound-SMS webhooks, each thread its own slice of the file,
-- so no MessageSid repeats (a repeat would take the cheap idempotent path).
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  path = args[1]
  nthreads = tonumber(args[2])
  requests = {}
  local i = 0
  for line in io.lines(args[3]) do
    if i % nthreads == id then
      local sig, body = line:match("([^\t]*)\t(.*)")
      requests[#requests + 1] = wrk.format("POST", path, {
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["X-Twilio-Signature"] = sig,
      }, body)
    end
    i = i + 1
  end
  n = 0
end

function request()
  n = n + 1
  if n > #requests then n = 1 end
  return requests[n]
end

-- POST /v1/checkins with a new event id each request (thread id and a counter).
local counter = 0
local thread_id = 0
function setup(thread) thread:set("tid", math.random(1, 1e9)) end
function init(args) thread_id = tid end
function request()
  counter = counter + 1
  local body = string.format('{"id":"w-%d-%d","client":"c-w%d","at":"2026-12-03T06:00:00Z","kind":"checkin","source":"peer","measures":{"mood":5}}', thread_id, counter, counter % 50)
  return wrk.format("POST", "/v1/checkins", {["Authorization"] = "Bearer " .. os.getenv("TOKEN"), ["Content-Type"] = "application/json"}, body)
end

-- keys.lua: cache keys for the quickstart's user-activity events.
--
-- Each event {"user":"u0042","event":"page_view","page":"/pricing","seq":17,"ts":...} becomes
-- the latest state of its user under "user:u0042:last" (the event itself is the value, stored
-- as-is), kept for an hour. A logout invalidates the user's session key. Records that are not
-- valid JSON or have no user raise an error: strata dead-letters them with this script's line.

local decode = strata.json.decode

-- The hooks below are called one after another for the same record: decode it once.
local memo_partition, memo_offset, memo_event
local function event(record)
  if record.offset ~= memo_offset or record.partition ~= memo_partition then
    memo_event = nil
    memo_event = decode(record.value)
    memo_partition, memo_offset = record.partition, record.offset
  end
  return memo_event
end

function key(record)
  local ev = event(record)
  if type(ev.user) ~= "string" then
    error("event has no user")
  end
  return "user:" .. ev.user .. ":last"
end

function ttl(record)
  return 3600 -- seconds
end

function invalidate(record)
  local ev = event(record)
  if ev.event == "logout" then
    return "session:" .. ev.user
  end
end

-- users.lua: user profiles under "user:<Kafka key>"; a tombstone (empty value) deletes them.
function key(record)
  if record.key == nil or record.key == "" then
    error("user record without a key")
  end
  return "user:" .. record.key
end

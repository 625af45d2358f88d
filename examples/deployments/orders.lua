-- orders.lua: the latest state of an order under "order:<Kafka key>", the record value as-is.
-- A record without a key cannot be cached: error() sends it to the dead letters.
function key(record)
  if record.key == nil or record.key == "" then
    error("order record without a key")
  end
  return "order:" .. record.key
end

-- The key hook of /etc/strata/strata.toml: the Kafka record's key is the cache key, its value
-- the cached value (docs/scripting.md has the other hooks: ttl, value, invalidate, version).
function key(record)
  return record.key
end

// The bus entry of redis_l2: see bus_announce.hpp.
#include "bus_announce.hpp"

#include <unistd.h>

#include <climits>

namespace redis_l2 {

std::string default_bus_node() {
  char host[HOST_NAME_MAX + 1] = {0};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(host[0] ? host : "localhost") + ":" + std::to_string(getpid());
}

bool announces(strata_tier_op_kind kind) {
  switch (kind) {
    case STRATA_TIER_SET:
    case STRATA_TIER_ADD:
    case STRATA_TIER_DELETE:
    case STRATA_TIER_REPLACE:
    case STRATA_TIER_APPEND:
    case STRATA_TIER_PREPEND:
    case STRATA_TIER_INCR:
    case STRATA_TIER_DECR:
    case STRATA_TIER_CAS:
      return true;
    default:
      return false;
  }
}

void append_xadd(redisContext* c, const BusSettings& b, const std::vector<std::string_view>& keys) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(7 + 2 * keys.size());
  lens.reserve(7 + 2 * keys.size());
  auto add = [&](std::string_view a) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  };
  const std::string maxlen = std::to_string(b.maxlen);
  add("XADD");
  add(b.stream);
  add("MAXLEN");
  add("~");
  add(maxlen);
  add("*");
  add("node");
  add(b.node);
  for (std::string_view k : keys) {
    add("k");
    add(k);
  }
  redisAppendCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data());
}

BusReport::BusReport(strata::Host host, const BusSettings& b) : host_(host), bus_(b) {
  entries_ = host_.counter("strata_redis_bus_entries_total",
                           "Invalidation bus entries added (one per atomic step)");
  errors_ = host_.counter("strata_redis_bus_errors_total",
                          "Invalidation bus entries that Redis refused or that were not sent "
                          "(the connection was lost)");
}

// Inside an atomic step only a stream key of another type makes the XADD fail: the batch's
// writes are durable, their announcement is lost, so it is said loudly.
void BusReport::failed(const std::string& why) {
  errors_.add();
  uint64_t now = host_.monotonic_ns();
  uint64_t last = logged_ns_.load(std::memory_order_relaxed);
  if (last != 0 && now - last < 60000000000ull) return;
  logged_ns_.store(now, std::memory_order_relaxed);
  host_.error(why + "; nodes with their own L1 were not told (check bus_stream)");
}

void BusReport::script_reply(const redisReply* r, const std::string& where) {
  if (r->type == REDIS_REPLY_ERROR)
    failed(where + ": XADD " + bus_.stream + ": " + std::string(r->str, r->len) +
           "; the writes stand");
  else if (r->type == REDIS_REPLY_STRING && r->len > 0)
    added();
}

std::string BusReport::send(redisContext* c, const std::vector<std::string_view>& keys,
                            const std::string& where, bool* io) {
  *io = false;
  append_xadd(c, bus_, keys);
  void* raw = nullptr;
  std::string err;
  if (redisGetReply(c, &raw) != REDIS_OK || raw == nullptr) {
    *io = true;
    err = where + ": XADD " + bus_.stream + ": " + (c->err ? c->errstr : "connection lost");
  } else {
    redisReply* r = static_cast<redisReply*>(raw);
    if (r->type == REDIS_REPLY_ERROR)
      err = where + ": XADD " + bus_.stream + ": " + std::string(r->str, r->len);
    freeReplyObject(r);
  }
  if (err.empty())
    added();
  else
    errors_.add();
  return err;
}

}  // namespace redis_l2

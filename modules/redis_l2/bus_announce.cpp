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

}  // namespace redis_l2

// The front's writes on memcached_l1: see rich_ops.hpp.
#include "rich_ops.hpp"

#include "connections.hpp"

namespace memcached_l1 {
namespace {

// A cas refused because the item changed between our gets and our cas is read again this many
// times: a writer that rewrote the same bytes changed memcached's unique but not the token.
constexpr int kCasAttempts = 3;

// libmemcached wants a pointer even for an empty value.
const char* val(const strata_tier_op& op) { return op.value.data ? op.value.data : ""; }

RichOutcome outcome(memcached_st* m, memcached_return_t rc, const char* absent) {
  RichOutcome o;
  o.status = status_of(rc);
  if (o.status == STRATA_NOT_FOUND || o.status == STRATA_NOT_STORED)
    o.message = absent;
  else if (o.status != STRATA_OK)
    o.message = last_error(m);
  return o;
}

RichOutcome counter(memcached_st* m, const std::string& key, const strata_tier_op& op) {
  uint64_t value = 0;
  // The _by_key forms take a 64-bit delta (memcached_increment's is 32 bits).
  memcached_return_t rc = op.kind == STRATA_TIER_INCR
                              ? memcached_increment_by_key(m, key.data(), key.size(), key.data(),
                                                           key.size(), op.version, &value)
                              : memcached_decrement_by_key(m, key.data(), key.size(), key.data(),
                                                           key.size(), op.version, &value);
  RichOutcome o;
  if (rc == MEMCACHED_SUCCESS) {
    o.has_value = true;
    o.value = std::to_string(value);
    return o;
  }
  if (rc == MEMCACHED_CLIENT_ERROR) {  // "cannot increment or decrement non-numeric value"
    o.status = STRATA_ERR_INVALID;
    o.message = "non-numeric value";
    return o;
  }
  return outcome(m, rc, "no such key");
}

// The item as `gets` returns it: its bytes and memcached's unique. NOT_FOUND when absent.
struct Read {
  memcached_return_t rc = MEMCACHED_SUCCESS;
  bool found = false;
  std::string value;
  uint64_t unique = 0;
};

Read gets(memcached_st* m, const std::string& key) {
  Read r;
  const char* k = key.data();
  size_t klen = key.size();
  r.rc = memcached_mget(m, &k, &klen, 1);
  if (memcached_failed(r.rc)) return r;
  memcached_result_st res;
  memcached_result_create(m, &res);
  memcached_return_t frc = MEMCACHED_SUCCESS;
  while (memcached_fetch_result(m, &res, &frc)) {
    r.found = true;
    r.value.assign(memcached_result_value(&res), memcached_result_length(&res));
    r.unique = memcached_result_cas(&res);
  }
  memcached_result_free(&res);
  r.rc = frc == MEMCACHED_END || frc == MEMCACHED_NOTFOUND || frc == MEMCACHED_SUCCESS
             ? MEMCACHED_SUCCESS
             : frc;
  return r;
}

RichOutcome cas(memcached_st* m, const std::string& key, const strata_tier_op& op, time_t exptime) {
  // The handle is leased to this caller alone: gets only for this op, plain get after it.
  memcached_behavior_set(m, MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1);
  RichOutcome o;
  for (int attempt = 0;; ++attempt) {
    Read r = gets(m, key);
    if (memcached_failed(r.rc)) {
      o = outcome(m, r.rc, "");
      break;
    }
    if (!r.found) {
      o.status = STRATA_NOT_FOUND;
      o.message = "no such key";
      break;
    }
    if (strata_cas_token(r.value.data(), r.value.size()) != op.version) {
      o.status = STRATA_NOT_STORED;
      o.message = "the stored value changed (cas token differs)";
      break;
    }
    memcached_return_t rc = memcached_cas(m, key.data(), key.size(), val(op), op.value.len, exptime,
                                          op.flags, r.unique);
    if (rc == MEMCACHED_DATA_EXISTS && attempt + 1 < kCasAttempts) continue;
    o = outcome(
        m, rc,
        rc == MEMCACHED_DATA_EXISTS ? "the item kept changing under the cas" : "no such key");
    break;
  }
  memcached_behavior_set(m, MEMCACHED_BEHAVIOR_SUPPORT_CAS, 0);
  return o;
}

}  // namespace

RichOutcome run_rich(memcached_st* m, const std::string& key, const strata_tier_op& op,
                     time_t exptime) {
  const char* k = key.data();
  size_t kl = key.size();
  switch (op.kind) {
    case STRATA_TIER_REPLACE:
      return outcome(m, memcached_replace(m, k, kl, val(op), op.value.len, exptime, op.flags),
                     "no such key (replace stores only over one)");
    case STRATA_TIER_APPEND:  // memcached ignores the flags and exptime of append / prepend
      return outcome(m, memcached_append(m, k, kl, val(op), op.value.len, 0, 0), "no such key");
    case STRATA_TIER_PREPEND:
      return outcome(m, memcached_prepend(m, k, kl, val(op), op.value.len, 0, 0), "no such key");
    case STRATA_TIER_INCR:
    case STRATA_TIER_DECR:
      return counter(m, key, op);
    case STRATA_TIER_TOUCH:
      return outcome(m, memcached_touch(m, k, kl, exptime), "no such key");
    default:
      return cas(m, key, op, exptime);
  }
}

}  // namespace memcached_l1

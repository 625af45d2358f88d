// strata C++ SDK: building, reading and answering the ops that cross the ABI (header-only).
//
// Used by modules (through sdk.hpp) and by the host itself, so there is one copy of each helper:
// tier ops (make_op, set_op_error, set_result_ttl, guard_name), chain ops for fronts, the item
// a tier stores (value and client flags together) and the TTL arithmetic of strata.h's
// STRATA_TTL_* constants.
#pragma once

#include <strata/strata.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace strata {

// Copies `msg` into a fixed buffer, truncated, always NUL-terminated.
inline void copy_message(char* dst, size_t cap, std::string_view msg) {
  if (cap == 0) return;
  size_t n = msg.size() < cap - 1 ? msg.size() : cap - 1;
  std::memcpy(dst, msg.data(), n);
  dst[n] = '\0';
}

inline void set_error(strata_error* err, std::string_view msg) {
  if (err) copy_message(err->message, sizeof err->message, msg);
}

inline void set_op_error(strata_tier_op& op, strata_status status, std::string_view msg) {
  op.status = status;
  copy_message(op.error, sizeof op.error, msg);
}

inline std::string_view op_error(const strata_tier_op& op) {
  return std::string_view(op.error, strnlen(op.error, sizeof op.error));
}

// A tier op of `kind` with the input fields filled (the bytes are not copied: `key` and `value`
// must outlive it) and its status still STRATA_UNANSWERED.
namespace detail {
// A zeroed op of either struct with the fields both kinds of op have.
template <typename Op, typename Kind>
inline Op zeroed_op(Kind kind, std::string_view key, std::string_view value, int64_t ttl_ms,
                    uint32_t flags) {
  Op op;
  std::memset(&op, 0, sizeof op);
  op.struct_size = sizeof op;
  op.kind = kind;
  op.key = strata_bytes{key.data(), key.size()};
  op.value = strata_bytes{value.data(), value.size()};
  op.ttl_ms = ttl_ms;
  op.flags = flags;
  return op;
}
}  // namespace detail

inline strata_tier_op make_op(strata_tier_op_kind kind, std::string_view key,
                              std::string_view value = {}, int64_t ttl_ms = STRATA_TTL_DEFAULT,
                              uint64_t version = 0, uint32_t flags = 0) {
  auto op = detail::zeroed_op<strata_tier_op>(kind, key, value, ttl_ms, flags);
  op.version = version;
  op.status = STRATA_UNANSWERED;
  return op;
}

inline std::string_view op_key(const strata_tier_op& op) {
  return op.key.data ? std::string_view(op.key.data, op.key.len) : std::string_view();
}
inline std::string_view op_value(const strata_tier_op& op) {
  return op.value.data ? std::string_view(op.value.data, op.value.len) : std::string_view();
}

// GET: reports the item's remaining TTL (ms; STRATA_TTL_NEVER; STRATA_TTL_UNKNOWN). A no-op when
// the host predates ABI 1.1 and its op has no room for it.
inline void set_result_ttl(strata_tier_op& op, int64_t ms) {
  if (op.struct_size >= offsetof(strata_tier_op, result_ttl_ms) + sizeof op.result_ttl_ms)
    op.result_ttl_ms = ms;
}

// ABI 1.2: the partition watermark guard of a SET/DELETE (guard_name empty = unguarded). Empty
// when the host predates 1.2.
inline std::string_view guard_name(const strata_tier_op& op) {
  if (op.struct_size < offsetof(strata_tier_op, guard_offset) + sizeof op.guard_offset ||
      op.guard_name.len == 0)
    return {};
  return {op.guard_name.data, op.guard_name.len};
}

// ABI 1.2, STRATA_TIER_INVALIDATE_TAG: the deleted keys as the op hands them back,
// "<decimal length>:<bytes>" once per key. A tier appends with append_tag_key(); the host
// reads with tag_keys(), which stops at the first malformed entry and says so (false).
inline void append_tag_key(std::string& out, std::string_view key) {
  out += std::to_string(key.size());
  out += ':';
  out.append(key.data(), key.size());
}
template <typename Fn>
inline bool tag_keys(std::string_view encoded, Fn&& each) {
  size_t i = 0;
  while (i < encoded.size()) {
    size_t len = 0, digits = 0;
    while (i < encoded.size() && encoded[i] >= '0' && encoded[i] <= '9' && digits < 10) {
      len = len * 10 + static_cast<size_t>(encoded[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0 || i >= encoded.size() || encoded[i] != ':' || encoded.size() - i - 1 < len)
      return false;
    each(encoded.substr(i + 1, len));
    i += 1 + len;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// What a tier stores for a key. The value and the client flags travel together so that a tier
// that stores the item stores the flags (negative-cache entries are told apart by them).
struct Item {
  std::string value;
  uint32_t flags = 0;
  // SET/ADD: the op's TTL (STRATA_TTL_DEFAULT, STRATA_TTL_NEVER or ms). GET answer: the
  // remaining TTL (STRATA_TTL_NEVER, ms, or STRATA_TTL_UNKNOWN).
  int64_t ttl_ms = STRATA_TTL_DEFAULT;
};

// The item a SET/ADD op asks to store.
inline Item item_of(const strata_tier_op& op) {
  return Item{std::string(op_value(op)), op.flags, op.ttl_ms};
}

// The absolute expiry (unix ms; 0 = never) for a TTL from an op, with the tier's default TTL
// (<= 0: items without a TTL never expire) applied to STRATA_TTL_DEFAULT.
inline int64_t expiry_ms(int64_t ttl_ms, int64_t default_ttl_ms, int64_t now_ms) {
  const int64_t ttl = ttl_ms == STRATA_TTL_DEFAULT ? default_ttl_ms : ttl_ms;
  return ttl <= 0 ? 0 : now_ms + ttl;
}
inline bool expired(int64_t expiry, int64_t now_ms) { return expiry != 0 && now_ms >= expiry; }
// The remaining TTL of an item expiring at `expiry` (0 = never), as a GET reports it.
inline int64_t remaining_ttl_ms(int64_t expiry, int64_t now_ms) {
  if (expiry == 0) return STRATA_TTL_NEVER;
  return expiry - now_ms > 0 ? expiry - now_ms : 1;
}

// Policies: the ttl() hook's TTL when it gave one, else `fallback` (a host before the TTL
// constants passed -1 for "none", which this reads the same way).
inline int64_t hook_ttl_or(const strata_policy_input& in, int64_t fallback) {
  return in.hook_ttl_ms > 0 ? in.hook_ttl_ms : fallback;
}

// ---------------------------------------------------------------------------------------------
// Fronts: building chain ops and reading their results.

// A zeroed op of `kind` on `key` (the bytes are not copied: they must outlive the submit).
inline strata_chain_op chain_op(strata_chain_op_kind kind, std::string_view key,
                                std::string_view value = {}, int64_t ttl_ms = 0,
                                uint32_t flags = 0, uint64_t cas = 0) {
  auto op = detail::zeroed_op<strata_chain_op>(kind, key, value, ttl_ms, flags);
  op.cas = cas;
  return op;
}

inline std::string_view result_value(const strata_chain_op& op) {
  return op.result_value.data ? std::string_view(op.result_value.data, op.result_value.len)
                              : std::string_view();
}

inline void set_chain_op_error(strata_chain_op& op, strata_status status, std::string_view msg) {
  op.status = status;
  copy_message(op.error, sizeof op.error, msg);
}

inline std::string_view result_error(const strata_chain_op& op) {
  return std::string_view(op.error, strnlen(op.error, sizeof op.error));
}

}  // namespace strata

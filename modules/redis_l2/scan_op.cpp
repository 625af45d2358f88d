#include "scan_op.hpp"

#include <strata/scan_page.hpp>

#include <algorithm>
#include <vector>

#include "envelope.hpp"
#include "redis_link.hpp"

namespace redis_l2 {
namespace {

bool ends_with(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

bool is_cursor(std::string_view c) {
  if (c.empty() || c.size() > 20) return false;
  for (char ch : c)
    if (ch < '0' || ch > '9') return false;
  return true;
}

// Reads one reply; nullptr on an I/O failure.
Reply next_reply(redisContext* c) {
  void* raw = nullptr;
  if (redisGetReply(c, &raw) != REDIS_OK) return nullptr;
  return Reply(static_cast<redisReply*>(raw));
}

}  // namespace

bool is_bookkeeping_key(std::string_view prefix, std::string_view key) {
  if (key.substr(0, prefix.size()) == prefix &&
      key.substr(prefix.size()).substr(0, 10) == "strata:wm:")
    return true;
  return (!key.empty() && key[0] == '{' && ends_with(key, "}:strata-ver")) ||
         ends_with(key, ":{strata-ver}");
}

std::string match_pattern(std::string_view prefix) {
  std::string p;
  p.reserve(prefix.size() + 1);
  for (char ch : prefix) {
    if (ch == '*' || ch == '?' || ch == '[' || ch == ']' || ch == '\\') p += '\\';
    p += ch;
  }
  p += '*';
  return p;
}

ScanOutcome run_scan(redisContext* c, const Encoding& e, const LinkSettings& link,
                     const strata::Host& host, strata_tier_op& op) {
  ScanOutcome out;
  const std::string where = "redis " + link.endpoint.display;
  op.status = STRATA_OK;
  op.error[0] = '\0';
  std::string_view cursor = strata::op_value(op);
  if (cursor.empty()) cursor = "0";
  if (!is_cursor(cursor)) {
    strata::set_op_error(op, STRATA_ERR_INVALID, "SCAN: the cursor is not a Redis SCAN cursor");
    return out;
  }
  uint64_t count = op.version == 0 ? kScanCount : std::min(op.version, kScanCountMax);
  const std::string count_text = std::to_string(count);
  std::string prefix = e.prefix;
  prefix.append(strata::op_key(op));
  const std::string pattern = match_pattern(prefix);
  auto lost = [&](const char* what) {
    out.lost = true;
    out.error = io_error(c, link) + " (" + what + ")";
    strata::set_op_error(op, STRATA_ERR_UNAVAILABLE, out.error);
    return out;
  };

  SigpipeGuard guard;
  const char* scan_argv[] = {"SCAN",         cursor.data(), "MATCH",
                             pattern.data(), "COUNT",       count_text.data()};
  size_t scan_lens[] = {4, cursor.size(), 5, pattern.size(), 5, count_text.size()};
  redisAppendCommandArgv(c, 6, scan_argv, scan_lens);
  redisAppendCommand(c, "DBSIZE");
  Reply scan = next_reply(c);
  if (!scan) return lost("SCAN");
  Reply dbsize = next_reply(c);
  if (!dbsize) return lost("DBSIZE");
  if (scan->type == REDIS_REPLY_ERROR) {
    bool drop = false;
    std::string_view msg(scan->str, scan->len);
    strata::set_op_error(op, classify_error_reply(msg, &drop),
                         where + ": SCAN: " + std::string(msg));
    return out;
  }
  if (scan->type != REDIS_REPLY_ARRAY || scan->elements != 2 ||
      scan->element[0]->type != REDIS_REPLY_STRING || scan->element[1]->type != REDIS_REPLY_ARRAY) {
    strata::set_op_error(op, STRATA_ERR_INTERNAL, where + ": unexpected reply to SCAN");
    return out;
  }
  std::string_view next(scan->element[0]->str, scan->element[0]->len);
  if (next == "0") next = {};
  uint64_t total = dbsize->type == REDIS_REPLY_INTEGER && dbsize->integer >= 0
                       ? static_cast<uint64_t>(dbsize->integer)
                       : STRATA_SCAN_TOTAL_UNKNOWN;

  const redisReply* keys = scan->element[1];
  std::vector<std::string_view> wanted;
  uint32_t skipped = 0;
  for (size_t i = 0; i < keys->elements; ++i) {
    const redisReply* k = keys->element[i];
    std::string_view key(k->str ? k->str : "", k->type == REDIS_REPLY_STRING ? k->len : 0);
    if (k->type != REDIS_REPLY_STRING || key.size() < e.prefix.size() ||
        is_bookkeeping_key(e.prefix, key)) {
      ++skipped;
      continue;
    }
    wanted.push_back(key);
  }
  for (std::string_view key : wanted) {
    const char* argv[] = {"GET", key.data()};
    size_t lens[] = {3, key.size()};
    redisAppendCommandArgv(c, 2, argv, lens);
    argv[0] = "PTTL";
    lens[0] = 4;
    redisAppendCommandArgv(c, 2, argv, lens);
  }
  strata::ScanPageWriter page(next, total, 0);
  for (std::string_view key : wanted) {
    Reply value = next_reply(c);
    if (!value) return lost("GET");
    Reply pttl = next_reply(c);
    if (!pttl) return lost("PTTL");
    // Not a string (a stream, a hash: not ours to serve), or gone since the SCAN.
    if (value->type != REDIS_REPLY_STRING) {
      ++skipped;
      continue;
    }
    Unwrapped v = unwrap(value->str, value->len);  // the client flags, as GET answers them
    page.add(key.substr(e.prefix.size()), v.payload, v.flags, remaining_ttl(pttl.get()));
  }
  page.set_skipped(skipped);
  host.set_value(op, page.bytes().data(), page.bytes().size());
  return out;
}

}  // namespace redis_l2

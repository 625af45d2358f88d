// libFuzzer target: the boundary between Lua hooks and the write path. The input is a batch of
// records; each carries a "program" (header "p") that fuzz/boundary.lua decodes into what its
// key/ttl/value/invalidate/version hooks return: every Lua type, binary strings, NaN and
// infinities, huge and negative numbers, nested and cyclic tables, errors, runaway loops,
// memory bombs. The batch then goes through derive_plan (null policy) and coalesce, and the
// plan must keep its invariants: a record is dead with a reason or has well-formed ops, TTLs
// stay in [0, kMaxTtlMs], coalescing leaves one winner per key. One Lua state per hook set,
// loaded once and reused for every input, as a worker thread reuses its own.
#include <unistd.h>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "common/log.hpp"
#include "lua_hooks.hpp"
#include "pipeline/write_plan.hpp"

namespace {

constexpr size_t kMaxInput = 4096;  // programs this long already reach every construct
constexpr size_t kMaxRecords = 4;
constexpr int kVariants = 16;  // which of ttl, value, invalidate, version exist (bits 0..3)

[[noreturn]] void broken(const char* what, const std::string& detail) {
  std::fprintf(stderr, "lua_boundary_fuzz: invariant broken: %s\n%s\n", what, detail.c_str());
  std::abort();
}

std::unique_ptr<strata::lua::KeyHooks> hooks[kVariants];
std::string script_dir;
bool debug = false;  // STRATA_FUZZ_DEBUG=1: print each plan (to check what a seed does)

// Bytes in, with zeros past the end: any input is a valid batch.
struct Reader {
  const uint8_t* p;
  size_t n;
  uint8_t u8() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  std::string bytes(size_t len) {
    len = std::min(len, n);
    std::string s(reinterpret_cast<const char*>(p), len);
    p += len;
    n -= len;
    return s;
  }
};

struct OwnedRecord {
  std::string key, value, program, dup_name;
  bool null_key = false, null_value = false, null_topic = false;
  std::vector<strata_header> headers;
};

void load_variants() {
  std::ifstream in(STRATA_FUZZ_SCRIPT);
  if (!in) broken("cannot read the script", STRATA_FUZZ_SCRIPT);
  std::stringstream body;
  body << in.rdbuf();
  char tmpl[] = "/tmp/strata-lua-fuzz-XXXXXX";
  if (!mkdtemp(tmpl)) broken("mkdtemp failed", tmpl);
  script_dir = tmpl;
  for (int v = 0; v < kVariants; ++v) {
    std::string path = script_dir + "/boundary-" + std::to_string(v) + ".lua";
    std::ofstream out(path);
    out << "local HOOKS = {ttl = " << ((v & 1) ? "true" : "false")
        << ", value = " << ((v & 2) ? "true" : "false")
        << ", invalidate = " << ((v & 4) ? "true" : "false")
        << ", version = " << ((v & 8) ? "true" : "false") << "}\n"
        << body.str();
    out.close();
    strata::lua::ScriptSettings s;
    s.path = path;
    s.instruction_budget = 50000;    // a runaway loop costs ~0.1 ms, not the default's 2 ms
    s.memory_limit_bytes = 2 << 20;  // a memory bomb hits the cap after ~2 MiB of copies
    s.instance = "pipelines.fuzz";
    auto loaded = strata::lua::KeyHooks::load(s);
    if (!loaded) broken("the fuzz script does not load", loaded.error());
    hooks[v] = std::move(loaded.value());
    unlink(path.c_str());
  }
  rmdir(script_dir.c_str());
}

std::string describe(const strata::WritePlan& plan) {
  std::string out;
  for (size_t r = 0; r < plan.records.size(); ++r)
    out += "record " + std::to_string(r) + " dead=\"" + plan.records[r].dead +
           "\" value.size=" + std::to_string(plan.records[r].value.size()) +
           " version=" + std::to_string(plan.records[r].version) + "\n";
  for (const auto& op : plan.ops)
    out += "op record=" + std::to_string(op.record) + " key.size=" + std::to_string(op.key.size()) +
           (op.invalidation ? " invalidation" : " write") +
           (op.decisions.empty() ? "" : " ttl=" + std::to_string(op.decisions[0].ttl_ms)) +
           (op.superseded ? " superseded\n" : "\n");
  return out;
}

void check_plan(const strata::WritePlan& plan, const strata_record_batch& batch,
                const strata::PlanSettings& s, size_t ntiers, bool scripted, uint64_t marked) {
  using strata::Ordering;
  auto broken = [&plan](const char* what) { ::broken(what, describe(plan)); };
  if (plan.records.size() != batch.count) broken("one entry per record");
  for (size_t r = 0; r < plan.records.size(); ++r) {
    const auto& e = plan.records[r];
    if (e.rec != &batch.records[r]) broken("an entry points at another record");
    // A panic would have discarded the state: every later record of this hook set would die.
    if (e.dead.rfind("script: Lua panic", 0) == 0 ||
        e.dead.rfind("script: the Lua state is unusable", 0) == 0)
      broken("a Lua error escaped a protected call");
    if (e.tombstone && !e.value.empty()) broken("a tombstone with a value");
    if (s.guard && e.dead.empty() && e.guard >= plan.guards.size())
      broken("a live record without its watermark");
  }
  size_t prev_record = 0;
  bool seen_invalidation = false;
  for (size_t i = 0; i < plan.ops.size(); ++i) {
    const auto& op = plan.ops[i];
    if (op.record >= plan.records.size()) broken("an op of no record");
    const auto& e = plan.records[op.record];
    if (!e.dead.empty()) broken("a dead record with ops");
    if (op.record < prev_record) broken("ops out of record order");
    if (op.record != prev_record) seen_invalidation = false;
    prev_record = op.record;
    if (op.invalidation) {
      seen_invalidation = true;
      if (!op.decisions.empty()) broken("an invalidation with tier decisions");
      continue;
    }
    if (seen_invalidation) broken("a write after an invalidation of the same record");
    // key() refuses an empty key; a record's own empty key (no script) and an empty
    // invalidation reach the plan, and the tiers refuse them per op (redis_l2: "empty key").
    if (op.key.empty() && scripted) broken("a scripted write of an empty key");
    if (op.decisions.size() != ntiers) broken("not one decision per tier");
    if (s.ordering == Ordering::Timestamp && e.rec->timestamp_ms < 0)
      broken("a timestamp-ordered write without a timestamp");
    for (size_t t = 0; t < ntiers; ++t) {
      auto action = op.action(t);
      // With no policy every tier gets the write itself: a SET, or a DELETE for a tombstone.
      if (action != (e.tombstone ? STRATA_ACTION_DELETE : STRATA_ACTION_SET))
        broken("a null-policy write that is neither SET nor a tombstone's DELETE");
      int64_t ttl = op.ttl_ms(t);
      if (ttl < 0 || ttl > strata::kMaxTtlMs) broken("a TTL outside [0, kMaxTtlMs]");
    }
  }
  // coalesce: exactly one winner per written key, the last (Partition) or the highest version
  // (the last of equals); invalidations of version/timestamp pipelines keep their place.
  uint64_t superseded = 0;
  std::map<std::string, size_t> winner;
  for (size_t i = 0; i < plan.ops.size(); ++i) {
    const auto& op = plan.ops[i];
    superseded += op.superseded;
    if (s.ordering != Ordering::Partition && op.invalidation) {
      if (op.superseded) broken("a superseded invalidation under per-key ordering");
      continue;
    }
    auto it = winner.find(op.key);
    bool better = it == winner.end();
    if (!better) {
      const auto& best = plan.ops[it->second];
      better = s.ordering == Ordering::Partition ||
               plan.records[op.record].version >= plan.records[best.record].version;
    }
    if (better) winner[op.key] = i;
  }
  if (superseded != marked) broken("coalesce's count differs from the ops it marked");
  for (size_t i = 0; i < plan.ops.size(); ++i) {
    const auto& op = plan.ops[i];
    if (s.ordering != Ordering::Partition && op.invalidation) continue;
    if ((winner[op.key] == i) == op.superseded) broken("the wrong op of a key won");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  strata::log::set_level(STRATA_LOG_ERROR);
  debug = std::getenv("STRATA_FUZZ_DEBUG") != nullptr;
  load_variants();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxInput) return -1;
  Reader in{data, size};
  const uint8_t variant = in.u8();  // 0xF0 and above: no script (the record's key is the key)
  const uint8_t mode = in.u8();
  const size_t count = 1 + in.u8() % kMaxRecords;

  strata::PlanSettings s;
  s.pipeline = "fuzz";
  s.ordering = static_cast<strata::Ordering>((mode & 3) % 3);
  s.guard = s.ordering == strata::Ordering::Partition && (mode & 4);
  s.offset_versions = s.ordering == strata::Ordering::Partition && !s.guard && (mode & 8);
  const size_t ntiers = (mode >> 4) % 4;
  static const char* const kTierNames[] = {"tiers.l1", "tiers.l2", "tiers.l3"};
  std::vector<strata_policy_tier> tiers;
  for (size_t t = 0; t < ntiers; ++t) tiers.push_back({kTierNames[t], 0});
  s.tiers = &tiers;

  static const int64_t kOffsets[] = {0, -1, INT64_MAX, int64_t(1) << 53};
  static const int64_t kTimestamps[] = {-1, 1700000000000, INT64_MAX, 0};
  static const int32_t kPartitions[] = {0, 1, -1, INT32_MAX};
  std::vector<OwnedRecord> owned(count);
  std::vector<strata_record> recs(count);
  for (size_t r = 0; r < count; ++r) {
    OwnedRecord& o = owned[r];
    const uint8_t flags = in.u8();
    const uint8_t where = in.u8();
    o.null_key = flags & 1;
    o.null_value = flags & 2;
    o.null_topic = flags & 4;
    o.key = in.bytes(in.u8());
    o.value = in.bytes(in.u8());
    size_t plen = in.u8();
    plen |= size_t(in.u8()) << 8;
    o.program = in.bytes(plen);
    if (flags & 8) {  // a header of a repeated name before "p", and one with a null name
      o.headers.push_back({{"p", 1}, {"\0dup", 4}});
      o.headers.push_back({{nullptr, 0}, {nullptr, 0}});
    }
    o.headers.push_back({{"p", 1}, {o.program.data(), o.program.size()}});

    strata_record& rec = recs[r];
    rec.struct_size = sizeof rec;
    rec.topic = o.null_topic ? nullptr : "events";
    rec.partition = kPartitions[where % 4];
    rec.offset = kOffsets[(where >> 2) % 4] + static_cast<int64_t>(r) * ((where >> 2) % 4 != 2);
    rec.timestamp_ms = kTimestamps[(where >> 4) % 4];
    rec.key = o.null_key ? strata_bytes{nullptr, 0} : strata_bytes{o.key.data(), o.key.size()};
    rec.value =
        o.null_value ? strata_bytes{nullptr, 0} : strata_bytes{o.value.data(), o.value.size()};
    rec.headers = o.headers.data();
    rec.header_count = o.headers.size();
  }
  strata_record_batch batch{recs.data(), count, nullptr};

  uint64_t skipped = 0;
  strata::lua::KeyHooks* h = variant >= 0xF0 ? nullptr : hooks[variant % kVariants].get();
  strata::WritePlan plan = strata::derive_plan(batch, h, s, &skipped);
  if (skipped > count) broken("more records skipped than the batch holds", describe(plan));
  uint64_t marked = strata::coalesce(plan, s.ordering);
  if (debug) std::fprintf(stderr, "%s", describe(plan).c_str());
  check_plan(plan, batch, s, ntiers, h != nullptr, marked);
  return 0;
}

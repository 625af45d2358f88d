#include "pipeline/write_plan.hpp"

#include <algorithm>
#include <cstring>
#include <string_view>
#include <unordered_map>

namespace strata {
namespace {

// The record's version under the pipeline's ordering; "" or a dead-letter reason.
std::string record_version(const strata_record& rec, const lua::HookResult& hr,
                           const PlanSettings& s, uint64_t* version) {
  switch (s.ordering) {
    case Ordering::Version:
      if (!hr.has_version) return "order = \"version\" but version() gave no version";
      *version = hr.version;
      return {};
    case Ordering::Timestamp:
      if (rec.timestamp_ms < 0) return "order = \"timestamp\" but the record has no timestamp";
      *version = static_cast<uint64_t>(rec.timestamp_ms) + 1;
      return {};
    case Ordering::Partition:
      // A durable tier without the watermark guard still refuses replays per key by offset.
      *version = s.offset_versions ? static_cast<uint64_t>(rec.offset) + 1 : 0;
      return {};
  }
  return {};
}

std::string check_ttl(const lua::HookResult& hr) {
  if (!hr.has_ttl) return {};
  if (hr.ttl_ms < 0) return "ttl() returned a negative TTL";
  if (hr.ttl_ms > kMaxTtlMs)
    return "ttl() returned " + std::to_string(hr.ttl_ms / 1000) +
           " s, more than the 10-year limit (" + std::to_string(kMaxTtlMs / 1000) +
           " s) that every tier can store";
  return {};
}

// Decisions for one key of a live record, or a dead-letter reason.
std::string decide(const PlanSettings& s, const RecordEntry& e, const lua::HookResult& hr,
                   const std::string& key, std::vector<strata_policy_decision>& out) {
  const size_t n = s.tiers->size();
  out.assign(n, strata_policy_decision{});
  if (!s.policy) {
    for (auto& d : out) d = {STRATA_ACTION_SET, hr.has_ttl ? hr.ttl_ms : STRATA_TTL_DEFAULT};
  } else {
    strata_policy_input pin{};
    pin.struct_size = sizeof pin;
    pin.record = e.rec;
    pin.key = {key.data(), key.size()};
    // A tombstone is a null value (strata.h): the policy decides what deleting means.
    pin.value =
        e.tombstone ? strata_bytes{nullptr, 0} : strata_bytes{e.value.data(), e.value.size()};
    pin.hook_ttl_ms = hr.has_ttl ? hr.ttl_ms : STRATA_TTL_DEFAULT;  // one meaning: strata.h
    pin.tiers = s.tiers->data();
    pin.tier_count = n;
    strata_error err{};
    if (s.policy->decide(s.policy_handle, &pin, out.data(), &err) != STRATA_OK)
      return "policy " + s.policy_name + ": " + err.message;
    for (auto& d : out)
      if (d.action == STRATA_ACTION_SET && d.ttl_ms > kMaxTtlMs)
        return "policy " + s.policy_name + ": TTL of " + std::to_string(d.ttl_ms / 1000) +
               " s is more than the 10-year limit";
  }
  if (e.tombstone)
    for (auto& d : out)
      if (d.action == STRATA_ACTION_SET) d.action = STRATA_ACTION_DELETE;
  return {};
}

// The partitions of one batch seen so far: a batch draws from a few, so a linear scan that
// compares the topic pointer first (a source hands the same pointer for a topic) beats
// building and hashing a name per record.
struct GuardIndex {
  struct Entry {
    const char* topic;
    int32_t partition;
    size_t guard;
  };
  std::vector<Entry> seen;
  size_t last = 0;  // records of a partition mostly come together: try the last hit first
};

// The watermark name of the record's partition, shared by the batch's records of it.
size_t guard_of(WritePlan& plan, GuardIndex& index, const PlanSettings& s,
                const strata_record& rec) {
  const char* topic = rec.topic ? rec.topic : "";
  auto same = [&](const GuardIndex::Entry& e) {
    return e.partition == rec.partition && (e.topic == topic || std::strcmp(e.topic, topic) == 0);
  };
  if (index.last < index.seen.size() && same(index.seen[index.last]))
    return index.seen[index.last].guard;
  for (size_t i = 0; i < index.seen.size(); ++i)
    if (same(index.seen[i])) {
      index.last = i;
      return index.seen[i].guard;
    }
  plan.guards.push_back(s.pipeline + "/" + topic + "/" + std::to_string(rec.partition));
  index.seen.push_back({topic, rec.partition, plan.guards.size() - 1});
  index.last = index.seen.size() - 1;
  return plan.guards.size() - 1;
}

// Hooks, value, version and guard of one record; false when it is dead or has no keys.
bool derive_record(const strata_record& rec, lua::KeyHooks* hooks, const PlanSettings& s,
                   RecordEntry& e, lua::HookResult& hr) {
  e.rec = &rec;
  if (hooks) {
    std::string error;
    if (!hooks->run(rec, hr, error)) {
      e.dead = "script: " + error;
      return false;
    }
  } else if (s.key_template) {
    hr.keys.emplace_back();
    if (e.dead = s.key_template->render(rec, hr.keys.back()); !e.dead.empty()) return false;
  } else if (!rec.key.data) {
    e.dead = "record has no key and the pipeline has no script or key template to derive one";
    return false;
  } else {
    hr.keys.emplace_back(rec.key.data, rec.key.len);
  }
  if (e.dead = check_ttl(hr); !e.dead.empty()) return false;
  // No tier stores an empty key: refuse it here, before any of the record's ops is sent (the
  // script layer refuses an empty key() result; this catches the record's own empty key and
  // an empty invalidate() result).
  for (const auto* list : {&hr.keys, &hr.invalidate})
    for (const auto& k : *list)
      if (k.empty()) {
        e.dead =
            list == &hr.keys ? "the record's key is empty" : "invalidate() returned an empty key";
        return false;
      }
  if (hr.skip || hr.keys.empty()) return true;
  e.tags = std::move(hr.tags);
  e.tombstone = !hr.has_value && rec.value.data == nullptr;
  if (hr.has_value)
    e.value = std::move(hr.value);
  else if (rec.value.data)
    e.value.assign(rec.value.data, rec.value.len);
  e.dead = record_version(rec, hr, s, &e.version);
  return e.dead.empty();
}

}  // namespace

WritePlan derive_plan(const strata_record_batch& batch, lua::KeyHooks* hooks, const PlanSettings& s,
                      uint64_t* skipped) {
  WritePlan plan;
  plan.records.resize(batch.count);
  plan.ops.reserve(batch.count);
  GuardIndex guard_index;
  lua::HookResult hr;
  for (size_t r = 0; r < batch.count; ++r) {
    const strata_record& rec = batch.records[r];
    RecordEntry& e = plan.records[r];
    hr.clear();
    if (!derive_record(rec, hooks, s, e, hr)) continue;
    if (s.guard) e.guard = guard_of(plan, guard_index, s, rec);
    const size_t first = plan.ops.size();
    if (hr.skip || hr.keys.empty()) ++*skipped;
    if (!hr.skip) {
      for (auto& key : hr.keys) {
        KeyOp op;
        op.record = r;
        op.key = std::move(key);
        e.dead = decide(s, e, hr, op.key, op.decisions);
        if (!e.dead.empty()) break;
        plan.ops.push_back(std::move(op));
      }
    }
    if (!e.dead.empty()) {  // a failed policy call: the record writes nothing at all
      plan.ops.resize(first);
      continue;
    }
    for (auto& key : hr.invalidate) {
      KeyOp op;
      op.record = r;
      op.key = std::move(key);
      op.invalidation = true;
      plan.ops.push_back(std::move(op));
    }
    // Last of the record: the durable tier checks a tag's invalidation against the watermark
    // the record's own writes may already have moved to its offset + 1 (strata.h).
    for (auto& tag : hr.invalidate_tags) {
      KeyOp op;
      op.record = r;
      op.key = std::move(tag);
      op.invalidation = true;
      op.tag = true;
      plan.ops.push_back(std::move(op));
    }
  }
  return plan;
}

uint64_t coalesce(WritePlan& plan, Ordering ordering) {
  uint64_t marked = 0;
  // Walk backwards: the first op seen of a key is its last in record order.
  std::unordered_map<std::string_view, size_t> winner;  // key -> op index that wins
  winner.reserve(plan.ops.size());
  for (size_t i = plan.ops.size(); i-- > 0;) {
    KeyOp& op = plan.ops[i];
    if (op.tag) continue;  // names a tag, not a key: never coalesced with a key's ops
    if (ordering != Ordering::Partition && op.invalidation) continue;  // keeps its place
    auto [it, inserted] = winner.emplace(op.key, i);
    if (inserted) continue;
    ++marked;
    if (ordering == Ordering::Partition) {
      op.superseded = true;
      continue;
    }
    KeyOp& best = plan.ops[it->second];
    if (plan.records[op.record].version > plan.records[best.record].version) {
      best.superseded = true;
      it->second = i;
    } else {
      op.superseded = true;
    }
  }
  return marked;
}

}  // namespace strata

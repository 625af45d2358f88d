// The write rule of a one-shot replay (`strata replay`) running beside the live pipeline: the
// replay only fills keys that are absent or that hold what the replay itself wrote, checked
// atomically by the tier (ADD, CAS), so it never replaces a value the live pipeline wrote and
// never rolls a key back. Under order = version / timestamp the per-key versions guard the
// durable tier as they do live; the gate then only shapes the volatile writes. A key the
// replay finds taken (refused) is the live pipeline's from then on: the replay leaves it alone.
// `strata dead-letters replay` uses the same gate over a dead-letter file's records, with two
// additions (set_dead_letters): under partition order a refused write keeps its record a dead
// letter (no per-key version tells which value is newer), and `overwrite` writes anyway.
// Owned by a Pipeline whose settings say `replay`; called from its worker thread only.
#pragma once

#include <strata/strata.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "pipeline/write_plan.hpp"

namespace strata {

class Tier;

class ReplayGate {
 public:
  explicit ReplayGate(Ordering ordering) : ordering_(ordering) {}
  // Dead-letter replay. overwrite: under partition order every write is a plain SET or DELETE
  // in the durable tiers and a DELETE in the volatile ones (reads refill them); under per-key
  // order the versions decide as always and `overwrite` changes nothing.
  void set_dead_letters(bool overwrite) {
    dead_letters_ = true;
    overwrite_ = overwrite;
  }
  // After settle(): under partition order without overwrite, each record whose write or delete
  // was refused (the key holds a value of the live pipeline) gets a dead reason, so it stays a
  // dead letter.
  void keep_refused_as_dead(WritePlan& plan) const;

  // Before the durable writes: decides each op's durable kind (KeyOp::replay_kind), marks the
  // ops that must not reach any tier Refused, and checks with a GET whether a key the replay
  // would delete still holds the replay's value (an op whose check fails gets a dead reason).
  void prepare(WritePlan& plan, const std::vector<Tier*>& tiers);
  // The op durable tier `tier` gets for `op` (called by Pipeline::tier_op in replay mode).
  strata_tier_op durable_op(const WritePlan& plan, const KeyOp& op, size_t tier) const;
  // The op a volatile tier with `tier_flags` gets once the durable write was applied.
  strata_tier_op volatile_op(const WritePlan& plan, const KeyOp& op, size_t tier,
                             uint32_t tier_flags) const;
  // Whether a durable answer means applied (false: the key is taken, or a version is newer).
  static bool applied(const KeyOp& op, strata_status s);
  // After the durable writes: remembers what the replay now holds per key.
  void settle(const WritePlan& plan);

  // The reconcile pass (after the replay's range): the records the live pipeline applied
  // meanwhile. Their writes are the live pipeline's and go nowhere; their deletes are applied
  // to the keys that still hold the replay's value: a live delete that came before the
  // replay's write of the key would otherwise be undone by it.
  void start_reconcile() { reconcile_ = true; }
  bool reconciling() const { return reconcile_; }

  size_t keys_held() const { return tokens_.size(); }
  uint64_t keys_yielded() const { return yielded_; }

 private:
  // Per key: kTaken = the live pipeline's (left alone); kAbsent = the replay deleted it;
  // otherwise strata_cas_token() of the value the replay wrote last.
  static constexpr uint64_t kTaken = 0;
  static constexpr uint64_t kAbsent = ~uint64_t(0);
  const uint64_t* find(const std::string& key) const;
  void check_deletes(WritePlan& plan, const std::vector<Tier*>& tiers);

  bool overwriting() const;

  Ordering ordering_;
  bool reconcile_ = false;
  bool dead_letters_ = false;
  bool overwrite_ = false;
  std::unordered_map<std::string, uint64_t> tokens_;
  uint64_t yielded_ = 0;
};

}  // namespace strata

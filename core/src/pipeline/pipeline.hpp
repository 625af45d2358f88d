// A pipeline: one source, the Lua (or identity) hooks, a policy, and the tiers, with the
// at-least-once commit rule: a position is acked to the source only after every durable write
// (and invalidation) before it was acknowledged. Created and driven by the runtime.
#pragma once

#include <strata/strata.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "lua_hooks.hpp"
#include "pipeline/key_spread.hpp"
#include "pipeline/l1_suspects.hpp"
#include "pipeline/replay_gate.hpp"
#include "pipeline/volatile_lane.hpp"
#include "pipeline/write_plan.hpp"

namespace strata {

class ModuleInstance;
class Tier;
class DeadLetterSink;
class Series;
struct OpResult;

struct PipelineSettings {
  std::string name;                // "latest"
  lua::ScriptSettings script;      // path "" = identity hooks (key = record key)
  std::string key_template;        // option `key` (checked by the config); "" = none
  int64_t retry_backoff_ms = 100;  // first wait after a failed durable write
  int64_t retry_backoff_max_ms = 5000;
  size_t max_batch = 100000;   // upper bound handed to the source's poll
  std::string order = "auto";  // option `order`: auto | partition | version | timestamp
  bool overlap_l1 = true;      // option `overlap_l1`: L1 writes on their own thread
  bool overlap_hooks = true;   // option `overlap_hooks`: batch k+1's hooks during k's writes
  // `strata replay`: writes go through a ReplayGate (fill what is absent or the replay's own,
  // never a live value), no watermark guard, no write-back, no overlapped L1.
  bool replay = false;
  // `strata dead-letters replay` (with replay): the source is a dead-letter file; refused
  // writes keep their record a dead letter, and overwrite writes without the gate's checks
  // under partition order (ReplayGate::set_dead_letters).
  bool dead_letter_replay = false;
  bool overwrite = false;
};

// Counters a caller (CLI summary, tests) can read at any time.
struct PipelineStats {
  std::atomic<uint64_t> records{0};  // records taken from the source
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> keys_written{0};   // durable SETs acknowledged
  std::atomic<uint64_t> l1_written{0};     // volatile SETs acknowledged
  std::atomic<uint64_t> stale_skipped{0};  // durable writes refused: applied before, or older
  std::atomic<uint64_t> coalesced{0};      // key ops dropped because a later one in the batch won
  std::atomic<uint64_t> l1_refused{0};     // volatile writes a tier refused (key or value misfit)
  std::atomic<uint64_t> spread_keys{0};    // writes of a key from a second partition
  std::atomic<uint64_t> invalidations{0};
  std::atomic<uint64_t> dead_letters{0};
  std::atomic<uint64_t> skipped{0};  // key() returned nil
  std::atomic<uint64_t> durable_retries{0};
  std::atomic<uint64_t> volatile_errors{0};
  std::atomic<int64_t> last_record_mono_ms{0};  // when the last non-empty batch arrived
  std::atomic<int64_t> lag{-1};
  std::atomic<bool> paused{false};
};

class Pipeline {
 public:
  Pipeline(PipelineSettings settings, ModuleInstance* source, std::vector<Tier*> tiers,
           ModuleInstance* policy, DeadLetterSink* dead_letters);
  ~Pipeline();  // stops

  // Loads the script on the worker thread's own Lua state; an error is returned before the
  // thread runs any record.
  Result<void> start();
  // Stops polling, finishes the batch in hand (or abandons it unacked if the durable tier is
  // down: it will be redelivered), joins the worker.
  void stop();

  const std::string& name() const { return settings_.name; }
  Ordering ordering() const { return ordering_; }
  const PipelineStats& stats() const { return stats_; }
  // Replay mode: asks the source to replay (strata_source_hooks.replay) before it starts; an
  // error when the source cannot. Records left for the source to deliver (-1: unknown).
  Result<void> setup_replay(const std::string& group_id, const std::string& from);
  int64_t replay_left() const;
  // Before start(): the replay is of dead letters (PipelineSettings::dead_letter_replay).
  void set_dead_letter_replay(bool overwrite) {
    settings_.dead_letter_replay = true;
    settings_.overwrite = overwrite;
  }
  // Asks the worker to begin the reconcile pass (between two batches: every record of the
  // replay's range is then written): the source moves its ends to the current high watermarks
  // (strata_source_hooks.replay_extend) and the gate applies only deletes of its own values.
  // reconciling() turns true once it began; reconcile_error() says why it could not.
  void request_reconcile() { reconcile_requested_ = true; }
  bool reconciling() const { return reconciling_; }
  std::string reconcile_error() const;
  const ReplayGate* replay_gate() const { return gate_.get(); }

  // Why the script's tags cannot work on these tiers, or "" (checked with the configuration):
  // tags() / invalidate_tags() need every durable tier to implement STRATA_TIER_TAGS and the
  // partition order (the tag index is written in the watermark's atomic step).
  static std::string tags_unsupported(const lua::KeyHooks& hooks, const std::vector<Tier*>& tiers,
                                      std::string_view order);

 private:
  void run(std::unique_ptr<lua::KeyHooks> hooks);
  // The plan stage (hooks, policy, coalescing; on the HookLane's thread with overlap_hooks) and
  // the write stage (tiers, dead letters, ack; on the worker thread).
  WritePlan prepare(const strata_record_batch& batch, lua::KeyHooks* hooks);
  void commit(const strata_record_batch& batch, WritePlan& plan);
  struct InHand {
    strata_record_batch batch{};
    std::unique_ptr<WritePlan> plan;  // null: nothing in hand
  };
  void finish(InHand& held);  // commit, then release the batch to the source
  Result<void> resolve_ordering(const lua::KeyHooks* hooks);
  void watch_spread(const WritePlan& plan);
  // Stages in tier_writes.cpp.
  strata_tier_op tier_op(const WritePlan& plan, const KeyOp& op, size_t tier) const;
  bool write_durable(WritePlan& plan);  // false: stopping while the durable tier is down
  bool write_durable_tier(WritePlan& plan, size_t tier);
  void settle_durable(WritePlan& plan, size_t tier, KeyOp& op, const strata_tier_op& r,
                      const OpResult& result);
  void settle_tags(WritePlan& plan, size_t tier, KeyOp& op, const strata_tier_op* tags, size_t n);
  void drop_tag_keys(WritePlan& plan);  // write-back: the tags' keys leave L1 after L2
  void write_volatile(WritePlan& plan);
  // Write-back (STRATA_POLICY_VOLATILE_FIRST): known replays skip L1; copies that L1 got
  // before the durable tier refused or failed them are deleted again.
  void skip_known_replays(WritePlan& plan);
  void note_watermarks(const WritePlan& plan);
  void repair_volatile(WritePlan& plan);
  void settle_volatile(size_t tier, const std::vector<strata_tier_op>& ops);
  void set_paused(bool paused, const std::string& why);
  // all: every suspect now, whatever its due time (a stopping pipeline's last chance).
  void sweep_suspects(bool all = false);
  size_t suspect_count() const;
  // How long stop() keeps retrying the sweep of suspects a refusing tier left.
  static constexpr int64_t kStopSweepMs = 3000;
  int64_t stored_position(const char* topic, int32_t partition);
  bool dead_letter(const strata_record& rec, const std::string& reason);  // false: not stored
  // A batch's next position per partition, owning its topic names (the batch may be gone).
  struct Positions {
    uint64_t lane_seq = 0;  // with overlap_l1: acked once the VolatileLane wrote this plan
    std::vector<std::pair<std::string, int32_t>> partitions;
    std::vector<int64_t> next;
  };
  static Positions positions_of(const strata_record_batch& batch);
  void ack(const Positions& positions);
  // overlap_l1: acks the batches whose L1 writes are done (all: waits for the lane first).
  void ack_settled(bool all);
  std::deque<Positions> acks_waiting_;  // worker thread only
  void wait_backoff(int64_t ms);

  PipelineSettings settings_;
  ModuleInstance* source_;
  std::vector<Tier*> tiers_;
  ModuleInstance* policy_;
  DeadLetterSink* dead_letters_;
  std::vector<strata_policy_tier> policy_tiers_;
  Ordering ordering_ = Ordering::Partition;
  KeyTemplate key_template_;  // option `key`, read by plan_
  PlanSettings plan_;
  KeySpread spread_;
  bool volatile_first_ = false;  // the policy asks for write-back
  bool overlap_hooks_ = false;   // the plan stage runs on a HookLane (not in replay mode)
  // Write-back under partition order: the watermark per guard name as far as this pipeline
  // knows it (read on assignment, moved by its own durable acks).
  std::unordered_map<std::string, int64_t> known_watermarks_;
  std::vector<std::unique_ptr<L1Suspects>> suspects_;  // per tier; null for durable ones
  PipelineStats stats_;
  std::atomic<bool> stopping_{false};
  std::thread worker_;
  std::unique_ptr<ReplayGate> gate_;  // replay mode only
  void begin_reconcile();             // on the worker thread
  std::atomic<bool> reconcile_requested_{false};
  std::atomic<bool> reconciling_{false};
  std::atomic<bool> reconcile_failed_{false};
  std::string reconcile_error_;         // written before reconcile_failed_ is set
  std::unique_ptr<VolatileLane> lane_;  // overlap_l1 (not with write-back): owns the L1 stage
  struct Metrics;
  std::unique_ptr<Metrics> metrics_;
};

// The pipeline's series (registered once in the constructor; shared by its stage files).
struct Pipeline::Metrics {
  Series* records;
  Series* batches;
  Series* batch_size;
  Series* dead_letters;
  Series* invalidations;
  Series* retries;
  Series* e2e;
  Series* lag;
  Series* paused;
  Series* replays_skipped;
  Series* coalesced;
  Series* spread;
  std::vector<Series*> keys_written;  // per tier
  std::vector<Series*> tier_errors;   // per tier
  std::vector<Series*> refused;       // per tier: writes the tier refused (key/value misfit)
  std::vector<Series*> suspects;      // per tier: keys whose L1 copy may be stale
  std::vector<Series*> sweeps;        // per tier: suspect keys deleted
  Series* suspects_overflow;
};

}  // namespace strata

// A pipeline: one source, the Lua (or identity) hooks, a policy, and the tiers, with the
// at-least-once commit rule: a position is acked to the source only after every durable write
// (and invalidation) before it was acknowledged. Created and driven by the runtime.
#pragma once

#include <strata/strata.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "lua_hooks.hpp"

namespace strata {

class ModuleInstance;
class Tier;
class DeadLetterSink;
class Series;

struct PipelineSettings {
  std::string name;                // "latest"
  lua::ScriptSettings script;      // path "" = identity hooks (key = record key)
  int64_t retry_backoff_ms = 100;  // first wait after a failed durable write
  int64_t retry_backoff_max_ms = 5000;
  size_t max_batch = 100000;  // upper bound handed to the source's poll
};

// Counters a caller (CLI summary, tests) can read at any time.
struct PipelineStats {
  std::atomic<uint64_t> records{0};  // records taken from the source
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> keys_written{0};   // durable SETs acknowledged
  std::atomic<uint64_t> l1_written{0};     // volatile SETs acknowledged
  std::atomic<uint64_t> stale_skipped{0};  // durable SETs refused as older (replays)
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
  const PipelineStats& stats() const { return stats_; }

 private:
  struct Batch;
  void run(std::unique_ptr<lua::KeyHooks> hooks);
  void process(const strata_record_batch& batch, lua::KeyHooks* hooks);
  bool write_durable(Batch& b);
  void write_volatile(Batch& b);
  bool dead_letter(const strata_record& rec, const std::string& reason);  // false: not stored
  void ack(const strata_record_batch& batch);
  void wait_backoff(int64_t ms);

  PipelineSettings settings_;
  ModuleInstance* source_;
  std::vector<Tier*> tiers_;
  ModuleInstance* policy_;
  DeadLetterSink* dead_letters_;
  std::vector<strata_policy_tier> policy_tiers_;
  PipelineStats stats_;
  std::atomic<bool> stopping_{false};
  std::thread worker_;
  struct Metrics;
  std::unique_ptr<Metrics> metrics_;
};

}  // namespace strata

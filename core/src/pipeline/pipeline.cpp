#include "pipeline/pipeline.hpp"

#include <algorithm>
#include <cmath>
#include <chrono>
#include <map>
#include <stdexcept>
#include <thread>
#include <utility>

#include "chain/tier.hpp"
#include "common/clock.hpp"
#include "common/log.hpp"
#include "deadletter/dead_letter.hpp"
#include "loader/loader.hpp"
#include "metrics/metrics.hpp"
#include "pipeline/hook_lane.hpp"

namespace strata {
namespace {

// How many possibly stale L1 keys a pipeline remembers per tier, and how long after the tier
// answers again the second delete follows (writes still queued in the server's socket buffers
// when it stalled are applied by then).
constexpr size_t kMaxSuspects = 100000;
constexpr int64_t kSettleMs = 1000;

}  // namespace

Pipeline::Pipeline(PipelineSettings settings, ModuleInstance* source, std::vector<Tier*> tiers,
                   ModuleInstance* policy, DeadLetterSink* dead_letters)
    : settings_(std::move(settings)),
      source_(source),
      tiers_(std::move(tiers)),
      policy_(policy),
      dead_letters_(dead_letters),
      metrics_(std::make_unique<Metrics>()) {
  for (Tier* t : tiers_) policy_tiers_.push_back({t->name().c_str(), t->flags()});
  auto& reg = MetricsRegistry::global();
  std::string l = "pipeline=\"" + settings_.name + "\"";
  metrics_->records =
      reg.counter("strata_pipeline_records_total", "Records taken from the source", l);
  metrics_->batches = reg.counter("strata_pipeline_batches_total", "Batches processed", l);
  metrics_->batch_size =
      reg.gauge("strata_pipeline_last_batch_size", "Records in the last batch", l);
  metrics_->dead_letters =
      reg.counter("strata_pipeline_dead_letters_total", "Records sent to the dead letters", l);
  metrics_->invalidations =
      reg.counter("strata_pipeline_invalidations_total", "Keys invalidated by hooks", l);
  metrics_->retries =
      reg.counter("strata_pipeline_durable_retries_total", "Retried durable write rounds", l);
  metrics_->e2e =
      reg.histogram("strata_pipeline_end_to_end_seconds", "Record timestamp to durable ack", l);
  metrics_->lag = reg.gauge("strata_pipeline_consumer_lag", "Records not yet consumed", l);
  metrics_->paused = reg.gauge("strata_pipeline_paused", "1 while the source is paused", l);
  metrics_->replays_skipped = reg.counter(
      "strata_pipeline_replays_skipped_total",
      "Durable writes not applied: at or below the partition watermark (already applied), or "
      "older than the stored per-key version",
      l);
  metrics_->coalesced = reg.counter("strata_pipeline_coalesced_total",
                                    "Key writes dropped because a later one of the batch won", l);
  metrics_->spread = reg.counter(
      "strata_pipeline_cross_partition_writes_total",
      "Writes of a key from another partition than its last write (order = partition)", l);
  for (Tier* t : tiers_) {
    std::string tl = l + ",tier=\"" + t->name() + "\"";
    metrics_->keys_written.push_back(
        reg.counter("strata_pipeline_keys_written_total", "Keys written per tier", tl));
    metrics_->tier_errors.push_back(
        reg.counter("strata_pipeline_tier_errors_total", "Failed writes per tier", tl));
    metrics_->suspects.push_back(reg.gauge(
        "strata_pipeline_l1_suspect_keys",
        "Keys whose volatile copy may be stale after a failed write, waiting to be deleted", tl));
    metrics_->sweeps.push_back(
        reg.counter("strata_pipeline_l1_suspect_deletes_total",
                    "Deletes of possibly stale volatile copies once the tier answered again", tl));
    suspects_.push_back(t->durable() ? nullptr
                                     : std::make_unique<L1Suspects>(kMaxSuspects, kSettleMs));
    metrics_->suspects.back()->set(0);  // the series outlives a reloaded pipeline of this name
    metrics_->refused.push_back(reg.counter(
        "strata_pipeline_tier_refused_total",
        "Writes a volatile tier refused (key or value does not fit it; the record is still "
        "durable and is not dead-lettered)",
        tl));
  }
  metrics_->suspects_overflow = reg.counter(
      "strata_pipeline_l1_suspects_dropped_total",
      "Possibly stale volatile keys not tracked because the suspect list was full (they may "
      "stay stale until their TTL)",
      l);
  plan_.pipeline = settings_.name;
  plan_.tiers = &policy_tiers_;
  if (!settings_.key_template.empty()) {
    size_t at = 0;
    std::string why = KeyTemplate::parse(settings_.key_template, key_template_, &at);
    if (!why.empty())  // the config checked it: only a caller that skipped the config
      throw std::invalid_argument("pipelines." + settings_.name + ".key: " + why);
    plan_.key_template = &key_template_;
  }
  if (const strata_policy_hooks* pol = policy_ ? policy_->policy() : nullptr) {
    plan_.policy = pol;
    plan_.policy_handle = policy_->handle();
    plan_.policy_name = policy_->name();
  }
}

Pipeline::~Pipeline() {
  stop();
  if (source_->ctx()) source_->ctx()->stored_position = nullptr;
}

std::string Pipeline::tags_unsupported(const lua::KeyHooks& hooks, const std::vector<Tier*>& tiers,
                                       std::string_view order) {
  const bool writes = hooks.has_hook("tags"), drops = hooks.has_hook("invalidate_tags");
  if (!writes && !drops) return {};
  const char* hook = writes ? "tags()" : "invalidate_tags()";
  if (order == "version" || order == "timestamp" || (order == "auto" && hooks.has_hook("version")))
    return std::string("the script defines ") + hook +
           ", which needs order = \"partition\" (the tag index is written in the watermark's "
           "atomic step)";
  bool any_durable = false;
  for (Tier* t : tiers) {
    if (!t->durable()) continue;
    any_durable = true;
    if (!(t->flags() & STRATA_TIER_TAGS) || !(t->flags() & STRATA_TIER_WATERMARK))
      return std::string("the script defines ") + hook + " but durable tier " + t->name() +
             " does not support tags";
  }
  if (!any_durable)
    return std::string("the script defines ") + hook + " but the pipeline has no durable tier";
  return {};
}

Result<void> Pipeline::resolve_ordering(const lua::KeyHooks* hooks) {
  const std::string& o = settings_.order;
  bool has_version = hooks && hooks->has_hook("version");
  if (o == "version" && !has_version)
    return fail("pipeline " + settings_.name +
                ": order = \"version\" needs the script to define version(record)");
  ordering_ = o == "version" || (o == "auto" && has_version) ? Ordering::Version
              : o == "timestamp"                             ? Ordering::Timestamp
                                                             : Ordering::Partition;
  plan_.ordering = ordering_;
  bool any_durable = false, all_guard = true, all_versioned = true;
  for (Tier* t : tiers_) {
    if (!t->durable()) continue;
    any_durable = true;
    all_guard = all_guard && (t->flags() & STRATA_TIER_WATERMARK);
    all_versioned = all_versioned && (t->flags() & STRATA_TIER_VERSIONED);
  }
  plan_.guard = ordering_ == Ordering::Partition && any_durable && all_guard;
  if (settings_.replay && hooks && (hooks->has_hook("tags") || hooks->has_hook("invalidate_tags")))
    return fail("pipeline " + settings_.name +
                ": strata replay does not support scripts that define tags() or "
                "invalidate_tags() yet (a tag's index is kept by the live pipeline's watermark "
                "step)");
  if (settings_.replay) {
    // The live watermark would skip everything: the replay's own gate guards its writes.
    plan_.guard = false;
    gate_ = std::make_unique<ReplayGate>(ordering_);
    if (settings_.dead_letter_replay) gate_->set_dead_letters(settings_.overwrite);
  }
  // A durable tier from before ABI 1.2 cannot keep a watermark: refuse replays per key by
  // offset there, as strata 1.1 did (right only for keys that stay in one partition).
  plan_.offset_versions =
      ordering_ == Ordering::Partition && any_durable && !all_guard && !settings_.replay;
  if (plan_.offset_versions && !all_versioned)
    log::write(STRATA_LOG_WARN, {}, settings_.name,
               "a durable tier honours neither watermarks nor versions: replays after a crash "
               "may roll keys back");
  return {};
}

Result<void> Pipeline::start() {
  std::unique_ptr<lua::KeyHooks> hooks;
  if (!settings_.script.path.empty()) {
    auto loaded = lua::KeyHooks::load(settings_.script);
    if (!loaded) return fail("pipeline " + settings_.name + ": " + loaded.error());
    hooks = std::move(loaded.value());
  }
  if (auto r = resolve_ordering(hooks.get()); !r) return r;
  const strata_policy_hooks* pol = policy_ ? policy_->policy() : nullptr;
  volatile_first_ =
      !settings_.replay && pol &&
      pol->struct_size >= offsetof(strata_policy_hooks, policy_flags) + sizeof(uint32_t) &&
      (pol->policy_flags & STRATA_POLICY_VOLATILE_FIRST) != 0;
  // Set before the worker's first poll, which serves the source's rebalance callbacks.
  if (plan_.guard && source_->ctx())
    source_->ctx()->stored_position = [this](const char* topic, int32_t partition) {
      return stored_position(topic, partition);
    };
  stopping_ = false;
  overlap_hooks_ = settings_.overlap_hooks && !settings_.replay;
  if (settings_.overlap_l1 && !volatile_first_ && !settings_.replay)
    lane_ = std::make_unique<VolatileLane>([this](WritePlan& plan) { write_volatile(plan); },
                                           [this] { sweep_suspects(); });

  stats_.last_record_mono_ms = clock::mono_ms();
  worker_ = std::thread([this, h = std::move(hooks)]() mutable { run(std::move(h)); });
  return {};
}

void Pipeline::stop() {
  stopping_ = true;
  if (worker_.joinable()) worker_.join();
  lane_.reset();  // the L1 writes of the last batches, bounded by the tiers' own timeouts
  // Suspects die with this pipeline (a reload builds a new one): delete them now. A tier
  // whose breaker is open refuses at once, so try again for a bounded while (its breaker's
  // half-open probe comes within that time with the default settings), then say what is left:
  // those copies stay older than the durable tier until rewritten or expired.
  sweep_suspects(true);
  const int64_t deadline = clock::mono_ms() + kStopSweepMs;
  while (suspect_count() > 0 && clock::mono_ms() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    sweep_suspects(true);
  }
  if (size_t left = suspect_count())
    log::write(STRATA_LOG_WARN, "", settings_.name,
               std::to_string(left) +
                   " key(s) in a volatile tier may hold an older copy than the durable tier: "
                   "their writes failed and the tier did not answer the cleanup within " +
                   std::to_string(kStopSweepMs / 1000) +
                   " s of stopping; they are replaced by their next write or expire with their "
                   "TTL");
}

size_t Pipeline::suspect_count() const {
  size_t n = 0;
  for (const auto& s : suspects_)
    if (s) n += s->size();
  return n;
}

void Pipeline::run(std::unique_ptr<lua::KeyHooks> hooks) {
  const strata_source_hooks* src = source_->source();
  // Declared after `hooks`, so it is joined before the Lua state goes away.
  std::unique_ptr<HookLane> planner;
  if (overlap_hooks_)
    planner = std::make_unique<HookLane>(
        [this, h = hooks.get()](const strata_record_batch& b) { return prepare(b, h); });
  InHand held;  // polled and planned, not yet written (only with the planner)
  while (!stopping_) {
    if (reconcile_requested_ && !reconciling_ && !reconcile_failed_) begin_reconcile();
    strata_record_batch batch{};
    strata_error err{};
    ack_settled(false);
    // A batch in hand takes only what is already there; acks waiting for L1 poll briefly.
    int rc = src->poll(source_->handle(), settings_.max_batch,
                       held.plan ? 0 : (acks_waiting_.empty() ? 100 : 10), &batch, &err);
    if (src->lag) {
      int64_t lag = src->lag(source_->handle());
      stats_.lag = lag;
      // Unknown is NaN on /metrics, not the last known value: a stalled partition must not
      // keep showing the lag it had.
      metrics_->lag->set(lag >= 0 ? static_cast<double>(lag) : std::nan(""));
    }
    const bool got = rc == STRATA_OK && batch.count > 0;
    if (got) {
      stats_.last_record_mono_ms = clock::mono_ms();
      if (planner) planner->submit(batch);  // its hooks run while the batch in hand is written
    } else if (rc == STRATA_OK) {
      src->release_batch(source_->handle(), &batch);
    }
    if (held.plan) finish(held);
    if (rc != STRATA_OK) {
      log::write(STRATA_LOG_ERROR, source_->name(), settings_.name,
                 std::string("poll failed: ") + err.message);
      wait_backoff(settings_.retry_backoff_ms);
      continue;
    }
    if (got) {
      held.batch = batch;
      held.plan =
          std::make_unique<WritePlan>(planner ? planner->take() : prepare(batch, hooks.get()));
      if (!planner) finish(held);
    }
    if (!lane_) sweep_suspects();
  }
  if (held.plan) finish(held);  // stopping: written unless the durable tier is down
  ack_settled(true);            // the last L1 writes, bounded by the tiers' own timeouts
}

void Pipeline::finish(InHand& held) {
  commit(held.batch, *held.plan);
  held.plan.reset();
  source_->source()->release_batch(source_->handle(), &held.batch);
}

bool Pipeline::dead_letter(const strata_record& rec, const std::string& reason) {
  stats_.dead_letters++;
  metrics_->dead_letters->add(1);
  log::write(STRATA_LOG_WARN, {}, settings_.name,
             "dead letter " + std::string(rec.topic ? rec.topic : "") + "/" +
                 std::to_string(rec.partition) + "@" + std::to_string(rec.offset) + ": " + reason);
  if (!dead_letters_) return true;
  // A dead letter its destination cannot take right now (an outage) must not be lost: retry
  // like a durable write. One the destination can never take (too large for the topic, not
  // authorized) was already handled by the sink (file, coordinates only, or a counted drop):
  // retrying it would hold the partition forever, also after a restart (issue 9).
  DeadLetterProgress progress;  // a retry does not re-write a destination that took it
  int64_t backoff = settings_.retry_backoff_ms;
  while (dead_letters_->write(rec, reason, &progress).retry()) {
    if (stopping_) return false;  // not stored: the batch must not be acked
    wait_backoff(backoff);
    backoff = std::min(backoff * 2, settings_.retry_backoff_max_ms);
  }
  return true;
}

WritePlan Pipeline::prepare(const strata_record_batch& in, lua::KeyHooks* hooks) {
  const size_t n = in.count;
  stats_.records += n;
  stats_.batches++;
  metrics_->records->add(static_cast<double>(n));
  metrics_->batches->add(1);
  metrics_->batch_size->set(static_cast<double>(n));

  uint64_t skipped = 0;
  WritePlan plan = derive_plan(in, hooks, plan_, &skipped);
  stats_.skipped += skipped;
  uint64_t coalesced = coalesce(plan, ordering_);
  stats_.coalesced += coalesced;
  metrics_->coalesced->add(static_cast<double>(coalesced));
  if (ordering_ == Ordering::Partition) watch_spread(plan);
  return plan;
}

void Pipeline::commit(const strata_record_batch& in, WritePlan& plan) {
  const size_t n = in.count;
  if (gate_) {
    gate_->prepare(plan, tiers_);
    if (!write_durable(plan)) return;  // stopping while the durable tier is down: not acked
    gate_->settle(plan);
    gate_->keep_refused_as_dead(plan);
    write_volatile(plan);
  } else if (volatile_first_) {
    skip_known_replays(plan);
    write_volatile(plan);
    if (!write_durable(plan)) return;  // stopping while the durable tier is down: not acked
    note_watermarks(plan);
    repair_volatile(plan);
    drop_tag_keys(plan);
  } else {
    if (!write_durable(plan)) return;  // stopping while the durable tier is down: not acked
    if (!lane_) write_volatile(plan);
  }

  std::vector<std::pair<size_t, std::string>> dead;
  // A replay's reconcile pass reads the live pipeline's records: their dead letters are its.
  const bool reconciling = gate_ && gate_->reconciling();
  for (size_t r = 0; r < n && !reconciling; ++r)
    if (!plan.records[r].dead.empty()) dead.emplace_back(r, std::move(plan.records[r].dead));
  uint64_t lane_seq = 0;
  if (lane_) {
    // The volatile stage reads only what the plan owns; the source's records go away.
    for (auto& e : plan.records) e.rec = nullptr;
    lane_seq = lane_->push(std::make_unique<WritePlan>(std::move(plan)));
  }
  for (auto& [r, reason] : dead)
    if (!dead_letter(in.records[r], reason)) return;
  int64_t now = clock::unix_ms();
  for (size_t r = 0; r < n; ++r)
    if (in.records[r].timestamp_ms > 0)
      metrics_->e2e->observe(static_cast<double>(now - in.records[r].timestamp_ms) / 1000.0);
  Positions positions = positions_of(in);
  if (!lane_) return ack(positions);
  // As without the lane, a position is committed only once the batch is in L1 too.
  positions.lane_seq = lane_seq;
  acks_waiting_.push_back(std::move(positions));
  ack_settled(false);
}

// Keys written from two partitions have no order in Kafka: under partition ordering the last
// batch to arrive wins. Say so once per key, with the remedy, and count every such write.
void Pipeline::watch_spread(const WritePlan& plan) {
  for (const KeyOp& op : plan.ops) {
    if (op.invalidation) continue;
    const strata_record& rec = *plan.records[op.record].rec;
    std::string_view topic = rec.topic ? rec.topic : "";
    int32_t previous = -1;
    uint64_t before = spread_.spread_writes();
    bool first = spread_.observe(op.key, topic, rec.partition, &previous);
    if (spread_.spread_writes() != before) {
      stats_.spread_keys++;
      metrics_->spread->add(1);
    }
    if (first)
      log::write(STRATA_LOG_WARN, {}, settings_.name,
                 "key \"" + op.key + "\" is written from partitions " + std::to_string(previous) +
                     " and " + std::to_string(rec.partition) + " of " + std::string(topic) +
                     ": Kafka does not order them, so the last batch to arrive wins. Give its "
                     "records one Kafka key (one partition), or order per key with order = "
                     "\"version\" and a version() hook, or order = \"timestamp\"");
  }
}

Pipeline::Positions Pipeline::positions_of(const strata_record_batch& batch) {
  std::map<std::pair<std::string, int32_t>, int64_t> next;
  // A batch holds runs of one partition: look the partition up once per run, not per record.
  int64_t* run = nullptr;
  const char* run_topic = nullptr;
  int32_t run_partition = 0;
  for (size_t r = 0; r < batch.count; ++r) {
    const strata_record& rec = batch.records[r];
    if (run == nullptr || rec.topic != run_topic || rec.partition != run_partition) {
      run = &next[{rec.topic ? rec.topic : "", rec.partition}];
      run_topic = rec.topic;
      run_partition = rec.partition;
    }
    *run = std::max(*run, rec.offset + 1);
  }
  Positions out;
  for (auto& [k, off] : next) {
    out.partitions.push_back(k);
    out.next.push_back(off);
  }
  return out;
}

void Pipeline::ack(const Positions& p) {
  std::vector<strata_position> positions;
  for (size_t i = 0; i < p.next.size(); ++i)
    positions.push_back({p.partitions[i].first.c_str(), p.partitions[i].second, p.next[i]});
  strata_error err{};
  if (source_->source()->ack(source_->handle(), positions.data(), positions.size(), &err) !=
      STRATA_OK)
    log::write(STRATA_LOG_WARN, source_->name(), settings_.name,
               std::string("ack failed (records may be redelivered): ") + err.message);
}

void Pipeline::ack_settled(bool all) {
  if (!lane_) return;
  if (all) lane_->wait_all();
  const uint64_t done = lane_->done();
  while (!acks_waiting_.empty() && acks_waiting_.front().lane_seq <= done) {
    ack(acks_waiting_.front());
    acks_waiting_.pop_front();
  }
}

Result<void> Pipeline::setup_replay(const std::string& group_id, const std::string& from) {
  const strata_source_hooks* src = source_->source();
  if (!settings_.replay) return fail("pipeline " + settings_.name + " is not in replay mode");
  if (src->struct_size < offsetof(strata_source_hooks, replay) + sizeof(src->replay) ||
      !src->replay)
    return fail(source_->name() + ": this source does not support replay");
  strata_source_replay spec{sizeof(strata_source_replay), group_id.c_str(), from.c_str()};
  strata_error err{};
  if (src->replay(source_->handle(), &spec, &err) != STRATA_OK)
    return fail(source_->name() + ": " + err.message);
  return {};
}

void Pipeline::begin_reconcile() {
  const strata_source_hooks* src = source_->source();
  strata_error err{};
  if (!gate_ ||
      src->struct_size <
          offsetof(strata_source_hooks, replay_extend) + sizeof(src->replay_extend) ||
      !src->replay_extend) {
    reconcile_error_ = source_->name() + ": the source cannot extend a replay";
  } else if (src->replay_extend(source_->handle(), &err) != STRATA_OK) {
    reconcile_error_ = source_->name() + ": " + err.message;
  } else {
    gate_->start_reconcile();
    reconciling_ = true;
    return;
  }
  reconcile_failed_ = true;
}

std::string Pipeline::reconcile_error() const {
  return reconcile_failed_ ? reconcile_error_ : std::string();
}

int64_t Pipeline::replay_left() const {
  const strata_source_hooks* src = source_->source();
  if (src->struct_size < offsetof(strata_source_hooks, replay_left) + sizeof(src->replay_left) ||
      !src->replay_left)
    return -1;
  return src->replay_left(source_->handle());
}

void Pipeline::wait_backoff(int64_t ms) {
  // Sleep in slices so stop() is prompt; keep the source alive (heartbeats) while paused.
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  const strata_source_hooks* src = source_->source();
  while (!stopping_ && std::chrono::steady_clock::now() < until) {
    if (stats_.paused) {
      strata_record_batch empty{};
      strata_error err{};
      if (src->poll(source_->handle(), 0, 50, &empty, &err) == STRATA_OK)
        src->release_batch(source_->handle(), &empty);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

}  // namespace strata

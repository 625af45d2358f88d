#include "pipeline/pipeline.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <utility>

#include "chain/tier.hpp"
#include "common/log.hpp"
#include "deadletter/dead_letter.hpp"
#include "loader/loader.hpp"
#include "metrics/metrics.hpp"

namespace strata {
namespace {

int64_t mono_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Retryable: the tier may come back. Anything else is a property of the record.
bool retryable(strata_status s) {
  return s == STRATA_ERR_UNAVAILABLE || s == STRATA_ERR_BREAKER_OPEN;
}

strata_tier_op make_op(strata_tier_op_kind kind, const std::string& key, const std::string* value,
                       int64_t ttl_ms, uint64_t version) {
  strata_tier_op op{};
  op.struct_size = sizeof op;
  op.kind = kind;
  op.key = {key.data(), key.size()};
  if (value) op.value = {value->data(), value->size()};
  op.ttl_ms = ttl_ms;
  op.version = version;
  return op;
}

}  // namespace

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
  std::vector<Series*> keys_written;  // per tier
  std::vector<Series*> tier_errors;   // per tier
};

// One key write derived from one record.
struct Pipeline::Batch {
  struct Write {
    size_t record;
    std::string key;
    const std::string* value;  // nullptr: delete (tombstone record)
    uint64_t version;
    std::vector<strata_policy_decision> decisions;  // per tier
    bool durable_refused = false;  // a newer version is stored: do not touch volatile tiers
    bool durable_failed = false;   // a durable tier refused it for good: volatile tiers untouched
  };
  struct Invalidation {
    size_t record;
    std::string key;
  };
  std::vector<lua::HookResult> results;  // per record (owns values)
  std::vector<std::string> values;       // per record: the value written
  std::vector<std::string> dead;         // per record: dead-letter reason, "" if alive
  std::vector<Write> writes;
  std::vector<Invalidation> invalidations;
};

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
  for (Tier* t : tiers_) {
    std::string tl = l + ",tier=\"" + t->name() + "\"";
    metrics_->keys_written.push_back(
        reg.counter("strata_pipeline_keys_written_total", "Keys written per tier", tl));
    metrics_->tier_errors.push_back(
        reg.counter("strata_pipeline_tier_errors_total", "Failed writes per tier", tl));
  }
}

Pipeline::~Pipeline() { stop(); }

Result<void> Pipeline::start() {
  std::unique_ptr<lua::KeyHooks> hooks;
  if (!settings_.script.path.empty()) {
    auto loaded = lua::KeyHooks::load(settings_.script);
    if (!loaded) return fail("pipeline " + settings_.name + ": " + loaded.error());
    hooks = std::move(loaded.value());
  }
  stopping_ = false;
  stats_.last_record_mono_ms = mono_ms();
  worker_ = std::thread([this, h = std::move(hooks)]() mutable { run(std::move(h)); });
  return {};
}

void Pipeline::stop() {
  stopping_ = true;
  if (worker_.joinable()) worker_.join();
}

void Pipeline::run(std::unique_ptr<lua::KeyHooks> hooks) {
  const strata_source_hooks* src = source_->source();
  while (!stopping_) {
    strata_record_batch batch{};
    strata_error err{};
    int rc = src->poll(source_->handle(), settings_.max_batch, 100, &batch, &err);
    if (src->lag) {
      int64_t lag = src->lag(source_->handle());
      stats_.lag = lag;
      if (lag >= 0) metrics_->lag->set(static_cast<double>(lag));
    }
    if (rc != STRATA_OK) {
      log::write(STRATA_LOG_ERROR, source_->name(), settings_.name,
                 std::string("poll failed: ") + err.message);
      wait_backoff(settings_.retry_backoff_ms);
      continue;
    }
    if (batch.count == 0) {
      src->release_batch(source_->handle(), &batch);
      continue;
    }
    stats_.last_record_mono_ms = mono_ms();
    process(batch, hooks.get());
    src->release_batch(source_->handle(), &batch);
  }
}

bool Pipeline::dead_letter(const strata_record& rec, const std::string& reason) {
  stats_.dead_letters++;
  metrics_->dead_letters->add(1);
  log::write(STRATA_LOG_WARN, {}, settings_.name,
             "dead letter " + std::string(rec.topic ? rec.topic : "") + "/" +
                 std::to_string(rec.partition) + "@" + std::to_string(rec.offset) + ": " + reason);
  if (!dead_letters_) return true;
  // A dead letter that cannot be stored must not be lost either: retry like a durable write.
  int64_t backoff = settings_.retry_backoff_ms;
  while (!dead_letters_->write(rec, reason)) {
    if (stopping_) return false;  // not stored: the batch must not be acked
    wait_backoff(backoff);
    backoff = std::min(backoff * 2, settings_.retry_backoff_max_ms);
  }
  return true;
}

void Pipeline::process(const strata_record_batch& in, lua::KeyHooks* hooks) {
  const size_t n = in.count;
  stats_.records += n;
  stats_.batches++;
  metrics_->records->add(static_cast<double>(n));
  metrics_->batches->add(1);
  metrics_->batch_size->set(static_cast<double>(n));

  Batch b;
  b.results.resize(n);
  b.values.resize(n);
  b.dead.resize(n);
  std::vector<strata_policy_decision> decisions(tiers_.size());
  const strata_policy_hooks* pol = policy_ ? policy_->policy() : nullptr;

  for (size_t r = 0; r < n; ++r) {
    const strata_record& rec = in.records[r];
    lua::HookResult& hr = b.results[r];
    if (hooks) {
      std::string error;
      if (!hooks->run(rec, hr, error)) {
        b.dead[r] = "script: " + error;
        continue;
      }
    } else {
      if (!rec.key.data) {
        b.dead[r] = "record has no key and the pipeline has no script to derive one";
        continue;
      }
      hr.keys.emplace_back(rec.key.data, rec.key.len);
    }
    if (hr.skip || hr.keys.empty()) {
      stats_.skipped++;
      for (auto& k : hr.invalidate) b.invalidations.push_back({r, k});
      continue;
    }
    bool tombstone = !hr.has_value && rec.value.data == nullptr;
    if (hr.has_value)
      b.values[r] = std::move(hr.value);
    else if (rec.value.data)
      b.values[r].assign(rec.value.data, rec.value.len);
    uint64_t version = hr.has_version ? hr.version : static_cast<uint64_t>(rec.offset) + 1;
    for (auto& key : hr.keys) {
      Batch::Write w{r, key, tombstone ? nullptr : &b.values[r], version, {}, false};
      if (pol) {
        strata_policy_input pin{};
        pin.struct_size = sizeof pin;
        pin.record = &rec;
        pin.key = {key.data(), key.size()};
        // A tombstone is a null value (strata.h): the policy decides what deleting means.
        pin.value = tombstone ? strata_bytes{nullptr, 0}
                              : strata_bytes{b.values[r].data(), b.values[r].size()};
        pin.hook_ttl_ms = hr.has_ttl ? hr.ttl_ms : -1;
        pin.tiers = policy_tiers_.data();
        pin.tier_count = policy_tiers_.size();
        strata_error err{};
        std::fill(decisions.begin(), decisions.end(), strata_policy_decision{});
        if (pol->decide(policy_->handle(), &pin, decisions.data(), &err) != STRATA_OK) {
          b.dead[r] = "policy " + policy_->name() + ": " + err.message;
          break;
        }
      } else {
        for (size_t t = 0; t < tiers_.size(); ++t)
          decisions[t] = {STRATA_ACTION_SET, hr.has_ttl ? hr.ttl_ms : 0};
      }
      w.decisions = decisions;
      if (tombstone)
        for (auto& d : w.decisions)
          if (d.action == STRATA_ACTION_SET) d.action = STRATA_ACTION_DELETE;
      b.writes.push_back(std::move(w));
    }
    for (auto& k : hr.invalidate) b.invalidations.push_back({r, k});
  }
  // Records that failed in the hooks or the policy write nothing.
  b.writes.erase(std::remove_if(b.writes.begin(), b.writes.end(),
                                [&](const Batch::Write& w) { return !b.dead[w.record].empty(); }),
                 b.writes.end());

  if (!write_durable(b)) return;  // stopping while the durable tier is down: not acked
  write_volatile(b);

  for (size_t r = 0; r < n; ++r)
    if (!b.dead[r].empty() && !dead_letter(in.records[r], b.dead[r])) return;
  int64_t now = unix_ms();
  for (size_t r = 0; r < n; ++r)
    if (in.records[r].timestamp_ms > 0)
      metrics_->e2e->observe(static_cast<double>(now - in.records[r].timestamp_ms) / 1000.0);
  ack(in);
}

bool Pipeline::write_durable(Batch& b) {
  for (size_t t = 0; t < tiers_.size(); ++t) {
    Tier* tier = tiers_[t];
    if (!tier->durable()) continue;
    // ops[i] belongs to writes[owner[i]] (or to invalidations[owner[i] - writes.size()]).
    std::vector<strata_tier_op> ops;
    std::vector<size_t> owner;
    for (size_t i = 0; i < b.writes.size(); ++i) {
      auto& w = b.writes[i];
      const auto& d = w.decisions[t];
      if (d.action == STRATA_ACTION_SET)
        ops.push_back(make_op(STRATA_TIER_SET, w.key, w.value, d.ttl_ms, w.version));
      else if (d.action == STRATA_ACTION_DELETE)
        ops.push_back(make_op(STRATA_TIER_DELETE, w.key, nullptr, 0, w.version));
      else
        continue;
      owner.push_back(i);
    }
    for (size_t i = 0; i < b.invalidations.size(); ++i) {
      ops.push_back(make_op(STRATA_TIER_DELETE, b.invalidations[i].key, nullptr, 0, 0));
      owner.push_back(b.writes.size() + i);
    }
    if (ops.empty()) continue;

    std::vector<size_t> pending(ops.size());
    for (size_t i = 0; i < ops.size(); ++i) pending[i] = i;
    int64_t backoff = settings_.retry_backoff_ms;
    bool paused = false;
    std::vector<OpResult> results;
    while (!pending.empty()) {
      std::vector<strata_tier_op> round;
      round.reserve(pending.size());
      for (size_t i : pending) round.push_back(ops[i]);
      tier->execute(round, results);
      std::vector<size_t> again;
      std::string last_error;
      for (size_t k = 0; k < pending.size(); ++k) {
        size_t i = pending[k];
        const strata_tier_op& op = round[k];
        if (retryable(op.status)) {
          again.push_back(i);
          last_error = op.error;
          continue;
        }
        size_t o = owner[i];
        if (op.status == STRATA_OK || op.status == STRATA_NOT_FOUND) {
          if (o < b.writes.size()) {
            if (op.kind == STRATA_TIER_SET) {
              stats_.keys_written++;
              metrics_->keys_written[t]->add(1);
            }
          } else {
            stats_.invalidations++;
            metrics_->invalidations->add(1);
          }
        } else if (op.status == STRATA_NOT_STORED) {
          // A newer version is already durable (a replay after a crash, or a rebalance).
          if (o < b.writes.size()) b.writes[o].durable_refused = true;
          stats_.stale_skipped++;
        } else {
          metrics_->tier_errors[t]->add(1);
          size_t r = o < b.writes.size() ? b.writes[o].record
                                         : b.invalidations[o - b.writes.size()].record;
          if (b.dead[r].empty()) b.dead[r] = tier->name() + ": " + op.error;
          if (o < b.writes.size()) b.writes[o].durable_failed = true;
        }
      }
      pending.swap(again);
      if (pending.empty()) break;
      stats_.durable_retries++;
      metrics_->retries->add(1);
      metrics_->tier_errors[t]->add(static_cast<double>(pending.size()));
      if (tier->breaker().state() == CircuitBreaker::State::Open && !paused) {
        // Back-pressure: stop consuming instead of draining records into the void.
        source_->source()->pause(source_->handle());
        paused = true;
        stats_.paused = true;
        metrics_->paused->set(1);
        log::write(STRATA_LOG_WARN, tier->name(), settings_.name,
                   "durable tier unavailable, source paused: " + last_error);
      }
      if (stopping_) {
        log::write(STRATA_LOG_WARN, tier->name(), settings_.name,
                   "stopping with " + std::to_string(pending.size()) +
                       " durable writes unacknowledged; their records will be redelivered");
        if (paused) {
          source_->source()->resume(source_->handle());
          stats_.paused = false;
          metrics_->paused->set(0);
        }
        return false;
      }
      wait_backoff(backoff);
      backoff = std::min(backoff * 2, settings_.retry_backoff_max_ms);
    }
    if (paused) {
      source_->source()->resume(source_->handle());
      stats_.paused = false;
      metrics_->paused->set(0);
      log::write(STRATA_LOG_INFO, tier->name(), settings_.name,
                 "durable tier back, source resumed");
    }
  }
  return true;
}

void Pipeline::write_volatile(Batch& b) {
  for (size_t t = 0; t < tiers_.size(); ++t) {
    Tier* tier = tiers_[t];
    if (tier->durable()) continue;
    std::vector<strata_tier_op> ops;
    std::vector<size_t> owner;
    for (size_t i = 0; i < b.writes.size(); ++i) {
      auto& w = b.writes[i];
      if (w.durable_failed) continue;  // the durable tier still holds what L1 may hold
      const auto& d = w.decisions[t];
      if (d.action == STRATA_ACTION_SKIP) continue;
      // Only set a volatile tier when the durable tier accepted this version; otherwise drop
      // the volatile copy so the next read refills the newer value from the durable tier. A
      // dead record's other keys were written durably: drop their older volatile copies.
      if (d.action == STRATA_ACTION_SET && !w.durable_refused && b.dead[w.record].empty())
        ops.push_back(make_op(STRATA_TIER_SET, w.key, w.value, d.ttl_ms, 0));
      else
        ops.push_back(make_op(STRATA_TIER_DELETE, w.key, nullptr, 0, 0));
      owner.push_back(i);
    }
    for (auto& inv : b.invalidations) {
      ops.push_back(make_op(STRATA_TIER_DELETE, inv.key, nullptr, 0, 0));
      owner.push_back(SIZE_MAX);
    }
    if (ops.empty()) continue;
    std::vector<OpResult> results;
    tier->execute(ops, results);
    std::vector<strata_tier_op> cleanup;
    std::vector<std::string> cleanup_keys;
    for (size_t k = 0; k < ops.size(); ++k) {
      const strata_tier_op& op = ops[k];
      if (op.status == STRATA_OK || op.status == STRATA_NOT_FOUND) {
        if (op.kind == STRATA_TIER_SET) {
          stats_.l1_written++;
          metrics_->keys_written[t]->add(1);
        }
        continue;
      }
      metrics_->tier_errors[t]->add(1);
      if (op.status == STRATA_ERR_BAD_KEY || op.status == STRATA_ERR_TOO_LARGE) {
        // The record is durable but does not fit this tier: report it; drop an older copy.
        if (owner[k] != SIZE_MAX) {
          size_t r = b.writes[owner[k]].record;
          if (b.dead[r].empty()) b.dead[r] = tier->name() + ": " + op.error;
          if (op.status == STRATA_ERR_TOO_LARGE) cleanup_keys.push_back(b.writes[owner[k]].key);
        }
      } else {
        // A failing volatile tier never blocks a commit; it is counted.
        stats_.volatile_errors++;
      }
    }
    if (!cleanup_keys.empty()) {
      for (auto& key : cleanup_keys)
        cleanup.push_back(make_op(STRATA_TIER_DELETE, key, nullptr, 0, 0));
      tier->execute(cleanup, results);
    }
  }
}

void Pipeline::ack(const strata_record_batch& batch) {
  std::map<std::pair<std::string, int32_t>, int64_t> next;
  std::map<std::pair<std::string, int32_t>, const char*> topics;
  for (size_t r = 0; r < batch.count; ++r) {
    const strata_record& rec = batch.records[r];
    auto k = std::make_pair(std::string(rec.topic ? rec.topic : ""), rec.partition);
    auto& v = next[k];
    v = std::max(v, rec.offset + 1);
    topics[k] = rec.topic;
  }
  std::vector<strata_position> positions;
  for (auto& [k, off] : next) positions.push_back({topics[k], k.second, off});
  strata_error err{};
  if (source_->source()->ack(source_->handle(), positions.data(), positions.size(), &err) !=
      STRATA_OK)
    log::write(STRATA_LOG_WARN, source_->name(), settings_.name,
               std::string("ack failed (records may be redelivered): ") + err.message);
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

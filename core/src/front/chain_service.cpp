#include "front/chain_service.hpp"

#include <strata/ops.hpp>

#include <cstring>
#include <exception>

#include "common/log.hpp"
#include "metrics/metrics.hpp"

namespace strata {
namespace {

void set_error(strata_chain_op& op, strata_status status, const std::string& msg) {
  set_chain_op_error(op, status, msg);  // the SDK's (strata/ops.hpp): one copy
}

// The outputs start out as "nothing yet": a reused op must not show the last submit's result.
void clear_results(strata_chain_op& op) {
  op.status = STRATA_OK;
  op.result_value = strata_bytes{nullptr, 0};
  op.result_flags = 0;
  op.result_cas = 0;
  op.result_ttl_ms = 0;
  op.result_tier = nullptr;
  op.result_stale = 0;
  op.error[0] = '\0';
  op.host_private = nullptr;
}

// Hands `value` to the front: host-owned until chain_release().
void set_value(strata_chain_op& op, std::string value) {
  auto* storage = new ChainResultStorage{std::move(value)};
  op.host_private = storage;
  op.result_value = strata_bytes{storage->value.data(), storage->value.size()};
}

void set_outcome(strata_chain_op& op, OpOutcome out) {
  if (out.status >= STRATA_ERR_BAD_KEY) {
    set_error(op, out.status, out.error);
    return;
  }
  op.status = out.status;
  if (!out.value.empty()) set_value(op, std::move(out.value));
}

bool is_plain_read(const strata_chain_op* ops, size_t count) {
  for (size_t i = 0; i < count; ++i)
    if (ops[i].kind != STRATA_CHAIN_GET || ops[i].ttl_ms != 0) return false;
  return true;
}

bool stores_flags(strata_chain_op_kind k) {
  return k == STRATA_CHAIN_SET || k == STRATA_CHAIN_ADD || k == STRATA_CHAIN_REPLACE ||
         k == STRATA_CHAIN_CAS;
}

// The chain op kinds that act on the durable tier only, and the tier op each becomes.
bool durable_kind(strata_chain_op_kind k, strata_tier_op_kind* out) {
  switch (k) {
    case STRATA_CHAIN_REPLACE: *out = STRATA_TIER_REPLACE; return true;
    case STRATA_CHAIN_APPEND: *out = STRATA_TIER_APPEND; return true;
    case STRATA_CHAIN_PREPEND: *out = STRATA_TIER_PREPEND; return true;
    case STRATA_CHAIN_INCR: *out = STRATA_TIER_INCR; return true;
    case STRATA_CHAIN_DECR: *out = STRATA_TIER_DECR; return true;
    case STRATA_CHAIN_CAS: *out = STRATA_TIER_CAS; return true;
    default: return false;
  }
}

}  // namespace

ChainService::ChainService(std::string front, TierChain& chain, int threads, bool inline_reads)
    : front_(std::move(front)),
      chain_(chain),
      threads_(threads < 0 ? 0 : threads),
      inline_reads_(inline_reads) {
  auto& reg = MetricsRegistry::global();
  const std::string labels = "front=\"" + front_ + "\"";
  ops_total_ = reg.counter("strata_front_chain_ops_total",
                           "Ops a front submitted to its tier chain", labels);
  errors_total_ = reg.counter("strata_front_chain_errors_total",
                              "Chain ops that ended in an error (incl. shutting down)", labels);
  queue_gauge_ = reg.gauge("strata_front_chain_queue",
                           "Submits waiting for a chain thread", labels);
  queue_gauge_->set(0);
}

ChainService::~ChainService() { shutdown(); }

void ChainService::start() {
  std::lock_guard lock(mu_);
  if (started_ || stopping_) return;
  started_ = true;
  for (int i = 0; i < threads_; ++i) workers_.emplace_back([this] { worker(); });
}

void ChainService::shutdown() {
  std::deque<Job> left;
  {
    std::unique_lock lock(mu_);
    stopping_ = true;
    left.swap(queue_);
    queue_gauge_->set(0);
    idle_cv_.wait(lock, [&] { return inline_running_ == 0; });
  }
  cv_.notify_all();
  for (const Job& job : left) finish_unavailable(job, "shutting down");
  for (std::thread& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

size_t ChainService::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

int ChainService::submit(strata_chain_op* ops, size_t count, strata_chain_done_fn done,
                         void* user) noexcept {
  if (!ops || count == 0 || !done) return STRATA_ERR_INVALID;
  for (size_t i = 0; i < count; ++i)
    if (ops[i].struct_size != sizeof(strata_chain_op)) return STRATA_ERR_INVALID;
  bool inline_read = false;
  try {
    std::unique_lock lock(mu_);
    if (stopping_) return STRATA_ERR_UNAVAILABLE;
    for (size_t i = 0; i < count; ++i) clear_results(ops[i]);
    inline_read = threads_ > 0 && inline_reads_ && is_plain_read(ops, count) &&
                  chain_.first_tier_volatile();
    if (threads_ > 0 && !inline_read) {
      queue_.push_back(Job{ops, count, done, user, {}});
      queue_gauge_->set(static_cast<double>(queue_.size()));
      lock.unlock();
      cv_.notify_one();
      return STRATA_OK;
    }
    ++inline_running_;  // shutdown() waits for it
  } catch (...) {
    return STRATA_ERR_INTERNAL;  // out of memory queueing: nothing will be called back
  }
  Job job{ops, count, done, user, {}};
  if (inline_read)
    read_inline(job);
  else
    run(job);
  {
    std::lock_guard lock(mu_);
    --inline_running_;
  }
  idle_cv_.notify_all();
  return STRATA_OK;
}

bool ChainService::read_inline(Job& job) noexcept {
  std::vector<strata_chain_op*> ops;
  try {
    std::vector<std::string_view> keys;
    for (size_t i = 0; i < job.count; ++i) {
      strata_chain_op& op = job.ops[i];
      if (!op.key.data || op.key.len == 0) {
        set_error(op, STRATA_ERR_BAD_KEY, "empty key");
        continue;
      }
      ops.push_back(&op);
      keys.emplace_back(op.key.data, op.key.len);
    }
    std::vector<GetResult> results;
    std::vector<bool> answered;
    chain_.read_first_volatile(keys, results, answered);
    for (size_t i = 0; i < ops.size(); ++i) {
      if (answered[i])
        fill_get(*ops[i], std::move(results[i]));
      else
        job.rest.push_back(ops[i]);
    }
    if (!job.rest.empty()) {
      std::unique_lock lock(mu_);
      if (!stopping_) {
        queue_.push_back(std::move(job));
        queue_gauge_->set(static_cast<double>(queue_.size()));
        lock.unlock();
        cv_.notify_one();
        return false;
      }
      lock.unlock();
      for (strata_chain_op* op : job.rest) set_error(*op, STRATA_ERR_UNAVAILABLE, "shutting down");
    }
  } catch (const std::exception& e) {
    for (strata_chain_op* op : ops)
      set_error(*op, STRATA_ERR_INTERNAL, std::string("chain op failed: ") + e.what());
  } catch (...) {
    for (strata_chain_op* op : ops)
      set_error(*op, STRATA_ERR_INTERNAL, "chain op failed: unknown exception");
  }
  finish(job);
  return true;
}

void ChainService::worker() {
  std::vector<Job> jobs;
  for (;;) {
    jobs.clear();
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      // A run of queued plain reads goes as one batch; anything else alone, in queue order.
      auto read = [](const Job& j) { return j.rest.empty() && is_plain_read(j.ops, j.count); };
      jobs.push_back(std::move(queue_.front()));
      queue_.pop_front();
      if (read(jobs[0]))
        while (!queue_.empty() && jobs.size() < kMaxReadJobs && read(queue_.front())) {
          jobs.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      queue_gauge_->set(static_cast<double>(queue_.size()));
    }
    if (!jobs[0].rest.empty())
      run_rest(jobs[0]);
    else if (is_plain_read(jobs[0].ops, jobs[0].count))
      run_reads(jobs);
    else
      run(jobs[0]);
  }
}

void ChainService::run(const Job& job) noexcept {
  if (job.count > 1 && is_plain_read(job.ops, job.count)) {
    try {
      return run_reads({job});
    } catch (...) {
      // No memory for the vector: one op at a time below.
    }
  }
  for (size_t i = 0; i < job.count; ++i) {
    strata_chain_op& op = job.ops[i];
    try {
      run_op(op);
    } catch (const std::exception& e) {
      set_error(op, STRATA_ERR_INTERNAL, std::string("chain op failed: ") + e.what());
    } catch (...) {
      set_error(op, STRATA_ERR_INTERNAL, "chain op failed: unknown exception");
    }
  }
  finish(job);
}

void ChainService::run_rest(const Job& job) noexcept {
  // Plain GETs that L1 did not answer: together, so L2 sees one batch (get_all).
  try {
    std::vector<std::string_view> keys;
    keys.reserve(job.rest.size());
    for (strata_chain_op* op : job.rest) keys.emplace_back(op->key.data, op->key.len);
    std::vector<GetResult> results = chain_.get_all(keys);
    for (size_t i = 0; i < job.rest.size(); ++i) fill_get(*job.rest[i], std::move(results[i]));
  } catch (const std::exception& e) {
    for (strata_chain_op* op : job.rest)
      set_error(*op, STRATA_ERR_INTERNAL, std::string("chain op failed: ") + e.what());
  } catch (...) {
    for (strata_chain_op* op : job.rest)
      set_error(*op, STRATA_ERR_INTERNAL, "chain op failed: unknown exception");
  }
  finish(job);
}

void ChainService::run_reads(const std::vector<Job>& jobs) noexcept {
  std::vector<strata_chain_op*> ops;
  try {
    std::vector<std::string_view> keys;
    for (const Job& job : jobs)
      for (size_t i = 0; i < job.count; ++i) {
        strata_chain_op& op = job.ops[i];
        if (!op.key.data || op.key.len == 0) {
          set_error(op, STRATA_ERR_BAD_KEY, "empty key");
          continue;
        }
        ops.push_back(&op);
        keys.emplace_back(op.key.data, op.key.len);
      }
    std::vector<GetResult> results = chain_.get_many(keys);
    for (size_t i = 0; i < ops.size(); ++i) fill_get(*ops[i], std::move(results[i]));
  } catch (const std::exception& e) {
    for (strata_chain_op* op : ops)
      set_error(*op, STRATA_ERR_INTERNAL, std::string("chain op failed: ") + e.what());
  } catch (...) {
    for (strata_chain_op* op : ops)
      set_error(*op, STRATA_ERR_INTERNAL, "chain op failed: unknown exception");
  }
  for (const Job& job : jobs) finish(job);
}

void ChainService::finish(const Job& job) noexcept {
  double errors = 0;
  for (size_t i = 0; i < job.count; ++i)
    if (job.ops[i].status >= STRATA_ERR_BAD_KEY) ++errors;
  ops_total_->add(static_cast<double>(job.count));
  if (errors) errors_total_->add(errors);
  job.done(job.user, job.ops, job.count);
}

void ChainService::finish_unavailable(const Job& job, const char* why) noexcept {
  if (!job.rest.empty()) {  // the first tier's answers stand
    for (strata_chain_op* op : job.rest) set_error(*op, STRATA_ERR_UNAVAILABLE, why);
    return finish(job);
  }
  for (size_t i = 0; i < job.count; ++i) set_error(job.ops[i], STRATA_ERR_UNAVAILABLE, why);
  ops_total_->add(static_cast<double>(job.count));
  errors_total_->add(static_cast<double>(job.count));
  job.done(job.user, job.ops, job.count);
}

void ChainService::run_op(strata_chain_op& op) {
  const std::string_view key(op.key.data ? op.key.data : "", op.key.data ? op.key.len : 0);
  const std::string_view value(op.value.data ? op.value.data : "",
                               op.value.data ? op.value.len : 0);
  if (op.kind == STRATA_CHAIN_FLUSH) return set_outcome(op, chain_.flush_volatile());
  if (key.empty()) return set_error(op, STRATA_ERR_BAD_KEY, "empty key");
  if (stores_flags(op.kind) && op.flags == STRATA_ITEM_NEGATIVE)
    return set_error(op, STRATA_ERR_INVALID,
                     "client flags " + std::to_string(STRATA_ITEM_NEGATIVE) +
                         " are reserved for strata's negative-cache entries");
  strata_tier_op_kind durable;
  switch (op.kind) {
    case STRATA_CHAIN_GET:
      return run_get(op);
    case STRATA_CHAIN_SET:
      return set_outcome(op, chain_.store(key, value, op.ttl_ms, op.flags));
    case STRATA_CHAIN_ADD:
      return set_outcome(op, chain_.add(key, value, op.ttl_ms, op.flags));
    case STRATA_CHAIN_DELETE:
      return set_outcome(op, chain_.remove(key));
    case STRATA_CHAIN_TOUCH:
      return set_outcome(op, chain_.touch(key, op.ttl_ms));
    case STRATA_CHAIN_INVALIDATE:
      return set_outcome(op, chain_.invalidate_volatile(key));
    default:
      if (!durable_kind(op.kind, &durable))
        return set_error(op, STRATA_ERR_INVALID,
                         "unknown chain op kind " + std::to_string(static_cast<int>(op.kind)));
      return set_outcome(
          op, chain_.durable_only(durable, key, value, op.ttl_ms, op.flags, op.cas));
  }
}

void ChainService::run_get(strata_chain_op& op) {
  const std::string_view key(op.key.data, op.key.len);
  if (op.ttl_ms != 0) {
    // gat: the new TTL first, so the read below refills a dropped volatile copy with it.
    OpOutcome touched = chain_.touch(key, op.ttl_ms);
    if (touched.status != STRATA_OK) return set_outcome(op, std::move(touched));
  }
  fill_get(op, chain_.get(key));
}

void ChainService::fill_get(strata_chain_op& op, GetResult&& r) {
  if (r.status >= STRATA_ERR_BAD_KEY) return set_error(op, r.status, r.error);
  op.status = r.status;
  if (r.status != STRATA_OK) return;
  op.result_flags = r.flags;
  op.result_ttl_ms = r.ttl_ms;
  op.result_cas = strata_cas_token(r.value.data(), r.value.size());
  op.result_tier = tier_name(r.tier);
  op.result_stale = r.stale ? 1 : 0;
  set_value(op, std::move(r.value));
}

// The tier's own name string: it lives as long as the tier, longer than any front.
const char* ChainService::tier_name(const std::string& name) const {
  for (Tier* t : chain_.tiers())
    if (t->name() == name) return t->name().c_str();
  return nullptr;
}

}  // namespace strata

// ChainService: the tier chain a front reads and writes through (strata_host_api.front_chain,
// chain_submit, chain_release). A front submits ops from its own threads; a small pool of host
// threads runs them through the TierChain (whose reads block on the tiers) and calls the
// front's done back exactly once per submit, also when the service shuts down. Owned by the
// runtime, one per front.
#pragma once

#include <strata/strata.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "chain/tier_chain.hpp"
#include "loader/loader.hpp"

namespace strata {

class Series;

class ChainService final : public strata_chain {
 public:
  // `threads` 0: every submit runs on the submitting thread (done before submit returns).
  // `inline_reads` (with threads > 0 and a volatile first tier): a submit of plain GETs reads
  // that tier on the submitting thread, one batched read; when every key is answered there,
  // done runs before submit returns, and only the other keys go to a chain thread (L2).
  ChainService(std::string front, TierChain& chain, int threads, bool inline_reads = false);
  ~ChainService();  // shutdown()
  ChainService(const ChainService&) = delete;
  ChainService& operator=(const ChainService&) = delete;

  // Spawns the threads; submits made before are queued until then.
  void start();
  // Stops taking submits (they return STRATA_ERR_UNAVAILABLE), answers every queued one with
  // STRATA_ERR_UNAVAILABLE "shutting down", waits for those running, joins the threads.
  // Idempotent; call it after the front's stop() returned.
  void shutdown();

  int submit(strata_chain_op* ops, size_t count, strata_chain_done_fn done,
             void* user) noexcept override;

  TierChain& chain() { return chain_; }
  size_t queued() const;

 private:
  struct Job {
    strata_chain_op* ops;
    size_t count;
    strata_chain_done_fn done;
    void* user;
    // Non-empty: the first tier answered the other ops of this plain-read submit on the
    // submitting thread; these are left for a chain thread (get(): L2, single flight).
    std::vector<strata_chain_op*> rest;
  };

  // Reads of several submits share one batched L1 read (TierChain::get_many).
  static constexpr size_t kMaxReadJobs = 64;

  void worker();
  void run(const Job& job) noexcept;
  // Jobs whose ops are all plain GETs (no touch): one get_many for all their keys.
  void run_reads(const std::vector<Job>& jobs) noexcept;
  void run_rest(const Job& job) noexcept;
  // The inline first-tier read of a plain-read submit; false when the job went to the queue.
  bool read_inline(Job& job) noexcept;
  void run_op(strata_chain_op& op);
  void run_get(strata_chain_op& op);
  void fill_get(strata_chain_op& op, GetResult&& r);
  void finish(const Job& job) noexcept;
  void finish_unavailable(const Job& job, const char* why) noexcept;
  const char* tier_name(const std::string& name) const;

  const std::string front_;
  TierChain& chain_;
  const int threads_;
  const bool inline_reads_;
  mutable std::mutex mu_;
  std::condition_variable cv_;       // workers wait for jobs
  std::condition_variable idle_cv_;  // shutdown waits for inline submits
  std::deque<Job> queue_;
  size_t inline_running_ = 0;
  bool started_ = false;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
  Series* ops_total_;
  Series* errors_total_;
  Series* queue_gauge_;
};

}  // namespace strata

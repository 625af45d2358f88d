// Runs the volatile (L1) write stage of a pipeline on its own thread, so that a batch's L1
// writes overlap the next batch's poll, hooks and durable writes (pipeline option
// `overlap_l1`). Plans are handled one at a time in the order they were pushed, so the L1
// writes of one key keep record order across batches; at most one plan waits, so the
// pipeline runs at most one batch ahead of L1. Between plans, and every 100 ms when idle, the
// lane runs `idle` (the suspect-key sweep). Each plan pushed gets a sequence number (1, 2, ...)
// and done() says how many are written, so the pipeline acks a batch only once its L1 writes
// ran, as it does without the lane; its next poll, hooks and durable writes do not wait.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "pipeline/write_plan.hpp"

namespace strata {

class VolatileLane {
 public:
  VolatileLane(std::function<void(WritePlan&)> work, std::function<void()> idle);
  ~VolatileLane();  // finishes the plans pushed so far, then joins
  VolatileLane(const VolatileLane&) = delete;
  VolatileLane& operator=(const VolatileLane&) = delete;

  // Hands a plan over; blocks while another plan is already waiting. Returns its number.
  uint64_t push(std::unique_ptr<WritePlan> plan);
  // How many plans were written (their number, in order). Any thread.
  uint64_t done() const { return done_.load(std::memory_order_acquire); }
  // Blocks until every plan pushed so far is written.
  void wait_all();

 private:
  void run();

  std::function<void(WritePlan&)> work_;
  std::function<void()> idle_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::unique_ptr<WritePlan>> queue_;
  bool closing_ = false;
  uint64_t pushed_ = 0;  // guarded by mu_
  std::atomic<uint64_t> done_{0};
  std::thread thread_;
};

}  // namespace strata

// Runs the plan stage of a pipeline (the Lua hooks, the policy, coalescing) on a thread of its
// own, so that batch k+1's hooks run while batch k's durable and volatile writes are in flight
// (pipeline option `overlap_hooks`). The worker thread keeps every call into the source and
// the tiers: it submits the batch it just polled, writes the previous one, then takes the new
// batch's plan. One batch at a time, so plans come back in poll order and the writes, acks and
// dead letters keep their order. The script's Lua state is only ever used by this thread.
#pragma once

#include <strata/strata.h>

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "pipeline/write_plan.hpp"

namespace strata {

class HookLane {
 public:
  using Prepare = std::function<WritePlan(const strata_record_batch&)>;
  explicit HookLane(Prepare prepare);
  ~HookLane();  // finishes the batch in hand (its plan is dropped), then joins
  HookLane(const HookLane&) = delete;
  HookLane& operator=(const HookLane&) = delete;

  // Hands a batch over; its records must stay valid until take() returns. At most one batch
  // is outstanding: submit() after submit() without take() is a bug (it waits for the take).
  void submit(const strata_record_batch& batch);
  // Waits for the plan of the submitted batch; rethrows what the stage threw.
  WritePlan take();

 private:
  void run();

  Prepare prepare_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::optional<strata_record_batch> batch_;  // submitted, not yet planned
  std::optional<WritePlan> plan_;             // planned, not yet taken
  std::exception_ptr error_;
  bool busy_ = false;  // between submit() and take()
  bool closing_ = false;
  std::thread thread_;
};

}  // namespace strata

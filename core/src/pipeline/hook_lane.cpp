#include "pipeline/hook_lane.hpp"

#include <utility>

namespace strata {

HookLane::HookLane(Prepare prepare) : prepare_(std::move(prepare)), thread_([this] { run(); }) {}

HookLane::~HookLane() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    closing_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void HookLane::submit(const strata_record_batch& batch) {
  std::unique_lock<std::mutex> lk(mu_);
  changed_.wait(lk, [this] { return !busy_; });
  busy_ = true;
  batch_ = batch;
  lk.unlock();
  changed_.notify_all();
}

WritePlan HookLane::take() {
  std::unique_lock<std::mutex> lk(mu_);
  changed_.wait(lk, [this] { return plan_.has_value() || error_ != nullptr; });
  busy_ = false;
  if (error_) {
    std::exception_ptr e = std::exchange(error_, nullptr);
    lk.unlock();
    changed_.notify_all();
    std::rethrow_exception(e);
  }
  WritePlan plan = std::move(*plan_);
  plan_.reset();
  lk.unlock();
  changed_.notify_all();
  return plan;
}

void HookLane::run() {
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    changed_.wait(lk, [this] { return closing_ || batch_.has_value(); });
    if (!batch_) return;  // closing with nothing in hand
    strata_record_batch batch = *batch_;
    batch_.reset();
    lk.unlock();
    std::optional<WritePlan> plan;
    std::exception_ptr error;
    try {
      plan = prepare_(batch);
    } catch (...) {
      error = std::current_exception();
    }
    lk.lock();
    plan_ = std::move(plan);
    error_ = error;
    changed_.notify_all();
  }
}

}  // namespace strata

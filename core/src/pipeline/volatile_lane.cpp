#include "pipeline/volatile_lane.hpp"

#include <chrono>

namespace strata {

VolatileLane::VolatileLane(std::function<void(WritePlan&)> work, std::function<void()> idle)
    : work_(std::move(work)), idle_(std::move(idle)), thread_([this] { run(); }) {}

VolatileLane::~VolatileLane() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    closing_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

uint64_t VolatileLane::push(std::unique_ptr<WritePlan> plan) {
  std::unique_lock<std::mutex> lk(mu_);
  changed_.wait(lk, [this] { return queue_.empty(); });
  queue_.push_back(std::move(plan));
  uint64_t seq = ++pushed_;
  lk.unlock();
  changed_.notify_all();
  return seq;
}

void VolatileLane::wait_all() {
  std::unique_lock<std::mutex> lk(mu_);
  changed_.wait(lk, [this] { return done_.load(std::memory_order_acquire) == pushed_; });
}

void VolatileLane::run() {
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    changed_.wait_for(lk, std::chrono::milliseconds(100),
                      [this] { return closing_ || !queue_.empty(); });
    if (queue_.empty()) {
      if (closing_) return;
      lk.unlock();
      idle_();
      lk.lock();
      continue;
    }
    std::unique_ptr<WritePlan> plan = std::move(queue_.front());
    queue_.pop_front();
    lk.unlock();
    changed_.notify_all();  // the pipeline may push the next plan while this one is written
    work_(*plan);
    plan.reset();
    {
      std::lock_guard<std::mutex> done_lk(mu_);
      done_.fetch_add(1, std::memory_order_acq_rel);
    }
    changed_.notify_all();  // wait_all()
    idle_();
    lk.lock();
  }
}

}  // namespace strata

// The memcached_l1 server gate: see server_gate.hpp.
#include "server_gate.hpp"

#include <chrono>

namespace memcached_l1 {

ServerGate::ServerGate(const Settings& s, strata::Host host) : settings_(s), host_(host) {
  for (const auto& a : s.servers) {
    auto e = std::make_unique<Entry>();
    e->address = a;
    std::string labels = "server=\"" + a.str() + "\"";
    e->up = host_.gauge("strata_memcached_server_up",
                        "1 while requests go to the server, 0 while it is closed after failures",
                        labels.c_str());
    e->closes = host_.counter("strata_memcached_server_closed_total",
                              "times the server was closed after failing", labels.c_str());
    e->flushes = host_.counter("strata_memcached_server_flushes_total",
                               "flush_all sent to a returning server that missed writes",
                               labels.c_str());
    e->refused = host_.counter("strata_memcached_server_refused_total",
                               "ops failed at once because their server was closed",
                               labels.c_str());
    e->up.set(1);
    entries_.emplace(a.str(), std::move(e));
  }
}

ServerGate::~ServerGate() { stop(); }

void ServerGate::start() {
  std::lock_guard<std::mutex> lock(stop_mu_);
  if (prober_.joinable()) return;
  stopping_ = false;
  prober_ = std::thread([this] { probe_loop(); });
}

void ServerGate::stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (prober_.joinable()) prober_.join();
}

ServerGate::Entry* ServerGate::find(const std::string& server) const {
  auto it = entries_.find(server);
  return it == entries_.end() ? nullptr : it->second.get();
}

bool ServerGate::admit(const std::string& server, bool write) {
  Entry* e = find(server);
  if (!e || !e->closed.load(std::memory_order_acquire)) return true;
  std::lock_guard<std::mutex> lock(e->mu);
  if (!e->closed.load(std::memory_order_relaxed)) return true;  // reopened meanwhile
  if (write) ++e->missed;
  e->refused.add();
  return false;
}

std::string ServerGate::closed_reason(const std::string& server) const {
  Entry* e = find(server);
  if (!e) return "server is closed";
  std::lock_guard<std::mutex> lock(e->mu);
  uint64_t ms = (host_.monotonic_ns() - e->closed_at_ns) / 1000000;
  return "server closed " + std::to_string(ms) + " ms ago after failing; asked again every " +
         std::to_string(settings_.retry_timeout_ms) + " ms, its keys are read from the next tier";
}

bool ServerGate::closed(const std::string& server) const {
  Entry* e = find(server);
  return e && e->closed.load(std::memory_order_acquire);
}

void ServerGate::failed(const std::string& server, bool write) {
  Entry* e = find(server);
  if (!e) return;
  std::lock_guard<std::mutex> lock(e->mu);
  if (write) ++e->missed;
  if (e->closed.load(std::memory_order_relaxed)) return;
  uint64_t now = host_.monotonic_ns();
  uint64_t window = uint64_t(settings_.retry_timeout_ms) * 1000000;
  if (e->failures_in_window == 0 || now - e->window_start_ns > window) {
    e->window_start_ns = now;
    e->failures_in_window = 0;
  }
  if (++e->failures_in_window >= settings_.server_failure_limit) close_locked(*e, now);
}

void ServerGate::close_locked(Entry& e, uint64_t now) {
  e.closed_at_ns = now;
  e.failures_in_window = 0;
  e.closed.store(true, std::memory_order_release);
  closed_count_.fetch_add(1, std::memory_order_acq_rel);
  e.closes.add();
  e.up.set(0);
  host_.warn("memcached server " + e.address.str() + " closed after " +
             std::to_string(settings_.server_failure_limit) +
             " failures: its keys fail at once (read from the next tier) and it is asked again every " +
             std::to_string(settings_.retry_timeout_ms) + " ms");
}

void ServerGate::probe_loop() {
  auto period = std::chrono::milliseconds(settings_.retry_timeout_ms);
  std::unique_lock<std::mutex> lock(stop_mu_);
  while (!stopping_) {
    stop_cv_.wait_for(lock, std::min(period, std::chrono::milliseconds(250)));
    if (stopping_) break;
    lock.unlock();
    uint64_t now = host_.monotonic_ns();
    for (auto& [name, e] : entries_) {
      if (!e->closed.load(std::memory_order_acquire)) continue;
      uint64_t closed_at;
      {
        std::lock_guard<std::mutex> elock(e->mu);
        closed_at = e->closed_at_ns;
      }
      if (now - closed_at >= uint64_t(settings_.retry_timeout_ms) * 1000000) probe(*e);
    }
    lock.lock();
  }
}

// Asks a closed server with a fresh handle (no per-handle failure state); flushes it when it
// may hold stale values; opens it when that worked and no write was missed meanwhile.
void ServerGate::probe(Entry& e) {
  uint64_t missed_before;
  {
    std::lock_guard<std::mutex> lock(e.mu);
    missed_before = e.missed;
  }
  std::string what;
  try {
    Memc h = make_handle(settings_, {e.address}, false);
    memcached_return_t rc = memcached_version(h.get());
    if (memcached_failed(rc)) {
      std::lock_guard<std::mutex> lock(e.mu);
      e.closed_at_ns = host_.monotonic_ns();  // next probe one retry_timeout from now
      return;
    }
    if (missed_before > 0) {
      rc = memcached_flush(h.get(), 0);
      if (memcached_failed(rc)) {
        std::lock_guard<std::mutex> lock(e.mu);
        e.closed_at_ns = host_.monotonic_ns();
        return;
      }
      e.flushes.add();
      what = "; flushed it first (" + std::to_string(missed_before) +
             " writes or deletes did not reach it, so it may hold stale values)";
    }
  } catch (const std::exception& ex) {
    host_.warn("memcached server " + e.address.str() + ": probe failed: " + ex.what());
    std::lock_guard<std::mutex> lock(e.mu);
    e.closed_at_ns = host_.monotonic_ns();
    return;
  }
  std::lock_guard<std::mutex> lock(e.mu);
  if (e.missed != missed_before) return;  // a write missed it during the flush: next probe
  e.missed = 0;
  e.closed.store(false, std::memory_order_release);
  closed_count_.fetch_sub(1, std::memory_order_acq_rel);
  e.up.set(1);
  host_.info("memcached server " + e.address.str() + " answers again and is open" + what);
}

}  // namespace memcached_l1

// The memcached_l1 server gate: see server_gate.hpp.
#include "server_gate.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

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
    e->flushes =
        host_.counter("strata_memcached_server_flushes_total",
                      "flush_all sent to a returning server that missed writes", labels.c_str());
    e->refused =
        host_.counter("strata_memcached_server_refused_total",
                      "ops failed at once because their server was closed", labels.c_str());
    e->up.set(1);
    entries_.emplace(a.str(), std::move(e));
  }
  load_state();
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
  bool became_stale = false;
  {
    std::lock_guard<std::mutex> lock(e->mu);
    if (!e->closed.load(std::memory_order_relaxed)) return true;  // reopened meanwhile
    if (write) became_stale = note_missed_locked(*e);
    e->refused.add();
  }
  if (became_stale) save_state();
  return false;
}

bool ServerGate::note_missed_locked(Entry& e) {
  if (e.missed++ > 0) return false;
  e.stale.store(true, std::memory_order_release);
  return true;
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
  bool became_stale = false;
  {
    std::lock_guard<std::mutex> lock(e->mu);
    if (write) became_stale = note_missed_locked(*e);
    if (!e->closed.load(std::memory_order_relaxed)) {
      uint64_t now = host_.monotonic_ns();
      uint64_t window = uint64_t(settings_.retry_timeout_ms) * 1000000;
      if (e->failures_in_window == 0 || now - e->window_start_ns > window) {
        e->window_start_ns = now;
        e->failures_in_window = 0;
      }
      if (++e->failures_in_window >= settings_.server_failure_limit) close_locked(*e, now);
    }
  }
  if (became_stale) save_state();  // before the caller reports the write as failed
}

void ServerGate::close_locked(Entry& e, uint64_t now) {
  e.closed_at_ns = now;
  e.failures_in_window = 0;
  e.closed.store(true, std::memory_order_release);
  closed_count_.fetch_add(1, std::memory_order_acq_rel);
  e.closes.add();
  e.up.set(0);
  host_.warn(
      "memcached server " + e.address.str() + " closed after " +
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
  bool cleared = false;
  {
    std::lock_guard<std::mutex> lock(e.mu);
    if (e.missed != missed_before) return;  // a write missed it during the flush: next probe
    e.missed = 0;
    cleared = e.stale.exchange(false);
    e.closed.store(false, std::memory_order_release);
    closed_count_.fetch_sub(1, std::memory_order_acq_rel);
    e.up.set(1);
  }
  if (cleared) save_state();
  host_.info("memcached server " + e.address.str() + " answers again and is open" + what);
}

// The servers a previous process listed as possibly holding stale values start closed, so
// that the prober flushes them before anything is read from them.
void ServerGate::load_state() {
  if (settings_.state_file.empty()) return;
  const std::string& path = settings_.state_file;
  std::string text, why;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return;  // none yet: nothing missed that was not flushed
  if (fd < 0) why = std::strerror(errno);
  constexpr size_t kMax = 1 << 20;  // a list of servers; anything longer is not one of ours
  for (char buf[4096]; fd >= 0 && why.empty();) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) why = std::strerror(errno);
    if (n <= 0) break;
    text.append(buf, size_t(n));
    if (text.size() > kMax) why = "longer than 1 MiB";
  }
  if (fd >= 0) ::close(fd);
  if (!why.empty()) {  // unknown, so assume the worst
    host_.warn("cannot read state_file " + path + ": " + why +
               "; every memcached server is flushed before it serves");
    for (auto& [name, e] : entries_) close_stale_at_start(*e);
    return;
  }
  size_t unknown = 0;
  std::string first_unknown;
  for (size_t b = 0, e; b < text.size(); b = e + 1) {
    e = text.find('\n', b);
    if (e == std::string::npos) e = text.size();
    std::string line = text.substr(b, e - b);
    if (line.empty()) continue;
    if (Entry* entry = find(line))
      close_stale_at_start(*entry);
    else if (unknown++ == 0)
      first_unknown = line.substr(0, 200);
  }
  if (unknown > 0)
    host_.warn("state_file " + path + " names " + std::to_string(unknown) +
               " server(s) not among servers (first: " + first_unknown + "); ignored");
}

// A server a previous process listed (or all of them, when the list cannot be read) starts
// closed and stale: the prober's first turn flushes it, then opens it.
void ServerGate::close_stale_at_start(Entry& e) {
  if (e.stale.exchange(true)) return;
  std::lock_guard<std::mutex> lock(e.mu);
  e.missed = 1;
  e.closed_at_ns = 0;  // probed at the prober's first turn
  e.closed.store(true, std::memory_order_release);
  closed_count_.fetch_add(1, std::memory_order_acq_rel);
  e.up.set(0);
  host_.warn("memcached server " + e.address.str() +
             " may have missed writes before this process started (" + settings_.state_file +
             "): it stays closed until it is flushed");
}

// Writes the stale servers, one per line, to a temp file, fsyncs and renames it over
// state_file (an empty set removes it). A failure is logged once, never raised: the gate
// still knows, only a crash would forget.
void ServerGate::save_state() {
  if (settings_.state_file.empty()) return;
  std::lock_guard<std::mutex> lock(state_mu_);
  std::string text;
  for (const auto& [name, e] : entries_)
    if (e->stale.load(std::memory_order_acquire)) text += name + "\n";
  const std::string& path = settings_.state_file;
  std::string why;
  if (text.empty()) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) why = std::strerror(errno);
  } else {
    std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      why = std::strerror(errno);
    } else {
      bool ok = ::write(fd, text.data(), text.size()) == ssize_t(text.size()) && ::fsync(fd) == 0;
      if (!ok) why = std::strerror(errno);
      ::close(fd);
      if (ok && std::rename(tmp.c_str(), path.c_str()) != 0) why = std::strerror(errno);
    }
  }
  if (!why.empty() && !state_warned_) {
    state_warned_ = true;
    host_.warn("cannot write state_file " + path + ": " + why +
               "; a crash now would forget which servers missed writes");
  }
}

}  // namespace memcached_l1

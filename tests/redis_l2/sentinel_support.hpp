// A Sentinel deployment for the redis_l2 tests (issue 10 item 2): a master, its replicas and
// three sentinels (quorum 2), real processes on free loopback ports. Included by
// sentinel_test.cpp and sentinel_e2e_test.cpp.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "servers.hpp"

namespace strata::test {

class SentinelGroup {
 public:
  static constexpr const char* kName = "strata-l2";

  // Starts the master, `replicas` replicas (in sync before it returns) and `sentinels`
  // sentinels, and waits until every sentinel knows the replicas and the other sentinels.
  bool start(int replicas = 1, int sentinels = 3, int quorum = 2) {
    if (!master_.start()) return false;
    for (int i = 0; i < replicas; ++i) {
      replicas_.push_back(std::make_unique<ServerProcess>(
          ServerProcess::Kind::Redis, 0,
          std::vector<std::string>{"--replicaof", "127.0.0.1", std::to_string(master_.port())}));
      if (!replicas_.back()->start()) return false;
    }
    for (auto& r : replicas_)
      if (!wait_for(
              [&] {
                return r->redis_cli("INFO replication").find("master_link_status:up") !=
                       std::string::npos;
              },
              30000))
        return false;
    for (int i = 0; i < sentinels; ++i) {
      sentinels_.push_back(std::make_unique<SentinelProcess>(kName, master_.port(), quorum));
      if (!sentinels_.back()->start()) return false;
    }
    for (auto& s : sentinels_)
      if (!s->wait_ready(replicas, sentinels - 1, 60000)) return false;
    return true;
  }

  // `sentinels = [...]` and `master_name` for a redis_l2 section.
  std::string options() const {
    std::string list;
    for (auto& s : sentinels_) list += (list.empty() ? "\"" : ", \"") + s->address() + "\"";
    return "sentinels = [" + list + "]\nmaster_name = \"" + kName + "\"\n";
  }

  // The server that every running sentinel names as the master, nullptr while they disagree.
  ServerProcess* agreed_master() {
    std::string addr;
    for (auto& s : sentinels_) {
      if (!s->running()) continue;
      std::string a = s->master_address();
      if (a.empty() || (!addr.empty() && a != addr)) return nullptr;
      addr = a;
    }
    if (master_.address() == addr) return &master_;
    for (auto& r : replicas_)
      if (r->address() == addr) return r.get();
    return nullptr;
  }

  // Waits (bounded) until the sentinels agree on a master other than `old` that says ROLE
  // master; that server, or nullptr.
  ServerProcess* wait_new_master(const ServerProcess* old, int timeout_ms = 60000) {
    ServerProcess* found = nullptr;
    wait_for(
        [&] {
          ServerProcess* m = agreed_master();
          if (!m || m == old || m->redis_cli("ROLE").rfind("master", 0) != 0) return false;
          found = m;
          return true;
        },
        timeout_ms);
    return found;
  }

  ServerProcess& master() { return master_; }
  ServerProcess& replica(size_t i) { return *replicas_[i]; }
  SentinelProcess& sentinel(size_t i) { return *sentinels_[i]; }

  static bool wait_for(const std::function<bool()>& pred, int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return pred();
  }

 private:
  ServerProcess master_{ServerProcess::Kind::Redis};
  std::vector<std::unique_ptr<ServerProcess>> replicas_;
  std::vector<std::unique_ptr<SentinelProcess>> sentinels_;
};

}  // namespace strata::test

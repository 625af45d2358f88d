#include "redis_cluster.hpp"

#include <chrono>
#include <cstdio>
#include <sstream>
#include <thread>

namespace strata::test {

RedisCluster::RedisCluster(int masters, int replicas_per_master,
                           std::vector<std::string> extra_args)
    : masters_(masters), replicas_(replicas_per_master) {
  std::vector<std::string> args = {"--cluster-enabled",      "yes",
                                   "--cluster-config-file",  "nodes.conf",
                                   "--cluster-node-timeout", "2000"};
  for (auto& a : extra_args) args.push_back(a);
  for (int i = 0; i < masters * (1 + replicas_per_master); ++i)
    nodes_.push_back(std::make_unique<ServerProcess>(ServerProcess::Kind::Redis, 0, args));
}

std::string RedisCluster::toml_nodes() const {
  std::string out;
  for (const auto& n : nodes_) out += (out.empty() ? "\"" : ", \"") + n->address() + "\"";
  return out;
}

int RedisCluster::index_of_port(int port) const {
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i]->port() == port) return static_cast<int>(i);
  return -1;
}

std::string RedisCluster::id_of(size_t i) const { return nodes_[i]->redis_cli("CLUSTER MYID"); }

int RedisCluster::master_of_slot(int slot, size_t ask) const {
  // redis-cli prints CLUSTER SLOTS flattened: start, end, ip, port, id, [replica ip, port, id]..
  std::istringstream in(nodes_[ask]->redis_cli("CLUSTER SLOTS"));
  std::vector<std::string> words;
  for (std::string w; std::getline(in, w);) words.push_back(w);
  for (size_t i = 0; i + 3 < words.size(); ++i) {
    // A range starts with two numbers followed by an IP (a line with a '.').
    if (words[i + 2].find('.') == std::string::npos) continue;
    if (words[i].find_first_not_of("0123456789") != std::string::npos ||
        words[i + 1].find_first_not_of("0123456789") != std::string::npos || words[i].empty() ||
        words[i + 1].empty())
      continue;
    int first = std::stoi(words[i]), last = std::stoi(words[i + 1]);
    if (first <= slot && slot <= last) return index_of_port(std::stoi(words[i + 3]));
  }
  return -1;
}

bool RedisCluster::wait_ok(int timeout_ms) const {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    bool ok = true;
    std::string first_slots;
    for (const auto& n : nodes_) {
      if (!n->running()) continue;
      if (n->redis_cli("CLUSTER INFO").find("cluster_state:ok") == std::string::npos) {
        ok = false;
        break;
      }
    }
    // Every running node names the same master for a sample of slots.
    for (int slot : {0, 5000, 10000, 16383}) {
      int owner = -2;
      for (size_t i = 0; ok && i < nodes_.size(); ++i) {
        if (!nodes_[i]->running()) continue;
        int o = master_of_slot(slot, i);
        if (o < 0 || (owner != -2 && o != owner)) ok = false;
        owner = o;
      }
    }
    if (ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

bool RedisCluster::start() {
  for (auto& n : nodes_)
    if (!n->start()) return false;
  std::string cmd = "redis-cli --cluster create";
  // Appended piece by piece: GCC 12 -O3 warns (-Wrestrict, a false positive in libstdc++'s
  // operator+) on " " + address, which breaks Release builds with STRATA_WERROR.
  for (auto& n : nodes_) cmd.append(" ").append(n->address());
  cmd.append(" --cluster-replicas ").append(std::to_string(replicas_)).append(" --cluster-yes 2>&1");
  int status = 0;
  std::string out = run_command(cmd, &status);
  if (status != 0) {
    std::fprintf(stderr, "redis-cli --cluster create failed:\n%s\n", out.c_str());
    return false;
  }
  if (!wait_ok()) {
    std::fprintf(stderr, "the cluster did not reach cluster_state:ok\n");
    return false;
  }
  return true;
}

}  // namespace strata::test

// A real Redis Cluster for tests: `masters` redis-server processes (plus `replicas_per_master`
// replicas each) with --cluster-enabled on free loopback ports, joined by
// `redis-cli --cluster create`, ready once every node reports cluster_state:ok and agrees on
// the slot map. Stopped (with its scratch folders) when destroyed.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "servers.hpp"

namespace strata::test {

class RedisCluster {
 public:
  explicit RedisCluster(int masters = 3, int replicas_per_master = 0,
                        std::vector<std::string> extra_args = {});
  // Starts the nodes, creates the cluster and waits (up to 60 s) for it; false with a
  // message on stderr otherwise.
  bool start();
  ServerProcess& node(size_t i) { return *nodes_[i]; }
  size_t size() const { return nodes_.size(); }
  std::string seed() const { return nodes_[0]->address(); }
  // "127.0.0.1:P1", "127.0.0.1:P2", ... (every node, quoted, comma-separated) for a TOML list.
  std::string toml_nodes() const;
  // Index of the node listening on `port`, or -1.
  int index_of_port(int port) const;
  // The node (index) that serves `slot` as master, from CLUSTER SLOTS of node `ask`; -1 if none.
  int master_of_slot(int slot, size_t ask = 0) const;
  // The node id (CLUSTER MYID) of node i.
  std::string id_of(size_t i) const;
  // Every running node reports cluster_state:ok and the same slot owners, within timeout_ms.
  bool wait_ok(int timeout_ms = 60000) const;

 private:
  int masters_, replicas_;
  std::vector<std::unique_ptr<ServerProcess>> nodes_;
};

}  // namespace strata::test

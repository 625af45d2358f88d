// redis_l2 on a Redis Cluster: routes every op of a batch to the master of its key's slot,
// runs one node's ops on that node's own connection pool and pipeline (the single-node code
// path, with scripts and guarded transactions kept inside one slot), the nodes in parallel,
// and follows the cluster's redirections: MOVED updates the slot map (re-read from CLUSTER
// SLOTS) and resends, ASK resends to the named node behind ASKING, TRYAGAIN and a lost node
// (refresh, its replica may have taken over) retry a bounded number of times, then the op is
// ERR_UNAVAILABLE and the caller retries it. Owned by the redis_l2 instance.
#pragma once

#include <strata/strata.h>
#include <strata/sdk.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cluster_map.hpp"
#include "redis_link.hpp"

namespace redis_l2 {

// One master's share of the work, implemented by the redis_l2 instance of that node.
class ClusterNode {
 public:
  virtual ~ClusterNode() = default;
  // The single-node execute(): statuses in ops[i]; may throw strata::Error (cannot connect).
  // `asking`: every command is preceded by ASKING (the ops were ASK-redirected here).
  virtual void execute_on(strata_tier_op* ops, size_t n, bool asking) = 0;
  virtual void ping() = 0;             // throws strata::Error when the node does not answer
  virtual void close() = 0;            // drops the node's connections
  virtual uint64_t drops() const = 0;  // connections dropped so far (a change = a lost link)
};

class ClusterRouter {
 public:
  using MakeNode = std::function<std::unique_ptr<ClusterNode>(const Endpoint&)>;
  // Checks the options cluster mode cannot serve (db != 0, braces in key_prefix, unix-socket
  // seeds: strata::Error(ERR_INVALID) with the reason). `seeds`: "host:port" addresses.
  static std::unique_ptr<ClusterRouter> create(strata::Host host, const LinkSettings& link,
                                               const std::string& prefix,
                                               const std::vector<std::string>& seeds,
                                               MakeNode make);
  ClusterRouter(strata::Host host, LinkSettings base, std::vector<Endpoint> seeds,
                std::string prefix, MakeNode make);

  // Reads the slot map: a cluster that is down is a warning (the first use reads it),
  // refused credentials throw.
  void start();
  // Reads the slot map. False with `error` when no node answered (`config_error`: refused
  // credentials, fatal at start).
  bool refresh(std::string* error, bool* config_error);
  void execute(strata_tier_op* ops, size_t n);
  void health();  // PING every master; throws strata::Error(ERR_UNAVAILABLE) with the reason
  void stop();

 private:
  struct Route {
    ClusterNode* node = nullptr;
    bool asking = false;
    std::string where;  // the node's address, for messages
  };
  struct Pass;
  std::vector<size_t> route(Pass& pass, const std::vector<size_t>& todo,
                            std::vector<size_t>* unroutable);
  bool follow(Pass& pass, size_t i);
  ClusterNode* node_for(const Endpoint& ep);  // under mu_
  uint16_t key_slot_of(const strata_tier_op& op) const;
  bool ensure_map(std::string* error);
  void refresh_soon();  // refresh() unless one ran within the last 100 ms
  // One round: ops `todo` to their routes, each node's ops in one execute_on(), nodes in
  // parallel; pass.lost[i] tells whether op i's node lost a connection meanwhile.
  void run_round(Pass& pass, const std::vector<size_t>& todo);

  strata::Host host_;
  LinkSettings base_;
  std::vector<Endpoint> seeds_;
  std::string prefix_;
  MakeNode make_;
  strata::Metric moved_, asked_, tryagain_, refreshes_;
  std::mutex mu_;  // map_, nodes_
  SlotMap map_;
  bool have_map_ = false;
  std::map<std::string, std::unique_ptr<ClusterNode>> nodes_;  // by display; never erased
  std::chrono::steady_clock::time_point last_refresh_{};       // under mu_
  std::mutex refresh_mu_;
};

}  // namespace redis_l2

// The Redis Cluster slot map of redis_l2: which master serves each of the 16384 slots, read
// from `CLUSTER SLOTS` of any reachable node, and the per-slot hash tags that put a partition
// watermark into the slot of the writes it guards. Used by the cluster router only.
#pragma once

#include <hiredis/hiredis.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "crc16.hpp"
#include "redis_link.hpp"

namespace redis_l2 {

struct SlotMap {
  std::vector<Endpoint> masters;               // index = owner value
  std::array<int32_t, kClusterSlots> owner{};  // index into masters, -1 = no master
  SlotMap() { owner.fill(-1); }
  // Index of `host:port` in masters, appended when new.
  int32_t master_index(const std::string& host, int port);
};

// A TCP endpoint for `host:port` (display "host:port").
Endpoint node_endpoint(const std::string& host, int port);

// Parses "host:port" as CLUSTER SLOTS, MOVED and ASK name nodes; false when malformed.
bool parse_node_address(std::string_view text, std::string* host, int* port);

// Fills `out` from a CLUSTER SLOTS reply; `asked_host` stands in for an empty or unknown ("?")
// node address (a node that does not know its own IP). False with `error` when malformed.
bool parse_cluster_slots(const redisReply* r, const std::string& asked_host, SlotMap* out,
                         std::string* error);

// Asks the endpoints in order (connect with `base`'s credentials and timeouts, CLUSTER SLOTS);
// the first complete answer wins. False with `error` (every endpoint's reason); `config_error`
// when a node refused the credentials (a retry will not heal that).
bool fetch_slot_map(const LinkSettings& base, const std::vector<Endpoint>& from, SlotMap* out,
                    std::string* error, bool* config_error);

}  // namespace redis_l2

// The write side of the invalidation bus (issue 10): one Redis Stream entry per atomic step of
// a batch, listing every key the step wrote or deleted, so nodes that keep their own L1 (the
// redis_bus front) drop them. The entry is `node <bus_node>` then `k <key>` once per key (XADD
// allows repeated field names), keys as the pipeline named them (without key_prefix), the
// stream trimmed with `MAXLEN ~ bus_maxlen`. Where the step is atomic (the watermark
// transaction, the versioned script) the XADD is part of it; plain pipelined writes XADD after
// their replies, before execute() returns (docs/bus.md). Used by redis_l2.cpp, guarded_tx.cpp
// and redis_commands.cpp.
#pragma once

#include <hiredis/hiredis.h>
#include <strata/strata.h>
#include <strata/sdk.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace redis_l2 {

struct BusSettings {
  std::string stream;  // "" = the bus is off
  int64_t maxlen = 100000;
  std::string node;  // who wrote the entry (default host:pid)
  bool on() const { return !stream.empty(); }
};

// "hostname:pid", the default bus_node.
std::string default_bus_node();

// Ops whose applied write must be announced: every kind that changes or removes a key's value
// (not GET, WATERMARK_GET, TOUCH).
bool announces(strata_tier_op_kind kind);

// Appends XADD <stream> MAXLEN ~ <maxlen> * node <node> k <key>... to c's output buffer
// (one reply). `keys` must not be empty.
void append_xadd(redisContext* c, const BusSettings& b, const std::vector<std::string_view>& keys);

// The module's bus bookkeeping: entries counted, failures counted and logged (at most once a
// minute). Thread-safe.
class BusReport {
 public:
  BusReport(strata::Host host, const BusSettings& b);
  void added() const { entries_.add(); }
  // An entry Redis refused or that could not be sent; `why` names the server.
  void failed(const std::string& why);
  // The bus element of a versioned script's reply: the id, "" (no op applied) or an error.
  void script_reply(const redisReply* r, const std::string& where);
  // XADDs `keys` on `c` and reads the reply: "" when added, else why not (`*io` when the
  // connection failed: the caller drops it).
  std::string send(redisContext* c, const std::vector<std::string_view>& keys,
                   const std::string& where, bool* io);

 private:
  strata::Host host_;
  const BusSettings& bus_;
  strata::Metric entries_, errors_;
  std::atomic<uint64_t> logged_ns_{0};
};

}  // namespace redis_l2

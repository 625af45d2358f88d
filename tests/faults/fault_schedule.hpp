// A fault schedule: faults drawn from a seeded RNG, one after another, each held for a while
// and then recovered from. The same seed gives the same schedule (timings of the processes
// under test vary, the faults, their order, targets and durations do not).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fault_world.hpp"

namespace strata::test::faults {

enum class FaultKind {
  StrataKill9,      // kill -9 a member, restart it after the hold
  MemcachedKill,    // kill -9 memcached, restart it empty on the same port
  MemcachedStall,   // SIGSTOP memcached, SIGCONT after the hold
  RedisKill,        // kill -9 redis-server (appendfsync always), restart on the same port
  RedisRestart,     // SIGTERM redis-server, restart
  RedisStall,       // SIGSTOP redis-server, SIGCONT after the hold
  BrokerDown,       // one of 3 mock brokers down, up after the hold
  LeaderMove,       // a partition's leader moved to another broker
  CommitErrors,     // the next OffsetCommit requests fail (retriable, coordinator, rebalance)
  FetchErrors,      // the next Fetch requests fail (not leader, timeout, out of range)
  MemberJoinLeave,  // member B joins the group, or leaves it with SIGTERM
  BadReload,        // a broken config (TOML, option, script, 50,000-part key) then SIGHUP
};
const char* fault_name(FaultKind k);

struct Fault {
  FaultKind kind;
  int at_ms;     // from the start of the fault phase
  int hold_ms;   // how long it lasts before recovery (where that means anything)
  uint32_t arg;  // a draw for the fault's own choices (which broker, partition, error, ...)
};

// `skip`: fault names (fault_name) left out, comma-separated, and "good reload" for the good
// SIGHUP after a rejected one; the same seed and skip list give the same schedule.
std::vector<Fault> draw_schedule(uint64_t seed, int fault_seconds, const std::string& skip = "");
std::string describe(const std::vector<Fault>& schedule);

// Runs the schedule against the world; returns false (with why) on a defect seen while
// injecting (a member that died on SIGHUP, a SIGTERM that did not complete, ...).
struct InjectionResult {
  std::map<std::string, int> injected;  // per fault name
  int total = 0;
  std::vector<std::string> defects;
};
InjectionResult run_schedule(FaultWorld& world, const std::vector<Fault>& schedule);

}  // namespace strata::test::faults

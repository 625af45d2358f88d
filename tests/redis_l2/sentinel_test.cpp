// Integration tests of redis_l2's Sentinel support and WAIT acks (issue 10 item 2) against
// real redis-server processes and sentinels (`redis-server CONF --sentinel`) on loopback: the
// option checks, discovery through each sentinel in turn, the ROLE check, the +switch-master
// subscriber, and min_replicas_acked. The Kafka pipeline across a kill -9 of the master is in
// sentinel_e2e_test.cpp.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "redis_l2_support.hpp"
#include "sentinel_support.hpp"

namespace strata {
namespace {

using test::SentinelGroup;
using test::SentinelProcess;

class RedisL2Sentinel : public RedisL2Test {
 protected:
  static std::string list_of(const std::vector<std::string>& addrs) {
    std::string out = "sentinels = [";
    for (size_t i = 0; i < addrs.size(); ++i) out += (i ? ", \"" : "\"") + addrs[i] + "\"";
    return out + "]\nmaster_name = \"" + SentinelGroup::kName + "\"\n";
  }
};

TEST_F(RedisL2Sentinel, OptionsAreCheckedAtCreate) {
  struct Case {
    std::string toml, want;
  };
  const std::vector<Case> cases = {
      {"address = \"127.0.0.1:6379\"\nsentinels = [\"127.0.0.1:26379\"]\nmaster_name = \"m\"\n",
       "address and sentinels are mutually exclusive"},
      {"sentinels = [\"127.0.0.1:26379\"]\n", "sentinels needs master_name"},
      {"master_name = \"m\"\n", "master_name is set but sentinels is empty"},
      {"sentinels = [\"redis://127.0.0.1:26379\"]\nmaster_name = \"m\"\n",
       "sentinels: \"redis://127.0.0.1:26379\": expected \"host[:port]\""},
      {"sentinels = [\"127.0.0.1:99999\"]\nmaster_name = \"m\"\n", "out of range"},
      {"sentinels = [\"127.0.0.1:26379\"]\nmaster_name = \"m\"\ncluster = true\n",
       "sentinels and Redis Cluster (cluster, nodes) are mutually exclusive"},
      {"nodes = [\"127.0.0.1:7000\"]\nmin_replicas_acked = 1\n",
       "min_replicas_acked is not supported with Redis Cluster yet"},
  };
  for (const auto& c : cases) {
    auto inst = create(c.toml);
    ASSERT_FALSE(inst.ok()) << c.toml;
    EXPECT_NE(inst.error().find(c.want), std::string::npos) << inst.error();
  }
  // The host's own validation: a wrong type is reported with its position.
  auto typed = create("sentinels = \"127.0.0.1:26379\"\nmaster_name = \"m\"\n");
  ASSERT_FALSE(typed.ok());
  EXPECT_NE(typed.error().find("redis_l2_test.toml:1:"), std::string::npos) << typed.error();
  // A sentinel without a port gets the sentinel default, not Redis's 6379.
  auto ok =
      create("sentinels = [\"127.0.0.1\"]\nmaster_name = \"m\"\nconnect_timeout = \"50ms\"\n");
  ASSERT_TRUE(ok.ok()) << ok.error();
}

TEST_F(RedisL2Sentinel, DiscoveryAsksEachSentinelInTurn) {
  ServerProcess master(ServerProcess::Kind::Redis);
  ASSERT_TRUE(master.start());
  SentinelProcess other("some-other-master", master.port(), 1);  // does not know our name
  SentinelProcess knows(SentinelGroup::kName, master.port(), 1);
  ASSERT_TRUE(other.start());
  ASSERT_TRUE(knows.start());
  const std::string dead = "127.0.0.1:" + std::to_string(test::free_port());
  auto tier = open(list_of({dead, other.address(), knows.address()}));
  ASSERT_TRUE(tier);
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "k", "found-it", 1), STRATA_OK);
  EXPECT_EQ(master.redis_cli("GET k"), "found-it");

  // No sentinel knows the name: every op is unavailable (retryable), with each one's reason.
  auto none = create(list_of({dead, other.address()}));
  ASSERT_TRUE(none.ok()) << none.error();
  ASSERT_TRUE(none.value()->start().ok());
  auto h = std::make_unique<TierHandle>(std::move(none.value()));
  std::string msg;
  EXPECT_EQ(h->one(STRATA_TIER_SET, "k", "x", 2, 0, &msg), STRATA_ERR_UNAVAILABLE);
  EXPECT_NE(msg.find("no sentinel knows it"), std::string::npos) << msg;
  EXPECT_NE(msg.find("connect failed"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown name"), std::string::npos) << msg;
  // The +switch-master subscriber stops promptly (it looks at its stop flag every 100 ms);
  // the bound is generous for a loaded machine.
  auto t0 = std::chrono::steady_clock::now();
  h.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
}

TEST_F(RedisL2Sentinel, RoleCheckRefusesAReplicaAndAsksTheNextSentinel) {
  ServerProcess master(ServerProcess::Kind::Redis);
  ASSERT_TRUE(master.start());
  ServerProcess replica(ServerProcess::Kind::Redis, 0,
                        {"--replicaof", "127.0.0.1", std::to_string(master.port())});
  ASSERT_TRUE(replica.start());
  // A stale sentinel: it names the replica as the master.
  SentinelProcess stale(SentinelGroup::kName, replica.port(), 1);
  SentinelProcess good(SentinelGroup::kName, master.port(), 1);
  ASSERT_TRUE(stale.start());
  ASSERT_TRUE(good.start());
  ASSERT_EQ(stale.master_address(), replica.address());

  auto only_stale = open(list_of({stale.address()}));
  ASSERT_TRUE(only_stale);
  std::string msg;
  EXPECT_EQ(only_stale->one(STRATA_TIER_SET, "k", "x", 1, 0, &msg), STRATA_ERR_UNAVAILABLE);
  EXPECT_NE(msg.find("is not the master (role slave)"), std::string::npos) << msg;

  auto tier = open(list_of({stale.address(), good.address()}));
  ASSERT_TRUE(tier);
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "k", "on-the-master", 1, 0, &msg), STRATA_OK) << msg;
  EXPECT_EQ(master.redis_cli("GET k"), "on-the-master");
}

TEST_F(RedisL2Sentinel, ReadonlyReplyDropsTheConnectionAndTheRoleIsCheckedAgain) {
  ServerProcess master(ServerProcess::Kind::Redis);
  ServerProcess other(ServerProcess::Kind::Redis);
  ASSERT_TRUE(master.start());
  ASSERT_TRUE(other.start());
  // A slow sentinel: it takes a minute to doubt a master, so it keeps naming the old one.
  SentinelProcess slow(
      SentinelGroup::kName, master.port(), 1,
      {"sentinel down-after-milliseconds " + std::string(SentinelGroup::kName) + " 60000"});
  ASSERT_TRUE(slow.start());
  auto tier = open(list_of({slow.address()}) + "connections = 1\n");
  ASSERT_TRUE(tier);
  ASSERT_EQ(tier->one(STRATA_TIER_SET, "k", "one", 1), STRATA_OK);

  // Demoted behind the sentinel's back: the open connection now gets READONLY.
  ASSERT_EQ(master.redis_cli("REPLICAOF 127.0.0.1 " + std::to_string(other.port())), "OK");
  ASSERT_TRUE(SentinelGroup::wait_for(
      [&] { return master.redis_cli("ROLE").rfind("slave", 0) == 0; }, 10000));
  std::string msg;
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "k", "two", 2, 0, &msg), STRATA_ERR_UNAVAILABLE);
  EXPECT_NE(msg.find("READONLY"), std::string::npos) << msg;
  // Dropped and rediscovered: the sentinel still names it, ROLE says it is not the master.
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "k", "three", 3, 0, &msg), STRATA_ERR_UNAVAILABLE);
  EXPECT_NE(msg.find("is not the master (role slave)"), std::string::npos) << msg;

  ASSERT_EQ(master.redis_cli("REPLICAOF NO ONE"), "OK");  // back: writes go on
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "k", "four", 4, 0, &msg), STRATA_OK) << msg;
  EXPECT_EQ(master.redis_cli("GET k"), "four");
}

TEST_F(RedisL2Sentinel, SentinelAuthUsesItsOwnPassword) {
  ServerProcess master(ServerProcess::Kind::Redis, 0, {"--requirepass", "master-pw"});
  ASSERT_TRUE(master.start());
  SentinelProcess guarded(
      SentinelGroup::kName, master.port(), 1,
      {"requirepass sentinel-pw",
       "sentinel auth-pass " + std::string(SentinelGroup::kName) + " master-pw"});
  ASSERT_TRUE(guarded.start());
  auto tier = open(list_of({guarded.address()}) +
                   "sentinel_password = \"sentinel-pw\"\npassword = \"master-pw\"\n");
  ASSERT_TRUE(tier);
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "k", "authed", 1), STRATA_OK);
  EXPECT_EQ(master.redis_cli("-a master-pw --no-auth-warning GET k"), "authed");

  auto wrong = open(list_of({guarded.address()}) +
                    "sentinel_password = \"nope\"\npassword = \"master-pw\"\n");
  ASSERT_TRUE(wrong);
  std::string msg;
  EXPECT_EQ(wrong->one(STRATA_TIER_SET, "k", "x", 2, 0, &msg), STRATA_ERR_UNAVAILABLE);
  EXPECT_NE(msg.find("AUTH failed"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("nope"), std::string::npos) << msg;  // secrets stay out of messages
}

TEST_F(RedisL2Sentinel, SwitchMasterMovesEveryPooledConnection) {
  SentinelGroup group;
  ASSERT_TRUE(group.start(1, 3)) << "master, replica and sentinels did not come up";
  auto tier = open(group.options() + "connections = 3\n");
  ASSERT_TRUE(tier);
  for (int i = 0; i < 3; ++i)  // every pooled connection in use once
    ASSERT_EQ(tier->one(STRATA_TIER_SET, "before" + std::to_string(i), "v", 1), STRATA_OK);
  EXPECT_EQ(group.master().redis_cli("GET before2"), "v");

  // A forced failover: the old master stays up and writable until the sentinels demote it,
  // so only the +switch-master message can tell the pool to move.
  // (NOGOODSLAVE until the sentinel has seen the replica answer for a while: ask again.)
  ASSERT_TRUE(SentinelGroup::wait_for(
      [&] {
        return group.sentinel(0).cli("SENTINEL FAILOVER " + std::string(SentinelGroup::kName)) ==
               "OK";
      },
      30000));
  ServerProcess* fresh = group.wait_new_master(&group.master());
  ASSERT_NE(fresh, nullptr) << "no failover within 60 s";
  ASSERT_TRUE(SentinelGroup::wait_for(
      [&] { return metric("strata_redis_sentinel_switches_total") >= 1; }, 30000))
      << "the subscriber did not report +switch-master";
  for (int i = 0; i < 3; ++i) {
    std::string msg;
    ASSERT_EQ(tier->one(STRATA_TIER_SET, "after" + std::to_string(i), "w", 1, 0, &msg), STRATA_OK)
        << msg;
  }
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(fresh->redis_cli("GET after" + std::to_string(i)), "w");
    EXPECT_EQ(fresh->redis_cli("GET before" + std::to_string(i)), "v");  // replicated
  }
  std::string msg;
  EXPECT_EQ(tier->health(&msg), STRATA_OK) << msg;
}

// Guarded writes of one partition, as the pipeline sends them.
void add_guarded(Batch& b, const std::string& name, const std::string& key,
                 const std::string& value, int64_t offset) {
  b.add(STRATA_TIER_SET, key, value);
  b.guard(name, offset);
}

TEST_F(RedisL2Sentinel, MinReplicasAckedFailsBatchesNoReplicaConfirmed) {
  ServerProcess master(ServerProcess::Kind::Redis);
  ASSERT_TRUE(master.start());
  ServerProcess replica(ServerProcess::Kind::Redis, 0,
                        {"--replicaof", "127.0.0.1", std::to_string(master.port())});
  ASSERT_TRUE(replica.start());
  ASSERT_TRUE(SentinelGroup::wait_for(
      [&] {
        return replica.redis_cli("INFO replication").find("master_link_status:up") !=
               std::string::npos;
      },
      30000));
  auto tier = open(addr(master) + "min_replicas_acked = 1\nmin_replicas_timeout = \"300ms\"\n" +
                   "connections = 1\n");
  ASSERT_TRUE(tier);
  const std::string p = "p/t/0";
  Batch first;
  add_guarded(first, p, "a", "a1", 1);
  add_guarded(first, p, "b", "b2", 2);
  ASSERT_EQ(tier->run(first), STRATA_OK);
  for (auto& op : first.ops) EXPECT_EQ(op.status, STRATA_OK) << op.error;
  EXPECT_EQ(tier->one(STRATA_TIER_GET, "a"), STRATA_OK);  // a read waits for nothing

  ASSERT_TRUE(strata::test::stop_process(replica.pid()));  // a replica that acknowledges nothing
  Batch stalled;
  add_guarded(stalled, p, "c", "c3", 3);
  tier->run(stalled);
  EXPECT_EQ(stalled.ops[0].status, STRATA_ERR_UNAVAILABLE);
  EXPECT_NE(std::string(stalled.ops[0].error).find("0 of 1 replicas"), std::string::npos)
      << stalled.ops[0].error;
  EXPECT_EQ(metric("strata_redis_replica_ack_shortfalls_total"), 1);
  EXPECT_EQ(master.redis_cli("GET c"), "c3");  // written, but not acknowledged

  // The retry is skipped as already applied; it must still wait for those earlier writes.
  Batch retry;
  add_guarded(retry, p, "c", "c3", 3);
  tier->run(retry);
  EXPECT_EQ(retry.ops[0].status, STRATA_ERR_UNAVAILABLE) << retry.ops[0].error;
  EXPECT_EQ(metric("strata_redis_replica_ack_shortfalls_total"), 2);

  ASSERT_EQ(::kill(replica.pid(), SIGCONT), 0);
  Batch again;
  add_guarded(again, p, "c", "c3", 3);
  ASSERT_TRUE(SentinelGroup::wait_for(
      [&] {
        tier->run(again);
        return again.ops[0].status == STRATA_NOT_STORED;  // applied before, now replicated
      },
      30000))
      << again.ops[0].error;
  EXPECT_EQ(replica.redis_cli("GET c"), "c3");

  // More replicas than there are: never acknowledged.
  auto two = open(addr(master) + "min_replicas_acked = 2\nmin_replicas_timeout = \"100ms\"\n");
  ASSERT_TRUE(two);
  std::string msg;
  EXPECT_EQ(two->one(STRATA_TIER_SET, "d", "d", 1, 0, &msg), STRATA_ERR_UNAVAILABLE);
  EXPECT_NE(msg.find("1 of 2 replicas"), std::string::npos) << msg;
}

// Not a pass/fail check of a duration: prints the cost of WAIT per batch for docs/redis_l2.md.
TEST_F(RedisL2Sentinel, MeasureBatchLatencyWithAndWithoutWait) {
  ServerProcess master(ServerProcess::Kind::Redis);
  ASSERT_TRUE(master.start());
  ServerProcess replica(ServerProcess::Kind::Redis, 0,
                        {"--replicaof", "127.0.0.1", std::to_string(master.port())});
  ASSERT_TRUE(replica.start());
  ASSERT_TRUE(SentinelGroup::wait_for(
      [&] {
        return replica.redis_cli("INFO replication").find("master_link_status:up") !=
               std::string::npos;
      },
      30000));
  // Batches alternate between an instance without WAIT and one with it, so the load of the
  // shared machine hits both alike; medians, not means (a stalled batch moves a mean a lot).
  constexpr int kBatches = 300, kOps = 100;
  auto off = open(addr(master) + "connections = 1\n");
  auto on = open(addr(master) + "connections = 1\nmin_replicas_acked = 1\n");
  ASSERT_TRUE(off && on);
  std::vector<double> t_off, t_on;
  auto timed = [&](TierHandle& tier, int64_t base, std::vector<double>* out) {
    Batch batch;
    for (int i = 0; i < kOps; ++i)
      add_guarded(batch, "m/t/" + std::to_string(base % 2), "k" + std::to_string(i),
                  "value-" + std::to_string(base + i), base + i);
    auto t0 = std::chrono::steady_clock::now();
    tier.run(batch);
    out->push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    for (auto& op : batch.ops) EXPECT_EQ(op.status, STRATA_OK) << op.error;
  };
  for (int b = 0; b < kBatches; ++b) {
    timed(*off, 2 * (int64_t(b) * kOps), &t_off);    // partition m/t/0
    timed(*on, 2 * (int64_t(b) * kOps) + 1, &t_on);  // partition m/t/1
  }
  auto pct = [](std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    return v[static_cast<size_t>(q * (v.size() - 1))];
  };
  std::printf(
      "batch of %d guarded SETs, %d batches each, interleaved: median %.0f us (p90 %.0f) "
      "without WAIT, median %.0f us (p90 %.0f) with min_replicas_acked = 1\n",
      kOps, kBatches, pct(t_off, 0.5), pct(t_off, 0.9), pct(t_on, 0.5), pct(t_on, 0.9));
}

}  // namespace
}  // namespace strata

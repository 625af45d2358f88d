// Integration tests of redis_l2's write side of the invalidation bus (issue 10 item 1): every
// applied write is announced on `bus_stream`, one entry per atomic step, and a refused write
// (a replay below the watermark, an older version) is not, against a real redis-server.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "redis_l2_support.hpp"

namespace strata {
namespace {

class RedisL2Bus : public RedisL2Test {
 protected:
  // The stream's entries as "node:k1,k2,..." each (XRANGE through redis-cli, one word a line).
  static std::vector<std::string> entries(const ServerProcess& r, const std::string& stream) {
    std::string out = r.redis_cli("XRANGE " + stream + " - +");
    std::vector<std::string> lines, result;
    for (size_t b = 0, e; b < out.size(); b = e + 1) {
      e = out.find('\n', b);
      if (e == std::string::npos) e = out.size();
      lines.push_back(out.substr(b, e - b));
    }
    // id, node, NAME, k, key, k, key, ... ; an id starts each entry
    for (size_t i = 0; i < lines.size(); ++i) {
      if (lines[i].find('-') == std::string::npos || i + 2 >= lines.size() ||
          lines[i + 1] != "node")
        continue;
      std::string e = lines[i + 2] + ":";
      size_t j = i + 3;
      for (; j + 1 < lines.size() && lines[j] == "k"; j += 2)
        e += (e.back() == ':' ? "" : ",") + lines[j + 1];
      result.push_back(e);
      i = j - 1;
    }
    return result;
  }
};

void add_guarded(Batch& b, const std::string& name, strata_tier_op_kind kind,
                 const std::string& key, const std::string& value, int64_t offset) {
  b.add(kind, key, value);
  b.guard(name, offset);
}

TEST_F(RedisL2Bus, Issue10GuardedBatchIsOneEntryWithItsAppliedKeysOnly) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  auto tier =
      open(addr(redis) + "key_prefix = \"pre:\"\nbus_stream = \"inv\"\nbus_node = \"n1\"\n");
  ASSERT_TRUE(tier);
  const std::string p = "latest/t/0";
  Batch b;
  add_guarded(b, p, STRATA_TIER_SET, "a", "1", 1);
  add_guarded(b, p, STRATA_TIER_DELETE, "b", "", 2);
  add_guarded(b, p, STRATA_TIER_SET, "c", "3", 3);
  ASSERT_EQ(tier->run(b), STRATA_OK);
  EXPECT_EQ(entries(redis, "inv"), std::vector<std::string>{"n1:a,b,c"});

  // A replay of 1..3 plus a new record 4: only d is applied, only d is announced.
  Batch again;
  add_guarded(again, p, STRATA_TIER_SET, "a", "1", 1);
  add_guarded(again, p, STRATA_TIER_SET, "c", "3", 3);
  add_guarded(again, p, STRATA_TIER_SET, "d", "4", 4);
  ASSERT_EQ(tier->run(again), STRATA_OK);
  EXPECT_EQ(again.ops[0].status, STRATA_NOT_STORED);
  EXPECT_EQ(again.ops[2].status, STRATA_OK) << again.ops[2].error;
  EXPECT_EQ(entries(redis, "inv"), (std::vector<std::string>{"n1:a,b,c", "n1:d"}));

  // A pure replay adds no entry.
  Batch replay;
  add_guarded(replay, p, STRATA_TIER_SET, "a", "1", 1);
  ASSERT_EQ(tier->run(replay), STRATA_OK);
  EXPECT_EQ(entries(redis, "inv").size(), 2u);
  EXPECT_EQ(metric("strata_redis_bus_entries_total"), 2.0);
}

TEST_F(RedisL2Bus, Issue10VersionedRunAnnouncesWhatTheScriptApplied) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  auto tier = open(addr(redis) + "bus_stream = \"inv\"\nbus_node = \"n1\"\n");
  ASSERT_TRUE(tier);
  Batch b;
  b.add(STRATA_TIER_SET, "x", "x5", 5);
  b.add(STRATA_TIER_SET, "y", "y5", 5);
  ASSERT_EQ(tier->run(b), STRATA_OK);
  Batch older;
  older.add(STRATA_TIER_SET, "x", "x4", 4);         // refused: 5 is stored
  older.add(STRATA_TIER_DELETE, "y", "", 6);        // applied
  older.add(STRATA_TIER_SET, "z", "z1", 1, 60000);  // applied, with a TTL (not in the MSET)
  ASSERT_EQ(tier->run(older), STRATA_OK);
  EXPECT_EQ(older.ops[0].status, STRATA_NOT_STORED);
  EXPECT_EQ(entries(redis, "inv"), (std::vector<std::string>{"n1:x,y", "n1:y,z"}));
  Batch none;
  none.add(STRATA_TIER_SET, "x", "x3", 3);
  ASSERT_EQ(tier->run(none), STRATA_OK);
  EXPECT_EQ(entries(redis, "inv").size(), 2u);
}

TEST_F(RedisL2Bus, Issue10PlainAndFrontWritesAreAnnouncedAfterTheirReplies) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  auto tier = open(addr(redis) + "bus_stream = \"inv\"\nbus_node = \"n1\"\nbus_maxlen = 5\n");
  ASSERT_TRUE(tier);
  Batch b;
  b.add(STRATA_TIER_SET, "p", "1");
  b.add(STRATA_TIER_GET, "p");
  b.add(STRATA_TIER_ADD, "p", "2");  // NOT_STORED: not announced
  b.add(STRATA_TIER_APPEND, "p", "+");
  b.add(STRATA_TIER_DELETE, "q");  // NOT_FOUND: announced (an L1 copy may linger)
  ASSERT_EQ(tier->run(b), STRATA_OK);
  EXPECT_EQ(b.ops[2].status, STRATA_NOT_STORED);
  EXPECT_EQ(entries(redis, "inv"), std::vector<std::string>{"n1:p,p,q"});
  // Reads alone announce nothing; MAXLEN ~ keeps the stream bounded.
  EXPECT_EQ(tier->get("p"), "1+");
  for (int i = 0; i < 300; ++i) tier->one(STRATA_TIER_SET, "k" + std::to_string(i), "v");
  EXPECT_LT(std::stoi(redis.redis_cli("XLEN inv")), 300);
  EXPECT_NE(redis.redis_cli("XINFO STREAM inv").find("entries-added\n301"), std::string::npos);
}

TEST_F(RedisL2Bus, Issue10StreamKeyOfAnotherTypeFailsLoudlyAndTheWritesStand) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  redis.redis_cli("SET inv not-a-stream");
  auto tier = open(addr(redis) + "bus_stream = \"inv\"\n");
  ASSERT_TRUE(tier);
  Batch g;
  add_guarded(g, "latest/t/0", STRATA_TIER_SET, "a", "1", 1);
  ASSERT_EQ(tier->run(g), STRATA_OK);
  EXPECT_EQ(g.ops[0].status, STRATA_OK) << g.ops[0].error;  // durable: acked
  EXPECT_EQ(tier->get("a"), "1");
  // A plain write is not acknowledged until announced: it asks to be retried.
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "b", "2"), STRATA_ERR_UNAVAILABLE);
  EXPECT_EQ(metric("strata_redis_bus_errors_total"), 2.0);
}

TEST_F(RedisL2Bus, Issue10BusOnAClusterIsRefusedAtCreate) {
  auto inst = create("cluster = true\naddress = \"127.0.0.1:1\"\nbus_stream = \"inv\"\n");
  ASSERT_FALSE(inst.ok());
  EXPECT_NE(inst.error().find("bus_stream is not supported with a Redis Cluster L2 yet"),
            std::string::npos)
      << inst.error();
}

}  // namespace
}  // namespace strata

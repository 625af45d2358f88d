// Component tests of the Pipeline (core/src/pipeline) driven through the Runtime: a fake source
// (tests/pipeline/fakes) delivers scripted records; the real memcached_l1 / redis_l2 modules
// write to real memcached / redis-server processes; the real policies decide. Each test checks
// the tiers with plain clients, the fake source's ack/pause/resume log and the pipeline stats.
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include "pipeline_support.hpp"

namespace strata::test {
namespace {

using Sections = Harness::Sections;

// Index of the first event equal to `e`, or -1.
long index_of(const std::vector<std::string>& events, const std::string& e) {
  auto it = std::find(events.begin(), events.end(), e);
  return it == events.end() ? -1 : static_cast<long>(it - events.begin());
}

// Dead-letter lines whose "offset" is `offset`.
std::vector<std::string> dead_letters_at(const std::string& path, long long offset) {
  std::vector<std::string> out;
  for (auto& line : lines_of(read_file(path)))
    if (line.find("\"offset\":" + std::to_string(offset) + ",") != std::string::npos)
      out.push_back(line);
  return out;
}

// What Redis holds for some keys at the moment the source receives ack(): proves the ack comes
// after the durable write.
struct AckProbe {
  int port;
  std::vector<std::string> keys;
  std::mutex mu;
  std::vector<std::string> snapshots;

  static void callback(const strata_position*, size_t, void* user) {
    auto* self = static_cast<AckProbe*>(user);
    RedisClient redis(self->port);
    std::string snap;
    for (auto& k : self->keys) snap += k + "=" + redis.get(k).value_or("-") + " ";
    std::lock_guard lock(self->mu);
    self->snapshots.push_back(snap);
  }
};

// ------------------------------------------------------------------------------------------
// 1. identity hooks, versions, ack positions

TEST(Pipeline, IdentityHooksWriteRecordKeyAndValueAndAckEachBatchAfterItsDurableWrite) {
  Harness h;
  REQUIRE_HARNESS(h);
  FakeSource src;
  AckProbe probe{h.redis.port(), {"a", "b", "c"}, {}, {}};
  src.on_ack(&AckProbe::callback, &probe);
  Sections s;
  s.source = "batch_size = 2\n";
  // L1 on the worker: each ack then comes before the next batch's writes, which the snapshots
  // below show (with overlap_l1 an ack may come later: Issue7OverlappedL1AcksABatchOnly...).
  s.pipeline = "overlap_l1 = false\n";
  auto rt =
      h.build(h.config_text({record_line("t", 0, 5, "a", "a5"), record_line("t", 0, 6, "b", "b6"),
                             record_line("t", 1, 3, "c", "c3"), record_line("t", 0, 9, "a", "a9")},
                            s));
  ASSERT_TRUE(rt);
  ASSERT_TRUE(h.run_until_ack(*rt, src, "ack t 1 4"));

  // Per batch: max offset + 1 of each partition in it.
  EXPECT_EQ(src.acks(), (std::vector<std::string>{"ack t 0 7", "ack t 0 10", "ack t 1 4"}));
  // At each ack, Redis already had every record of the batch.
  EXPECT_EQ(probe.snapshots, (std::vector<std::string>{"a=a5 b=b6 c=- ", "a=a9 b=b6 c=c3 "}));

  RedisClient redis(h.redis.port());
  MemcachedClient mc(h.memcached.port());
  EXPECT_EQ(redis.get("a"), "a9");
  EXPECT_EQ(redis.get("b"), "b6");
  EXPECT_EQ(redis.get("c"), "c3");
  // The default order keeps one watermark per partition (next offset), no per-key metadata.
  EXPECT_EQ(redis.get("strata:wm:p/t/0"), "10");
  EXPECT_EQ(redis.get("strata:wm:p/t/1"), "4");
  EXPECT_EQ(redis.get("{a}:strata-ver"), std::nullopt);
  EXPECT_EQ(redis.command({"DBSIZE"}), "5");
  EXPECT_EQ(mc.get("a"), "a9");
  EXPECT_EQ(mc.get("b"), "b6");
  EXPECT_EQ(mc.get("c"), "c3");

  const auto& st = stats_of(*rt);
  EXPECT_EQ(st.records, 4u);
  EXPECT_EQ(st.batches, 2u);
  EXPECT_EQ(st.keys_written, 4u);
  EXPECT_EQ(st.l1_written, 4u);
  EXPECT_EQ(st.dead_letters, 0u);
  EXPECT_EQ(st.stale_skipped, 0u);
  EXPECT_FALSE(st.paused);
}

// ------------------------------------------------------------------------------------------
// 2. tombstones

TEST(Pipeline, TombstoneRecordDeletesTheKeyFromBothTiers) {
  Harness h;
  REQUIRE_HARNESS(h);
  FakeSource src;
  RedisClient redis(h.redis.port());
  MemcachedClient mc(h.memcached.port());
  redis.set("k", "old");
  ASSERT_TRUE(mc.set("k", "old"));
  auto rt = h.build(h.config_text(
      {record_line("t", 0, 0, "other", "v"), record_line("t", 0, 1, "k", "\\N")}, {}));
  ASSERT_TRUE(rt);
  ASSERT_TRUE(h.run_until_ack(*rt, src, "ack t 0 2"));

  EXPECT_EQ(redis.get("k"), std::nullopt);
  EXPECT_EQ(mc.get("k"), std::nullopt);
  EXPECT_EQ(redis.get("strata:wm:p/t/0"), "2");  // the delete moved the watermark past it
  EXPECT_EQ(redis.get("other"), "v");
  EXPECT_EQ(mc.get("other"), "v");
  EXPECT_EQ(stats_of(*rt).keys_written, 1u);  // deletes are not counted as keys written
  EXPECT_EQ(stats_of(*rt).dead_letters, 0u);
}

// The pipeline option `key` (a template, no script): the key comes from the JSON value; a
// record it cannot build a key for is a dead letter with the reason, written nowhere.
TEST(Pipeline, KeyTemplateDerivesKeysFromTheValueAndDeadLettersRecordsWithoutOne) {
  Harness h;
  REQUIRE_HARNESS(h);
  FakeSource src;
  RedisClient redis(h.redis.port());
  MemcachedClient mc(h.memcached.port());
  Sections s;
  s.source = "batch_size = 2\n";  // u1 in two batches: both writes reach the tiers
  s.pipeline = "key = \"user:{value.user}\"\n";
  const std::string v0 = R"({"user":"u1","seq":1})", v1 = R"({"user":"u2","seq":2})",
                    v4 = R"({"seq":5,"user":"u1"})";
  auto rt = h.build(h.config_text(
      {record_line("t", 0, 0, "a", v0), record_line("t", 0, 1, "b", v1),
       record_line("t", 0, 2, "c", R"({"seq":3})"), record_line("t", 0, 3, "d", "not json"),
       record_line("t", 0, 4, "e", v4), record_line("t", 0, 5, "u2", "\\N")},
      s));
  ASSERT_TRUE(rt);
  ASSERT_TRUE(h.run_until_ack(*rt, src, "ack t 0 6"));

  EXPECT_EQ(redis.get("user:u1"), v4);
  EXPECT_EQ(mc.get("user:u1"), v4);
  EXPECT_EQ(redis.get("user:u2"), v1);  // the tombstone names no user: it deletes nothing
  EXPECT_EQ(mc.get("user:u2"), v1);
  for (const char* k : {"a", "b", "c", "d", "e", "u2", "user:"}) {
    EXPECT_EQ(redis.get(k), std::nullopt) << k;
    EXPECT_EQ(mc.get(k), std::nullopt) << k;
  }
  auto reason = [&](long long offset) {
    auto lines = dead_letters_at(h.dead_letter_path(), offset);
    return lines.size() == 1 ? lines[0] : "(" + std::to_string(lines.size()) + " lines)";
  };
  EXPECT_NE(reason(2).find("key template {value.user}: the value has no user"), std::string::npos)
      << reason(2);
  EXPECT_NE(reason(3).find("key template {value.user}: the value is not JSON"), std::string::npos)
      << reason(3);
  EXPECT_NE(reason(5).find("key template {value.user}: the record has no value (a tombstone)"),
            std::string::npos)
      << reason(5);
  EXPECT_EQ(lines_of(read_file(h.dead_letter_path())).size(), 3u);
  EXPECT_EQ(stats_of(*rt).dead_letters, 3u);
  EXPECT_EQ(stats_of(*rt).keys_written, 3u);
}

// ------------------------------------------------------------------------------------------
// 3. Lua hooks

TEST(Pipeline, LuaHooksDeriveKeysTtlValueInvalidationsAndSkips) {
  Harness h;
  REQUIRE_HARNESS(h);
  FakeSource src;
  RedisClient redis(h.redis.port());
  MemcachedClient mc(h.memcached.port());
  for (const char* k : {"inv:1", "inv:2", "inv:skip"}) {
    redis.set(k, "stale");
    ASSERT_TRUE(mc.set(k, "stale"));
  }
  Sections s;
  s.script = R"(
function key(r)
  if r.key == "skip" then return nil end
  if r.key == "multi" then return {"m:1", "m:2", "m:3"} end
  return "k:" .. r.key
end
function ttl(r) return 60 end
function value(r) return {v = r.value} end
function invalidate(r)
  if r.key == "x" then return {"inv:1", "inv:2"} end
  if r.key == "skip" then return "inv:skip" end
  return nil
end
)";
  auto rt =
      h.build(h.config_text({record_line("t", 0, 0, "x", "X"), record_line("t", 0, 1, "multi", "M"),
                             record_line("t", 0, 2, "skip", "S")},
                            s));
  ASSERT_TRUE(rt);
  // The skipped record is the last one: its position is acknowledged too.
  ASSERT_TRUE(h.run_until_ack(*rt, src, "ack t 0 3"));

  EXPECT_EQ(redis.get("k:x"), R"({"v":"X"})");
  EXPECT_EQ(mc.get("k:x"), R"({"v":"X"})");
  long long pttl = redis.pttl("k:x");
  EXPECT_GT(pttl, 0);
  EXPECT_LE(pttl, 60000);
  for (const char* k : {"m:1", "m:2", "m:3"}) {
    EXPECT_EQ(redis.get(k), R"({"v":"M"})") << k;
    EXPECT_EQ(mc.get(k), R"({"v":"M"})") << k;
  }
  for (const char* k : {"inv:1", "inv:2", "inv:skip"}) {
    EXPECT_EQ(redis.get(k), std::nullopt) << k;
    EXPECT_EQ(mc.get(k), std::nullopt) << k;
  }
  EXPECT_EQ(redis.get("k:skip"), std::nullopt);
  EXPECT_EQ(mc.get("k:skip"), std::nullopt);

  const auto& st = stats_of(*rt);
  EXPECT_EQ(st.skipped, 1u);
  EXPECT_EQ(st.keys_written, 4u);
  EXPECT_EQ(st.l1_written, 4u);
  EXPECT_EQ(st.invalidations, 3u);
  EXPECT_EQ(st.dead_letters, 0u);
}

// ------------------------------------------------------------------------------------------
// 4. replays

TEST(Pipeline, ReplayBelowTheWatermarkIsSkippedAndLeavesTheL1CopyAlone) {
  Harness h;
  REQUIRE_HARNESS(h);
  RedisClient redis(h.redis.port());
  MemcachedClient mc(h.memcached.port());
  {
    FakeSource src;
    auto rt = h.build(h.config_text({record_line("t", 0, 10, "k", "new")}, {}));
    ASSERT_TRUE(rt);
    ASSERT_TRUE(h.run_until_ack(*rt, src, "ack t 0 11"));
    ASSERT_EQ(mc.get("k"), "new");
  }
  // A second process replays older positions of the same partition, then a new one.
  FakeSource src;
  auto rt = h.build(h.config_text(
      {record_line("t", 0, 3, "k", "old"), record_line("t", 0, 11, "fresh", "f")}, {}));
  ASSERT_TRUE(rt);
  ASSERT_TRUE(h.run_until_ack(*rt, src, "ack t 0 12"));

  EXPECT_EQ(redis.get("k"), "new");
  EXPECT_EQ(redis.get("strata:wm:p/t/0"), "12");
  // Skipped in both tiers: L1 keeps the newer copy (a replay never removes it).
  EXPECT_EQ(mc.get("k"), "new");
  EXPECT_EQ(redis.get("fresh"), "f");
  EXPECT_EQ(mc.get("fresh"), "f");
  const auto& st = stats_of(*rt);
  EXPECT_EQ(st.stale_skipped, 1u);
  EXPECT_EQ(st.keys_written, 1u);
  EXPECT_EQ(st.l1_written, 1u);
  EXPECT_EQ(st.dead_letters, 0u);
}

// Per-key order (order = "version"): an older version is refused by the durable tier and the
// newer L1 copy stays (issue 7: a refused write never deletes a newer L1 copy).
TEST(Pipeline, Issue7RefusedOlderVersionKeepsTheNewerL1Copy) {
  Harness h;
  REQUIRE_HARNESS(h);
  RedisClient redis(h.redis.port());
  MemcachedClient mc(h.memcached.port());
  Sections s;
  s.pipeline = "order = \"version\"\n";
  s.script =
      "function key(r) return r.key end\n"
      "function version(r) return tonumber(string.match(r.value, '%d+')) end\n";
  {
    FakeSource src;
    auto rt = h.build(h.config_text({record_line("t", 1, 0, "k", "v9")}, s));
    ASSERT_TRUE(rt);
    ASSERT_TRUE(h.run_until_ack(*rt, src, "ack t 1 1"));
  }
  FakeSource src;
  auto rt = h.build(h.config_text({record_line("t", 0, 0, "k", "v5")}, s));
  ASSERT_TRUE(rt);
  ASSERT_TRUE(h.run_until_ack(*rt, src, "ack t 0 1"));
  EXPECT_EQ(redis.get("k"), "v9");
  EXPECT_EQ(redis.get("{k}:strata-ver"), "9");
  EXPECT_EQ(mc.get("k"), "v9");
  EXPECT_EQ(stats_of(*rt).stale_skipped, 1u);
}

// ------------------------------------------------------------------------------------------
// 5. policies

TEST(Pipeline, WriteAroundPolicyDeletesTheL1Copy) {
  Harness h;
  REQUIRE_HARNESS(h);
  FakeSource src;
  MemcachedClient mc(h.memcached.port());
  ASSERT_TRUE(mc.set("k", "stale"));
  Sections s;
  s.pipeline = "policy = \"wa\"\n";
  s.more = "[policies.wa]\nmodule = \"write_around\"\n";
  auto rt = h.build(h.config_text({record_line("t", 0, 0, "k", "v1")}, s));
  ASSERT_TRUE(rt);
  ASSERT_TRUE(h.run_until_ack(*rt, src, "ack t 0 1"));
  EXPECT_EQ(RedisClient(h.redis.port()).get("k"), "v1");
  EXPECT_EQ(mc.get("k"), std::nullopt);
  EXPECT_EQ(stats_of(*rt).l1_written, 0u);
}

TEST(Pipeline, L2OnlyPolicyLeavesL1Untouched) {
  Harness h;
  REQUIRE_HARNESS(h);
  FakeSource src;
  MemcachedClient mc(h.memcached.port());
  ASSERT_TRUE(mc.set("k", "untouched"));
  Sections s;
  s.pipeline = "policy = \"l2\"\n";
  s.more = "[policies.l2]\nmodule = \"l2_only\"\n";
  auto rt = h.build(h.config_text({record_line("t", 0, 0, "k", "v1")}, s));
  ASSERT_TRUE(rt);
  ASSERT_TRUE(h.run_until_ack(*rt, src, "ack t 0 1"));
  EXPECT_EQ(RedisClient(h.redis.port()).get("k"), "v1");
  EXPECT_EQ(mc.get("k"), "untouched");
  EXPECT_EQ(stats_of(*rt).l1_written, 0u);
}

// The ABI says a policy sees value.data == NULL for a tombstone (and the shipped policies then
// answer DELETE for every tier, l2_only included): a deleted key must not linger in L1.
TEST(Pipeline, L2OnlyPolicyTombstoneStillDeletesTheL1Copy) {
  Harness h;
  REQUIRE_HARNESS(h);
  FakeSource src;
  MemcachedClient mc(h.memcached.port());
  RedisClient redis(h.redis.port());
  redis.set("k", "old");
  ASSERT_TRUE(mc.set("k", "old"));
  Sections s;
  s.pipeline = "policy = \"l2\"\n";
  s.more = "[policies.l2]\nmodule = \"l2_only\"\n";
  auto rt = h.build(h.config_text({record_line("t", 0, 0, "k", "\\N")}, s));
  ASSERT_TRUE(rt);
  ASSERT_TRUE(h.run_until_ack(*rt, src, "ack t 0 1"));
  EXPECT_EQ(redis.get("k"), std::nullopt);
  EXPECT_EQ(mc.get("k"), std::nullopt) << "a deleted key is still served from L1";
}

TEST(Pipeline, L1MaxValueSendsBigValuesToRedisOnlyAndDeletesThemFromL1) {
  Harness h;
  REQUIRE_HARNESS(h);
  FakeSource src;
  MemcachedClient mc(h.memcached.port());
  ASSERT_TRUE(mc.set("big", "old small value"));
  Sections s;
  s.pipeline = "policy = \"wt\"\n";
  s.more = "[policies.wt]\nmodule = \"write_through\"\nl1_max_value = 64\nttl_jitter = 0.0\n";
  const std::string big(100, 'b');
  auto rt = h.build(
      h.config_text({record_line("t", 0, 0, "big", big), record_line("t", 0, 1, "small", "s")}, s));
  ASSERT_TRUE(rt);
  ASSERT_TRUE(h.run_until_ack(*rt, src, "ack t 0 2"));
  RedisClient redis(h.redis.port());
  EXPECT_EQ(redis.get("big"), big);
  EXPECT_EQ(mc.get("big"), std::nullopt);
  EXPECT_EQ(redis.get("small"), "s");
  EXPECT_EQ(mc.get("small"), "s");
  const auto& st = stats_of(*rt);
  EXPECT_EQ(st.keys_written, 2u);
  EXPECT_EQ(st.l1_written, 1u);
  EXPECT_EQ(st.dead_letters, 0u);  // admission is a policy decision, not a failure
}

// ------------------------------------------------------------------------------------------
// 6. dead letters

TEST(Pipeline, UnprocessableRecordsGoToDeadLettersOnceAndTheRestOfTheBatchIsWrittenAndAcked) {
  Harness h;
  REQUIRE_HARNESS(h);
  FakeSource src;
  RedisClient redis(h.redis.port());
  MemcachedClient mc(h.memcached.port());
  ASSERT_TRUE(mc.set("bigval", "old"));
  Sections s;
  s.l1 = "max_value_size = \"1KiB\"\n";
  s.script = R"(
function key(r)
  if r.key == "bad" then error("boom on purpose") end
  return r.key
end
)";
  const std::string long_key(300, 'k');
  const std::string big(2000, 'v');
  auto rt = h.build(
      h.config_text({record_line("t", 0, 0, "good1", "g1"), record_line("t", 0, 1, "bad", "x"),
                     record_line("t", 0, 2, long_key, "lv"), record_line("t", 0, 3, "bigval", big),
                     record_line("t", 0, 4, "good2", "g2")},
                    s));
  ASSERT_TRUE(rt);
  ASSERT_TRUE(h.run_until_ack(*rt, src, "ack t 0 5"));
  EXPECT_EQ(src.acks(), std::vector<std::string>{"ack t 0 5"});

  // Only the script failure is a dead letter. A key or value that L1 refuses is durable and
  // readable from L2: written where it fits, counted, not dead-lettered (issue 7 item 4).
  auto lines = lines_of(read_file(h.dead_letter_path()));
  EXPECT_EQ(lines.size(), 1u);
  auto script = dead_letters_at(h.dead_letter_path(), 1);
  ASSERT_EQ(script.size(), 1u);
  EXPECT_NE(script[0].find("script"), std::string::npos) << script[0];
  EXPECT_NE(script[0].find("boom on purpose"), std::string::npos) << script[0];
  EXPECT_EQ(stats_of(*rt).l1_refused, 2u);

  EXPECT_EQ(redis.get("good1"), "g1");
  EXPECT_EQ(redis.get("good2"), "g2");
  EXPECT_EQ(mc.get("good1"), "g1");
  EXPECT_EQ(mc.get("good2"), "g2");
  EXPECT_EQ(redis.get("bad"), std::nullopt);
  EXPECT_EQ(mc.get("bad"), std::nullopt);
  EXPECT_EQ(redis.get(long_key), "lv");  // durable; only memcached refused the key
  EXPECT_EQ(redis.get("bigval"), big);
  EXPECT_EQ(mc.get("bigval"), std::nullopt);  // the older copy does not linger
  EXPECT_EQ(stats_of(*rt).dead_letters, 1u);
  EXPECT_EQ(stats_of(*rt).keys_written, 4u);
}

// A record written under two keys whose durable write succeeds for one and fails for good for
// the other: it is a dead letter, but the L1 copy of the key Redis accepted must not stay older
// than Redis.
TEST(Pipeline, PartlyFailedRecordDoesNotLeaveAStaleL1CopyOfTheKeyRedisAccepted) {
  Harness h;
  REQUIRE_HARNESS(h);
  FakeSource src;
  RedisClient redis(h.redis.port());
  MemcachedClient mc(h.memcached.port());
  ASSERT_TRUE(mc.set("A", "old"));
  // A companion key of the wrong type makes the versioned write of B fail (WRONGTYPE).
  ASSERT_EQ(redis.command({"RPUSH", "{B}:strata-ver", "x"}), "1");
  Sections s;
  s.l2 = "versioned_batch = 1\n";        // one script call per op: A and B fail separately
  s.pipeline = "order = \"version\"\n";  // per-key versions: B's companion key is in the way
  s.script =
      "function key(r) return {\"A\", \"B\"} end\n"
      "function version(r) return r.offset + 1 end\n";
  auto rt = h.build(h.config_text({record_line("t", 0, 0, "r", "new")}, s));
  ASSERT_TRUE(rt);
  ASSERT_TRUE(h.run_until_ack(*rt, src, "ack t 0 1"));
  auto lines = dead_letters_at(h.dead_letter_path(), 0);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("tiers.l2"), std::string::npos) << lines[0];
  ASSERT_EQ(redis.get("A"), "new");
  EXPECT_NE(mc.get("A"), std::optional<std::string>("old"))
      << "L1 serves a value older than the durable tier";
}

// ------------------------------------------------------------------------------------------
// 7./8. durable tier down

// Small retry and breaker settings so the breaker opens after a few failed rounds.
Sections fast_failure_sections() {
  Sections s;
  s.l2 =
      "connect_timeout = \"100ms\"\ncommand_timeout = \"200ms\"\nbreaker_failures = 2\n"
      "breaker_open = \"100ms\"\n";
  s.pipeline = "retry_backoff = \"10ms\"\nretry_backoff_max = \"50ms\"\n";
  return s;
}

TEST(Pipeline, DurableTierDownPausesTheSourceAcksNothingAndResumesWhenItIsBack) {
  Harness h;
  REQUIRE_HARNESS(h);
  FakeSource src;
  h.redis.stop();
  auto rt =
      h.build(h.config_text({record_line("t", 0, 0, "k", "v"), record_line("t", 0, 1, "k2", "v2")},
                            fast_failure_sections()));
  ASSERT_TRUE(rt);
  ASSERT_TRUE(rt->start());
  const auto& st = stats_of(*rt);
  EXPECT_TRUE(wait_until([&] { return src.has_event("pause"); })) << "the source was not paused";
  EXPECT_TRUE(wait_until([&] { return st.durable_retries.load() >= 3; }));
  EXPECT_TRUE(st.paused);
  EXPECT_TRUE(src.acks().empty());
  EXPECT_EQ(src.count_events("poll "), 1u);  // paused: nothing more was delivered

  ASSERT_TRUE(h.redis.start());  // same port, empty
  EXPECT_TRUE(wait_until([&] { return src.has_event("ack t 0 2"); }));
  rt->stop();

  auto ev = src.events();
  long pause = index_of(ev, "pause"), resume = index_of(ev, "resume"),
       ack = index_of(ev, "ack t 0 2");
  EXPECT_GE(pause, 0);
  EXPECT_GT(resume, pause);
  EXPECT_GT(ack, resume);
  EXPECT_EQ(src.acks(), std::vector<std::string>{"ack t 0 2"});
  RedisClient redis(h.redis.port());
  EXPECT_EQ(redis.get("k"), "v");
  EXPECT_EQ(redis.get("k2"), "v2");
  EXPECT_EQ(MemcachedClient(h.memcached.port()).get("k"), "v");
  EXPECT_FALSE(st.paused);
  EXPECT_EQ(st.keys_written, 2u);
  EXPECT_EQ(st.dead_letters, 0u);
}

TEST(Pipeline, StopWhileTheDurableTierIsDownLeavesTheBatchUnacked) {
  Harness h;
  REQUIRE_HARNESS(h);
  FakeSource src;
  h.redis.stop();
  auto rt = h.build(h.config_text({record_line("t", 0, 0, "k", "v")}, fast_failure_sections()));
  ASSERT_TRUE(rt);
  ASSERT_TRUE(rt->start());
  EXPECT_TRUE(wait_until([&] { return stats_of(*rt).durable_retries.load() >= 2; }));
  rt->stop();  // must return although the write never succeeds (the test timeout bounds it)

  EXPECT_TRUE(src.acks().empty()) << "an unwritten batch was acked";
  EXPECT_TRUE(src.has_event("poll 1"));
  auto ev = src.events();
  if (index_of(ev, "pause") >= 0) {
    EXPECT_GT(index_of(ev, "resume"), index_of(ev, "pause"));
  }
  EXPECT_EQ(stats_of(*rt).keys_written, 0u);
  EXPECT_EQ(stats_of(*rt).dead_letters, 0u);
}

// The dead-letter destination fails (/dev/full: every write(2) is ENOSPC), so the pipeline
// retries the dead letter; stopping then must not ack the record it could not store.
TEST(Pipeline, StopWhileADeadLetterCannotBeStoredLeavesTheBatchUnacked) {
  Harness h;
  REQUIRE_HARNESS(h);
  FakeSource src;
  Sections s = fast_failure_sections();
  s.dead_letter_file = "/dev/full";
  s.script = "function key(r) error(\"boom\") end\n";
  auto rt = h.build(h.config_text({record_line("t", 0, 0, "k", "v")}, s));
  ASSERT_TRUE(rt);
  ASSERT_TRUE(rt->start());
  EXPECT_TRUE(wait_until([&] { return stats_of(*rt).dead_letters.load() >= 1; }));
  EXPECT_TRUE(wait_until([&] { return src.has_event("poll 1"); }));
  rt->stop();
  EXPECT_TRUE(src.acks().empty()) << "a record whose dead letter was not stored was acked";
}

// --exit-when-idle: a source whose lag is pending (a partition it could not fetch yet) keeps
// the pipeline busy however long no record came; the same pipeline with a lag of 0 goes idle.
TEST(Pipeline, APendingLagIsNeverIdleALagOfZeroIs) {
  for (bool pending : {false, true}) {
    SCOPED_TRACE(pending ? "lag pending" : "lag 0");
    Harness h;
    REQUIRE_HARNESS(h);
    FakeSource src;
    Sections s;
    if (pending) s.source = "lag_pending = true\n";
    auto rt = h.build(h.config_text({record_line("t", 0, 0, "a", "1")}, s));
    ASSERT_TRUE(rt);
    auto started = rt->start();
    ASSERT_TRUE(started) << started.error();
    ASSERT_TRUE(wait_until([&] { return src.has_event("ack t 0 1"); }));
    // The record came and was acked; from here only the lag decides.
    bool idle = wait_until([&] { return rt->idle(1); }, pending ? 1500 : 20000);
    EXPECT_EQ(stats_of(*rt).lag.load(), pending ? STRATA_LAG_PENDING : 0);
    EXPECT_EQ(idle, !pending);
    rt->stop();
  }
}

}  // namespace
}  // namespace strata::test

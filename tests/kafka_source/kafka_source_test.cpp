// kafka_source: records produced by kcat (an independent client) into strata-mock-kafka and
// into the module's embedded mock come back with their coordinates; acked positions are
// committed and nothing beyond them (at-least-once); group members split the partitions;
// pause holds records until resume; the seed file loads. No test asserts a duration.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <strata/strata.h>

#include "common/log.hpp"
#include "kafka_test_util.hpp"

using kafka_test::kcat_produce;
using kafka_test::MockKafkaProcess;
using kafka_test::Rec;
using kafka_test::Source;
using kafka_test::TempDir;

namespace {

// Short sessions and heartbeats: the mock re-forms a group session.timeout.ms - 1 s after a
// member leaves, and a second member's join is noticed at the first one's next heartbeat.
const char kFastGroup[] =
    "rdkafka = { \"session.timeout.ms\" = \"6000\", \"heartbeat.interval.ms\" = \"300\" }\n";

std::vector<std::pair<std::string, std::string>> numbered(const std::string& prefix, int n) {
  std::vector<std::pair<std::string, std::string>> out;
  for (int i = 0; i < n; ++i)
    out.emplace_back(prefix + "k" + std::to_string(i), "v" + std::to_string(i));
  return out;
}

std::unique_ptr<Source> started(const std::string& body) {
  std::string err;
  auto src = Source::create(body, &err);
  EXPECT_TRUE(src) << err;
  if (!src) return nullptr;
  EXPECT_TRUE(src->start(&err)) << err;
  return src;
}

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// Per partition: offsets must be exactly first..first+n-1.
void expect_contiguous(const std::vector<Rec>& recs, const std::map<int32_t, int64_t>& first = {}) {
  std::map<int32_t, std::vector<int64_t>> by_part;
  for (const auto& r : recs) by_part[r.partition].push_back(r.offset);
  for (auto& [p, offs] : by_part) {
    std::sort(offs.begin(), offs.end());
    int64_t base = first.count(p) ? first.at(p) : 0;
    for (size_t i = 0; i < offs.size(); ++i)
      EXPECT_EQ(offs[i], base + static_cast<int64_t>(i)) << "partition " << p;
  }
}

}  // namespace

TEST(KafkaSource, KcatRecordsInStandaloneMockComeBackWithCoordinates) {
  MockKafkaProcess mock(1, "events", 4);
  ASSERT_TRUE(mock.ok());
  TempDir dir;
  auto recs = numbered("", 200);
  ASSERT_TRUE(kcat_produce(mock.bootstrap(), "events", recs, dir.path()));

  auto src = started("brokers = \"" + mock.bootstrap() +
                     "\"\ntopics = [\"events\"]\ngroup_id = \"g-coords\"\nbatch_size = 64\n");
  ASSERT_TRUE(src);
  auto got = src->poll_until(200);
  ASSERT_EQ(got.size(), 200u);
  std::map<std::string, std::string> kv;
  for (const auto& r : got) {
    EXPECT_EQ(r.topic, "events");
    EXPECT_TRUE(r.partition >= 0 && r.partition < 4) << r.partition;
    EXPECT_GT(r.timestamp_ms, 0);
    EXPECT_FALSE(r.key_null);
    kv[r.key] = r.value;
  }
  expect_contiguous(got);
  ASSERT_EQ(kv.size(), 200u);
  for (const auto& [k, v] : recs) EXPECT_EQ(kv[k], v) << k;

  // Everything delivered: lag settles at 0 and nothing more arrives.
  std::vector<Rec> extra;
  int64_t lag = -1;
  for (int i = 0; i < 100 && lag != 0; ++i) {
    src->poll_once(&extra);
    lag = src->lag();
  }
  EXPECT_EQ(lag, 0);
  EXPECT_TRUE(extra.empty());
}

TEST(KafkaSource, EmbeddedMockWritesBootstrapFileAndServesKcat) {
  TempDir dir;
  std::string boot_file = dir.file("bootstrap");
  auto src = started("topics = [\"clicks\"]\nmock_partitions = 3\nbootstrap_file = \"" + boot_file +
                     "\"\n");
  ASSERT_TRUE(src);
  std::string bootstrap = read_first_line(boot_file);
  ASSERT_EQ(bootstrap.rfind("127.0.0.1:", 0), 0u) << bootstrap;
  auto recs = numbered("e-", 60);
  ASSERT_TRUE(kcat_produce(bootstrap, "clicks", recs, dir.path()));
  auto got = src->poll_until(60);
  ASSERT_EQ(got.size(), 60u);
  std::set<std::string> keys;
  for (const auto& r : got) {
    EXPECT_EQ(r.topic, "clicks");
    EXPECT_TRUE(r.partition >= 0 && r.partition < 3);
    keys.insert(r.key);
  }
  EXPECT_EQ(keys.size(), 60u);
  expect_contiguous(got);
}

TEST(KafkaSource, AckCommitsExactlyAckedPositionsAndRedeliversTheRest) {
  MockKafkaProcess mock(1, "orders", 2);
  ASSERT_TRUE(mock.ok());
  TempDir dir;
  ASSERT_TRUE(kcat_produce(mock.bootstrap(), "orders", numbered("", 100), dir.path()));
  const std::string body = "brokers = \"" + mock.bootstrap() +
                           "\"\ntopics = [\"orders\"]\ngroup_id = \"g-ack\"\n"
                           "commit_interval = \"100ms\"\n" +
                           kFastGroup;

  std::map<int32_t, int64_t> count, acked;
  {
    auto a = started(body);
    ASSERT_TRUE(a);
    auto got = a->poll_until(100);
    ASSERT_EQ(got.size(), 100u);
    for (const auto& r : got) count[r.partition]++;
    std::vector<strata_position> pos;
    for (const auto& [p, n] : count) {
      acked[p] = n / 2;  // only the first half of every partition is "durable"
      pos.push_back(strata_position{"orders", p, acked[p]});
    }
    pos.push_back(strata_position{"orders", 7, 3});  // not owned: ignored, not an error
    EXPECT_EQ(a->ack(pos), STRATA_OK);
    a->stop();
  }
  auto committed = kafka_test::committed_offsets(mock.bootstrap(), "g-ack", "orders", 2);
  ASSERT_EQ(committed.size(), 2u);
  for (const auto& [p, off] : acked) EXPECT_EQ(committed[p], off) << "partition " << p;

  // A new member of the group starts at the committed positions: the un-acked half again.
  size_t rest = 0;
  for (const auto& [p, n] : count) rest += static_cast<size_t>(n - acked[p]);
  auto b = started(body);
  ASSERT_TRUE(b);
  auto again = b->poll_until(rest);
  for (int i = 0; i < 20; ++i) b->poll_once(&again);  // nothing beyond that may follow
  ASSERT_EQ(again.size(), rest);
  expect_contiguous(again, acked);
}

// Two members of group `group` (with `rdkafka`, the source's `rdkafka = {...}` line) share
// the partitions of "shared" on their own mock cluster, and between them see every record
// produced. The members stay started (and the cluster up) until the struct goes.
struct TwoMembers {
  MockKafkaProcess mock{1, "shared", 4};
  std::unique_ptr<Source> a, b;
  void split(const std::string& group, const std::string& rdkafka);
};

void TwoMembers::split(const std::string& group, const std::string& rdkafka) {
  ASSERT_TRUE(mock.ok());
  const std::string body = "brokers = \"" + mock.bootstrap() +
                           "\"\ntopics = [\"shared\"]\ngroup_id = \"" + group + "\"\n" + rdkafka;
  TempDir dir;
  a = started(body);
  b = started(body);
  ASSERT_TRUE(a && b);

  std::set<std::string> produced, seen;
  bool disjoint = false;
  for (int round = 0; round < 12 && !disjoint; ++round) {
    auto recs = numbered("r" + std::to_string(round) + "-", 40);
    ASSERT_TRUE(kcat_produce(mock.bootstrap(), "shared", recs, dir.path()));
    for (const auto& kv : recs) produced.insert(kv.first);
    std::set<int32_t> parts_a, parts_b;
    size_t got_a = 0, got_b = 0;
    for (int i = 0;
         i < 400 && !std::includes(seen.begin(), seen.end(), produced.begin(), produced.end());
         ++i) {
      for (int m = 0; m < 2; ++m) {
        Source& s = m == 0 ? *a : *b;
        std::vector<Rec> got;
        s.poll_once(&got, 1000, 50);
        std::map<int32_t, int64_t> next;
        for (const auto& r : got) {
          seen.insert(r.key);
          (m == 0 ? parts_a : parts_b).insert(r.partition);
          (m == 0 ? got_a : got_b)++;
          next[r.partition] = std::max(next[r.partition], r.offset + 1);
        }
        std::vector<strata_position> pos;
        for (const auto& [p, o] : next) pos.push_back(strata_position{"shared", p, o});
        if (!pos.empty()) s.ack(pos);
      }
    }
    std::vector<int32_t> both;
    std::set_intersection(parts_a.begin(), parts_a.end(), parts_b.begin(), parts_b.end(),
                          std::back_inserter(both));
    disjoint = got_a > 0 && got_b > 0 && both.empty();
  }
  EXPECT_TRUE(disjoint) << "the two members never shared the partitions between them";
  for (const auto& k : produced) EXPECT_TRUE(seen.count(k)) << "never delivered: " << k;
}

TEST(KafkaSource, TwoMembersSplitThePartitionsAndTogetherSeeEveryRecord) {
  TwoMembers members;
  members.split("g-split", kFastGroup);
}

// The cooperative protocol is taken from partition.assignment.strategy (the source never asks
// librdkafka during a rebalance, see bounded_call.hpp): incremental assigns and revokes work,
// and both members then stop well within close_timeout, the second one while the first one's
// leave re-forms the group.
TEST(KafkaSource, CooperativeMembersSplitThePartitionsAndStopPromptly) {
  TwoMembers members;
  members.split("g-coop",
                "rdkafka = { \"session.timeout.ms\" = \"6000\", \"heartbeat.interval.ms\" = "
                "\"300\", \"partition.assignment.strategy\" = \"cooperative-sticky\" }\n");
  if (!members.a || !members.b) return;
  auto t0 = std::chrono::steady_clock::now();
  members.a->stop();
  members.b->stop();
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, std::chrono::seconds(9)) << "close_timeout is 10 s; a close ran into it";
}

TEST(KafkaSource, PauseHoldsRecordsUntilResume) {
  MockKafkaProcess mock(1, "paced", 2);
  ASSERT_TRUE(mock.ok());
  TempDir dir;
  auto src = started("brokers = \"" + mock.bootstrap() +
                     "\"\ntopics = [\"paced\"]\ngroup_id = \"g-pause\"\n");
  ASSERT_TRUE(src);
  ASSERT_TRUE(kcat_produce(mock.bootstrap(), "paced", numbered("before-", 10), dir.path()));
  ASSERT_EQ(src->poll_until(10).size(), 10u);

  src->pause();
  src->pause();  // idempotent
  ASSERT_TRUE(kcat_produce(mock.bootstrap(), "paced", numbered("during-", 30), dir.path()));
  std::vector<Rec> while_paused;
  for (int i = 0; i < 40; ++i) src->poll_once(&while_paused);
  EXPECT_TRUE(while_paused.empty()) << while_paused.size() << " records while paused";

  src->resume();
  auto after = src->poll_until(30);
  for (int i = 0; i < 10; ++i) src->poll_once(&after);
  ASSERT_EQ(after.size(), 30u);
  for (const auto& r : after) EXPECT_EQ(r.key.rfind("during-", 0), 0u) << r.key;
}

// Regression (fault matrix, seed 372893748): librdkafka keeps an application pause on the
// partition object across unassign and assign. A member paused while it owned every partition,
// resumed after half of them went to another member, stayed paused on those for good when they
// came back to it: nobody fetched them again. Such a pause is now lifted before the next assign.
TEST(KafkaSource, PartitionsAssignedBackAfterAResumeAreFetched) {
  MockKafkaProcess mock(1, "swing", 4);
  ASSERT_TRUE(mock.ok());
  TempDir dir;
  const std::string body = "brokers = \"" + mock.bootstrap() +
                           "\"\ntopics = [\"swing\"]\ngroup_id = \"g-swing\"\n" + kFastGroup;
  auto a = started(body);
  ASSERT_TRUE(a);
  ASSERT_TRUE(kcat_produce(mock.bootstrap(), "swing", numbered("first-", 40), dir.path()));
  auto first = a->poll_until(40);
  std::set<int32_t> all_parts;
  for (const auto& r : first) all_parts.insert(r.partition);
  ASSERT_EQ(all_parts.size(), 4u) << "the 40 keys should land on every partition";

  a->pause();  // a owns all four partitions: all four are paused in librdkafka
  auto b = started(body);
  ASSERT_TRUE(b);
  ASSERT_TRUE(kcat_produce(mock.bootstrap(), "swing", numbered("during-", 40), dir.path()));
  std::vector<Rec> at_b, at_a;
  for (int i = 0; i < 600 && at_b.empty(); ++i) {
    a->poll_once(&at_a, 1000, 20);  // keeps a in the group while it is paused
    b->poll_once(&at_b, 1000, 20);
  }
  ASSERT_FALSE(at_b.empty()) << "the second member never got partitions";
  EXPECT_TRUE(at_a.empty()) << at_a.size() << " records reached a while it was paused";

  a->resume();  // resumes what a owns now: half the partitions
  for (int i = 0; i < 20; ++i) a->poll_once(&at_a, 1000, 20);
  b->stop();  // leaves the group: every partition goes back to a

  ASSERT_TRUE(kcat_produce(mock.bootstrap(), "swing", numbered("after-", 40), dir.path()));
  std::set<std::string> after;
  for (int i = 0; i < 600 && after.size() < 40; ++i) {
    std::vector<Rec> got;
    a->poll_once(&got, 1000, 100);
    for (const auto& r : got)
      if (r.key.rfind("after-", 0) == 0) after.insert(r.key);
  }
  EXPECT_EQ(after.size(), 40u) << "records on partitions that came back to a were never fetched";
}

TEST(KafkaSource, SeedFileLoadsJsonAndTabLines) {
  TempDir dir;
  std::string seed = dir.file("seed.jsonl");
  {
    std::ofstream f(seed);
    f << "# users\n"
      << "{\"topic\":\"seeded\",\"key\":\"user:1\",\"value\":{\"name\":\"Ann\",\"tags\":[\"a\","
         "\"b\"]}}\n"
      << "{\"key\": \"user:2\", \"value\": \"plain \\\"quoted\\\" \\u00e9\"}\n"
      << "\n"
      << "{\"key\":null,\"value\":\"no key\"}\n"
      << "{\"key\":\"gone\",\"value\":null}\n"
      << "user:3\tthree\n";
  }
  auto src = started("topics = [\"seeded\"]\nmock_partitions = 1\nseed_file = \"" + seed + "\"\n");
  ASSERT_TRUE(src);
  auto got = src->poll_until(5);
  ASSERT_EQ(got.size(), 5u);
  std::sort(got.begin(), got.end(), [](const Rec& x, const Rec& y) { return x.offset < y.offset; });
  EXPECT_EQ(got[0].key, "user:1");
  EXPECT_EQ(got[0].value, "{\"name\":\"Ann\",\"tags\":[\"a\",\"b\"]}");
  EXPECT_EQ(got[1].value, "plain \"quoted\" \xc3\xa9");
  EXPECT_TRUE(got[2].key_null);
  EXPECT_EQ(got[2].value, "no key");
  EXPECT_EQ(got[3].key, "gone");
  EXPECT_TRUE(got[3].value_null);
  EXPECT_EQ(got[4].key, "user:3");
  EXPECT_EQ(got[4].value, "three");
}

TEST(KafkaSource, BadSeedLineFailsStartWithFileAndLine) {
  TempDir dir;
  std::string seed = dir.file("bad.jsonl");
  {
    std::ofstream f(seed);
    f << "{\"key\":\"a\",\"value\":\"b\"}\n{\"key\":\"a\" \"value\":1}\n";
  }
  std::string err;
  auto src = Source::create("topics = [\"t\"]\nseed_file = \"" + seed + "\"\n", &err);
  EXPECT_FALSE(src);
  EXPECT_NE(err.find(seed + ":2:"), std::string::npos) << err;
}

TEST(KafkaSource, OptionMistakesAreRefusedWithoutEchoingValues) {
  std::string err;
  EXPECT_FALSE(
      Source::create("topics = [\"t\"]\nrdkafka = { \"enable.auto.commit\" = \"false\" }\n", &err));
  EXPECT_NE(err.find("rdkafka.enable.auto.commit"), std::string::npos) << err;

  err.clear();
  EXPECT_FALSE(Source::create(
      "topics = [\"t\"]\nrdkafka = { \"security.protocol\" = \"hunter2-secret\" }\n", &err));
  EXPECT_NE(err.find("rdkafka.security.protocol"), std::string::npos) << err;
  EXPECT_EQ(err.find("hunter2"), std::string::npos) << err;

  err.clear();
  EXPECT_FALSE(
      Source::create("topics = [\"t\"]\nrdkafka = { \"no.such.property\" = \"1\" }\n", &err));
  EXPECT_NE(err.find("unknown librdkafka property"), std::string::npos) << err;

  err.clear();
  EXPECT_FALSE(Source::create(
      "brokers = \"127.0.0.1:9\"\ntopics = [\"t\"]\nseed_file = \"/tmp/x\"\n", &err));
  EXPECT_NE(err.find("seed_file"), std::string::npos) << err;

  err.clear();
  EXPECT_FALSE(Source::create("brokers = \"mock:x\"\ntopics = [\"t\"]\n", &err));
  EXPECT_NE(err.find("mock:N"), std::string::npos) << err;

  err.clear();
  EXPECT_FALSE(Source::create("brokers = \"mock\"\n", &err));  // topics is required
  EXPECT_NE(err.find("topics"), std::string::npos) << err;
}

// A partition that cannot be fetched (its leader gone) keeps the lag pending, never 0: the
// host must not count the pipeline idle with its records unread (--exit-when-idle stopped early
// when the lag skipped such a partition). Once the leader is back every record comes, and a
// partition read to its end is 0 again; a group starting at the end reports 0, not pending,
// from the end-of-partition events alone.
TEST(KafkaSource, AnUnfetchablePartitionKeepsTheLagPendingNotZero) {
  char errstr[512];
  rd_kafka_conf_t* hc = rd_kafka_conf_new();
  rd_kafka_conf_set(hc, "log_level", "0", errstr, sizeof errstr);
  rd_kafka_t* holder = rd_kafka_new(RD_KAFKA_PRODUCER, hc, errstr, sizeof errstr);
  ASSERT_TRUE(holder) << errstr;
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(holder, 1);
  ASSERT_TRUE(cluster);
  ASSERT_EQ(rd_kafka_mock_topic_create(cluster, "split", 2, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  const std::string bootstrap = rd_kafka_mock_cluster_bootstraps(cluster);

  rd_kafka_conf_t* pc = rd_kafka_conf_new();
  rd_kafka_conf_set(pc, "bootstrap.servers", bootstrap.c_str(), errstr, sizeof errstr);
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, errstr, sizeof errstr);
  ASSERT_TRUE(producer) << errstr;
  for (int32_t p = 0; p < 2; ++p)
    for (int i = 0; i < 20; ++i) {
      std::string v = "p" + std::to_string(p) + "-" + std::to_string(i);
      ASSERT_EQ(rd_kafka_producev(producer, RD_KAFKA_V_TOPIC("split"), RD_KAFKA_V_PARTITION(p),
                                  RD_KAFKA_V_VALUE(v.data(), v.size()),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                RD_KAFKA_RESP_ERR_NO_ERROR);
    }
  ASSERT_EQ(rd_kafka_flush(producer, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(producer);

  ASSERT_EQ(rd_kafka_mock_partition_set_leader(cluster, "split", 1, -1),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  {
    auto src = started("brokers = \"" + bootstrap +
                       "\"\ntopics = [\"split\"]\ngroup_id = \"g-pending\"\nbatch_size = 64\n"
                       "stall_warning = \"1s\"\n");
    ASSERT_TRUE(src);
    testing::internal::CaptureStderr();
    std::vector<Rec> got = src->poll_until(20);
    // Partition 0 read to its end, partition 1 unfetchable: pending on every poll, and past
    // stall_warning one warning that names it.
    auto warned = [](const std::string& log) {
      return log.find("split[1]: assigned") != std::string::npos &&
             log.find("nothing fetched from it yet") != std::string::npos;
    };
    std::string log;
    for (int i = 0; i < 600 && !(i >= 20 && warned(log)); ++i) {
      src->poll_once(&got);
      EXPECT_EQ(src->lag(), STRATA_LAG_PENDING) << "poll " << i;
      if (i % 20 == 19) {  // the log so far (capturing again keeps the rest)
        log += testing::internal::GetCapturedStderr();
        testing::internal::CaptureStderr();
      }
    }
    log += testing::internal::GetCapturedStderr();
    ASSERT_EQ(got.size(), 20u);
    for (const auto& r : got) EXPECT_EQ(r.partition, 0);
    EXPECT_TRUE(warned(log)) << log;
    EXPECT_EQ(log.find("split[0]: assigned"), std::string::npos) << log;

    ASSERT_EQ(rd_kafka_mock_partition_set_leader(cluster, "split", 1, 1),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    int64_t lag = STRATA_LAG_PENDING;
    for (int i = 0; i < 600 && (got.size() < 40 || lag != 0); ++i) {
      src->poll_once(&got);
      lag = src->lag();
    }
    EXPECT_EQ(got.size(), 40u);
    EXPECT_EQ(lag, 0);
    src->stop();
  }
  {
    // Nothing to deliver (a new group starting at the end): 0 from the end events.
    auto src = started("brokers = \"" + bootstrap +
                       "\"\ntopics = [\"split\"]\ngroup_id = \"g-at-end\"\nstart = \"latest\"\n");
    ASSERT_TRUE(src);
    std::vector<Rec> none;
    int64_t lag = STRATA_LAG_PENDING;
    for (int i = 0; i < 600 && lag != 0; ++i) {
      src->poll_once(&none);
      lag = src->lag();
    }
    EXPECT_EQ(lag, 0);
    EXPECT_TRUE(none.empty());
    src->stop();
  }
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(holder);
}

// librdkafka's debug lines (debug = "topic,cgrp"), in the order they were logged: the pauses and
// resumes a strata thread ("[thrd:app]") issued on a partition of `topic` after an assignment
// was added and before librdkafka served that partition's fetch start. Each one is a version
// barrier that, queued ahead of the start, makes librdkafka drop the start as outdated and
// never fetch the partition, silently (librdkafka#2190, #5591). Also counts the starts served
// and the pauses issued, so that a change in librdkafka's wording cannot pass unnoticed.
struct PauseAudit {
  std::vector<std::string> overtaking;
  std::set<int> started;
  int pauses = 0;
};
PauseAudit audit_pauses(const std::string& log, const std::string& topic) {
  PauseAudit a;
  bool assigned = false;
  auto partition_after = [](const std::string& line, const std::string& what) {
    size_t p = line.find(what);
    return p == std::string::npos ? -1 : std::atoi(line.c_str() + p + what.size());
  };
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.find("partition(s) to assignment") != std::string::npos) assigned = true;
    if (line.find("[thrd:main]:") != std::string::npos) {
      int p = partition_after(line, topic + " [");
      if (p >= 0 && line.find("received op FETCH_START") != std::string::npos) a.started.insert(p);
      if (line.find("outdated op FETCH_START") != std::string::npos) a.overtaking.push_back(line);
    }
    if (line.find("[thrd:app]:") == std::string::npos) continue;
    int p = std::max(partition_after(line, "Pause " + topic + " ["),
                     partition_after(line, "Resume " + topic + " ["));
    if (p < 0) continue;
    if (line.find("Pause " + topic) != std::string::npos) ++a.pauses;
    if (assigned && !a.started.count(p)) a.overtaking.push_back(line);
  }
  return a;
}

// Regression (BusTwoNodes, CI 2026-12-04: one of two partitions never read, no error): the
// pause state used to be stated after every assign, a resume even when nothing was paused,
// racing librdkafka's own fetch start for the partition. Now nothing reaches a newly assigned
// partition before its fetch has started; a source paused meanwhile pauses each partition once
// it has been read from, and holds what arrived. Both a source running and one paused before
// its assignment are audited through librdkafka's debug lines.
TEST(KafkaSource, NoPauseOrResumeReachesAPartitionBeforeItsFetchStarted) {
  MockKafkaProcess mock(1, "audit", 2);
  ASSERT_TRUE(mock.ok());
  TempDir dir;
  ASSERT_TRUE(kcat_produce(mock.bootstrap(), "audit", numbered("a-", 20), dir.path()));
  strata::log::set_level(STRATA_LOG_DEBUG);
  const std::string body = "brokers = \"" + mock.bootstrap() +
                           "\"\ntopics = [\"audit\"]\nrdkafka = { \"debug\" = \"topic,cgrp\" }\n";
  for (bool paused_first : {false, true}) {
    SCOPED_TRACE(paused_first ? "paused before its assignment" : "running");
    std::string err;
    auto src = Source::create(
        body + "group_id = \"g-audit-" + std::to_string(paused_first) + "\"\n", &err);
    ASSERT_TRUE(src) << err;
    testing::internal::CaptureStderr();
    if (paused_first) src->pause();
    ASSERT_TRUE(src->start(&err)) << err;
    std::vector<Rec> got;
    std::string log;
    if (paused_first) {  // until both partitions were read from and paused (the log so far)
      for (int i = 0; i < 600 && audit_pauses(log, "audit").pauses < 2; ++i) {
        src->poll_once(&got, 1000, 50);
        if (i % 10 == 9) {
          log += testing::internal::GetCapturedStderr();
          testing::internal::CaptureStderr();
        }
      }
      EXPECT_TRUE(got.empty()) << got.size() << " records delivered while paused";
      src->resume();
    }
    for (int i = 0; i < 600 && got.size() < 20; ++i) src->poll_once(&got, 1000, 50);
    src->stop();
    log += testing::internal::GetCapturedStderr();
    EXPECT_EQ(got.size(), 20u);
    PauseAudit a = audit_pauses(log, "audit");
    EXPECT_EQ(a.started, (std::set<int>{0, 1})) << "no fetch start seen in the debug log";
    if (paused_first) {
      EXPECT_EQ(a.pauses, 2) << "each partition paused once, after its fetch started";
    }
    for (const auto& line : a.overtaking)
      ADD_FAILURE() << "issued before the fetch start: " << line;
  }
  strata::log::set_level(STRATA_LOG_INFO);
}

// DeadLetterSink: JSON lines with binary keys/values parsed back field by field, append across
// reopen, whole lines under concurrent writers, clear open() errors, the Kafka destination
// against librdkafka's mock cluster (a real Kafka protocol server in-process), and permanent
// failures told from outages (issue 9 item 4).
#include "deadletter/dead_letter.hpp"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdlib.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>
#include <vector>

#include "deadletter/dead_letter_json.hpp"
#include "kafka_client.hpp"
#include "metrics/metrics.hpp"

namespace fs = std::filesystem;
using strata::DeadLetterOutcome;
using strata::DeadLetterProgress;
using strata::DeadLetterSettings;
using strata::DeadLetterSink;

namespace {

// The lines carry key, value and header bytes in base64 (RFC 4648, padded).
std::string base64_decode(std::string_view in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (in.size() % 4 != 0) throw std::runtime_error("base64 length");
  std::string out;
  for (size_t i = 0; i < in.size(); i += 4) {
    uint32_t n = 0;
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = in[i + k];
      if (c == '=') {
        ++pad;
        n <<= 6;
        continue;
      }
      int v = val(c);
      if (v < 0 || pad) throw std::runtime_error("base64 character");
      n = (n << 6) | static_cast<uint32_t>(v);
    }
    out += static_cast<char>((n >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "strata-deadletter-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

strata_bytes bytes(const std::string& s) { return {s.data(), s.size()}; }

// A record whose strings stay alive as long as the fixture.
struct OwnedRecord {
  std::string topic = "orders";
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> header_data;
  std::vector<strata_header> headers;
  strata_record rec{};

  OwnedRecord(std::string k, std::string v, int64_t offset)
      : key(std::move(k)), value(std::move(v)) {
    rec.struct_size = sizeof rec;
    rec.topic = topic.c_str();
    rec.partition = 3;
    rec.offset = offset;
    rec.key = bytes(key);
    rec.value = bytes(value);
    rec.timestamp_ms = 1700000000123;
  }
  void add_header(std::string k, std::string v) {
    header_data.emplace_back(std::move(k), std::move(v));
    headers.clear();
    for (auto& [hk, hv] : header_data) headers.push_back({bytes(hk), bytes(hv)});
    rec.headers = headers.data();
    rec.header_count = headers.size();
  }
};

bool stored(const strata::DeadLetterOutcome& out) {
  return out.kind == strata::DeadLetterOutcome::Kind::Stored;
}

const std::string kBinaryKey = std::string("k\0\xff\n\"\\", 6);
const std::string kBinaryValue = std::string("\x00\x01\x02\xfe\xff{\"x\":1}\r\n", 14);

}  // namespace

TEST(DeadLetterJson, Base64MatchesRfc4648Vectors) {
  EXPECT_EQ(strata::base64_encode(""), "");
  EXPECT_EQ(strata::base64_encode("f"), "Zg==");
  EXPECT_EQ(strata::base64_encode("fo"), "Zm8=");
  EXPECT_EQ(strata::base64_encode("foo"), "Zm9v");
  EXPECT_EQ(strata::base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(strata::base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(strata::base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_decode(strata::base64_encode(kBinaryValue)), kBinaryValue);
}

TEST(DeadLetterJson, StringsAreEscapedAndAlwaysValidUtf8) {
  std::string out;
  strata::append_json_string(out, std::string("a\"b\\c\nd\x01\x7f", 9));
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\nd\\u0001\\u007f\"");
  out.clear();
  strata::append_json_string(out, "caf\xc3\xa9 \xe2\x82\xac");  // valid UTF-8 passes through
  EXPECT_EQ(out, "\"caf\xc3\xa9 \xe2\x82\xac\"");
  out.clear();
  strata::append_json_string(out, "bad\xff\xc3(\xed\xa0\x80");  // invalid, truncated, surrogate
  EXPECT_EQ(out, "\"bad\\ufffd\\ufffd(\\ufffd\\ufffd\\ufffd\"");
}

TEST(DeadLetterSink, FileLinesCarryEveryFieldWithBinaryKeysAndValues) {
  TempDir dir;
  const std::string path = dir.file("dead.jsonl");
  auto sink = DeadLetterSink::open({path, "", "", "latest", {}});
  ASSERT_TRUE(sink.ok()) << sink.error();

  OwnedRecord binary(kBinaryKey, kBinaryValue, 42);
  binary.add_header("trace-id", std::string("\x00\x10", 2));
  binary.add_header("origin", "eu");
  OwnedRecord nulls("", "", 43);
  nulls.rec.key = {nullptr, 0};    // null key
  nulls.rec.value = {nullptr, 0};  // tombstone
  nulls.rec.timestamp_ms = -1;
  const std::string reason = "key hook failed: script.lua:3: \"bad\"\n\tstack";

  EXPECT_TRUE(stored((*sink)->write(binary.rec, reason)));
  EXPECT_TRUE(stored((*sink)->write(nulls.rec, "key too long (300 > 250)")));
  EXPECT_EQ((*sink)->count(), 2u);
  EXPECT_EQ((*sink)->failures(), 0u);

  auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 2u);
  auto a = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(a.at("pipeline").get<std::string>(), "latest");
  EXPECT_EQ(a.at("topic").get<std::string>(), "orders");
  EXPECT_EQ(a.at("partition").get<double>(), 3);
  EXPECT_EQ(a.at("offset").get<double>(), 42);
  EXPECT_EQ(a.at("timestamp").get<double>(), 1700000000123.0);
  EXPECT_EQ(a.at("reason").get<std::string>(), reason);
  EXPECT_EQ(base64_decode(a.at("key_b64").get<std::string>()), kBinaryKey);
  EXPECT_EQ(base64_decode(a.at("value_b64").get<std::string>()), kBinaryValue);
  ASSERT_EQ(a.at("headers").size(), 2u);
  EXPECT_EQ(a.at("headers").at(0).at("key").get<std::string>(), "trace-id");
  EXPECT_EQ(base64_decode(a.at("headers").at(0).at("value_b64").get<std::string>()),
            std::string("\x00\x10", 2));
  EXPECT_EQ(a.at("headers").at(1).at("key").get<std::string>(), "origin");

  auto b = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(b.at("offset").get<double>(), 43);
  EXPECT_TRUE(b.at("key_b64").is_null());
  EXPECT_TRUE(b.at("value_b64").is_null());
  EXPECT_TRUE(b.at("timestamp").is_null());
  EXPECT_EQ(b.at("headers").size(), 0u);
}

TEST(DeadLetterSink, AppendsToAnExistingFile) {
  TempDir dir;
  const std::string path = dir.file("dead.jsonl");
  OwnedRecord r("k", "v", 1);
  for (int round = 0; round < 2; ++round) {
    auto sink = DeadLetterSink::open({path, "", "", "p", {}});
    ASSERT_TRUE(sink.ok()) << sink.error();
    r.rec.offset = round;
    EXPECT_TRUE(stored((*sink)->write(r.rec, "reason")));
  }
  auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(lines[0]).at("offset").get<double>(), 0);
  EXPECT_EQ(nlohmann::json::parse(lines[1]).at("offset").get<double>(), 1);
}

TEST(DeadLetterSink, ConcurrentWritersNeverInterleaveLines) {
  TempDir dir;
  const std::string path = dir.file("dead.jsonl");
  auto sink = DeadLetterSink::open({path, "", "", "p", {}});
  ASSERT_TRUE(sink.ok()) << sink.error();
  constexpr int kThreads = 4, kPerThread = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Large values make the kernel more likely to split a write if lines were not guarded.
      OwnedRecord r("key-" + std::to_string(t), std::string(6000, static_cast<char>('a' + t)), 0);
      for (int i = 0; i < kPerThread; ++i) {
        r.rec.offset = i;
        (*sink)->write(r.rec, "concurrent");
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ((*sink)->count(), static_cast<uint64_t>(kThreads * kPerThread));
  auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kPerThread));
  for (const auto& line : lines) {
    auto v = nlohmann::json::parse(line);
    const std::string key = base64_decode(v.at("key_b64").get<std::string>());
    const std::string value = base64_decode(v.at("value_b64").get<std::string>());
    ASSERT_EQ(value, std::string(6000, static_cast<char>('a' + (key.back() - '0'))));
  }
}

TEST(DeadLetterSink, BadPathIsAClearErrorFromOpen) {
  auto sink = DeadLetterSink::open({"/nonexistent-strata-dir/dead.jsonl", "", "", "p", {}});
  ASSERT_FALSE(sink.ok());
  EXPECT_EQ(sink.error(),
            "dead-letter file \"/nonexistent-strata-dir/dead.jsonl\" cannot be opened: No such "
            "file or directory");
}

TEST(DeadLetterSink, KafkaSettingsMustComeInPairs) {
  auto no_brokers = DeadLetterSink::open({"", "dead", "", "p", {}});
  ASSERT_FALSE(no_brokers.ok());
  EXPECT_EQ(no_brokers.error(),
            "dead-letter Kafka topic \"dead\" needs kafka_servers (bootstrap servers)");
  auto no_topic = DeadLetterSink::open({"", "", "127.0.0.1:9092", "p", {}});
  ASSERT_FALSE(no_topic.ok());
  EXPECT_EQ(no_topic.error(), "dead-letter kafka_servers is set but kafka_topic is not");
}

TEST(DeadLetterSink, WithoutDestinationItOnlyCounts) {
  auto sink = DeadLetterSink::open({"", "", "", "p", {}});
  ASSERT_TRUE(sink.ok()) << sink.error();
  OwnedRecord r("k", "v", 7);
  EXPECT_TRUE(stored((*sink)->write(r.rec, "value too large")));
  EXPECT_EQ((*sink)->count(), 1u);
}

// The Kafka destination against librdkafka's mock cluster: every message is delivered (the
// delivery reports are counted), keyed by the record's key, with the same JSON as the file.
TEST(DeadLetterSink, KafkaTopicReceivesTheJsonLines) {
  char errstr[512];
  rd_kafka_conf_t* hconf = rd_kafka_conf_new();
  rd_kafka_t* holder = rd_kafka_new(RD_KAFKA_PRODUCER, hconf, errstr, sizeof errstr);
  ASSERT_NE(holder, nullptr) << errstr;
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(holder, 1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_EQ(rd_kafka_mock_topic_create(cluster, "dead", 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  const std::string brokers = rd_kafka_mock_cluster_bootstraps(cluster);

  constexpr int kRecords = 20;
  std::vector<std::string> expected;
  {
    auto sink = DeadLetterSink::open({"", "dead", brokers, "latest", {}});
    ASSERT_TRUE(sink.ok()) << sink.error();
    for (int i = 0; i < kRecords; ++i) {
      OwnedRecord r(kBinaryKey + std::to_string(i), kBinaryValue, i);
      ASSERT_TRUE(stored((*sink)->write(r.rec, "hook failed")));
      expected.push_back(strata::dead_letter_json(r.rec, "latest", "hook failed"));
    }
    (*sink)->flush();
    EXPECT_EQ((*sink)->kafka_delivered(), static_cast<uint64_t>(kRecords));
    EXPECT_EQ((*sink)->kafka_failed(), 0u);
  }

  std::string err;
  rd_kafka_t* consumer = strata::test::kafka_client(
      RD_KAFKA_CONSUMER, {{"bootstrap.servers", brokers}, {"group.id", "deadletter-test"}}, &err);
  ASSERT_NE(consumer, nullptr) << err;
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(parts, "dead", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
  ASSERT_EQ(rd_kafka_assign(consumer, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(parts);

  std::vector<std::string> got;
  // A bound on polls, not a timing assertion: it only keeps a broken test from hanging.
  for (int polls = 0; polls < 300 && got.size() < expected.size(); ++polls) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
    if (!m) continue;
    if (!m->err) {
      got.emplace_back(static_cast<const char*>(m->payload), m->len);
      std::string key(static_cast<const char*>(m->key), m->key_len);
      EXPECT_EQ(key, kBinaryKey + std::to_string(got.size() - 1));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(holder);

  ASSERT_EQ(got, expected);
  auto first = nlohmann::json::parse(got[0]);
  EXPECT_EQ(first.at("pipeline").get<std::string>(), "latest");
  EXPECT_EQ(base64_decode(first.at("value_b64").get<std::string>()), kBinaryValue);
}

TEST(DeadLetterJson, AnyBytesInAnyFieldEncodeToValidJson) {
  // No record can be refused by the encoder: every field of every line parses back.
  std::mt19937 rng(9);
  auto random_bytes = [&](size_t n) {
    std::string b(n, '\0');
    for (char& c : b) c = static_cast<char>(rng() & 0xff);
    return b;
  };
  for (int i = 0; i < 200; ++i) {
    OwnedRecord r(random_bytes(rng() % 40), random_bytes(rng() % 200), i);
    r.topic = random_bytes(1 + rng() % 20);
    r.topic.erase(std::remove(r.topic.begin(), r.topic.end(), '\0'), r.topic.end());
    r.rec.topic = r.topic.c_str();
    r.add_header(random_bytes(rng() % 10), random_bytes(rng() % 10));
    const std::string pipeline = random_bytes(rng() % 10);
    const std::string reason = random_bytes(rng() % 300);
    auto line = nlohmann::json::parse(strata::dead_letter_json(r.rec, pipeline, reason));
    EXPECT_EQ(base64_decode(line.at("value_b64").get<std::string>()), r.value);
    EXPECT_EQ(base64_decode(line.at("key_b64").get<std::string>()), r.key);
    auto where = strata::DeadLetterCoordinates::of(r.rec, pipeline, reason);
    auto coords = nlohmann::json::parse(strata::dead_letter_coordinates_json(where, reason));
    EXPECT_TRUE(coords.at("payload_dropped").get<bool>());
    EXPECT_EQ(coords.at("payload_bytes").get<double>(), static_cast<double>(r.value.size()));
  }
}

// ---- Issue 9 item 4: a dead letter that can never be stored must not wedge the pipeline. ----

namespace {

// librdkafka's mock cluster (one broker) and a consumer that reads a topic back.
class MockKafka {
 public:
  MockKafka() {
    char errstr[512];
    holder_ = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), errstr, sizeof errstr);
    if (!holder_) throw std::runtime_error(errstr);
    cluster_ = rd_kafka_mock_cluster_new(holder_, 1);
    if (!cluster_) throw std::runtime_error("mock cluster");
    if (rd_kafka_mock_topic_create(cluster_, "dead", 1, 1) != RD_KAFKA_RESP_ERR_NO_ERROR)
      throw std::runtime_error("mock topic");
    brokers_ = rd_kafka_mock_cluster_bootstraps(cluster_);
  }
  ~MockKafka() {
    rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(holder_);
  }
  rd_kafka_mock_cluster_t* cluster() { return cluster_; }
  const std::string& brokers() const { return brokers_; }

  // Every message of "dead" partition 0; stops after `expect` messages or ~3 s of polls.
  std::vector<std::string> read_all(size_t expect) {
    std::string err;
    rd_kafka_t* consumer = strata::test::kafka_client(
        RD_KAFKA_CONSUMER, {{"bootstrap.servers", brokers_}, {"group.id", "issue9"}}, &err);
    if (!consumer) throw std::runtime_error(err);
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, "dead", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(consumer, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    std::vector<std::string> got;
    for (int polls = 0; polls < 30 && got.size() <= expect; ++polls) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
      if (!m) continue;
      if (!m->err) got.emplace_back(static_cast<const char*>(m->payload), m->len);
      rd_kafka_message_destroy(m);
      if (got.size() == expect) polls = 25;  // a little longer: nothing more may arrive
    }
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    return got;
  }

 private:
  rd_kafka_t* holder_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string brokers_;
};

DeadLetterSettings kafka_settings(const std::string& file, const std::string& brokers) {
  DeadLetterSettings s;
  s.file = file;
  s.kafka_topic = "dead";
  s.kafka_servers = brokers;
  s.pipeline = "issue9";
  return s;
}

double dropped_metric() {
  strata::Series* s = strata::MetricsRegistry::global().find("strata_dead_letters_dropped_total",
                                                             "pipeline=\"issue9\"");
  return s ? s->value() : 0;
}

}  // namespace

// An 800 KB record is about 1.07 MB as a JSON line: more than Kafka's default 1 MB message
// limit. It used to be retried forever. Now write() says Permanent at once and its coordinates
// go to the topic instead; the next dead letter is stored as usual.
TEST(DeadLetterSink, Issue9OversizedDeadLetterFallsBackToItsCoordinatesInKafka) {
  MockKafka kafka;
  OwnedRecord big("order-17", std::string(800 * 1024, 'x'), 41);
  OwnedRecord small("order-18", "ok", 42);
  {
    auto sink = DeadLetterSink::open(kafka_settings("", kafka.brokers()));
    ASSERT_TRUE(sink.ok()) << sink.error();
    DeadLetterOutcome out = (*sink)->write(big.rec, "value too large");
    EXPECT_EQ(out.kind, DeadLetterOutcome::Kind::Permanent);
    EXPECT_NE(out.reason.find("too large"), std::string::npos) << out.reason;
    EXPECT_TRUE(stored((*sink)->write(small.rec, "hook failed")));
    (*sink)->flush();
    EXPECT_EQ((*sink)->kafka_delivered(), 2u);
    EXPECT_EQ((*sink)->dropped(), 0u);
    EXPECT_EQ((*sink)->failures(), 0u);
  }
  std::vector<std::string> got = kafka.read_all(2);
  ASSERT_EQ(got.size(), 2u);
  auto coords = nlohmann::json::parse(got[0]);
  EXPECT_TRUE(coords.at("payload_dropped").get<bool>());
  EXPECT_EQ(coords.at("topic").get<std::string>(), "orders");
  EXPECT_EQ(coords.at("partition").get<double>(), 3);
  EXPECT_EQ(coords.at("offset").get<double>(), 41);
  EXPECT_EQ(coords.at("payload_bytes").get<double>(), 800 * 1024);
  EXPECT_EQ(base64_decode(coords.at("key_prefix_b64").get<std::string>()), "order-17");
  EXPECT_EQ(coords.at("reason").get<std::string>(), "value too large");
  EXPECT_NE(coords.at("dropped_because").get<std::string>().find("too large"), std::string::npos);
  EXPECT_FALSE(coords.contains("value_b64"));
  EXPECT_EQ(got[1], strata::dead_letter_json(small.rec, "issue9", "hook failed"));
}

// With a dead-letter file as well, the file (written first) keeps the whole record; nothing
// more is sent to the topic that refused it.
TEST(DeadLetterSink, Issue9OversizedDeadLetterIsKeptInTheFile) {
  MockKafka kafka;
  TempDir dir;
  const std::string path = dir.file("dead.jsonl");
  OwnedRecord big("order-17", std::string(800 * 1024, 'x'), 41);
  {
    auto sink = DeadLetterSink::open(kafka_settings(path, kafka.brokers()));
    ASSERT_TRUE(sink.ok()) << sink.error();
    EXPECT_EQ((*sink)->write(big.rec, "value too large").kind, DeadLetterOutcome::Kind::Permanent);
    (*sink)->flush();
    EXPECT_EQ((*sink)->dropped(), 0u);
  }
  auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(base64_decode(nlohmann::json::parse(lines[0]).at("value_b64").get<std::string>()),
            big.value);
  EXPECT_TRUE(kafka.read_all(0).empty());
}

// When not even the coordinates fit (message.max.bytes at its minimum, a reason of control
// characters that escape to six bytes each), the record is logged, counted, and dropped.
TEST(DeadLetterSink, Issue9DeadLetterWhoseCoordinatesDoNotFitIsCountedAndDropped) {
  MockKafka kafka;
  DeadLetterSettings settings = kafka_settings("", kafka.brokers());
  settings.kafka_config = {{"message.max.bytes", "1000"}};
  OwnedRecord r("k", std::string(2000, 'v'), 7);
  const double before = dropped_metric();
  auto sink = DeadLetterSink::open(settings);
  ASSERT_TRUE(sink.ok()) << sink.error();
  DeadLetterOutcome out = (*sink)->write(r.rec, std::string(400, '\x01'));
  EXPECT_EQ(out.kind, DeadLetterOutcome::Kind::Permanent);
  EXPECT_EQ((*sink)->dropped(), 1u);
  EXPECT_EQ(dropped_metric() - before, 1);
}

// A topic the producer may not write: librdkafka only sees it in the metadata, so write()
// queues the message and it fails when message.timeout.ms (here 1 s) runs out. The fallback
// then runs from the delivery report: the coordinates are refused too, and the record is
// counted as dropped. Nothing waits on it; later writes are not held either.
TEST(DeadLetterSink, Issue9UnauthorizedTopicDropsFromTheDeliveryReport) {
  MockKafka kafka;
  rd_kafka_mock_topic_set_error(kafka.cluster(), "dead",
                                RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  DeadLetterSettings settings = kafka_settings("", kafka.brokers());
  settings.kafka_config = {{"message.timeout.ms", "1000"}};
  OwnedRecord r("k", "v", 7);
  auto sink = DeadLetterSink::open(settings);
  ASSERT_TRUE(sink.ok()) << sink.error();
  EXPECT_FALSE((*sink)->write(r.rec, "hook failed").retry());
  // A bound on waiting, not a timing assertion.
  for (int i = 0; i < 200 && (*sink)->dropped() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ((*sink)->dropped(), 1u);
  EXPECT_FALSE((*sink)->write(r.rec, "hook failed").retry());
  EXPECT_EQ((*sink)->kafka_delivered(), 0u);
}

// An outage is still retried, never dropped: a full disk (/dev/full: ENOSPC) and a Kafka
// broker that is down with the local queue full both return Retry. With one progress per
// record, the retry after the broker is back does not write the file line again.
TEST(DeadLetterSink, Issue9OutagesAreRetriedNotDropped) {
  {
    auto sink = DeadLetterSink::open({"/dev/full", "", "", "issue9", {}});
    ASSERT_TRUE(sink.ok()) << sink.error();
    OwnedRecord r("k", "v", 1);
    DeadLetterOutcome out = (*sink)->write(r.rec, "hook failed");
    EXPECT_TRUE(out.retry());
    EXPECT_NE(out.reason.find("No space left"), std::string::npos) << out.reason;
    EXPECT_EQ((*sink)->dropped(), 0u);
  }
  MockKafka kafka;
  TempDir dir;
  const std::string path = dir.file("dead.jsonl");
  DeadLetterSettings settings = kafka_settings(path, kafka.brokers());
  settings.kafka_config = {{"queue.buffering.max.messages", "1"}};
  OwnedRecord first("a", "1", 1);
  OwnedRecord second("b", "2", 2);
  {
    auto sink = DeadLetterSink::open(settings);
    ASSERT_TRUE(sink.ok()) << sink.error();
    rd_kafka_mock_broker_set_down(kafka.cluster(), 1);
    EXPECT_TRUE(stored((*sink)->write(first.rec, "r")));  // queued, waits for the broker
    DeadLetterProgress progress;
    DeadLetterOutcome out = (*sink)->write(second.rec, "r", &progress);
    EXPECT_TRUE(out.retry()) << out.reason;
    EXPECT_TRUE(progress.file);
    rd_kafka_mock_broker_set_up(kafka.cluster(), 1);
    for (int i = 0; i < 100 && out.retry(); ++i) out = (*sink)->write(second.rec, "r", &progress);
    EXPECT_TRUE(stored(out)) << out.reason;
    (*sink)->flush();
    EXPECT_EQ((*sink)->kafka_delivered(), 2u);
    EXPECT_EQ((*sink)->dropped(), 0u);
    EXPECT_EQ((*sink)->count(), 2u);
  }
  EXPECT_EQ(read_lines(path).size(), 2u);
  EXPECT_EQ(kafka.read_all(2).size(), 2u);
}

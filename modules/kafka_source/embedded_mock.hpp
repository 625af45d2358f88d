// The embedded librdkafka mock cluster behind `brokers = "mock"`, and the seed-file loader that
// produces a file of records into it. Used only by kafka_source.cpp (start/stop of a source
// instance); the standalone tool tools/mock_kafka has its own small copy of the cluster setup.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <string>
#include <vector>

namespace kafka_source {

// One record of a seed file. `key`/`value` null means a Kafka null key / tombstone.
struct SeedRecord {
  std::string topic;
  std::string key, value;
  bool key_null = true, value_null = false;
};

// Parses a seed file. Each non-empty line is either a JSON object
//   {"topic": "t", "key": "k", "value": "v" | {...} | [...] | 123 | null}
// (topic optional -> `default_topic`; a non-string value is stored as its compact JSON text,
// keys in the order written), or,
// when the line does not start with '{', "KEY<TAB>VALUE" for `default_topic`. Lines starting
// with '#' are comments. Throws strata::Error naming FILE:LINE on a malformed line.
std::vector<SeedRecord> parse_seed_file(const std::string& path, const std::string& default_topic);

// A mock cluster of `brokers` brokers in this process, listening on 127.0.0.1.
class EmbeddedMock {
 public:
  EmbeddedMock() = default;
  ~EmbeddedMock();
  EmbeddedMock(const EmbeddedMock&) = delete;
  EmbeddedMock& operator=(const EmbeddedMock&) = delete;

  // Throws strata::Error on failure.
  void start(int brokers, const std::vector<std::string>& topics, int partitions);
  const std::string& bootstraps() const { return bootstraps_; }
  // Produces the records and waits until every one is acknowledged (throws on failure).
  void produce(const std::vector<SeedRecord>& records);
  void stop();  // destroys the cluster; every client must be gone or closed first

 private:
  rd_kafka_t* owner_ = nullptr;  // a producer handle: the mock needs an rd_kafka_t to live on
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstraps_;
};

// Writes `text` + "\n" to `path` atomically (temp file + rename), so a script polling for the
// file never reads half of it. Throws strata::Error on failure.
void write_file_atomically(const std::string& path, const std::string& text);

}  // namespace kafka_source

// Helpers for the kafka_source tests: a strata-mock-kafka child process, kcat production, a
// kafka_source instance loaded through the real loader and config validation, and a separate
// librdkafka client that reads a group's committed offsets.
#pragma once

#include <strata/strata.h>

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace strata {
class ModuleLoader;
class ModuleInstance;
struct LoadedModule;
}  // namespace strata

namespace kafka_test {

// A unique scratch folder, removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// strata-mock-kafka as a child process ($STRATA_MOCK_KAFKA, else the one built with the test);
// stopped with SIGTERM.
class MockKafkaProcess {
 public:
  MockKafkaProcess(int brokers, const std::string& topics, int partitions);
  ~MockKafkaProcess();
  bool ok() const { return !bootstrap_.empty(); }
  const std::string& bootstrap() const { return bootstrap_; }

 private:
  pid_t pid_ = -1;
  std::string bootstrap_;
};

// Produces "key:value" lines with kcat (an independent Kafka client). True on success.
bool kcat_produce(const std::string& bootstrap, const std::string& topic,
                  const std::vector<std::pair<std::string, std::string>>& records,
                  const std::string& scratch_dir);

// Committed offsets of `group` for partitions 0..partitions-1 (-1001 = none committed).
std::map<int32_t, int64_t> committed_offsets(const std::string& bootstrap, const std::string& group,
                                             const std::string& topic, int partitions);

struct Rec {
  std::string topic;
  int32_t partition;
  int64_t offset;
  std::string key, value;
  bool key_null, value_null;
  int64_t timestamp_ms;
  std::vector<std::pair<std::string, std::string>> headers;
};

// The module, loaded once per test binary.
const strata::LoadedModule& kafka_module();

// One kafka_source instance created from TOML option text (the body of [sources.k]).
class Source {
 public:
  // Returns nullptr and sets *error when validation or create fails.
  static std::unique_ptr<Source> create(const std::string& toml_body, std::string* error);
  ~Source();
  bool start(std::string* error);
  // One poll() call; appends copies of the records and releases the batch.
  int poll_once(std::vector<Rec>* out, size_t max_records = 1000, int timeout_ms = 100,
                std::string* error = nullptr);
  // Polls until `want` records arrived in total or `max_polls` polls happened.
  std::vector<Rec> poll_until(size_t want, int max_polls = 600);
  int ack(const std::vector<strata_position>& positions);
  void pause();
  void resume();
  int64_t lag();
  void stop();

 private:
  Source() = default;
  std::unique_ptr<strata::ModuleInstance> inst_;
};

}  // namespace kafka_test

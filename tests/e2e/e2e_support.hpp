// End-to-end harness: the mock Kafka cluster as its own process (strata-mock-kafka), strata
// itself as a child process, kcat as the producer, and Kafka's committed offsets read back
// with librdkafka. Used by e2e_test.cpp together with tests/support/servers.hpp.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "files.hpp"

namespace strata::test {

// The "seq" number of a test record's JSON value (`..."seq":N...`), or -1 when it has none.
int64_t seq_of(const std::string& value);

// Points the harness at the binaries of this build (the test target's STRATA_E2E_BIN,
// STRATA_E2E_MOCK_KAFKA and STRATA_E2E_MODULES), unless the environment already names them.
void export_e2e_paths(const char* strata_bin, const char* mock_kafka, const char* modules_dir);

// Forks and execs argv[0] (a path) with stdout and stderr appended to `log_path`; the child's
// pid, or -1.
pid_t spawn_logged(const std::vector<std::string>& argv, const std::string& log_path);

// A child process with its stderr (and stdout) in a log file.
class ChildProcess {
 public:
  ~ChildProcess();
  bool start(const std::vector<std::string>& argv, const std::string& log_path);
  int stop(int sig = 15);  // signal and wait; returns the exit status (or 128+signal)
  void kill9();
  bool running();  // false once it exited (its status is then lost: see wait())
  // Waits up to timeout_ms for the child to exit by itself: its exit status (128+signal), or
  // -1 while it still runs (or none was started).
  int wait(int timeout_ms);
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

class MockKafka {
 public:
  ~MockKafka();
  // Runs strata-mock-kafka ($STRATA_MOCK_KAFKA) with one topic; false if it did not come up.
  bool start(const std::string& topic, int partitions, const std::string& workdir);
  const std::string& bootstrap() const { return bootstrap_; }
  pid_t pid() const { return proc_.pid(); }
  // One command to the mock's control FIFO ("leader TOPIC PARTITION BROKER", broker -1: no
  // leader; see tools/mock_kafka); true once its log says the command was applied (bounded).
  bool command(const std::string& line);

 private:
  ChildProcess proc_;
  std::string bootstrap_, control_, log_;
};

// Produces lines "KEY|VALUE" with kcat (a real, independent Kafka client).
bool kcat_produce(const std::string& bootstrap, const std::string& topic, const std::string& file);

// Committed offset and high watermark of every partition of `topic` for `group`.
struct PartitionProgress {
  int64_t committed = -1;
  int64_t high = -1;
};
std::map<int32_t, PartitionProgress> group_progress(const std::string& bootstrap,
                                                    const std::string& group,
                                                    const std::string& topic, int partitions);
// Sum of committed offsets (records known durable) and of high watermarks.
std::pair<int64_t, int64_t> committed_and_end(const std::string& bootstrap,
                                              const std::string& group, const std::string& topic,
                                              int partitions);
// The group committed the end of every partition, and the log holds every record produced.
// It may hold more: a producer retry can store a batch twice (librdkafka 2.0's mock broker did
// in CI, idempotence on), and strata must take such duplicates like any record, so the end
// the group must reach is the log's, not the count produced.
inline bool consumed_to_the_end(int64_t committed, int64_t end, int64_t produced) {
  return end >= produced && committed == end;
}

// GET http://127.0.0.1:PORT/PATH within timeout_ms; "" on failure.
std::string http_get(int port, const std::string& path, int timeout_ms = 5000);
// The value of the first sample of `metric` in Prometheus text, -1 if absent.
double metric_value(const std::string& text, const std::string& metric);

}  // namespace strata::test

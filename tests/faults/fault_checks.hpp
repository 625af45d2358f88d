// What a fault schedule is judged by: the Kafka log read back (the truth: each key's highest
// sequence, and a check that the producer kept per-key order), a watcher that reads every key
// from Redis and memcached while faults run and records any sequence going down, and the
// final comparison of both tiers with the log.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "e2e_support.hpp"

namespace strata::test::faults {

using strata::test::seq_of;  // tests/e2e/e2e_support.hpp

struct LogTruth {
  std::map<std::string, int64_t> max_seq;  // cache key -> highest sequence in the log
  std::vector<int64_t> ends;               // high watermark per partition
  int64_t records = 0;
  int64_t order_violations = 0;  // a key's sequence not strictly increasing in its partition
  // A key's highest sequence once more: one produce written twice. librdkafka 2.0's mock broker
  // can store a retried batch again despite enable.idempotence (seen once in CI, seed
  // 117889939: one record more in the log than deliveries, one 'violation'). Kafka itself can
  // hold such duplicates from a non-idempotent producer, and strata must take them (the same
  // value again), so they are counted apart, not as an order violation.
  int64_t producer_duplicates = 0;
  std::string error;
};
LogTruth read_log(const std::string& bootstrap, const std::string& topic, int partitions);

// Reads of many keys at once with a deadline; nullopt when the server did not answer.
using Values = std::map<std::string, std::string>;  // absent keys are missing
std::optional<Values> redis_mget(int port, const std::vector<std::string>& keys, int timeout_ms);
std::optional<Values> memcached_get(int port, const std::vector<std::string>& keys, int timeout_ms);
// The stored partition watermarks (next offset to apply), -1 where absent.
std::optional<std::vector<int64_t>> redis_watermarks(int port, const std::string& pipeline,
                                                     const std::string& topic, int partitions);

// Polls every key in both tiers until stopped. A Redis sequence that goes down, or a key that
// vanishes from Redis, is a rollback; in memcached a lower sequence is only counted (a stalled
// L1 may briefly serve an older copy: issue 9 item 9) and a miss is always allowed.
class RollbackWatch {
 public:
  RollbackWatch(int redis_port, int memcached_port, std::vector<std::string> keys);
  ~RollbackWatch() { stop(); }
  void stop();
  int64_t redis_reads() const { return redis_reads_; }
  int64_t redis_rollbacks() const { return redis_rollbacks_; }
  int64_t l1_reads() const { return l1_reads_; }
  int64_t l1_regressions() const { return l1_regressions_; }
  std::string first_rollbacks();  // a few, for the failure message

 private:
  void loop();
  int redis_port_, memcached_port_;
  std::vector<std::string> keys_;
  std::map<std::string, int64_t> redis_last_, l1_last_;
  std::atomic<bool> running_{true};
  std::atomic<int64_t> redis_reads_{0}, redis_rollbacks_{0}, l1_reads_{0}, l1_regressions_{0};
  std::mutex mu_;
  std::string first_;
  std::thread thread_;
};

}  // namespace strata::test::faults

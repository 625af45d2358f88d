// kafka_source's one class. Its definitions live in two files: kafka_source.cpp (options,
// start and stop, batches, acks, lag, errors) and group_membership.cpp (the rebalance
// callbacks, resuming at the stored watermarks, pause and resume).
#pragma once

#include <librdkafka/rdkafka.h>
#include <strata/sdk.hpp>

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "consumer_parts.hpp"
#include "embedded_mock.hpp"
#include "partition_book.hpp"
#include "replay_range.hpp"

namespace kafka_source {

class KafkaSource final : public strata::SourceModule {
 public:
  KafkaSource(strata::Host host, const strata::Options& opts);
  ~KafkaSource() override;
  void start() override;
  void stop(bool /*drain*/) override;
  void close_bounded();
  void poll(size_t max_records, int timeout_ms, strata_record_batch& out) override;
  void release(strata_record_batch& b) override;
  void ack(const strata_position* positions, size_t count) override;
  void replay(const strata_source_replay& spec) override;
  int64_t replay_left() override { return replay_ ? replay_->left() : -1; }
  void replay_extend() override;
  void pause() override { set_paused(true); }
  void resume() override { set_paused(false); }
  int64_t lag() override;

 private:
  static std::string join(const std::vector<std::string>& v);
  void start_mock();

  // librdkafka's callbacks, served from the consumer queue (poll) or the close's queue.
  static void on_rebalance(rd_kafka_t*, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* parts, void* opaque);
  static void on_error(rd_kafka_t*, int err, const char* reason, void* opaque);
  static void on_log(const rd_kafka_t* rk, int level, const char* fac, const char* buf);

  // Group membership (group_membership.cpp).
  void rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts);
  void answer_during_close(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                           uint64_t deadline);
  void assign(rd_kafka_topic_partition_list_t* parts, bool cooperative);
  void revoke(rd_kafka_topic_partition_list_t* parts, bool cooperative);
  void hand_back(const rd_kafka_topic_partition_list_t* parts);
  void forget(const rd_kafka_topic_partition_list_t* parts);
  rd_kafka_topic_partition_list_t* resume_positions(rd_kafka_topic_partition_list_t* parts);
  bool is_paused();
  void set_paused(bool pause);
  void lift_pauses(const rd_kafka_topic_partition_list_t* parts);
  void pause_fetching();

  // Errors.
  void consumer_error(int err, const char* reason);
  void handle_error(rd_kafka_message_t* m);
  void log_throttled(int err, const std::string& msg);
  void throw_if_fatal();

  // A batch on its way out of poll().
  void drop_unowned(Batch& batch);
  void keep_replay_range(Batch& batch);
  void note_end(const char* topic, int32_t partition, int64_t offset);
  void note_delivered(const Batch& batch);

  strata::Host host_;
  std::vector<std::string> topics_;
  std::string group_, start_;
  size_t batch_size_;
  int64_t max_wait_ms_;
  int64_t close_timeout_ms_;
  bool resume_from_watermark_;
  uint64_t stall_warn_ns_;  // 0: never warn
  int mock_partitions_;
  std::string seed_file_, bootstrap_file_;
  int mock_brokers_ = 0;  // 0: a real cluster at bootstraps_
  std::string bootstraps_;
  std::vector<SeedRecord> seed_;

  std::unique_ptr<ReplayRange> replay_;  // set by replay() before start: a one-shot replay
  EmbeddedMock mock_;
  // Until start() hands it to rd_kafka_new; freed here if the constructor throws.
  ConfPtr conf_{nullptr, rd_kafka_conf_destroy};
  rd_kafka_t* rk_ = nullptr;
  bool closed_ = false;
  bool closed_cleanly_ = false;
  bool abandoned_ = false;             // a close call was left blocked (bounded_call.hpp)
  bool cooperative_ = false;           // from the configured assignors: no request to librdkafka
  rd_kafka_queue_t* queue_ = nullptr;  // the consumer queue: batches are read from it
  std::atomic<uint64_t> revokes_{0};   // bumped by the revoke callback

  // Pause (group_membership.cpp): every pause or resume is a version barrier in librdkafka,
  // and one issued after an assignment but queued before that partition's fetch start makes
  // librdkafka drop the start as outdated: the partition is then never fetched, and nothing
  // says so (librdkafka#2190, #5591). So after an assignment a partition gets a pause only once
  // it has been read from (PartitionBook::fetching), and a pause left from an earlier
  // assignment is lifted before the next one.
  std::mutex pause_mu_;                    // orders the pause calls below; taken before mu_
  std::set<PartitionKey> rdkafka_paused_;  // paused in librdkafka by us, not resumed since
  std::mutex mu_;  // guards everything below: callbacks, stop() and lag() run on other threads
  bool paused_ = false;
  PartitionBook owned_;
  std::deque<rd_kafka_message_t*> held_;  // arrived while paused; delivered after resume
  std::unordered_set<Batch*> outstanding_;
  std::string fatal_;

  std::map<int, uint64_t> last_logged_;  // guarded by mu_
  strata::Metric records_, rebalances_, errors_, stale_acks_;
};

}  // namespace kafka_source

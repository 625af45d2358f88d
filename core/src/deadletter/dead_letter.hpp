// Dead-letter destination of a pipeline: records whose hook failed, whose key a tier refused or
// whose value is too large are written here with the reason, counted, and never stop the
// pipeline. Opened by the runtime from a pipeline's dead_letter_* settings; written from worker
// threads. Line format: dead_letter_json.hpp; user docs: docs/configuration.md (dead_letter_*).
#pragma once

#include <strata/strata.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace strata {

struct DeadLetterSettings {
  std::string file;           // JSON lines appended here; "" = no file
  std::string kafka_topic;    // produce each line to this topic; "" = no Kafka
  std::string kafka_brokers;  // bootstrap.servers for kafka_topic
  std::string pipeline;       // written into every line and log message
};

class DeadLetterSink {
 public:
  // Opens every configured destination. Errors name the destination, e.g.
  //   dead-letter file "/nope/x.jsonl" cannot be opened: No such file or directory
  // With neither a file nor a topic the sink only counts and logs each record.
  static Result<std::unique_ptr<DeadLetterSink>> open(const DeadLetterSettings& settings);
  ~DeadLetterSink();  // flushes Kafka (bounded wait), closes the file
  DeadLetterSink(const DeadLetterSink&) = delete;
  DeadLetterSink& operator=(const DeadLetterSink&) = delete;

  // Thread-safe. Never throws; returns false (and logs) only if a destination failed. The file
  // line is handed to the kernel before write() returns (one write(2) per line, no fsync): a
  // crash of strata loses nothing written, a crash of the machine may lose recent lines. The
  // Kafka message is queued; its delivery is reported later (kafka_delivered/kafka_failed).
  bool write(const strata_record& rec, std::string_view reason);
  // Records handed to write(), whether or not a destination failed.
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  // Records at least one destination refused at write() time.
  uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }
  // Kafka delivery reports so far.
  uint64_t kafka_delivered() const;
  uint64_t kafka_failed() const;
  // Waits (up to 10 s) until queued Kafka messages are delivered or failed. The file needs no
  // flush (see write()).
  void flush();

  struct FileDestination;
  struct KafkaDestination;

 private:
  DeadLetterSink() = default;
  std::string pipeline_;
  std::unique_ptr<FileDestination> file_;
  std::unique_ptr<KafkaDestination> kafka_;
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> failures_{0};
};

}  // namespace strata

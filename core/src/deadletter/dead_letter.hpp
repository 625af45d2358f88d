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
#include <utility>
#include <vector>

#include "common/result.hpp"

namespace strata {

class Series;
struct DeadLetterCoordinates;

struct DeadLetterSettings {
  std::string file;           // JSON lines appended here; "" = no file
  std::string kafka_topic;    // produce each line to this topic; "" = no Kafka
  std::string kafka_servers;  // bootstrap.servers for kafka_topic
  std::string pipeline;       // written into every line and log message
  // Extra librdkafka producer properties, applied last (tests shrink message.max.bytes or the
  // local queue with them).
  std::vector<std::pair<std::string, std::string>> kafka_config;
};

// What write() did with one dead letter. Only Retry asks the caller to call again later: a
// destination is unavailable (a full disk, a full Kafka queue) and may come back. Permanent
// means a destination can never take this line (too large for the topic, not authorized, ...);
// write() has already fallen back (the file, or a coordinates-only line, or a counted and
// logged drop), so the caller must not retry or block on it.
struct DeadLetterOutcome {
  enum class Kind { Stored, Retry, Permanent };
  Kind kind = Kind::Stored;
  std::string reason;  // Retry / Permanent: the destination's error
  bool retry() const { return kind == Kind::Retry; }
};

// Which destinations already hold one record's line. A caller that retries a record keeps one
// of these across its calls, so a retry after a partial failure (the file took the line, the
// Kafka queue was full) does not write the line twice.
struct DeadLetterProgress {
  bool counted = false;
  bool file = false;
  bool kafka = false;
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

  // Thread-safe. Never throws, never blocks for long (about a second while the Kafka queue is
  // full). The file line is handed to the kernel before write() returns (one write(2) per
  // line, no fsync): a crash of strata loses nothing written, a crash of the machine may lose
  // recent lines. A failed file write is an outage (ENOSPC, EFBIG, EIO: Retry; a partial line
  // is cut off again). The Kafka message is queued; librdkafka retries it through broker
  // outages without a deadline, and a permanent delivery error falls back as below.
  //
  // Permanent failure of a destination: when the file is configured and took the line, that
  // is the fallback; otherwise a coordinates-only line (dead_letter_coordinates_json) goes to
  // the same destination; if that cannot be stored either, one ERROR line with the coordinates
  // is logged and the record is counted in dropped() and strata_dead_letters_dropped_total.
  DeadLetterOutcome write(const strata_record& rec, std::string_view reason,
                          DeadLetterProgress* progress = nullptr);
  // Records handed to write() (a record retried with one DeadLetterProgress counts once).
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  // write() calls that returned Retry.
  uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }
  // Records whose payload no destination could store (only their coordinates were logged).
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
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
  std::atomic<uint64_t> dropped_{0};
  Series* dropped_metric_ = nullptr;

  void drop(const DeadLetterCoordinates& where, std::string_view why);
  DeadLetterOutcome kafka_refused(const DeadLetterCoordinates& where, const std::string& why,
                                  bool caller_can_retry);
};

}  // namespace strata

// kafka_source's one-shot replay (`strata replay`, strata_source_hooks.replay): where each
// assigned partition starts (`from`) and ends (its high watermark when it was assigned), and
// how many records are left. Used by kafka_source.cpp's assign callback and poll.
#pragma once

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace kafka_source {

class ReplayRange {
 public:
  // Parses strata_source_replay.from ("earliest", "timestamp:MS", "offsets:P:OFF,..."); throws
  // strata::Error(STRATA_ERR_INVALID) when malformed.
  explicit ReplayRange(const std::string& from);

  // Sets each partition's start offset in `parts` (an assignment) and remembers its end. Does
  // broker round trips (watermarks, offsets_for_times) bounded by `timeout_ms`. A partition
  // placed before (a re-assignment) continues where it was. `warn` gets one
  // line per partition whose start was before the oldest record still kept.
  void place(rd_kafka_t* rk, rd_kafka_topic_partition_list_t* parts, int timeout_ms,
             const std::function<void(const std::string&)>& warn);
  // Past the end: the record is not delivered.
  bool beyond(const std::string& topic, int32_t partition, int64_t offset) const;
  // Moves a partition's position (the offset after the last record handed over or skipped).
  void reached(const std::string& topic, int32_t partition, int64_t next_offset);
  // Moves every placed partition to the consumer's own position (skips offsets that hold no
  // record: compaction, transaction markers).
  void refresh(rd_kafka_t* rk);
  // Every placed partition's end moves to its current high watermark; the consumer is sought
  // back to the old end (records past it were fetched and dropped). Broker round trips.
  void extend(rd_kafka_t* rk, int timeout_ms);
  // Records left over every placed partition; -1 before the first assignment.
  int64_t left() const;
  std::string describe() const;  // "t [0] 0..120, t [1] 5..98"

 private:
  enum class From { Earliest, Timestamp, Offsets };
  struct Span {
    int64_t start = 0, end = 0, at = 0;
  };
  mutable std::mutex mu_;  // spans_: place/reached/refresh on the poll thread, left() anywhere
  From from_ = From::Earliest;
  int64_t timestamp_ms_ = 0;
  std::map<int32_t, int64_t> offsets_;  // From::Offsets: partition -> first offset
  std::map<std::pair<std::string, int32_t>, Span> spans_;
};

}  // namespace kafka_source

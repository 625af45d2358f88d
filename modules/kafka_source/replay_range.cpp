#include "replay_range.hpp"

#include <strata/sdk.hpp>

#include <charconv>
#include <vector>

namespace kafka_source {
namespace {

bool parse_i64(std::string_view s, int64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

[[noreturn]] void bad(const std::string& from, const std::string& why) {
  throw strata::Error(STRATA_ERR_INVALID, "replay from \"" + from + "\": " + why);
}

}  // namespace

ReplayRange::ReplayRange(const std::string& from) {
  if (from == "earliest") return;
  if (from.rfind("timestamp:", 0) == 0) {
    from_ = From::Timestamp;
    if (!parse_i64(std::string_view(from).substr(10), timestamp_ms_) || timestamp_ms_ < 0)
      bad(from, "the timestamp must be epoch milliseconds >= 0");
    return;
  }
  if (from.rfind("offsets:", 0) != 0)
    bad(from, "expected earliest, timestamp:MS or offsets:P:OFF,...");
  from_ = From::Offsets;
  std::string_view rest = std::string_view(from).substr(8);
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    size_t colon = item.find(':');
    int64_t p = 0, off = 0;
    if (colon == std::string_view::npos || !parse_i64(item.substr(0, colon), p) ||
        !parse_i64(item.substr(colon + 1), off) || p < 0 || p > INT32_MAX || off < 0)
      bad(from, "\"" + std::string(item) + "\" is not PARTITION:OFFSET");
    if (!offsets_.emplace(static_cast<int32_t>(p), off).second)
      bad(from, "partition " + std::to_string(p) + " is given twice");
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
    if (rest.empty()) bad(from, "a trailing comma");
  }
  if (offsets_.empty()) bad(from, "no PARTITION:OFFSET given");
}

void ReplayRange::place(rd_kafka_t* rk, rd_kafka_topic_partition_list_t* parts, int timeout_ms,
                        const std::function<void(const std::string&)>& warn) {
  std::vector<int64_t> lows(parts->cnt, 0), highs(parts->cnt, 0);
  for (int i = 0; i < parts->cnt; ++i) {
    rd_kafka_topic_partition_t& p = parts->elems[i];
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk, p.topic, p.partition, &lows[i], &highs[i], timeout_ms);
    if (err)
      throw strata::Error(STRATA_ERR_UNAVAILABLE, "replay: watermarks of " + std::string(p.topic) +
                                                      " [" + std::to_string(p.partition) +
                                                      "]: " + rd_kafka_err2str(err));
  }
  std::vector<int64_t> starts(parts->cnt, 0);
  if (from_ == From::Timestamp) {
    rd_kafka_topic_partition_list_t* q = rd_kafka_topic_partition_list_copy(parts);
    for (int i = 0; i < q->cnt; ++i) q->elems[i].offset = timestamp_ms_;
    rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, q, timeout_ms);
    for (int i = 0; i < q->cnt && !err; ++i) {
      // -1 (OFFSET_END): no record at or after the timestamp: nothing to replay there.
      starts[i] = q->elems[i].err ? -2 : q->elems[i].offset < 0 ? highs[i] : q->elems[i].offset;
      if (starts[i] == -2) err = q->elems[i].err;
    }
    rd_kafka_topic_partition_list_destroy(q);
    if (err)
      throw strata::Error(STRATA_ERR_UNAVAILABLE,
                          std::string("replay: offsets_for_times: ") + rd_kafka_err2str(err));
  }
  for (int i = 0; i < parts->cnt; ++i) {
    rd_kafka_topic_partition_t& p = parts->elems[i];
    int64_t start = lows[i];
    if (from_ == From::Timestamp) start = starts[i];
    if (from_ == From::Offsets) {
      auto it = offsets_.find(p.partition);
      start = it == offsets_.end() ? highs[i] : it->second;  // not listed: not replayed
    }
    if (start < lows[i]) {
      warn("replay: " + std::string(p.topic) + " [" + std::to_string(p.partition) + "]: offset " +
           std::to_string(start) + " is older than the oldest record kept (" +
           std::to_string(lows[i]) + "): records " + std::to_string(start) + ".." +
           std::to_string(lows[i] - 1) + " are gone (retention); starting at " +
           std::to_string(lows[i]));
      start = lows[i];
    }
    if (start > highs[i]) start = highs[i];
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, fresh] = spans_.try_emplace({p.topic, p.partition}, Span{start, highs[i], start});
    p.offset = fresh ? start : it->second.at;
  }
}

bool ReplayRange::beyond(const std::string& topic, int32_t partition, int64_t offset) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = spans_.find({topic, partition});
  return it == spans_.end() || offset >= it->second.end;
}

void ReplayRange::reached(const std::string& topic, int32_t partition, int64_t next_offset) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = spans_.find({topic, partition});
  if (it != spans_.end())
    it->second.at = std::max(it->second.at, std::min(next_offset, it->second.end));
}

void ReplayRange::refresh(rd_kafka_t* rk) {
  std::lock_guard<std::mutex> lock(mu_);
  if (spans_.empty()) return;
  rd_kafka_topic_partition_list_t* l =
      rd_kafka_topic_partition_list_new(static_cast<int>(spans_.size()));
  for (const auto& [tp, s] : spans_)
    rd_kafka_topic_partition_list_add(l, tp.first.c_str(), tp.second);
  if (rd_kafka_position(rk, l) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int i = 0; i < l->cnt; ++i) {
      if (l->elems[i].err || l->elems[i].offset < 0) continue;
      Span& s = spans_[{l->elems[i].topic, l->elems[i].partition}];
      s.at = std::max(s.at, std::min(l->elems[i].offset, s.end));
    }
  }
  rd_kafka_topic_partition_list_destroy(l);
}

void ReplayRange::extend(rd_kafka_t* rk, int timeout_ms) {
  std::map<std::pair<std::string, int32_t>, Span> spans;
  {
    std::lock_guard<std::mutex> lock(mu_);
    spans = spans_;
  }
  rd_kafka_topic_partition_list_t* seek =
      rd_kafka_topic_partition_list_new(static_cast<int>(spans.size()));
  for (auto& [tp, s] : spans) {
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk, tp.first.c_str(), tp.second, &lo, &hi, timeout_ms);
    if (err) {
      rd_kafka_topic_partition_list_destroy(seek);
      throw strata::Error(STRATA_ERR_UNAVAILABLE, "replay: watermarks of " + tp.first + " [" +
                                                      std::to_string(tp.second) +
                                                      "]: " + rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_add(seek, tp.first.c_str(), tp.second)->offset = s.end;
    s.start = s.at = s.end;
    s.end = std::max(hi, s.end);
  }
  rd_kafka_error_t* e = rd_kafka_seek_partitions(rk, seek, timeout_ms);
  std::string failed;
  if (e) {
    failed = rd_kafka_error_string(e);
    rd_kafka_error_destroy(e);
  }
  for (int i = 0; i < seek->cnt && failed.empty(); ++i)
    if (seek->elems[i].err) failed = rd_kafka_err2str(seek->elems[i].err);
  rd_kafka_topic_partition_list_destroy(seek);
  if (!failed.empty())
    throw strata::Error(STRATA_ERR_UNAVAILABLE, "replay: seek back to the replay's end: " + failed);
  std::lock_guard<std::mutex> lock(mu_);
  spans_ = std::move(spans);
}

int64_t ReplayRange::left() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (spans_.empty()) return -1;
  int64_t n = 0;
  for (const auto& [tp, s] : spans_) n += s.end - s.at;
  return n;
}

std::string ReplayRange::describe() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& [tp, s] : spans_)
    out += (out.empty() ? "" : ", ") + tp.first + " [" + std::to_string(tp.second) + "] " +
           std::to_string(s.start) + ".." + std::to_string(s.end);
  return out;
}

}  // namespace kafka_source

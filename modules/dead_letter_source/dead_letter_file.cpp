// dead_letter_file: a source that reads a strata dead-letter file (JSON lines, the format of
// core/src/deadletter/dead_letter_json.hpp) and delivers each record once, in topic, partition
// and offset order, with its original coordinates, key, value, headers and timestamp. It is
// what `strata dead-letters replay FILE` puts in place of a pipeline's own source
// (docs/operations.md, "Replaying dead letters"); it also works as a pipeline's `module`.
//
// The whole file is read at create(): the pipeline may append to the same file while its
// records are replayed (records that fail again), and those new lines are not read back.
#include <strata/sdk.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <tuple>

#include "dead_letter_lines.hpp"

namespace {

constexpr strata_option_def kOptions[] = {
    strata::option("file", STRATA_OPT_STRING, nullptr,
                   "The dead-letter file to read (JSON lines as dead_letter_file writes them)"),
    strata::option("pipeline", STRATA_OPT_STRING, "",
                   "Only the lines of this pipeline (their \"pipeline\" field); \"\" = every line"),
    strata::option("skip_bad_lines", STRATA_OPT_BOOL, "false",
                   "Lines that are not dead-letter lines are logged and skipped instead of "
                   "failing create"),
};

constexpr size_t kLoggedLines = 20;  // per kind of line that is not replayed, then a count

class DeadLetterFile : public strata::SourceModule {
 public:
  DeadLetterFile(strata::Host host, const strata::Options& opts)
      : host_(host), path_(opts.str("file")) {
    read_file(opts.str("pipeline"), opts.boolean("skip_bad_lines"));
    build_records();
  }

  void poll(size_t max_records, int timeout_ms, strata_record_batch& out) override {
    out.records = nullptr;
    out.count = 0;
    if (paused_ || next_ >= records_.size()) {
      // Nothing (more) to deliver: wait as asked, so the pipeline does not spin.
      std::this_thread::sleep_for(std::chrono::milliseconds(std::clamp(timeout_ms, 0, 100)));
      return;
    }
    size_t n = std::min(max_records, records_.size() - next_);
    out.records = records_.data() + next_;
    out.count = n;
    next_ += n;
  }

  void release(strata_record_batch& /*batch*/) override {}  // the records live until destroy

  void ack(const strata_position* positions, size_t count) override {
    for (size_t i = 0; i < count; ++i) {
      auto it = parts_.find({positions[i].topic ? positions[i].topic : "", positions[i].partition});
      if (it == parts_.end()) continue;
      Part& p = it->second;
      size_t before = p.done;
      while (p.done < p.offsets.size() && p.offsets[p.done] < positions[i].next_offset) ++p.done;
      left_.fetch_sub(static_cast<int64_t>(p.done - before), std::memory_order_relaxed);
    }
  }

  void pause() override { paused_ = true; }
  void resume() override { paused_ = false; }
  int64_t lag() override { return left_.load(std::memory_order_relaxed); }

  // `strata dead-letters replay` runs the pipeline in replay mode: the file is the range, and
  // there is nothing to extend it with.
  void replay(const strata_source_replay& /*spec*/) override {}
  int64_t replay_left() override { return left_.load(std::memory_order_relaxed); }
  void replay_extend() override {}

 private:
  struct Part {
    std::vector<int64_t> offsets;  // ascending
    size_t done = 0;               // offsets acked
  };

  void read_file(const std::string& pipeline, bool skip_bad) {
    std::ifstream in(path_, std::ios::binary);
    if (!in)
      throw strata::Error(STRATA_ERR_INVALID,
                          "dead-letter file \"" + path_ + "\" cannot be read: " + strerror(errno));
    std::string line, why;
    size_t lineno = 0, bad = 0, other = 0, dropped = 0, empty = 0;
    std::string first_bad;
    std::map<std::tuple<std::string, int32_t, int64_t>, size_t> seen;  // -> index in letters_
    while (std::getline(in, line)) {
      ++lineno;
      if (line.find_first_not_of(" \t\r") == std::string::npos) {
        ++empty;
        continue;
      }
      strata::dlq::Letter l;
      if (!strata::dlq::parse_letter(line, &l, &why)) {
        std::string msg = path_ + ":" + std::to_string(lineno) + ": not a dead-letter line: " + why;
        if (++bad == 1) first_bad = msg;
        if (skip_bad && bad <= kLoggedLines) host_.warn(msg + " (skipped)");
        continue;
      }
      l.line = lineno;
      if (!pipeline.empty() && l.pipeline != pipeline) {
        ++other;
        continue;
      }
      if (l.payload_dropped) {
        if (++dropped <= kLoggedLines)
          host_.warn(path_ + ":" + std::to_string(lineno) + ": " + l.topic + "/" +
                     std::to_string(l.partition) + "@" + std::to_string(l.offset) +
                     " has only its coordinates (its payload did not fit any dead-letter "
                     "destination): it is not replayed; replay it from the topic with strata "
                     "replay --from " +
                     std::to_string(l.partition) + ":" + std::to_string(l.offset));
        continue;
      }
      // The same record twice (it failed again in an earlier replay): the last line wins.
      auto [it, fresh] = seen.try_emplace({l.topic, l.partition, l.offset}, letters_.size());
      if (fresh)
        letters_.push_back(std::move(l));
      else
        letters_[it->second] = std::move(l), ++duplicates_;
    }
    if (in.bad())
      throw strata::Error(STRATA_ERR_INVALID,
                          "dead-letter file \"" + path_ + "\": read error: " + strerror(errno));
    if (bad && !skip_bad)
      throw strata::Error(STRATA_ERR_INVALID,
                          first_bad + (bad > 1 ? " (and " + std::to_string(bad - 1) + " more)" : "") +
                              "; fix or remove the line, or set skip_bad_lines "
                              "(strata dead-letters replay --skip-bad-lines)");
    std::ostringstream s;
    s << path_ << ": " << lineno << " lines, " << letters_.size() << " records to replay";
    if (!pipeline.empty()) s << " (pipeline " << pipeline << ")";
    if (duplicates_) s << ", " << duplicates_ << " repeated lines (the last of each kept)";
    if (other) s << ", " << other << " lines of other pipelines left out";
    if (dropped) s << ", " << dropped << " coordinates-only lines not replayable from the file";
    if (bad) s << ", " << bad << " bad lines skipped";
    host_.info(s.str());
  }

  void build_records() {
    std::sort(letters_.begin(), letters_.end(), [](const auto& a, const auto& b) {
      return std::tie(a.topic, a.partition, a.offset) < std::tie(b.topic, b.partition, b.offset);
    });
    size_t header_total = 0;
    for (const auto& l : letters_) header_total += l.headers.size();
    headers_.reserve(header_total);  // never reallocated: records point into it
    records_.reserve(letters_.size());
    for (const auto& l : letters_) {
      strata_record r{};
      r.struct_size = sizeof(strata_record);
      r.topic = l.topic.c_str();
      r.partition = l.partition;
      r.offset = l.offset;
      r.key = l.key_null ? strata_bytes{nullptr, 0} : strata_bytes{l.key.data(), l.key.size()};
      r.value =
          l.value_null ? strata_bytes{nullptr, 0} : strata_bytes{l.value.data(), l.value.size()};
      r.timestamp_ms = l.timestamp_ms;
      r.headers = headers_.data() + headers_.size();
      r.header_count = l.headers.size();
      for (const auto& h : l.headers)
        headers_.push_back({{h.key.data(), h.key.size()},
                            h.value_null ? strata_bytes{nullptr, 0}
                                         : strata_bytes{h.value.data(), h.value.size()}});
      if (r.header_count == 0) r.headers = nullptr;
      records_.push_back(r);
      parts_[{l.topic, l.partition}].offsets.push_back(l.offset);
    }
    left_ = static_cast<int64_t>(records_.size());
  }

  strata::Host host_;
  std::string path_;
  std::vector<strata::dlq::Letter> letters_;  // sorted; own every byte the records point to
  std::vector<strata_header> headers_;
  std::vector<strata_record> records_;
  std::map<std::pair<std::string, int32_t>, Part> parts_;
  size_t next_ = 0;
  size_t duplicates_ = 0;
  std::atomic<bool> paused_{false};
  std::atomic<int64_t> left_{0};
};

}  // namespace

STRATA_MODULE(DeadLetterFile, "dead_letter_file", "1.0.0",
              "Reads a strata dead-letter file and delivers each record once, in "
              "topic/partition/offset order (the source of strata dead-letters replay)",
              kOptions)

// A scripted source for the pipeline's component tests: it delivers the records of a
// tab-separated file, then empty batches, and records every poll/ack/pause/resume call in a
// process-wide event log. The test reads that log (and installs an ack callback) through the
// extern "C" fake_source_* functions below, found with dlsym on the module's handle.
//
// records_file lines:  topic <TAB> partition <TAB> offset <TAB> key <TAB> value
//   "\N" as key or value means null (null key / tombstone); empty lines and "#..." are skipped.
#include <strata/sdk.hpp>

#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct OwnedRecord {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  bool null_key = false, null_value = false;
  std::string key, value;
};

using AckCallback = void (*)(const strata_position* positions, size_t count, void* user);

// Global, not per instance: a test runs one fake source at a time and inspects it after the
// runtime (and maybe the module) is gone.
struct Log {
  std::mutex mu;
  std::vector<std::string> events;
  AckCallback on_ack = nullptr;
  void* on_ack_user = nullptr;
};
Log& log() {
  static Log l;
  return l;
}
void event(std::string e) {
  std::lock_guard lock(log().mu);
  log().events.push_back(std::move(e));
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t tab = line.find('\t', start);
    out.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos) return out;
    start = tab + 1;
  }
}

static constexpr strata_option_def kOptions[] = {
    strata::option("records_file", STRATA_OPT_STRING, nullptr,
                   "tab-separated records: topic, partition, offset, key, value (\\N = null)"),
    strata::option("batch_size", STRATA_OPT_INT, "0",
                   "records per poll; 0 = every remaining record in one batch")
        .min(0),
    strata::option("lag_pending", STRATA_OPT_BOOL, "false",
                   "once every record is delivered, lag() says STRATA_LAG_PENDING (a partition "
                   "the source could not fetch) instead of 0"),
};

class FakeSource : public strata::SourceModule {
 public:
  FakeSource(strata::Host, const strata::Options& opts)
      : batch_size_(static_cast<size_t>(opts.integer("batch_size"))),
        lag_pending_(opts.boolean("lag_pending")) {
    std::string path = opts.str("records_file");
    std::ifstream in(path);
    if (!in) throw strata::Error("cannot open records_file " + path);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      auto f = split_tabs(line);
      if (f.size() != 5) throw strata::Error("records_file: expected 5 fields: " + line);
      OwnedRecord r;
      r.topic = f[0];
      r.partition = static_cast<int32_t>(std::stol(f[1]));
      r.offset = std::stoll(f[2]);
      r.null_key = f[3] == "\\N";
      r.null_value = f[4] == "\\N";
      r.key = f[3];
      r.value = f[4];
      records_.push_back(std::move(r));
    }
  }

  void start() override { event("start"); }
  void stop(bool) override { event("stop"); }

  void poll(size_t max_records, int, strata_record_batch& out) override {
    out = {};
    if (paused_ || next_ >= records_.size() || max_records == 0) return;
    size_t n = records_.size() - next_;
    if (batch_size_ > 0) n = std::min(n, batch_size_);
    n = std::min(n, max_records);
    auto* batch = new std::vector<strata_record>(n);
    for (size_t i = 0; i < n; ++i) {
      const OwnedRecord& o = records_[next_ + i];
      strata_record& r = (*batch)[i];
      r.struct_size = sizeof r;
      r.topic = o.topic.c_str();
      r.partition = o.partition;
      r.offset = o.offset;
      if (!o.null_key) r.key = {o.key.data(), o.key.size()};
      if (!o.null_value) r.value = {o.value.data(), o.value.size()};
      r.timestamp_ms = -1;
    }
    next_ += n;
    out.records = batch->data();
    out.count = n;
    out.source_cookie = batch;
    event("poll " + std::to_string(n));
  }

  void release(strata_record_batch& batch) override {
    delete static_cast<std::vector<strata_record>*>(batch.source_cookie);
    batch = {};
  }

  void ack(const strata_position* positions, size_t count) override {
    AckCallback cb;
    void* user;
    {
      std::lock_guard lock(log().mu);
      cb = log().on_ack;
      user = log().on_ack_user;
    }
    if (cb) cb(positions, count, user);
    for (size_t i = 0; i < count; ++i)
      event("ack " + std::string(positions[i].topic) + " " +
            std::to_string(positions[i].partition) + " " +
            std::to_string(positions[i].next_offset));
  }

  void pause() override {
    paused_ = true;
    event("pause");
  }
  void resume() override {
    paused_ = false;
    event("resume");
  }
  int64_t lag() override {
    int64_t left = static_cast<int64_t>(records_.size() - next_);
    return left == 0 && lag_pending_ ? STRATA_LAG_PENDING : left;
  }

 private:
  std::vector<OwnedRecord> records_;
  size_t next_ = 0;
  size_t batch_size_;
  bool lag_pending_;
  bool paused_ = false;  // worker thread only
};

}  // namespace

STRATA_MODULE(FakeSource, "fake_source", "1.0.0", "records from a file, for pipeline tests",
              kOptions)

// Test access. Every function is thread-safe.
extern "C" STRATA_EXPORT void fake_source_reset() {
  std::lock_guard lock(log().mu);
  log().events.clear();
  log().on_ack = nullptr;
  log().on_ack_user = nullptr;
}

// Called on the pipeline's worker thread inside ack(), before the ack is logged.
extern "C" STRATA_EXPORT void fake_source_set_ack_callback(AckCallback cb, void* user) {
  std::lock_guard lock(log().mu);
  log().on_ack = cb;
  log().on_ack_user = user;
}

// Events so far, one per line: "start", "poll N", "ack TOPIC PARTITION NEXT", "pause",
// "resume", "stop". Returns the length; copies at most cap-1 bytes plus a NUL.
extern "C" STRATA_EXPORT size_t fake_source_events(char* buf, size_t cap) {
  std::lock_guard lock(log().mu);
  std::string all;
  for (auto& e : log().events) all += e + "\n";
  if (cap > 0) {
    size_t n = std::min(all.size(), cap - 1);
    all.copy(buf, n);
    buf[n] = '\0';
  }
  return all.size();
}

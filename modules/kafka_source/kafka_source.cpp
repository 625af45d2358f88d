// kafka_source: a strata `source` module. Consumes Kafka topics as a member of a consumer group
// (librdkafka), hands record batches to the pipeline, and commits only the positions the
// pipeline acked (at-least-once). `brokers = "mock"` runs librdkafka's mock cluster in-process.
#include <librdkafka/rdkafka.h>
#include <strata/sdk.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "kafka_source.hpp"

#include "bounded_call.hpp"

namespace kafka_source {
namespace {

constexpr const char* kStartValues[] = {"earliest", "latest", nullptr};

}  // namespace

static constexpr strata_option_def kOptions[] = {
    strata::option("brokers", STRATA_OPT_STRING, "mock",
                   "Kafka bootstrap servers (\"host:port,host:port\"), or \"mock\" / \"mock:N\" "
                   "to run an embedded librdkafka mock cluster of N brokers (default 1) in this "
                   "process"),
    strata::option("topics", STRATA_OPT_STRING_LIST, nullptr, "Topics to consume"),
    strata::option("group_id", STRATA_OPT_STRING, "strata",
                   "Consumer group; every strata process with the same group shares the "
                   "partitions"),
    strata::option("start", STRATA_OPT_ENUM, "earliest",
                   "Where a group without a committed offset starts (auto.offset.reset)")
        .one_of(kStartValues),
    strata::option("batch_size", STRATA_OPT_INT, "5000", "Maximum records per poll")
        .range(1, 1000000),
    strata::option("max_wait", STRATA_OPT_DURATION, "50ms", "Maximum time to fill one batch")
        .range(0, 60000),
    strata::option("commit_interval", STRATA_OPT_DURATION, "1s",
                   "How often acked positions are committed to Kafka (also on rebalance/stop)")
        .range(10, 3600000),
    strata::option("close_timeout", STRATA_OPT_DURATION, "10s",
                   "How long a stop waits for the consumer to leave its group (final commit, "
                   "revoke); after it the consumer is abandoned and the group notices by its "
                   "session timeout. What was not committed is read again, and skipped below "
                   "the watermark")
        .range(0, 600000),
    strata::option("resume_from_watermark", STRATA_OPT_BOOL, "true",
                   "On assignment, start a partition where the pipeline's durable tier says it "
                   "stopped (the watermark stored with the data), not at Kafka's committed "
                   "offset, which may lag behind it"),
    strata::option("stall_warning", STRATA_OPT_DURATION, "30s",
                   "Warn (once per assignment) about a partition this long after its assignment "
                   "with nothing read from it yet (its leader unreachable, say); its lag is "
                   "reported as unknown meanwhile. 0: never warn")
        .range(0, 86400000),
    strata::option("mock_partitions", STRATA_OPT_INT, "8",
                   "Partitions of each topic created in the embedded mock cluster")
        .range(1, 10000),
    strata::option("seed_file", STRATA_OPT_STRING, "",
                   "Mock only: records produced into the embedded cluster at start (JSON lines "
                   "{\"topic\":..,\"key\":..,\"value\":..} or KEY<TAB>VALUE lines)"),
    strata::option("bootstrap_file", STRATA_OPT_STRING, "",
                   "Mock only: file the embedded cluster's bootstrap address is written to"),
    strata::option("rdkafka", STRATA_OPT_TABLE, "",
                   "librdkafka consumer properties passed through (security.protocol, sasl.*, "
                   "ssl.*, session.timeout.ms, ...); values are never logged"),
};

KafkaSource::KafkaSource(strata::Host host, const strata::Options& opts)
    : host_(host),
      topics_(opts.list("topics")),
      group_(opts.str("group_id")),
      start_(opts.str("start")),
      batch_size_(static_cast<size_t>(opts.integer("batch_size"))),
      max_wait_ms_(opts.duration_ms("max_wait")),
      close_timeout_ms_(opts.duration_ms("close_timeout")),
      resume_from_watermark_(opts.boolean("resume_from_watermark")),
      stall_warn_ns_(static_cast<uint64_t>(opts.duration_ms("stall_warning")) * 1000000u),
      mock_partitions_(static_cast<int>(opts.integer("mock_partitions"))),
      seed_file_(opts.str("seed_file")),
      bootstrap_file_(opts.str("bootstrap_file")) {
  mock_brokers_ = parse_brokers(opts.str("brokers"), &bootstraps_);
  if (topics_.empty()) throw strata::Error("topics: at least one topic is needed");
  for (const auto& t : topics_)
    if (t.empty()) throw strata::Error("topics: a topic name is empty");
  if (mock_brokers_ == 0 && !seed_file_.empty())
    throw strata::Error("seed_file needs brokers = \"mock\" (it seeds the embedded cluster)");
  if (mock_brokers_ == 0 && !bootstrap_file_.empty())
    throw strata::Error("bootstrap_file needs brokers = \"mock\"");
  if (!seed_file_.empty()) seed_ = parse_seed_file(seed_file_, topics_.front());
  conf_ = consumer_conf(opts, group_, start_, mock_brokers_ > 0);
  cooperative_ = is_cooperative(conf_.get());
  rd_kafka_conf_set_opaque(conf_.get(), this);
  rd_kafka_conf_set_rebalance_cb(conf_.get(), &KafkaSource::on_rebalance);
  rd_kafka_conf_set_error_cb(conf_.get(), &KafkaSource::on_error);
  rd_kafka_conf_set_log_cb(conf_.get(), &KafkaSource::on_log);
  records_ = host_.counter("strata_kafka_records_total", "Records delivered to the pipeline");
  rebalances_ = host_.counter("strata_kafka_rebalances_total",
                              "Consumer group rebalances (assign and revoke events)");
  errors_ = host_.counter("strata_kafka_errors_total", "Non-fatal consumer errors");
  stale_acks_ = host_.counter("strata_kafka_stale_acks_total",
                              "Acked positions of partitions this member no longer owns");
}

KafkaSource::~KafkaSource() {
  stop(true);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Batch* b : outstanding_) delete b;  // the host never released them
    outstanding_.clear();
  }
  // A consumer that did not close in time is not closed again by destroy (it would block).
  // After a close that left a call blocked (bounded_call.hpp), the destroy gets a deadline
  // too. The blocked call waits on a reply queue of its own, which the destroy leaves alone.
  if (rk_) {
    rd_kafka_t* rk = rk_;
    int flags = closed_cleanly_ ? 0 : RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE;
    if (!abandoned_)
      rd_kafka_destroy_flags(rk, flags);
    else if (!call_within(close_timeout_ms_, [rk, flags] { rd_kafka_destroy_flags(rk, flags); }))
      host_.warn("consumer: librdkafka's destroy did not return within close_timeout either");
  }
  mock_.stop();
}

void KafkaSource::start() {
  if (mock_brokers_ > 0) start_mock();
  set_property(conf_.get(), "bootstrap.servers", bootstraps_, "brokers");
  char errstr[512];
  rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf_.get(), errstr, sizeof errstr);
  if (!rk_) throw strata::Error(STRATA_ERR_INVALID, std::string("consumer: ") + errstr);
  conf_.release();                  // owned by rk_ now
  rd_kafka_poll_set_consumer(rk_);  // callbacks (errors, rebalances) are served by poll()
  queue_ = rd_kafka_queue_get_consumer(rk_);
  rd_kafka_topic_partition_list_t* subs =
      rd_kafka_topic_partition_list_new(static_cast<int>(topics_.size()));
  for (const auto& t : topics_)
    rd_kafka_topic_partition_list_add(subs, t.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t err = rd_kafka_subscribe(rk_, subs);
  rd_kafka_topic_partition_list_destroy(subs);
  if (err) throw strata::Error(std::string("subscribe: ") + rd_kafka_err2str(err));
  host_.info("consuming " + join(topics_) + " from " + bootstraps_ + " as group \"" + group_ +
             "\"");
}

void KafkaSource::stop(bool /*drain*/) {
  if (!rk_ || closed_) return;
  closed_ = true;
  close_bounded();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto* m : held_) rd_kafka_message_destroy(m);
  held_.clear();
  owned_.clear();
}

// Leaves the group within close_timeout: the close (final commit, revoke callback) runs in
// librdkafka's background and we serve its queue until it is done or the deadline passes.
// Regression (issue 9 item 5): a revoke commit after a group change held SIGTERM 40 s+.
void KafkaSource::close_bounded() {
  rd_kafka_commit(rk_, nullptr, 1);  // async: the close waits for it within the deadline
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk_);
  if (rd_kafka_error_t* e = rd_kafka_consumer_close_queue(rk_, q)) {
    host_.warn(std::string("consumer close: ") + rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
  } else {
    uint64_t deadline = host_.monotonic_ns() + uint64_t(close_timeout_ms_) * 1000000u;
    // Served with the event API, not poll_callback: the close forwards the consumer queue
    // here, and a message or error still in it is no callback's to serve (librdkafka
    // asserts on it). A rebalance arrives as an event and is handled like the callback.
    while (!abandoned_ && !rd_kafka_consumer_closed(rk_) && host_.monotonic_ns() < deadline) {
      rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 50);
      if (!ev) continue;
      // A group that has terminated waits for no answer (and would drop the request).
      if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE && !rd_kafka_consumer_closed(rk_))
        answer_during_close(rd_kafka_event_error(ev), rd_kafka_event_topic_partition_list(ev),
                            deadline);
      rd_kafka_event_destroy(ev);
    }
    closed_cleanly_ = !abandoned_ && rd_kafka_consumer_closed(rk_);
    if (abandoned_)
      host_.warn("consumer close: librdkafka did not answer an unassign within close_timeout (" +
                 std::to_string(close_timeout_ms_) +
                 " ms); leaving the consumer as it is: uncommitted positions are read again "
                 "after a restart");
    else if (!closed_cleanly_)
      host_.warn("consumer did not leave the group within close_timeout (" +
                 std::to_string(close_timeout_ms_) +
                 " ms); abandoning it: uncommitted positions are read again after a restart");
  }
  rd_kafka_queue_destroy(q);
  if (queue_) rd_kafka_queue_destroy(queue_);
  queue_ = nullptr;
}

void KafkaSource::poll(size_t max_records, int timeout_ms, strata_record_batch& out) {
  out = strata_record_batch{nullptr, 0, nullptr};
  throw_if_fatal();
  if (!rk_ || closed_) return;
  size_t limit = std::min(max_records, batch_size_);
  int64_t wait = std::max<int64_t>(0, std::min<int64_t>(timeout_ms, max_wait_ms_));
  if (is_paused() || limit == 0) {
    // Keep the membership alive (heartbeats, rebalances); hold whatever still arrives, and
    // pause in librdkafka each partition that has now been read from (pause_fetching).
    if (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, static_cast<int>(wait))) {
      if (m->err) {
        handle_error(m);
      } else {
        std::lock_guard<std::mutex> lock(mu_);
        owned_.seen(PartitionKey(rd_kafka_topic_name(m->rkt), m->partition));
        held_.push_back(m);
      }
    }
    pause_fetching();
    throw_if_fatal();
    return;
  }
  auto batch = std::make_unique<Batch>();
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (!held_.empty() && batch->msgs.size() < limit) {
      batch->msgs.push_back(held_.front());
      held_.pop_front();
    }
  }
  uint64_t revokes_before = revokes_;
  uint64_t deadline = host_.monotonic_ns() + static_cast<uint64_t>(wait) * 1000000u;
  // One call takes up to a whole batch from the consumer queue (and serves the rebalance
  // and error callbacks), instead of one rd_kafka_consumer_poll() per message.
  std::vector<rd_kafka_message_t*> got(limit);
  while (batch->msgs.size() < limit) {
    uint64_t now = host_.monotonic_ns();
    int remaining = now >= deadline ? 0 : static_cast<int>((deadline - now) / 1000000u);
    ssize_t n =
        rd_kafka_consume_batch_queue(queue_, remaining, got.data(), limit - batch->msgs.size());
    for (ssize_t i = 0; i < n; ++i) {
      if (got[i]->err)
        handle_error(got[i]);
      else
        batch->msgs.push_back(got[i]);
    }
    throw_if_fatal();  // the unfinished batch is freed, never delivered nor committed
    if (n <= 0 && (remaining == 0 || is_paused())) break;
    if (is_paused()) break;  // a rebalance callback cannot pause, but stay defensive
    if (remaining == 0) break;
  }
  if (revokes_ != revokes_before) drop_unowned(*batch);
  if (replay_) keep_replay_range(*batch);
  if (batch->msgs.empty()) return;
  fill_records(*batch);
  note_delivered(*batch);
  records_.add(static_cast<double>(batch->records.size()));
  out.records = batch->records.data();
  out.count = batch->records.size();
  Batch* raw = batch.release();
  out.source_cookie = raw;
  std::lock_guard<std::mutex> lock(mu_);
  outstanding_.insert(raw);
}

void KafkaSource::release(strata_record_batch& b) {
  Batch* batch = static_cast<Batch*>(b.source_cookie);
  if (!batch) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    outstanding_.erase(batch);
  }
  delete batch;
  b = strata_record_batch{nullptr, 0, nullptr};
}

void KafkaSource::ack(const strata_position* positions, size_t count) {
  if (!rk_ || closed_ || count == 0) return;
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(count));
  for (size_t i = 0; i < count; ++i)
    rd_kafka_topic_partition_list_add(list, positions[i].topic, positions[i].partition)->offset =
        positions[i].next_offset;
  // librdkafka 2.x refuses (per partition, RD_KAFKA_RESP_ERR__STATE) offsets of partitions
  // that are not assigned: exactly the "ignore what we no longer own" rule.
  rd_kafka_offsets_store(rk_, list);
  for (int i = 0; i < list->cnt; ++i) {
    if (list->elems[i].err) {
      stale_acks_.add();
      host_.debug("ack ignored for " + std::string(list->elems[i].topic) + " [" +
                  std::to_string(list->elems[i].partition) +
                  "]: " + rd_kafka_err2str(list->elems[i].err));
    }
  }
  rd_kafka_topic_partition_list_destroy(list);
}

void KafkaSource::replay(const strata_source_replay& spec) {
  if (rk_) throw strata::Error(STRATA_ERR_INVALID, "replay must be set up before start");
  replay_ = std::make_unique<ReplayRange>(spec.from ? spec.from : "earliest");
  group_ = spec.group_id && *spec.group_id ? std::string(spec.group_id) : group_ + ".replay";
  set_property(conf_.get(), "group.id", group_, "group_id");
  resume_from_watermark_ = false;  // the live pipeline's watermark is not the replay's start
}

void KafkaSource::replay_extend() {
  if (!replay_ || !rk_) throw strata::Error(STRATA_ERR_INVALID, "not replaying");
  replay_->extend(rk_, 10000);
  host_.info("replay: reading what was produced meanwhile: " + replay_->describe());
}

// PartitionBook::lag: pending while a partition has not been read, never 0 with records
// unread (--exit-when-idle stopped early when such a partition was left out of the sum).
int64_t KafkaSource::lag() {
  PartitionBook::Lag lag{STRATA_LAG_UNKNOWN, {}};
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!rk_) return STRATA_LAG_UNKNOWN;
    // Cached: the high watermark comes with every fetch response; no broker round trip.
    auto watermarks = [this](const PartitionKey& tp, int64_t* lo, int64_t* hi) {
      return rd_kafka_get_watermark_offsets(rk_, tp.first.c_str(), tp.second, lo, hi) == 0;
    };
    lag = owned_.lag(watermarks, host_.monotonic_ns(), stall_warn_ns_, paused_);
  }
  for (const auto& what : lag.stalled) host_.warn(what);
  return lag.records;
}

std::string KafkaSource::join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

void KafkaSource::start_mock() {
  mock_.start(mock_brokers_, topics_, mock_partitions_);
  bootstraps_ = mock_.bootstraps();
  host_.info("embedded mock Kafka cluster at " + bootstraps_ + " (produce with: kcat -P -b " +
             bootstraps_ + " -t " + topics_.front() + " -K:)");
  if (!bootstrap_file_.empty()) write_file_atomically(bootstrap_file_, bootstraps_);
  if (!seed_.empty()) {
    mock_.produce(seed_);
    host_.info("seeded " + std::to_string(seed_.size()) + " records from " + seed_file_);
    seed_.clear();
  }
}

void KafkaSource::on_error(rd_kafka_t*, int err, const char* reason, void* opaque) {
  static_cast<KafkaSource*>(opaque)->consumer_error(err, reason);
}

void KafkaSource::on_log(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  auto* self = static_cast<KafkaSource*>(rd_kafka_opaque(rk));
  strata_log_level l = level <= 3   ? STRATA_LOG_ERROR
                       : level == 4 ? STRATA_LOG_WARN
                       : level <= 6 ? STRATA_LOG_INFO
                                    : STRATA_LOG_DEBUG;
  self->host_.log(l, std::string("librdkafka ") + fac + ": " + buf);
}

void KafkaSource::consumer_error(int err, const char* reason) {
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char buf[512];
    rd_kafka_fatal_error(rk_, buf, sizeof buf);
    std::lock_guard<std::mutex> lock(mu_);
    fatal_ = std::string("fatal Kafka error: ") + buf;
    return;
  }
  errors_.add();
  log_throttled(err, std::string("Kafka error: ") + reason);
}

// A message with err set: consumer errors arrive this way (per topic/partition).
void KafkaSource::handle_error(rd_kafka_message_t* m) {
  rd_kafka_resp_err_t err = m->err;
  std::string where = m->rkt ? std::string(" (") + rd_kafka_topic_name(m->rkt) + " [" +
                                   std::to_string(m->partition) + "])"
                             : std::string();
  if (err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {  // m->offset: the end it reached
    if (m->rkt) note_end(rd_kafka_topic_name(m->rkt), m->partition, m->offset);
    rd_kafka_message_destroy(m);
    return;
  }
  std::string text = rd_kafka_message_errstr(m);
  rd_kafka_message_destroy(m);
  consumer_error(err, (text + where).c_str());
}

// The same error code is logged at most once every 10 s; the counter sees every one.
void KafkaSource::log_throttled(int err, const std::string& msg) {
  uint64_t now = host_.monotonic_ns();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& last = last_logged_[err];
    if (last != 0 && now - last < 10'000'000'000ull) return;
    last = now;
  }
  host_.warn(msg);
}

void KafkaSource::throw_if_fatal() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!fatal_.empty()) throw strata::Error(STRATA_ERR_UNAVAILABLE, fatal_);
}

// After a revoke inside poll(): records of partitions we lost go back to the group.
void KafkaSource::drop_unowned(Batch& batch) {
  std::lock_guard<std::mutex> lock(mu_);
  auto keep = std::remove_if(batch.msgs.begin(), batch.msgs.end(), [&](rd_kafka_message_t* m) {
    if (owned_.owns(PartitionKey(rd_kafka_topic_name(m->rkt), m->partition))) return false;
    rd_kafka_message_destroy(m);
    return true;
  });
  batch.msgs.erase(keep, batch.msgs.end());
}

// A replay delivers nothing at or past a partition's end (its high watermark when assigned).
void KafkaSource::keep_replay_range(Batch& batch) {
  auto keep = std::remove_if(batch.msgs.begin(), batch.msgs.end(), [&](rd_kafka_message_t* m) {
    std::string topic = rd_kafka_topic_name(m->rkt);
    if (!replay_->beyond(topic, m->partition, m->offset)) {
      replay_->reached(topic, m->partition, m->offset + 1);
      return false;
    }
    replay_->reached(topic, m->partition, INT64_MAX);
    rd_kafka_message_destroy(m);
    return true;
  });
  batch.msgs.erase(keep, batch.msgs.end());
  replay_->refresh(rk_);
}

void KafkaSource::note_end(const char* topic, int32_t partition, int64_t offset) {
  std::lock_guard<std::mutex> lock(mu_);
  owned_.reached_end(PartitionKey(topic, partition), offset);
}

void KafkaSource::note_delivered(const Batch& batch) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const strata_record& r : batch.records)
    owned_.delivered(PartitionKey(r.topic, r.partition), r.offset + 1);
}

}  // namespace kafka_source

STRATA_MODULE(kafka_source::KafkaSource, "kafka_source", "0.1.0",
              "Kafka consumer-group source with at-least-once commits (librdkafka)",
              kafka_source::kOptions)

// DeadLetterSink: a JSON-lines file (O_APPEND, one write(2) per line) and/or a librdkafka
// producer whose delivery reports are served by a small poll thread. Errors are told apart:
// an outage is the caller's to retry, a permanent refusal falls back here and never blocks.
#include "deadletter/dead_letter.hpp"

#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <string.h>
#include <unistd.h>

#include <mutex>
#include <new>
#include <thread>

#include "common/log.hpp"
#include "deadletter/dead_letter_json.hpp"
#include "metrics/metrics.hpp"

namespace strata {

namespace {
constexpr std::string_view kLogName = "dead-letter";
constexpr int kFlushTimeoutMs = 10000;

// Errors that retrying the same message cannot cure: the message or the topic is wrong for
// this cluster, not the cluster unavailable. Everything else (transport, timeouts, a broker
// down, a leader moving, a full local queue) is an outage. UNKNOWN_TOPIC_OR_PART is retried
// by librdkafka itself while it refreshes the metadata; it reaches us (or _UNKNOWN_TOPIC /
// _UNKNOWN_PARTITION from producev) only once the metadata says the topic does not exist.
bool permanent_kafka_error(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__BAD_MSG:
      return true;
    default:
      return false;
  }
}

DeadLetterOutcome retry_later(std::string why) {
  return {DeadLetterOutcome::Kind::Retry, std::move(why)};
}
DeadLetterOutcome permanent(std::string why) {
  return {DeadLetterOutcome::Kind::Permanent, std::move(why)};
}

}  // namespace

struct DeadLetterSink::FileDestination {
  std::string path;
  int fd = -1;
  std::mutex mu;  // keeps lines whole even if the kernel splits a large write

  ~FileDestination() {
    if (fd >= 0) ::close(fd);
  }

  // Returns "" on success, else the error. Every write error is an outage (ENOSPC, EFBIG,
  // EDQUOT, EIO: space can be freed, the file rotated); a line cut short by one is removed
  // again, so the retry appends it whole and the file stays one JSON object per line.
  std::string append(const std::string& line) {
    std::lock_guard<std::mutex> lock(mu);
    size_t done = 0;
    while (done < line.size()) {
      ssize_t n = ::write(fd, line.data() + done, line.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        if (done > 0) {
          // O_APPEND left the offset at the end of our partial line.
          off_t end = ::lseek(fd, 0, SEEK_CUR);
          if (end >= static_cast<off_t>(done) &&
              ::ftruncate(fd, end - static_cast<off_t>(done)) != 0)
            log::write(
                STRATA_LOG_ERROR, kLogName, {},
                "dead-letter file \"" + path + "\" keeps a partial line: " + strerror(errno));
        }
        return std::string("write to dead-letter file \"") + path + "\" failed: " + strerror(err);
      }
      done += static_cast<size_t>(n);
    }
    return {};
  }
};

struct DeadLetterSink::KafkaDestination {
  // Travels with each queued message (its msg_opaque) to its delivery report.
  struct Letter {
    DeadLetterCoordinates where;
    bool coordinates_only = false;  // already the fallback: a failure is a drop
  };

  DeadLetterSink* sink = nullptr;
  std::string topic;
  rd_kafka_t* rk = nullptr;
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<bool> stopping{false};
  std::atomic<bool> closing{false};  // after the final flush: undelivered letters are dropped
  std::thread poller;

  ~KafkaDestination() { close(); }

  // Called by the sink's destructor while sink->kafka_ still points here: the last delivery
  // reports may fall back through it.
  void close() {
    stopping = true;
    if (poller.joinable()) poller.join();
    if (rk) {
      rd_kafka_flush(rk, kFlushTimeoutMs);
      if (rd_kafka_outq_len(rk) > 0)
        log::write(STRATA_LOG_ERROR, kLogName, sink->pipeline_,
                   std::to_string(rd_kafka_outq_len(rk)) +
                       " dead-letter messages were not delivered to Kafka before shutdown");
      // Serve the reports of what is left, so each undelivered letter is counted and freed.
      closing = true;
      rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_flush(rk, 1000);
      rd_kafka_destroy(rk);
      rk = nullptr;
    }
  }

  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
    auto* self = static_cast<KafkaDestination*>(opaque);
    std::unique_ptr<Letter> letter(static_cast<Letter*>(msg->_private));
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      self->delivered.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    self->failed.fetch_add(1, std::memory_order_relaxed);
    if (!letter) return;
    const std::string why = std::string("Kafka topic \"") + self->topic +
                            "\" did not take it: " + rd_kafka_err2str(msg->err);
    // Nobody waits for a delivery report: whatever the error, fall back now.
    if (letter->coordinates_only || self->closing.load())
      self->sink->drop(letter->where, why);
    else
      self->sink->kafka_refused(letter->where, why, /*caller_can_retry=*/false);
  }

  static void on_log(const rd_kafka_t*, int level, const char* fac, const char* buf) {
    // syslog levels: 0..3 error, 4 warning, 5..6 info, 7 debug.
    strata_log_level l = level <= 3   ? STRATA_LOG_ERROR
                         : level == 4 ? STRATA_LOG_WARN
                         : level <= 6 ? STRATA_LOG_INFO
                                      : STRATA_LOG_DEBUG;
    log::write(l, kLogName, {}, std::string("librdkafka ") + fac + ": " + buf);
  }

  // Returns "" on success, else the error.
  std::string open(const std::string& servers,
                   const std::vector<std::pair<std::string, std::string>>& extra) {
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    // librdkafka retries a queued message through broker outages until message.timeout.ms
    // (5 minutes by default). No deadline would be worse: an error librdkafka only sees in the
    // metadata (a topic the producer may not write) would then hold every message, fill the
    // queue and wedge the pipeline on write(). A report of any failure falls back.
    std::vector<std::pair<std::string, std::string>> props = {
        {"bootstrap.servers", servers},
        {"client.id", "strata-deadletter"},
        {"linger.ms", "20"},
    };
    props.insert(props.end(), extra.begin(), extra.end());
    for (const auto& [k, v] : props) {
      if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof errstr) !=
          RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return "dead-letter Kafka setting " + k + ": " + errstr;
      }
    }
    rd_kafka_conf_set_dr_msg_cb(conf, &KafkaDestination::on_delivery);
    rd_kafka_conf_set_log_cb(conf, &KafkaDestination::on_log);
    rd_kafka_conf_set_opaque(conf, this);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
      rd_kafka_conf_destroy(conf);  // rd_kafka_new() owns conf only on success
      return std::string("dead-letter Kafka producer for \"") + servers +
             "\" cannot be created: " + errstr;
    }
    poller = std::thread([this] {
      while (!stopping.load()) rd_kafka_poll(rk, 100);
    });
    return {};
  }

  // Queues one message; retries for about a second while the local queue is full (not from a
  // delivery report: no polling inside librdkafka's own callback). On success the letter
  // belongs to the message (freed by on_delivery).
  rd_kafka_resp_err_t produce(std::string_view key, bool has_key, const std::string& payload,
                              std::unique_ptr<Letter>& letter, bool wait_for_room = true) {
    for (int attempt = 0;; ++attempt) {
      rd_kafka_resp_err_t err =
          rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()),
                            RD_KAFKA_V_KEY(has_key ? const_cast<char*>(key.data()) : nullptr,
                                           has_key ? key.size() : 0),
                            RD_KAFKA_V_VALUE(const_cast<char*>(payload.data()), payload.size()),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_OPAQUE(letter.get()), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        letter.release();
        return err;
      }
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || !wait_for_room || attempt >= 10) return err;
      rd_kafka_poll(rk, 100);
    }
  }

  std::string error_text(rd_kafka_resp_err_t err) const {
    return "dead-letter message to Kafka topic \"" + topic +
           "\" cannot be queued: " + rd_kafka_err2str(err);
  }
};

Result<std::unique_ptr<DeadLetterSink>> DeadLetterSink::open(const DeadLetterSettings& settings) {
  std::unique_ptr<DeadLetterSink> sink(new DeadLetterSink());
  sink->pipeline_ = settings.pipeline;
  sink->dropped_metric_ = MetricsRegistry::global().counter(
      "strata_dead_letters_dropped_total",
      "Dead letters no destination could store; only their coordinates were logged",
      "pipeline=\"" + settings.pipeline + "\"");
  if (!settings.file.empty()) {
    auto file = std::make_unique<FileDestination>();
    file->path = settings.file;
    file->fd = ::open(settings.file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (file->fd < 0)
      return fail("dead-letter file \"" + settings.file +
                  "\" cannot be opened: " + strerror(errno));
    sink->file_ = std::move(file);
  }
  if (!settings.kafka_topic.empty()) {
    if (settings.kafka_servers.empty())
      return fail("dead-letter Kafka topic \"" + settings.kafka_topic +
                  "\" needs kafka_servers (bootstrap servers)");
    auto kafka = std::make_unique<KafkaDestination>();
    kafka->sink = sink.get();
    kafka->topic = settings.kafka_topic;
    if (std::string err = kafka->open(settings.kafka_servers, settings.kafka_config); !err.empty())
      return fail(err);
    sink->kafka_ = std::move(kafka);
  } else if (!settings.kafka_servers.empty()) {
    return fail("dead-letter kafka_servers is set but kafka_topic is not");
  }
  return sink;
}

// Delivery reports use the sink's members: the producer goes first.
DeadLetterSink::~DeadLetterSink() {
  if (kafka_) kafka_->close();
}

void DeadLetterSink::drop(const DeadLetterCoordinates& where, std::string_view why) {
  dropped_.fetch_add(1, std::memory_order_relaxed);
  if (dropped_metric_) dropped_metric_->add(1);
  log::write(STRATA_LOG_ERROR, kLogName, pipeline_,
             "dead letter " + where.where() + " dropped (payload " +
                 std::to_string(where.payload_bytes) + " bytes, reason: " + where.reason +
                 "): " + std::string(why));
}

// The topic can never take this record's whole line. The file, when configured, already has
// it (write() writes the file first); otherwise its coordinates go to the topic instead.
DeadLetterOutcome DeadLetterSink::kafka_refused(const DeadLetterCoordinates& where,
                                                const std::string& why, bool caller_can_retry) {
  if (file_) {
    log::write(STRATA_LOG_ERROR, kLogName, pipeline_,
               "dead letter " + where.where() + " not stored in Kafka (" + why +
                   "); it is in the dead-letter file \"" + file_->path + "\"");
    return permanent(why);
  }
  auto letter = std::make_unique<KafkaDestination::Letter>();
  letter->where = where;
  letter->coordinates_only = true;
  const std::string json = dead_letter_coordinates_json(where, why);
  rd_kafka_resp_err_t err =
      kafka_->produce(where.key_prefix, where.has_key, json, letter, caller_can_retry);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    log::write(STRATA_LOG_ERROR, kLogName, pipeline_,
               "dead letter " + where.where() + ": payload (" +
                   std::to_string(where.payload_bytes) + " bytes) dropped, " + why +
                   "; its coordinates were sent instead");
    return permanent(why);
  }
  if (caller_can_retry && !permanent_kafka_error(err))
    return retry_later(kafka_->error_text(err));  // the queue is full: an outage after all
  drop(where, why + "; nor its coordinates: " + rd_kafka_err2str(err));
  return permanent(why);
}

DeadLetterOutcome DeadLetterSink::write(const strata_record& rec, std::string_view reason,
                                        DeadLetterProgress* progress) {
  DeadLetterProgress local;
  DeadLetterProgress& done = progress ? *progress : local;
  if (!done.counted) count_.fetch_add(1, std::memory_order_relaxed);
  done.counted = true;
  try {
    if (!file_ && !kafka_) {
      log::write(STRATA_LOG_WARN, kLogName, pipeline_,
                 std::string("record ") + (rec.topic ? rec.topic : "?") + "/" +
                     std::to_string(rec.partition) + "@" + std::to_string(rec.offset) +
                     " dead-lettered (no destination configured): " + std::string(reason));
      return {};
    }
    // Any bytes encode (binary as base64, text escaped, invalid UTF-8 replaced): no record is
    // refused here. Only memory can run out, caught below as an outage.
    const std::string json = dead_letter_json(rec, pipeline_, reason);
    if (file_ && !done.file) {
      if (std::string err = file_->append(json + '\n'); !err.empty()) {
        log::write(STRATA_LOG_ERROR, kLogName, pipeline_, err);
        failures_.fetch_add(1, std::memory_order_relaxed);
        return retry_later(err);
      }
      done.file = true;
    }
    if (kafka_ && !done.kafka) {
      auto letter = std::make_unique<KafkaDestination::Letter>();
      letter->where = DeadLetterCoordinates::of(rec, pipeline_, reason);
      const bool has_key = rec.key.data != nullptr;
      rd_kafka_resp_err_t err = kafka_->produce(
          has_key ? std::string_view(rec.key.data, rec.key.len) : std::string_view(), has_key, json,
          letter);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (!permanent_kafka_error(err)) {
          std::string text = kafka_->error_text(err);
          log::write(STRATA_LOG_ERROR, kLogName, pipeline_, text);
          failures_.fetch_add(1, std::memory_order_relaxed);
          return retry_later(text);
        }
        DeadLetterOutcome out = kafka_refused(letter->where,
                                              std::string("Kafka topic \"") + kafka_->topic +
                                                  "\" cannot take it: " + rd_kafka_err2str(err),
                                              /*caller_can_retry=*/true);
        if (out.retry()) {
          failures_.fetch_add(1, std::memory_order_relaxed);
          log::write(STRATA_LOG_ERROR, kLogName, pipeline_, out.reason);
        }
        done.kafka = !out.retry();
        return out;
      }
      done.kafka = true;
    }
    return {};
  } catch (const std::exception& e) {  // bad_alloc: an outage of memory; keep running
    failures_.fetch_add(1, std::memory_order_relaxed);
    std::string err = std::string("dead-letter write failed: ") + e.what();
    log::write(STRATA_LOG_ERROR, kLogName, pipeline_, err);
    return retry_later(err);
  }
}

uint64_t DeadLetterSink::kafka_delivered() const {
  return kafka_ ? kafka_->delivered.load(std::memory_order_relaxed) : 0;
}

uint64_t DeadLetterSink::kafka_failed() const {
  return kafka_ ? kafka_->failed.load(std::memory_order_relaxed) : 0;
}

void DeadLetterSink::flush() {
  if (kafka_) rd_kafka_flush(kafka_->rk, kFlushTimeoutMs);
}

}  // namespace strata

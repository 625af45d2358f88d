// DeadLetterSink: a JSON-lines file (O_APPEND, one write(2) per line) and/or a librdkafka
// producer whose delivery reports are served by a small poll thread.
#include "deadletter/dead_letter.hpp"

#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <string.h>
#include <unistd.h>

#include <mutex>
#include <thread>

#include "common/log.hpp"
#include "deadletter/dead_letter_json.hpp"

namespace strata {

namespace {
constexpr std::string_view kLogName = "dead-letter";
constexpr int kFlushTimeoutMs = 10000;
}  // namespace

struct DeadLetterSink::FileDestination {
  std::string path;
  int fd = -1;
  std::mutex mu;  // keeps lines whole even if the kernel splits a large write

  ~FileDestination() {
    if (fd >= 0) ::close(fd);
  }

  // Returns "" on success, else the error.
  std::string append(const std::string& line) {
    std::lock_guard<std::mutex> lock(mu);
    size_t done = 0;
    while (done < line.size()) {
      ssize_t n = ::write(fd, line.data() + done, line.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return std::string("write to dead-letter file \"") + path + "\" failed: " + strerror(errno);
      }
      done += static_cast<size_t>(n);
    }
    return {};
  }
};

struct DeadLetterSink::KafkaDestination {
  std::string topic;
  std::string pipeline;
  rd_kafka_t* rk = nullptr;
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<bool> stopping{false};
  std::thread poller;

  ~KafkaDestination() {
    stopping = true;
    if (poller.joinable()) poller.join();
    if (rk) {
      rd_kafka_flush(rk, kFlushTimeoutMs);
      if (rd_kafka_outq_len(rk) > 0)
        log::write(STRATA_LOG_ERROR, kLogName, pipeline,
                   std::to_string(rd_kafka_outq_len(rk)) +
                       " dead-letter messages were not delivered to Kafka before shutdown");
      rd_kafka_destroy(rk);
    }
  }

  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
    auto* self = static_cast<KafkaDestination*>(opaque);
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      self->delivered.fetch_add(1, std::memory_order_relaxed);
    } else {
      self->failed.fetch_add(1, std::memory_order_relaxed);
      log::write(STRATA_LOG_ERROR, kLogName, self->pipeline,
                 "dead-letter message to Kafka topic \"" + self->topic +
                     "\" was not delivered: " + rd_kafka_err2str(msg->err));
    }
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
  std::string open(const std::string& brokers) {
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    const std::pair<const char*, const char*> props[] = {
        {"bootstrap.servers", brokers.c_str()},
        {"client.id", "strata-deadletter"},
        {"linger.ms", "20"},
    };
    for (const auto& [k, v] : props) {
      if (rd_kafka_conf_set(conf, k, v, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return std::string("dead-letter Kafka setting ") + k + ": " + errstr;
      }
    }
    rd_kafka_conf_set_dr_msg_cb(conf, &KafkaDestination::on_delivery);
    rd_kafka_conf_set_log_cb(conf, &KafkaDestination::on_log);
    rd_kafka_conf_set_opaque(conf, this);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
      rd_kafka_conf_destroy(conf);  // rd_kafka_new() owns conf only on success
      return std::string("dead-letter Kafka producer for \"") + brokers +
             "\" cannot be created: " + errstr;
    }
    poller = std::thread([this] {
      while (!stopping.load()) rd_kafka_poll(rk, 100);
    });
    return {};
  }

  // Queues one message; retries for about a second while the local queue is full.
  std::string produce(const strata_record& rec, const std::string& json) {
    for (int attempt = 0;; ++attempt) {
      rd_kafka_resp_err_t err = rd_kafka_producev(
          rk, RD_KAFKA_V_TOPIC(topic.c_str()),
          RD_KAFKA_V_KEY(const_cast<char*>(rec.key.data), rec.key.data ? rec.key.len : 0),
          RD_KAFKA_V_VALUE(const_cast<char*>(json.data()), json.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return {};
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || attempt >= 10)
        return "dead-letter message to Kafka topic \"" + topic +
               "\" cannot be queued: " + rd_kafka_err2str(err);
      rd_kafka_poll(rk, 100);
    }
  }
};

Result<std::unique_ptr<DeadLetterSink>> DeadLetterSink::open(const DeadLetterSettings& settings) {
  std::unique_ptr<DeadLetterSink> sink(new DeadLetterSink());
  sink->pipeline_ = settings.pipeline;
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
    if (settings.kafka_brokers.empty())
      return fail("dead-letter Kafka topic \"" + settings.kafka_topic +
                  "\" needs kafka_brokers (bootstrap servers)");
    auto kafka = std::make_unique<KafkaDestination>();
    kafka->topic = settings.kafka_topic;
    kafka->pipeline = settings.pipeline;
    if (std::string err = kafka->open(settings.kafka_brokers); !err.empty()) return fail(err);
    sink->kafka_ = std::move(kafka);
  } else if (!settings.kafka_brokers.empty()) {
    return fail("dead-letter kafka_brokers is set but kafka_topic is not");
  }
  return sink;
}

DeadLetterSink::~DeadLetterSink() = default;

bool DeadLetterSink::write(const strata_record& rec, std::string_view reason) {
  count_.fetch_add(1, std::memory_order_relaxed);
  try {
    if (!file_ && !kafka_) {
      log::write(STRATA_LOG_WARN, kLogName, pipeline_,
                 std::string("record ") + (rec.topic ? rec.topic : "?") + "/" +
                     std::to_string(rec.partition) + "@" + std::to_string(rec.offset) +
                     " dead-lettered (no destination configured): " + std::string(reason));
      return true;
    }
    const std::string json = dead_letter_json(rec, pipeline_, reason);
    bool ok = true;
    if (file_) {
      if (std::string err = file_->append(json + '\n'); !err.empty()) {
        log::write(STRATA_LOG_ERROR, kLogName, pipeline_, err);
        ok = false;
      }
    }
    if (kafka_) {
      if (std::string err = kafka_->produce(rec, json); !err.empty()) {
        log::write(STRATA_LOG_ERROR, kLogName, pipeline_, err);
        ok = false;
      }
    }
    if (!ok) failures_.fetch_add(1, std::memory_order_relaxed);
    return ok;
  } catch (const std::exception& e) {  // bad_alloc: count it, keep the pipeline running
    failures_.fetch_add(1, std::memory_order_relaxed);
    log::write(STRATA_LOG_ERROR, kLogName, pipeline_,
               std::string("dead-letter write failed: ") + e.what());
    return false;
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

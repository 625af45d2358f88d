#include "fault_checks.hpp"

#include "e2e_support.hpp"

#include <arpa/inet.h>
#include <hiredis.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include "fault_world.hpp"
#include "kafka_client.hpp"
#include "servers.hpp"

namespace strata::test::faults {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

LogTruth read_log(const std::string& bootstrap, const std::string& topic, int partitions) {
  LogTruth t;
  std::string err;
  rd_kafka_t* rk = strata::test::kafka_client(RD_KAFKA_CONSUMER,
                                              {{"bootstrap.servers", bootstrap},
                                               {"group.id", "faults-log-reader"},  // never joined
                                               {"enable.auto.commit", "false"},
                                               {"log_level", "3"}},
                                              &err);
  if (!rk) return t.error = err, t;
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  int64_t total = 0;
  for (int p = 0; p < partitions; ++p) {
    int64_t lo = -1, hi = -1;
    if (rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &lo, &hi, 30000) != 0) {
      t.error = "no watermarks for partition " + std::to_string(p);
      break;
    }
    t.ends.push_back(hi);
    total += hi - lo;
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  std::map<std::string, int64_t> last;
  if (t.error.empty() && rd_kafka_assign(rk, list) == 0) {
    auto deadline = Clock::now() + std::chrono::seconds(120);
    while (t.records < total && Clock::now() < deadline) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 200);
      if (!m) continue;
      if (!m->err) {
        std::string v(static_cast<const char*>(m->payload), m->len);
        std::string key =
            std::string(kKeyPrefix) + std::string(static_cast<const char*>(m->key), m->key_len);
        int64_t s = seq_of(v);
        auto [it, fresh] = last.emplace(key, s);
        if (!fresh) {
          if (s == it->second)
            t.producer_duplicates++;
          else if (s < it->second)
            t.order_violations++;
          it->second = std::max(it->second, s);
        }
        t.records++;
      }
      rd_kafka_message_destroy(m);
    }
    if (t.records < total)
      t.error =
          "read " + std::to_string(t.records) + " of " + std::to_string(total) + " records back";
  }
  t.max_seq = std::move(last);
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return t;
}

namespace {

redisContext* redis_connect(int port, int timeout_ms) {
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port, tv);
  if (!c || c->err) {
    if (c) redisFree(c);
    return nullptr;
  }
  redisSetTimeout(c, tv);
  return c;
}

redisReply* redis_argv(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
}

}  // namespace

std::optional<Values> redis_mget(int port, const std::vector<std::string>& keys, int timeout_ms) {
  redisContext* c = redis_connect(port, timeout_ms);
  if (!c) return std::nullopt;
  std::vector<std::string> args{"MGET"};
  args.insert(args.end(), keys.begin(), keys.end());
  redisReply* r = redis_argv(c, args);
  std::optional<Values> out;
  if (r && r->type == REDIS_REPLY_ARRAY && r->elements == keys.size()) {
    out.emplace();
    for (size_t i = 0; i < keys.size(); ++i)
      if (r->element[i]->type == REDIS_REPLY_STRING)
        (*out)[keys[i]] = std::string(r->element[i]->str, r->element[i]->len);
  }
  if (r) freeReplyObject(r);
  redisFree(c);
  return out;
}

std::optional<std::vector<int64_t>> redis_watermarks(int port, const std::string& pipeline,
                                                     const std::string& topic, int partitions) {
  std::vector<std::string> keys;
  for (int p = 0; p < partitions; ++p)
    keys.push_back("strata:wm:" + pipeline + "/" + topic + "/" + std::to_string(p));
  auto v = redis_mget(port, keys, 2000);
  if (!v) return std::nullopt;
  std::vector<int64_t> out;
  for (auto& k : keys) {
    auto it = v->find(k);
    out.push_back(it == v->end() ? -1 : std::strtoll(it->second.c_str(), nullptr, 10));
  }
  return out;
}

std::optional<Values> memcached_get(int port, const std::vector<std::string>& keys,
                                    int timeout_ms) {
  int fd = connect_loopback(port, timeout_ms);
  if (fd < 0) return std::nullopt;
  std::optional<Values> out;
  {
    out.emplace();
    auto deadline = Clock::now() + milliseconds(timeout_ms);
    for (size_t i = 0; i < keys.size() && out; i += 50) {  // short lines, many keys each
      std::string req = "get";
      for (size_t j = i; j < keys.size() && j < i + 50; ++j) req += " " + keys[j];
      req += "\r\n";
      if (::write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
        out.reset();
        break;
      }
      std::string buf;
      char chunk[65536];
      while (buf.size() < 5 || buf.compare(buf.size() - 5, 5, "END\r\n") != 0) {
        ssize_t n = Clock::now() < deadline ? ::read(fd, chunk, sizeof chunk) : -1;
        if (n <= 0) {
          out.reset();
          break;
        }
        buf.append(chunk, static_cast<size_t>(n));
      }
      // VALUE <key> <flags> <bytes>\r\n<data>\r\n ... END\r\n
      size_t p = 0;
      while (out && buf.compare(p, 6, "VALUE ") == 0) {
        size_t eol = buf.find("\r\n", p);
        char key[300];
        unsigned flags = 0;
        size_t bytes = 0;
        if (std::sscanf(buf.c_str() + p, "VALUE %299s %u %zu", key, &flags, &bytes) != 3) break;
        (*out)[key] = buf.substr(eol + 2, bytes);
        p = eol + 2 + bytes + 2;
      }
    }
  }
  ::close(fd);
  return out;
}

RollbackWatch::RollbackWatch(int redis_port, int memcached_port, std::vector<std::string> keys)
    : redis_port_(redis_port), memcached_port_(memcached_port), keys_(std::move(keys)) {
  thread_ = std::thread([this] { loop(); });
}

void RollbackWatch::stop() {
  running_ = false;
  if (thread_.joinable()) thread_.join();
}

std::string RollbackWatch::first_rollbacks() {
  std::lock_guard<std::mutex> lock(mu_);
  return first_;
}

void RollbackWatch::loop() {
  auto t0 = Clock::now();
  while (running_) {
    double at = std::chrono::duration<double>(Clock::now() - t0).count();
    if (auto v = redis_mget(redis_port_, keys_, 300)) {
      redis_reads_++;
      for (auto& k : keys_) {
        auto it = v->find(k);
        int64_t s = it == v->end() ? 0 : seq_of(it->second);
        int64_t& last = redis_last_[k];
        if (s < last) {
          if (redis_rollbacks_++ < 5) {
            std::lock_guard<std::mutex> lock(mu_);
            first_ += "  at " + std::to_string(at) + " s: redis " + k + " seq " +
                      std::to_string(s) + " after " + std::to_string(last) + "\n";
          }
        }
        last = std::max(last, s);
      }
    }
    if (auto v = memcached_get(memcached_port_, keys_, 300)) {
      l1_reads_++;
      for (auto& [k, value] : *v) {
        int64_t s = seq_of(value);
        int64_t& last = l1_last_[k];
        if (s < last) l1_regressions_++;
        last = std::max(last, s);
      }
    }
    std::this_thread::sleep_for(milliseconds(25));
  }
}

}  // namespace strata::test::faults

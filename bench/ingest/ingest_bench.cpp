// bench/ingest: what strata's write path costs, as ratios measured in one run on one machine.
//   (a) consume-only ceiling: a librdkafka consumer with an empty handler;
//   (b) the naive loop of the seed design: consume, then one Redis SET and one memcached set
//       per record, one round trip each;
//   (c) strata: kafka_source -> Lua key hook -> write_through -> memcached_l1 + redis_l2;
//   (d) strata with the built-in identity key (no Lua).
// Prints records/s for each and the ratios c/a, c/b, c/d. Rates are taken from the first
// record to the last durable ack, so consumer-group joins do not count.
#include <hiredis.h>
#include <libmemcached/memcached.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "common/log.hpp"
#include "runtime/runtime.hpp"
#include "servers.hpp"

using Clock = std::chrono::steady_clock;
namespace st = strata::test;

namespace {

int g_partitions = 32;
long g_records = 200000;
long g_naive_records = 20000;  // the naive loop is slow; its rate is measured on a prefix
const char* kTopic = "bench";

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

rd_kafka_t* consumer(const std::string& bootstrap, const std::string& group) {
  char err[512];
  rd_kafka_conf_t* c = rd_kafka_conf_new();
  rd_kafka_conf_set(c, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_conf_set(c, "group.id", group.c_str(), err, sizeof err);
  rd_kafka_conf_set(c, "auto.offset.reset", "earliest", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* t = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(t, kTopic, RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(rk, t);
  rd_kafka_topic_partition_list_destroy(t);
  return rk;
}

// (a) and (b): returns records/s over `limit` records.
double consume(const std::string& bootstrap, const std::string& group, long limit,
               redisContext* redis, memcached_st* mc) {
  rd_kafka_t* rk = consumer(bootstrap, group);
  long n = 0;
  Clock::time_point first{}, last{};
  while (n < limit) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 1000);
    if (!m) continue;
    if (!m->err) {
      if (n == 0) first = Clock::now();
      if (redis) {
        auto* r = static_cast<redisReply*>(
            redisCommand(redis, "SET %b %b", m->key, m->key_len, m->payload, m->len));
        if (r) freeReplyObject(r);
        memcached_set(mc, static_cast<const char*>(m->key), m->key_len,
                      static_cast<const char*>(m->payload), m->len, 0, 0);
      }
      ++n;
      last = Clock::now();
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return static_cast<double>(n - 1) / seconds(first, last);
}

// (c) and (d): strata's runtime in this process.
double strata_run(const std::string& dir, const std::string& bootstrap, const std::string& group,
                  const std::string& script, const st::ServerProcess& mc,
                  const st::ServerProcess& redis) {
  std::string path = dir + "/" + group + ".toml";
  std::ofstream(path) << "[sources.events]\nmodule = \"kafka_source\"\nbrokers = \"" << bootstrap
                      << "\"\ntopics = [\"" << kTopic << "\"]\ngroup_id = \"" << group
                      << "\"\nbatch_size = 5000\nmax_wait = \"20ms\"\n"
                      << "\n[tiers.l1]\nmodule = \"memcached_l1\"\nservers = [\"" << mc.address()
                      << "\"]\n\n[tiers.l2]\nmodule = \"redis_l2\"\naddress = \"" << redis.address()
                      << "\"\n\n[pipelines.p]\nsource = \"events\"\n"
                      << "tiers = [\"l1\", \"l2\"]\n"
                      << (script.empty() ? "" : "script = \"" + script + "\"\n");
  strata::Diagnostics diags;
  auto rt = strata::Runtime::load(path, strata::Runtime::Mode::Run, diags);
  if (!rt) {
    std::fprintf(stderr, "%s", diags.str().c_str());
    std::exit(1);
  }
  if (auto r = rt->start(); !r) {
    std::fprintf(stderr, "%s\n", r.error().c_str());
    std::exit(1);
  }
  const auto& stats = rt->pipelines().front()->stats();
  Clock::time_point first{};
  uint64_t first_count = 0;
  while (stats.keys_written.load() < static_cast<uint64_t>(g_records)) {
    if (first_count == 0 && stats.records.load() > 0) {
      first = Clock::now();
      first_count = stats.records.load();
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  Clock::time_point last = Clock::now();
  rt->stop();
  return static_cast<double>(g_records - static_cast<long>(first_count)) / seconds(first, last);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) g_records = std::atol(argv[1]);
  if (argc > 2) g_partitions = std::atoi(argv[2]);
  strata::log::set_level(STRATA_LOG_WARN);
  setenv("STRATA_MODULES_PATH", STRATA_BENCH_MODULES_DIR, 0);
  char tmpl[] = "/tmp/strata-bench-XXXXXX";
  std::string dir = mkdtemp(tmpl);

  st::ServerProcess mc(st::ServerProcess::Kind::Memcached);
  st::ServerProcess redis(st::ServerProcess::Kind::Redis);
  if (!mc.start() || !redis.start()) return 1;

  // The mock cluster lives in this process; a producer fills it before any measurement.
  char err[512];
  rd_kafka_conf_t* pc = rd_kafka_conf_new();
  rd_kafka_conf_set(pc, "linger.ms", "20", err, sizeof err);
  rd_kafka_t* owner = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_dup(pc), err, sizeof err);
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(owner, 1);
  rd_kafka_mock_topic_create(cluster, kTopic, g_partitions, 1);
  std::string bootstrap = rd_kafka_mock_cluster_bootstraps(cluster);
  rd_kafka_conf_set(pc, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof err);
  for (long i = 0; i < g_records; ++i) {
    std::string key = "u" + std::to_string(i % 50000);
    std::string value =
        "{\"user\":\"" + key +
        "\",\"event\":\"page_view\",\"page\":\"/pricing\",\"seq\":" + std::to_string(i) + "}";
    while (rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(kTopic),
                             RD_KAFKA_V_KEY(key.data(), key.size()),
                             RD_KAFKA_V_VALUE(value.data(), value.size()),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
      rd_kafka_poll(producer, 10);
  }
  rd_kafka_flush(producer, 60000);
  rd_kafka_destroy(producer);

  std::ofstream(dir + "/keys.lua")
      << "local decode = strata.json.decode\n"
         "function key(r)\n  local ev = decode(r.value)\n  return \"user:\" .. ev.user\nend\n";

  std::printf(
      "ingest benchmark: %ld records (%d partitions, ~90 bytes each), memcached %s, "
      "redis %s, %u cores\n",
      g_records, g_partitions, mc.address().c_str(), redis.address().c_str(),
      std::thread::hardware_concurrency());
  double a = consume(bootstrap, "bench-a", g_records, nullptr, nullptr);
  std::printf("(a) consume only, empty handler      %10.0f records/s\n", a);

  redisContext* rc = redisConnect("127.0.0.1", redis.port());
  std::string mcconf = "--SERVER=" + mc.address();
  memcached_st* m = memcached(mcconf.c_str(), mcconf.size());
  double b = consume(bootstrap, "bench-b", g_naive_records, rc, m);
  std::printf("(b) naive: one SET + one set/record  %10.0f records/s  (first %ld records)\n", b,
              g_naive_records);
  redisFree(rc);
  memcached_free(m);

  double c = strata_run(dir, bootstrap, "bench-c", "keys.lua", mc, redis);
  std::printf("(c) strata, Lua key hook, L1 + L2    %10.0f records/s\n", c);
  double d = strata_run(dir, bootstrap, "bench-d", "", mc, redis);
  std::printf("(d) strata, identity key, L1 + L2    %10.0f records/s\n", d);
  std::printf(
      "ratios: c/a = %.2f (target >= 0.6)   c/b = %.1f (target >= 5)   c/d = %.2f "
      "(target >= 0.9)\n",
      c / a, c / b, c / d);

  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(owner);
  std::system(("rm -rf '" + dir + "'").c_str());
  return 0;
}

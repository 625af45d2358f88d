// bench/ingest: what strata's write path costs, as ratios measured in one run on one machine.
//   (a) consume-only ceiling: a librdkafka consumer with an empty handler;
//   (b) the naive loop of the seed design: consume, then one Redis SET and one memcached set
//       per record, one round trip each;
//   (c) strata: kafka_source -> Lua key hook -> write_through -> memcached_l1 + redis_l2;
//   (d) strata with the built-in identity key (no Lua);
//   (e) the hand-tuned loop a careful engineer writes with the same clients and no Lua: batches
//       of 5000 (rd_kafka_consume_batch_queue, queued.min.messages=1000000,
//       fetch.wait.max.ms=5), pipelined Redis SETs, buffered memcached sets flushed every 100,
//       offsets stored after the Redis replies; identity keys as in (d);
//   (f) hot keys: (d) and (c) over a topic of the same size with only 1,000 distinct keys, where
//       coalescing a batch's writes per key pays;
//   (g) (c) with the key read by strata.json.get instead of strata.json.decode (no table);
//   (h) (c) without Lua: the same key from the pipeline option key = "user:{value.user}".
// Prints records/s for each and the ratios c/a, c/b, c/d, c/e, hot/a, g/d, g/e, h/d. Rates are taken
// from the first record to the last durable ack, so consumer-group joins do not count. (c), (d),
// (e), (g) and (h) run in INGEST_ROUNDS alternating rounds (default 5); their figures are the rounds'
// medians.
#include <hiredis.h>
#include <libmemcached/memcached.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench_report.hpp"
#include "machine_cpu.hpp"
#include "common/log.hpp"
#include "runtime/runtime.hpp"
#include "servers.hpp"

using Clock = std::chrono::steady_clock;
namespace st = strata::test;

namespace {

int g_partitions = 32;
long g_records = 200000;
long g_naive_records = 20000;  // the naive loop is slow; its rate is measured on a prefix
long g_keys = 50000;
long g_hot_keys = 1000;
const char* kTopic = "bench";
const char* kHotTopic = "bench-hot";

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

using Props = std::vector<std::pair<const char*, const char*>>;

rd_kafka_t* consumer(const std::string& bootstrap, const std::string& group,
                     const Props& extra = {}) {
  char err[512];
  rd_kafka_conf_t* c = rd_kafka_conf_new();
  rd_kafka_conf_set(c, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_conf_set(c, "group.id", group.c_str(), err, sizeof err);
  rd_kafka_conf_set(c, "auto.offset.reset", "earliest", err, sizeof err);
  for (const auto& [k, v] : extra)
    if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "%s=%s: %s\n", k, v, err);
      std::exit(1);
    }
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

// (e): the hand-tuned loop. Per batch: append every SET to hiredis's output buffer and send it,
// queue the memcached sets (noreply, flushed every 100) while Redis works, read the Redis
// replies, then store each partition's next offset (committed in the background).
double hand_tuned(const std::string& bootstrap, const std::string& group, redisContext* redis,
                  memcached_st* mc) {
  rd_kafka_t* rk = consumer(bootstrap, group,
                            {{"queued.min.messages", "1000000"},
                             {"fetch.wait.max.ms", "5"},
                             {"enable.auto.offset.store", "false"}});
  rd_kafka_queue_t* queue = rd_kafka_queue_get_consumer(rk);
  memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_BUFFER_REQUESTS, 1);
  memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_NOREPLY, 1);
  const size_t kBatch = 5000;
  std::vector<rd_kafka_message_t*> msgs(kBatch);
  std::vector<int64_t> next(static_cast<size_t>(g_partitions), -1);
  std::vector<std::string> keys;
  long n = 0, first_batch = 0, errors = 0;
  Clock::time_point first{}, last{};
  while (n < g_records) {
    ssize_t got = rd_kafka_consume_batch_queue(queue, 100, msgs.data(), kBatch);
    if (got <= 0) continue;
    if (n == 0) first = Clock::now();
    keys.clear();
    for (ssize_t i = 0; i < got; ++i) {
      const rd_kafka_message_t* m = msgs[i];
      if (m->err) continue;
      // The identity key of (d): the record's key, copied once as strata does.
      const std::string& key = keys.emplace_back(static_cast<const char*>(m->key), m->key_len);
      redisAppendCommand(redis, "SET %b %b", key.data(), key.size(), m->payload, m->len);
    }
    for (int done = 0; !done;)
      if (redisBufferWrite(redis, &done) != REDIS_OK) std::exit(1);
    for (size_t i = 0, k = 0; i < static_cast<size_t>(got); ++i) {
      const rd_kafka_message_t* m = msgs[i];
      if (m->err) continue;
      memcached_set(mc, keys[k].data(), keys[k].size(), static_cast<const char*>(m->payload),
                    m->len, 0, 0);
      if (++k % 100 == 0) memcached_flush_buffers(mc);
    }
    memcached_flush_buffers(mc);
    for (size_t i = 0; i < keys.size(); ++i) {
      void* reply = nullptr;
      if (redisGetReply(redis, &reply) != REDIS_OK) std::exit(1);
      if (static_cast<redisReply*>(reply)->type == REDIS_REPLY_ERROR) ++errors;
      freeReplyObject(reply);
    }
    rd_kafka_topic_partition_list_t* offsets = rd_kafka_topic_partition_list_new(g_partitions);
    for (ssize_t i = 0; i < got; ++i) {
      rd_kafka_message_t* m = msgs[i];
      if (!m->err) {
        next[static_cast<size_t>(m->partition)] = m->offset + 1;
        ++n;
      }
      rd_kafka_message_destroy(m);
    }
    for (int p = 0; p < g_partitions; ++p)
      if (next[static_cast<size_t>(p)] >= 0) {
        rd_kafka_topic_partition_list_add(offsets, kTopic, p)->offset =
            next[static_cast<size_t>(p)];
        next[static_cast<size_t>(p)] = -1;
      }
    rd_kafka_offsets_store(rk, offsets);
    rd_kafka_topic_partition_list_destroy(offsets);
    last = Clock::now();
    if (first_batch == 0) first_batch = n;
  }
  if (errors) std::fprintf(stderr, "(e): %ld Redis errors\n", errors);
  rd_kafka_queue_destroy(queue);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  // As in strata_run: the clock starts once the first batch is in hand.
  return static_cast<double>(n - first_batch) / seconds(first, last);
}

// The median of `v` (the mean of the middle two for an even count); `none` when empty.
double median(std::vector<double> v, double none) {
  if (v.empty()) return none;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct StrataRun {
  double rate = 0;  // records/s
  uint64_t batches = 0;
  double coalesced = 0;  // share of the key writes coalesced away
  double idle = 0;       // share of the machine's CPU left idle during the run
  double cpu_us = 0;     // machine CPU (all processes) per record, µs
  // "  (N batches of M, X% coalesced; idle X%, Y µs CPU/record)"
  std::string detail() const {
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "  (%llu batches of %.0f, %.0f%% coalesced; idle %.0f%%, %.2f us CPU/record)",
                  static_cast<unsigned long long>(batches),
                  batches ? static_cast<double>(g_records) / static_cast<double>(batches) : 0.0,
                  100.0 * coalesced, 100.0 * idle, cpu_us);
    return buf;
  }
};

// (c), (d) and (f): strata's runtime in this process. Each run has its own pipeline name, so
// its own partition watermarks in Redis (another run's would make it skip every record).
StrataRun strata_run(const std::string& dir, const std::string& bootstrap, const char* topic,
                     const std::string& group, const std::string& script,
                     const st::ServerProcess& mc, const st::ServerProcess& redis,
                     const std::string& key_template = "") {
  std::string path = dir + "/" + group + ".toml";
  std::ofstream(path) << "[sources.events]\nmodule = \"kafka_source\"\nbrokers = \"" << bootstrap
                      << "\"\ntopics = [\"" << topic << "\"]\ngroup_id = \"" << group
                      << "\"\nbatch_size = 5000\nmax_wait = \"20ms\"\n"
                      << "\n[tiers.l1]\nmodule = \"memcached_l1\"\nservers = [\"" << mc.address()
                      << "\"]\n\n[tiers.l2]\nmodule = \"redis_l2\"\naddress = \"" << redis.address()
                      << "\"\n\n[pipelines." << group << "]\nsource = \"events\"\n"
                      << "tiers = [\"l1\", \"l2\"]\n"
                      << (script.empty() ? "" : "script = \"" + script + "\"\n")
                      << (key_template.empty() ? "" : "key = \"" + key_template + "\"\n")
                      // INGEST_PIPELINE="overlap_l1 = true" and the like: options to compare.
                      << (std::getenv("INGEST_PIPELINE") ? std::getenv("INGEST_PIPELINE") : "")
                      << "\n";
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
  strata::bench::MachineCpu cpu0;
  // Every record is one key op: acknowledged by Redis, or coalesced away before the write.
  while (stats.keys_written.load() + stats.coalesced.load() + stats.stale_skipped.load() <
         static_cast<uint64_t>(g_records)) {
    if (first_count == 0 && stats.records.load() > 0) {
      first = Clock::now();
      first_count = stats.records.load();
      cpu0 = strata::bench::MachineCpu::now();
    }
    // Every 2 ms: at 0.5 ms this poller took ~9 % of the CPU that strata's own threads used
    // (perf, 2 cores); 2 ms late at either end is under 1 % of a run.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  Clock::time_point last = Clock::now();
  strata::bench::MachineCpu cpu1 = strata::bench::MachineCpu::now();
  StrataRun run;
  strata::bench::CpuSpent spent;
  spent.add(cpu0, cpu1);
  run.idle = spent.idle_share();
  run.cpu_us = spent.us_per(static_cast<double>(g_records - static_cast<long>(first_count)));
  run.batches = stats.batches.load();
  run.coalesced = static_cast<double>(stats.coalesced.load()) / static_cast<double>(g_records);
  if (stats.stale_skipped.load() || stats.dead_letters.load())
    std::fprintf(stderr, "%s: %llu stale skipped, %llu dead letters\n", group.c_str(),
                 static_cast<unsigned long long>(stats.stale_skipped.load()),
                 static_cast<unsigned long long>(stats.dead_letters.load()));
  rt->stop();
  run.rate = static_cast<double>(g_records - static_cast<long>(first_count)) / seconds(first, last);
  return run;
}

// `records` JSON records over `keys` distinct keys "<prefix>N" (Kafka key = the user).
void produce(rd_kafka_t* producer, const char* topic, const char* prefix, long keys) {
  for (long i = 0; i < g_records; ++i) {
    std::string key = prefix + std::to_string(i % keys);
    std::string value =
        "{\"user\":\"" + key +
        "\",\"event\":\"page_view\",\"page\":\"/pricing\",\"seq\":" + std::to_string(i) + "}";
    while (rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic),
                             RD_KAFKA_V_KEY(key.data(), key.size()),
                             RD_KAFKA_V_VALUE(value.data(), value.size()),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
      rd_kafka_poll(producer, 10);
  }
}

// Coalescing must not cost correctness: the last record of a hot key is what Redis holds.
void check_last(const st::ServerProcess& redis, const std::string& prefix) {
  long k = g_hot_keys - 1;  // the hot key "h<k>"; its last record is seq i
  long i = k + (g_records - 1 - k) / g_hot_keys * g_hot_keys;
  std::string key = prefix + "h" + std::to_string(k);
  std::string want = "\"seq\":" + std::to_string(i) + "}";
  std::string got = redis.redis_cli("GET " + key);
  if (got.find(want) == std::string::npos)
    std::fprintf(stderr, "WRONG: Redis %s = %s, expected ...%s\n", key.c_str(), got.c_str(),
                 want.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) g_records = std::atol(argv[1]);
  if (argc > 2) g_partitions = std::atoi(argv[2]);
  if (argc > 3) g_keys = std::atol(argv[3]);
  if (argc > 4) g_hot_keys = std::atol(argv[4]);
  strata::bench::Report report("bench_ingest", argc, argv);
  report.param("records", std::to_string(g_records));
  report.param("partitions", std::to_string(g_partitions));
  report.param("keys", std::to_string(g_keys));
  report.param("hot_keys", std::to_string(g_hot_keys));
  if (const char* p = std::getenv("INGEST_PIPELINE")) report.param("INGEST_PIPELINE", p);
  if (const char* o = std::getenv("INGEST_ONLY")) report.param("INGEST_ONLY", o);
  strata::log::set_level(STRATA_LOG_WARN);
  setenv("STRATA_MODULES_PATH", STRATA_BENCH_MODULES_DIR, 0);
  char tmpl[] = "/tmp/strata-bench-XXXXXX";
  std::string dir = mkdtemp(tmpl);

  st::ServerProcess mc(st::ServerProcess::Kind::Memcached);
  st::ServerProcess redis(st::ServerProcess::Kind::Redis);
  if (!mc.start() || !redis.start()) return 1;

  // INGEST_ONLY=ce runs only (c) and (e), e.g. under perf; the ratios of the others print nan.
  const char* only = std::getenv("INGEST_ONLY");
  auto want = [only](char run) { return !only || std::strchr(only, run); };

  // The mock cluster lives in this process; a producer fills it before any measurement.
  char err[512];
  rd_kafka_conf_t* pc = rd_kafka_conf_new();
  rd_kafka_conf_set(pc, "linger.ms", "20", err, sizeof err);
  rd_kafka_t* owner = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_dup(pc), err, sizeof err);
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(owner, 1);
  rd_kafka_mock_topic_create(cluster, kTopic, g_partitions, 1);
  rd_kafka_mock_topic_create(cluster, kHotTopic, g_partitions, 1);
  std::string bootstrap = rd_kafka_mock_cluster_bootstraps(cluster);
  rd_kafka_conf_set(pc, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof err);
  produce(producer, kTopic, "u", g_keys);
  if (want('f')) produce(producer, kHotTopic, "h", g_hot_keys);
  rd_kafka_flush(producer, 60000);
  rd_kafka_destroy(producer);

  std::ofstream(dir + "/keys.lua")
      << "local decode = strata.json.decode\n"
         "function key(r)\n  local ev = decode(r.value)\n  return \"user:\" .. ev.user\nend\n";
  std::ofstream(dir + "/keys_get.lua")
      << "local get = strata.json.get\n"
         "function key(r)\n  return \"user:\" .. get(r.value, \"user\")\nend\n";

  std::printf(
      "ingest benchmark: %ld records (%d partitions, %ld keys, ~90 bytes each), memcached %s, "
      "redis %s, %u cores\n",
      g_records, g_partitions, g_keys, mc.address().c_str(), redis.address().c_str(),
      std::thread::hardware_concurrency());
  const double skip = std::nan("");
  double a = skip, b = skip, c = skip, d = skip, e = skip, f = skip, fl = skip;
  std::string mcconf = "--SERVER=" + mc.address();
  if (want('a')) {
    a = consume(bootstrap, "bench-a", g_records, nullptr, nullptr);
    std::printf("(a) consume only, empty handler      %10.0f records/s\n", a);
  }
  if (want('b')) {
    redisContext* rc = redisConnect("127.0.0.1", redis.port());
    memcached_st* m = memcached(mcconf.c_str(), mcconf.size());
    b = consume(bootstrap, "bench-b", g_naive_records, rc, m);
    std::printf("(b) naive: one SET + one set/record  %10.0f records/s  (first %ld records)\n", b,
                g_naive_records);
    redisFree(rc);
    memcached_free(m);
  }
  // (c), (d), (e) and (g) in alternating rounds (INGEST_ROUNDS, default 5), each round on fresh
  // consumer groups over the same topic; their figures are the medians of the rounds. One
  // round lasts about half a second per target, so the machine's noise moves single rounds by
  // 30 % and more; the median of alternating rounds is what the ratios are taken from.
  const int rounds =
      std::max(1, std::atoi(std::getenv("INGEST_ROUNDS") ? std::getenv("INGEST_ROUNDS") : "5"));
  report.param("rounds", std::to_string(rounds));
  std::vector<double> cs, ds, es, gs, hs;
  std::vector<double> c_cpu, d_cpu, c_idle, d_idle;  // machine CPU per record and idle share
  for (int round = 1; round <= rounds; ++round) {
    const std::string tag = rounds > 1 ? "_r" + std::to_string(round) : "";
    const std::string of = rounds > 1 ? "  [round " + std::to_string(round) + "]" : "";
    if (want('c')) {
      StrataRun r = strata_run(dir, bootstrap, kTopic, "bench_c" + tag, "keys.lua", mc, redis);
      cs.push_back(r.rate);
      c_cpu.push_back(r.cpu_us);
      c_idle.push_back(r.idle);
      std::printf("(c) strata, Lua key hook, L1 + L2    %10.0f records/s%s%s\n", r.rate,
                  r.detail().c_str(), of.c_str());
    }
    if (want('g')) {
      StrataRun r = strata_run(dir, bootstrap, kTopic, "bench_g" + tag, "keys_get.lua", mc, redis);
      gs.push_back(r.rate);
      std::printf("(g) strata, Lua json.get key, L1+L2  %10.0f records/s%s%s\n", r.rate,
                  r.detail().c_str(), of.c_str());
    }
    if (want('h')) {
      StrataRun r = strata_run(dir, bootstrap, kTopic, "bench_h" + tag, "", mc, redis,
                               "user:{value.user}");
      hs.push_back(r.rate);
      std::printf("(h) strata, key template, L1 + L2    %10.0f records/s%s%s\n", r.rate,
                  r.detail().c_str(), of.c_str());
    }
    if (want('d')) {
      StrataRun r = strata_run(dir, bootstrap, kTopic, "bench_d" + tag, "", mc, redis);
      ds.push_back(r.rate);
      d_cpu.push_back(r.cpu_us);
      d_idle.push_back(r.idle);
      std::printf("(d) strata, identity key, L1 + L2    %10.0f records/s%s%s\n", r.rate,
                  r.detail().c_str(), of.c_str());
    }
    if (want('e')) {
      redisContext* rc = redisConnect("127.0.0.1", redis.port());
      memcached_st* m = memcached(mcconf.c_str(), mcconf.size());
      double rate = hand_tuned(bootstrap, "bench_e" + tag, rc, m);
      es.push_back(rate);
      std::printf("(e) hand-tuned loop, identity key    %10.0f records/s%s\n", rate, of.c_str());
      redisFree(rc);
      memcached_free(m);
    }
    if (rounds > 1 && want('c') && want('e'))
      std::printf("    round %d: c/e = %.2f   c/d = %.2f   g/d = %.2f\n", round,
                  cs.back() / es.back(), want('d') ? cs.back() / ds.back() : skip,
                  want('d') && want('g') ? gs.back() / ds.back() : skip);
  }
  c = median(cs, skip);
  d = median(ds, skip);
  e = median(es, skip);
  const double g = median(gs, skip);
  const double h = median(hs, skip);
  if (rounds > 1)
    std::printf(
        "medians of %d rounds: (c) %.0f  (g) %.0f  (h) %.0f  (d) %.0f  (e) %.0f records/s\n",
        rounds, c, g, h, d, e);
  // When no core is left idle, a rate is the machine's CPU over the CPU a record costs, so
  // c/d cannot pass (d)'s CPU per record over (c)'s: what the Lua hook adds bounds it.
  const double cc = median(c_cpu, skip), dc = median(d_cpu, skip);
  if (want('c') && want('d'))
    std::printf(
        "machine CPU per record (medians, every process): (c) %.2f us, (d) %.2f us; idle (c) "
        "%.0f%%, (d) %.0f%%; with the cores the limit, c/d <= %.2f\n",
        cc, dc, 100.0 * median(c_idle, skip), 100.0 * median(d_idle, skip), dc / cc);
  if (want('f')) {
    StrataRun r = strata_run(dir, bootstrap, kHotTopic, "bench_f", "", mc, redis);
    f = r.rate;
    std::printf("(f) hot keys (%ld), identity key      %10.0f records/s%s\n", g_hot_keys, f,
                r.detail().c_str());
    check_last(redis, "");
    r = strata_run(dir, bootstrap, kHotTopic, "bench_fl", "keys.lua", mc, redis);
    fl = r.rate;
    std::printf("(f) hot keys (%ld), Lua key hook      %10.0f records/s%s\n", g_hot_keys, fl,
                r.detail().c_str());
    check_last(redis, "user:");
  }

  std::printf(
      "ratios: c/a = %.2f (target >= 0.6)   c/b = %.1f (target >= 5)   c/d = %.2f "
      "(target >= 0.9)\n"
      "        c/e = %.2f (target >= 0.8)   hot/a = %.2f (target >= 0.5; Lua: %.2f)\n"
      "        with strata.json.get in the key hook: g/d = %.2f   g/e = %.2f\n"
      "        with the key template instead of Lua: h/d = %.2f   h/e = %.2f\n",
      c / a, c / b, c / d, c / e, f / a, fl / a, g / d, g / e, h / d, h / e);
  // Figures of the runs INGEST_ONLY left out are NaN: null in the JSON, no point in the chart.
  const char* rs = "records/s";
  report.figure("(a) consume only", rs, a);
  report.figure("(b) naive loop", rs, b);
  report.figure("(c) strata, Lua keys", rs, c);
  report.figure("(d) strata, identity keys", rs, d);
  report.figure("(c) machine CPU per record", "us", cc);
  report.figure("(d) machine CPU per record", "us", dc);
  report.figure("(e) hand-tuned loop", rs, e);
  report.figure("(g) strata, Lua json.get keys", rs, g);
  report.figure("(h) strata, key template", rs, h);
  report.figure("(f) hot keys, identity", rs, f);
  report.figure("(f) hot keys, Lua", rs, fl);
  report.ratio("c/a", "(c) strata, Lua keys", "(a) consume only", 0.6);
  report.ratio("c/b", "(c) strata, Lua keys", "(b) naive loop", 5);
  report.ratio("c/d", "(c) strata, Lua keys", "(d) strata, identity keys", 0.9);
  report.ratio("c/e", "(c) strata, Lua keys", "(e) hand-tuned loop", 0.8);
  report.ratio("hot/a", "(f) hot keys, identity", "(a) consume only", 0.5);
  report.ratio("g/d", "(g) strata, Lua json.get keys", "(d) strata, identity keys", 0.9);
  report.ratio("g/e", "(g) strata, Lua json.get keys", "(e) hand-tuned loop", 0.8);
  report.ratio("h/d", "(h) strata, key template", "(d) strata, identity keys", 0.9);

  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(owner);
  std::system(("rm -rf '" + dir + "'").c_str());
  return report.write() ? 0 : 1;
}

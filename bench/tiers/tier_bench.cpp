// bench/tiers: what the tier chain costs over the bare clients, as ratios from one run on one
// machine (it starts its own memcached and redis-server on free loopback ports).
//   (1) an L1-hit get through TierChain (memcached_l1) vs a raw libmemcached memcached_get of
//       the same key on the same server, one caller each;
//   (2) pipelined batches of N versioned sets through redis_l2's Tier::execute vs
//       `redis-benchmark -p PORT -P N -t set -n 100000 -q` (also with -c 1: one connection,
//       like the single caller here), plus unversioned sets to show what the version guard
//       (a Lua script per run of versioned ops) costs. The machine is shared and noisy, so it
//       also prints the redis-server CPU time per set (INFO cpu), which client load moves
//       much less: that is the cost the version guard adds on the server.
//   (3) a memcached_l1 pool of 3 with one server stalled (SIGSTOP) and then killed: the
//       throughput of the ops for the other two servers' keys, in batches over every key, as
//       a ratio of the same before the failure (issue 10: within 0.8x).
// Usage: bench_tiers [gets] [batch]   (defaults 50000 and 100)
#include <libmemcached-1.0/memcached.h>
#include <signal.h>

#include <toml++/toml.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "bench_report.hpp"
#include "chain/tier.hpp"
#include "chain/tier_chain.hpp"
#include "common/log.hpp"
#include "config/config.hpp"
#include "loader/loader.hpp"
#include "servers.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using strata::test::ServerProcess;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::unique_ptr<strata::ModuleInstance> start_instance(strata::ModuleLoader& loader,
                                                       const std::string& module,
                                                       const std::string& instance,
                                                       const toml::table& options) {
  auto mod = loader.load(module);
  if (!mod.ok()) {
    std::fprintf(stderr, "bench_tiers: %s\n", mod.error().c_str());
    return nullptr;
  }
  const strata::LoadedModule* m = mod.value();
  strata::Diagnostics diags;
  auto opts = strata::validate_table(options, "bench_tiers", instance, m->desc->options,
                                     m->desc->option_count, {}, diags);
  if (!opts) {
    std::fprintf(stderr, "bench_tiers: %s", diags.str().c_str());
    return nullptr;
  }
  auto inst = strata::ModuleInstance::create(*m, instance, "", std::move(*opts));
  if (!inst.ok()) {
    std::fprintf(stderr, "bench_tiers: %s\n", inst.error().c_str());
    return nullptr;
  }
  auto started = inst.value()->start();
  if (!started.ok()) {
    std::fprintf(stderr, "bench_tiers: %s\n", started.error().c_str());
    return nullptr;
  }
  return std::move(inst.value());
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// "SET: 123456.78 requests per second, p50=..." -> 123456.78
double redis_benchmark(int port, int pipeline, int clients) {
  std::string cmd = "redis-benchmark -p " + std::to_string(port) + " -P " +
                    std::to_string(pipeline) + " -t set -n 100000 -q";
  if (clients > 0) cmd += " -c " + std::to_string(clients);
  std::string out = strata::test::run_command(cmd + " 2>/dev/null");
  size_t at = out.rfind("SET: ");
  if (at == std::string::npos) return -1;
  return std::atof(out.c_str() + at + 5);
}

// CPU seconds the redis-server process used so far (INFO cpu: user + sys, main thread and
// background threads): covers reading, parsing and replying too, not only command execution.
double server_cpu_seconds(const ServerProcess& redis) {
  std::string info = redis.redis_cli("INFO cpu");
  auto field = [&](const char* name) {
    size_t at = info.find(name);
    return at == std::string::npos ? 0.0 : std::atof(info.c_str() + at + std::strlen(name));
  };
  return field("used_cpu_user:") + field("used_cpu_sys:");
}

// Which of `ports` holds `key` (a raw libmemcached get per server), or -1.
int owner_of(const std::vector<int>& ports, const std::string& key) {
  for (size_t i = 0; i < ports.size(); ++i) {
    memcached_st* m = memcached_create(nullptr);
    memcached_server_add(m, "127.0.0.1", static_cast<in_port_t>(ports[i]));
    size_t len = 0;
    uint32_t flags = 0;
    memcached_return_t rc;
    char* v = memcached_get(m, key.data(), key.size(), &len, &flags, &rc);
    free(v);
    memcached_free(m);
    if (v) return int(i);
  }
  return -1;
}

struct PoolRates {
  double before = 0, stalled = 0, killed = 0;  // ops/s of the live servers' keys
};

// (3): batches of `batch` ops (gets and sets alternating) over keys of all three servers;
// counts only the ops of servers 0 and 2. Returns zeros when something failed.
PoolRates pool_failure(strata::ModuleLoader& loader, int batch) {
  PoolRates out;
  ServerProcess s0(ServerProcess::Kind::Memcached), s1(ServerProcess::Kind::Memcached),
      s2(ServerProcess::Kind::Memcached);
  if (!s0.start() || !s1.start() || !s2.start()) return out;
  toml::array servers{s0.address(), s1.address(), s2.address()};
  auto inst = start_instance(loader, "memcached_l1", "tiers.pool",
                             toml::table{{"servers", servers}, {"io_timeout", "200ms"}});
  if (!inst) return out;
  strata::Tier tier(*inst, {});
  std::vector<std::string> keys;
  std::vector<int> owner;
  for (int i = 0; i < batch * 3; ++i) keys.push_back("bench:pool:" + std::to_string(i));
  std::vector<strata_tier_op> ops;
  std::vector<strata::OpResult> results;
  for (auto& k : keys) ops.push_back(strata::make_op(STRATA_TIER_SET, k, "v"));
  if (!tier.execute(ops, results)) return out;
  std::vector<int> ports{s0.port(), s1.port(), s2.port()};
  for (auto& k : keys) owner.push_back(owner_of(ports, k));
  // Rate of the live servers' ops over `rounds` batches; each batch is `batch` keys in turn.
  auto measure = [&](long rounds) {
    long live = 0;
    auto t0 = Clock::now();
    for (long r = 0; r < rounds; ++r) {
      ops.clear();
      std::vector<size_t> which;
      for (int i = 0; i < batch; ++i) {
        size_t k = size_t((r * batch + i) % long(keys.size()));
        which.push_back(k);
        ops.push_back(r % 2 ? strata::make_op(STRATA_TIER_SET, keys[k], "v")
                            : strata::make_op(STRATA_TIER_GET, keys[k]));
      }
      if (!tier.execute(ops, results)) return -1.0;
      for (size_t i = 0; i < ops.size(); ++i) {
        if (owner[which[i]] == 1) continue;
        if (ops[i].status != STRATA_OK) return -1.0;
        ++live;
      }
    }
    return double(live) / seconds_since(t0);
  };
  const long rounds = 3000;
  measure(rounds / 10);
  out.before = measure(rounds);
  ::kill(s1.pid(), SIGSTOP);
  measure(2);  // the first batches pay the stalled server's timeout and close it
  out.stalled = measure(rounds);
  ::kill(s1.pid(), SIGCONT);
  s1.kill();
  measure(2);
  out.killed = measure(rounds);
  return out;
}

// (1) as figures: rates from median latencies, and the chain's ratio to the raw client.
void record(strata::bench::Report& report, double chain_hit, double raw_hit, double tier_hit) {
  report.figure("TierChain::get, L1 hit", "gets/s", chain_hit);
  report.figure("raw memcached_get", "gets/s", raw_hit);
  report.figure("Tier::execute GET alone", "gets/s", tier_hit);
  report.ratio("chain/raw L1-hit get", "TierChain::get, L1 hit", "raw memcached_get");
}

}  // namespace

int main(int argc, char** argv) {
  long gets = argc > 1 ? std::atol(argv[1]) : 50000;
  int batch = argc > 2 ? std::atoi(argv[2]) : 100;
  strata::bench::Report report("bench_tiers", argc, argv);
  report.param("gets", std::to_string(gets));
  report.param("batch", std::to_string(batch));
  strata::log::set_level(STRATA_LOG_WARN);

  ServerProcess memcached(ServerProcess::Kind::Memcached);
  ServerProcess redis(ServerProcess::Kind::Redis);
  if (!memcached.start() || !redis.start()) return 1;

  std::vector<std::string> path = strata::ModuleLoader::default_search_path("");
  path.insert(path.begin(), STRATA_BENCH_MODULES_DIR);
  strata::ModuleLoader loader(path);
  auto l1_inst = start_instance(loader, "memcached_l1", "tiers.l1",
                                toml::table{{"servers", toml::array{memcached.address()}}});
  toml::table l2_options{{"address", redis.address()}, {"command_timeout", "5s"}};
  // For A/B runs of redis_l2's script batching (its default is 100 ops per EVALSHA).
  if (const char* vb = std::getenv("STRATA_BENCH_VERSIONED_BATCH"))
    l2_options.insert("versioned_batch", std::atoll(vb));
  auto l2_inst = start_instance(loader, "redis_l2", "tiers.l2", l2_options);
  if (!l1_inst || !l2_inst) return 1;
  strata::Tier l1(*l1_inst, {});
  strata::Tier l2(*l2_inst, {});
  strata::TierChain chain({&l1, &l2}, {});

  // ---- (1) L1-hit get --------------------------------------------------------------------
  const std::string key = "bench:user:42";
  const std::string value(100, 'v');
  if (!chain.set(key, value).ok()) return 1;

  memcached_st* raw = memcached_create(nullptr);
  memcached_server_add(raw, "127.0.0.1", static_cast<in_port_t>(memcached.port()));

  auto chain_get = [&](long) {
    strata::GetResult r = chain.get(key);
    return r.status == STRATA_OK && r.tier == "tiers.l1" && r.value.size() == value.size();
  };
  auto raw_get = [&](long) {
    size_t len = 0;
    uint32_t flags = 0;
    memcached_return_t rc;
    char* v = memcached_get(raw, key.data(), key.size(), &len, &flags, &rc);
    bool ok = v && len == value.size();
    free(v);
    return ok;
  };
  // Where the difference goes: the tier alone, without the chain around it.
  std::vector<strata_tier_op> get_ops(1);
  std::vector<strata::OpResult> get_results;
  auto tier_get = [&](long) {
    get_ops[0] = strata::make_op(STRATA_TIER_GET, key);
    return l1.execute(get_ops, get_results) && get_ops[0].status == STRATA_OK;
  };
  for (long i = 0; i < gets / 10; ++i)  // warm up connections and caches
    if (!chain_get(i) || !raw_get(i) || !tier_get(i)) return 1;
  // The machine is shared and noisy: interleave the three clients call by call and compare
  // median latencies, so a burst of noise hits all of them alike.
  std::vector<std::function<bool(long)>> clients = {chain_get, raw_get, tier_get};
  std::vector<std::vector<double>> lat(clients.size());
  for (auto& l : lat) l.reserve(gets);
  for (long i = 0; i < gets; ++i) {
    for (size_t c = 0; c < clients.size(); ++c) {
      size_t which = (c + i) % clients.size();
      auto t0 = Clock::now();
      if (!clients[which](i)) {
        std::fprintf(stderr, "bench_tiers: a get failed\n");
        return 1;
      }
      lat[which].push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
  }
  memcached_free(raw);
  // Rates from the median latency of one call.
  double chain_hit = 1 / median(lat[0]), raw_hit = 1 / median(lat[1]);
  double tier_hit = 1 / median(lat[2]);
  if (chain_hit <= 0 || raw_hit <= 0) {
    std::fprintf(stderr, "bench_tiers: a get failed\n");
    return 1;
  }

  // ---- (2) pipelined sets ----------------------------------------------------------------
  const long total_sets = 100000;
  const std::string small_value = "xxx";  // redis-benchmark's default -d 3
  std::vector<std::string> keys(batch);
  for (int i = 0; i < batch; ++i) keys[i] = "bench:set:" + std::to_string(i);
  std::vector<strata_tier_op> ops(batch);
  std::vector<strata::OpResult> results;
  uint64_t version = 1;
  std::vector<double> v_server_us, p_server_us;  // server time per set
  auto run_sets = [&](bool versioned) {
    long rounds = total_sets / batch;
    double cpu0 = server_cpu_seconds(redis);
    auto t0 = Clock::now();
    for (long r = 0; r < rounds; ++r) {
      ++version;
      for (int i = 0; i < batch; ++i)
        ops[i] = strata::make_op(STRATA_TIER_SET, keys[i], small_value, 0, versioned ? version : 0);
      if (!l2.execute(ops, results)) return -1.0;
      for (auto& op : ops)
        if (op.status != STRATA_OK) return -1.0;
    }
    double rate = static_cast<double>(rounds * batch) / seconds_since(t0);
    double us = (server_cpu_seconds(redis) - cpu0) * 1e6;
    (versioned ? v_server_us : p_server_us).push_back(us / static_cast<double>(rounds * batch));
    return rate;
  };
  run_sets(true);  // warm up (script load, connections)
  v_server_us.clear();
  // Alternate the four measurements over a few rounds and keep the medians (noise, again).
  std::vector<double> v_rates, p_rates, rb_rates, rb1_rates;
  for (int round = 0; round < 3; ++round) {
    v_rates.push_back(run_sets(true));
    p_rates.push_back(run_sets(false));
    rb_rates.push_back(redis_benchmark(redis.port(), batch, 0));
    rb1_rates.push_back(redis_benchmark(redis.port(), batch, 1));
  }
  double versioned_sets = median(v_rates), plain_sets = median(p_rates);
  double rb_default = median(rb_rates), rb_one = median(rb1_rates);
  if (*std::min_element(v_rates.begin(), v_rates.end()) <= 0 ||
      *std::min_element(p_rates.begin(), p_rates.end()) <= 0) {
    std::fprintf(stderr, "bench_tiers: a set failed\n");
    return 1;
  }

  PoolRates pool = pool_failure(loader, batch);

  std::printf("bench_tiers (memcached %s, redis %s; %ld gets, batches of %d)\n",
              memcached.address().c_str(), redis.address().c_str(), gets, batch);
  std::printf("(1) L1-hit get, one caller, interleaved call by call; median latency\n");
  std::printf("    TierChain::get (memcached_l1)      %10.0f gets/s  %7.1f us/get\n", chain_hit,
              1e6 / chain_hit);
  std::printf("    raw libmemcached memcached_get     %10.0f gets/s  %7.1f us/get\n", raw_hit,
              1e6 / raw_hit);
  std::printf("    ratio chain/raw                    %10.2f\n", chain_hit / raw_hit);
  std::printf("    breakdown: Tier::execute GET alone %10.0f gets/s  %7.1f us/get\n", tier_hit,
              1e6 / tier_hit);
  std::printf("(2) pipelined sets, batches of %d, one caller; median of 3 rounds\n", batch);
  std::printf("    Tier::execute redis_l2, versioned  %10.0f sets/s\n", versioned_sets);
  std::printf("    Tier::execute redis_l2, plain      %10.0f sets/s\n", plain_sets);
  std::printf("    redis-server CPU per versioned set %10.2f us\n", median(v_server_us));
  std::printf("    redis-server CPU per plain set     %10.2f us\n", median(p_server_us));
  std::printf("    redis-benchmark -P %d -t set (50 clients) %10.0f sets/s\n", batch, rb_default);
  std::printf("    redis-benchmark -P %d -t set -c 1        %10.0f sets/s\n", batch, rb_one);
  if (rb_default > 0 && rb_one > 0) {
    std::printf("    ratio versioned/redis-benchmark    %10.2f (50 clients)  %.2f (-c 1)\n",
                versioned_sets / rb_default, versioned_sets / rb_one);
    std::printf("    ratio plain/redis-benchmark        %10.2f (50 clients)  %.2f (-c 1)\n",
                plain_sets / rb_default, plain_sets / rb_one);
  } else {
    std::printf("    redis-benchmark did not run (is it installed?)\n");
  }
  record(report, chain_hit, raw_hit, tier_hit);
  report.figure("redis_l2 versioned sets", "sets/s", versioned_sets);
  report.figure("redis_l2 plain sets", "sets/s", plain_sets);
  report.figure("redis-server CPU per versioned set", "us", median(v_server_us));
  report.figure("redis-server CPU per plain set", "us", median(p_server_us));
  report.figure("redis-benchmark -t set (50 clients)", "sets/s", rb_default > 0 ? rb_default : NAN);
  report.figure("redis-benchmark -t set -c 1", "sets/s", rb_one > 0 ? rb_one : NAN);
  report.ratio("versioned/redis-benchmark", "redis_l2 versioned sets",
               "redis-benchmark -t set (50 clients)");
  report.ratio("plain/redis-benchmark", "redis_l2 plain sets",
               "redis-benchmark -t set (50 clients)");
  std::printf("(3) memcached_l1 pool of 3, batches of %d over every key; ops/s of the two live\n"
              "    servers' keys\n", batch);
  if (pool.before <= 0 || pool.stalled <= 0 || pool.killed <= 0) {
    std::printf("    failed (an op of a live server did not succeed)\n");
    report.write();
    return 1;
  }
  report.figure("pool, all three up", "ops/s", pool.before);
  report.figure("pool, one stalled", "ops/s", pool.stalled);
  report.figure("pool, one killed", "ops/s", pool.killed);
  report.ratio("pool one stalled / all up", "pool, one stalled", "pool, all three up", 0.8);
  report.ratio("pool one killed / all up", "pool, one killed", "pool, all three up", 0.8);
  std::printf("    all three up                       %10.0f ops/s\n", pool.before);
  std::printf("    one stalled (SIGSTOP)              %10.0f ops/s  ratio %.2f\n", pool.stalled,
              pool.stalled / pool.before);
  std::printf("    one killed                         %10.0f ops/s  ratio %.2f\n", pool.killed,
              pool.killed / pool.before);
  return report.write() ? 0 : 1;
}

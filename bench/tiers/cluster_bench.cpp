// bench/tiers: redis_l2 batch throughput on one redis-server against a 3-master Redis Cluster
// on loopback (issue 10 item 3). One caller runs batches shaped like the pipeline's (5000
// partition-guarded SETs over 8 partitions, keys spread over every slot; and the same with
// per-key versions) through Tier::execute, and prints writes/s and the redis-server CPU time
// per write summed over the servers (INFO cpu), for each setup, interleaved `rounds` times.
// Usage: bench_cluster [rounds] [batches]   (defaults 3 and 20: 100,000 writes a round)
#include <toml++/toml.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench_report.hpp"
#include "chain/tier.hpp"
#include "common/log.hpp"
#include "config/config.hpp"
#include "loader/loader.hpp"
#include "redis_cluster.hpp"
#include "servers.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using strata::test::ServerProcess;
constexpr int kBatch = 5000, kPartitions = 8;

std::unique_ptr<strata::ModuleInstance> start_l2(strata::ModuleLoader& loader,
                                                 const toml::table& options) {
  auto mod = loader.load("redis_l2");
  if (!mod.ok()) return nullptr;
  strata::Diagnostics diags;
  auto opts =
      strata::validate_table(options, "bench_cluster", "tiers.l2", mod.value()->desc->options,
                             mod.value()->desc->option_count, {}, diags);
  if (!opts) {
    std::fprintf(stderr, "bench_cluster: %s", diags.str().c_str());
    return nullptr;
  }
  auto inst = strata::ModuleInstance::create(*mod.value(), "tiers.l2", "", std::move(*opts));
  if (!inst.ok() || !inst.value()->start().ok()) return nullptr;
  return std::move(inst.value());
}

double cpu_seconds(const std::vector<ServerProcess*>& servers) {
  double sum = 0;
  for (auto* s : servers) {
    std::string info = s->redis_cli("INFO cpu");
    for (const char* f : {"used_cpu_user:", "used_cpu_sys:"}) {
      size_t at = info.find(f);
      if (at != std::string::npos) sum += std::atof(info.c_str() + at + std::strlen(f));
    }
  }
  return sum;
}

struct Result {
  double per_s = -1, cpu_us = -1;
};

// `batches` batches of kBatch SETs; guarded (watermark per partition) or versioned.
Result run(strata::Tier& l2, const std::vector<ServerProcess*>& servers, int batches, bool guarded,
           int64_t* offset) {
  std::vector<std::string> keys(kBatch), names(kPartitions);
  for (int p = 0; p < kPartitions; ++p) names[p] = "bench/t/" + std::to_string(p);
  const std::string value = "{\"seq\":12345,\"payload\":\"abcdefghijklmnop\"}";
  double cpu0 = cpu_seconds(servers);
  auto t0 = Clock::now();
  for (int b = 0; b < batches; ++b) {
    std::vector<strata_tier_op> ops;
    std::vector<strata::OpResult> results;
    ops.reserve(kBatch);
    for (int i = 0; i < kBatch; ++i) {
      int64_t off = (*offset)++;
      keys[i] = "bench:" + std::to_string(off % 100000);
      ops.push_back(strata::make_op(STRATA_TIER_SET, keys[i], value));
      if (guarded) {
        const std::string& g = names[off % kPartitions];
        ops.back().guard_name = {g.data(), g.size()};
        ops.back().guard_offset = off;
      } else {
        ops.back().version = static_cast<uint64_t>(off + 1);
      }
    }
    if (!l2.execute(ops, results)) return {};
    for (auto& op : ops)
      if (op.status != STRATA_OK) {
        std::fprintf(stderr, "bench_cluster: %s\n", op.error);
        return {};
      }
  }
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  double n = double(batches) * kBatch;
  return {n / s, (cpu_seconds(servers) - cpu0) / n * 1e6};
}

// A failed run is -1: the median of the rounds, or NaN (null in the report) if any failed.
double median(std::vector<double> v) {
  if (v.empty() || *std::min_element(v.begin(), v.end()) < 0) return std::nan("");
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 3;
  int batches = argc > 2 ? std::atoi(argv[2]) : 20;
  strata::bench::Report report("bench_cluster", argc, argv);
  report.param("rounds", std::to_string(rounds));
  report.param("batches", std::to_string(batches));
  strata::log::set_level(STRATA_LOG_WARN);
  ServerProcess single(ServerProcess::Kind::Redis);
  strata::test::RedisCluster cluster(3);
  if (!single.start() || !cluster.start()) return 1;
  std::vector<std::string> path = strata::ModuleLoader::default_search_path("");
  path.insert(path.begin(), STRATA_BENCH_MODULES_DIR);
  strata::ModuleLoader loader(path);
  auto one =
      start_l2(loader, toml::table{{"address", single.address()}, {"command_timeout", "5s"}});
  auto many = start_l2(
      loader, toml::table{{"nodes", toml::array{cluster.seed()}}, {"command_timeout", "5s"}});
  if (!one || !many) return 1;
  strata::Tier t1(*one, {}), t3(*many, {});
  std::vector<ServerProcess*> s1{&single}, s3{&cluster.node(0), &cluster.node(1), &cluster.node(2)};
  int64_t off1 = 0, off3 = 0;
  // Per setup and guard, over the rounds: writes/s and server CPU per write; medians go to
  // the report.
  std::vector<double> rate[2][2], cpu[2][2];
  std::printf("%d batches of %d SETs per run, one caller\n", batches, kBatch);
  std::printf("%-10s %-10s %14s %18s\n", "setup", "guard", "writes/s", "server CPU/write");
  for (int r = 0; r < rounds; ++r)
    for (bool guarded : {true, false}) {
      Result a = run(t1, s1, batches, guarded, &off1);
      Result b = run(t3, s3, batches, guarded, &off3);
      const char* g = guarded ? "watermark" : "version";
      std::printf("%-10s %-10s %14.0f %15.2f us\n", "single", g, a.per_s, a.cpu_us);
      std::printf("%-10s %-10s %14.0f %15.2f us\n", "cluster-3", g, b.per_s, b.cpu_us);
      rate[0][guarded].push_back(a.per_s);
      rate[1][guarded].push_back(b.per_s);
      cpu[0][guarded].push_back(a.cpu_us);
      cpu[1][guarded].push_back(b.cpu_us);
    }
  for (int guarded : {1, 0}) {
    std::string g = guarded ? "watermark" : "version";
    for (int setup : {0, 1}) {
      std::string n = std::string(setup ? "cluster-3" : "single") + ", " + g;
      report.figure(n + ", writes/s", "writes/s", median(rate[setup][guarded]));
      report.figure(n + ", server CPU/write", "us", median(cpu[setup][guarded]));
    }
    report.ratio("cluster-3/single, " + g, "cluster-3, " + g + ", writes/s",
                 "single, " + g + ", writes/s");
  }
  return report.write() ? 0 : 1;
}

// bench_lua: what a Lua hook costs per record. Compares KeyHooks::run() for an identity key()
// and for a typical JSON-decoding keys.lua with a plain C++ function that builds the same
// result, with the instruction budget on (JIT off, count hook) and off (JIT on).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "bench_report.hpp"
#include "lua_hooks.hpp"

namespace {

using strata::lua::HookResult;
using strata::lua::KeyHooks;
using strata::lua::ScriptSettings;

constexpr const char* kIdentity = "function key(r) return r.key end\n";

// The reference job's keys.lua: the value is a JSON document, the key comes from its id.
constexpr const char* kJsonKeys = R"(
function key(r)
  local doc = strata.json.decode(r.value)
  return "user:" .. doc.id
end
function ttl(r) return 3600 end
function value(r) return r.value end
)";

// Distinct records so that string interning and caches see realistic variety.
struct Records {
  std::vector<std::string> keys, values;
  std::vector<strata_record> recs;
  explicit Records(size_t n) {
    for (size_t i = 0; i < n; ++i) {
      std::string id = std::to_string(1000000 + i * 7919);
      keys.push_back(id);
      values.push_back(R"({"id": )" + id + R"(, "name": "User )" + id + R"(", "email": "user)" +
                       id + R"(@example.com", "plan": "pro",)" +
                       R"( "updated_at": 1700000000123, "tags": ["a", "b", "c"], "score": 12.5})");
    }
    for (size_t i = 0; i < n; ++i) {
      strata_record r{};
      r.struct_size = sizeof r;
      r.topic = "users";
      r.partition = static_cast<int32_t>(i % 12);
      r.offset = static_cast<int64_t>(i);
      r.key = {keys[i].data(), keys[i].size()};
      r.value = {values[i].data(), values[i].size()};
      r.timestamp_ms = 1700000000123;
      recs.push_back(r);
    }
  }
};

const Records& records() {
  static Records r(1024);
  return r;
}

std::unique_ptr<KeyHooks> load(const char* source, int64_t budget) {
  char path[] = "/tmp/strata-bench-lua-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return nullptr;
  close(fd);
  std::ofstream(path) << source;
  ScriptSettings s;
  s.path = path;
  s.instance = "bench";
  s.instruction_budget = budget;
  auto hooks = KeyHooks::load(s);
  std::remove(path);
  if (!hooks) {
    std::fprintf(stderr, "load failed: %s\n", hooks.error().c_str());
    return nullptr;
  }
  return std::move(*hooks);
}

// What the JSON script does, without Lua (and without parsing: the record key is the id).
void BM_CppBaseline(benchmark::State& state) {
  const auto& recs = records().recs;
  HookResult out;
  size_t i = 0;
  for (auto _ : state) {
    const strata_record& r = recs[i++ & 1023];
    out.clear();
    std::string key = "user:";
    key.append(r.key.data, r.key.len);
    out.keys.push_back(std::move(key));
    out.has_ttl = true;
    out.ttl_ms = 3600 * 1000;
    out.has_value = true;
    out.value.assign(r.value.data, r.value.len);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_CppBaseline);

void run_script(benchmark::State& state, const char* source) {
  auto hooks = load(source, state.range(0));
  if (!hooks) {
    state.SkipWithError("load failed");
    return;
  }
  const auto& recs = records().recs;
  HookResult out;
  std::string error;
  size_t i = 0;
  for (auto _ : state) {
    if (!hooks->run(recs[i++ & 1023], out, error)) {
      state.SkipWithError(error.c_str());
      return;
    }
    benchmark::DoNotOptimize(out);
  }
}

// range(0): the instruction budget; 0 turns it off (and lets the JIT compile).
void BM_LuaIdentityKey(benchmark::State& state) { run_script(state, kIdentity); }
BENCHMARK(BM_LuaIdentityKey)->ArgName("budget")->Arg(1000000)->Arg(0);

void BM_LuaJsonKeys(benchmark::State& state) { run_script(state, kJsonKeys); }
BENCHMARK(BM_LuaJsonKeys)->ArgName("budget")->Arg(1000000)->Arg(0);

// bench_ingest's (c) script over its ~80-byte values: the key hook alone, decode bound to a local.
constexpr const char* kIngestKeys = R"(
local decode = strata.json.decode
function key(r)
  local ev = decode(r.value)
  return "user:" .. ev.user
end
)";
struct IngestRecords {
  std::vector<std::string> keys, values;
  std::vector<strata_record> recs;
  explicit IngestRecords(size_t n) {
    for (size_t i = 0; i < n; ++i) {
      std::string key = "u";
      key += std::to_string(i * 48 % 50000);
      std::string value = R"({"user":")";
      value += key;
      value += R"(","event":"page_view","page":"/pricing","seq":)";
      value += std::to_string(100000 + i);
      value += "}";
      keys.push_back(std::move(key));
      values.push_back(std::move(value));
    }
    for (size_t i = 0; i < n; ++i) {
      strata_record r{};
      r.struct_size = sizeof r;
      r.topic = "events";
      r.partition = static_cast<int32_t>(i % 32);
      r.offset = static_cast<int64_t>(i);
      r.key = {keys[i].data(), keys[i].size()};
      r.value = {values[i].data(), values[i].size()};
      r.timestamp_ms = 1700000000123;
      recs.push_back(r);
    }
  }
};
void run_ingest(benchmark::State& state, const char* source, int64_t budget) {
  static IngestRecords recs(4096);
  auto hooks = load(source, budget);
  if (!hooks) {
    state.SkipWithError("load failed");
    return;
  }
  HookResult out;
  std::string error;
  size_t i = 0;
  for (auto _ : state) {
    if (!hooks->run(recs.recs[i++ & 4095], out, error)) {
      state.SkipWithError(error.c_str());
      return;
    }
    benchmark::DoNotOptimize(out);
  }
}
void BM_LuaIngestKey(benchmark::State& state) { run_ingest(state, kIngestKeys, state.range(0)); }
BENCHMARK(BM_LuaIngestKey)->ArgName("budget")->Arg(1000000)->Arg(0);

// The same key read with strata.json.get: the document is still checked whole, but only the
// answer becomes a Lua value (no table, no strings for the other members).
constexpr const char* kIngestGetKeys = R"(
local get = strata.json.get
function key(r)
  return "user:" .. get(r.value, "user")
end
)";
void BM_LuaIngestGetKey(benchmark::State& state) {
  run_ingest(state, kIngestGetKeys, state.range(0));
}
BENCHMARK(BM_LuaIngestGetKey)->ArgName("budget")->Arg(1000000)->Arg(0);

// Where BM_LuaIngestKey's time goes, one step at a time (default budget): the call itself,
// reading r.value (interning it), decoding it, and the whole hook.
constexpr const char* kIngestParts[] = {
    "function key(r) return 'k' end",
    "function key(r) local v = r.value return 'k' end",
    "local d = strata.json.decode function key(r) d(r.value) return 'k' end",
    kIngestKeys,
};
void BM_LuaIngestParts(benchmark::State& state) {
  run_ingest(state, kIngestParts[state.range(0)], 1000000);
}
BENCHMARK(BM_LuaIngestParts)->ArgName("step")->DenseRange(0, 3);

// ~5000 VM instructions of arithmetic: shows what the budget costs a busy script (interpreter
// plus a count hook) against the JIT.
constexpr const char* kBusy = R"(
function key(r)
  local h = 0
  for i = 1, 1000 do h = (h * 31 + i) % 1000003 end
  return r.key .. ":" .. h
end
)";
void BM_LuaBusyKey(benchmark::State& state) { run_script(state, kBusy); }
BENCHMARK(BM_LuaBusyKey)->ArgName("budget")->Arg(1000000)->Arg(0);

// One-off cost per worker thread (and per reload): a new sandboxed state running the script.
void BM_LoadState(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(load(kJsonKeys, 1000000));
}
BENCHMARK(BM_LoadState)->Unit(benchmark::kMicrosecond);

// Prints as usual and keeps each benchmark's CPU time per iteration (the lowest of its
// repetitions) for the JSON report.
class CapturingReporter : public benchmark::ConsoleReporter {
 public:
  explicit CapturingReporter(strata::bench::Report& report) : report_(report) {}
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.run_type != Run::RT_Iteration || run.error_occurred) continue;
      double ns = run.GetAdjustedCPUTime() * 1e9 / benchmark::GetTimeUnitMultiplier(run.time_unit);
      std::string name = run.benchmark_name();
      auto it = best_.find(name);
      if (it == best_.end()) order_.push_back(name);
      if (it == best_.end() || ns < it->second) best_[name] = ns;
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    for (const auto& name : order_) report_.figure(name, "ns/call (CPU)", best_[name]);
  }

 private:
  strata::bench::Report& report_;
  std::vector<std::string> order_;
  std::map<std::string, double> best_;
};

}  // namespace

int main(int argc, char** argv) {
  strata::bench::Report report("bench_lua", argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  CapturingReporter reporter(report);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  // The same work in C++ over the time in Lua: the share of C++'s speed a hook keeps (budget
  // on, as pipelines run by default). Missing (null) when --benchmark_filter left one out.
  const std::string base = "BM_CppBaseline";
  report.ratio("C++ / Lua, identity key", base, "BM_LuaIdentityKey/budget:1000000");
  report.ratio("C++ / Lua, JSON keys+ttl+value", base, "BM_LuaJsonKeys/budget:1000000");
  report.ratio("C++ / Lua, ingest key hook", base, "BM_LuaIngestKey/budget:1000000");
  report.ratio("C++ / Lua, ingest key hook with json.get", base,
               "BM_LuaIngestGetKey/budget:1000000");
  return report.write() ? 0 : 1;
}

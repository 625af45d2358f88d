// JSON beside the printf lines of a benchmark: see bench_report.hpp.
#include "bench_report.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>

namespace strata::bench {
namespace {

// 1, 5 and 15 minute load averages; empty when /proc/loadavg cannot be read.
std::vector<double> load_average() {
  std::ifstream in("/proc/loadavg");
  double l1 = 0, l5 = 0, l15 = 0;
  if (!(in >> l1 >> l5 >> l15)) return {};
  return {l1, l5, l15};
}

std::string utc(const char* format) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

// The source tree's commit, "-dirty" when tracked files differ from it. STRATA_BENCH_COMMIT
// overrides (a bench built from an export has no .git); "unknown" when neither works.
std::string source_commit() {
  if (const char* c = std::getenv("STRATA_BENCH_COMMIT"); c && *c) return c;
  std::string cmd = std::string("git -C '") + STRATA_BENCH_SOURCE_DIR +
                    "' describe --always --dirty --abbrev=12 2>/dev/null";
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[128];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    ::pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out.empty() ? "unknown" : out;
}

// A finite double, or null: NaN means "not measured in this run".
nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

}  // namespace

Report::Report(std::string bench, int argc, char** argv)
    : bench_(std::move(bench)),
      date_(utc("%Y-%m-%dT%H:%M:%SZ")),
      commit_(source_commit()),
      load_before_(load_average()) {
  if (const char* id = std::getenv("STRATA_BENCH_RUN_ID"); id && *id) {
    run_id_ = id;
  } else {
    run_id_ = utc("%Y%m%dT%H%M%SZ") + "-" + std::to_string(::getpid());
  }
  for (int i = 1; i < argc; ++i) args_.emplace_back(argv[i]);
}

void Report::figure(const std::string& name, const std::string& unit, double value) {
  figures_.push_back({name, unit, value});
}

void Report::param(const std::string& name, const std::string& value) {
  params_.emplace_back(name, value);
}

const Report::Figure* Report::find(const std::string& name) const {
  for (auto it = figures_.rbegin(); it != figures_.rend(); ++it)
    if (it->name == name) return &*it;
  return nullptr;
}

double Report::ratio(const std::string& name, const std::string& of, const std::string& ceiling,
                     double target) {
  const Figure* a = find(of);
  const Figure* b = find(ceiling);
  double v = std::nan("");
  if (a && b && std::isfinite(a->value) && std::isfinite(b->value) && b->value > 0)
    v = a->value / b->value;
  ratios_.push_back({name, of, ceiling, v, target});
  return v;
}

std::string Report::json() const {
  nlohmann::json doc;
  doc["format"] = "strata-bench/1";
  doc["bench"] = bench_;
  doc["run_id"] = run_id_;
  doc["date"] = date_;
  doc["git_commit"] = commit_;
  doc["args"] = args_;
  doc["params"] = nlohmann::json::object();
  for (const auto& [k, v] : params_) doc["params"][k] = v;
  doc["machine"] = {{"cpus", std::thread::hardware_concurrency()},
                    {"load_before", load_before_},
                    {"load_after", load_average()}};
  doc["figures"] = nlohmann::json::array();
  for (const auto& f : figures_)
    doc["figures"].push_back({{"name", f.name}, {"unit", f.unit}, {"value", number(f.value)}});
  doc["ratios"] = nlohmann::json::array();
  for (const auto& r : ratios_) {
    const Figure* a = find(r.of);
    const Figure* b = find(r.ceiling);
    doc["ratios"].push_back({{"name", r.name},
                             {"value", number(r.value)},
                             {"of", r.of},
                             {"of_value", number(a ? a->value : std::nan(""))},
                             {"ceiling", r.ceiling},
                             {"ceiling_value", number(b ? b->value : std::nan(""))},
                             {"unit", a ? a->unit : ""},
                             {"target", number(r.target)}});
  }
  return doc.dump(2) + "\n";
}

bool Report::write() const {
  const char* dir = std::getenv("STRATA_BENCH_RESULTS");
  if (!dir || !*dir) return true;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    std::fprintf(stderr, "%s: cannot create %s: %s\n", bench_.c_str(), dir, ec.message().c_str());
    return false;
  }
  std::string path = std::string(dir) + "/" + bench_ + "-" + run_id_ + ".json";
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << json();
    if (!out.flush()) {
      std::fprintf(stderr, "%s: cannot write %s: %s\n", bench_.c_str(), tmp.c_str(),
                   std::strerror(errno));
      return false;
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::fprintf(stderr, "%s: cannot write %s: %s\n", bench_.c_str(), path.c_str(),
                 ec.message().c_str());
    return false;
  }
  std::fprintf(stderr, "%s: figures written to %s\n", bench_.c_str(), path.c_str());
  return true;
}

}  // namespace strata::bench

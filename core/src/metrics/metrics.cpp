#include "metrics/metrics.hpp"

#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <map>
#include <stdexcept>

namespace strata {
namespace {

// Doubles live in atomic<uint64_t> as their bit pattern so add() can CAS without a lock.
void atomic_add_double(std::atomic<uint64_t>& bits, double delta) {
  uint64_t old = bits.load(std::memory_order_relaxed);
  while (!bits.compare_exchange_weak(old,
                                     std::bit_cast<uint64_t>(std::bit_cast<double>(old) + delta),
                                     std::memory_order_relaxed)) {
  }
}

const char* type_name(MetricType t) {
  switch (t) {
    case MetricType::Counter:
      return "counter";
    case MetricType::Gauge:
      return "gauge";
    case MetricType::Histogram:
      return "histogram";
  }
  return "untyped";
}

// Integral values (counters, most gauges) print as integers; anything else the way Go's
// strconv 'g' does (what Prometheus' own clients emit): shortest round-trip digits, exponent
// form when the exponent is < -4 or >= 6, so the bucket bounds read 5e-05, 0.0001, ..., 2.5.
std::string format_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::trunc(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  char buf[64];
  auto sci = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string text(buf, sci.ptr);
  int exp = std::stoi(text.substr(text.find('e') + 1));
  if (exp < -4 || exp >= 6) return text;
  auto fixed = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return std::string(buf, fixed.ptr);
}

// HELP text escapes backslash and newline (text format 0.0.4).
std::string escape_help(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string with_labels(const std::string& name, const std::string& labels) {
  return labels.empty() ? name : name + "{" + labels + "}";
}

}  // namespace

// 17 finite buckets + one overflow slot (+Inf). Counts are per slot; bucket_counts() makes
// them cumulative, and count() is their sum, so _count always equals the +Inf bucket.
struct Series::Impl {
  std::atomic<uint64_t> value_bits{std::bit_cast<uint64_t>(0.0)};
  std::array<std::atomic<uint64_t>, 18> slots{};
};

void Series::add(double delta) { atomic_add_double(impl->value_bits, delta); }

void Series::set(double v) {
  impl->value_bits.store(std::bit_cast<uint64_t>(v), std::memory_order_relaxed);
}

void Series::observe(double v) {
  const auto& bounds = MetricsRegistry::latency_buckets();
  size_t i = 0;
  while (i < bounds.size() && v > bounds[i]) ++i;  // le is inclusive
  impl->slots[i].fetch_add(1, std::memory_order_relaxed);
  atomic_add_double(impl->value_bits, v);
}

double Series::value() const {
  return std::bit_cast<double>(impl->value_bits.load(std::memory_order_relaxed));
}

uint64_t Series::count() const {
  uint64_t n = 0;
  for (const auto& s : impl->slots) n += s.load(std::memory_order_relaxed);
  return n;
}

std::vector<uint64_t> Series::bucket_counts() const {
  std::vector<uint64_t> out;
  uint64_t running = 0;
  for (const auto& s : impl->slots) {
    running += s.load(std::memory_order_relaxed);
    out.push_back(running);
  }
  return out;
}

struct MetricsRegistry::Impl {
  struct Family {
    MetricType type;
    std::string help;
    std::map<std::string, std::unique_ptr<Series>> series;  // by labels
  };
  mutable std::mutex mu;
  std::map<std::string, Family> families;  // by name: render() output is sorted and stable
};

MetricsRegistry::MetricsRegistry() : impl_(std::make_unique<Impl>()) {}
MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry& MetricsRegistry::global() {
  // Never destroyed: modules may hold series pointers until the very end of the process.
  static MetricsRegistry* r = new MetricsRegistry();
  return *r;
}

const std::vector<double>& MetricsRegistry::latency_buckets() {
  static const std::vector<double> b = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                        0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                        0.5,     1,      2.5,     5,      10};
  return b;
}

Series* MetricsRegistry::get(MetricType type, const std::string& name, const std::string& help,
                             const std::string& labels) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto [fit, fresh] = impl_->families.try_emplace(name);
  Impl::Family& fam = fit->second;
  if (fresh) {
    fam.type = type;
    fam.help = help;
  } else if (fam.type != type) {
    throw std::invalid_argument("metric \"" + name + "\" is already registered as a " +
                                type_name(fam.type) + ", not a " + type_name(type));
  }
  auto& slot = fam.series[labels];
  if (!slot) {
    slot = std::make_unique<Series>();
    slot->type = type;
    slot->name = name;
    slot->help = fam.help;
    slot->labels = labels;
    slot->impl = std::make_unique<Series::Impl>();
  }
  return slot.get();
}

Series* MetricsRegistry::find(const std::string& name, const std::string& labels) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto fit = impl_->families.find(name);
  if (fit == impl_->families.end()) return nullptr;
  auto sit = fit->second.series.find(labels);
  return sit == fit->second.series.end() ? nullptr : sit->second.get();
}

std::string MetricsRegistry::render() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const auto& bounds = latency_buckets();
  std::string out;
  for (const auto& [name, fam] : impl_->families) {
    if (!fam.help.empty()) out += "# HELP " + name + " " + escape_help(fam.help) + "\n";
    out += "# TYPE " + name + " " + type_name(fam.type) + "\n";
    for (const auto& [labels, s] : fam.series) {
      if (fam.type != MetricType::Histogram) {
        out += with_labels(name, labels) + " " + format_number(s->value()) + "\n";
        continue;
      }
      std::vector<uint64_t> cum = s->bucket_counts();
      std::string prefix = labels.empty() ? "" : labels + ",";
      for (size_t i = 0; i < cum.size(); ++i) {
        std::string le = i < bounds.size() ? format_number(bounds[i]) : "+Inf";
        out += name + "_bucket{" + prefix + "le=\"" + le + "\"} " + std::to_string(cum[i]) + "\n";
      }
      out += with_labels(name + "_sum", labels) + " " + format_number(s->value()) + "\n";
      out += with_labels(name + "_count", labels) + " " + std::to_string(cum.back()) + "\n";
    }
  }
  return out;
}

std::string escape_label_value(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

}  // namespace strata

// Metrics registry: counters, gauges and histograms with labels, rendered in the Prometheus
// text format by the admin listener. Used by the core directly and by modules through the host
// table (strata_host_api::metric*). Updates are lock-free; registration takes a lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace strata {

enum class MetricType { Counter, Gauge, Histogram };

// One labelled series. Stable address for the life of the registry.
class Series {
 public:
  void add(double delta);      // counter, gauge
  void set(double value);      // gauge
  void observe(double value);  // histogram (seconds)
  double value() const;        // counter/gauge current value; histogram: sum
  uint64_t count() const;      // histogram observations
  // Histogram: cumulative counts for each bound of Registry::latency_buckets(), then +Inf.
  std::vector<uint64_t> bucket_counts() const;

  MetricType type;
  std::string name;
  std::string help;
  std::string labels;  // `k="v",k2="v2"` (sorted as given), may be empty

  struct Impl;
  std::unique_ptr<Impl> impl;
};

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  static MetricsRegistry& global();

  // Same (name, labels) returns the same series. A name registered with another type throws
  // std::invalid_argument.
  Series* get(MetricType type, const std::string& name, const std::string& help,
              const std::string& labels = "");
  Series* counter(const std::string& name, const std::string& help,
                  const std::string& labels = "") {
    return get(MetricType::Counter, name, help, labels);
  }
  Series* gauge(const std::string& name, const std::string& help, const std::string& labels = "") {
    return get(MetricType::Gauge, name, help, labels);
  }
  Series* histogram(const std::string& name, const std::string& help,
                    const std::string& labels = "") {
    return get(MetricType::Histogram, name, help, labels);
  }
  // Lookup without creating (tests); nullptr if absent.
  Series* find(const std::string& name, const std::string& labels = "") const;

  // Prometheus text exposition format 0.0.4 (# HELP, # TYPE, series, _bucket/_sum/_count).
  std::string render() const;

  static const std::vector<double>& latency_buckets();  // seconds, 50us .. 10s

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A label value escaped as the text format 0.0.4 requires (backslash, double quote, newline).
std::string escape_label_value(const std::string& value);

}  // namespace strata

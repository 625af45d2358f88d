// Tests for the metrics registry: series identity, type conflicts, the exact Prometheus text
// rendering, and lock-free updates from several threads.
#include "metrics/metrics.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <thread>
#include <vector>

namespace strata {
namespace {

TEST(Metrics, SameNameAndLabelsIsSameSeries) {
  MetricsRegistry r;
  Series* a = r.counter("strata_x_total", "x", "k=\"v\"");
  Series* b = r.counter("strata_x_total", "x", "k=\"v\"");
  Series* c = r.counter("strata_x_total", "x", "k=\"w\"");
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(r.find("strata_x_total", "k=\"v\""), a);
  EXPECT_EQ(r.find("strata_x_total"), nullptr);
  EXPECT_EQ(r.find("strata_nope"), nullptr);
}

TEST(Metrics, OtherTypeForSameNameThrows) {
  MetricsRegistry r;
  r.counter("strata_x_total", "x");
  EXPECT_THROW(r.gauge("strata_x_total", "x"), std::invalid_argument);
  EXPECT_THROW(r.histogram("strata_x_total", "x", "a=\"b\""), std::invalid_argument);
}

TEST(Metrics, CounterAndGaugeValues) {
  MetricsRegistry r;
  Series* c = r.counter("strata_c_total", "c");
  c->add(1);
  c->add(2.5);
  EXPECT_DOUBLE_EQ(c->value(), 3.5);
  Series* g = r.gauge("strata_g", "g");
  g->set(10);
  g->add(-3);
  EXPECT_DOUBLE_EQ(g->value(), 7);
}

TEST(Metrics, HistogramBucketsAreCumulativeAndInclusive) {
  MetricsRegistry r;
  Series* h = r.histogram("strata_h_seconds", "h");
  h->observe(0.00005);  // exactly on the first bound: counts in le="5e-05"
  h->observe(0.0003);   // -> le=0.0005
  h->observe(20);       // -> +Inf only
  auto b = h->bucket_counts();
  ASSERT_EQ(b.size(), MetricsRegistry::latency_buckets().size() + 1);
  EXPECT_EQ(b[0], 1u);
  EXPECT_EQ(b[1], 1u);   // 0.0001
  EXPECT_EQ(b[2], 1u);   // 0.00025
  EXPECT_EQ(b[3], 2u);   // 0.0005
  EXPECT_EQ(b[16], 2u);  // 10
  EXPECT_EQ(b[17], 3u);  // +Inf
  EXPECT_EQ(h->count(), 3u);
  EXPECT_DOUBLE_EQ(h->value(), 0.00005 + 0.0003 + 20);
}

TEST(Metrics, LatencyBucketsSpan50usTo10s) {
  const auto& b = MetricsRegistry::latency_buckets();
  ASSERT_FALSE(b.empty());
  EXPECT_DOUBLE_EQ(b.front(), 0.00005);
  EXPECT_DOUBLE_EQ(b.back(), 10);
  for (size_t i = 1; i < b.size(); ++i) EXPECT_LT(b[i - 1], b[i]);
}

TEST(Metrics, RenderCounterAndGauge) {
  MetricsRegistry r;
  r.counter("strata_records_total", "Records read.", "pipeline=\"a\"")->add(3);
  r.counter("strata_records_total", "Records read.", "pipeline=\"b\"")->add(1);
  r.gauge("strata_breaker_open", "1 when open.\nSecond line \\ here")->set(1);
  r.gauge("strata_lag", "")->set(-2.5);
  EXPECT_EQ(r.render(),
            "# HELP strata_breaker_open 1 when open.\\nSecond line \\\\ here\n"
            "# TYPE strata_breaker_open gauge\n"
            "strata_breaker_open 1\n"
            "# TYPE strata_lag gauge\n"
            "strata_lag -2.5\n"
            "# HELP strata_records_total Records read.\n"
            "# TYPE strata_records_total counter\n"
            "strata_records_total{pipeline=\"a\"} 3\n"
            "strata_records_total{pipeline=\"b\"} 1\n");
}

TEST(Metrics, RenderNumbersLikePrometheusClients) {
  MetricsRegistry r;
  r.gauge("strata_a", "")->set(1e-7);
  r.gauge("strata_b", "")->set(1234567.5);
  r.gauge("strata_c", "")->set(0.1 + 0.2);
  r.gauge("strata_d", "")->set(1e6);
  EXPECT_EQ(r.render(),
            "# TYPE strata_a gauge\nstrata_a 1e-07\n"
            "# TYPE strata_b gauge\nstrata_b 1.2345675e+06\n"
            "# TYPE strata_c gauge\nstrata_c 0.30000000000000004\n"
            "# TYPE strata_d gauge\nstrata_d 1000000\n");
}

TEST(Metrics, RenderHistogram) {
  MetricsRegistry r;
  Series* h = r.histogram("strata_get_seconds", "GET latency.", "tier=\"l1\"");
  h->observe(0.0002);
  h->observe(3);
  EXPECT_EQ(r.render(),
            "# HELP strata_get_seconds GET latency.\n"
            "# TYPE strata_get_seconds histogram\n"
            "strata_get_seconds_bucket{tier=\"l1\",le=\"5e-05\"} 0\n"
            "strata_get_seconds_bucket{tier=\"l1\",le=\"0.0001\"} 0\n"
            "strata_get_seconds_bucket{tier=\"l1\",le=\"0.00025\"} 1\n"
            "strata_get_seconds_bucket{tier=\"l1\",le=\"0.0005\"} 1\n"
            "strata_get_seconds_bucket{tier=\"l1\",le=\"0.001\"} 1\n"
            "strata_get_seconds_bucket{tier=\"l1\",le=\"0.0025\"} 1\n"
            "strata_get_seconds_bucket{tier=\"l1\",le=\"0.005\"} 1\n"
            "strata_get_seconds_bucket{tier=\"l1\",le=\"0.01\"} 1\n"
            "strata_get_seconds_bucket{tier=\"l1\",le=\"0.025\"} 1\n"
            "strata_get_seconds_bucket{tier=\"l1\",le=\"0.05\"} 1\n"
            "strata_get_seconds_bucket{tier=\"l1\",le=\"0.1\"} 1\n"
            "strata_get_seconds_bucket{tier=\"l1\",le=\"0.25\"} 1\n"
            "strata_get_seconds_bucket{tier=\"l1\",le=\"0.5\"} 1\n"
            "strata_get_seconds_bucket{tier=\"l1\",le=\"1\"} 1\n"
            "strata_get_seconds_bucket{tier=\"l1\",le=\"2.5\"} 1\n"
            "strata_get_seconds_bucket{tier=\"l1\",le=\"5\"} 2\n"
            "strata_get_seconds_bucket{tier=\"l1\",le=\"10\"} 2\n"
            "strata_get_seconds_bucket{tier=\"l1\",le=\"+Inf\"} 2\n"
            "strata_get_seconds_sum{tier=\"l1\"} 3.0002\n"
            "strata_get_seconds_count{tier=\"l1\"} 2\n");
}

TEST(Metrics, RenderHistogramWithoutLabels) {
  MetricsRegistry r;
  r.histogram("strata_h_seconds", "h")->observe(0.5);
  std::string text = r.render();
  EXPECT_NE(text.find("strata_h_seconds_bucket{le=\"0.25\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("strata_h_seconds_bucket{le=\"0.5\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("strata_h_seconds_bucket{le=\"+Inf\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("strata_h_seconds_sum 0.5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("strata_h_seconds_count 1\n"), std::string::npos) << text;
}

TEST(Metrics, ConcurrentUpdatesLoseNothing) {
  MetricsRegistry r;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&r, t] {
      // Registration races too: every thread asks for the same series.
      Series* c = r.counter("strata_c_total", "c");
      Series* g = r.gauge("strata_g", "g");
      Series* h = r.histogram("strata_h_seconds", "h", "t=\"x\"");
      for (int i = 0; i < kPerThread; ++i) {
        c->add(1);
        g->add(0.5);
        h->observe((i % 2) ? 0.001 : 0.5);
        if (i % 1000 == 0) (void)r.render();
      }
      (void)t;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_DOUBLE_EQ(r.find("strata_c_total")->value(), kThreads * kPerThread);
  EXPECT_DOUBLE_EQ(r.find("strata_g")->value(), kThreads * kPerThread * 0.5);
  Series* h = r.find("strata_h_seconds", "t=\"x\"");
  EXPECT_EQ(h->count(), static_cast<uint64_t>(kThreads * kPerThread));
  auto b = h->bucket_counts();
  EXPECT_EQ(b[4], static_cast<uint64_t>(kThreads * kPerThread / 2));  // le=0.001
  EXPECT_NEAR(h->value(), kThreads * kPerThread / 2 * (0.001 + 0.5), 1e-3);
}

TEST(Metrics, GlobalIsOneRegistry) {
  EXPECT_EQ(&MetricsRegistry::global(), &MetricsRegistry::global());
}

}  // namespace
}  // namespace strata

// memcached_front: a memcached-protocol server (text and meta commands) in front of a strata
// tier chain, loaded by the host as a `front` module. Any memcached client gets strata's read
// path (L1, then L2 with one read in flight per key, refill with add, negative caching, stale
// on error, breakers) by pointing at one address. This file is the glue: options, metrics,
// the chain port over strata::Host; server.cpp and below do the work.
#include <strata/sdk.hpp>

#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "server.hpp"

namespace memcached_front {

static constexpr strata_option_def kOptions[] = {
    strata::option("listen", STRATA_OPT_STRING, "127.0.0.1",
                   "IPv4 or IPv6 address to listen on (\"::1\", \"[::1]\"; \"::\" also takes IPv4 "
                   "clients), loopback by default"),
    strata::option("port", STRATA_OPT_INT, "11311", "TCP port; 0 picks a free one")
        .range(0, 65535),
    strata::option("threads", STRATA_OPT_INT, "2", "event loops (one thread each)").range(1, 64),
    strata::option("max_connections", STRATA_OPT_INT, "4096",
                   "clients served at once; more are answered 'ERROR Too many open connections'")
        .range(1, 1000000),
    strata::option("idle_timeout", STRATA_OPT_DURATION, "0ms",
                   "close a client idle this long (nothing in flight); 0 = never, as memcached"),
    strata::option("max_value_size", STRATA_OPT_SIZE, "1MiB",
                   "largest data block; larger: SERVER_ERROR object too large for cache")
        .range(1, 1024.0 * 1024 * 1024),
    strata::option("max_line", STRATA_OPT_SIZE, "2KiB",
                   "longest command line (get lines: max_get_line); longer closes the client")
        .range(64, 1024.0 * 1024),
    strata::option("max_get_line", STRATA_OPT_SIZE, "64KiB",
                   "longest get/gets/gat/gats line (many keys)")
        .range(256, 16.0 * 1024 * 1024),
    strata::option("max_output", STRATA_OPT_SIZE, "4MiB",
                   "reply bytes a client may leave unread before it is no longer read")
        .range(4096, 1024.0 * 1024 * 1024),
    strata::option("max_pending", STRATA_OPT_INT, "1024",
                   "requests of one client parsed ahead of their replies").range(1, 1000000),
    strata::option("allow_flush_all", STRATA_OPT_BOOL, "false",
                   "answer flush_all with OK (it flushes nothing: the chain has no flush); "
                   "otherwise SERVER_ERROR"),
    strata::option("stop_timeout", STRATA_OPT_DURATION, "5s",
                   "how long stop waits for requests in flight").range(1, 600000),
};

// The host's chain, as the server wants it.
class HostChain : public mcfront::ChainPort {
 public:
  HostChain(strata::Host host, strata_chain* chain) : host_(host), chain_(chain) {}
  strata_status submit(strata_chain_op* ops, size_t n, strata_chain_done_fn done,
                       void* user) override {
    return host_.submit(chain_, ops, n, done, user);
  }
  void release(strata_chain_op* ops, size_t n) override { host_.release(ops, n); }
  int64_t now_unix_ms() override { return host_.now_unix_ms(); }
  uint64_t monotonic_ns() override { return host_.monotonic_ns(); }

 private:
  strata::Host host_;
  strata_chain* chain_;
};

class HostMetrics : public mcfront::FrontMetrics {
 public:
  explicit HostMetrics(const strata::Host& host) : host_(host) {
    connections_ = host.gauge("strata_front_connections", "clients connected now");
    opened_ = host.counter("strata_front_connections_total", "clients accepted");
    refused_ = host.counter("strata_front_connections_refused_total",
                            "clients refused at max_connections");
    misses_ = host.counter("strata_front_misses_total", "keys read that no tier had");
    client_errors_ = host.counter("strata_front_errors_total", "error replies",
                                  "kind=\"client\"");
    server_errors_ = host.counter("strata_front_errors_total", "error replies",
                                  "kind=\"server\"");
    latency_ = host.histogram("strata_front_request_seconds",
                              "from a request parsed to its reply ready");
    for (int c = 0; c < kCmds; ++c) {
      std::string label = std::string("command=\"") +
                          mcfront::cmd_name(static_cast<mcfront::Cmd>(c)) + "\"";
      commands_[c] = host.counter("strata_front_commands_total", "requests by command",
                                  label.c_str());
    }
  }
  void connection_opened() override {
    connections_.add(1);
    opened_.add(1);
  }
  void connection_closed() override { connections_.add(-1); }
  void refused_connection() override { refused_.add(1); }
  void command(mcfront::Cmd c) override { commands_[static_cast<int>(c)].add(1); }
  void replied(const mcfront::ReplyInfo& info, double seconds) override {
    if (info.misses) misses_.add(static_cast<double>(info.misses));
    if (info.client_error) client_errors_.add(1);
    if (info.server_error) server_errors_.add(1);
    for (size_t i = 0; i < info.hit_tier_count; ++i) hit(info.hit_tiers[i]);
    if (seconds > 0) latency_.observe(seconds);
  }

 private:
  static constexpr int kCmds = static_cast<int>(mcfront::Cmd::MetaDebug) + 1;
  // result_tier strings are static: the pointer names the tier.
  void hit(const char* tier) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [name, metric] : hits_)
      if (name == tier) return metric.add(1);
    std::string label = std::string("tier=\"") + tier + "\"";
    hits_.emplace_back(tier, host_.counter("strata_front_hits_total", "keys served, by tier",
                                           label.c_str()));
    hits_.back().second.add(1);
  }

  strata::Host host_;
  strata::Metric connections_, opened_, refused_, misses_, client_errors_, server_errors_,
      latency_;
  std::array<strata::Metric, kCmds> commands_;
  std::mutex mu_;
  std::vector<std::pair<const char*, strata::Metric>> hits_;
};

mcfront::FrontConfig config_from(const strata::Options& o) {
  mcfront::FrontConfig c;
  c.listen = o.str("listen");
  c.port = static_cast<int>(o.integer("port"));
  c.threads = static_cast<int>(o.integer("threads"));
  c.max_connections = static_cast<size_t>(o.integer("max_connections"));
  c.idle_timeout_ms = o.duration_ms("idle_timeout");
  c.limits.max_value = static_cast<size_t>(o.size_bytes("max_value_size"));
  c.limits.max_line = static_cast<size_t>(o.size_bytes("max_line"));
  c.limits.max_retrieval_line = static_cast<size_t>(o.size_bytes("max_get_line"));
  c.max_output = static_cast<size_t>(o.size_bytes("max_output"));
  c.max_pending = static_cast<size_t>(o.integer("max_pending"));
  c.allow_flush_all = o.boolean("allow_flush_all");
  c.stop_timeout_ms = o.duration_ms("stop_timeout");
  return c;
}

class MemcachedFront : public strata::FrontModule {
 public:
  MemcachedFront(strata::Host host, const strata::Options& opts)
      : host_(host), cfg_(config_from(opts)), metrics_(host) {}

  void start() override {
    strata_chain* chain = host_.front_chain();
    if (!chain)
      throw strata::Error(STRATA_ERR_INVALID,
                          "the host gave this front no tier chain (tiers = [...] or pipeline)");
    chain_ = std::make_unique<HostChain>(host_, chain);
    server_ = std::make_unique<mcfront::Server>(cfg_, *chain_, metrics_);
    server_->start();
    host_.info("memcached front listening on " + cfg_.listen + ":" +
               std::to_string(server_->port()) + " with " + std::to_string(cfg_.threads) +
               " event loops");
  }

  void stop(bool) override {
    if (server_) server_->stop();
  }

  ~MemcachedFront() override {
    if (!server_) return;
    server_->stop();
    if (!server_->wait_idle(cfg_.stop_timeout_ms)) {
      // A completion may still come and touch the server's loops: keep them allocated.
      host_.warn("memcached front destroyed with chain ops still in flight; leaking its loops");
      (void)server_.release();
    }
  }

 private:
  strata::Host host_;
  mcfront::FrontConfig cfg_;
  HostMetrics metrics_;
  std::unique_ptr<HostChain> chain_;
  std::unique_ptr<mcfront::Server> server_;
};

}  // namespace memcached_front

STRATA_MODULE(memcached_front::MemcachedFront, "memcached_front", "0.1.0",
              "memcached protocol server (text and meta) reading and writing through a tier "
              "chain",
              memcached_front::kOptions)

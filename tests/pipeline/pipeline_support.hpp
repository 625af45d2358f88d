// Helpers of the pipeline component tests: plain Redis / memcached clients to look at what the
// pipeline wrote, a handle on the fake source's event log (dlopen + dlsym), and a harness that
// starts real servers and builds a Runtime from TOML text. Used by pipeline_test.cpp only.
#pragma once

#include <strata/strata.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "files.hpp"
#include "runtime/runtime.hpp"
#include "servers.hpp"

struct redisContext;
struct memcached_st;

// First line of a test that needs the harness's servers.
#define REQUIRE_HARNESS(h) ASSERT_TRUE((h).ok()) << "memcached/redis-server did not start"

namespace strata::test {

// A hiredis connection (old 0.14 API).
class RedisClient {
 public:
  explicit RedisClient(int port);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;
  bool ok() const;
  std::optional<std::string> get(const std::string& key);
  void set(const std::string& key, const std::string& value);
  // PTTL in ms (-1 no expiry, -2 missing).
  long long pttl(const std::string& key);
  // Any command given as words (binary-safe); returns the reply as text, "(error) ..." on error.
  std::string command(const std::vector<std::string>& argv);

 private:
  redisContext* ctx_ = nullptr;
};

class MemcachedClient {
 public:
  explicit MemcachedClient(int port);
  ~MemcachedClient();
  MemcachedClient(const MemcachedClient&) = delete;
  MemcachedClient& operator=(const MemcachedClient&) = delete;
  std::optional<std::string> get(const std::string& key);
  bool set(const std::string& key, const std::string& value);

 private:
  memcached_st* mc_;
};

// A fresh folder under $TMPDIR, removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::vector<std::string> lines_of(const std::string& text);

// One record line of the fake source's records_file; "\\N" = null.
std::string record_line(const std::string& topic, int partition, long long offset,
                        const std::string& key, const std::string& value);

// The fake source's process-wide event log. Holding the handle keeps the module loaded (the
// loader's dlopen of the same file returns the same object), so events survive the Runtime.
class FakeSource {
 public:
  using AckCallback = void (*)(const strata_position*, size_t, void*);
  FakeSource();  // dlopen + reset; ADD_FAILURE on error
  ~FakeSource();
  FakeSource(const FakeSource&) = delete;
  FakeSource& operator=(const FakeSource&) = delete;
  std::vector<std::string> events() const;
  bool has_event(const std::string& e) const;
  size_t count_events(const std::string& prefix) const;
  std::vector<std::string> acks() const;  // "ack T P N" lines in order
  void on_ack(AckCallback cb, void* user);

 private:
  void* handle_ = nullptr;
  void (*reset_)() = nullptr;
  void (*set_ack_)(AckCallback, void*) = nullptr;
  size_t (*events_)(char*, size_t) = nullptr;
};

// Polls `pred` every 10 ms until it holds or `timeout_ms` passed (generous bounds only; no
// test asserts a duration).
bool wait_until(const std::function<bool()>& pred, int timeout_ms = 20000);

// Real servers for one test, and the runtime built from a config text.
class Harness {
 public:
  Harness();  // starts memcached and redis-server (check ok())
  bool ok() const { return ok_; }
  ServerProcess memcached{ServerProcess::Kind::Memcached};
  ServerProcess redis{ServerProcess::Kind::Redis};
  TempDir dir;

  // A config with [sources.src] (fake_source over `records`), [tiers.l1] memcached_l1,
  // [tiers.l2] redis_l2 and [pipelines.p] (dead letters to dead_letter_path()). The section
  // texts are appended to the corresponding sections; `more` is appended at the end.
  struct Sections {
    std::string source, l1, l2, pipeline, more;
    std::string dead_letter_file;  // "" = dead_letter_path()
    std::string script;            // Lua text; "" = identity hooks
  };
  std::string config_text(const std::vector<std::string>& records, const Sections& s);
  // parse + build (Run); ADD_FAILURE with the diagnostics on error.
  std::unique_ptr<Runtime> build(const std::string& config_text);
  std::string dead_letter_path() const { return dir.file("dead.jsonl"); }

  // Runs one pipeline until the fake source saw `final_ack` ("ack T P N"), then stops it.
  // Returns false (the test fails) when the ack did not come.
  bool run_until_ack(Runtime& rt, FakeSource& src, const std::string& final_ack);

 private:
  bool ok_ = false;
  int runs_ = 0;
};

const PipelineStats& stats_of(Runtime& rt);

}  // namespace strata::test

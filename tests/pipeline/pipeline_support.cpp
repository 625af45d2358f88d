#include "pipeline_support.hpp"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <libmemcached-1.0/memcached.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "config/config.hpp"

namespace strata::test {

// ------------------------------------------------------------------------------------------
RedisClient::RedisClient(int port) {
  timeval tv{2, 0};
  ctx_ = redisConnectWithTimeout("127.0.0.1", port, tv);
  if (ctx_ && !ctx_->err) redisSetTimeout(ctx_, tv);
}
RedisClient::~RedisClient() {
  if (ctx_) redisFree(ctx_);
}
bool RedisClient::ok() const { return ctx_ && !ctx_->err; }

std::string RedisClient::command(const std::vector<std::string>& argv) {
  if (!ok()) return "(error) not connected";
  std::vector<const char*> a;
  std::vector<size_t> l;
  for (auto& s : argv) {
    a.push_back(s.data());
    l.push_back(s.size());
  }
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(ctx_, static_cast<int>(a.size()), a.data(), l.data()));
  if (!r) return "(error) no reply";
  std::string out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      out.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out = "(error) " + std::string(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out = std::to_string(r->integer);
      break;
    case REDIS_REPLY_NIL:
      out = "(nil)";
      break;
    default:
      out = "(other)";
  }
  freeReplyObject(r);
  return out;
}

std::optional<std::string> RedisClient::get(const std::string& key) {
  if (!ok()) return std::nullopt;
  auto* r = static_cast<redisReply*>(redisCommand(ctx_, "GET %b", key.data(), key.size()));
  if (!r) return std::nullopt;
  std::optional<std::string> out;
  if (r->type == REDIS_REPLY_STRING) out = std::string(r->str, r->len);
  freeReplyObject(r);
  return out;
}

void RedisClient::set(const std::string& key, const std::string& value) {
  command({"SET", key, value});
}

long long RedisClient::pttl(const std::string& key) { return std::stoll(command({"PTTL", key})); }

// ------------------------------------------------------------------------------------------
MemcachedClient::MemcachedClient(int port) : mc_(memcached_create(nullptr)) {
  memcached_server_add(mc_, "127.0.0.1", static_cast<in_port_t>(port));
  memcached_behavior_set(mc_, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, 1000);
  memcached_behavior_set(mc_, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, 1000);
}
MemcachedClient::~MemcachedClient() { memcached_free(mc_); }

std::optional<std::string> MemcachedClient::get(const std::string& key) {
  size_t len = 0;
  uint32_t flags = 0;
  memcached_return_t rc;
  char* v = memcached_get(mc_, key.data(), key.size(), &len, &flags, &rc);
  if (!v) {
    if (rc == MEMCACHED_SUCCESS) return std::string();  // an empty value
    return std::nullopt;
  }
  std::string out(v, len);
  free(v);
  return out;
}

bool MemcachedClient::set(const std::string& key, const std::string& value) {
  return memcached_set(mc_, key.data(), key.size(), value.data(), value.size(), 0, 0) ==
         MEMCACHED_SUCCESS;
}

// ------------------------------------------------------------------------------------------
TempDir::TempDir() : path_(make_temp_dir("strata-pipeline")) {}
TempDir::~TempDir() { remove_tree(path_); }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line))
    if (!line.empty()) out.push_back(line);
  return out;
}

std::string record_line(const std::string& topic, int partition, long long offset,
                        const std::string& key, const std::string& value) {
  return topic + "\t" + std::to_string(partition) + "\t" + std::to_string(offset) + "\t" + key +
         "\t" + value;
}

// ------------------------------------------------------------------------------------------
FakeSource::FakeSource() {
  std::string path = std::string(STRATA_PIPELINE_FAKES_DIR) + "/fake_source.so";
  handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle_) {
    ADD_FAILURE() << "cannot load " << path << ": " << dlerror();
    return;
  }
  reset_ = reinterpret_cast<void (*)()>(dlsym(handle_, "fake_source_reset"));
  set_ack_ = reinterpret_cast<void (*)(AckCallback, void*)>(
      dlsym(handle_, "fake_source_set_ack_callback"));
  events_ = reinterpret_cast<size_t (*)(char*, size_t)>(dlsym(handle_, "fake_source_events"));
  if (!reset_ || !set_ack_ || !events_) {
    ADD_FAILURE() << "fake_source.so lacks its test functions";
    return;
  }
  reset_();
}

FakeSource::~FakeSource() {
  if (reset_) reset_();
  if (handle_) dlclose(handle_);
}

std::vector<std::string> FakeSource::events() const {
  if (!events_) return {};
  std::string buf(events_(nullptr, 0) + 4096, '\0');  // room for events added meanwhile
  size_t n = events_(buf.data(), buf.size());
  buf.resize(std::min(n, buf.size() - 1));
  return lines_of(buf);
}

bool FakeSource::has_event(const std::string& e) const {
  for (auto& x : events())
    if (x == e) return true;
  return false;
}

size_t FakeSource::count_events(const std::string& prefix) const {
  size_t n = 0;
  for (auto& x : events())
    if (x.rfind(prefix, 0) == 0) ++n;
  return n;
}

std::vector<std::string> FakeSource::acks() const {
  std::vector<std::string> out;
  for (auto& x : events())
    if (x.rfind("ack ", 0) == 0) out.push_back(x);
  return out;
}

void FakeSource::on_ack(AckCallback cb, void* user) {
  if (set_ack_) set_ack_(cb, user);
}

bool wait_until(const std::function<bool()>& pred, int timeout_ms) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

// ------------------------------------------------------------------------------------------
Harness::Harness() {
  // Colon-separated: the real modules and the fake source.
  std::string path = std::string(STRATA_PIPELINE_MODULES_DIR) + ":" + STRATA_PIPELINE_FAKES_DIR;
  setenv("STRATA_MODULES_PATH", path.c_str(), 1);
  ok_ = !dir.path().empty() && memcached.start() && redis.start();
}

std::string Harness::config_text(const std::vector<std::string>& records, const Sections& s) {
  ++runs_;
  std::string records_file = dir.file("records" + std::to_string(runs_) + ".tsv");
  std::string text;
  for (auto& r : records) text += r + "\n";
  write_file(records_file, text);
  std::string script_line;
  if (!s.script.empty()) {
    std::string script_file = dir.file("hooks" + std::to_string(runs_) + ".lua");
    write_file(script_file, s.script);
    script_line = "script = \"" + script_file + "\"\n";
  }
  return "[sources.src]\nmodule = \"fake_source\"\nrecords_file = \"" + records_file + "\"\n" +
         s.source + "\n[tiers.l1]\nmodule = \"memcached_l1\"\nservers = [\"" + memcached.address() +
         "\"]\n" + s.l1 + "\n[tiers.l2]\nmodule = \"redis_l2\"\naddress = \"" + redis.address() +
         "\"\n" + s.l2 + "\n[pipelines.p]\nsource = \"src\"\ntiers = [\"l1\", \"l2\"]\n" +
         "dead_letter_file = \"" +
         (s.dead_letter_file.empty() ? dead_letter_path() : s.dead_letter_file) + "\"\n" +
         script_line + s.pipeline + "\n" + s.more;
}

std::unique_ptr<Runtime> Harness::build(const std::string& text) {
  Diagnostics diags;
  auto cfg = parse_config_text(text, dir.file("strata.toml"), diags);
  if (!cfg) {
    ADD_FAILURE() << "config:\n" << diags.str() << "\n" << text;
    return nullptr;
  }
  auto rt =
      Runtime::build(std::make_shared<const Config>(std::move(*cfg)), Runtime::Mode::Run, diags);
  if (!rt) ADD_FAILURE() << "runtime:\n" << diags.str() << "\n" << text;
  return rt;
}

bool Harness::run_until_ack(Runtime& rt, FakeSource& src, const std::string& final_ack) {
  auto started = rt.start();
  if (!started) {
    ADD_FAILURE() << "start: " << started.error();
    return false;
  }
  bool acked = wait_until([&] { return src.has_event(final_ack); });
  rt.stop();
  if (!acked) {
    std::string all;
    for (auto& e : src.events()) all += "  " + e + "\n";
    ADD_FAILURE() << "no \"" << final_ack << "\"; events:\n" << all;
  }
  return acked;
}

const PipelineStats& stats_of(Runtime& rt) { return rt.pipelines().at(0)->stats(); }

}  // namespace strata::test

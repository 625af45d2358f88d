#include "fault_world.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "e2e_support.hpp"
#include "files.hpp"
#include "kafka_client.hpp"

namespace strata::test::faults {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

bool Process::start(const std::vector<std::string>& argv, const std::string& log_path) {
  pid_t pid = spawn_logged(argv, log_path);
  if (pid < 0) return false;
  pid_ = pid;
  status_ = -1;
  return true;
}

bool Process::alive() {
  if (pid_ <= 0) return false;
  int st = 0;
  if (::waitpid(pid_, &st, WNOHANG) == pid_) {
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    pid_ = -1;
    return false;
  }
  return true;
}

void Process::signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
}

std::optional<int> Process::wait_exit(int timeout_ms) {
  auto deadline = Clock::now() + milliseconds(timeout_ms);
  while (alive()) {
    if (Clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return status_;
}

void Process::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int st = 0;
  ::waitpid(pid_, &st, 0);
  status_ = 128 + SIGKILL;
  pid_ = -1;
}

FaultWorld::FaultWorld(std::string dir, int partitions, int keys)
    : dir_(std::move(dir)), partitions_(partitions), keys_(keys) {}

FaultWorld::~FaultWorld() {
  scraping_ = false;
  if (scraper_.joinable()) scraper_.join();
  if (producing_) stop_producing(1000);
  for (auto& [name, m] : members_) {
    m->proc.signal(SIGCONT);
    m->proc.kill9();
  }
  if (memcached_.pid() > 0) ::kill(memcached_.pid(), SIGCONT);
  if (redis_.pid() > 0) ::kill(redis_.pid(), SIGCONT);
  mock_.signal(SIGTERM);
  if (!mock_.wait_exit(10000)) mock_.kill9();
}

bool FaultWorld::start(std::string* why) {
  const char* mock_bin = std::getenv("STRATA_MOCK_KAFKA");
  if (!std::getenv("STRATA_BIN") || !mock_bin)
    return *why = "STRATA_BIN or STRATA_MOCK_KAFKA unset", false;
  if (!memcached_.start()) return *why = "memcached did not start", false;
  if (!redis_.start()) return *why = "redis-server did not start", false;
  control_ = dir_ + "/mock-control";
  if (::mkfifo(control_.c_str(), 0600) != 0) return *why = "mkfifo " + control_, false;
  std::string bootstrap_file = dir_ + "/bootstrap";
  if (!mock_.start(
          {mock_bin, "--brokers", "3", "--replication", "3", "--topics", kTopic, "--partitions",
           std::to_string(partitions_), "--bootstrap-file", bootstrap_file, "--control", control_},
          dir_ + "/mock-kafka.log"))
    return *why = "strata-mock-kafka did not start", false;
  for (int i = 0; i < 200 && bootstrap_.empty(); ++i) {
    std::string b = read_file(bootstrap_file);
    while (!b.empty() && (b.back() == '\n' || b.back() == ' ')) b.pop_back();
    bootstrap_ = b;
    if (b.empty()) std::this_thread::sleep_for(milliseconds(50));
  }
  if (bootstrap_.empty()) return *why = "strata-mock-kafka wrote no bootstrap address", false;
  write_file(dir_ + "/keys.lua",
             "local decode = strata.json.decode\n"
             "function key(r) return \"" +
                 std::string(kKeyPrefix) + "\" .. decode(r.value).k end\n");
  for (const char* name : {"A", "B"}) {
    auto m = std::make_unique<Member>();
    m->name = name;
    m->config = dir_ + "/strata-" + m->name + ".toml";
    m->admin_port = free_port();
    write_file(m->config, good_config(*m));
    members_[name] = std::move(m);
  }
  Member& a = member("A");
  if (!start_member(a)) return *why = "strata did not start", false;
  for (int i = 0; i < 300 && http_get(a.admin_port, "/healthz", 500).empty(); ++i) {
    if (!a.proc.alive()) return *why = "strata exited at start: " + read_file(a.log), false;
    std::this_thread::sleep_for(milliseconds(50));
  }
  scraper_ = std::thread([this] { scrape_loop(); });
  return true;
}

Member& FaultWorld::member(const std::string& name) { return *members_.at(name); }

// FAULTS_RDKAFKA_DEBUG=cgrp,fetch,... turns on librdkafka's debug contexts in every member
// (their lines land in the members' logs): the way to see why a schedule stalls.
static std::string rdkafka_debug() {
  const char* v = std::getenv("FAULTS_RDKAFKA_DEBUG");
  return v && *v ? std::string(", \"debug\" = \"") + v + "\"" : std::string();
}

std::string FaultWorld::good_config(const Member& m) const {
  const char* debug = std::getenv("FAULTS_RDKAFKA_DEBUG");
  return std::string(debug && *debug ? "log_level = \"debug\"\n" : "") +
         "[admin]\nport = " + std::to_string(m.admin_port) +
         "\n\n[sources.events]\nmodule = \"kafka_source\"\nbrokers = \"" + bootstrap_ +
         "\"\ntopics = [\"" + kTopic +
         "\"]\ngroup_id = \"faults\"\nbatch_size = 500\nmax_wait = \"20ms\"\n"
         "commit_interval = \"200ms\"\nclose_timeout = \"5s\"\n"
         // The mock re-forms a group only after a session timeout: keep it short.
         "rdkafka = { \"session.timeout.ms\" = \"4000\", \"heartbeat.interval.ms\" = \"400\"" +
         rdkafka_debug() +
         " }\n"
         "\n[tiers.l1]\nmodule = \"memcached_l1\"\nservers = [\"" +
         memcached_.address() +
         "\"]\n"
         // A member killed while memcached is closed tells its next incarnation to flush it.
         "state_file = \"" +
         dir_ + "/l1-" + m.name +
         ".state\"\n"
         "\n[tiers.l2]\nmodule = \"redis_l2\"\naddress = \"" +
         redis_.address() +
         "\"\nbreaker_failures = 3\nbreaker_open = \"300ms\"\n"
         "\n[pipelines." +
         kPipeline +
         "]\nsource = \"events\"\ntiers = [\"l1\", \"l2\"]\nscript = \"keys.lua\"\n"
         "lua_budget = 100000\ndead_letter_file = \"dead-" +
         m.name + ".jsonl\"\nretry_backoff = \"50ms\"\nretry_backoff_max = \"500ms\"\n";
}

bool FaultWorld::start_member(Member& m) {
  std::lock_guard<std::mutex> lock(members_mu_);
  m.records_done += m.records_now;
  m.replays_done += m.replays_now;
  m.records_now = m.replays_now = m.suspects_now = 0;
  m.incarnation++;
  m.log = dir_ + "/" + m.name + "-" + std::to_string(m.incarnation) + ".log";
  m.logs.push_back(m.log);
  return m.proc.start({std::getenv("STRATA_BIN"), "run", "-c", m.config}, m.log);
}

void FaultWorld::scrape(Member& m) {
  if (!m.proc.alive()) return;
  std::string text = http_get(m.admin_port, "/metrics", 1000);
  if (text.empty()) return;
  double records = metric_value(text, "strata_pipeline_records_total");
  double replays = metric_value(text, "strata_pipeline_replays_skipped_total");
  double suspects = metric_value(text, "strata_pipeline_l1_suspect_keys");
  // Counters only grow within one incarnation; a reload may re-create them from zero.
  if (records >= 0) m.records_now = std::max(m.records_now, records);
  if (replays >= 0) m.replays_now = std::max(m.replays_now, replays);
  m.suspects_now = suspects >= 0 ? suspects : 0;
}

void FaultWorld::kill_member(Member& m) {
  std::lock_guard<std::mutex> lock(members_mu_);
  scrape(m);
  m.proc.kill9();
}

std::optional<int> FaultWorld::stop_member(Member& m, int timeout_ms) {
  std::lock_guard<std::mutex> lock(members_mu_);
  scrape(m);
  m.proc.signal(SIGTERM);
  return m.proc.wait_exit(timeout_ms);
}

void FaultWorld::scrape_loop() {
  while (scraping_) {
    {
      std::lock_guard<std::mutex> lock(members_mu_);
      for (auto& [name, m] : members_) scrape(*m);
    }
    std::this_thread::sleep_for(milliseconds(200));
  }
}

double FaultWorld::total_records() {
  std::lock_guard<std::mutex> lock(members_mu_);
  double n = 0;
  for (auto& [name, m] : members_) n += m->records_done + m->records_now;
  return n;
}

double FaultWorld::total_replays() {
  std::lock_guard<std::mutex> lock(members_mu_);
  double n = 0;
  for (auto& [name, m] : members_) n += m->replays_done + m->replays_now;
  return n;
}

double FaultWorld::total_suspects() {
  std::lock_guard<std::mutex> lock(members_mu_);
  double n = 0;
  for (auto& [name, m] : members_) {
    scrape(*m);
    if (m->proc.alive()) n += m->suspects_now;
  }
  return n;
}

bool FaultWorld::mock_command(const std::string& line) {
  int fd = ::open(control_.c_str(), O_WRONLY | O_NONBLOCK);
  if (fd < 0) return false;
  std::string l = line + "\n";
  bool ok = ::write(fd, l.data(), l.size()) == static_cast<ssize_t>(l.size());
  ::close(fd);
  return ok;
}

std::string FaultWorld::mock_log() const { return read_file(dir_ + "/mock-kafka.log"); }

namespace {

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto* p = static_cast<Produced*>(opaque);
  if (msg->err) {
    if (p->failed++ == 0) p->first_error = rd_kafka_err2str(msg->err);
  } else {
    p->delivered++;
  }
}

}  // namespace

void FaultWorld::start_producing(int rate, uint32_t seed) {
  static Produced produced;  // delivery callbacks run on this thread only (rd_kafka_poll)
  produced = Produced{};
  std::string err;
  producer_ = strata::test::kafka_client(
      RD_KAFKA_PRODUCER,
      {{"bootstrap.servers", bootstrap_},
       // Idempotence keeps each partition in send order without duplicates through broker
       // outages and leader moves, so the log itself holds strictly increasing sequences per key.
       {"enable.idempotence", "true"},
       {"linger.ms", "5"},
       {"message.timeout.ms", "300000"},
       // Broker outages are the point: their connection errors are not news.
       {"log_level", "1"}},
      &err, [](rd_kafka_conf_t* conf) {
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_conf_set_opaque(conf, &produced);
      });
  producing_ = producer_ != nullptr;
  if (producer_) producer_thread_ = std::thread([this, rate, seed] { produce_loop(rate, seed); });
}

void FaultWorld::produce_loop(int rate, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int64_t> seq(static_cast<size_t>(keys_), 0);
  auto start = Clock::now();
  int64_t n = 0;
  while (producing_) {
    auto due =
        static_cast<int64_t>(std::chrono::duration<double>(Clock::now() - start).count() * rate);
    for (; n < due; ++n) {
      int k = static_cast<int>(rng() % static_cast<uint32_t>(keys_));
      std::string key = key_name(k);
      std::string value =
          "{\"k\":\"" + key + "\",\"seq\":" + std::to_string(++seq[static_cast<size_t>(k)]) + "}";
      rd_kafka_resp_err_t e = rd_kafka_producev(
          producer_, RD_KAFKA_V_TOPIC(kTopic), RD_KAFKA_V_KEY(key.data(), key.size()),
          RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_END);
      if (e) {  // queue full: the sequence was taken, send it again
        --seq[static_cast<size_t>(k)];
        break;
      }
      sent_++;
    }
    rd_kafka_poll(producer_, 10);
  }
}

Produced FaultWorld::stop_producing(int flush_timeout_ms) {
  producing_ = false;
  if (producer_thread_.joinable()) producer_thread_.join();
  Produced out;
  if (!producer_) return out;
  rd_kafka_flush(producer_, flush_timeout_ms);
  Produced* p = static_cast<Produced*>(rd_kafka_opaque(producer_));
  out = *p;
  out.sent = sent_;
  rd_kafka_destroy(producer_);
  producer_ = nullptr;
  return out;
}

}  // namespace strata::test::faults

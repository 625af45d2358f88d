// The world a fault schedule runs in: strata-mock-kafka (3 brokers, a control FIFO), real
// memcached and redis-server, one or two strata members in one consumer group, and a producer
// of per-key sequence numbers. fault_schedule.cpp breaks it; fault_checks.cpp judges it.
#pragma once

#include <librdkafka/rdkafka.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "servers.hpp"

namespace strata::test::faults {

constexpr const char* kTopic = "events";
constexpr const char* kPipeline = "p";
constexpr const char* kKeyPrefix = "f:";  // the key hook's prefix of every cache key

// A child process whose exit status is kept, with bounded waits.
class Process {
 public:
  ~Process() { kill9(); }
  bool start(const std::vector<std::string>& argv, const std::string& log_path);
  bool alive();  // reaps a child that exited
  void signal(int sig) const;
  // Exit status (128+signal when killed), or nullopt if still running after timeout_ms.
  std::optional<int> wait_exit(int timeout_ms);
  void kill9();
  pid_t pid() const { return pid_; }
  int last_status() const { return status_; }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

// One strata process identity: a config file and an admin port, across incarnations (a
// kill -9 and restart is a new incarnation with the same config).
struct Member {
  std::string name;
  std::string config;
  int admin_port = 0;
  Process proc;
  int incarnation = 0;
  std::string log;  // the current incarnation's log
  std::vector<std::string> logs;
  // Counters of finished incarnations, and the last scrape of the current one.
  double records_done = 0, replays_done = 0;
  double records_now = 0, replays_now = 0, suspects_now = 0;
};

struct Produced {
  int64_t sent = 0, delivered = 0, failed = 0;
  std::string first_error;
};

class FaultWorld {
 public:
  FaultWorld(std::string dir, int partitions, int keys);
  ~FaultWorld();
  bool start(std::string* why);  // servers, mock, member A; false with the reason

  const std::string& dir() const { return dir_; }
  int partitions() const { return partitions_; }
  int keys() const { return keys_; }
  std::string key_name(int i) const { return "k" + std::to_string(i); }
  ServerProcess& memcached() { return memcached_; }
  ServerProcess& redis() { return redis_; }
  const std::string& bootstrap() const { return bootstrap_; }

  // Members: "A" always exists, "B" joins and leaves.
  Member& member(const std::string& name);
  bool start_member(Member& m);
  void kill_member(Member& m);                                // scrape, then kill -9
  std::optional<int> stop_member(Member& m, int timeout_ms);  // scrape, SIGTERM, bounded wait
  std::string good_config(const Member& m) const;
  void scrape(Member& m);  // /metrics of a running member into its *_now fields
  double total_records();
  double total_replays();
  double total_suspects();

  // One command to strata-mock-kafka's control FIFO ("broker down 2", ...).
  bool mock_command(const std::string& line);
  std::string mock_log() const;

  // The producer: `rate` records a second from `seed` until stop_producing(); flushes then.
  void start_producing(int rate, uint32_t seed);
  Produced stop_producing(int flush_timeout_ms);

 private:
  void produce_loop(int rate, uint32_t seed);
  void scrape_loop();

  std::string dir_;
  int partitions_, keys_;
  ServerProcess memcached_{ServerProcess::Kind::Memcached};
  // appendfsync always: a Redis kill -9 keeps every write it acknowledged, so a value lost or
  // rolled back after it is strata's fault, not a Redis data-loss fault.
  ServerProcess redis_{
      ServerProcess::Kind::Redis, 0, {"--appendonly", "yes", "--appendfsync", "always"}};
  Process mock_;
  std::string bootstrap_, control_;
  std::map<std::string, std::unique_ptr<Member>> members_;
  std::mutex members_mu_;

  rd_kafka_t* producer_ = nullptr;
  std::thread producer_thread_, scraper_;
  std::atomic<bool> producing_{false}, scraping_{true};
  std::atomic<int64_t> sent_{0};
};

}  // namespace strata::test::faults

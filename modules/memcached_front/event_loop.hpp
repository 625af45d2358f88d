// One epoll event loop of the memcached front, run by one thread: it accepts from the shared
// listening socket, serves its connections, and takes back the chain's completions, which
// arrive on host threads (or inline in chain_submit) through post() and an eventfd.
#pragma once

#include <strata/strata.h>

#include <cstdint>
#include <mutex>
#include <unordered_set>
#include <vector>

namespace mcfront {

class Server;
class Connection;
struct Batch;

class EventLoop {
 public:
  EventLoop(Server& server, int listen_fd);
  ~EventLoop();  // releases completions that came after run() returned
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  void run();   // until the server stops and in-flight ops are done (or the deadline passed)
  void wake();  // any thread
  void post(Batch* batch);  // any thread: a batch the chain answered
  // strata_chain_done_fn: user is the Batch.
  static void on_chain_done(void* user, strata_chain_op* ops, size_t count);

  Server& server() { return server_; }
  // The loop's clock, read once per turn and once per finished batch (not per request): when
  // the requests being parsed now were read, or the replies being encoded were answered.
  uint64_t now_ns() const { return now_ns_; }
  int64_t now_unix_ms();  // read at most once per tick()
  void set_interest(Connection& conn, uint32_t events);
  void forget(Connection& conn);  // closing: out of epoll, deleted once nothing is in flight
  // Moves a client's staged ops into this turn's batch; returns that batch.
  Batch* enqueue(Batch& staged);

 private:
  void accept_all();
  void drain_completions();
  void finish_batch(Batch* batch);
  void submit_pending();
  void sweep_idle(uint64_t now_ns);
  void reap();
  bool drained() const;
  void begin_stop();
  void tick();

  Server& server_;
  int listen_fd_;
  int epfd_ = -1;
  int wake_fd_ = -1;
  char listen_tag_ = 0, wake_tag_ = 0;  // epoll data for the two non-connection fds
  std::mutex mu_;
  std::vector<Batch*> done_;   // completions, guarded by mu_
  bool wake_pending_ = false;  // guarded by mu_: the eventfd was written since a drain
  std::vector<Batch*> local_;
  Batch* pending_ = nullptr;           // this turn's ops, submitted at its end
  std::vector<Connection*> finished_;  // scratch of finish_batch
  std::unordered_set<Connection*> conns_;
  std::vector<Connection*> dead_;
  bool stopping_ = false;
  uint64_t last_sweep_ns_ = 0;
  uint64_t now_ns_ = 0;
  int64_t now_unix_ms_ = -1;  // -1: not read since the last tick()
};

}  // namespace mcfront

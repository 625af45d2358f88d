// One client connection of the memcached front, owned by one event loop and touched only by
// its thread. Requests are parsed as bytes arrive and queued as slots; the chain ops of the
// slots parsed since the last submit go out as one batch (so a pipeline of gets is one
// multi-get), at most one batch in flight per connection (so a client reads its own writes in
// order); replies leave strictly in request order. A client whose replies pile up (it does
// not read) is not read either, and never holds up other clients.
#pragma once

#include <strata/strata.h>

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "protocol.hpp"

namespace mcfront {

class EventLoop;
class Connection;

struct Slot {
  Connection* conn = nullptr;
  Request req;
  std::string reply;
  size_t first_op = 0;
  size_t op_count = 0;
  bool ready = false;
  uint64_t start_ns = 0;
};

// The ops of one submit: every request its loop's clients parsed in one turn, each client's
// slots side by side (a client is in at most one batch in flight). A client also stages its
// next requests in one of these while its batch is in flight. Owned by the loop.
struct Batch {
  EventLoop* loop = nullptr;
  std::vector<strata_chain_op> ops;
  std::vector<Slot*> slots;
  bool refused = false;  // chain_submit refused it: statuses set here, nothing to release
};

class Connection {
 public:
  Connection(EventLoop& loop, int fd);
  ~Connection();
  int fd() const { return fd_; }
  bool closed() const { return fd_ < 0; }
  bool idle_since(uint64_t ns) const {
    return !in_flight_ && slots_.empty() && last_active_ns_ < ns;
  }
  bool has_in_flight() const { return in_flight_ != nullptr; }

  void set_initial_interest(uint32_t events) { interest_ = events; }
  void on_readable();
  void on_writable();
  // The chain answered one of this client's slots (on this loop's thread): its reply.
  void finish_slot(Slot& slot, const strata_chain_op* ops);
  // Every slot of this client in its batch in flight is answered.
  void batch_finished();
  // Stops reading; replies already owed are still written if the socket takes them.
  void shut_reading();
  void close();

 private:
  void parse_input();
  void accept_request(Request& req);
  void submit_next();
  void flush_ready();
  void write_out();
  void update_interest();
  bool backlogged() const;

  EventLoop& loop_;
  int fd_;
  Parser parser_;
  std::string in_;
  size_t in_head_ = 0;
  std::deque<Slot> slots_;
  Batch* next_ = nullptr;       // staged: ops parsed while a batch was in flight
  Batch* in_flight_ = nullptr;  // the loop's batch holding this client's ops
  std::string out_;
  size_t out_head_ = 0;
  bool reading_ = true;         // EPOLLIN wanted
  bool want_write_ = false;     // EPOLLOUT registered
  bool quit_ = false;           // quit or a fatal error parsed: no more requests
  bool close_after_write_ = false;
  uint32_t interest_ = 0;
  uint64_t last_active_ns_ = 0;
  Request scratch_;
};

}  // namespace mcfront

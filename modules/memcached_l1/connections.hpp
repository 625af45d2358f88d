// Connections of the memcached_l1 module: turns the module's settings into configured
// libmemcached handles and keeps a small pool of them for the threads that call execute().
// Used only by memcached_l1.cpp.
#pragma once

#include <libmemcached-1.0/memcached.h>
#include <strata/strata.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace memcached_l1 {

struct ServerAddress {
  std::string host;
  uint16_t port = 11211;
  uint32_t weight = 1;
  std::string str() const { return host + ":" + std::to_string(port); }
};

// Parses "host:port[:weight]" (port and weight optional); false with a message on error.
bool parse_server(const std::string& text, ServerAddress* out, std::string* error);

struct Settings {
  std::vector<ServerAddress> servers;
  bool ketama = true;
  int64_t connect_timeout_ms = 100;
  int64_t io_timeout_ms = 100;
  bool eject_failed = true;
  int64_t server_failure_limit = 2;
  int64_t retry_timeout_ms = 2000;
  std::string state_file;  // servers that missed writes, kept across a crash ("" = none)
  std::string username;
  std::string password;
};

// A libmemcached handle that frees itself.
struct MemcDeleter {
  void operator()(memcached_st* m) const { memcached_free(m); }
};
using Memc = std::unique_ptr<memcached_st, MemcDeleter>;

// Builds a handle for `servers` with the settings' timeouts, distribution and ejection.
// `buffered` turns on MEMCACHED_BEHAVIOR_BUFFER_REQUESTS (see memcached_l1.cpp for why).
// Throws strata::Error(STRATA_ERR_INVALID) when libmemcached refuses a setting.
Memc make_handle(const Settings& s, const std::vector<ServerAddress>& servers, bool buffered);

// libmemcached's last error without its "(0x55..) " handle prefix and " -> file.cc:123" suffix.
std::string last_error(memcached_st* m);

// The strata status of a libmemcached return code (connection, timeout, ejected and server
// errors are all ERR_UNAVAILABLE).
strata_status status_of(memcached_return_t rc);

// One caller's pair of handles to the same ring: `direct` answers every request (gets, add,
// delete); `pipelined` buffers sets until flushed. Both keep their own failure/ejection state.
struct Slot {
  Memc direct;
  Memc pipelined;
};

// Fixed-size pool of slots; acquire() blocks while all are in use.
class SlotPool {
 public:
  SlotPool(const Settings& s, size_t size);
  class Lease {
   public:
    Lease(SlotPool* pool, Slot* slot) : pool_(pool), slot_(slot) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), slot_(o.slot_) { o.slot_ = nullptr; }
    Lease(const Lease&) = delete;
    ~Lease() {
      if (slot_) pool_->release(slot_);
    }
    Slot& operator*() const { return *slot_; }
    Slot* operator->() const { return slot_; }

   private:
    SlotPool* pool_;
    Slot* slot_;
  };
  Lease acquire();

 private:
  void release(Slot* slot);
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<Slot*> free_;
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace memcached_l1

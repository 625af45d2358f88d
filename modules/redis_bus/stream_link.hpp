// The redis_bus subscriber's one Redis connection (hiredis 0.14, blocking): connect + AUTH +
// SELECT, and the cycle the subscriber repeats: XINFO STREAM (where the stream stands, to
// detect a trim past us or a recreated stream) and XREAD COUNT/BLOCK from our last id, sent
// together in one round trip. Used by redis_bus.cpp only.
#pragma once

#include <hiredis/hiredis.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bus_state.hpp"

namespace redis_bus {

struct LinkSettings {
  bool unix_socket = false;
  std::string host;  // host, or the socket path
  int port = 6379;
  std::string username, password;
  int64_t db = 0;
  int connect_timeout_ms = 200;
  int read_timeout_ms = 2000;  // XREAD's BLOCK plus the command timeout
  std::string display;         // "127.0.0.1:6379", never the password
};

// "host:port", "[v6]:port" or "/path/to.sock"; throws strata::Error(STRATA_ERR_INVALID).
void parse_address(const std::string& text, LinkSettings* s);

// XINFO STREAM, the fields the subscriber needs.
struct StreamInfo {
  bool exists = false;
  uint64_t length = 0;
  EntryId last_generated;
  bool has_added = false;  // Redis 7 and later report entries-added
  uint64_t added = 0;
  EntryId max_deleted;           // Redis 7: the highest id removed by XDEL (0-0: none)
  std::optional<EntryId> first;  // the oldest entry still in the stream
};

struct Entry {
  EntryId id;
  std::vector<std::string> keys;  // the `k` fields, in order
};

class StreamLink {
 public:
  explicit StreamLink(LinkSettings s) : s_(std::move(s)) {}
  bool connected() const { return c_ != nullptr; }
  // Connects, authenticates and selects the db; false with `err` on failure.
  bool connect(std::string* err);
  void close() { c_.reset(); }
  // XINFO STREAM `stream` then XREAD COUNT `count` BLOCK `block_ms` STREAMS `stream` `from`.
  // `info` is the stream before the read. False with `err` on an I/O error or a reply that is
  // not what these commands answer (the connection is closed then).
  bool poll(const std::string& stream, const EntryId& from, size_t count, int block_ms,
            StreamInfo* info, std::vector<Entry>* entries, std::string* err);
  // XINFO STREAM alone.
  bool info(const std::string& stream, StreamInfo* info, std::string* err);
  const LinkSettings& settings() const { return s_; }

 private:
  struct Free {
    void operator()(redisContext* c) const { redisFree(c); }
  };
  bool fail(const std::string& what, std::string* err);

  LinkSettings s_;
  std::unique_ptr<redisContext, Free> c_;
};

}  // namespace redis_bus

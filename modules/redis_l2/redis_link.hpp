// One Redis connection of the redis_l2 tier and what it needs around it: address parsing,
// connect + AUTH + SELECT + SCRIPT LOAD, the versioned-write Lua script, the companion version
// key, and how error replies map to strata statuses. Used only by redis_l2.cpp.
#pragma once

#include <hiredis/hiredis.h>
#include <signal.h>
#include <strata/strata.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

namespace redis_l2 {

// Where to connect. The URL form may carry credentials and a db that win over the options.
struct Endpoint {
  bool unix_socket = false;
  std::string host;  // host name / IP, or the socket path
  int port = 6379;
  bool has_username = false, has_password = false, has_db = false;
  std::string username, password;
  int64_t db = 0;
  std::string display;  // for messages: never contains the password
};

// "host[:port]", "[v6]:port", "/path/to.sock" or "redis://[user[:password]@]host[:port][/db]".
// Throws strata::Error(STRATA_ERR_INVALID) with the reason.
Endpoint parse_address(const std::string& text);

struct LinkSettings {
  Endpoint endpoint;
  std::string username, password;  // effective (URL over options)
  int64_t db = 0;
  int connect_timeout_ms = 200;
  int command_timeout_ms = 500;
};

struct ContextFree {
  void operator()(redisContext* c) const {
    if (c) redisFree(c);
  }
};
using Context = std::unique_ptr<redisContext, ContextFree>;

struct ReplyFree {
  void operator()(redisReply* r) const {
    if (r) freeReplyObject(r);
  }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

// The SHA1s of the scripts, as SCRIPT LOAD returned them; empty on failure.
struct Scripts {
  std::string versioned;   // kVersionedWriteScript
  std::string rich;        // kRichScript (rich_ops.hpp)
  std::string slot_guard;  // kSlotGuardScript (slot_guard.hpp, Redis Cluster)
  bool empty() const { return versioned.empty() || rich.empty() || slot_guard.empty(); }
};

// Result of opening a connection. `config_error` marks failures that a retry will not heal
// (wrong password, unknown user, bad db) as opposed to a server that is down.
struct Opened {
  Context ctx;
  Scripts scripts;
  std::string error;  // empty on success
  bool config_error = false;
};

// Connects, authenticates, selects the db and loads the scripts.
Opened open_link(const LinkSettings& s);

// SCRIPT LOAD of the scripts on an open connection; empty with `error` filled on failure.
Scripts load_scripts(redisContext* c, const LinkSettings& s, std::string* error);

// One synchronous command (binary-safe arguments, SIGPIPE ignored meanwhile); nullptr on an I/O
// failure (the reason is in c->errstr).
Reply send_command(redisContext* c, std::initializer_list<std::string_view> args);

// Message for an I/O failure on `c` (timeouts are named as such).
std::string io_error(const redisContext* c, const LinkSettings& s);

// The versioned-write script: a run of ops per call, two KEYS and five ARGV per op (see the
// .cpp), one reply element per op.
extern const char* const kVersionedWriteScript;

// The Redis key of a watermark named `name` (strata_tier_op.guard_name) under `prefix`.
inline std::string watermark_key(std::string_view prefix, std::string_view name) {
  std::string k(prefix);
  k += "strata:wm:";
  k += name;
  return k;
}

// Redis Cluster: the watermark of `name` for one hash slot, "strata:wm:{TAG}NAME" with the
// slot's tag (crc16.hpp slot_tag), so it lives in the slot of the writes it guards.
inline std::string watermark_key(std::string_view prefix, std::string_view name,
                                 std::string_view slot_tag) {
  if (slot_tag.empty()) return watermark_key(prefix, name);
  std::string k(prefix);
  k += "strata:wm:{";
  k += slot_tag;
  k += '}';
  k += name;
  return k;
}

// Companion key holding the version of `value_key`, in the same Redis Cluster hash slot:
//   value key without a hash tag:  "{" value_key "}:strata-ver"
//   value key with a hash tag:     value_key ":{strata-ver}"  (the tag of value_key stays first)
// The two forms cannot collide (they end differently).
std::string version_key(std::string_view value_key);

// Maps a Redis error reply to a status; `drop` is set when the connection should be replaced
// (READONLY after a failover, NOAUTH after an ACL change, ...).
strata_status classify_error_reply(std::string_view reply, bool* drop);

// Blocks SIGPIPE in this thread while hiredis writes to a socket the server may have closed
// (hiredis 0.14 uses write(), not send(MSG_NOSIGNAL)), and swallows a SIGPIPE raised meanwhile,
// so a dead server is an error value, not a dead process. Scoped.
class SigpipeGuard {
 public:
  SigpipeGuard();
  ~SigpipeGuard();
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t old_;
  bool blocked_ = false;
  bool was_pending_ = false;
};

}  // namespace redis_l2

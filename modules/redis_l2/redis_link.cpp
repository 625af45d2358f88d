// Connection handling for redis_l2: see redis_link.hpp.
#include "redis_link.hpp"

#include <pthread.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <strata/sdk.hpp>
#include <vector>

#include "rich_ops.hpp"
#include "slot_guard.hpp"

namespace redis_l2 {

// One call applies a run of versioned writes in order (a run of one is the unbatched path).
// Op i (1-based): KEYS[2i-1] value key, KEYS[2i] version key; ARGV[5i-4] "s" (set) | "d"
// (delete), ARGV[5i-3] version (decimal, no leading zeros), ARGV[5i-2] value (set),
// ARGV[5i-1] value TTL ms (0 = none), ARGV[5i] version key TTL ms (0 = none).
// With the invalidation bus on (bus_announce.hpp) KEYS has one more, the stream (KEYS[2n+1]),
// and ARGV three more: MAXLEN, the node name, the length of key_prefix (ARGV[5n+1..5n+3]); the
// keys of the applied ops (reply 1 or 0) are XADDed as one entry, in the same atomic call, and
// the reply gets one more element: the entry's id, or the XADD's error (the writes stand).
// Returns one element per op: -1 when a newer version is stored (nothing changed), 1 when
// applied (delete: a value was removed), 0 when a delete found no value (the tombstone is still
// written), or an error reply for that op.
// Versions are uint64: Lua numbers are doubles, so they are compared as decimal strings
// (longer is larger; same length compares bytewise) to stay exact above 2^53.
// Cost: every redis.call costs about a microsecond, so the script reads all version keys with
// one MGET, keeps the versions it writes in `cur` (later ops of the same key see them), and
// queues sets without TTL into one MSET (value and version key together) that it flushes before
// any other write, so writes still happen in op order. Sets with a TTL and deletes are single
// SET/DEL calls. MGET answers nil for a key of another type where GET fails with WRONGTYPE:
// the (rare) missing keys are checked with EXISTS/TYPE so such an op still gets WRONGTYPE.
// An error that refuses every write of the server (OOM, READONLY, MISCONF, ...) fails every
// later op of the call too, and nothing more is written. An error of the op itself (ERR, such
// as an expire time Redis refuses, or WRONGTYPE) fails only that op: each op keeps its own
// status (regression, issue 9 item 2: one bad TTL dead-lettered the good records after it).
const char* const kVersionedWriteScript = R"lua(
local n = math.floor(#KEYS / 2)
local vks = {}
for i = 1, n do vks[i] = KEYS[2 * i] end
local got = redis.call('MGET', unpack(vks))
local cur, absent = {}, {}
for i = 1, n do
  cur[vks[i]] = got[i]
  if not got[i] then absent[#absent + 1] = vks[i] end
end
if #absent > 0 and redis.call('EXISTS', unpack(absent)) > 0 then
  for _, vk in ipairs(absent) do
    if redis.call('TYPE', vk).ok ~= 'none' then
      cur[vk] = {err = 'WRONGTYPE Operation against a key holding the wrong kind of value'}
    end
  end
end
local out, queue, queued, failed = {}, {}, {}, nil
local function server_wide(r)
  local code = string.match(r.err, '^%u+')
  return code ~= 'ERR' and code ~= 'WRONGTYPE'
end
local function flush()
  if #queue == 0 then return end
  local r = redis.pcall('MSET', unpack(queue))
  if r.err then
    if server_wide(r) then failed = r end
    for _, j in ipairs(queued) do out[j] = r end
  end
  queue, queued = {}, {}
end
for i = 1, n do
  local k, vk, a = KEYS[2 * i - 1], vks[i], 5 * i - 5
  local v, c = ARGV[a + 2], cur[vk]
  if type(c) == 'table' then
    out[i] = c
  elseif c and (#c > #v or (#c == #v and c > v)) then
    out[i] = -1
  elseif failed then
    out[i] = failed
  else
    local set, ttl, vttl = ARGV[a + 1] == 's', tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
    if set and ttl == 0 and vttl == 0 then
      local q = #queue
      queue[q + 1], queue[q + 2], queue[q + 3], queue[q + 4] = k, ARGV[a + 3], vk, v
      queued[#queued + 1] = i
      out[i], cur[vk] = 1, v
    else
      flush()
      local r = failed
      if not r then
        if not set then
          r = redis.pcall('DEL', k)
        elseif ttl > 0 then
          r = redis.pcall('SET', k, ARGV[a + 3], 'PX', ARGV[a + 4])
        else
          r = redis.pcall('SET', k, ARGV[a + 3])
        end
        if set and not r.err then r = 1 end
      end
      if type(r) == 'table' then
        out[i] = r
        if failed == nil and server_wide(r) then failed = r end
      else
        local w
        if vttl > 0 then
          w = redis.pcall('SET', vk, v, 'PX', ARGV[a + 5])
        else
          w = redis.pcall('SET', vk, v)
        end
        if w.err then
          out[i] = w
          if failed == nil and server_wide(w) then failed = w end
        else
          out[i], cur[vk] = r, v
        end
      end
    end
  end
end
flush()
if #KEYS > 2 * n then
  local plen, fields = tonumber(ARGV[5 * n + 3]), {}
  for i = 1, n do
    if out[i] == 1 or out[i] == 0 then
      fields[#fields + 1] = 'k'
      fields[#fields + 1] = string.sub(KEYS[2 * i - 1], plen + 1)
    end
  end
  local id = ''
  if #fields > 0 then
    id = redis.pcall('XADD', KEYS[2 * n + 1], 'MAXLEN', '~', ARGV[5 * n + 1], '*', 'node',
                     ARGV[5 * n + 2], unpack(fields))
  end
  out[n + 1] = id
end
return out
)lua";

namespace {

[[noreturn]] void bad_address(const std::string& text, const std::string& why) {
  throw strata::Error(STRATA_ERR_INVALID, "address \"" + text + "\": " + why);
}

int parse_port(const std::string& text, const std::string& p) {
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos)
    bad_address(text, "port \"" + p + "\" is not a number");
  int port = std::stoi(p);
  if (port < 1 || port > 65535) bad_address(text, "port " + p + " is out of range 1..65535");
  return port;
}

std::string percent_decode(const std::string& text, const std::string& in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) bad_address(text, "bad %-escape");
    auto hex = [&](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      bad_address(text, "bad %-escape");
    };
    out += static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2]));
    i += 2;
  }
  return out;
}

// "host", "host:port", "[v6]", "[v6]:port".
void parse_host_port(const std::string& text, const std::string& hp, Endpoint* ep) {
  std::string port;
  if (!hp.empty() && hp[0] == '[') {
    size_t close = hp.find(']');
    if (close == std::string::npos) bad_address(text, "missing ']'");
    ep->host = hp.substr(1, close - 1);
    if (close + 1 < hp.size()) {
      if (hp[close + 1] != ':') bad_address(text, "expected ':' after ']'");
      port = hp.substr(close + 2);
      ep->port = parse_port(text, port);
    }
  } else {
    size_t colon = hp.rfind(':');
    ep->host = hp.substr(0, colon);
    if (colon != std::string::npos) ep->port = parse_port(text, hp.substr(colon + 1));
  }
  if (ep->host.empty()) bad_address(text, "missing host");
}

}  // namespace

Endpoint parse_address(const std::string& text) {
  Endpoint ep;
  if (text.empty()) bad_address(text, "empty");
  if (text[0] == '/') {
    ep.unix_socket = true;
    ep.host = text;
    ep.display = "unix:" + text;
    return ep;
  }
  const std::string scheme = "redis://";
  if (text.rfind("rediss://", 0) == 0) bad_address(text, "TLS (rediss://) is not supported");
  if (text.find("://") != std::string::npos && text.rfind(scheme, 0) != 0)
    bad_address(text, "only redis:// URLs are supported");
  if (text.rfind(scheme, 0) != 0) {
    parse_host_port(text, text, &ep);
    ep.display = ep.host + ":" + std::to_string(ep.port);
    return ep;
  }
  std::string rest = text.substr(scheme.size());
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "" : rest.substr(slash + 1);
  // The last '@' ends the credentials: a password may contain '@' unescaped.
  size_t at = authority.rfind('@');
  std::string hostport = authority;
  if (at != std::string::npos) {
    std::string userinfo = authority.substr(0, at);
    hostport = authority.substr(at + 1);
    size_t colon = userinfo.find(':');
    std::string user = percent_decode(text, userinfo.substr(0, colon));
    if (!user.empty()) {
      ep.has_username = true;
      ep.username = user;
    }
    if (colon != std::string::npos) {
      ep.has_password = true;
      ep.password = percent_decode(text, userinfo.substr(colon + 1));
    }
  }
  parse_host_port(text, hostport, &ep);
  if (!path.empty()) {
    if (path.size() > 9 || path.find_first_not_of("0123456789") != std::string::npos)
      bad_address(text, "db \"" + path + "\" is not a number");
    ep.has_db = true;
    ep.db = std::stoll(path);
  }
  // Appended piece by piece: GCC 12 -O3 warns (-Wrestrict, a false positive in libstdc++'s
  // operator+) on the one-expression form, which breaks Release builds with STRATA_WERROR.
  ep.display = "redis://";
  if (ep.has_username) ep.display.append(ep.username).append("@");
  ep.display.append(ep.host).append(":").append(std::to_string(ep.port));
  if (ep.has_db) ep.display.append("/").append(std::to_string(ep.db));
  return ep;
}

std::string io_error(const redisContext* c, const LinkSettings& s) {
  std::string what = c && c->errstr[0] ? c->errstr : "connection error";
  if (what.find("temporarily unavailable") != std::string::npos ||
      what.find("timed out") != std::string::npos)
    what = "timed out after " + std::to_string(s.command_timeout_ms) + "ms (command_timeout)";
  return "redis " + s.endpoint.display + ": " + what;
}

Reply send_command(redisContext* c, std::initializer_list<std::string_view> args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (auto a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  SigpipeGuard guard;
  return Reply(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data())));
}

namespace {

// One synchronous command; nullptr with `error` filled on I/O failure.
Reply command(redisContext* c, const LinkSettings& s, std::initializer_list<std::string_view> args,
              std::string* error) {
  Reply r = send_command(c, args);
  if (!r) *error = io_error(c, s);
  return r;
}

timeval to_timeval(int ms) {
  timeval tv;
  tv.tv_sec = ms / 1000;
  tv.tv_usec = (ms % 1000) * 1000;
  return tv;
}

}  // namespace

namespace {

std::string load_one(redisContext* c, const LinkSettings& s, const char* script,
                     std::string* error) {
  Reply r = command(c, s, {"SCRIPT", "LOAD", script}, error);
  if (!r) return "";
  if (r->type != REDIS_REPLY_STRING) {
    *error = "redis " + s.endpoint.display + ": SCRIPT LOAD failed: " +
             (r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len) : "unexpected reply");
    return "";
  }
  return std::string(r->str, r->len);
}

}  // namespace

Scripts load_scripts(redisContext* c, const LinkSettings& s, std::string* error) {
  Scripts out;
  out.versioned = load_one(c, s, kVersionedWriteScript, error);
  if (!out.versioned.empty()) out.rich = load_one(c, s, kRichScript, error);
  if (!out.rich.empty()) out.slot_guard = load_one(c, s, kSlotGuardScript, error);
  return out;
}

Opened open_link(const LinkSettings& s) {
  Opened out;
  const std::string where = "redis " + s.endpoint.display + ": ";
  timeval ct = to_timeval(s.connect_timeout_ms);
  redisContext* raw = s.endpoint.unix_socket
                          ? redisConnectUnixWithTimeout(s.endpoint.host.c_str(), ct)
                          : redisConnectWithTimeout(s.endpoint.host.c_str(), s.endpoint.port, ct);
  out.ctx.reset(raw);
  if (!raw) {
    out.error = where + "cannot allocate a connection";
    return out;
  }
  if (raw->err) {
    out.error = where + "connect failed: " + raw->errstr;
    out.ctx.reset();
    return out;
  }
  redisSetTimeout(raw, to_timeval(s.command_timeout_ms));
  if (!s.endpoint.unix_socket) redisEnableKeepAlive(raw);

  auto fail_reply = [&](const char* what, const Reply& r) {
    out.error = where + what + ": " +
                (r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len) : "unexpected reply");
    out.config_error = true;
    out.ctx.reset();
  };
  std::string err;
  if (!s.username.empty() || !s.password.empty()) {
    Reply r = s.username.empty() ? command(raw, s, {"AUTH", s.password}, &err)
                                 : command(raw, s, {"AUTH", s.username, s.password}, &err);
    if (!r) {
      out.error = err;
      out.ctx.reset();
      return out;
    }
    if (r->type == REDIS_REPLY_ERROR) {
      fail_reply(s.username.empty() ? "AUTH failed" : "AUTH as user failed", r);
      return out;
    }
  }
  if (s.db != 0) {
    std::string db = std::to_string(s.db);
    Reply r = command(raw, s, {"SELECT", db}, &err);
    if (!r) {
      out.error = err;
      out.ctx.reset();
      return out;
    }
    if (r->type == REDIS_REPLY_ERROR) {
      fail_reply(("SELECT " + db + " failed").c_str(), r);
      return out;
    }
  }
  out.scripts = load_scripts(raw, s, &err);
  if (out.scripts.empty()) {
    out.error = err;
    // An error reply here (NOAUTH, NOPERM) is configuration; an I/O error is not.
    out.config_error = raw->err == 0;
    out.ctx.reset();
  }
  return out;
}

std::string version_key(std::string_view value_key) {
  size_t open = value_key.find('{');
  if (open != std::string_view::npos) {
    size_t close = value_key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      std::string k(value_key);
      k += ":{strata-ver}";
      return k;
    }
  }
  std::string k;
  k.reserve(value_key.size() + 14);
  k += '{';
  k += value_key;
  k += "}:strata-ver";
  return k;
}

strata_status classify_error_reply(std::string_view reply, bool* drop) {
  auto starts = [&](std::string_view p) { return reply.substr(0, p.size()) == p; };
  *drop = false;
  if (starts("READONLY") || starts("NOAUTH") || starts("MASTERDOWN")) {
    *drop = true;
    return STRATA_ERR_UNAVAILABLE;
  }
  // MOVED / ASK: a cluster node names another one; this connection is still good (a reconnect
  // would get the same answer). The cluster router follows them (cluster_router.hpp).
  if (starts("MOVED") || starts("ASK") || starts("LOADING") || starts("BUSY") || starts("OOM") ||
      starts("TRYAGAIN") || starts("CLUSTERDOWN") || starts("NOREPLICAS") || starts("NOSCRIPT"))
    return STRATA_ERR_UNAVAILABLE;
  if (starts("WRONGTYPE") || starts("CROSSSLOT")) return STRATA_ERR_INVALID;
  return STRATA_ERR_INTERNAL;
}

SigpipeGuard::SigpipeGuard() {
  sigset_t pending;
  sigemptyset(&pending);
  if (sigpending(&pending) == 0) was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGPIPE);
  blocked_ = pthread_sigmask(SIG_BLOCK, &block, &old_) == 0;
}

SigpipeGuard::~SigpipeGuard() {
  if (!blocked_) return;
  if (!was_pending_) {
    sigset_t pending;
    sigemptyset(&pending);
    if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
      sigset_t pipe;
      sigemptyset(&pipe);
      sigaddset(&pipe, SIGPIPE);
      timespec zero{0, 0};
      while (sigtimedwait(&pipe, nullptr, &zero) == -1 && errno == EINTR) {
      }
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

}  // namespace redis_l2

// Redis Sentinel for redis_l2: see sentinel.hpp.
// Facts used (Redis documentation, "Sentinel clients guidelines" and "High availability with
// Redis Sentinel"): a client asks each sentinel in turn `SENTINEL get-master-addr-by-name`
// (an array of host and port, nil when the name is unknown), must check `ROLE` on the address
// it got (a sentinel may be stale), and may subscribe to `+switch-master`, whose message is
// "<name> <old-ip> <old-port> <new-ip> <new-port>".
#include "sentinel.hpp"

#include <poll.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <sstream>
#include <strata/sdk.hpp>

namespace redis_l2 {
namespace {

timeval to_timeval(int ms) {
  timeval tv;
  tv.tv_sec = ms / 1000;
  tv.tv_usec = (ms % 1000) * 1000;
  return tv;
}

std::string reply_text(redisContext* c, const redisReply* r) {
  if (!r) return c->errstr[0] ? c->errstr : "connection error";
  if (r->type == REDIS_REPLY_ERROR) return std::string(r->str, r->len);
  return "unexpected reply";
}

// One reply within `ms`: 1 got one, 0 none yet, -1 the connection failed. Polls the socket
// itself so the subscriber can look at its stop flag between reads (a hiredis read timeout
// would leave the context unusable).
int read_within(redisContext* c, int ms, Reply* out) {
  void* raw = nullptr;
  if (redisReaderGetReply(c->reader, &raw) != REDIS_OK) return -1;
  if (!raw) {
    pollfd p{c->fd, POLLIN, 0};
    int n = ::poll(&p, 1, ms);
    if (n < 0) return errno == EINTR ? 0 : -1;
    if (n == 0) return 0;
    if (redisBufferRead(c) != REDIS_OK) return -1;
    if (redisReaderGetReply(c->reader, &raw) != REDIS_OK) return -1;
    if (!raw) return 0;
  }
  out->reset(static_cast<redisReply*>(raw));
  return 1;
}

// "<name> <old-ip> <old-port> <new-ip> <new-port>" for our master name: the new address.
MasterAddress parse_switch(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string n, old_ip, old_port, ip, port;
  MasterAddress a;
  if (!(in >> n >> old_ip >> old_port >> ip >> port) || n != name) return a;
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
    return a;
  a.host = ip;
  a.port = std::stoi(port);
  return a;
}

}  // namespace

Endpoint parse_sentinel(const std::string& text) {
  if (text.find("://") != std::string::npos || (!text.empty() && text[0] == '/'))
    throw strata::Error(STRATA_ERR_INVALID,
                        "sentinels: \"" + text + "\": expected \"host[:port]\" or \"[v6]:port\"");
  std::string t = text;
  // Without a port the sentinel default applies; parse_address() would assume Redis's.
  bool has_port = t.size() && t[0] == '[' ? t.find("]:") != std::string::npos
                                          : t.find(':') != std::string::npos;
  Endpoint ep;
  try {
    ep = parse_address(t);
  } catch (const strata::Error& e) {
    throw strata::Error(STRATA_ERR_INVALID, std::string("sentinels: ") + e.what());
  }
  if (!has_port) ep.port = 26379;
  ep.display = "sentinel " + ep.host + ":" + std::to_string(ep.port);
  return ep;
}

bool cluster_options(const strata::Options& o) {
  if (o.boolean("cluster")) return true;
  for (const auto& n : o.list("nodes"))
    if (!n.empty()) return true;
  return false;
}

bool sentinel_options(const strata::Options& o, const LinkSettings& link, SentinelSettings* out) {
  std::vector<std::string> list = o.list("sentinels");
  std::string name = o.str("master_name");
  if (list.empty()) {
    if (!name.empty())
      throw strata::Error(STRATA_ERR_INVALID, "master_name is set but sentinels is empty");
    return false;
  }
  if (o.is_set("address"))
    throw strata::Error(STRATA_ERR_INVALID,
                        "address and sentinels are mutually exclusive (the sentinels name the "
                        "master): remove one of them");
  if (cluster_options(o))
    throw strata::Error(STRATA_ERR_INVALID,
                        "sentinels and Redis Cluster (cluster, nodes) are mutually exclusive: a "
                        "cluster fails over by itself");
  if (name.empty()) throw strata::Error(STRATA_ERR_INVALID, "sentinels needs master_name");
  for (const auto& text : list) out->sentinels.push_back(parse_sentinel(text));
  out->master_name = name;
  out->username = o.str("sentinel_username");
  out->password = o.str("sentinel_password");
  out->connect_timeout_ms = link.connect_timeout_ms;
  out->command_timeout_ms = link.command_timeout_ms;
  return true;
}

Context open_sentinel(const SentinelSettings& s, const Endpoint& sentinel, std::string* error) {
  Context c(redisConnectWithTimeout(sentinel.host.c_str(), sentinel.port,
                                    to_timeval(s.connect_timeout_ms)));
  if (!c || c->err) {
    *error = sentinel.display + ": connect failed: " + (c ? c->errstr : "out of memory");
    return Context();
  }
  redisSetTimeout(c.get(), to_timeval(s.command_timeout_ms));
  if (!s.password.empty()) {
    Reply r = s.username.empty() ? send_command(c.get(), {"AUTH", s.password})
                                 : send_command(c.get(), {"AUTH", s.username, s.password});
    if (!r || r->type == REDIS_REPLY_ERROR) {
      *error = sentinel.display + ": AUTH failed: " + reply_text(c.get(), r.get());
      return Context();
    }
  }
  return c;
}

MasterAddress ask_master(redisContext* c, const SentinelSettings& s, const Endpoint& sentinel,
                         std::string* error) {
  MasterAddress a;
  Reply r = send_command(c, {"SENTINEL", "get-master-addr-by-name", s.master_name});
  if (r && r->type == REDIS_REPLY_NIL) {
    *error = sentinel.display + ": unknown name";
  } else if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
             r->element[0]->type != REDIS_REPLY_STRING ||
             r->element[1]->type != REDIS_REPLY_STRING) {
    *error = sentinel.display + ": SENTINEL get-master-addr-by-name: " + reply_text(c, r.get());
  } else {
    std::string port(r->element[1]->str, r->element[1]->len);
    int p = std::atoi(port.c_str());
    if (p < 1 || p > 65535) {
      *error = sentinel.display + ": answered port \"" + port + "\"";
      return a;
    }
    a.host.assign(r->element[0]->str, r->element[0]->len);
    a.port = p;
  }
  return a;
}

std::string not_master(redisContext* c) {
  Reply r = send_command(c, {"ROLE"});
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
      r->element[0]->type != REDIS_REPLY_STRING)
    return "ROLE: " + reply_text(c, r.get());
  std::string role(r->element[0]->str, r->element[0]->len);
  return role == "master" ? "" : "role " + role;
}

// ---------------------------------------------------------------------------------------------

MasterAddress MasterResolver::discover(std::string* error) {
  discoveries_.fetch_add(1, std::memory_order_relaxed);
  std::string why;
  for (size_t k = 0; k < s_.sentinels.size(); ++k) {
    size_t i = (next_ + k) % s_.sentinels.size();
    const Endpoint& sentinel = s_.sentinels[i];
    std::string err;
    Context c = open_sentinel(s_, sentinel, &err);
    MasterAddress a;
    if (c) a = ask_master(c.get(), s_, sentinel, &err);
    if (!a.empty()) {
      next_ = i;
      return a;
    }
    why += (why.empty() ? "" : "; ") + err;
  }
  *error = "no sentinel knows it (" + why + ")";
  return MasterAddress();
}

Opened MasterResolver::open(const LinkSettings& base) {
  std::lock_guard<std::mutex> lk(mu_);  // one discovery at a time, not one per connection
  Opened out;
  // A server that is not the master (a stale sentinel, a failover under way) sends us to the
  // sentinel after the one that named it, at most once round them all (plus the address the
  // watch adopted, which no sentinel in the rotation gave).
  for (size_t attempt = 0; attempt <= s_.sentinels.size(); ++attempt) {
    if (known_.empty()) {
      std::string err;
      known_ = discover(&err);
      if (known_.empty()) {
        out.error = "redis " + base.endpoint.display + ": " + err;
        return out;
      }
      known_from_ = next_;
    }
    LinkSettings s = base;
    s.endpoint.host = known_.host;
    s.endpoint.port = known_.port;
    s.endpoint.display = base.endpoint.display + " at " + known_.str();
    out = open_link(s);
    if (!out.ctx) {
      known_ = MasterAddress();  // ask again next time: the failover may be done by then
      return out;
    }
    std::string role = not_master(out.ctx.get());
    if (role.empty()) {
      connected_ = known_;
      return out;
    }
    out.ctx.reset();
    out.error = "redis " + s.endpoint.display + " is not the master (" + role + ")";
    known_ = MasterAddress();
    if (known_from_ != SIZE_MAX) next_ = (known_from_ + 1) % s_.sentinels.size();
  }
  return out;
}

void MasterResolver::forget() {
  std::lock_guard<std::mutex> lk(mu_);
  known_ = MasterAddress();
}

bool MasterResolver::adopt(const MasterAddress& a) {
  std::lock_guard<std::mutex> lk(mu_);
  if (a == known_) return false;
  known_ = a;
  known_from_ = SIZE_MAX;
  return true;
}

MasterAddress MasterResolver::connected() const {
  std::lock_guard<std::mutex> lk(mu_);
  return connected_;
}

// ---------------------------------------------------------------------------------------------

SwitchWatch::SwitchWatch(SentinelSettings s, OnMaster on_master, OnLog warn)
    : s_(std::move(s)), on_master_(std::move(on_master)), warn_(std::move(warn)) {}

void SwitchWatch::start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void SwitchWatch::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool SwitchWatch::pause_ms(int ms) {
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait_for(lk, std::chrono::milliseconds(ms), [this] { return stop_.load(); });
  return !stop_;
}

void SwitchWatch::run() {
  int backoff = 100;
  bool warned = false;
  for (size_t i = 0; !stop_; i = (i + 1) % s_.sentinels.size()) {
    if (listen(s_.sentinels[i])) {
      backoff = 100;  // it was subscribed: the next sentinel is tried soon
      warned = false;
      if (!pause_ms(backoff)) return;
      continue;
    }
    if (!warned && (i + 1) % s_.sentinels.size() == 0) {
      warn_("sentinel watch: no sentinel accepts a +switch-master subscription; retrying");
      warned = true;
    }
    if (!pause_ms(backoff)) return;
    backoff = std::min(backoff * 2, 5000);
  }
}

bool SwitchWatch::listen(const Endpoint& sentinel) {
  std::string err;
  Context c = open_sentinel(s_, sentinel, &err);
  if (!c) return false;
  Reply sub = send_command(c.get(), {"SUBSCRIBE", "+switch-master"});
  if (!sub || sub->type != REDIS_REPLY_ARRAY) return false;
  // Asked on a second connection: this one is in subscriber mode now.
  if (Context q = open_sentinel(s_, sentinel, &err)) {
    MasterAddress a = ask_master(q.get(), s_, sentinel, &err);
    if (!a.empty()) on_master_(a, sentinel.display + " (after subscribing)");
  }
  while (!stop_) {
    Reply msg;
    int got = read_within(c.get(), 100, &msg);
    if (got < 0) return true;
    if (got == 0) continue;
    if (msg->type != REDIS_REPLY_ARRAY || msg->elements != 3 ||
        msg->element[2]->type != REDIS_REPLY_STRING)
      continue;
    MasterAddress a =
        parse_switch(std::string(msg->element[2]->str, msg->element[2]->len), s_.master_name);
    if (!a.empty()) on_master_(a, sentinel.display + " +switch-master");
  }
  return true;
}

}  // namespace redis_l2

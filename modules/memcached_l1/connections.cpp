// Settings -> configured libmemcached handles, and the pool of handles for concurrent callers.
#include "connections.hpp"

#include <strata/sdk.hpp>

#include <charconv>

namespace memcached_l1 {

namespace {

bool parse_uint(std::string_view text, uint64_t max, uint64_t* out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size() && *out <= max;
}

void behave(memcached_st* m, memcached_behavior_t flag, uint64_t value, const char* what) {
  memcached_return_t rc = memcached_behavior_set(m, flag, value);
  if (memcached_failed(rc))
    throw strata::Error(STRATA_ERR_INVALID, std::string("libmemcached refused ") + what + ": " +
                                                memcached_last_error_message(m));
}

}  // namespace

bool parse_server(const std::string& text, ServerAddress* out, std::string* error) {
  std::string_view rest = text;
  ServerAddress a;
  size_t colon = rest.find(':');
  a.host = std::string(rest.substr(0, colon));
  if (a.host.empty()) {
    *error = "server \"" + text + "\" has no host; expected host:port[:weight]";
    return false;
  }
  if (colon != std::string_view::npos) {
    rest.remove_prefix(colon + 1);
    size_t colon2 = rest.find(':');
    uint64_t port = 0;
    if (!parse_uint(rest.substr(0, colon2), 65535, &port) || port == 0) {
      *error = "server \"" + text + "\" has a bad port; expected host:port[:weight]";
      return false;
    }
    a.port = static_cast<uint16_t>(port);
    if (colon2 != std::string_view::npos) {
      uint64_t weight = 0;
      if (!parse_uint(rest.substr(colon2 + 1), 1000000, &weight) || weight == 0) {
        *error = "server \"" + text + "\" has a bad weight; expected a positive integer";
        return false;
      }
      a.weight = static_cast<uint32_t>(weight);
    }
  }
  *out = a;
  return true;
}

Memc make_handle(const Settings& s, const std::vector<ServerAddress>& servers, bool buffered) {
  Memc m(memcached_create(nullptr));
  if (!m) throw strata::Error(STRATA_ERR_INTERNAL, "memcached_create failed");
  memcached_st* h = m.get();
  // Non-blocking sockets: libmemcached only honours CONNECT_TIMEOUT in this mode.
  behave(h, MEMCACHED_BEHAVIOR_NO_BLOCK, 1, "no_block");
  behave(h, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1, "tcp_nodelay");
  behave(h, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, uint64_t(s.connect_timeout_ms), "connect_timeout");
  // POLL_TIMEOUT is milliseconds; SND/RCV timeouts are microseconds (socket options).
  behave(h, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, uint64_t(s.io_timeout_ms), "io_timeout");
  behave(h, MEMCACHED_BEHAVIOR_SND_TIMEOUT, uint64_t(s.io_timeout_ms) * 1000, "io_timeout");
  behave(h, MEMCACHED_BEHAVIOR_RCV_TIMEOUT, uint64_t(s.io_timeout_ms) * 1000, "io_timeout");
  if (s.ketama) {
    behave(h, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1, "ketama");
  } else {
    behave(h, MEMCACHED_BEHAVIOR_DISTRIBUTION, MEMCACHED_DISTRIBUTION_MODULA, "distribution");
  }
  // libmemcached counts retry/dead timeouts in whole seconds.
  uint64_t retry_s = uint64_t((s.retry_timeout_ms + 999) / 1000);
  if (retry_s == 0) retry_s = 1;
  behave(h, MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT, uint64_t(s.server_failure_limit),
         "server_failure_limit");
  behave(h, MEMCACHED_BEHAVIOR_SERVER_TIMEOUT_LIMIT, uint64_t(s.server_failure_limit),
         "server_failure_limit");
  // Never libmemcached's ejection: it moves a dead server's keys to the others, and those
  // copies go stale once the server is back. The module's ServerGate closes failed servers
  // instead (server_gate.hpp).
  behave(h, MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS, 0, "eject_failed");
  behave(h, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, retry_s, "retry_timeout");
  behave(h, MEMCACHED_BEHAVIOR_DEAD_TIMEOUT, retry_s, "retry_timeout");
  if (!s.username.empty()) {
    // memcached only speaks SASL over the binary protocol.
    behave(h, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1, "binary_protocol");
    if (memcached_failed(memcached_set_sasl_auth_data(h, s.username.c_str(), s.password.c_str())))
      throw strata::Error(STRATA_ERR_INVALID, "libmemcached refused the SASL credentials");
  }
  if (buffered) behave(h, MEMCACHED_BEHAVIOR_BUFFER_REQUESTS, 1, "buffer_requests");
  for (const auto& a : servers) {
    memcached_return_t rc = memcached_server_add_with_weight(h, a.host.c_str(), a.port, a.weight);
    if (memcached_failed(rc))
      throw strata::Error(STRATA_ERR_INVALID,
                          "cannot add server " + a.str() + ": " + memcached_last_error_message(h));
  }
  return m;
}

// libmemcached's last error without its "(0x55..) " handle prefix and " -> file.cc:123" suffix.
std::string last_error(memcached_st* m) {
  std::string e = memcached_last_error_message(m);
  if (e.rfind("(0x", 0) == 0) {
    size_t close = e.find(") ");
    if (close != std::string::npos) e.erase(0, close + 2);
  }
  size_t arrow = e.find(" -> ");
  if (arrow != std::string::npos) e.erase(arrow);
  while (!e.empty() && (e.back() == ' ' || e.back() == ',')) e.pop_back();
  return e;
}

strata_status status_of(memcached_return_t rc) {
  switch (rc) {
    case MEMCACHED_SUCCESS:
    case MEMCACHED_BUFFERED:
    case MEMCACHED_STORED:
    case MEMCACHED_DELETED:
      return STRATA_OK;
    case MEMCACHED_NOTFOUND:
      return STRATA_NOT_FOUND;
    case MEMCACHED_NOTSTORED:
    case MEMCACHED_DATA_EXISTS:
      return STRATA_NOT_STORED;
    case MEMCACHED_E2BIG:
      return STRATA_ERR_TOO_LARGE;
    case MEMCACHED_BAD_KEY_PROVIDED:
    case MEMCACHED_KEY_TOO_BIG:
      return STRATA_ERR_BAD_KEY;
    default:
      return STRATA_ERR_UNAVAILABLE;  // connection, timeout, ejected, server error
  }
}

SlotPool::SlotPool(const Settings& s, size_t size) {
  for (size_t i = 0; i < size; ++i) {
    auto slot = std::make_unique<Slot>();
    slot->direct = make_handle(s, s.servers, false);
    slot->pipelined = make_handle(s, s.servers, true);
    free_.push_back(slot.get());
    slots_.push_back(std::move(slot));
  }
}

SlotPool::Lease SlotPool::acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !free_.empty(); });
  Slot* s = free_.back();
  free_.pop_back();
  return Lease(this, s);
}

void SlotPool::release(Slot* slot) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(slot);
  }
  cv_.notify_one();
}

}  // namespace memcached_l1

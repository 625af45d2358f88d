// The text protocol: framing (lines, data blocks, limits) and the classic commands. The meta
// commands' flags are in meta_protocol.cpp.
#include "protocol.hpp"

#include <charconv>
#include <cstring>

namespace mcfront {
namespace {

constexpr const char* kBadFormat = "CLIENT_ERROR bad command line format\r\n";

template <typename T>
bool to_number(std::string_view s, T& out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

void fail(Request& req, const char* line, bool close = false) {
  req.cmd = Cmd::Error;
  req.reply = line;
  req.close = close;
}

struct Name {
  const char* text;
  Cmd cmd;
};
constexpr Name kNames[] = {
    {"get", Cmd::Get},         {"gets", Cmd::Gets},       {"gat", Cmd::Gat},
    {"gats", Cmd::Gats},       {"set", Cmd::Set},         {"add", Cmd::Add},
    {"replace", Cmd::Replace}, {"append", Cmd::Append},   {"prepend", Cmd::Prepend},
    {"cas", Cmd::Cas},         {"delete", Cmd::Delete},   {"incr", Cmd::Incr},
    {"decr", Cmd::Decr},       {"touch", Cmd::Touch},     {"version", Cmd::Version},
    {"stats", Cmd::Stats},     {"verbosity", Cmd::Verbosity}, {"flush_all", Cmd::FlushAll},
    {"quit", Cmd::Quit},       {"mg", Cmd::MetaGet},      {"ms", Cmd::MetaSet},
    {"md", Cmd::MetaDelete},   {"ma", Cmd::MetaArith},    {"mn", Cmd::MetaNoop},
    {"me", Cmd::MetaDebug},
};

Cmd lookup(std::string_view name) {
  for (const auto& n : kNames)
    if (name == n.text) return n.cmd;
  return Cmd::Error;
}

void tokenize(std::string_view line, std::vector<std::string_view>& tok) {
  tok.clear();
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ') ++i;
    if (i > start) tok.push_back(line.substr(start, i - start));
  }
}

bool retrieval_prefix(const char* in, size_t len) {
  std::string_view s(in, len < 5 ? len : 5);
  return s.starts_with("get ") || s.starts_with("gets ") || s.starts_with("gat ") ||
         s.starts_with("gats ");
}

}  // namespace

const char* cmd_name(Cmd c) {
  for (const auto& n : kNames)
    if (n.cmd == c) return n.text;
  return c == Cmd::Error ? "error" : "none";
}

bool is_retrieval(Cmd c) {
  return c == Cmd::Get || c == Cmd::Gets || c == Cmd::Gat || c == Cmd::Gats;
}

bool is_meta(Cmd c) { return c >= Cmd::MetaGet; }

void Request::clear() {
  cmd = Cmd::None;
  keys.clear();
  value.clear();
  flags = 0;
  exptime = 0;
  number = 0;
  noreply = false;
  close = false;
  reply.clear();
  meta = MetaFlags{};
}

size_t Parser::next(const char* in, size_t len, Request& req) {
  req.clear();
  if (swallow_ > 0) {
    size_t n = swallow_ < len ? static_cast<size_t>(swallow_) : len;
    swallow_ -= n;
    return n;
  }
  if (len == 0) return 0;
  const char* nl = static_cast<const char*>(std::memchr(in, '\n', len));
  size_t limit = retrieval_prefix(in, len) ? limits_.max_retrieval_line : limits_.max_line;
  if (!nl) {
    if (len <= limit) return 0;
    fail(req, "CLIENT_ERROR line too long\r\n", true);
    return len;
  }
  size_t line_bytes = static_cast<size_t>(nl - in) + 1;
  if (line_bytes > limit + 1) {
    fail(req, "CLIENT_ERROR line too long\r\n", true);
    return len;
  }
  std::string_view line(in, line_bytes - 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return parse_line(line, line_bytes, in, len, req);
}

size_t Parser::parse_line(std::string_view line, size_t line_bytes, const char* in, size_t len,
                          Request& req) {
  tokenize(line, tok_);
  req.cmd = tok_.empty() ? Cmd::Error : lookup(tok_[0]);
  switch (req.cmd) {
    case Cmd::Error:
      fail(req, "ERROR\r\n");
      return line_bytes;
    case Cmd::Set: case Cmd::Add: case Cmd::Replace: case Cmd::Append: case Cmd::Prepend:
    case Cmd::Cas:
      return parse_storage(line_bytes, in, len, req);
    case Cmd::MetaSet:
      return parse_meta_set(line_bytes, in, len, req);
    case Cmd::Get: case Cmd::Gets: case Cmd::Gat: case Cmd::Gats:
      parse_retrieval(req);
      return line_bytes;
    case Cmd::Version: case Cmd::Quit: case Cmd::MetaNoop:
      return line_bytes;  // memcached 1.6 ignores their arguments
    case Cmd::MetaGet: case Cmd::MetaDelete: case Cmd::MetaArith: case Cmd::MetaDebug:
      if (tok_.size() < 2) {
        fail(req, "ERROR\r\n");
      } else if (tok_[1].size() > limits_.max_key) {
        fail(req, kBadFormat);
      } else {
        parse_meta_flags(2, req);
      }
      return line_bytes;
    default:
      parse_simple(req);
      return line_bytes;
  }
}

void Parser::parse_retrieval(Request& req) {
  bool touch = req.cmd == Cmd::Gat || req.cmd == Cmd::Gats;
  size_t first = touch ? 2 : 1;
  if (tok_.size() < 2) return fail(req, "ERROR\r\n");
  if (touch && !to_number(tok_[1], req.exptime))
    return fail(req, "CLIENT_ERROR invalid exptime argument\r\n");
  if (tok_.size() <= first) return fail(req, "ERROR\r\n");
  for (size_t i = first; i < tok_.size(); ++i)
    if (tok_[i].size() > limits_.max_key) return fail(req, kBadFormat);
  req.keys.reserve(tok_.size() - first);
  for (size_t i = first; i < tok_.size(); ++i) req.keys.emplace_back(tok_[i]);
}

// set/add/replace/append/prepend <key> <flags> <exptime> <bytes> [noreply]
// cas <key> <flags> <exptime> <bytes> <cas unique> [noreply]
size_t Parser::parse_storage(size_t line_bytes, const char* in, size_t len, Request& req) {
  size_t base = req.cmd == Cmd::Cas ? 6 : 5;
  if (tok_.size() != base && tok_.size() != base + 1) {
    fail(req, "ERROR\r\n");
    return line_bytes;
  }
  req.noreply = tok_.size() == base + 1 && tok_.back() == "noreply";
  int64_t bytes = -1;
  bool ok = tok_[1].size() <= limits_.max_key && to_number(tok_[2], req.flags) &&
            to_number(tok_[3], req.exptime) && to_number(tok_[4], bytes) && bytes >= 0 &&
            (req.cmd != Cmd::Cas || to_number(tok_[5], req.number));
  if (!ok) {
    fail(req, kBadFormat);  // memcached does not swallow the data here: it reads as a command
    return line_bytes;
  }
  req.keys.emplace_back(tok_[1]);
  return read_data(line_bytes, bytes, in, len, req);
}

// The data block of a storage request: line_bytes of command line, then bytes + "\r\n".
size_t Parser::read_data(size_t line_bytes, int64_t bytes, const char* in, size_t len,
                         Request& req) {
  uint64_t block = static_cast<uint64_t>(bytes) + 2;
  if (static_cast<uint64_t>(bytes) > limits_.max_value) {
    fail(req, "SERVER_ERROR object too large for cache\r\n");
    swallow_ = block;
    return line_bytes;
  }
  if (len - line_bytes < block) return 0;
  const char* data = in + line_bytes;
  size_t n = static_cast<size_t>(bytes);
  if (data[n] != '\r' || data[n + 1] != '\n') {
    fail(req, "CLIENT_ERROR bad data chunk\r\n");
    return line_bytes + static_cast<size_t>(block);
  }
  req.value.assign(data, n);
  return line_bytes + static_cast<size_t>(block);
}

void Parser::parse_simple(Request& req) {
  const size_t n = tok_.size();
  bool noreply = n >= 2 && tok_.back() == "noreply";
  switch (req.cmd) {
    case Cmd::Delete: {
      // delete <key> [0] [noreply]: memcached's legacy hold time must be 0
      if (n < 2 || n > 4) return fail(req, "ERROR\r\n");
      bool valid = n == 2 || (n == 3 && (tok_[2] == "0" || noreply)) ||
                   (n == 4 && tok_[2] == "0" && noreply);
      req.noreply = noreply;
      if (!valid)
        return fail(req,
                    "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n");
      break;
    }
    case Cmd::Incr: case Cmd::Decr:
      if (n != 3 && n != 4) return fail(req, "ERROR\r\n");
      req.noreply = n == 4 && noreply;
      if (!to_number(tok_[2], req.number))
        return fail(req, "CLIENT_ERROR invalid numeric delta argument\r\n");
      break;
    case Cmd::Touch:
      if (n != 3 && n != 4) return fail(req, "ERROR\r\n");
      req.noreply = n == 4 && noreply;
      if (!to_number(tok_[2], req.exptime))
        return fail(req, "CLIENT_ERROR invalid exptime argument\r\n");
      break;
    case Cmd::Verbosity:
      if (n != 2 && n != 3) return fail(req, "ERROR\r\n");
      req.noreply = noreply;
      if (!to_number(tok_[1], req.number)) return fail(req, kBadFormat);
      return;
    case Cmd::FlushAll:
      if (n > 3) return fail(req, "ERROR\r\n");
      req.noreply = noreply;
      if (n == (noreply ? 3u : 2u) && !to_number(tok_[1], req.exptime))
        return fail(req, "CLIENT_ERROR invalid exptime argument\r\n");
      return;
    case Cmd::Stats:
      if (n != 1) return fail(req, "ERROR\r\n");
      return;
    default:
      return fail(req, "ERROR\r\n");
  }
  if (tok_[1].size() > limits_.max_key) return fail(req, kBadFormat);
  req.keys.emplace_back(tok_[1]);
}

bool exptime_to_ttl_ms(int64_t exptime, int64_t now_unix_ms, int64_t& ttl_ms) {
  constexpr int64_t kRelativeMax = 60 * 60 * 24 * 30;
  if (exptime == 0) {
    ttl_ms = -1;
    return true;
  }
  if (exptime < 0) return false;
  if (exptime <= kRelativeMax) {
    ttl_ms = exptime * 1000;
    return true;
  }
  int64_t left = exptime * 1000 - now_unix_ms;
  if (left <= 0) return false;
  ttl_ms = left;
  return true;
}

void append_u64(std::string& out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(r.ptr - buf));
}

void append_i64(std::string& out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(r.ptr - buf));
}

void append_value(std::string& out, std::string_view key, uint32_t flags, std::string_view data,
                  bool with_cas, uint64_t cas) {
  out += "VALUE ";
  out += key;
  out += ' ';
  append_u64(out, flags);
  out += ' ';
  append_u64(out, data.size());
  if (with_cas) {
    out += ' ';
    append_u64(out, cas);
  }
  out += "\r\n";
  out += data;
  out += "\r\n";
}

}  // namespace mcfront

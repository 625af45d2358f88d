// The meta commands (mg ms md ma mn me): their flags, base64 keys and the reply lines. Which
// flags each command takes, the error strings and which codes `q` hides follow memcached
// 1.6.18 byte for byte (tests/memcached_front compares the two on the same input).
#include <charconv>
#include <cstring>

#include "protocol.hpp"

namespace mcfront {
namespace {

template <typename T>
bool to_number(std::string_view s, T& out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

const char* valid_flags(Cmd c) {
  switch (c) {
    case Cmd::MetaGet: return "bcfhklOqstuvENRTPL";
    case Cmd::MetaSet: return "bcCEFIkOqsTMPL";
    case Cmd::MetaDelete: return "bCEIkOqTPL";
    case Cmd::MetaArith: return "bCENJDTMqtcvkOPL";
    default: return "b";  // me
  }
}

// memcached words the flag errors of mg/ms and of md/ma differently.
const char* flag_error(Cmd c, bool duplicate) {
  if (c == Cmd::MetaDelete || c == Cmd::MetaArith)
    return "CLIENT_ERROR invalid or duplicate flag\r\n";
  return duplicate ? "CLIENT_ERROR duplicate flag\r\n" : "CLIENT_ERROR invalid flag\r\n";
}

const char* token_error(Cmd c) {
  if (c == Cmd::MetaDelete || c == Cmd::MetaArith)
    return "CLIENT_ERROR invalid or duplicate flag\r\n";
  return "CLIENT_ERROR bad token in command line format\r\n";
}

// Flags whose memcached meaning the tier chain cannot keep (docs/memcached_front.md).
bool unsupported(Cmd c, char f) {
  switch (c) {
    case Cmd::MetaGet: return f == 'h' || f == 'l' || f == 'E' || f == 'R' || f == 'N';
    case Cmd::MetaSet: return f == 'I' || f == 'E';
    case Cmd::MetaDelete: return f == 'C' || f == 'I' || f == 'E';
    case Cmd::MetaArith: return f == 'C' || f == 'E' || f == 'N' || f == 'J';
    default: return false;
  }
}

bool valid_mode(Cmd c, char m) {
  if (c == Cmd::MetaSet) return m && std::strchr("EAPRSeaprs", m);
  return m && std::strchr("I+D-id", m);
}

// One flag token; false (with req.reply set) on a malformed one.
bool apply_flag(Cmd cmd, char f, std::string_view arg, MetaFlags& m, Request& req) {
  auto bad = [&](const char* line) {
    req.cmd = Cmd::Error;
    req.reply = line;
    return false;
  };
  switch (f) {
    case 'b': m.base64 = true; return true;
    case 'v': m.value = true; return true;
    case 'q': m.quiet = true; return true;
    case 'O':
      if (arg.size() > 32) return bad("CLIENT_ERROR opaque token too long\r\n");
      m.opaque = arg;
      m.ret += f;
      return true;
    case 'c': case 'f': case 'h': case 'k': case 'l': case 's': case 't':
      m.ret += f;
      return true;
    case 'T':
      m.has_ttl = true;
      return to_number(arg, m.ttl) || bad(token_error(cmd));
    case 'N':
      m.has_vivify = true;
      return to_number(arg, m.vivify_ttl) || bad(token_error(cmd));
    case 'C':
      m.has_cas = true;
      return to_number(arg, m.compare_cas) || bad(token_error(cmd));
    case 'F':
      m.has_flags = true;
      return to_number(arg, m.client_flags) || bad(token_error(cmd));
    case 'D':
      m.has_delta = true;
      return to_number(arg, m.delta) || bad(token_error(cmd));
    case 'J':
      return to_number(arg, m.initial) || bad(token_error(cmd));
    case 'M':
      if (arg.size() != 1 || !valid_mode(cmd, arg[0]))
        return bad(cmd == Cmd::MetaSet ? "CLIENT_ERROR invalid mode for ms M token\r\n"
                                       : "CLIENT_ERROR invalid mode for ma M token\r\n");
      m.mode = static_cast<char>(arg[0] >= 'a' ? arg[0] - 'a' + 'A' : arg[0]);
      return true;
    default:  // u P L R E I: accepted, their meaning (if any) is unsupported()'s business
      return true;
  }
}

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

bool Parser::parse_meta_flags(size_t first, Request& req) {
  MetaFlags& m = req.meta;
  m.key_token = tok_[1];
  bool seen[128] = {};
  for (size_t i = first; i < tok_.size(); ++i) {
    char f = tok_[i][0];
    unsigned char u = static_cast<unsigned char>(f);
    if (u >= 128 || !std::strchr(valid_flags(req.cmd), f)) {
      req.reply = flag_error(req.cmd, false);
      req.cmd = Cmd::Error;
      return false;
    }
    if (seen[u]) {
      req.reply = flag_error(req.cmd, true);
      req.cmd = Cmd::Error;
      return false;
    }
    seen[u] = true;
    Cmd cmd = req.cmd;
    if (!apply_flag(cmd, f, tok_[i].substr(1), m, req)) return false;
    if (!m.unsupported && unsupported(cmd, f)) m.unsupported = f;
  }
  std::string key;
  if (m.base64) {
    if (!base64_decode(m.key_token, key) || key.empty() || key.size() > limits_.max_key) {
      req.cmd = Cmd::Error;
      req.reply = "CLIENT_ERROR error decoding key\r\n";
      return false;
    }
  } else {
    key = m.key_token;
  }
  req.keys.push_back(std::move(key));
  return true;
}

// ms <key> <datalen> <flags>*: after a bad flag the data block is swallowed, as memcached does
// once it knows the length.
size_t Parser::parse_meta_set(size_t line_bytes, const char* in, size_t len, Request& req) {
  int64_t bytes = -1;
  if (tok_.size() < 2) {
    req.cmd = Cmd::Error;
    req.reply = "ERROR\r\n";
    return line_bytes;
  }
  if (tok_.size() < 3 || !to_number(tok_[2], bytes) || bytes < 0) {
    req.cmd = Cmd::Error;
    req.reply = "CLIENT_ERROR bad command line format\r\n";
    return line_bytes;
  }
  bool ok = tok_[1].size() <= limits_.max_key;
  if (!ok) {
    req.cmd = Cmd::Error;
    req.reply = "CLIENT_ERROR bad command line format\r\n";
  }
  if (ok && !parse_meta_flags(3, req)) ok = false;
  if (!ok) {
    if (static_cast<uint64_t>(bytes) <= limits_.max_value) swallow_ = static_cast<uint64_t>(bytes) + 2;
    return line_bytes;
  }
  return read_data(line_bytes, bytes, in, len, req);
}

bool valid_base64(std::string_view in) {
  std::string ignored;
  return base64_decode(in, ignored);
}

bool base64_decode(std::string_view in, std::string& out) {
  out.clear();
  if (in.size() % 4 != 0) return false;
  for (size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    for (int j = 0; j < 4; ++j) {
      char c = in[i + j];
      bool last = i + 4 == in.size();
      if (c == '=' && last && j >= 2 && (j == 3 || in[i + 3] == '=')) {
        v[j] = -2;
      } else {
        v[j] = b64_value(c);
        if (v[j] < 0) return false;
      }
    }
    if (v[2] == -2 && v[3] != -2) return false;
    uint32_t n = (static_cast<uint32_t>(v[0]) << 18) | (static_cast<uint32_t>(v[1]) << 12) |
                 (static_cast<uint32_t>(v[2] < 0 ? 0 : v[2]) << 6) |
                 static_cast<uint32_t>(v[3] < 0 ? 0 : v[3]);
    out += static_cast<char>((n >> 16) & 0xff);
    if (v[2] >= 0) out += static_cast<char>((n >> 8) & 0xff);
    if (v[3] >= 0) out += static_cast<char>(n & 0xff);
  }
  return true;
}

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (i + 1 < in.size()) n |= static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
    if (i + 2 < in.size()) n |= static_cast<uint32_t>(static_cast<unsigned char>(in[i + 2]));
    out += kB64[(n >> 18) & 63];
    out += kB64[(n >> 12) & 63];
    out += i + 1 < in.size() ? kB64[(n >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kB64[n & 63] : '=';
  }
  return out;
}

namespace {
bool quiet_hides(Cmd cmd, std::string_view code) {
  switch (cmd) {
    case Cmd::MetaGet: return code == "EN";
    case Cmd::MetaSet: case Cmd::MetaDelete: return code == "HD";
    case Cmd::MetaArith: return code == "HD" || code == "VA";
    default: return false;
  }
}
}  // namespace

bool append_meta(std::string& out, Cmd cmd, const MetaFlags& f, std::string_view code,
                 const MetaItem& item) {
  if (f.quiet && quiet_hides(cmd, code)) return false;
  out += code;
  bool va = code == "VA";
  if (va) {
    out += ' ';
    append_u64(out, item.data.size());
  }
  for (char r : f.ret) {
    switch (r) {
      case 'k':
        out += " k";
        out += f.key_token;
        if (f.base64) out += " b";
        break;
      case 'O':
        out += " O";
        out += f.opaque;
        break;
      case 'c': if (item.found) { out += " c"; append_u64(out, item.cas); } break;
      case 'f': if (item.found) { out += " f"; append_u64(out, item.flags); } break;
      case 's': if (item.found) { out += " s"; append_u64(out, item.data.size()); } break;
      case 't': if (item.found) { out += " t"; append_i64(out, item.ttl_s); } break;
      default: break;
    }
  }
  out += "\r\n";
  if (va) {
    out += item.data;
    out += "\r\n";
  }
  return true;
}

}  // namespace mcfront

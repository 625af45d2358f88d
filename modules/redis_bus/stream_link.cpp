// The subscriber's Redis connection: see stream_link.hpp.
#include "stream_link.hpp"

#include <sys/time.h>

#include <cstring>
#include <strata/sdk.hpp>
#include <string_view>

namespace redis_bus {
namespace {

struct ReplyFree {
  void operator()(redisReply* r) const {
    if (r) freeReplyObject(r);
  }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

timeval to_timeval(int ms) {
  timeval tv;
  tv.tv_sec = ms / 1000;
  tv.tv_usec = (ms % 1000) * 1000;
  return tv;
}

std::string text_of(const redisReply* r) {
  return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
               r->type == REDIS_REPLY_ERROR)
             ? std::string(r->str, r->len)
             : std::string();
}

void append(redisContext* c, std::initializer_list<std::string_view> args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (auto a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  redisAppendCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data());
}

std::optional<EntryId> id_of(const redisReply* r) { return parse_id(text_of(r)); }

// XINFO STREAM's flat field/value array (RESP2).
bool parse_info(const redisReply* r, StreamInfo* out) {
  *out = StreamInfo{};
  if (r->type == REDIS_REPLY_ERROR) {
    if (text_of(r).find("no such key") == std::string::npos) return false;
    return true;  // exists = false
  }
  if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) return false;
  out->exists = true;
  for (size_t i = 0; i + 1 < r->elements; i += 2) {
    const std::string field = text_of(r->element[i]);
    const redisReply* v = r->element[i + 1];
    if (field == "length" && v->type == REDIS_REPLY_INTEGER) {
      out->length = static_cast<uint64_t>(v->integer);
    } else if (field == "last-generated-id") {
      if (auto id = id_of(v)) out->last_generated = *id;
    } else if (field == "max-deleted-entry-id") {
      if (auto id = id_of(v)) out->max_deleted = *id;
    } else if (field == "entries-added" && v->type == REDIS_REPLY_INTEGER) {
      out->has_added = true;
      out->added = static_cast<uint64_t>(v->integer);
    } else if (field == "first-entry" && v->type == REDIS_REPLY_ARRAY && v->elements >= 1) {
      out->first = id_of(v->element[0]);
    }
  }
  return true;
}

// XREAD's [[stream, [[id, [f, v, ...]], ...]]], or nil when BLOCK timed out.
bool parse_entries(const redisReply* r, std::vector<Entry>* out) {
  out->clear();
  if (r->type == REDIS_REPLY_NIL) return true;
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 1) return false;
  const redisReply* s = r->element[0];
  if (s->type != REDIS_REPLY_ARRAY || s->elements != 2) return false;
  const redisReply* list = s->element[1];
  if (list->type != REDIS_REPLY_ARRAY) return false;
  out->reserve(list->elements);
  for (size_t i = 0; i < list->elements; ++i) {
    const redisReply* e = list->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2) return false;
    auto id = id_of(e->element[0]);
    const redisReply* f = e->element[1];
    if (!id || f->type != REDIS_REPLY_ARRAY) return false;
    Entry entry;
    entry.id = *id;
    for (size_t j = 0; j + 1 < f->elements; j += 2) {
      const redisReply* name = f->element[j];
      if (name->type == REDIS_REPLY_STRING && name->len == 1 && name->str[0] == 'k')
        entry.keys.push_back(text_of(f->element[j + 1]));
    }
    out->push_back(std::move(entry));
  }
  return true;
}

}  // namespace

void parse_address(const std::string& text, LinkSettings* s) {
  auto bad = [&](const std::string& why) {
    throw strata::Error(STRATA_ERR_INVALID, "address \"" + text + "\": " + why);
  };
  if (text.empty()) bad("empty");
  if (text[0] == '/') {
    s->unix_socket = true;
    s->host = text;
    s->display = "unix:" + text;
    return;
  }
  if (text.find("://") != std::string::npos) bad("give host:port or a unix socket path");
  std::string port;
  if (text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos) bad("missing ']'");
    s->host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') bad("expected ':' after ']'");
      port = text.substr(close + 2);
    }
  } else {
    size_t colon = text.rfind(':');
    s->host = text.substr(0, colon);
    if (colon != std::string::npos) port = text.substr(colon + 1);
  }
  if (s->host.empty()) bad("missing host");
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
      bad("port \"" + port + "\" is not a number");
    s->port = std::stoi(port);
    if (s->port < 1 || s->port > 65535) bad("port " + port + " is out of range 1..65535");
  }
  s->display = s->host + ":" + std::to_string(s->port);
}

bool StreamLink::fail(const std::string& what, std::string* err) {
  std::string io = c_ && c_->err ? std::string(": ") + c_->errstr : std::string();
  *err = "redis " + s_.display + ": " + what + io;
  c_.reset();
  return false;
}

bool StreamLink::connect(std::string* err) {
  c_.reset();
  timeval ct = to_timeval(s_.connect_timeout_ms);
  redisContext* raw = s_.unix_socket ? redisConnectUnixWithTimeout(s_.host.c_str(), ct)
                                     : redisConnectWithTimeout(s_.host.c_str(), s_.port, ct);
  if (!raw) {
    *err = "redis " + s_.display + ": cannot allocate a connection";
    return false;
  }
  c_.reset(raw);
  if (raw->err) return fail("connect failed", err);
  redisSetTimeout(raw, to_timeval(s_.read_timeout_ms));
  if (!s_.unix_socket) redisEnableKeepAlive(raw);
  auto command = [&](std::initializer_list<std::string_view> args, const char* what) {
    append(raw, args);
    void* r = nullptr;
    if (redisGetReply(raw, &r) != REDIS_OK || !r) return fail(what, err);
    Reply reply(static_cast<redisReply*>(r));
    if (reply->type == REDIS_REPLY_ERROR)
      return fail(std::string(what) + ": " + text_of(reply.get()), err);
    return true;
  };
  if (!s_.password.empty()) {
    bool ok = s_.username.empty() ? command({"AUTH", s_.password}, "AUTH")
                                  : command({"AUTH", s_.username, s_.password}, "AUTH");
    if (!ok) return false;
  }
  if (s_.db != 0 && !command({"SELECT", std::to_string(s_.db)}, "SELECT")) return false;
  return true;
}

bool StreamLink::info(const std::string& stream, StreamInfo* out, std::string* err) {
  if (!c_) return fail("not connected", err);
  append(c_.get(), {"XINFO", "STREAM", stream});
  void* r = nullptr;
  if (redisGetReply(c_.get(), &r) != REDIS_OK || !r) return fail("XINFO STREAM", err);
  Reply reply(static_cast<redisReply*>(r));
  if (!parse_info(reply.get(), out))
    return fail("XINFO STREAM: unexpected reply " + text_of(reply.get()), err);
  return true;
}

bool StreamLink::poll(const std::string& stream, const EntryId& from, size_t count, int block_ms,
                      StreamInfo* out, std::vector<Entry>* entries, std::string* err) {
  if (!c_) return fail("not connected", err);
  append(c_.get(), {"XINFO", "STREAM", stream});
  append(c_.get(), {"XREAD", "COUNT", std::to_string(count), "BLOCK", std::to_string(block_ms),
                    "STREAMS", stream, from.str()});
  void* r1 = nullptr;
  void* r2 = nullptr;
  if (redisGetReply(c_.get(), &r1) != REDIS_OK || !r1) return fail("XINFO STREAM", err);
  Reply info(static_cast<redisReply*>(r1));
  if (redisGetReply(c_.get(), &r2) != REDIS_OK || !r2) return fail("XREAD", err);
  Reply read(static_cast<redisReply*>(r2));
  if (!parse_info(info.get(), out))
    return fail("XINFO STREAM: unexpected reply " + text_of(info.get()), err);
  if (!parse_entries(read.get(), entries))
    return fail("XREAD: unexpected reply " + text_of(read.get()), err);
  return true;
}

}  // namespace redis_bus

// Requests -> chain ops -> replies. Each command keeps memcached's meaning where the chain can
// (reads through every tier, writes durable first); what it cannot keep answers SERVER_ERROR
// with the reason instead of a reply that would mislead a client.
#include "commands.hpp"

#include <strata/sdk.hpp>

namespace mcfront {
namespace {

using strata::chain_op;

void add_op(std::vector<strata_chain_op>& ops, strata_chain_op_kind kind, const std::string& key,
            std::string_view value = {}, int64_t ttl_ms = 0, uint32_t flags = 0,
            uint64_t cas = 0) {
  ops.push_back(chain_op(kind, key, value, ttl_ms, flags, cas));
}

std::string unsupported_flag(const Request& req) {
  return std::string("SERVER_ERROR flag ") + req.meta.unsupported + " of " + cmd_name(req.cmd) +
         " is not supported by strata's memcached front\r\n";
}

size_t retrieval_ops(const Request& req, int64_t now, std::vector<strata_chain_op>& ops) {
  bool touch = req.cmd == Cmd::Gat || req.cmd == Cmd::Gats;
  int64_t ttl = 0;
  bool expire = touch && !exptime_to_ttl_ms(req.exptime, now, ttl);
  for (const auto& key : req.keys) {
    add_op(ops, STRATA_CHAIN_GET, key, {}, expire ? 0 : ttl);
    if (expire) add_op(ops, STRATA_CHAIN_DELETE, key);  // gat with a past exptime
  }
  return req.keys.size() * (expire ? 2 : 1);
}

size_t storage_ops(const Request& req, int64_t now, std::vector<strata_chain_op>& ops,
                   std::string& reply) {
  int64_t ttl = 0;
  const std::string& key = req.keys[0];
  if (!exptime_to_ttl_ms(req.exptime, now, ttl)) {
    if (req.cmd != Cmd::Set) {
      reply = "SERVER_ERROR an exptime in the past is supported by set only\r\n";
      return 0;
    }
    add_op(ops, STRATA_CHAIN_DELETE, key);  // stored and expired at once: gone
    return 1;
  }
  switch (req.cmd) {
    case Cmd::Set: add_op(ops, STRATA_CHAIN_SET, key, req.value, ttl, req.flags); break;
    case Cmd::Add: add_op(ops, STRATA_CHAIN_ADD, key, req.value, ttl, req.flags); break;
    case Cmd::Replace: add_op(ops, STRATA_CHAIN_REPLACE, key, req.value, ttl, req.flags); break;
    case Cmd::Cas: add_op(ops, STRATA_CHAIN_CAS, key, req.value, ttl, req.flags, req.number); break;
    case Cmd::Append: add_op(ops, STRATA_CHAIN_APPEND, key, req.value); break;
    default: add_op(ops, STRATA_CHAIN_PREPEND, key, req.value); break;
  }
  return 1;
}

size_t meta_ops(const Request& req, int64_t now, std::vector<strata_chain_op>& ops,
                std::string& reply) {
  const MetaFlags& m = req.meta;
  const std::string& key = req.keys[0];
  if (m.unsupported) {
    reply = unsupported_flag(req);
    return 0;
  }
  int64_t ttl = -1;  // absent T: never expires, as in memcached
  bool expire = m.has_ttl && !exptime_to_ttl_ms(m.ttl, now, ttl);
  switch (req.cmd) {
    case Cmd::MetaGet:
    case Cmd::MetaDebug:
      add_op(ops, STRATA_CHAIN_GET, key, {}, m.has_ttl && !expire ? ttl : 0);
      if (expire) add_op(ops, STRATA_CHAIN_DELETE, key);
      return expire ? 2 : 1;
    case Cmd::MetaDelete:
      add_op(ops, STRATA_CHAIN_DELETE, key);
      return 1;
    case Cmd::MetaArith:
      add_op(ops, m.mode == 'D' || m.mode == '-' ? STRATA_CHAIN_DECR : STRATA_CHAIN_INCR, key, {},
             0, 0, m.delta);
      if (m.has_ttl) add_op(ops, expire ? STRATA_CHAIN_DELETE : STRATA_CHAIN_TOUCH, key, {}, ttl);
      return m.has_ttl ? 2 : 1;
    default:
      break;
  }
  char mode = m.mode ? m.mode : 'S';
  if (expire || (m.has_cas && mode != 'S')) {
    reply = expire ? "SERVER_ERROR an exptime in the past is not supported by ms\r\n"
                   : "SERVER_ERROR C with an M mode other than S is not supported\r\n";
    return 0;
  }
  strata_chain_op_kind kind = m.has_cas        ? STRATA_CHAIN_CAS
                              : mode == 'E'    ? STRATA_CHAIN_ADD
                              : mode == 'A'    ? STRATA_CHAIN_APPEND
                              : mode == 'P'    ? STRATA_CHAIN_PREPEND
                              : mode == 'R'    ? STRATA_CHAIN_REPLACE
                                               : STRATA_CHAIN_SET;
  bool concat = kind == STRATA_CHAIN_APPEND || kind == STRATA_CHAIN_PREPEND;
  add_op(ops, kind, key, req.value, concat ? 0 : ttl, concat ? 0 : m.client_flags, m.compare_cas);
  return 1;
}

size_t local_reply(const Request& req, const CommandConfig& cfg, std::string& reply) {
  switch (req.cmd) {
    case Cmd::Error: reply = req.reply; break;
    case Cmd::Version: reply = "VERSION 1.6.0-strata\r\n"; break;
    case Cmd::MetaNoop: reply = "MN\r\n"; break;
    case Cmd::Verbosity: reply = "OK\r\n"; break;
    case Cmd::Stats: reply = (cfg.stats ? cfg.stats() : std::string()) + "END\r\n"; break;
    case Cmd::FlushAll:
      // The tiers hold the stream's state; the chain has no flush. Allowed, it is accepted and
      // ignored (for clients that flush at start); see docs/memcached_front.md.
      reply = cfg.allow_flush_all
                  ? "OK\r\n"
                  : "SERVER_ERROR flush_all is disabled on this front (allow_flush_all)\r\n";
      break;
    default: reply.clear(); break;  // quit, none
  }
  if (req.noreply) reply.clear();
  return 0;
}

}  // namespace

size_t build_ops(const Request& req, const CommandConfig& cfg, int64_t now,
                 std::vector<strata_chain_op>& ops, std::string& reply) {
  switch (req.cmd) {
    case Cmd::Get: case Cmd::Gets: case Cmd::Gat: case Cmd::Gats:
      return retrieval_ops(req, now, ops);
    case Cmd::Set: case Cmd::Add: case Cmd::Replace: case Cmd::Append: case Cmd::Prepend:
    case Cmd::Cas: {
      size_t n = storage_ops(req, now, ops, reply);
      if (req.noreply) reply.clear();
      return n;
    }
    case Cmd::Delete:
      add_op(ops, STRATA_CHAIN_DELETE, req.keys[0]);
      return 1;
    case Cmd::Incr: case Cmd::Decr:
      add_op(ops, req.cmd == Cmd::Incr ? STRATA_CHAIN_INCR : STRATA_CHAIN_DECR, req.keys[0], {},
             0, 0, req.number);
      return 1;
    case Cmd::Touch: {
      int64_t ttl = 0;
      bool keep = exptime_to_ttl_ms(req.exptime, now, ttl);
      add_op(ops, keep ? STRATA_CHAIN_TOUCH : STRATA_CHAIN_DELETE, req.keys[0], {}, ttl);
      return 1;
    }
    case Cmd::MetaGet: case Cmd::MetaSet: case Cmd::MetaDelete: case Cmd::MetaArith:
    case Cmd::MetaDebug:
      return meta_ops(req, now, ops, reply);
    default:
      return local_reply(req, cfg, reply);
  }
}

}  // namespace mcfront

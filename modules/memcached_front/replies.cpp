// The reply of a request from its completed chain ops (the other half of commands.cpp).
#include <strata/sdk.hpp>

#include "commands.hpp"

namespace mcfront {
namespace {

bool is_error(strata_status s) {
  return s != STRATA_OK && s != STRATA_NOT_FOUND && s != STRATA_NOT_STORED;
}

std::string error_line(const strata_chain_op& op, ReplyInfo& info) {
  if (op.status == STRATA_ERR_BAD_KEY) {
    info.client_error = true;
    return "CLIENT_ERROR bad command line format\r\n";
  }
  if (op.status == STRATA_ERR_INVALID &&
      strata::result_error(op).find("non-numeric") != std::string_view::npos) {
    info.client_error = true;
    return "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n";
  }
  info.server_error = true;
  if (op.status == STRATA_ERR_TOO_LARGE) return "SERVER_ERROR object too large for cache\r\n";
  std::string msg(strata::result_error(op));
  if (msg.empty())
    msg = op.status == STRATA_ERR_BREAKER_OPEN ? "breaker open" : "tier chain unavailable";
  for (char& c : msg)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return "SERVER_ERROR " + msg + "\r\n";
}

int64_t ttl_seconds(int64_t ttl_ms) {
  if (ttl_ms <= 0) return -1;  // no expiry, or the tier cannot tell
  return (ttl_ms + 999) / 1000;
}

void note_hit(const strata_chain_op& op, ReplyInfo& info) {
  ++info.hits;
  if (op.result_tier && info.hit_tier_count < 8) info.hit_tiers[info.hit_tier_count++] = op.result_tier;
}

void retrieval_reply(const Request& req, const strata_chain_op* ops, size_t count,
                     std::string& reply, ReplyInfo& info) {
  size_t stride = req.keys.empty() ? 1 : count / req.keys.size();
  bool with_cas = req.cmd == Cmd::Gets || req.cmd == Cmd::Gats;
  for (size_t i = 0; i < req.keys.size(); ++i) {
    const strata_chain_op& op = ops[i * stride];
    if (is_error(op.status)) {
      reply = error_line(op, info);
      return;
    }
  }
  for (size_t i = 0; i < req.keys.size(); ++i) {
    const strata_chain_op& op = ops[i * stride];
    if (op.status != STRATA_OK) {
      ++info.misses;
      continue;
    }
    note_hit(op, info);
    append_value(reply, req.keys[i], op.result_flags, strata::result_value(op), with_cas,
                 op.result_cas);
  }
  reply += "END\r\n";
}

void storage_reply(const Request& req, const strata_chain_op& op, std::string& reply,
                   ReplyInfo& info) {
  bool cas = req.cmd == Cmd::Cas;
  if (is_error(op.status)) {
    reply = error_line(op, info);
  } else if (op.kind == STRATA_CHAIN_DELETE || op.status == STRATA_OK) {
    reply = "STORED\r\n";  // a DELETE here is a set whose exptime already passed
  } else if (op.status == STRATA_NOT_STORED) {
    reply = cas ? "EXISTS\r\n" : "NOT_STORED\r\n";
  } else {
    reply = cas ? "NOT_FOUND\r\n" : "NOT_STORED\r\n";
  }
}

void simple_reply(const Request& req, const strata_chain_op& op, std::string& reply,
                  ReplyInfo& info) {
  if (is_error(op.status)) {
    reply = error_line(op, info);
  } else if (op.status != STRATA_OK) {
    reply = "NOT_FOUND\r\n";
  } else if (req.cmd == Cmd::Delete) {
    reply = "DELETED\r\n";
  } else if (req.cmd == Cmd::Touch) {
    reply = "TOUCHED\r\n";
  } else {  // incr, decr
    reply.assign(strata::result_value(op));
    reply += "\r\n";
  }
}

MetaItem item_of(const strata_chain_op& op) {
  MetaItem item;
  item.found = true;
  item.data = strata::result_value(op);
  item.flags = op.result_flags;
  item.cas = op.result_cas;
  item.ttl_s = ttl_seconds(op.result_ttl_ms);
  return item;
}

void meta_get_reply(const Request& req, const strata_chain_op& op, std::string& reply,
                    ReplyInfo& info) {
  const MetaFlags& m = req.meta;
  if (op.status == STRATA_NOT_FOUND) {
    ++info.misses;
    if (req.cmd == Cmd::MetaDebug) reply = "EN\r\n";
    else append_meta(reply, req.cmd, m, "EN", MetaItem{});
    return;
  }
  note_hit(op, info);
  MetaItem item = item_of(op);
  if (m.has_ttl) item.ttl_s = m.ttl > 0 && m.ttl <= 2592000 ? m.ttl : item.ttl_s;
  if (req.cmd == Cmd::MetaDebug) {
    reply = "ME " + m.key_token + " exp=";
    append_i64(reply, item.ttl_s);
    reply += " la=0 cas=";
    append_u64(reply, item.cas);
    reply += " fetch=no cls=1 size=";
    append_u64(reply, item.data.size());
    reply += "\r\n";
    return;
  }
  append_meta(reply, req.cmd, m, m.value ? "VA" : "HD", item);
}

void meta_write_reply(const Request& req, const strata_chain_op* ops, size_t count,
                      std::string& reply) {
  const MetaFlags& m = req.meta;
  const strata_chain_op& op = ops[0];
  MetaItem item;
  if (req.cmd == Cmd::MetaArith) {
    if (op.status == STRATA_OK) {
      item = item_of(op);
      item.cas = strata_cas_token(item.data.data(), item.data.size());
      item.ttl_s = m.has_ttl && m.ttl > 0 && m.ttl <= 2592000 ? m.ttl : -1;
      append_meta(reply, req.cmd, m, m.value ? "VA" : "HD", item);
    } else {
      append_meta(reply, req.cmd, m, op.status == STRATA_NOT_FOUND ? "NF" : "NS", item);
    }
    (void)count;
    return;
  }
  if (req.cmd == Cmd::MetaDelete) {
    append_meta(reply, req.cmd, m, op.status == STRATA_OK ? "HD" : "NF", item);
    return;
  }
  bool concat = op.kind == STRATA_CHAIN_APPEND || op.kind == STRATA_CHAIN_PREPEND;
  if (op.status == STRATA_OK) {
    item.found = !concat;  // the new cas of a concatenation is not known here
    item.cas = strata_cas_token(req.value.data(), req.value.size());
    append_meta(reply, req.cmd, m, "HD", item);
  } else if (op.kind == STRATA_CHAIN_CAS) {
    append_meta(reply, req.cmd, m, op.status == STRATA_NOT_FOUND ? "NF" : "EX", item);
  } else {
    append_meta(reply, req.cmd, m, "NS", item);
  }
}

}  // namespace

void encode_reply(const Request& req, const strata_chain_op* ops, size_t count,
                  std::string& reply, ReplyInfo& info) {
  reply.clear();
  for (size_t i = 0; i < count && !is_retrieval(req.cmd); ++i)
    if (is_error(ops[i].status)) {
      reply = error_line(ops[i], info);
      if (req.noreply) reply.clear();
      return;
    }
  switch (req.cmd) {
    case Cmd::Get: case Cmd::Gets: case Cmd::Gat: case Cmd::Gats:
      retrieval_reply(req, ops, count, reply, info);
      return;
    case Cmd::MetaGet: case Cmd::MetaDebug:
      meta_get_reply(req, ops[0], reply, info);
      return;
    case Cmd::MetaSet: case Cmd::MetaDelete: case Cmd::MetaArith:
      meta_write_reply(req, ops, count, reply);
      return;
    case Cmd::Set: case Cmd::Add: case Cmd::Replace: case Cmd::Append: case Cmd::Prepend:
    case Cmd::Cas:
      storage_reply(req, ops[0], reply, info);
      break;
    default:
      simple_reply(req, ops[0], reply, info);
      break;
  }
  if (req.noreply) reply.clear();
}

}  // namespace mcfront

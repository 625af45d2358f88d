// Slot map and slot tags of redis_l2's Redis Cluster mode: see cluster_map.hpp.
#include "cluster_map.hpp"

#include <charconv>
#include <mutex>

namespace redis_l2 {

const std::string& slot_tag(uint16_t slot) {
  static const std::array<std::string, kClusterSlots> tags = [] {
    std::array<std::string, kClusterSlots> t;
    static const char kAlphabet[] =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    constexpr size_t kBase = sizeof kAlphabet - 1;
    size_t filled = 0;
    // Shortest strings first: every slot is hit within the 4-character strings (62^4).
    for (size_t len = 1; len <= 4 && filled < kClusterSlots; ++len) {
      size_t count = 1;
      for (size_t i = 0; i < len; ++i) count *= kBase;
      std::string s(len, kAlphabet[0]);
      for (size_t n = 0; n < count && filled < kClusterSlots; ++n) {
        size_t v = n;
        for (size_t i = 0; i < len; ++i, v /= kBase) s[len - 1 - i] = kAlphabet[v % kBase];
        std::string& slot_of_s = t[crc16(s) & (kClusterSlots - 1)];
        if (slot_of_s.empty()) {
          slot_of_s = s;
          ++filled;
        }
      }
    }
    return t;
  }();
  return tags[slot & (kClusterSlots - 1)];
}

int32_t SlotMap::master_index(const std::string& host, int port) {
  for (size_t i = 0; i < masters.size(); ++i)
    if (masters[i].host == host && masters[i].port == port) return static_cast<int32_t>(i);
  masters.push_back(node_endpoint(host, port));
  return static_cast<int32_t>(masters.size() - 1);
}

Endpoint node_endpoint(const std::string& host, int port) {
  Endpoint ep;
  ep.host = host;
  ep.port = port;
  ep.display =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  return ep;
}

bool parse_node_address(std::string_view text, std::string* host, int* port) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  // CLUSTER SLOTS / MOVED may append "@busport" in some versions.
  std::string_view p = text.substr(colon + 1);
  if (size_t at = p.find('@'); at != std::string_view::npos) p = p.substr(0, at);
  int v = 0;
  auto r = std::from_chars(p.data(), p.data() + p.size(), v);
  if (r.ec != std::errc() || r.ptr != p.data() + p.size() || v < 1 || v > 65535) return false;
  std::string_view h = text.substr(0, colon);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  host->assign(h);
  *port = v;
  return true;
}

bool parse_cluster_slots(const redisReply* r, const std::string& asked_host, SlotMap* out,
                         std::string* error) {
  if (!r || r->type != REDIS_REPLY_ARRAY) {
    *error = r && r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len)
                                               : "unexpected reply to CLUSTER SLOTS";
    return false;
  }
  SlotMap m;
  for (size_t i = 0; i < r->elements; ++i) {
    const redisReply* e = r->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
        e->element[0]->type != REDIS_REPLY_INTEGER || e->element[1]->type != REDIS_REPLY_INTEGER ||
        e->element[2]->type != REDIS_REPLY_ARRAY || e->element[2]->elements < 2 ||
        e->element[2]->element[0]->type != REDIS_REPLY_STRING ||
        e->element[2]->element[1]->type != REDIS_REPLY_INTEGER) {
      *error = "malformed CLUSTER SLOTS entry";
      return false;
    }
    long long first = e->element[0]->integer, last = e->element[1]->integer;
    const redisReply* master = e->element[2];
    std::string host(master->element[0]->str, master->element[0]->len);
    if (host.empty() || host == "?") host = asked_host;
    long long port = master->element[1]->integer;
    if (first < 0 || last >= kClusterSlots || first > last || port < 1 || port > 65535) {
      *error = "CLUSTER SLOTS entry out of range";
      return false;
    }
    int32_t idx = m.master_index(host, static_cast<int>(port));
    for (long long s = first; s <= last; ++s) m.owner[static_cast<size_t>(s)] = idx;
  }
  *out = std::move(m);
  return true;
}

bool fetch_slot_map(const LinkSettings& base, const std::vector<Endpoint>& from, SlotMap* out,
                    std::string* error, bool* config_error) {
  std::string reasons;
  *config_error = false;
  for (const Endpoint& ep : from) {
    LinkSettings s = base;
    s.endpoint = ep;
    s.db = 0;
    Opened o = open_link(s);
    std::string why;
    if (!o.ctx) {
      why = o.error;
      *config_error = *config_error || o.config_error;
    } else {
      SigpipeGuard guard;
      Reply r(static_cast<redisReply*>(redisCommand(o.ctx.get(), "CLUSTER SLOTS")));
      if (!r) {
        why = io_error(o.ctx.get(), s);
      } else if (parse_cluster_slots(r.get(), ep.host, out, &why)) {
        return true;
      } else {
        why = "redis " + ep.display + ": CLUSTER SLOTS: " + why;
      }
    }
    if (!reasons.empty()) reasons += "; ";
    reasons += why;
  }
  *error = from.empty() ? "no cluster node to ask for the slot map" : reasons;
  return false;
}

}  // namespace redis_l2

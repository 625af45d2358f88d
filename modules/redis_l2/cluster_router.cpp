// Slot routing and redirections of redis_l2 on Redis Cluster: see cluster_router.hpp.
#include "cluster_router.hpp"

#include <algorithm>
#include <chrono>
#include <strata/sdk.hpp>
#include <thread>

namespace redis_l2 {
namespace {

// Rounds per execute(): the first send and up to five resends. Between them only short
// sleeps (10, 20, 40, 80, 160 ms) for TRYAGAIN and lost nodes: a failover takes the cluster's
// node timeout, far longer; the caller's own retry with backoff covers that.
constexpr int kMaxRounds = 6;
constexpr std::chrono::milliseconds kRefreshGap{100};

enum class Redirect { None, Moved, Ask, TryAgain, Refresh };

struct Redirection {
  Redirect kind = Redirect::None;
  uint16_t slot = 0;
  std::string host;
  int port = 0;
};

// The node's messages read "redis HOST:PORT: MOVED 3999 127.0.0.1:7001" (the server's error
// reply behind the node's address).
Redirection redirection_of(const strata_tier_op& op) {
  Redirection r;
  if (op.status != STRATA_ERR_UNAVAILABLE) return r;
  std::string_view e(op.error);
  auto target = [&](size_t at, Redirect kind) {
    std::string_view rest = e.substr(at);
    size_t sp = rest.find(' ');
    if (sp == std::string_view::npos) return;
    int slot = 0;
    for (char c : rest.substr(0, sp)) {
      if (c < '0' || c > '9') return;
      slot = slot * 10 + (c - '0');
      if (slot >= kClusterSlots) return;
    }
    std::string_view addr = rest.substr(sp + 1);
    addr = addr.substr(0, addr.find(' '));
    if (!parse_node_address(addr, &r.host, &r.port)) return;
    r.slot = static_cast<uint16_t>(slot);
    r.kind = kind;
  };
  if (size_t p = e.find(": MOVED "); p != std::string_view::npos) {
    target(p + 8, Redirect::Moved);
  } else if (size_t q = e.find(": ASK "); q != std::string_view::npos) {
    target(q + 6, Redirect::Ask);
  } else if (e.find(": TRYAGAIN") != std::string_view::npos) {
    r.kind = Redirect::TryAgain;
  } else if (e.find(": CLUSTERDOWN") != std::string_view::npos ||
             e.find(": READONLY") != std::string_view::npos ||
             e.find(": MASTERDOWN") != std::string_view::npos) {
    r.kind = Redirect::Refresh;  // a master failed or was demoted: the map is out of date
  }
  return r;
}

// Ops that may be sent again when a connection died with their outcome unknown: applying
// them twice leaves the same data (guarded and versioned writes are refused the second time).
bool safe_to_resend(const strata_tier_op& op) {
  switch (op.kind) {
    case STRATA_TIER_GET:
    case STRATA_TIER_WATERMARK_GET:
    case STRATA_TIER_SET:
    case STRATA_TIER_DELETE:
    case STRATA_TIER_REPLACE:
    case STRATA_TIER_TOUCH:
      return true;
    default:
      return false;  // ADD, APPEND, PREPEND, INCR, DECR, CAS: a second run changes the answer
  }
}

// A CAS cannot follow an ASK: it is WATCH + GET, then MULTI / SET / EXEC, several commands
// that would each need ASKING; it waits for the slot to finish moving instead (TRYAGAIN-like).
// Scripts over several keys follow it; the importing node runs them once it holds all their
// keys and answers TRYAGAIN before.
bool follows_ask(const strata_tier_op& op) { return op.kind != STRATA_TIER_CAS; }

}  // namespace

ClusterRouter::ClusterRouter(strata::Host host, LinkSettings base, std::vector<Endpoint> seeds,
                             std::string prefix, MakeNode make)
    : host_(host),
      base_(std::move(base)),
      seeds_(std::move(seeds)),
      prefix_(std::move(prefix)),
      make_(std::move(make)) {
  moved_ = host_.counter("strata_redis_cluster_moved_total",
                         "MOVED redirections followed (slot map refreshed)");
  asked_ = host_.counter("strata_redis_cluster_ask_total", "ASK redirections followed");
  tryagain_ = host_.counter("strata_redis_cluster_tryagain_total",
                            "TRYAGAIN replies (a slot being migrated), retried");
  refreshes_ =
      host_.counter("strata_redis_cluster_map_refreshes_total", "Slot maps read (CLUSTER SLOTS)");
}

std::unique_ptr<ClusterRouter> ClusterRouter::create(strata::Host host, const LinkSettings& link,
                                                     const std::string& prefix,
                                                     const std::vector<std::string>& seeds,
                                                     MakeNode make) {
  if (link.db != 0)
    throw strata::Error(STRATA_ERR_INVALID, "cluster: Redis Cluster has only db 0 (db = " +
                                                std::to_string(link.db) + ")");
  if (prefix.find_first_of("{}") != std::string::npos)
    throw strata::Error(STRATA_ERR_INVALID,
                        "cluster: key_prefix must not contain '{' or '}' (it would decide the "
                        "hash slot of every key)");
  std::vector<Endpoint> eps;
  for (const std::string& n : seeds) {
    Endpoint ep = parse_address(n);
    if (ep.unix_socket)
      throw strata::Error(STRATA_ERR_INVALID, "cluster: node \"" + n + "\" is a unix socket");
    eps.push_back(ep);
  }
  return std::make_unique<ClusterRouter>(host, link, std::move(eps), prefix, std::move(make));
}

void ClusterRouter::start() {
  std::string err;
  bool config_error = false;
  if (!refresh(&err, &config_error)) {
    if (config_error) throw strata::Error(STRATA_ERR_INVALID, err);
    host_.warn("redis cluster not reachable yet; will read the slot map on use: " + err);
    return;
  }
  std::lock_guard<std::mutex> lk(mu_);
  std::string masters;
  for (const Endpoint& m : map_.masters) masters += (masters.empty() ? "" : ", ") + m.display;
  host_.info("redis cluster: slot map read, masters " + masters);
}

// One execute()'s view of its ops across rounds.
struct ClusterRouter::Pass {
  strata_tier_op* ops;
  std::vector<uint16_t> slot;
  std::vector<Route> routes;
  std::vector<Endpoint> ask;  // port 0: no ASK pending
  std::vector<uint8_t> lost;  // not vector<bool>: node threads write neighbouring entries
  bool refresh = false, backoff = false;  // before the next round
  explicit Pass(strata_tier_op* o, size_t n) : ops(o), slot(n), routes(n), ask(n), lost(n) {
    for (auto& e : ask) e.port = 0;
  }
};

ClusterNode* ClusterRouter::node_for(const Endpoint& ep) {
  auto it = nodes_.find(ep.display);
  if (it == nodes_.end()) it = nodes_.emplace(ep.display, make_(ep)).first;
  return it->second.get();
}

bool ClusterRouter::refresh(std::string* error, bool* config_error) {
  std::lock_guard<std::mutex> one(refresh_mu_);
  std::vector<Endpoint> ask;
  {
    std::lock_guard<std::mutex> lk(mu_);
    ask = map_.masters;  // the current masters first: the seeds may be gone
  }
  for (const Endpoint& s : seeds_)
    if (std::none_of(ask.begin(), ask.end(),
                     [&](const Endpoint& e) { return e.display == s.display; }))
      ask.push_back(s);
  SlotMap fresh;
  if (!fetch_slot_map(base_, ask, &fresh, error, config_error)) return false;
  {
    std::lock_guard<std::mutex> lk(mu_);
    map_ = std::move(fresh);
    have_map_ = true;
  }
  refreshes_.add();
  return true;
}

// During a resharding every batch may hear MOVED: one CLUSTER SLOTS per kRefreshGap is
// enough (the MOVED patches route the slots that moved meanwhile).
void ClusterRouter::refresh_soon() {
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (now - last_refresh_ < kRefreshGap) return;
    last_refresh_ = now;
  }
  std::string err;
  bool config_error = false;
  refresh(&err, &config_error);
}

bool ClusterRouter::ensure_map(std::string* error) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (have_map_) return true;
  }
  bool config_error = false;
  return refresh(error, &config_error);
}

void ClusterRouter::run_round(Pass& pass, const std::vector<size_t>& todo) {
  strata_tier_op* ops = pass.ops;
  const std::vector<Route>& routes = pass.routes;
  std::vector<uint8_t>* lost = &pass.lost;
  struct Group {
    ClusterNode* node;
    bool asking;
    std::vector<size_t> idx;
  };
  std::vector<Group> groups;
  for (size_t i : todo) {
    const Route& r = routes[i];
    auto g = std::find_if(groups.begin(), groups.end(),
                          [&](const Group& x) { return x.node == r.node && x.asking == r.asking; });
    if (g == groups.end()) g = groups.insert(groups.end(), Group{r.node, r.asking, {}});
    g->idx.push_back(i);
  }
  auto work = [&](Group& g) {
    // Ops of one slot next to each other, so scripts and guarded transactions (one slot
    // each) stay long; stable, so ops of one key keep their order.
    std::stable_sort(g.idx.begin(), g.idx.end(),
                     [&](size_t a, size_t b) { return pass.slot[a] < pass.slot[b]; });
    std::vector<strata_tier_op> sub;
    sub.reserve(g.idx.size());
    for (size_t i : g.idx) sub.push_back(ops[i]);
    uint64_t before = g.node->drops();
    bool gone = false;
    try {
      g.node->execute_on(sub.data(), sub.size(), g.asking);
    } catch (const strata::Error& e) {
      for (auto& op : sub) strata::set_op_error(op, e.status(), e.what());
      gone = true;
    } catch (const std::exception& e) {
      for (auto& op : sub) strata::set_op_error(op, STRATA_ERR_INTERNAL, e.what());
    }
    gone = gone || g.node->drops() != before;
    for (size_t k = 0; k < g.idx.size(); ++k) {
      ops[g.idx[k]] = sub[k];
      (*lost)[g.idx[k]] = gone;
    }
  };
  std::vector<std::thread> threads;
  for (size_t k = 1; k < groups.size(); ++k) threads.emplace_back(work, std::ref(groups[k]));
  if (!groups.empty()) work(groups[0]);
  for (auto& t : threads) t.join();
}

uint16_t ClusterRouter::key_slot_of(const strata_tier_op& op) const {
  std::string key = prefix_;
  key.append(op.key.data ? op.key.data : "", op.key.len);
  return key_slot(key);
}

void ClusterRouter::execute(strata_tier_op* ops, size_t n) {
  Pass pass(ops, n);
  std::vector<size_t> todo;
  todo.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (ops[i].kind == STRATA_TIER_WATERMARK_GET) {
      // Watermarks are kept per (partition, slot): there is no one position of the
      // partition to resume from. "Not found" makes the source start at Kafka's committed
      // offset; the per-slot guard then skips every record already applied.
      ops[i].status = STRATA_NOT_FOUND;
      ops[i].error[0] = '\0';
      continue;
    }
    pass.slot[i] = key_slot_of(ops[i]);
    todo.push_back(i);
  }
  std::string err;
  if (!todo.empty() && !ensure_map(&err)) {
    for (size_t i : todo) strata::set_op_error(ops[i], STRATA_ERR_UNAVAILABLE, err);
    return;
  }
  for (int round = 0; round < kMaxRounds && !todo.empty(); ++round) {
    pass.refresh = pass.backoff = false;
    std::vector<size_t> next, sendable = route(pass, todo, &next);
    run_round(pass, sendable);
    for (size_t i : sendable)
      if (follow(pass, i)) next.push_back(i);
    if (next.empty() || round + 1 == kMaxRounds) break;  // the rest keep their UNAVAILABLE
    if (pass.refresh) refresh_soon();  // a failure keeps the old map (and the MOVED patches)
    if (pass.backoff) std::this_thread::sleep_for(std::chrono::milliseconds(10 << round));
    todo = std::move(next);
  }
}

// Each op's node for this round: the ASK target, else its slot's master. Ops of a slot
// without a master go to `unroutable` (answered UNAVAILABLE, retried after a refresh).
std::vector<size_t> ClusterRouter::route(Pass& pass, const std::vector<size_t>& todo,
                                         std::vector<size_t>* unroutable) {
  std::vector<size_t> sendable;
  std::lock_guard<std::mutex> lk(mu_);
  for (size_t i : todo) {
    Route& r = pass.routes[i];
    int32_t o = map_.owner[pass.slot[i]];
    r.asking = pass.ask[i].port != 0;
    r.node = r.asking ? node_for(pass.ask[i]) : o < 0 ? nullptr : node_for(map_.masters[o]);
    pass.ask[i].port = 0;
    if (r.node) {
      sendable.push_back(i);
      continue;
    }
    strata::set_op_error(pass.ops[i], STRATA_ERR_UNAVAILABLE,
                         "redis cluster: no master serves slot " + std::to_string(pass.slot[i]) +
                             " in the slot map (CLUSTERDOWN)");
    unroutable->push_back(i);
    pass.refresh = pass.backoff = true;
  }
  return sendable;
}

// After a round: true when op i must be sent again (a redirection, or a lost node and an op
// that is safe to apply twice), with what to do first noted in `pass`.
bool ClusterRouter::follow(Pass& pass, size_t i) {
  const strata_tier_op& op = pass.ops[i];
  Redirection r = redirection_of(op);
  switch (r.kind) {
    case Redirect::Moved: {
      moved_.add();
      std::lock_guard<std::mutex> lk(mu_);  // go there now, even if the refresh fails
      map_.owner[r.slot] = map_.master_index(r.host, r.port);
      pass.refresh = true;
      return true;
    }
    case Redirect::Ask:
      asked_.add();
      if (follows_ask(op))
        pass.ask[i] = node_endpoint(r.host, r.port);
      else
        pass.backoff = true;
      return true;
    case Redirect::TryAgain:
      tryagain_.add();
      pass.backoff = true;
      return true;
    case Redirect::Refresh:
      pass.refresh = pass.backoff = true;
      return true;
    case Redirect::None:
      break;
  }
  if (pass.lost[i] && op.status == STRATA_ERR_UNAVAILABLE && safe_to_resend(op)) {
    pass.refresh = pass.backoff = true;  // the node may be gone and a replica promoted
    return true;
  }
  return false;
}

void ClusterRouter::health() {
  std::string err;
  if (!ensure_map(&err)) throw strata::Error(STRATA_ERR_UNAVAILABLE, err);
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::vector<ClusterNode*> masters;
    {
      std::lock_guard<std::mutex> lk(mu_);
      for (const Endpoint& m : map_.masters) masters.push_back(node_for(m));
    }
    try {
      for (ClusterNode* m : masters) m->ping();
      return;
    } catch (const strata::Error& e) {
      err = e.what();
    }
    bool config_error = false;
    std::string why;
    if (!refresh(&why, &config_error)) break;
  }
  throw strata::Error(STRATA_ERR_UNAVAILABLE, err);
}

void ClusterRouter::stop() {
  std::lock_guard<std::mutex> lk(mu_);
  for (auto& [name, node] : nodes_) node->close();
}

}  // namespace redis_l2

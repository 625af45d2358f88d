#include "fault_schedule.hpp"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include "e2e_support.hpp"
#include "files.hpp"

namespace strata::test::faults {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

constexpr FaultKind kAllKinds[] = {
    FaultKind::StrataKill9, FaultKind::MemcachedKill,   FaultKind::MemcachedStall,
    FaultKind::RedisKill,   FaultKind::RedisRestart,    FaultKind::RedisStall,
    FaultKind::BrokerDown,  FaultKind::LeaderMove,      FaultKind::CommitErrors,
    FaultKind::FetchErrors, FaultKind::MemberJoinLeave, FaultKind::BadReload,
};

void sleep_ms(int ms) { std::this_thread::sleep_for(milliseconds(ms)); }

int count_of(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

// Waits (bounded) until `pred` holds.
template <typename Pred>
bool wait_until(int timeout_ms, Pred pred) {
  auto deadline = Clock::now() + milliseconds(timeout_ms);
  while (!pred()) {
    if (Clock::now() > deadline) return false;
    sleep_ms(50);
  }
  return true;
}

// Broken configurations a reload must reject while the old one keeps running.
std::string bad_config(FaultWorld& w, const Member& m, uint32_t arg) {
  std::string good = w.good_config(m);
  switch (arg % 4) {
    case 0:
      return good.substr(0, good.size() / 2) + "\n[sources.events\nmodule = \n";
    case 1:
      return good + "no_such_option = 1\n";  // lands in the last table, the pipeline's
    case 2: {
      write_file(w.dir() + "/bad.lua", "function key(r) return end end\n");
      std::string bad = good;
      bad.replace(bad.find("keys.lua"), 8, "bad.lua");
      return bad;
    }
    default: {
      std::string deep = "a";  // issue 9 item 3: toml++ overflowed its stack on this
      for (int i = 0; i < 50000; ++i) deep += ".a";
      return good + deep + " = 1\n";
    }
  }
}

}  // namespace

const char* fault_name(FaultKind k) {
  switch (k) {
    case FaultKind::StrataKill9:
      return "strata kill -9";
    case FaultKind::MemcachedKill:
      return "memcached kill -9";
    case FaultKind::MemcachedStall:
      return "memcached SIGSTOP";
    case FaultKind::RedisKill:
      return "redis kill -9";
    case FaultKind::RedisRestart:
      return "redis SIGTERM restart";
    case FaultKind::RedisStall:
      return "redis SIGSTOP";
    case FaultKind::BrokerDown:
      return "broker down";
    case FaultKind::LeaderMove:
      return "leader moved";
    case FaultKind::CommitErrors:
      return "commit errors";
    case FaultKind::FetchErrors:
      return "fetch errors";
    case FaultKind::MemberJoinLeave:
      return "member join/leave";
    case FaultKind::BadReload:
      return "bad config SIGHUP";
  }
  return "?";
}

std::vector<Fault> draw_schedule(uint64_t seed, int fault_seconds, const std::string& skip) {
  std::mt19937_64 rng(seed);
  std::vector<Fault> out;
  std::vector<FaultKind> deck;
  int t = 1500;  // let the first member join and start writing
  while (t < fault_seconds * 1000) {
    // Every kind once per round, in a seeded order: a short schedule covers most of them.
    if (deck.empty()) {
      for (FaultKind k : kAllKinds)
        if (("," + skip + ",").find("," + std::string(fault_name(k)) + ",") == std::string::npos)
          deck.push_back(k);
      if (deck.empty()) break;
      std::shuffle(deck.begin(), deck.end(), rng);
    }
    Fault f{deck.back(), t, 150 + static_cast<int>(rng() % 1050), static_cast<uint32_t>(rng())};
    deck.pop_back();
    // "good reload": leave out the good SIGHUP that follows a rejected one (bit 2 of arg).
    if (f.kind == FaultKind::BadReload &&
        ("," + skip + ",").find(",good reload,") != std::string::npos)
      f.arg &= ~4u;
    out.push_back(f);
    t += f.hold_ms + 200 + static_cast<int>(rng() % 600);
  }
  return out;
}

std::string describe(const std::vector<Fault>& schedule) {
  std::string out;
  char line[160];
  for (const Fault& f : schedule) {
    std::snprintf(line, sizeof line, "  %6.2f s  %-22s hold %4d ms  arg %u\n", f.at_ms / 1000.0,
                  fault_name(f.kind), f.hold_ms, f.arg);
    out += line;
  }
  return out;
}

namespace {

class Injector {
 public:
  explicit Injector(FaultWorld& w) : w_(w) {}
  std::vector<std::string> defects;

  void inject(const Fault& f) {
    switch (f.kind) {
      case FaultKind::StrataKill9: {
        Member& m = pick_running(f.arg);
        w_.kill_member(m);
        sleep_ms(f.hold_ms);
        if (!w_.start_member(m)) defects.push_back("strata " + m.name + " did not restart");
        break;
      }
      case FaultKind::MemcachedKill:
        w_.memcached().kill();
        sleep_ms(f.hold_ms);
        if (!w_.memcached().start()) defects.push_back("harness: memcached did not restart");
        break;
      case FaultKind::MemcachedStall:
        stall(w_.memcached().pid(), f.hold_ms);
        break;
      case FaultKind::RedisKill:
        w_.redis().kill();
        sleep_ms(f.hold_ms);
        if (!w_.redis().start()) defects.push_back("harness: redis-server did not restart");
        break;
      case FaultKind::RedisRestart:
        w_.redis().stop();
        sleep_ms(f.hold_ms / 2);
        if (!w_.redis().start()) defects.push_back("harness: redis-server did not restart");
        break;
      case FaultKind::RedisStall:
        stall(w_.redis().pid(), f.hold_ms);
        break;
      case FaultKind::BrokerDown: {
        std::string id = std::to_string(1 + f.arg % 3);
        w_.mock_command("broker down " + id);
        sleep_ms(f.hold_ms);
        w_.mock_command("broker up " + id);
        break;
      }
      case FaultKind::LeaderMove:
        w_.mock_command("leader " + std::string(kTopic) + " " +
                        std::to_string(f.arg % static_cast<uint32_t>(w_.partitions())) + " " +
                        std::to_string(1 + (f.arg >> 8) % 3));
        break;
      case FaultKind::CommitErrors:  // OffsetCommit: timed out, coordinator gone, rebalance
        w_.mock_command("errors 8 " + codes(f.arg, {7, 15, 16, 27}));
        break;
      case FaultKind::FetchErrors:  // Fetch: not leader, timed out, offset out of range
        w_.mock_command("errors 1 " + codes(f.arg, {6, 7, 6, 7, 1}));
        break;
      case FaultKind::MemberJoinLeave:
        join_or_leave();
        break;
      case FaultKind::BadReload:
        bad_reload(pick_running(f.arg), f.arg);
        break;
    }
  }

 private:
  Member& pick_running(uint32_t arg) {
    Member& b = w_.member("B");
    return (arg & 2) && b.proc.alive() ? b : w_.member("A");
  }

  static std::string codes(uint32_t arg, std::vector<int> pool) {
    std::string out;
    int n = 1 + static_cast<int>(arg % 4);
    for (int i = 0; i < n; ++i) {
      if (!out.empty()) out += ",";
      out += std::to_string(pool[(arg >> (4 + 3 * i)) % pool.size()]);
    }
    return out;
  }

  static void stall(pid_t pid, int hold_ms) {
    if (pid <= 0) return;
    ::kill(pid, SIGSTOP);
    sleep_ms(hold_ms);
    ::kill(pid, SIGCONT);
  }

  void join_or_leave() {
    Member& b = w_.member("B");
    if (!b.proc.alive()) {
      if (!w_.start_member(b)) defects.push_back("strata B did not start");
      return;
    }
    auto st = w_.stop_member(b, 30000);
    if (!st) {
      defects.push_back("strata B: SIGTERM did not complete in 30 s (" + b.log + ")");
      b.proc.kill9();
    } else if (*st != 0) {
      defects.push_back("strata B: SIGTERM exit status " + std::to_string(*st) + " (" + b.log +
                        ")");
    }
  }

  void bad_reload(Member& m, uint32_t arg) {
    // SIGHUP is blocked once the admin listener answers; before that it would kill.
    if (!wait_until(15000, [&] { return !http_get(m.admin_port, "/healthz", 500).empty(); })) {
      defects.push_back("strata " + m.name + ": no /healthz for 15 s (" + m.log + ")");
      return;
    }
    int rejected = count_of(read_file(m.log), "reload rejected, the running configuration stays");
    write_file(m.config, bad_config(w_, m, arg));
    m.proc.signal(SIGHUP);
    bool seen = wait_until(15000, [&] {
      return !m.proc.alive() ||
             count_of(read_file(m.log), "reload rejected, the running configuration stays") >
                 rejected;
    });
    write_file(m.config, w_.good_config(m));
    if (!m.proc.alive()) {
      defects.push_back("strata " + m.name + " died on a SIGHUP with bad config #" +
                        std::to_string(arg % 4) + ", status " +
                        std::to_string(m.proc.last_status()) + " (" + m.log + ")");
      w_.start_member(m);
      return;
    }
    if (!seen)
      defects.push_back("strata " + m.name + ": bad config #" + std::to_string(arg % 4) +
                        " not rejected within 15 s (" + m.log + ")");
    if (arg & 4) {  // and a good reload after it: the pipelines restart on the same config
      int reloaded = count_of(read_file(m.log), "configuration reloaded");
      m.proc.signal(SIGHUP);
      if (!wait_until(20000,
                      [&] {
                        return !m.proc.alive() ||
                               count_of(read_file(m.log), "configuration reloaded") > reloaded;
                      }) ||
          !m.proc.alive())
        defects.push_back("strata " + m.name + ": a good reload did not complete (" + m.log + ")");
    }
  }

  FaultWorld& w_;
};

}  // namespace

InjectionResult run_schedule(FaultWorld& world, const std::vector<Fault>& schedule) {
  InjectionResult r;
  Injector inj(world);
  auto t0 = Clock::now();
  for (const Fault& f : schedule) {
    std::this_thread::sleep_until(t0 + milliseconds(f.at_ms));
    inj.inject(f);
    r.injected[fault_name(f.kind)]++;
    r.total++;
  }
  r.defects = std::move(inj.defects);
  return r;
}

}  // namespace strata::test::faults

// bench/front: L1-hit gets through strata's memcached front, measured in one run against the
// same gets sent straight to memcached and through twemproxy (Debian's nutcracker) in front of
// the same memcached. One load generator (epoll, one thread) keeps `connections` clients busy,
// each with `depth` gets in flight (depth 1: request, reply, next request), for `seconds` per
// target (in rounds of one second, the three targets in turn); prints gets/s, p50/p99 latency of
// a round trip, and `front/direct = X`.
//   bench_front [--connections N] [--depth D] [--seconds S] [--keys K] [--value-size B]
//               [--front-threads T] [--chain-threads C] [--compare-hop 0|1]
// --compare-hop 1 (default) also drives a second strata whose front has inline_reads = false
// (every get handed to a chain thread and back), printed as front-hop.
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench_report.hpp"
#include "machine_cpu.hpp"
#include "front_support.hpp"

using Clock = std::chrono::steady_clock;
namespace st = strata::test;

namespace {

struct Options {
  int connections = 50;
  int depth = 1;
  double seconds = 5;
  int keys = 1000;
  int value_size = 100;
  int front_threads = 2;  // the front's event loops
  int chain_threads = 4;  // the host threads running its chain ops
  bool compare_hop = true;  // also a front with inline_reads = false (every get on a chain thread)
};

// One target's measurements, summed over the rounds.
struct Result {
  long done = 0;
  double elapsed = 0;
  std::vector<double> lat_us;  // one per round trip
  long errors = 0;
  strata::bench::CpuSpent cpu;  // the whole machine's, over this target's rounds
  double rate() const { return elapsed > 0 ? static_cast<double>(done) / elapsed : 0; }
  double cpu_per_get() const { return cpu.us_per(static_cast<double>(done)); }
  double percentile(double p) {
    if (lat_us.empty()) return 0;
    std::sort(lat_us.begin(), lat_us.end());
    return lat_us[std::min(lat_us.size() - 1, static_cast<size_t>(lat_us.size() * p))];
  }
};

struct Client {
  std::unique_ptr<st::McClient> conn;
  std::string in;
  int outstanding = 0;
  Clock::time_point sent;
  unsigned next_key = 0;
};

std::string key_of(unsigned i) { return "bench:front:" + std::to_string(i); }

// Sends `depth` gets on one client (as one write).
bool send_round(Client& c, const Options& o) {
  std::string req;
  for (int i = 0; i < o.depth; ++i) req += "get " + key_of(c.next_key++ % o.keys) + "\r\n";
  c.outstanding = o.depth;
  c.sent = Clock::now();
  return c.conn->send(req);
}

// Counts the complete replies (`END\r\n`) at the front of c.in; values never contain "END\r\n".
int take_replies(Client& c, long& errors) {
  int n = 0;
  size_t pos;
  while ((pos = c.in.find("END\r\n")) != std::string::npos) {
    if (c.in.compare(0, 6, "VALUE ") != 0) ++errors;  // a miss or an error: not an L1 hit
    c.in.erase(0, pos + 5);
    ++n;
  }
  if (c.in.rfind("SERVER_ERROR", 0) == 0 || c.in.rfind("ERROR", 0) == 0) {
    ++errors;
    c.in.clear();
    ++n;
  }
  return n;
}

void run_load(int port, const Options& o, Result& r) {
  std::vector<Client> clients(o.connections);
  int ep = ::epoll_create1(0);
  for (size_t i = 0; i < clients.size(); ++i) {
    clients[i].conn = std::make_unique<st::McClient>(port, 10000);
    clients[i].next_key = static_cast<unsigned>(i * 7919);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, clients[i].conn->fd(), &ev);
  }
  std::vector<double>& lat_us = r.lat_us;
  long done = 0;
  const auto cpu0 = strata::bench::MachineCpu::now();
  Clock::time_point start = Clock::now();
  Clock::time_point end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  for (auto& c : clients) send_round(c, o);
  epoll_event evs[256];
  char buf[65536];
  while (Clock::now() < end) {
    int n = ::epoll_wait(ep, evs, 256, 100);
    for (int i = 0; i < n; ++i) {
      Client& c = clients[evs[i].data.u64];
      ssize_t got = ::recv(c.conn->fd(), buf, sizeof buf, 0);
      if (got <= 0) continue;
      c.in.append(buf, static_cast<size_t>(got));
      c.outstanding -= take_replies(c, r.errors);
      if (c.outstanding > 0) continue;
      auto now = Clock::now();
      lat_us.push_back(std::chrono::duration<double, std::micro>(now - c.sent).count());
      done += o.depth;
      if (now < end) send_round(c, o);
    }
  }
  r.elapsed += std::chrono::duration<double>(Clock::now() - start).count();
  r.cpu.add(cpu0, strata::bench::MachineCpu::now());
  r.done += done;
  ::close(ep);
}

bool preload(int port, const Options& o) {
  st::McClient c(port);
  std::string value(static_cast<size_t>(o.value_size), 'v');
  for (int i = 0; i < o.keys; ++i) {
    std::string cmd = "set " + key_of(static_cast<unsigned>(i)) + " 0 0 " +
                      std::to_string(value.size()) + "\r\n" + value + "\r\n";
    if (c.call(cmd) != "STORED\r\n") return false;
  }
  return true;
}

// twemproxy (nutcracker) in front of memcached; its pid, or -1.
pid_t start_twemproxy(const st::ServerProcess& mc, int port, const std::string& dir) {
  std::string conf = dir + "/nutcracker.yml";
  st::write_file(conf, "bench:\n  listen: 127.0.0.1:" + std::to_string(port) +
                           "\n  hash: fnv1a_64\n  distribution: ketama\n  timeout: 2000\n"
                           "  auto_eject_hosts: false\n  servers:\n   - " +
                           mc.address() + ":1\n");
  int stats_port = st::free_port();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    std::string sp = std::to_string(stats_port), log = dir + "/nutcracker.log";
    ::execlp("nutcracker", "nutcracker", "-c", conf.c_str(), "-s", sp.c_str(), "-o", log.c_str(),
             "-p", (dir + "/nutcracker.pid").c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  if (!st::wait_for_port(port, 5000, "get x\r\n")) return -1;
  return pid;
}

void print(const char* name, Result& r, strata::bench::Report& report) {
  std::printf("%-10s %10.0f gets/s   p50 %7.1f us   p99 %7.1f us   not-hit %ld   idle %2.0f%%, "
              "%.2f us CPU/get\n",
              name, r.rate(), r.percentile(0.5), r.percentile(0.99), r.errors,
              100.0 * r.cpu.idle_share(), r.cpu_per_get());
  std::string n = name;
  report.figure(n + " machine CPU per get", "us", r.cpu_per_get());
  report.figure(n + " machine idle", "%", 100.0 * r.cpu.idle_share());
  report.figure(n, "gets/s", r.rate());
  report.figure(n + " p50", "us", r.percentile(0.5));
  report.figure(n + " p99", "us", r.percentile(0.99));
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    double v = std::atof(argv[i + 1]);
    if (a == "--connections") o.connections = static_cast<int>(v);
    else if (a == "--depth") o.depth = static_cast<int>(v);
    else if (a == "--seconds") o.seconds = v;
    else if (a == "--keys") o.keys = static_cast<int>(v);
    else if (a == "--value-size") o.value_size = static_cast<int>(v);
    else if (a == "--front-threads") o.front_threads = static_cast<int>(v);
    else if (a == "--chain-threads") o.chain_threads = static_cast<int>(v);
    else if (a == "--compare-hop") o.compare_hop = v != 0;
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  strata::bench::Report report("bench_front", argc, argv);
  report.param("connections", std::to_string(o.connections));
  report.param("depth", std::to_string(o.depth));
  report.param("seconds", std::to_string(o.seconds));
  st::ServerProcess mc(st::ServerProcess::Kind::Memcached, 0, {"-t", "2"});
  st::ServerProcess redis(st::ServerProcess::Kind::Redis);
  if (!mc.start() || !redis.start()) return 1;
  st::StrataFront front, hop;  // inline_reads on (the default) and off, same tiers
  std::string front_opts = "threads = " + std::to_string(o.front_threads) +
                           "\nchain_threads = " + std::to_string(o.chain_threads) + "\n";
  if (!front.start(mc, redis, front_opts)) return 1;
  if (o.compare_hop && !hop.start(mc, redis, front_opts + "inline_reads = false\n")) return 1;
  if (!preload(mc.port(), o)) return 1;
  std::string dir = st::make_temp_dir("bench-front");
  int tw_port = st::free_port();
  pid_t tw = start_twemproxy(mc, tw_port, dir);
  std::printf("bench_front: %d connections, depth %d, %.0f s per target, %d keys of %d bytes "
              "(all L1 hits), front threads %d, chain_threads %d\n", o.connections, o.depth,
              o.seconds, o.keys, o.value_size, o.front_threads, o.chain_threads);
  Options warm = o;
  warm.seconds = 1;
  Result ignored;
  run_load(front.port(), warm, ignored);  // warm-up
  if (o.compare_hop) run_load(hop.port(), warm, ignored);
  // Rounds of one second, the targets in turn: load from other processes on the machine then
  // falls on all three alike instead of on whichever ran at the time.
  Result direct, via_front, via_hop, via_tw;
  Options round = o;
  round.seconds = 1;
  for (int i = 0; i < static_cast<int>(o.seconds + 0.5); ++i) {
    run_load(mc.port(), round, direct);
    run_load(front.port(), round, via_front);
    if (o.compare_hop) run_load(hop.port(), round, via_hop);
    if (tw > 0) run_load(tw_port, round, via_tw);
  }
  print("direct", direct, report);
  print("front", via_front, report);
  if (o.compare_hop) print("front-hop", via_hop, report);
  if (tw > 0) print("twemproxy", via_tw, report);
  else std::printf("twemproxy  not run (nutcracker missing or did not start)\n");
  std::printf("front/direct = %.2f\n", via_front.rate() / direct.rate());
  // What every process spends per get (client, memcached, strata): with no core idle,
  // front/direct cannot pass direct's CPU per get over the front's.
  if (via_front.cpu_per_get() > 0)
    std::printf("with the cores the limit, front/direct <= %.2f (idle: direct %.0f%%, front "
                "%.0f%%)\n",
                direct.cpu_per_get() / via_front.cpu_per_get(), 100.0 * direct.cpu.idle_share(),
                100.0 * via_front.cpu.idle_share());
  if (o.compare_hop)
    std::printf("front-hop/direct = %.2f (inline_reads = false)\n", via_hop.rate() / direct.rate());
  if (tw > 0) std::printf("twemproxy/direct = %.2f\n", via_tw.rate() / direct.rate());
  if (tw > 0) {
    ::kill(tw, SIGTERM);
    ::waitpid(tw, nullptr, 0);
  }
  st::remove_tree(dir);
  // Ratios per connection count: 50 and 200 connections are different workloads.
  std::string at = ", " + std::to_string(o.connections) + " connections";
  report.ratio("front/direct" + at, "front", "direct", 0.9);
  if (o.compare_hop) report.ratio("front-hop/direct" + at, "front-hop", "direct");
  if (tw > 0) report.ratio("twemproxy/direct" + at, "twemproxy", "direct");
  return report.write() ? 0 : 1;
}

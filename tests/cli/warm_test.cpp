// `strata warm` (issue 11 item 1) against real memcached and redis-server: it refills an
// emptied memcached from Redis with ADD (a newer value already in memcached stays), with each
// value's client flags and a TTL that ends before Redis's, skips redis_l2's own keys, reports
// its counts, and shows a progress bar on a terminal (under script(1)) or progress lines in
// the log otherwise. SIGINT ends a warm that waits for Redis at once.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <regex>
#include <string>

#include "cli_support.hpp"
#include "servers.hpp"

namespace strata::cli_test {
namespace {

using strata::test::ServerProcess;

constexpr int kKeys = 1500;

// The 12-byte envelope redis_l2 stores a value with client flags in (docs/redis_l2.md).
std::string enveloped(uint32_t flags, const std::string& v) {
  std::string h("\0STRATA\x01", 8);
  for (int s = 24; s >= 0; s -= 8) h.push_back(static_cast<char>((flags >> s) & 0xff));
  return h + v;
}

class CliWarm : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::setenv("STRATA_MODULES_PATH", modules_dir().c_str(), 1); }
  void SetUp() override {
    dir_ = make_temp_dir();
    ASSERT_TRUE(memcached_.start());
    ASSERT_TRUE(redis_.start());
    path_ = dir_ + "/strata.toml";
    write_file(path_,
               "log_level = \"info\"\n\n[sources.events]\nmodule = \"kafka_source\"\n"
               "brokers = \"mock\"\ntopics = [\"events\"]\n\n[tiers.l1]\n"
               "module = \"memcached_l1\"\nservers = [\"" +
                   memcached_.address() + "\"]\n\n[tiers.l2]\nmodule = \"redis_l2\"\naddress = \"" +
                   redis_.address() +
                   "\"\n\n[pipelines.p]\nsource = \"events\"\ntiers = [\"l1\", \"l2\"]\n");
    raw_ = redisConnect("127.0.0.1", redis_.port());
    ASSERT_TRUE(raw_ && !raw_->err);
  }
  void TearDown() override {
    if (raw_) redisFree(raw_);
    remove_tree(dir_);
  }
  void redis(const std::string& key, const std::string& value, long long px = 0) {
    auto* r = static_cast<redisReply*>(
        px ? redisCommand(raw_, "SET %b %b PX %lld", key.data(), key.size(), value.data(),
                          value.size(), px)
           : redisCommand(raw_, "SET %b %b", key.data(), key.size(), value.data(), value.size()));
    ASSERT_TRUE(r);
    freeReplyObject(r);
  }
  // What an L2 filled by pipelines holds: plain values, one with flags, one with a TTL, one
  // about to expire, and redis_l2's bookkeeping (a watermark, a version key, the bus stream).
  void fill() {
    for (int i = 0; i < kKeys; ++i) redis("k" + std::to_string(i), "v" + std::to_string(i));
    redis("flagged", enveloped(0x2a, "bin\x01"));
    redis("ttl", "t", 600000);
    redis("expiring", "e", 1500);
    redis("strata:wm:p/events/0", "42");
    redis("{versioned}:strata-ver", "7");
    redis_.redis_cli("XADD strata-bus '*' k v");
  }
  std::string mc(const std::string& cmd) { return memcached_command(memcached_.port(), cmd); }
  Outcome warm(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"warm", "-c", path_, "--progress-interval", "1ms"};
    args.insert(args.end(), extra.begin(), extra.end());
    return strata(args);
  }

  ServerProcess memcached_{ServerProcess::Kind::Memcached};
  ServerProcess redis_{ServerProcess::Kind::Redis};
  redisContext* raw_ = nullptr;
  std::string dir_, path_;
};

TEST_F(CliWarm, RefillsAnEmptiedMemcachedFromRedis) {
  fill();
  ASSERT_TRUE(memcached_.restart());  // same port, empty
  ASSERT_EQ(mc("get k1"), "END\r\n");
  // A write that reached memcached after the restart: newer than L2's copy, must stay.
  ASSERT_EQ(mc("set k5 0 0 5\r\nnewer"), "STORED\r\n");

  Outcome o = warm();
  ASSERT_EQ(o.exit_code, 0) << o.err << o.out;
  // 1500 + flagged + ttl + expiring + 3 bookkeeping keys; "expiring" (2 s margin) and the
  // bookkeeping keys are skipped, k5 was present.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(o.out, m,
                                std::regex("warm tiers=l1 scanned=(\\d+) added=(\\d+) "
                                           "present=(\\d+) skipped=(\\d+) errors=0")))
      << o.out;
  const int scanned = std::stoi(m[1]), added = std::stoi(m[2]), present = std::stoi(m[3]),
            skipped = std::stoi(m[4]);
  EXPECT_GE(scanned, kKeys + 5);  // "expiring" may be gone by the time the scan reaches it
  EXPECT_EQ(added, kKeys - 1 + 2);
  EXPECT_EQ(present, 1);
  EXPECT_GE(skipped, 3);
  for (int i = 0; i < kKeys; i += 37) {
    if (i == 5) continue;
    std::string k = "k" + std::to_string(i), v = "v" + std::to_string(i);
    EXPECT_EQ(mc("get " + k),
              "VALUE " + k + " 0 " + std::to_string(v.size()) + "\r\n" + v + "\r\nEND\r\n");
  }
  EXPECT_EQ(mc("get k1499"), "VALUE k1499 0 5\r\nv1499\r\nEND\r\n");
  EXPECT_EQ(mc("get k5"), "VALUE k5 0 5\r\nnewer\r\nEND\r\n");
  EXPECT_EQ(mc("get flagged"), std::string("VALUE flagged 42 4\r\nbin\x01\r\nEND\r\n"));
  // TTL: Redis's remaining 600 s minus the 2 s margin.
  std::string ttl = mc("mg ttl t\r\nget nothing");
  ASSERT_TRUE(std::regex_search(ttl, m, std::regex("HD t(\\d+)"))) << ttl;
  EXPECT_GT(std::stoi(m[1]), 500);
  EXPECT_LE(std::stoi(m[1]), 598);
  EXPECT_EQ(mc("get expiring"), "END\r\n");
  EXPECT_EQ(mc("get strata:wm:p/events/0"), "END\r\n");
  EXPECT_EQ(mc("get strata-bus"), "END\r\n");
  // Not a terminal: progress lines in the log, then the final one.
  EXPECT_NE(o.err.find("progress job=warm tiers=l1 done="), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("done job=warm tiers=l1 done="), std::string::npos) << o.err;
  EXPECT_NE(o.err.find(" elapsed_s="), std::string::npos) << o.err;

  // Again: everything is present now, nothing is overwritten.
  Outcome again = warm();
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("added=0 present=" + std::to_string(kKeys + 2)), std::string::npos)
      << again.out;
}

TEST_F(CliWarm, PrefixAndTiersChooseWhatIsWarmed) {
  fill();
  redis("user:1", "a");
  redis("user:2", "b");
  ASSERT_TRUE(memcached_.restart());
  Outcome o = warm({"--tiers", "l1", "--prefix", "user:"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("warm tiers=l1 prefix=user: scanned=2 added=2 present=0 skipped=0 "
                       "errors=0"),
            std::string::npos)
      << o.out;
  EXPECT_EQ(mc("get user:2"), "VALUE user:2 0 1\r\nb\r\nEND\r\n");
  EXPECT_EQ(mc("get k1"), "END\r\n");

  Outcome durable = warm({"--tiers", "l2"});
  EXPECT_EQ(durable.exit_code, 1);
  EXPECT_NE(durable.err.find("strata warm: --tiers: tiers.l2 is durable; warm fills volatile "
                             "tiers only"),
            std::string::npos)
      << durable.err;
  Outcome unknown = warm({"--tiers", "l9"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("the chain has no tier 'l9'"), std::string::npos) << unknown.err;
}

TEST_F(CliWarm, ProgressBarRendersOnATerminal) {
  fill();
  ASSERT_TRUE(memcached_.restart());
  // script(1) (bsdutils, Essential in Debian) gives strata a pty for stderr and stdout; its output
  // is the terminal's.
  std::string cmd = strata_bin() + " warm -c " + path_;
  Outcome o = run({"/usr/bin/script", "-qec", cmd, "/dev/null"}, {{"TERM", "xterm"}});
  ASSERT_EQ(o.exit_code, 0) << o.out << o.err;
  // A line redrawn in place (\r ... erase to end of line), with the keys, the rate and, since
  // DBSIZE says how many keys there are, keys left and a bar; at the end 100% and "done".
  EXPECT_NE(o.out.find("\rwarm tiers=l1  "), std::string::npos) << o.out;
  EXPECT_NE(o.out.find(" keys  "), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("\x1b[K"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("left 0"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("[####################] 100%\x1b[K  done"), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find("progress job=warm"), std::string::npos) << o.out;  // no log lines
}

TEST_F(CliWarm, ExitsNonZeroWhenTheL1IsDown) {
  fill();
  memcached_.stop();
  Outcome o = warm();
  EXPECT_EQ(o.exit_code, 1) << o.err << o.out;
  EXPECT_NE(o.err.find("strata warm: tiers.l1"), std::string::npos) << o.err;
  // It stops at the first batch that did not get one ADD through, rather than counting every
  // key of the L2 as an error.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(o.out, m, std::regex("scanned=(\\d+) .* errors=(\\d+)"))) << o.out;
  EXPECT_GT(std::stoi(m[2]), 0);
  EXPECT_LT(std::stoi(m[1]), kKeys);
}

TEST_F(CliWarm, SigintEndsAWarmThatWaitsForRedis) {
  fill();
  ASSERT_TRUE(strata::test::stop_process(redis_.pid()));  // accepts connections, answers nothing: every SCAN times out
  Background b;
  ASSERT_TRUE(b.start({strata_bin(), "warm", "-c", path_}, dir_ + "/out", dir_ + "/err"));
  // Wait until it has started (its first log line), then interrupt it.
  EXPECT_TRUE(wait_until(
      [&] { return read_file(dir_ + "/err").find("warm tiers=l1 from") != std::string::npos; },
      30000))
      << read_file(dir_ + "/err");
  b.signal(SIGINT);
  auto t0 = std::chrono::steady_clock::now();
  int rc = b.wait(20000);
  auto waited = std::chrono::steady_clock::now() - t0;
  ::kill(redis_.pid(), SIGCONT);
  EXPECT_EQ(rc, 130) << read_file(dir_ + "/err");
  // Bounded by one command timeout (500 ms) and a 50 ms slice of the retry wait; 10 s is far.
  EXPECT_LT(waited, std::chrono::seconds(10));
  EXPECT_NE(read_file(dir_ + "/out").find("interrupted"), std::string::npos)
      << read_file(dir_ + "/out");
}

}  // namespace
}  // namespace strata::cli_test

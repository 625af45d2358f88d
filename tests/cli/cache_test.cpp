// `strata cache get|set|del` and the embedding example (examples/embed) against real memcached
// and redis-server: reads answer from L1, fall through to L2 and refill L1; writes reach both.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "cli_support.hpp"
#include "servers.hpp"

namespace strata::cli_test {
namespace {

using strata::test::ServerProcess;

class CliCache : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::setenv("STRATA_MODULES_PATH", modules_dir().c_str(), 1); }
  void SetUp() override {
    dir_ = make_temp_dir();
    ASSERT_TRUE(memcached_.start());
    ASSERT_TRUE(redis_.start());
    path_ = dir_ + "/strata.toml";
    write_file(path_,
               "log_level = \"warn\"\n\n[sources.events]\nmodule = \"kafka_source\"\n"
               "brokers = \"mock\"\ntopics = [\"events\"]\n\n[tiers.l1]\n"
               "module = \"memcached_l1\"\nservers = [\"" +
                   memcached_.address() +
                   "\"]\n\n[tiers.l2]\nmodule = \"redis_l2\"\n"
                   "address = \"" +
                   redis_.address() +
                   "\"\n\n[pipelines.p]\nsource = \"events\"\ntiers = [\"l1\", \"l2\"]\n");
  }
  void TearDown() override { remove_tree(dir_); }

  Outcome cache(const std::vector<std::string>& words) {
    std::vector<std::string> args{"cache", words[0], "-c", path_};
    args.insert(args.end(), words.begin() + 1, words.end());
    return strata(args);
  }
  std::string memcached(const std::string& cmd) {
    return memcached_command(memcached_.port(), cmd);
  }

  ServerProcess memcached_{ServerProcess::Kind::Memcached};
  ServerProcess redis_{ServerProcess::Kind::Redis};
  std::string dir_, path_;
};

TEST_F(CliCache, SetGetFallThroughRefillAndDelete) {
  Outcome set = cache({"set", "greeting", "hello world"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  // Written to both tiers, readable by plain clients.
  EXPECT_EQ(redis_.redis_cli("GET greeting"), "hello world");
  EXPECT_NE(memcached("get greeting").find("\r\nhello world\r\nEND"), std::string::npos);

  Outcome g1 = cache({"get", "greeting"});
  EXPECT_EQ(g1.exit_code, 0) << g1.err;
  EXPECT_EQ(g1.out, "hello world\n");
  EXPECT_NE(g1.err.find("(from tiers.l1)"), std::string::npos) << g1.err;

  // Gone from memcached: the read falls through to Redis and refills memcached.
  ASSERT_EQ(memcached("delete greeting"), "DELETED\r\n");
  Outcome g2 = cache({"get", "greeting"});
  EXPECT_EQ(g2.exit_code, 0) << g2.err;
  EXPECT_EQ(g2.out, "hello world\n");
  EXPECT_NE(g2.err.find("(from tiers.l2)"), std::string::npos) << g2.err;
  EXPECT_NE(memcached("get greeting").find("\r\nhello world\r\nEND"), std::string::npos);
  Outcome g3 = cache({"get", "greeting"});
  EXPECT_EQ(g3.out, "hello world\n");
  EXPECT_NE(g3.err.find("(from tiers.l1)"), std::string::npos) << g3.err;

  Outcome del = cache({"del", "greeting"});
  EXPECT_EQ(del.exit_code, 0) << del.err;
  EXPECT_EQ(redis_.redis_cli("EXISTS greeting"), "0");
  EXPECT_EQ(memcached("get greeting"), "END\r\n");
  Outcome g4 = cache({"get", "greeting"});
  EXPECT_EQ(g4.exit_code, 1);
  EXPECT_EQ(g4.out, "");
  EXPECT_NE(g4.err.find("key 'greeting' not found"), std::string::npos) << g4.err;
}

TEST_F(CliCache, MissingKeyAndUsageErrors) {
  Outcome g = cache({"get", "never-set"});
  EXPECT_EQ(g.exit_code, 1);
  EXPECT_NE(g.err.find("key 'never-set' not found"), std::string::npos) << g.err;
  EXPECT_EQ(cache({"set", "k"}).exit_code, 2);  // set needs a value
  EXPECT_EQ(cache({"get", "k", "extra"}).exit_code, 2);
  EXPECT_EQ(cache({"put", "k"}).exit_code, 2);
  if (!std::ifstream("/etc/strata/strata.toml")) {  // no -c: the default file, absent here
    Outcome d = strata({"cache", "get", "k"});
    EXPECT_EQ(d.exit_code, 1);
    EXPECT_NE(d.err.find("/etc/strata/strata.toml: cannot read"), std::string::npos) << d.err;
  }
}

// Issue 11: `--` before a key or value that starts with '-', --opt=value, the chain options
// before or after the operation, and --ttl refused where it means nothing (get).
TEST_F(CliCache, Issue11DashValuesOptEqualsAndTtlOnlyForSet) {
  Outcome set = strata({"cache", "set", "--config=" + path_, "--ttl=1h", "--", "-dash", "-v"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_EQ(redis_.redis_cli("GET -dash"), "-v");
  Outcome get = strata({"cache", "-c", path_, "get", "--", "-dash"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out, "-v\n");
  Outcome no_dashes = cache({"get", "-dash"});
  EXPECT_EQ(no_dashes.exit_code, 2);
  EXPECT_EQ(no_dashes.err,
            "strata cache get: unknown option '-dash' (see strata cache get --help)\n");
  Outcome ttl = cache({"get", "--ttl", "5s", "k"});
  EXPECT_EQ(ttl.exit_code, 2);
  EXPECT_EQ(ttl.err, "strata cache get: unknown option '--ttl' (see strata cache get --help)\n");
  EXPECT_EQ(ttl.out, "");
}

TEST_F(CliCache, PipelineChoiceAndBadTtl) {
  // A second pipeline over Redis alone: `cache` must be told which one to use.
  write_file(path_, read_file(path_) +
                        "\n[pipelines.durable]\nsource = \"events\"\n"
                        "tiers = [\"l2\"]\n");
  Outcome ambiguous = cache({"get", "k"});
  EXPECT_EQ(ambiguous.exit_code, 1);
  EXPECT_NE(ambiguous.err.find("choose one with --pipeline (durable, p)"), std::string::npos)
      << ambiguous.err;
  Outcome unknown = cache({"get", "--pipeline", "nope", "k"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no pipeline named 'nope'"), std::string::npos) << unknown.err;

  ASSERT_EQ(cache({"set", "--pipeline", "durable", "only-l2", "x"}).exit_code, 0);
  EXPECT_EQ(memcached("get only-l2"), "END\r\n");  // not in the L1 of the other pipeline
  Outcome g = cache({"get", "--pipeline", "durable", "only-l2"});
  EXPECT_EQ(g.out, "x\n");
  EXPECT_NE(g.err.find("(from tiers.l2)"), std::string::npos) << g.err;

  EXPECT_EQ(cache({"set", "--ttl", "soon", "k", "v"}).exit_code, 2);
}

// A key written with --ttl must not be served after that TTL, even when L1 lost it (eviction)
// and a read refilled L1 from Redis in between: the refill must not outlive the Redis entry.
TEST_F(CliCache, TtlHoldsAcrossAnL1Refill) {
  ASSERT_EQ(cache({"set", "--ttl", "2s", "short", "lived"}).exit_code, 0);
  std::string pttl = redis_.redis_cli("PTTL short");
  ASSERT_GT(std::atoll(pttl.c_str()), 0) << "no TTL in Redis: " << pttl;
  ASSERT_EQ(memcached("delete short"), "DELETED\r\n");  // L1 evicted it
  Outcome refill = cache({"get", "short"});
  if (refill.exit_code == 0) {  // (unless the machine was slow enough for Redis to expire it)
    EXPECT_NE(refill.err.find("(from tiers.l2)"), std::string::npos) << refill.err;
  }
  ASSERT_TRUE(wait_until([&] { return redis_.redis_cli("EXISTS short") == "0"; }, 20000))
      << "Redis never expired the key";
  Outcome after = cache({"get", "short"});
  EXPECT_EQ(after.exit_code, 1) << "served after its TTL: " << after.out << after.err;
}

TEST_F(CliCache, EmbedExampleWritesAndReadsFromL1) {
  Outcome o = run({embed_bin(), path_, "embedded", "v-42"});
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.out, "embedded = v-42 (from tiers.l1)\nembedded = v-42 (from tiers.l1)\n") << o.err;
  EXPECT_EQ(redis_.redis_cli("GET embedded"), "v-42");

  // Read-only use after L1 lost the key: first read from Redis, second from the refilled L1.
  ASSERT_EQ(memcached("delete embedded"), "DELETED\r\n");
  Outcome r = run({embed_bin(), path_, "embedded"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "embedded = v-42 (from tiers.l2)\nembedded = v-42 (from tiers.l1)\n") << r.err;

  Outcome missing = run({embed_bin(), path_, "not-there"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.out, "not-there: not found\n");

  // A bad configuration: the program gets the FILE:LINE:COL errors.
  std::string bad = dir_ + "/bad.toml";
  write_file(bad, "log_levle = \"info\"\n");
  Outcome b = run({embed_bin(), bad, "k"});
  EXPECT_EQ(b.exit_code, 1);
  EXPECT_NE(b.err.find(bad + ":1:1: log_levle: unknown top-level key (did you mean 'log_level'?)"),
            std::string::npos)
      << b.err;
}

}  // namespace
}  // namespace strata::cli_test

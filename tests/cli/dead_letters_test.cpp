// `strata dead-letters replay FILE` (issue 11 item 1) against real memcached and redis-server:
// a dead-letter file written with strata's own encoder is fed back through the pipeline once
// its script is fixed. Absent keys are filled in Redis and memcached; a record whose key holds
// a live value stays a dead letter under partition order (or is written with --overwrite);
// under per-key order the versions decide; records that fail again go to the pipeline's own
// dead-letter file with the new reason; the input file is never changed; coordinates-only lines
// and lines of other pipelines are left out and said so; bad input is refused with FILE:LINE.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli_support.hpp"
#include "deadletter/dead_letter_json.hpp"
#include "servers.hpp"

namespace strata::cli_test {
namespace {

using strata::test::ServerProcess;

struct Letter {
  std::string pipeline = "p";
  int32_t partition;
  int64_t offset;
  std::string key, value;
  std::string reason = "script error: key(): boom";
};

// One dead-letter line as the pipeline's sink writes it.
std::string line_of(const Letter& l) {
  strata_header h{{"trace", 5}, {"t-1", 3}};
  strata_record rec{};
  rec.struct_size = sizeof(rec);
  rec.topic = "events";
  rec.partition = l.partition;
  rec.offset = l.offset;
  rec.key = {l.key.data(), l.key.size()};
  rec.value = {l.value.data(), l.value.size()};
  rec.timestamp_ms = 1764633600000;
  rec.headers = &h;
  rec.header_count = 1;
  return dead_letter_json(rec, l.pipeline, l.reason) + "\n";
}

std::vector<nlohmann::json> lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l))
    if (!l.empty()) out.push_back(nlohmann::json::parse(l));
  return out;
}

class CliDeadLetters : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::setenv("STRATA_MODULES_PATH", modules_dir().c_str(), 1); }
  void SetUp() override {
    dir_ = make_temp_dir();
    ASSERT_TRUE(memcached_.start());
    ASSERT_TRUE(redis_.start());
    raw_ = redisConnect("127.0.0.1", redis_.port());
    ASSERT_TRUE(raw_ && !raw_->err);
    // The fixed script: every record works but one whose value is still "bad".
    write_file(dir_ + "/keys.lua",
               "function key(r)\n  if r.value == 'bad' then error('still bad') end\n"
               "  return 'u:' .. r.key\nend\n");
    config();
  }
  void TearDown() override {
    if (raw_) redisFree(raw_);
    remove_tree(dir_);
  }
  void config(const std::string& pipeline_extra = "") {
    path_ = dir_ + "/strata.toml";
    write_file(path_, "log_level = \"info\"\n\n[sources.events]\nmodule = \"kafka_source\"\n"
                      "brokers = \"mock\"\ntopics = [\"events\"]\n\n[tiers.l1]\n"
                      "module = \"memcached_l1\"\nservers = [\"" +
                          memcached_.address() +
                          "\"]\n\n[tiers.l2]\nmodule = \"redis_l2\"\naddress = \"" +
                          redis_.address() +
                          "\"\n\n[pipelines.p]\nsource = \"events\"\ntiers = [\"l1\", \"l2\"]\n"
                          "script = \"keys.lua\"\ndead_letter_file = \"again.jsonl\"\n" +
                          pipeline_extra);
  }
  std::string redis_get(const std::string& key) {
    auto* r = static_cast<redisReply*>(redisCommand(raw_, "GET %b", key.data(), key.size()));
    std::string out = r && r->type == REDIS_REPLY_STRING ? std::string(r->str, r->len) : "(nil)";
    if (r) freeReplyObject(r);
    return out;
  }
  void redis_set(const std::string& key, const std::string& value) {
    auto* r = static_cast<redisReply*>(
        redisCommand(raw_, "SET %b %b", key.data(), key.size(), value.data(), value.size()));
    ASSERT_TRUE(r);
    freeReplyObject(r);
  }
  std::string mc_get(const std::string& key) {
    std::string r = memcached_command(memcached_.port(), "get " + key);
    size_t a = r.find("\r\n");
    if (r.rfind("VALUE ", 0) != 0 || a == std::string::npos) return "(miss)";
    size_t b = r.find("\r\n", a + 2);
    return r.substr(a + 2, b - a - 2);
  }
  Outcome replay(const std::string& file, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"dead-letters", "replay", file, "-c", path_};
    args.insert(args.end(), extra.begin(), extra.end());
    return strata(args);
  }

  ServerProcess memcached_{ServerProcess::Kind::Memcached};
  ServerProcess redis_{ServerProcess::Kind::Redis};
  redisContext* raw_ = nullptr;
  std::string dir_, path_;
};

TEST_F(CliDeadLetters, FixedScriptAppliesTheRecordsAndWhatFailsAgainStaysADeadLetter) {
  redis_set("u:live", "live-value");  // the live pipeline's value, of unknown age
  std::string in = line_of({"p", 0, 10, "a", "va"}) + line_of({"p", 0, 11, "b", "vb"}) +
                   line_of({"p", 1, 5, "c", "vc"}) + line_of({"p", 1, 6, "live", "older"}) +
                   line_of({"p", 1, 7, "x", "bad"}) + "\n" +
                   line_of({"other", 0, 99, "o", "vo"}) +
                   // The first record again, dead-lettered a second time: the last line wins.
                   line_of({"p", 0, 10, "a", "va2", "tier l2 down"});
  // A line whose payload no destination could keep: only its coordinates.
  in += "{\"pipeline\":\"p\",\"topic\":\"events\",\"partition\":2,\"offset\":1,\"timestamp\":null,"
        "\"reason\":\"too large\",\"key_prefix_b64\":\"aw==\",\"key_bytes\":1,"
        "\"payload_bytes\":2000000,\"header_count\":0,\"payload_dropped\":true,"
        "\"dropped_because\":\"Message size too large\"}\n";
  const std::string file = dir_ + "/dead.jsonl";
  write_file(file, in);

  Outcome o = replay(file);
  EXPECT_EQ(o.exit_code, 4) << o.err << o.out;  // some records are dead letters again
  EXPECT_NE(o.out.find(": done: 5 records, 3 durable writes, 1 refused (the key holds a newer or "
                       "a live value), 2 dead letters again (in " +
                       dir_ + "/again.jsonl)"),
            std::string::npos)
      << o.out;
  EXPECT_EQ(redis_get("u:a"), "va2");
  EXPECT_EQ(redis_get("u:b"), "vb");
  EXPECT_EQ(redis_get("u:c"), "vc");
  EXPECT_EQ(redis_get("u:live"), "live-value");  // not rolled back
  EXPECT_EQ(redis_get("u:o"), "(nil)");           // another pipeline's line
  EXPECT_EQ(mc_get("u:a"), "va2");
  EXPECT_EQ(mc_get("u:c"), "vc");
  EXPECT_EQ(mc_get("u:live"), "(miss)");

  // What failed again is in the pipeline's own dead-letter file, with the new reason and the
  // record's original coordinates, key, value and headers.
  auto again = lines(read_file(dir_ + "/again.jsonl"));
  ASSERT_EQ(again.size(), 2u) << read_file(dir_ + "/again.jsonl");
  EXPECT_EQ(again[0]["partition"], 1);
  EXPECT_EQ(again[0]["offset"], 6);
  EXPECT_NE(again[0]["reason"].get<std::string>().find(
                "key \"u:live\" holds a value of the live pipeline"),
            std::string::npos)
      << again[0];
  EXPECT_EQ(again[1]["offset"], 7);
  EXPECT_NE(again[1]["reason"].get<std::string>().find("still bad"), std::string::npos)
      << again[1];
  EXPECT_EQ(again[1]["value_b64"], "YmFk");  // "bad"
  EXPECT_EQ(again[1]["timestamp"], 1764633600000);
  EXPECT_EQ(again[1]["headers"][0]["key"], "trace");
  EXPECT_EQ(again[1]["headers"][0]["value_b64"], "dC0x");

  EXPECT_EQ(read_file(file), in);  // the input is never rewritten
  EXPECT_NE(o.err.find("9 lines, 5 records to replay (pipeline p), 1 repeated lines (the last of "
                       "each kept), 1 lines of other pipelines left out, 1 coordinates-only lines"),
            std::string::npos)
      << o.err;
  EXPECT_NE(o.err.find("events/2@1 has only its coordinates"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("strata replay --from 2:1"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("done job=dead-letters pipeline=p"), std::string::npos) << o.err;

  // The pipeline's own dead-letter file is not replayed in place: the live pipeline appends to
  // it; the message says how to rotate it first.
  Outcome twice = replay(dir_ + "/again.jsonl", {"--pipeline", "p"});
  EXPECT_NE(twice.err.find("is pipeline p's dead_letter_file"), std::string::npos) << twice.err;
  EXPECT_EQ(twice.exit_code, 1);
}

TEST_F(CliDeadLetters, OverwriteWritesOverTheLiveValueAndDropsTheL1Copy) {
  redis_set("u:live", "live-value");
  ASSERT_EQ(memcached_command(memcached_.port(), "set u:live 0 0 5\r\nstale"), "STORED\r\n");
  const std::string file = dir_ + "/dead.jsonl";
  write_file(file, line_of({"p", 1, 6, "live", "replayed"}) + line_of({"p", 1, 8, "n", "vn"}));
  Outcome o = replay(file, {"--overwrite"});
  EXPECT_EQ(o.exit_code, 0) << o.err << o.out;
  EXPECT_NE(o.out.find("2 records, 2 durable writes, 0 refused"), std::string::npos) << o.out;
  EXPECT_EQ(redis_get("u:live"), "replayed");
  EXPECT_EQ(mc_get("u:live"), "(miss)");  // deleted: the next read refills it from Redis
  EXPECT_EQ(redis_get("u:n"), "vn");
  EXPECT_EQ(read_file(dir_ + "/again.jsonl"), "");
}

TEST_F(CliDeadLetters, UnderPerKeyOrderTheVersionsDecide) {
  write_file(dir_ + "/keys.lua",
             "function key(r) return 'u:' .. r.key end\n"
             "function version(r) return tonumber(r.value:match('^(%d+):')) end\n");
  config("order = \"version\"\n");
  const std::string first = dir_ + "/first.jsonl", second = dir_ + "/second.jsonl";
  write_file(first, line_of({"p", 0, 1, "k", "5:five"}));
  Outcome a = replay(first);
  ASSERT_EQ(a.exit_code, 0) << a.err << a.out;
  ASSERT_EQ(redis_get("u:k"), "5:five");
  // An older version of k is refused (not a dead letter: a newer value is stored); j is new.
  write_file(second, line_of({"p", 3, 1, "k", "3:three"}) + line_of({"p", 3, 2, "j", "9:nine"}));
  Outcome b = replay(second);
  EXPECT_EQ(b.exit_code, 0) << b.err << b.out;
  EXPECT_NE(b.out.find("2 records, 1 durable writes, 1 refused"), std::string::npos) << b.out;
  EXPECT_NE(b.out.find("0 dead letters again"), std::string::npos) << b.out;
  EXPECT_EQ(redis_get("u:k"), "5:five");
  EXPECT_EQ(redis_get("u:j"), "9:nine");
  EXPECT_EQ(mc_get("u:j"), "9:nine");
}

TEST_F(CliDeadLetters, BadInputIsRefusedWithItsLine) {
  const std::string file = dir_ + "/dead.jsonl";
  write_file(file, line_of({"p", 0, 1, "a", "va"}) + "{\"pipeline\":\"p\",\"topic\":\"events\"}\n" +
                       "not json\n" + line_of({"p", 0, 2, "b", "vb"}));
  Outcome o = replay(file);
  EXPECT_EQ(o.exit_code, 1) << o.err << o.out;
  EXPECT_NE(o.err.find(file + ":2: not a dead-letter line: \"partition\" is missing or not an "
                              "integer (and 1 more)"),
            std::string::npos)
      << o.err;
  EXPECT_EQ(redis_get("u:a"), "(nil)");  // nothing is replayed from a refused file

  Outcome skip = replay(file, {"--skip-bad-lines"});
  EXPECT_EQ(skip.exit_code, 0) << skip.err << skip.out;
  EXPECT_NE(skip.err.find(file + ":3: not a dead-letter line: not JSON (skipped)"),
            std::string::npos)
      << skip.err;
  EXPECT_EQ(redis_get("u:a"), "va");
  EXPECT_EQ(redis_get("u:b"), "vb");

  Outcome missing = replay(dir_ + "/nope.jsonl");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("nope.jsonl\" cannot be read: No such file or directory"),
            std::string::npos)
      << missing.err;
  Outcome usage = strata({"dead-letters", "replay", "-c", path_});
  EXPECT_EQ(usage.exit_code, 2) << usage.err;
  Outcome no_subcommand = strata({"dead-letters"});
  EXPECT_EQ(no_subcommand.exit_code, 2) << no_subcommand.err;
}

}  // namespace
}  // namespace strata::cli_test

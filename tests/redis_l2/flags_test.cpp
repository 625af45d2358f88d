// Client flags through redis_l2 (modules/redis_l2/envelope.hpp, docs/redis_l2.md "Client
// flags"): a value written with flags != 0 is stored as "\0STRATA\x01" + flags (4 bytes,
// big-endian) + the bytes and read back with its flags; flags 0 stores the bytes alone. Against
// a real redis-server; the stored bytes are read and written with raw hiredis commands.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <cstdint>
#include <string>
#include <vector>

#include "redis_l2_support.hpp"

namespace strata {
namespace {

const std::string kMagic("\0STRATA\x01", 8);

std::string header(uint32_t f) {
  std::string h = kMagic;
  for (int s = 24; s >= 0; s -= 8) h.push_back(static_cast<char>((f >> s) & 0xff));
  return h;
}

uint64_t token(const std::string& v) { return strata_cas_token(v.data(), v.size()); }

struct Got {
  strata_status status = STRATA_ERR_INTERNAL;
  std::string value;
  uint32_t flags = 0xdeadbeef;
};

class RedisL2Flags : public RedisL2Test {
 protected:
  void TearDown() override {
    if (raw_) redisFree(raw_);
  }
  std::unique_ptr<TierHandle> start_tier(const std::string& extra = "") {
    redis_ = std::make_unique<ServerProcess>(ServerProcess::Kind::Redis);
    if (!redis_->start()) return nullptr;
    raw_ = redisConnect("127.0.0.1", redis_->port());
    if (!raw_ || raw_->err) return nullptr;
    return open(addr(*redis_) + extra);
  }
  // The stored bytes, "<nil>" when absent.
  std::string raw_get(const std::string& key) {
    auto* r = static_cast<redisReply*>(redisCommand(raw_, "GET %b", key.data(), key.size()));
    if (!r) return "<no reply>";
    std::string out = r->type == REDIS_REPLY_STRING ? std::string(r->str, r->len)
                      : r->type == REDIS_REPLY_NIL  ? "<nil>"
                                                    : "<other>";
    freeReplyObject(r);
    return out;
  }
  void raw_set(const std::string& key, const std::string& v) {
    auto* r = static_cast<redisReply*>(
        redisCommand(raw_, "SET %b %b", key.data(), key.size(), v.data(), v.size()));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
  }
  long long pttl(const std::string& key) {
    auto* r = static_cast<redisReply*>(redisCommand(raw_, "PTTL %b", key.data(), key.size()));
    long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -99;
    if (r) freeReplyObject(r);
    return v;
  }

  // One op with client flags; *out gets the op's value (INCR/DECR) or its error.
  strata_status write(strata_tier_op_kind kind, const std::string& key, const std::string& value,
                      uint32_t flags, uint64_t version = 0, int64_t ttl_ms = 0,
                      std::string* out = nullptr) {
    Batch b;
    b.add(kind, key, value, version, ttl_ms);
    b.ops[0].flags = flags;
    tier_->run(b);
    if (out) *out = b.results[0].has_value ? b.results[0].value : b.ops[0].error;
    return b.ops[0].status;
  }
  Got get(const std::string& key) {
    Batch b;
    b.add(STRATA_TIER_GET, key);
    b.ops[0].result_flags = 0xdeadbeef;  // the tier must write it
    tier_->run(b);
    Got g;
    g.status = b.ops[0].status;
    g.flags = b.ops[0].result_flags;
    if (b.results[0].has_value) g.value = b.results[0].value;
    return g;
  }
  void expect_item(const std::string& key, const std::string& value, uint32_t flags) {
    Got g = get(key);
    EXPECT_EQ(g.status, STRATA_OK) << key;
    EXPECT_EQ(g.value, value) << key;
    EXPECT_EQ(g.flags, flags) << key;
    EXPECT_EQ(raw_get(key), flags ? header(flags) + value : value) << key;
  }

  std::unique_ptr<ServerProcess> redis_;
  redisContext* raw_ = nullptr;
  std::unique_ptr<TierHandle> tier_;
};

const uint32_t kFlags[] = {0, 1, 2, 0x01020304, 0xFFFFFFFF};

TEST_F(RedisL2Flags, SetAddReplaceCasRoundTripTheirFlags) {
  tier_ = start_tier();
  ASSERT_TRUE(tier_);
  const std::string bin("p\0\xff\x80q", 5);
  for (uint32_t f : kFlags) {
    SCOPED_TRACE(f);
    std::string k = "set:" + std::to_string(f);
    ASSERT_EQ(write(STRATA_TIER_SET, k, bin, f), STRATA_OK);
    expect_item(k, bin, f);

    std::string a = "add:" + std::to_string(f);
    ASSERT_EQ(write(STRATA_TIER_ADD, a, "added", f), STRATA_OK);
    expect_item(a, "added", f);
    EXPECT_EQ(write(STRATA_TIER_ADD, a, "again", f ^ 1), STRATA_NOT_STORED);
    expect_item(a, "added", f);

    // REPLACE and CAS store their own flags over the old ones (as memcached does).
    ASSERT_EQ(write(STRATA_TIER_REPLACE, k, "replaced", f ^ 0x10), STRATA_OK);
    expect_item(k, "replaced", f ^ 0x10);
    ASSERT_EQ(write(STRATA_TIER_REPLACE, k, "replaced2", f), STRATA_OK);
    expect_item(k, "replaced2", f);
    std::string msg;
    ASSERT_EQ(write(STRATA_TIER_CAS, k, "swapped", f, token("replaced2"), 0, &msg), STRATA_OK)
        << msg;
    expect_item(k, "swapped", f);
    ASSERT_EQ(write(STRATA_TIER_CAS, k, "swapped0", 0, token("swapped")), STRATA_OK);
    expect_item(k, "swapped0", 0);
    ASSERT_EQ(write(STRATA_TIER_CAS, k, "swapped1", f, token("swapped0")), STRATA_OK);
    expect_item(k, "swapped1", f);
  }
  // The same in one batch: every plain GET of a pipelined round unwraps its own value.
  Batch b;
  for (uint32_t f : kFlags) b.add(STRATA_TIER_GET, "set:" + std::to_string(f));
  b.add(STRATA_TIER_GET, "absent");
  ASSERT_EQ(tier_->run(b), STRATA_OK);
  for (size_t i = 0; i < std::size(kFlags); ++i) {
    EXPECT_EQ(b.ops[i].status, STRATA_OK);
    EXPECT_EQ(b.ops[i].result_flags, kFlags[i]);
    EXPECT_EQ(b.results[i].value, "swapped1");
  }
  EXPECT_EQ(b.ops.back().status, STRATA_NOT_FOUND);
  EXPECT_EQ(b.ops.back().result_flags, 0u);
}

TEST_F(RedisL2Flags, FlagsZeroStoresTheExactBytes) {
  tier_ = start_tier();
  ASSERT_TRUE(tier_);
  const std::vector<std::string> values = {"",
                                           "x",
                                           std::string("\0", 1),
                                           std::string("\0STRA", 5),
                                           std::string(kMagic.data(), 7),
                                           "{\"json\":1}",
                                           std::string(1 << 20, '\0')};
  for (size_t i = 0; i < values.size(); ++i) {
    std::string k = "plain:" + std::to_string(i);
    ASSERT_EQ(write(STRATA_TIER_SET, k, values[i], 0), STRATA_OK);
    EXPECT_EQ(raw_get(k), values[i]) << i;
    expect_item(k, values[i], 0);
    // A versioned write (the script) too.
    std::string v = "versioned:" + std::to_string(i);
    ASSERT_EQ(write(STRATA_TIER_SET, v, values[i], 0, 7), STRATA_OK);
    EXPECT_EQ(raw_get(v), values[i]) << i;
  }
  // A versioned write with flags keeps them; a large value's envelope is 12 bytes.
  const std::string big(1 << 20, 'b');
  ASSERT_EQ(write(STRATA_TIER_SET, "vflags", big, 0xFFFFFFFF, 9), STRATA_OK);
  expect_item("vflags", big, 0xFFFFFFFF);
  EXPECT_EQ(raw_get("vflags").size(), big.size() + 12);
}

TEST_F(RedisL2Flags, AppendPrependIncrDecrTouchKeepTheStoredFlags) {
  tier_ = start_tier();
  ASSERT_TRUE(tier_);
  for (uint32_t f : kFlags) {
    SCOPED_TRACE(f);
    std::string k = "s:" + std::to_string(f);
    ASSERT_EQ(write(STRATA_TIER_SET, k, "mid", f, 0, 60000), STRATA_OK);
    // The op's own flags are not the item's (memcached ignores them on append/prepend).
    ASSERT_EQ(write(STRATA_TIER_APPEND, k, "+tail", 77), STRATA_OK);
    expect_item(k, "mid+tail", f);
    ASSERT_EQ(write(STRATA_TIER_PREPEND, k, std::string("h\0-", 3), 77), STRATA_OK);
    expect_item(k, std::string("h\0-mid+tail", 11), f);
    ASSERT_EQ(write(STRATA_TIER_TOUCH, k, "", 77, 0, 5000), STRATA_OK);
    expect_item(k, std::string("h\0-mid+tail", 11), f);
    EXPECT_GT(pttl(k), 0);
    EXPECT_LE(pttl(k), 5000);

    std::string c = "n:" + std::to_string(f), out;
    ASSERT_EQ(write(STRATA_TIER_SET, c, "41", f), STRATA_OK);
    ASSERT_EQ(write(STRATA_TIER_INCR, c, "", 77, 1, 0, &out), STRATA_OK) << out;
    EXPECT_EQ(out, "42");
    expect_item(c, "42", f);
    ASSERT_EQ(write(STRATA_TIER_DECR, c, "", 77, 50, 0, &out), STRATA_OK) << out;
    EXPECT_EQ(out, "0");
    expect_item(c, "0", f);
    ASSERT_EQ(write(STRATA_TIER_SET, c, "18446744073709551615", f), STRATA_OK);
    ASSERT_EQ(write(STRATA_TIER_INCR, c, "", 0, 2, 0, &out), STRATA_OK) << out;
    EXPECT_EQ(out, "1");  // wraps at 2^64
    expect_item(c, "1", f);
    // The number is read after the envelope: the flag bytes are not part of it.
    ASSERT_EQ(write(STRATA_TIER_SET, c, "x1", f), STRATA_OK);
    EXPECT_EQ(write(STRATA_TIER_INCR, c, "", 0, 1, 0, &out), STRATA_ERR_INVALID);
    expect_item(c, "x1", f);
  }
}

TEST_F(RedisL2Flags, CasComparesTheTokenOfThePayloadNotOfTheEnvelope) {
  tier_ = start_tier();
  ASSERT_TRUE(tier_);
  ASSERT_EQ(write(STRATA_TIER_SET, "k", "v1", 3), STRATA_OK);
  const std::string stored = raw_get("k");
  ASSERT_EQ(stored, header(3) + "v1");
  EXPECT_EQ(write(STRATA_TIER_CAS, "k", "v2", 4, token(stored)), STRATA_NOT_STORED);
  expect_item("k", "v1", 3);
  ASSERT_EQ(write(STRATA_TIER_CAS, "k", "v2", 4, token("v1")), STRATA_OK);
  expect_item("k", "v2", 4);
  EXPECT_EQ(write(STRATA_TIER_CAS, "k", "v3", 4, token("v1")), STRATA_NOT_STORED);  // stale
  expect_item("k", "v2", 4);
}

TEST_F(RedisL2Flags, RawValuesThatAreNotEnvelopesAreReturnedUnchanged) {
  tier_ = start_tier();
  ASSERT_TRUE(tier_);
  const std::vector<std::string> raws = {
      std::string("\0", 1),
      std::string("\0STRATA", 7),
      kMagic,                                      // the magic alone
      kMagic + std::string("\0\0\x01", 3),         // magic + 3 bytes: shorter than a header
      std::string("\0STRATA\x02\0\0\0\x01x", 13),  // another last magic byte
      std::string("\0STRATB\x01\0\0\0\x01x", 13),
      std::string("\x01STRATA\x01\0\0\0\x01x", 13),
  };
  for (size_t i = 0; i < raws.size(); ++i) {
    std::string k = "raw:" + std::to_string(i);
    raw_set(k, raws[i]);
    Got g = get(k);
    EXPECT_EQ(g.status, STRATA_OK) << i;
    EXPECT_EQ(g.value, raws[i]) << i;
    EXPECT_EQ(g.flags, 0u) << i;
  }
  // A valid envelope written by another client is read as one.
  raw_set("raw:env", header(2) + "42");
  expect_item("raw:env", "42", 2);
}

// A flags-0 value whose bytes start with the magic is stored in an envelope with flags 0, so that
// it reads back byte for byte, by every write that can produce such bytes.
TEST_F(RedisL2Flags, FlagsZeroBytesThatStartWithTheMagicReadBackUnchanged) {
  tier_ = start_tier();
  ASSERT_TRUE(tier_);
  const std::string tricky = header(7) + "payload";  // looks like flags 7 + "payload"
  ASSERT_EQ(write(STRATA_TIER_SET, "t", tricky, 0), STRATA_OK);
  EXPECT_EQ(raw_get("t"), header(0) + tricky);
  Got g = get("t");
  EXPECT_EQ(g.value, tricky);
  EXPECT_EQ(g.flags, 0u);
  ASSERT_EQ(write(STRATA_TIER_SET, "tv", tricky, 0, 5), STRATA_OK);  // versioned
  g = get("tv");
  EXPECT_EQ(g.value, tricky);
  EXPECT_EQ(g.flags, 0u);
  ASSERT_EQ(write(STRATA_TIER_SET, "tm", kMagic, 0), STRATA_OK);  // the magic alone
  g = get("tm");
  EXPECT_EQ(g.value, kMagic);
  EXPECT_EQ(g.flags, 0u);
  ASSERT_EQ(write(STRATA_TIER_CAS, "tm", tricky, 0, token(kMagic)), STRATA_OK);
  g = get("tm");
  EXPECT_EQ(g.value, tricky);
  EXPECT_EQ(g.flags, 0u);

  // Prepending in front of such a value: plain bytes again when they no longer start so.
  ASSERT_EQ(write(STRATA_TIER_PREPEND, "t", "x", 0), STRATA_OK);
  EXPECT_EQ(raw_get("t"), "x" + tricky);
  // APPEND / PREPEND that make a plain value start with the magic.
  raw_set("a", std::string("\0STR", 4));
  ASSERT_EQ(write(STRATA_TIER_APPEND, "a", std::string("ATA\x01\0\0\0\x09z", 9), 0), STRATA_OK);
  g = get("a");
  EXPECT_EQ(g.value, header(9) + "z");
  EXPECT_EQ(g.flags, 0u);
  raw_set("p", std::string("TA\x01\0\0\0\x05q", 8));
  ASSERT_EQ(write(STRATA_TIER_PREPEND, "p", std::string("\0STRA", 5), 0), STRATA_OK);
  g = get("p");
  EXPECT_EQ(g.value, header(5) + "q");
  EXPECT_EQ(g.flags, 0u);
  // An empty value, appended to.
  raw_set("e", "");
  ASSERT_EQ(write(STRATA_TIER_APPEND, "e", tricky, 0), STRATA_OK);
  g = get("e");
  EXPECT_EQ(g.value, tricky);
  EXPECT_EQ(g.flags, 0u);
  EXPECT_EQ(write(STRATA_TIER_APPEND, "absent", "x", 0), STRATA_NOT_STORED);
  EXPECT_EQ(raw_get("absent"), "<nil>");
}

// The pipeline's writes (partition-guarded, flags 0) store plain bytes; a guarded write with
// flags, which the pipeline never sends, is still enveloped correctly.
TEST_F(RedisL2Flags, GuardedWritesStorePlainBytesAndEnvelopeFlags) {
  tier_ = start_tier();
  ASSERT_TRUE(tier_);
  const std::string part = "latest/orders/0";
  Batch b;
  for (int i = 0; i < 50; ++i) {
    b.add(STRATA_TIER_SET, "g:" + std::to_string(i), "{\"n\":" + std::to_string(i) + "}");
    b.ops.back().guard_name = {part.data(), part.size()};
    b.ops.back().guard_offset = i;
  }
  b.add(STRATA_TIER_SET, "g:flagged", "f");
  b.ops.back().flags = 9;
  b.ops.back().guard_name = {part.data(), part.size()};
  b.ops.back().guard_offset = 50;
  ASSERT_EQ(tier_->run(b), STRATA_OK);
  for (auto& op : b.ops) EXPECT_EQ(op.status, STRATA_OK) << op.error;
  for (int i = 0; i < 50; ++i) {
    std::string k = "g:" + std::to_string(i), v = "{\"n\":" + std::to_string(i) + "}";
    EXPECT_EQ(raw_get(k), v);
    expect_item(k, v, 0);
  }
  expect_item("g:flagged", "f", 9);
  EXPECT_EQ(raw_get("strata:wm:" + part), "51");
}

}  // namespace
}  // namespace strata

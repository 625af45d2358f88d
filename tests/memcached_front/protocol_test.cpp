// The memcached front's parser and encoders (modules/memcached_front/protocol.hpp), no I/O.
// Expected strings are what memcached 1.6.18 answers to the same bytes.
#include "protocol.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace mcfront;

namespace {

// Parses every request in `in`, fed in one piece; returns them.
std::vector<Request> parse_all(const std::string& in, Limits limits = {}) {
  Parser p(limits);
  std::vector<Request> out;
  size_t off = 0;
  for (int guard = 0; guard < 10000 && off < in.size(); ++guard) {
    Request r;
    size_t n = p.next(in.data() + off, in.size() - off, r);
    if (n == 0) break;
    off += n;
    if (r.cmd != Cmd::None) out.push_back(r);
  }
  return out;
}

Request one(const std::string& in) {
  auto all = parse_all(in);
  EXPECT_EQ(all.size(), 1u) << in;
  return all.empty() ? Request{} : all[0];
}

std::string error_of(const std::string& in) {
  Request r = one(in);
  EXPECT_EQ(r.cmd, Cmd::Error) << in;
  return r.reply;
}

}  // namespace

TEST(FrontProtocol, GetWithManyKeysAndBareNewline) {
  Request r = one("get a bb ccc\r\n");
  EXPECT_EQ(r.cmd, Cmd::Get);
  ASSERT_EQ(r.keys.size(), 3u);
  EXPECT_EQ(r.keys[2], "ccc");
  EXPECT_EQ(one("gets  x\n").keys, std::vector<std::string>{"x"});
}

TEST(FrontProtocol, IncompleteInputConsumesNothing) {
  Parser p;
  Request r;
  std::string s = "get a";
  EXPECT_EQ(p.next(s.data(), s.size(), r), 0u);
  s = "set k 0 0 5\r\nhel";
  EXPECT_EQ(p.next(s.data(), s.size(), r), 0u);
  s += "lo\r\n";
  EXPECT_EQ(p.next(s.data(), s.size(), r), s.size());
  EXPECT_EQ(r.cmd, Cmd::Set);
  EXPECT_EQ(r.value, "hello");
}

TEST(FrontProtocol, ByteAtATimeGivesTheSameRequests) {
  std::string in = "set k 1 2 3 noreply\r\nabc\r\nmg k v k Oxy\r\ncas k 0 0 1 99\r\nz\r\nmn\r\n";
  Parser p;
  std::string buf;
  std::vector<Request> got;
  for (char c : in) {
    buf += c;
    Request r;
    size_t n = p.next(buf.data(), buf.size(), r);
    if (n) {
      buf.erase(0, n);
      got.push_back(r);
    }
  }
  ASSERT_EQ(got.size(), 4u);
  EXPECT_TRUE(got[0].noreply);
  EXPECT_EQ(got[0].flags, 1u);
  EXPECT_EQ(got[0].exptime, 2);
  EXPECT_EQ(got[1].meta.opaque, "xy");
  EXPECT_EQ(got[2].number, 99u);
  EXPECT_EQ(got[3].cmd, Cmd::MetaNoop);
}

TEST(FrontProtocol, ErrorStringsAsMemcached) {
  EXPECT_EQ(error_of("get\r\n"), "ERROR\r\n");
  EXPECT_EQ(error_of("GET a\r\n"), "ERROR\r\n");
  EXPECT_EQ(error_of("\r\n"), "ERROR\r\n");
  EXPECT_EQ(error_of("delete\r\n"), "ERROR\r\n");
  EXPECT_EQ(error_of("delete a b c d e\r\n"), "ERROR\r\n");
  EXPECT_EQ(error_of("delete a b\r\n"),
            "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n");
  EXPECT_EQ(one("delete a 0\r\n").cmd, Cmd::Delete);
  EXPECT_EQ(error_of("incr a x\r\n"), "CLIENT_ERROR invalid numeric delta argument\r\n");
  EXPECT_EQ(error_of("incr a\r\n"), "ERROR\r\n");
  EXPECT_EQ(error_of("touch a abc\r\n"), "CLIENT_ERROR invalid exptime argument\r\n");
  EXPECT_EQ(error_of("gat a\r\n"), "CLIENT_ERROR invalid exptime argument\r\n");
  EXPECT_EQ(error_of("verbosity\r\n"), "ERROR\r\n");
  EXPECT_EQ(error_of("verbosity foo bar my\r\n"), "ERROR\r\n");
  EXPECT_EQ(error_of("stats noreply\r\n"), "ERROR\r\n");
  EXPECT_EQ(error_of("flush_all foo\r\n"), "CLIENT_ERROR invalid exptime argument\r\n");
  EXPECT_EQ(error_of("set a 0 0\r\n"), "ERROR\r\n");
  EXPECT_EQ(error_of("set a 0 0 -1\r\n"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(error_of("get " + std::string(251, 'k') + "\r\n"),
            "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(one("get " + std::string(250, 'k') + "\r\n").cmd, Cmd::Get);
}

TEST(FrontProtocol, BadStorageLineLeavesTheDataToBeReadAsACommand) {
  auto all = parse_all("set a x 0 1\r\nx\r\n");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].reply, "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(all[1].reply, "ERROR\r\n");
}

TEST(FrontProtocol, BadDataChunkConsumesLengthPlusTwo) {
  auto all = parse_all("set a 0 0 2\r\nxyz\r\n");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].reply, "CLIENT_ERROR bad data chunk\r\n");
  EXPECT_EQ(all[1].reply, "ERROR\r\n");  // the lone "\n" left over
}

TEST(FrontProtocol, TooLargeValueIsRefusedAndSwallowed) {
  Limits l;
  l.max_value = 4;
  auto all = parse_all("set a 0 0 10\r\n0123456789\r\nget a\r\n", l);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].reply, "SERVER_ERROR object too large for cache\r\n");
  EXPECT_EQ(all[1].cmd, Cmd::Get);
}

TEST(FrontProtocol, LineTooLongClosesTheConnection) {
  Limits l;
  l.max_line = 16;
  Parser p(l);
  std::string s = "set " + std::string(40, 'k');
  Request r;
  EXPECT_EQ(p.next(s.data(), s.size(), r), s.size());
  EXPECT_EQ(r.reply, "CLIENT_ERROR line too long\r\n");
  EXPECT_TRUE(r.close);
  std::string g = "get " + std::string(40, 'k');  // retrieval lines have their own limit
  EXPECT_EQ(p.next(g.data(), g.size(), r), 0u);
}

TEST(FrontProtocol, NoreplyAndCas) {
  Request r = one("cas k 5 10 3 12345 noreply\r\nabc\r\n");
  EXPECT_EQ(r.cmd, Cmd::Cas);
  EXPECT_TRUE(r.noreply);
  EXPECT_EQ(r.number, 12345u);
  EXPECT_EQ(parse_all("cas a 0 0 1 abc\r\nx\r\n")[0].reply,
            "CLIENT_ERROR bad command line format\r\n");
  EXPECT_FALSE(one("set a 0 0 1 garbage\r\nx\r\n").noreply);
  EXPECT_TRUE(one("verbosity 1 noreply\r\n").noreply);
  EXPECT_TRUE(one("delete a noreply\r\n").noreply);
}

TEST(FrontProtocol, MetaGetFlags) {
  Request r = one("mg key v k c f s t Oop q T30\r\n");
  EXPECT_EQ(r.cmd, Cmd::MetaGet);
  EXPECT_EQ(r.keys[0], "key");
  EXPECT_TRUE(r.meta.value);
  EXPECT_TRUE(r.meta.quiet);
  EXPECT_EQ(r.meta.ret, "kcfstO");
  EXPECT_EQ(r.meta.opaque, "op");
  EXPECT_TRUE(r.meta.has_ttl);
  EXPECT_EQ(r.meta.ttl, 30);
  EXPECT_EQ(r.meta.unsupported, 0);
  EXPECT_EQ(one("mg key N30\r\n").meta.unsupported, 'N');
}

TEST(FrontProtocol, MetaErrorStrings) {
  EXPECT_EQ(error_of("mg\r\n"), "ERROR\r\n");
  EXPECT_EQ(error_of("mg a zz\r\n"), "CLIENT_ERROR invalid flag\r\n");
  EXPECT_EQ(error_of("mg a v v\r\n"), "CLIENT_ERROR duplicate flag\r\n");
  EXPECT_EQ(error_of("md a x\r\n"), "CLIENT_ERROR invalid or duplicate flag\r\n");
  EXPECT_EQ(error_of("ma n Dx\r\n"), "CLIENT_ERROR invalid or duplicate flag\r\n");
  EXPECT_EQ(error_of("mg a O123456789012345678901234567890123 v\r\n"),
            "CLIENT_ERROR opaque token too long\r\n");
  EXPECT_EQ(error_of("mg a v t k O1 f s c b\r\n"), "CLIENT_ERROR error decoding key\r\n");
  EXPECT_EQ(error_of("ms a\r\n"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(error_of("mx a\r\n"), "ERROR\r\n");
  EXPECT_EQ(one("mn x\r\n").cmd, Cmd::MetaNoop);
}

TEST(FrontProtocol, MetaSetErrorsSwallowTheData) {
  auto all = parse_all("ms a 2 noreply\r\nhi\r\nms a 2 MX\r\nhi\r\nms a 2 Tx\r\nhi\r\nmn\r\n");
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].reply, "CLIENT_ERROR invalid flag\r\n");
  EXPECT_EQ(all[1].reply, "CLIENT_ERROR invalid mode for ms M token\r\n");
  EXPECT_EQ(all[2].reply, "CLIENT_ERROR bad token in command line format\r\n");
  EXPECT_EQ(all[3].cmd, Cmd::MetaNoop);
  // an unreadable length cannot be swallowed: the data is read as a command
  auto bad = parse_all("ms a x\r\nhi\r\n");
  ASSERT_EQ(bad.size(), 2u);
  EXPECT_EQ(bad[1].reply, "ERROR\r\n");
}

TEST(FrontProtocol, MetaSetModesAndValue) {
  Request r = one("ms k 3 T60 F7 MA c q\r\nabc\r\n");
  EXPECT_EQ(r.cmd, Cmd::MetaSet);
  EXPECT_EQ(r.value, "abc");
  EXPECT_EQ(r.meta.mode, 'A');
  EXPECT_EQ(r.meta.client_flags, 7u);
  EXPECT_EQ(r.meta.ttl, 60);
  EXPECT_EQ(one("ms k 1 C99\r\nx\r\n").meta.compare_cas, 99u);
  EXPECT_EQ(one("ma k MD D5\r\n").meta.mode, 'D');
  EXPECT_EQ(one("ma k M-\r\n").meta.mode, '-');
}

TEST(FrontProtocol, Base64Keys) {
  Request r = one("mg Zm9vYmFy b k v\r\n");
  EXPECT_EQ(r.keys[0], "foobar");
  EXPECT_EQ(r.meta.key_token, "Zm9vYmFy");
  std::string out;
  EXPECT_TRUE(base64_decode("YQ==", out));
  EXPECT_EQ(out, "a");
  EXPECT_FALSE(base64_decode("Y=Q=", out));
  EXPECT_FALSE(base64_decode("abc", out));
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  for (std::string s : {"", "x", "xy", "xyz", "\x01\xff\x80 z"}) {
    ASSERT_TRUE(base64_decode(base64_encode(s), out));
    EXPECT_EQ(out, s);
  }
}

TEST(FrontProtocol, MetaRepliesAndQuietCodes) {
  MetaFlags f;
  f.ret = "kcfstO";
  f.key_token = "a";
  f.opaque = "x";
  MetaItem item{true, "hi", 5, 92, -1};
  std::string out;
  f.value = true;
  append_meta(out, Cmd::MetaGet, f, "VA", item);
  EXPECT_EQ(out, "VA 2 ka c92 f5 s2 t-1 Ox\r\nhi\r\n");
  out.clear();
  append_meta(out, Cmd::MetaGet, f, "EN", MetaItem{});
  EXPECT_EQ(out, "EN ka Ox\r\n");
  f.quiet = true;
  out.clear();
  EXPECT_FALSE(append_meta(out, Cmd::MetaGet, f, "EN", MetaItem{}));
  EXPECT_TRUE(append_meta(out, Cmd::MetaGet, f, "HD", item));
  EXPECT_FALSE(append_meta(out, Cmd::MetaSet, f, "HD", item));
  EXPECT_TRUE(append_meta(out, Cmd::MetaSet, f, "NS", MetaItem{}));
  EXPECT_FALSE(append_meta(out, Cmd::MetaDelete, f, "HD", item));
  EXPECT_TRUE(append_meta(out, Cmd::MetaDelete, f, "NF", MetaItem{}));
  EXPECT_FALSE(append_meta(out, Cmd::MetaArith, f, "VA", item));
  EXPECT_TRUE(append_meta(out, Cmd::MetaArith, f, "NF", MetaItem{}));
}

TEST(FrontProtocol, ValueLinesAndExptimes) {
  std::string out;
  append_value(out, "k", 3, "abc", false, 0);
  append_value(out, "k", 0, "", true, 18446744073709551615ull);
  EXPECT_EQ(out, "VALUE k 3 3\r\nabc\r\nVALUE k 0 0 18446744073709551615\r\n\r\n");
  int64_t ttl = 0;
  EXPECT_TRUE(exptime_to_ttl_ms(0, 0, ttl));
  EXPECT_EQ(ttl, -1);
  EXPECT_TRUE(exptime_to_ttl_ms(10, 0, ttl));
  EXPECT_EQ(ttl, 10000);
  EXPECT_FALSE(exptime_to_ttl_ms(-1, 0, ttl));
  int64_t now = 1'800'000'000'000;
  EXPECT_TRUE(exptime_to_ttl_ms(1'800'000'100, now, ttl));
  EXPECT_EQ(ttl, 100000);
  EXPECT_FALSE(exptime_to_ttl_ms(1'700'000'000, now, ttl));
}

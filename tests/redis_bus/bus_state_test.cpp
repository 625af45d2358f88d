// Unit tests of redis_bus's position: entry ids and the state file (bus_state.hpp).
#include "bus_state.hpp"

#include <gtest/gtest.h>

#include <string>

#include "files.hpp"

namespace redis_bus {
namespace {

TEST(BusState, IdsParseAndCompareAsRedisOrdersThem) {
  auto a = parse_id("1796177768126-0"), b = parse_id("1796177768126-12"), c = parse_id("99");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->ms, 1796177768126u);
  EXPECT_EQ(b->seq, 12u);
  EXPECT_EQ(c->str(), "99-0");
  EXPECT_TRUE(*a < *b);
  EXPECT_TRUE(*c < *a);
  EXPECT_TRUE(EntryId{} < *c);
  EXPECT_FALSE(parse_id(""));
  EXPECT_FALSE(parse_id("12-"));
  EXPECT_FALSE(parse_id("-3"));
  EXPECT_FALSE(parse_id("1x-2"));
  EXPECT_FALSE(parse_id("18446744073709551616-0"));  // past uint64
}

TEST(BusState, StateFileRoundTripsAndABadOneCountsAsMissing) {
  const std::string dir = strata::test::make_temp_dir("strata-bus-state");
  const std::string path = dir + "/bus.id";
  std::string why;
  EXPECT_FALSE(load_position(path, &why));
  EXPECT_NE(why.find("no state file"), std::string::npos) << why;
  Position p{EntryId{1796177768126, 3}, 4242};
  ASSERT_TRUE(save_position(path, p, &why)) << why;
  auto back = load_position(path, &why);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->last, p.last);
  EXPECT_EQ(back->added, 4242u);
  for (const char* bad :
       {"", "strata-bus 1 17961-0\n", "strata-bus 2 1-0 3\n", "garbage", "strata-bus 1 x-0 3\n"}) {
    strata::test::write_file(path, bad);
    EXPECT_FALSE(load_position(path, &why)) << bad;
    EXPECT_NE(why.find("not a strata-bus state"), std::string::npos) << why;
  }
  EXPECT_FALSE(save_position(dir + "/missing-dir/bus.id", p, &why));
  EXPECT_NE(why.find("cannot write"), std::string::npos) << why;
  strata::test::remove_tree(dir);
}

}  // namespace
}  // namespace redis_bus

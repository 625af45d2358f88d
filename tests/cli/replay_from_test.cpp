// `strata replay --from`'s parser (core/src/cli/replay_from.cpp): what each accepted form becomes
// in the source's replay spec, and what is refused.
#include <gtest/gtest.h>

#include <string>

#include "cli/replay_from.hpp"

namespace strata::cli {
namespace {

std::string spec(const std::string& from) {
  std::string out, why;
  if (!parse_replay_from(from, &out, &why)) return "refused: " + why;
  return out;
}

TEST(ReplayFrom, EachForm) {
  EXPECT_EQ(spec("earliest"), "earliest");
  EXPECT_EQ(spec("1764651600000"), "timestamp:1764651600000");
  EXPECT_EQ(spec("2025-12-02T05:00:00Z"), "timestamp:1764651600000");
  EXPECT_EQ(spec("2025-12-02t05:00:00.25z"), "timestamp:1764651600250");
  EXPECT_EQ(spec("2025-12-02T07:00:00.123456+02:00"), "timestamp:1764651600123");
  EXPECT_EQ(spec("2025-12-02 04:30:00-00:30"), "timestamp:1764651600000");
  EXPECT_EQ(spec("0:120,3:0"), "offsets:0:120,3:0");
}

TEST(ReplayFrom, Refused) {
  for (const char* bad : {"", "latest", "yesterday", "2025-12-02", "2025-12-02T05:00:00",
                          "2025-02-30T05:00:00Z", "2025-12-02T25:00:00Z", "2025-12-02T05:00:00.Z",
                          "2025-12-02T05:00:00+2:00", "-5", "1.5", "0:1;2:3"})
    EXPECT_EQ(spec(bad).rfind("refused: '", 0), 0u) << bad << " -> " << spec(bad);
}

}  // namespace
}  // namespace strata::cli

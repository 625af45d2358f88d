// kafka_source's PartitionBook on its own (no cluster): the lag is a count only when every owned
// partition's standing is known, pending otherwise (never 0 with a partition unread), and a
// partition that stays unread is named once, after stall_ns, and not while paused.
#include "partition_book.hpp"

#include <gtest/gtest.h>
#include <strata/strata.h>

#include <map>

namespace kafka_source {
namespace {

constexpr uint64_t kSecond = 1'000'000'000ull;

// Cached watermarks as librdkafka would hand them: only for partitions fetched so far.
struct Marks {
  std::map<PartitionKey, std::pair<int64_t, int64_t>> lo_hi;
  PartitionBook::Watermarks fn() {
    return [this](const PartitionKey& k, int64_t* lo, int64_t* hi) {
      auto it = lo_hi.find(k);
      if (it == lo_hi.end()) return false;
      *lo = it->second.first;
      *hi = it->second.second;
      return true;
    };
  }
};

const PartitionKey p0{"t", 0}, p1{"t", 1};

TEST(PartitionBook, UnknownBeforeAnyAssignmentZeroOnceAllAreRevoked) {
  PartitionBook book;
  Marks m;
  EXPECT_EQ(book.lag(m.fn(), 0, 0, false).records, STRATA_LAG_UNKNOWN);
  book.assigned(p0, 0);
  m.lo_hi[p0] = {0, 4};
  book.delivered(p0, 4);
  EXPECT_EQ(book.lag(m.fn(), 0, 0, false).records, 0);
  book.revoked(p0);
  EXPECT_TRUE(book.empty());
  EXPECT_EQ(book.lag(m.fn(), 0, 0, false).records, 0);
}

TEST(PartitionBook, APartitionNotReadYetMakesTheLagPendingNotZero) {
  PartitionBook book;
  Marks m;
  book.assigned(p0, 0);
  book.assigned(p1, 0);
  EXPECT_EQ(book.lag(m.fn(), 0, 0, false).records, STRATA_LAG_PENDING);  // nothing fetched
  m.lo_hi[p0] = {0, 10};
  book.delivered(p0, 10);
  EXPECT_EQ(book.lag(m.fn(), 0, 0, false).records, STRATA_LAG_PENDING);  // p1 still unknown
  m.lo_hi[p1] = {0, 5};
  EXPECT_EQ(book.lag(m.fn(), 0, 0, false).records, STRATA_LAG_PENDING);  // fetched, not read
  book.delivered(p1, 2);
  EXPECT_EQ(book.lag(m.fn(), 0, 0, false).records, 3);
  book.reached_end(p1, 5);
  EXPECT_EQ(book.lag(m.fn(), 0, 0, false).records, 0);
  m.lo_hi[p1] = {0, 8};  // three more records arrived
  EXPECT_EQ(book.lag(m.fn(), 0, 0, false).records, 3);
  m.lo_hi[p0] = {0, 9};  // a cached watermark behind the position counts 0, not -1
  EXPECT_EQ(book.lag(m.fn(), 0, 0, false).records, 3);
}

TEST(PartitionBook, AnEmptyPartitionOrOneReadToItsEndEarlierCountsZero) {
  PartitionBook book;
  Marks m;
  book.assigned(p0, 0);
  book.assigned(p1, 0);
  m.lo_hi[p0] = {7, 7};  // empty (everything deleted by retention): no record, no EOF needed
  m.lo_hi[p1] = {0, 12};
  book.reached_end(p1, 12);  // committed at its end by an earlier run: only the EOF event
  EXPECT_EQ(book.lag(m.fn(), 0, 0, false).records, 0);
}

TEST(PartitionBook, RecordsOfPartitionsNotOwnedAreIgnored) {
  PartitionBook book;
  Marks m;
  book.assigned(p0, 0);
  m.lo_hi[p0] = {0, 3};
  book.delivered(p0, 3);
  book.delivered(p1, 100);
  book.reached_end(p1, 100);
  EXPECT_FALSE(book.owns(p1));
  EXPECT_EQ(book.lag(m.fn(), 0, 0, false).records, 0);
}

TEST(PartitionBook, AnUnreadPartitionIsNamedOnceAfterTheStallTimeAndNotWhilePaused) {
  PartitionBook book;
  Marks m;
  book.assigned(p0, 0);
  book.assigned(p1, 0);
  m.lo_hi[p0] = {0, 1};
  book.delivered(p0, 1);
  const uint64_t stall = 30 * kSecond;
  EXPECT_TRUE(book.lag(m.fn(), 29 * kSecond, stall, false).stalled.empty());
  EXPECT_TRUE(book.lag(m.fn(), 31 * kSecond, stall, true).stalled.empty());  // paused
  EXPECT_TRUE(book.lag(m.fn(), 31 * kSecond, 0, false).stalled.empty());     // never warn
  auto lag = book.lag(m.fn(), 31 * kSecond, stall, false);
  ASSERT_EQ(lag.stalled.size(), 1u);
  EXPECT_NE(lag.stalled[0].find("t[1]: assigned 31 s ago"), std::string::npos) << lag.stalled[0];
  EXPECT_NE(lag.stalled[0].find("its end offset is unknown"), std::string::npos) << lag.stalled[0];
  EXPECT_TRUE(book.lag(m.fn(), 60 * kSecond, stall, false).stalled.empty()) << "warned twice";

  // Fetched but never read: the sentence says so. A reassignment restarts the clock.
  m.lo_hi[p1] = {0, 4};
  book.assigned(p1, 100 * kSecond);
  EXPECT_TRUE(book.lag(m.fn(), 129 * kSecond, stall, false).stalled.empty());
  lag = book.lag(m.fn(), 130 * kSecond, stall, false);
  ASSERT_EQ(lag.stalled.size(), 1u);
  EXPECT_NE(lag.stalled[0].find("no record delivered nor its end reached"), std::string::npos)
      << lag.stalled[0];
  EXPECT_EQ(lag.records, STRATA_LAG_PENDING);
}

// What kafka_source may pause right after an assignment: only partitions read from since then
// (a record delivered or held, or their end reached); a reassignment starts over.
TEST(PartitionBook, APartitionIsFetchingOnceReadFromSinceItsAssignment) {
  PartitionBook book;
  const PartitionKey p2{"t", 2};
  book.assigned(p0, 0);
  book.assigned(p1, 0);
  book.assigned(p2, 0);
  EXPECT_TRUE(book.fetching().empty());
  book.delivered(p0, 5);
  book.reached_end(p1, 0);  // an empty partition: its end is all there is to read
  EXPECT_EQ(book.fetching(), (std::vector<PartitionKey>{p0, p1}));
  book.seen(p2);  // held while paused
  EXPECT_EQ(book.fetching().size(), 3u);
  book.assigned(p0, 1);  // revoked and assigned back: its fetch starts again
  EXPECT_EQ(book.fetching(), (std::vector<PartitionKey>{p1, p2}));
  book.seen({"other", 0});  // not owned: ignored
  book.revoked(p1);
  EXPECT_EQ(book.fetching(), (std::vector<PartitionKey>{p2}));
}

}  // namespace
}  // namespace kafka_source

// kafka_source's bounded call (bounded_call.hpp): a librdkafka request that librdkafka 2.0 may
// never answer during a close is waited for at most its deadline.
#include "bounded_call.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace kafka_source {
namespace {

int64_t elapsed_ms(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               t0)
      .count();
}

TEST(BoundedCall, ACallThatReturnsIsWaitedForAndItsEffectSeen) {
  int value = 0;
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(call_within(10000, [&] { value = 42; }));
  EXPECT_EQ(value, 42);  // joined: the write is visible
  EXPECT_LT(elapsed_ms(t0), 5000);
}

TEST(BoundedCall, ACallThatNeverReturnsIsLeftBehindAtTheDeadline) {
  // What librdkafka does to a request it purged: the caller waits on a reply that never comes.
  // The wait below is never signalled; the helper stays blocked for the rest of the process.
  auto never = std::make_shared<std::pair<std::mutex, std::condition_variable>>();
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(call_within(300, [never] {
    std::unique_lock<std::mutex> lock(never->first);
    never->second.wait(lock, [] { return false; });
  }));
  int64_t took = elapsed_ms(t0);
  EXPECT_GE(took, 290);
  EXPECT_LT(took, 5000);
}

TEST(BoundedCall, AZeroDeadlineStillRunsTheCall) {
  auto ran = std::make_shared<std::atomic<bool>>(false);
  call_within(0, [ran] { *ran = true; });
  // Either answer is right for a zero deadline; the call itself must have been started.
  for (int i = 0; i < 500 && !*ran; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(*ran);
}

}  // namespace
}  // namespace kafka_source

#include "bounded_call.hpp"

#include <dlfcn.h>
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace kafka_source {
namespace {

struct Shared {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
};

// Marks the shared object that holds `code` RTLD_NODELETE: a later dlclose() keeps it mapped.
void pin_object_of(const void* code) {
  Dl_info info{};
  if (dladdr(code, &info) == 0 || info.dli_fname == nullptr) return;
  // RTLD_NOLOAD: only the flag changes; the reference it takes is never dropped, on purpose.
  (void)dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

}  // namespace

bool call_within(int64_t timeout_ms, std::function<void()> call) {
  auto shared = std::make_shared<Shared>();
  std::thread helper([shared, call = std::move(call)] {
    call();
    std::lock_guard<std::mutex> lock(shared->mu);
    shared->done = true;
    shared->cv.notify_all();
  });
  bool done;
  {
    std::unique_lock<std::mutex> lock(shared->mu);
    done = shared->cv.wait_for(lock, std::chrono::milliseconds(timeout_ms > 0 ? timeout_ms : 0),
                               [&] { return shared->done; });
  }
  if (done) {
    helper.join();
    return true;
  }
  pin_object_of(reinterpret_cast<const void*>(&call_within));
  pin_object_of(reinterpret_cast<const void*>(&rd_kafka_assign));
  helper.detach();
  return false;
}

}  // namespace kafka_source

// The built-in write policies: write_through (the default), write_back, write_around and l2_only.
// One source built four times; STRATA_POLICY_NAME (set by CMakeLists.txt) picks the mode. The
// pipeline calls decide() once per key of each record, from its worker threads. docs/policies.md
// has the user-facing semantics.
#include <strata/sdk.hpp>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <random>
#include <string_view>

#ifndef STRATA_POLICY_NAME
#error \
    "STRATA_POLICY_NAME must be \"write_through\", \"write_back\", \"write_around\" or \"l2_only\""
#endif

namespace {

// What a volatile tier (L1) gets for an ordinary write; durable tiers always get SET.
enum class VolatileWrite { Set, Delete, Skip };

constexpr std::string_view kName = STRATA_POLICY_NAME;
constexpr bool kWriteBack = kName == "write_back";
constexpr VolatileWrite kMode = kName == "write_through" || kWriteBack ? VolatileWrite::Set
                                : kName == "write_around"              ? VolatileWrite::Delete
                                                                       : VolatileWrite::Skip;
static_assert(kName == "write_through" || kWriteBack || kName == "write_around" ||
                  kName == "l2_only",
              "unknown STRATA_POLICY_NAME");

constexpr const char* kDescription =
    kWriteBack ? "Sets volatile tiers first (fresh at once), then durable tiers; commits wait for "
                 "the durable acks"
    : kMode == VolatileWrite::Set ? "Writes durable tiers, then sets volatile tiers (the default)"
    : kMode == VolatileWrite::Delete
        ? "Writes durable tiers and deletes the key from volatile tiers (reads refill them)"
        : "Writes durable tiers only; volatile tiers are left untouched";

constexpr strata_option_def kOptions[] = {
    strata::option("l1_ttl", STRATA_OPT_DURATION, "0",
                   "TTL for volatile tiers when the ttl() hook gave none; 0 = the tier's default")
        .min(0),
    strata::option("l2_ttl", STRATA_OPT_DURATION, "0",
                   "TTL for durable tiers when the ttl() hook gave none; 0 = the tier's default")
        .min(0),
    strata::option("ttl_jitter", STRATA_OPT_DOUBLE, "0.1",
                   "Each positive volatile TTL is multiplied by a random factor in "
                   "[1-j, 1+j] so keys written together do not expire together")
        .range(0, 0.5),
    strata::option("l1_max_value", STRATA_OPT_SIZE, "0",
                   "Values larger than this are not written to volatile tiers (they get a "
                   "delete instead); 0 = no limit")
        .min(0),
};

// splitmix64 over an atomic counter: lock-free, thread-safe, and good enough to spread TTLs.
class JitterSource {
 public:
  JitterSource() : state_(std::random_device{}() * 0x9e3779b97f4a7c15ull) {}
  // Uniform in [0, 1).
  double next_unit() {
    uint64_t z = state_.fetch_add(0x9e3779b97f4a7c15ull, std::memory_order_relaxed);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) * 0x1.0p-53;
  }

 private:
  std::atomic<uint64_t> state_;
};

class WritePolicy : public strata::PolicyModule {
 public:
  static constexpr uint32_t kPolicyFlags = kWriteBack ? STRATA_POLICY_VOLATILE_FIRST : 0;

  WritePolicy(strata::Host /*host*/, const strata::Options& opts)
      : l1_ttl_ms_(opts.duration_ms("l1_ttl")),
        l2_ttl_ms_(opts.duration_ms("l2_ttl")),
        jitter_(opts.number("ttl_jitter")),
        l1_max_value_(opts.size_bytes("l1_max_value")) {
    // The host validates bounds; repeat the check so a misconfigured embedder gets a message.
    if (!(jitter_ >= 0.0 && jitter_ <= 0.5)) throw strata::Error("ttl_jitter must be in 0..0.5");
    if (l1_ttl_ms_ < 0 || l2_ttl_ms_ < 0 || l1_max_value_ < 0)
      throw strata::Error("l1_ttl, l2_ttl and l1_max_value must not be negative");
  }

  void decide(const strata_policy_input& in, strata_policy_decision* decisions) override {
    // A tombstone (no value at all) removes the key everywhere.
    const bool tombstone = in.value.data == nullptr;
    const bool admitted = l1_max_value_ == 0 || in.value.len <= static_cast<size_t>(l1_max_value_);
    // The hook's TTL wins when it gave one; then this policy's per-tier TTL; else
    // STRATA_TTL_DEFAULT, which tells the tier to use its own default.
    const int64_t l2_ttl = strata::hook_ttl_or(in, l2_ttl_ms_);
    const int64_t l1_ttl = strata::hook_ttl_or(in, l1_ttl_ms_);
    for (size_t i = 0; i < in.tier_count; ++i) {
      strata_policy_decision& d = decisions[i];
      if (tombstone) {
        d = remove();
      } else if (durable(in.tiers[i])) {
        d = write(l2_ttl);
      } else if (kMode == VolatileWrite::Skip) {
        d = skip();
      } else if (kMode == VolatileWrite::Delete || !admitted) {
        // DELETE rather than SKIP: an older value must not linger in L1 after this write.
        d = remove();
      } else {
        d = write(jittered(l1_ttl));
      }
    }
  }

 private:
  // Only positive TTLs are spread: 0 (tier default) and < 0 (no expiry) pass unchanged.
  int64_t jittered(int64_t ttl_ms) {
    if (ttl_ms <= 0 || jitter_ == 0.0) return ttl_ms;
    const double factor = 1.0 - jitter_ + 2.0 * jitter_ * rng_.next_unit();
    const auto out = static_cast<int64_t>(std::llround(static_cast<double>(ttl_ms) * factor));
    return out < 1 ? 1 : out;  // never turn a real TTL into "tier default"
  }

  const int64_t l1_ttl_ms_;
  const int64_t l2_ttl_ms_;
  const double jitter_;
  const int64_t l1_max_value_;
  JitterSource rng_;
};

}  // namespace

STRATA_MODULE(WritePolicy, STRATA_POLICY_NAME, "1.0.0", kDescription, kOptions)

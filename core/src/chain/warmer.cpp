#include "chain/warmer.hpp"

#include <strata/scan_page.hpp>

#include <chrono>
#include <thread>

#include "chain/tier_chain.hpp"

namespace strata {
namespace {

// Failures that say the tier is unusable for now, not that this op is wrong.
bool retryable(strata_status s) {
  return s == STRATA_ERR_UNAVAILABLE || s == STRATA_ERR_INTERNAL || s == STRATA_ERR_BREAKER_OPEN;
}

// Waits `ms` in 50 ms slices, so a SIGINT ends the warm at once; false when `stop` was raised.
bool wait_unless_stopped(int64_t ms, const std::atomic<bool>& stop) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) {
    if (stop.load()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return !stop.load();
}

}  // namespace

Result<Warmer> Warmer::create(Tier* source, std::vector<Tier*> targets, WarmSettings s) {
  if (!source->durable()) return fail(source->name() + " is not a durable tier");
  if (!source->scannable())
    return fail(source->name() +
                " cannot be scanned (its module does not declare STRATA_TIER_SCANNABLE)");
  if (targets.empty()) return fail("no volatile tier to warm");
  for (Tier* t : targets)
    if (t->durable()) return fail(t->name() + " is durable; warm fills volatile tiers only");
  return Warmer(source, std::move(targets), std::move(s));
}

std::optional<uint64_t> Warmer::keys_left() const {
  if (finished_) return 0;
  if (!s_.prefix.empty() || keys_total_ == STRATA_SCAN_TOTAL_UNKNOWN) return std::nullopt;
  return keys_total_ > counts_.scanned ? keys_total_ - counts_.scanned : 0;
}

bool Warmer::scan_page(const std::atomic<bool>& stop, std::string* page) {
  int64_t backoff = s_.retry_backoff_ms;
  for (int attempt = 1;; ++attempt) {
    std::vector<strata_tier_op> ops{make_op(STRATA_TIER_SCAN, s_.prefix, cursor_, 0, s_.count)};
    std::vector<OpResult> results;
    source_->execute(ops, results);
    if (ops[0].status == STRATA_OK) {
      *page = std::move(results[0].value);
      return true;
    }
    error_ = describe_failure(*source_, ops[0]);
    if (!retryable(ops[0].status) || attempt >= s_.attempts) return false;
    if (!wait_unless_stopped(backoff, stop)) return false;
    backoff *= 2;
  }
}

bool Warmer::add_to(Tier* tier, std::vector<strata_tier_op> ops, const std::atomic<bool>& stop) {
  int64_t backoff = s_.retry_backoff_ms;
  for (int attempt = 1;; ++attempt) {
    std::vector<OpResult> results;
    tier->execute(ops, results);
    std::vector<strata_tier_op> again;  // failed for availability: worth another attempt
    for (const strata_tier_op& op : ops) {
      if (op.status == STRATA_OK) {
        ++counts_.added;
        tier->count_refill();
      } else if (op.status == STRATA_NOT_STORED) {
        ++counts_.present;  // also an ADD that timed out after it was stored, then retried
      } else if (op.status == STRATA_ERR_BAD_KEY || op.status == STRATA_ERR_TOO_LARGE) {
        ++counts_.skipped;
      } else if (retryable(op.status)) {
        again.push_back(op);
      } else {
        ++counts_.errors;
        error_ = describe_failure(*tier, op);
      }
    }
    if (again.empty()) return true;
    if (attempt >= s_.attempts || !wait_unless_stopped(backoff, stop)) {
      counts_.errors += again.size();
      error_ = describe_failure(*tier, again[0]);
      // Not one ADD of the last attempt got through: the tier is down, and going on would
      // only count the rest of the keys as errors.
      return again.size() < ops.size();
    }
    ops = std::move(again);
    backoff *= 2;
  }
}

bool Warmer::step(const std::atomic<bool>& stop) {
  if (finished_) return true;
  std::string bytes;
  if (!scan_page(stop, &bytes)) return false;
  ScanPage page;
  if (!parse_scan_page(bytes, &page)) {
    error_ = source_->name() + ": SCAN answered a malformed page";
    return false;
  }
  keys_total_ = page.keys_total;
  counts_.scanned += page.entries.size() + page.skipped;
  counts_.skipped += uint64_t(page.skipped) * targets_.size();
  std::vector<strata_tier_op> adds;
  adds.reserve(page.entries.size());
  for (const ScanEntry& e : page.entries) {
    int64_t ttl = refill_ttl(e.ttl_ms);
    if (ttl < 0) {  // expires within the margin: a copy could outlive it
      counts_.skipped += targets_.size();
      continue;
    }
    adds.push_back(make_op(STRATA_TIER_ADD, e.key, e.value, ttl, 0, e.flags));
  }
  for (Tier* tier : targets_)
    if (!adds.empty() && !add_to(tier, adds, stop)) return false;
  cursor_.assign(page.cursor);
  finished_ = cursor_.empty();
  return true;
}

}  // namespace strata

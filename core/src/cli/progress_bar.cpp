#include "cli/progress_bar.hpp"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "common/log.hpp"

namespace strata::cli {
namespace {

constexpr auto kDrawEvery = std::chrono::milliseconds(100);
constexpr auto kRateWindow = std::chrono::seconds(1);
constexpr int kBarWidth = 20;

bool is_terminal(FILE* f) {
  if (f == nullptr || ::isatty(::fileno(f)) != 1) return false;
  const char* term = std::getenv("TERM");
  return term == nullptr || std::strcmp(term, "dumb") != 0;
}

// 1234567 -> "1,234,567"
std::string grouped(uint64_t v) {
  std::string digits = std::to_string(v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// 48213.0 -> "48.2k"
std::string short_rate(double r) {
  char buf[32];
  if (r >= 1e6)
    std::snprintf(buf, sizeof buf, "%.1fM", r / 1e6);
  else if (r >= 1e3)
    std::snprintf(buf, sizeof buf, "%.1fk", r / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.0f", r);
  return buf;
}

std::string clock_text(uint64_t seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%llu:%02llu:%02llu", (unsigned long long)(seconds / 3600),
                (unsigned long long)(seconds / 60 % 60), (unsigned long long)(seconds % 60));
  return buf;
}

}  // namespace

ProgressBar::ProgressBar(Options o) : o_(std::move(o)) {
  terminal_ = o_.force_terminal ? *o_.force_terminal : is_terminal(o_.out);
  start_ = rate_at_ = last_log_ = Clock::now();
}

ProgressBar::~ProgressBar() {
  if (!finished_) finish();
}

std::string ProgressBar::render_line() const {
  std::string line = o_.job;
  if (!o_.subject.empty()) line += " " + o_.subject;
  line += "  " + grouped(done_) + " " + o_.unit + "  " + short_rate(rate_) + "/s";
  if (!left_) return line;
  line += "  left " + grouped(*left_);
  if (rate_ > 0) line += "  ETA " + clock_text(static_cast<uint64_t>(double(*left_) / rate_));
  uint64_t total = done_ + *left_;
  int pct = total == 0 ? 100 : static_cast<int>(100.0 * double(done_) / double(total));
  int filled = pct * kBarWidth / 100;
  line += "  [" + std::string(filled, '#') + std::string(kBarWidth - filled, '.') + "] " +
          std::to_string(pct) + "%";
  return line;
}

void ProgressBar::update(uint64_t done, std::optional<uint64_t> left) {
  Clock::time_point now = Clock::now();
  done_ = done;
  left_ = left;
  if (now - rate_at_ >= kRateWindow) {
    double secs = std::chrono::duration<double>(now - rate_at_).count();
    rate_ = done >= rate_done_ ? double(done - rate_done_) / secs : 0.0;
    rate_at_ = now;
    rate_done_ = done;
  } else if (rate_ == 0.0 && now > start_) {
    rate_ = double(done) / std::chrono::duration<double>(now - start_).count();
  }
  if (terminal_) {
    if (now - last_draw_ >= kDrawEvery) draw();
  } else if (o_.log_interval_ms > 0 &&
             now - last_log_ >= std::chrono::milliseconds(o_.log_interval_ms)) {
    log_line("progress", "");
  }
}

void ProgressBar::draw() {
  last_draw_ = Clock::now();
  // \r to the line's start, the text, then erase what a longer earlier line left behind.
  std::fprintf(o_.out, "\r%s\x1b[K", render_line().c_str());
  std::fflush(o_.out);
}

void ProgressBar::log_line(const char* kind, const std::string& tail) {
  last_log_ = Clock::now();
  std::string m = std::string(kind) + " job=" + o_.job;
  if (!o_.subject.empty()) m += " " + o_.subject;
  char rate[32];
  std::snprintf(rate, sizeof rate, "%.1f", rate_);
  m += " done=" + std::to_string(done_) + " rate=" + rate;
  if (left_) {
    m += " left=" + std::to_string(*left_);
    if (rate_ > 0) m += " eta_s=" + std::to_string(static_cast<uint64_t>(double(*left_) / rate_));
  }
  log::info(m + tail);
}

void ProgressBar::finish(const std::string& outcome) {
  if (finished_) return;
  finished_ = true;
  double secs = std::chrono::duration<double>(Clock::now() - start_).count();
  rate_ = secs > 0 ? double(done_) / secs : 0.0;  // the final line shows the mean rate
  if (terminal_) {
    draw();
    std::fprintf(o_.out, "  %s\n", outcome.c_str());
    std::fflush(o_.out);
    return;
  }
  // "done job=replay pipeline=p done=N rate=R left=0 elapsed_s=4.0": the outcome first, as
  // "progress" is on the periodic lines, so both parse the same way.
  char elapsed[32];
  std::snprintf(elapsed, sizeof elapsed, " elapsed_s=%.1f", secs);
  log_line(outcome.c_str(), elapsed);
}

}  // namespace strata::cli

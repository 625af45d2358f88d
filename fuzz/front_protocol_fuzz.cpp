// libFuzzer target: arbitrary bytes -> the memcached front's Parser (modules/memcached_front),
// fed in pieces whose sizes come from the input, then every request's reply encoded. Checks
// the parser's invariants: it never consumes more than it was given, a request it waits on
// stays waiting until more bytes come, and splitting the input never changes the requests.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "protocol.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

std::string describe(const mcfront::Request& r) {
  std::string s = std::to_string(static_cast<int>(r.cmd)) + "|" + r.reply + "|" + r.value + "|";
  for (const auto& k : r.keys) s += k + ",";
  s += std::to_string(r.flags) + "," + std::to_string(r.exptime) + "," + std::to_string(r.number);
  s += r.noreply ? "n" : "-";
  s += r.meta.ret + r.meta.opaque;
  std::string out;
  if (r.cmd >= mcfront::Cmd::MetaGet && !r.keys.empty()) {
    mcfront::MetaItem item{true, r.value, r.flags, r.number, r.exptime};
    mcfront::append_meta(out, r.cmd, r.meta, "VA", item);
    mcfront::append_meta(out, r.cmd, r.meta, "EN", mcfront::MetaItem{});
  } else if (!r.keys.empty()) {
    mcfront::append_value(out, r.keys[0], r.flags, r.value, true, r.number);
  }
  return s + out;
}

// Parses `in` handing the parser growing prefixes of at most `step` new bytes at a time.
std::vector<std::string> run(const std::string& in, size_t step, mcfront::Limits limits) {
  mcfront::Parser p(limits);
  std::vector<std::string> got;
  std::string buf;
  size_t fed = 0;
  for (int guard = 0; guard < 1 << 20; ++guard) {
    mcfront::Request r;
    size_t n = p.next(buf.data(), buf.size(), r);
    check(n <= buf.size());
    if (n > 0) {
      buf.erase(0, n);
      if (r.cmd != mcfront::Cmd::None) got.push_back(describe(r));
      continue;
    }
    if (fed == in.size()) break;
    size_t take = in.size() - fed < step ? in.size() - fed : step;
    buf.append(in, fed, take);
    fed += take;
  }
  return got;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  size_t step = 1 + data[0] % 17;
  std::string in(reinterpret_cast<const char*>(data) + 1, size - 1);
  mcfront::Limits limits;
  limits.max_line = 64;  // small limits so the fuzzer reaches them
  limits.max_retrieval_line = 256;
  limits.max_value = 100;
  limits.max_key = 20;
  auto whole = run(in, in.size() + 1, limits);
  auto pieces = run(in, step, limits);
  // A line over the limit is refused as soon as the parser holds more than the limit without a
  // newline, so only inputs that never hit it must parse the same in pieces.
  bool too_long = false;
  for (const auto& s : whole) too_long |= s.find("line too long") != std::string::npos;
  for (const auto& s : pieces) too_long |= s.find("line too long") != std::string::npos;
  if (!too_long) check(whole == pieces);
  return 0;
}

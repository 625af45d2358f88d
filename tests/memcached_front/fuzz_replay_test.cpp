// The protocol fuzzer's check (fuzz/front_protocol_fuzz.cpp: whole and split input parse the
// same, nothing consumed beyond what was given) in the ordinary build, so every CI run does a
// short run of it: the seed corpus, then 20,000 inputs mutated from it by a fixed-seed PRNG.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::string> seeds() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(STRATA_FRONT_FUZZ_CORPUS)) {
    std::ifstream f(e.path(), std::ios::binary);
    out.emplace_back(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  return out;
}

void run(const std::string& s) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

}  // namespace

TEST(FrontProtocolFuzzReplay, SeedsAndMutationsKeepTheParserInvariants) {
  auto corpus = seeds();
  ASSERT_FALSE(corpus.empty());
  for (const auto& s : corpus) run(s);
  std::mt19937 rng(8);  // fixed: the same inputs every run
  const std::string tokens[] = {"get ", "gets ", "gat ", "set ", "cas ", "ms ", "mg ", "ma ",
                                "md ", "mn", " noreply", " q", " v", " k", "\r\n", "\n", " ",
                                "0", "99999999999999999999", "-1", "O", "T", "b", "=", "\x00"};
  for (int i = 0; i < 20000; ++i) {
    std::string s = corpus[rng() % corpus.size()];
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits && s.size() < 512; ++e) {
      size_t at = s.empty() ? 0 : rng() % s.size();
      switch (rng() % 4) {
        case 0: s.insert(at, tokens[rng() % std::size(tokens)]); break;
        case 1: if (!s.empty()) s.erase(at, 1 + rng() % 8); break;
        case 2: if (!s.empty()) s[at] = static_cast<char>(rng()); break;
        default: s.insert(at, std::string(rng() % 80, static_cast<char>('a' + rng() % 26)));
      }
    }
    run(s);
  }
  SUCCEED();  // the target aborts on a broken invariant
}

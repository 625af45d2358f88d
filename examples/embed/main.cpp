// Embedding strata in an application: open a pipeline's tier chain from a strata config and
// read through it. Reads hit memcached first; a miss goes to Redis (one request per key in
// flight) and refills memcached with `add`, so the next read is an L1 hit.
//
//   strata_embed_example CONFIG KEY [VALUE]
//     with VALUE: writes KEY (Redis first, then memcached), then reads it back twice.
#include <strata/cache.hpp>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s CONFIG KEY [VALUE]\n", argv[0]);
    return 2;
  }
  std::string error;
  auto cache = strata::Cache::open(argv[1], /*pipeline=*/"", &error);
  if (!cache) {
    std::fprintf(stderr, "%s", error.c_str());
    return 1;
  }
  if (argc > 3 && !cache->set(argv[2], argv[3], /*ttl_ms=*/0, &error)) {
    std::fprintf(stderr, "set failed: %s\n", error.c_str());
    return 1;
  }
  for (int i = 0; i < 2; ++i) {
    strata::Cache::Value v = cache->get(argv[2]);
    if (!v.error.empty()) {
      std::fprintf(stderr, "get failed: %s\n", v.error.c_str());
      return 1;
    }
    if (!v.found) {
      std::printf("%s: not found\n", argv[2]);
      return 1;
    }
    std::printf("%s = %s (from %s%s)\n", argv[2], v.value.c_str(), v.tier.c_str(),
                v.stale ? ", stale" : "");
  }
  return 0;
}

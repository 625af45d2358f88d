// strata::Cache: the embeddable read/write API over a pipeline's tier chain (L1 then L2 with
// refill, writes durable tier first), for C++ applications: link strata::embed from the
// installed CMake package (libstrata_embed.so). Modules never include this header;
// applications do (see examples/embed/).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace strata {

// Exported from libstrata_embed.so (built with hidden visibility).
class __attribute__((visibility("default"))) Cache {
 public:
  struct Value {
    bool found = false;
    std::string value;
    std::string tier;    // the tier instance that answered ("tiers.l1"), "" on a miss
    bool stale = false;  // answered from L1 while the durable tier was unavailable
    std::string error;   // set when the lookup failed (not on a plain miss)
  };

  // Loads the modules of `config_path`, builds the tier chain of `pipeline` ("" = the only
  // pipeline) and connects. Returns nullptr and fills `error` (all config errors, with
  // FILE:LINE:COL) on failure. Sources are not started: no Kafka is consumed.
  static std::unique_ptr<Cache> open(const std::string& config_path, const std::string& pipeline,
                                     std::string* error);
  ~Cache();

  // Thread-safe.
  Value get(std::string_view key);
  // ttl_ms 0 = each tier's default. Returns false with `error` when the durable tier failed.
  bool set(std::string_view key, std::string_view value, int64_t ttl_ms = 0,
           std::string* error = nullptr);
  bool del(std::string_view key, std::string* error = nullptr);

 private:
  Cache();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata

#include <strata/cache.hpp>

#include "runtime/runtime.hpp"

namespace strata {

struct Cache::Impl {
  std::unique_ptr<Runtime> runtime;
  TierChain* chain = nullptr;
};

Cache::Cache() : impl_(std::make_unique<Impl>()) {}
Cache::~Cache() = default;

std::unique_ptr<Cache> Cache::open(const std::string& config_path, const std::string& pipeline,
                                   std::string* error) {
  Diagnostics diags;
  auto rt = Runtime::load(config_path, Runtime::Mode::Cache, diags);
  if (!rt) {
    if (error) *error = diags.str();
    return nullptr;
  }
  if (auto r = rt->start(); !r) {
    if (error) *error = r.error();
    return nullptr;
  }
  auto chain = rt->chain(pipeline);
  if (!chain) {
    if (error) *error = chain.error();
    return nullptr;
  }
  std::unique_ptr<Cache> c(new Cache());
  c->impl_->chain = chain.value();
  c->impl_->runtime = std::move(rt);
  return c;
}

Cache::Value Cache::get(std::string_view key) {
  GetResult g = impl_->chain->get(key);
  Value v;
  v.found = g.status == STRATA_OK;
  v.value = std::move(g.value);
  v.tier = std::move(g.tier);
  v.stale = g.stale;
  if (g.status != STRATA_OK && g.status != STRATA_NOT_FOUND) v.error = std::move(g.error);
  return v;
}

bool Cache::set(std::string_view key, std::string_view value, int64_t ttl_ms, std::string* error) {
  auto r = impl_->chain->set(key, value, ttl_ms);
  if (!r && error) *error = r.error();
  return r.ok();
}

bool Cache::del(std::string_view key, std::string* error) {
  auto r = impl_->chain->del(key);
  if (!r && error) *error = r.error();
  return r.ok();
}

}  // namespace strata

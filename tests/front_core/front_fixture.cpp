#include "front_fixture.hpp"

namespace strata::front_test {

void FrontFixture::SetUp() {
  ASSERT_TRUE(memcached_.start());
  ASSERT_TRUE(redis_.start());
  dir_ = test::make_temp_dir("strata-front-core");
}

void FrontFixture::TearDown() {
  rt_.reset();
  if (ctl_.pending_free)
    for (void* p : pendings_) ctl_.pending_free(p);
  pendings_.clear();
  if (keep_loaded_) ::dlclose(keep_loaded_);
  test::remove_tree(dir_);
}

std::string FrontFixture::config(const std::string& front, const std::string& extra) const {
  return "[tiers.l1]\nmodule = \"memcached_l1\"\nservers = [\"" + memcached_.address() +
         "\"]\n\n[tiers.l2]\nmodule = \"redis_l2\"\naddress = \"" + redis_.address() +
         "\"\n\n[fronts.t]\nmodule = \"test_front\"\n" + front + "\n" + extra;
}

::testing::AssertionResult FrontFixture::start_runtime(const std::string& toml) {
  const std::string path = dir_ + "/strata.toml";
  test::write_file(path, toml);
  Diagnostics diags;
  rt_ = Runtime::load(path, Runtime::Mode::Run, diags, STRATA_TEST_FRONT_DIR);
  if (!rt_) return ::testing::AssertionFailure() << diags.str();
  if (auto r = rt_->start(); !r) return ::testing::AssertionFailure() << r.error();
  ModuleInstance* front = rt_->front("fronts.t");
  if (!front) return ::testing::AssertionFailure() << "no fronts.t";
  if (!keep_loaded_) {
    keep_loaded_ = ::dlopen(front->module().path.c_str(), RTLD_NOW | RTLD_NOLOAD);
    ctl_.load(front->module().handle);
  }
  return ::testing::AssertionSuccess();
}

std::unique_ptr<Call> FrontFixture::call(strata_chain_op_kind kind, const std::string& key,
                                         const std::string& value, int64_t ttl_ms,
                                         uint32_t flags, uint64_t cas) {
  auto c = std::make_unique<Call>();
  c->key = key;
  c->value = value;
  c->op = strata::chain_op(kind, c->key, c->value, ttl_ms, flags, cas);
  c->releaser = ctl_.release;
  c->front = front_inst();
  void* p = ctl_.pending_new();
  pendings_.push_back(p);
  int rc = ctl_.submit(front_inst(), &c->op, 1, p);
  EXPECT_EQ(rc, STRATA_OK) << "submit of " << key;
  if (rc == STRATA_OK) {
    EXPECT_EQ(ctl_.wait(p, 30000), 1) << "no done for " << key;
  }
  return c;
}

Counts FrontFixture::counts() const {
  long c[5] = {0, 0, 0, 0, 0};
  ctl_.counts(c);
  return Counts{c[0], c[1], c[2], c[3], c[4]};
}

long redis_calls(const test::ServerProcess& redis, const std::string& command) {
  std::string info = redis.redis_cli("INFO commandstats");
  std::string tag = "cmdstat_" + command + ":calls=";
  size_t at = info.find(tag);
  if (at == std::string::npos) return 0;
  return std::stol(info.substr(at + tag.size()));
}

}  // namespace strata::front_test

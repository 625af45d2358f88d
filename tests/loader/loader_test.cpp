// Tests for the module loader: one fake module per refusal (exact sentences), the lifecycle
// of a good module, the search path, discover(), and the host function table.
#include "loader/loader.hpp"

#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <toml++/toml.h>

#include <array>
#include <filesystem>
#include <string>

#include "chain/tier.hpp"
#include "config/config.hpp"
#include "metrics/metrics.hpp"

namespace strata {
namespace {

namespace fs = std::filesystem;

const std::string kFakes = FAKE_MODULES_DIR;

std::string fake(const std::string& name) { return kFakes + "/" + name + ".so"; }

// The lifecycle counters of one loaded fake: create, start, stop, destroy, last drain flag.
std::array<int, 5> counts(const LoadedModule* m) {
  using Fn = void (*)(int*);
  auto fn = reinterpret_cast<Fn>(::dlsym(m->handle, "fake_counts"));
  std::array<int, 5> c{-1, -1, -1, -1, -1};
  if (fn) fn(c.data());
  return c;
}

// A fresh folder under the temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "strata-loader-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string put(const std::string& src, const std::string& as) const {
    fs::copy_file(src, path_ + "/" + as, fs::copy_options::overwrite_existing);
    return path_ + "/" + as;
  }

 private:
  std::string path_;
};

// ---- refusals: one exact sentence each -------------------------------------------------------

TEST(LoaderRefuses, NotALoadableObject) {
  ModuleLoader loader({kFakes});
  auto r = loader.load(fake("not_elf"));
  ASSERT_FALSE(r.ok());
  std::string prefix = "module file \"" + fake("not_elf") + "\" is not a loadable object: ";
  EXPECT_EQ(r.error().rfind(prefix, 0), 0u) << r.error();
  EXPECT_GT(r.error().size(), prefix.size()) << "dlerror() text is missing";
  // Found by name, the same sentence.
  auto by_name = loader.load("not_elf");
  ASSERT_FALSE(by_name.ok());
  EXPECT_EQ(by_name.error().rfind(prefix, 0), 0u) << by_name.error();
}

TEST(LoaderRefuses, NoEntrySymbol) {
  ModuleLoader loader({kFakes});
  auto r = loader.load("no_entry");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(),
            "module file \"" + fake("no_entry") + "\" has no entry symbol \"strata_module_entry\"");
}

TEST(LoaderRefuses, OtherAbiMajor) {
  ModuleLoader loader({kFakes});
  auto r = loader.load("abi_major");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(),
            "module \"abi_major\" ABI version 2.0 is not binary compatible with host "
            "ABI 1." +
                std::to_string(STRATA_ABI_MINOR));
}

TEST(LoaderRefuses, NewerAbiMinor) {
  ModuleLoader loader({kFakes});
  auto r = loader.load("abi_minor");
  ASSERT_FALSE(r.ok());
  const std::string host_minor = std::to_string(STRATA_ABI_MINOR);
  EXPECT_EQ(r.error(), "module \"abi_minor\" needs ABI 1." + std::to_string(STRATA_ABI_MINOR + 3) +
                           ", newer than host ABI 1." + host_minor);
}

// A module built against ABI 1.0 (before strata_tier_op.result_ttl_ms) still loads.
TEST(LoaderAccepts, OlderAbiMinor) {
  ModuleLoader loader({kFakes});
  auto r = loader.load("abi_older_minor");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r.value()->desc->abi_minor, 0u);
}

// Issue 12: a build feature that makes a module binary incompatible (a sanitizer, another C++
// standard library) is refused with one sentence naming both build signatures. The fake forces
// "tsan,libc++" with a define; this test is built like the host, so STRATA_BUILD_SIGNATURE here
// is the host's.
TEST(LoaderRefuses, OtherBuildSignature_Issue12) {
  ModuleLoader loader({kFakes});
  auto r = loader.load("other_signature");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(),
            "module \"other_signature\" build signature \"tsan,libc++\" is not binary compatible "
            "with host build signature \"" + std::string(STRATA_BUILD_SIGNATURE) + "\"");
  EXPECT_STREQ(host_build_signature(), STRATA_BUILD_SIGNATURE);
}

// A module stamps the signature of its own build; a C module (no C++ library field) fits a host
// with the same sanitizer field.
TEST(LoaderAccepts, ModulesStampTheirBuildSignature_Issue12) {
  ModuleLoader loader({kFakes});
  auto r = loader.load("good");
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_NE(r.value()->desc->build_signature, nullptr);
  const std::string c_sig = r.value()->desc->build_signature;
  EXPECT_EQ(c_sig.find(','), std::string::npos) << c_sig;
  EXPECT_EQ(std::string(STRATA_BUILD_SIGNATURE).rfind(c_sig + ",", 0), 0u);
}

// A 1.2 module built before the signature (descriptor ends at `reserved`) keeps loading.
TEST(LoaderAccepts, DescriptorWithoutBuildSignature_Issue12) {
  ModuleLoader loader({kFakes});
  auto r = loader.load("unsigned_descriptor");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r.value()->desc->struct_size, offsetof(strata_module_descriptor, build_signature));
}

TEST(LoaderRefuses, DuplicateModuleName) {
  ModuleLoader loader({kFakes});
  auto a = loader.load(fake("dup_a"));
  ASSERT_TRUE(a.ok()) << a.error();
  EXPECT_STREQ(a.value()->name(), "dup");
  auto b = loader.load(fake("dup_b"));
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error(), "module \"dup\" is already loaded from \"" + fake("dup_a") + "\"");
}

TEST(LoaderRefuses, NullDescriptor) {
  ModuleLoader loader({kFakes});
  auto r = loader.load("null_descriptor");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "module file \"" + fake("null_descriptor") +
                           "\" has an invalid descriptor: strata_module_entry() returned NULL");
}

TEST(LoaderRefuses, NullKindHooks) {
  ModuleLoader loader({kFakes});
  auto r = loader.load("null_hooks");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "module file \"" + fake("null_hooks") +
                           "\" has an invalid descriptor: kind_hooks is NULL");
}

TEST(LoaderRefuses, HooksStructTooSmall) {
  ModuleLoader loader({kFakes});
  auto r = loader.load("small_hooks");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "module file \"" + fake("small_hooks") +
                           "\" has an invalid descriptor: tier hooks struct_size is 8, expected "
                           "at least " +
                           std::to_string(sizeof(strata_tier_hooks)));
}

TEST(LoaderRefuses, FileThatDeclaresAnotherName) {
  ModuleLoader loader({kFakes});
  auto r = loader.load("misnamed");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(),
            "module file \"" + fake("misnamed") + "\" declares module \"other\", not \"misnamed\"");
  // By path the declared name is what counts.
  auto by_path = loader.load(fake("misnamed"));
  ASSERT_TRUE(by_path.ok()) << by_path.error();
  EXPECT_STREQ(by_path.value()->name(), "other");
}

TEST(LoaderRefuses, CreateFailureCarriesTheModulesMessage) {
  ModuleLoader loader({kFakes});
  auto m = loader.load("create_fails");
  ASSERT_TRUE(m.ok()) << m.error();
  auto before = counts(m.value());
  {
    auto inst = ModuleInstance::create(*m.value(), "tiers.l1", "latest", ResolvedOptions());
    ASSERT_FALSE(inst.ok());
    EXPECT_EQ(inst.error(),
              "module \"create_fails\" create failed for tiers.l1: servers: cannot "
              "parse \"host:port:x\"");
  }
  auto after = counts(m.value());
  EXPECT_EQ(after[0], before[0] + 1);  // create was called
  EXPECT_EQ(after[3], before[3]);      // destroy never follows a failed create
}

TEST(LoaderRefuses, StartFailureCarriesTheModulesMessageAndStillDestroys) {
  ModuleLoader loader({kFakes});
  auto m = loader.load("start_fails");
  ASSERT_TRUE(m.ok()) << m.error();
  auto before = counts(m.value());
  {
    auto inst = ModuleInstance::create(*m.value(), "tiers.l2", "", ResolvedOptions());
    ASSERT_TRUE(inst.ok()) << inst.error();
    auto started = inst.value()->start();
    ASSERT_FALSE(started.ok());
    EXPECT_EQ(started.error(),
              "module \"start_fails\" start failed for tiers.l2: connect "
              "127.0.0.1:1: Connection refused");
  }
  auto after = counts(m.value());
  EXPECT_EQ(after[1], before[1] + 1);  // start
  EXPECT_EQ(after[2], before[2]);      // no stop after a failed start
  EXPECT_EQ(after[3], before[3] + 1);  // but destroy
}

// ---- the module that fits --------------------------------------------------------------------

TEST(Loader, GoodModuleLifecycle) {
  ModuleLoader loader({kFakes});
  auto m = loader.load("good");
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_STREQ(m.value()->name(), "good");
  EXPECT_EQ(m.value()->path, fake("good"));
  auto before = counts(m.value());
  {
    auto inst = ModuleInstance::create(*m.value(), "tiers.good", "latest", ResolvedOptions());
    ASSERT_TRUE(inst.ok()) << inst.error();
    ModuleInstance& i = *inst.value();
    EXPECT_EQ(i.name(), "tiers.good");
    EXPECT_EQ(i.ctx()->pipeline, "latest");
    ASSERT_NE(i.tier(), nullptr);
    EXPECT_EQ(i.source(), nullptr);
    EXPECT_EQ(i.policy(), nullptr);
    EXPECT_EQ(i.tier()->tier_flags, static_cast<uint32_t>(STRATA_TIER_DURABLE));
    ASSERT_TRUE(i.start().ok());
    EXPECT_EQ(counts(m.value())[1], before[1] + 1);

    // A GET through the tier hook lands in host storage via op_set_value().
    OpResult result;
    strata_tier_op op{};
    op.struct_size = sizeof op;
    op.kind = STRATA_TIER_GET;
    op.key = {"k1", 2};
    op.host_result = &result;
    strata_error err{};
    ASSERT_EQ(i.tier()->execute(i.handle(), &op, 1, &err), STRATA_OK);
    EXPECT_EQ(op.status, STRATA_OK);
    EXPECT_TRUE(result.has_value);
    EXPECT_EQ(result.value, "value-of:k1");
  }  // destructor: stop(drain=1), then destroy
  auto after = counts(m.value());
  EXPECT_EQ(after[0], before[0] + 1);
  EXPECT_EQ(after[2], before[2] + 1);
  EXPECT_EQ(after[4], 1);  // drained
  EXPECT_EQ(after[3], before[3] + 1);
}

// Issue 12: a tier whose execute() answers nothing. The host used to preset every op to
// STRATA_OK, so a GET came back a hit with an empty value; an unanswered op must be an error
// naming the module (checked failing before the fix: status 0, has_value false).
TEST(Tier, OpTheModuleDidNotAnswerIsAnErrorNamingIt_Issue12) {
  ModuleLoader loader({kFakes});
  auto m = loader.load("empty_execute");
  ASSERT_TRUE(m.ok()) << m.error();
  auto inst = ModuleInstance::create(*m.value(), "tiers.l1", "", ResolvedOptions());
  ASSERT_TRUE(inst.ok()) << inst.error();
  Tier tier(*inst.value(), BreakerSettings{});
  std::vector<strata_tier_op> ops{make_op(STRATA_TIER_GET, "k"), make_op(STRATA_TIER_SET, "k", "v")};
  std::vector<OpResult> results;
  EXPECT_TRUE(tier.execute(ops, results));
  EXPECT_EQ(ops[0].status, STRATA_ERR_INTERNAL);
  EXPECT_STREQ(ops[0].error,
               "tiers.l1: module \"empty_execute\" did not answer this GET (execute left its "
               "status unset)");
  EXPECT_FALSE(results[0].has_value);
  EXPECT_EQ(ops[1].status, STRATA_ERR_INTERNAL);
  EXPECT_STREQ(ops[1].error,
               "tiers.l1: module \"empty_execute\" did not answer this SET (execute left its "
               "status unset)");
}

TEST(LoaderAccepts, FrontKind) {
  ModuleLoader loader({kFakes});
  auto m = loader.load("front");
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_EQ(m.value()->desc->kind, STRATA_KIND_FRONT);
  EXPECT_STREQ(kind_name(m.value()->desc->kind), "front");
  auto inst = ModuleInstance::create(*m.value(), "fronts.mc", "", ResolvedOptions());
  ASSERT_TRUE(inst.ok()) << inst.error();
  EXPECT_NE(inst.value()->front(), nullptr);
  EXPECT_EQ(inst.value()->tier(), nullptr);
  EXPECT_EQ(inst.value()->front()->struct_size, sizeof(strata_front_hooks));
}

TEST(LoaderRefuses, FrontHooksStructTooSmall) {
  ModuleLoader loader({kFakes});
  auto r = loader.load("front_small_hooks");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "module file \"" + fake("front_small_hooks") +
                           "\" has an invalid descriptor: front hooks struct_size is 4, expected "
                           "at least " +
                           std::to_string(sizeof(strata_front_hooks)));
}

TEST(LoaderRefuses, FrontBeforeAbi12) {
  ModuleLoader loader({kFakes});
  auto r = loader.load("front_old_abi");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "module file \"" + fake("front_old_abi") +
                           "\" has an invalid descriptor: kind 4 (front) needs ABI 1.2, the "
                           "module declares 1.1");
}

TEST(Loader, ExplicitStopIsNotRepeatedByTheDestructor) {
  ModuleLoader loader({kFakes});
  auto m = loader.load("good");
  ASSERT_TRUE(m.ok()) << m.error();
  auto before = counts(m.value());
  {
    auto inst = ModuleInstance::create(*m.value(), "tiers.good", "", ResolvedOptions());
    ASSERT_TRUE(inst.ok()) << inst.error();
    ASSERT_TRUE(inst.value()->start().ok());
    inst.value()->stop(false);
    EXPECT_EQ(counts(m.value())[4], 0);
  }
  auto after = counts(m.value());
  EXPECT_EQ(after[2], before[2] + 1);
  EXPECT_EQ(after[3], before[3] + 1);
}

TEST(Loader, OptionCountMismatchIsRefusedBeforeCreate) {
  ModuleLoader loader({kFakes});
  auto m = loader.load("good");
  ASSERT_TRUE(m.ok()) << m.error();
  // The good module declares no options; resolve one value against another schema.
  static const strata_option_def schema[] = {
      {sizeof(strata_option_def), "x", STRATA_OPT_INT, "1", 0, 0, 0, nullptr, "x"}};
  toml::table empty;
  Diagnostics diags;
  auto opts = validate_table(empty, "t.toml", "tiers.good", schema, 1, {}, diags);
  ASSERT_TRUE(opts.has_value()) << diags.str();
  ASSERT_EQ(opts->size(), 1u);
  auto before = counts(m.value());
  auto inst = ModuleInstance::create(*m.value(), "tiers.good", "", std::move(*opts));
  ASSERT_FALSE(inst.ok());
  EXPECT_EQ(inst.error(),
            "module \"good\" create failed for tiers.good: the host resolved 1 "
            "option values, the module declares 0");
  EXPECT_EQ(counts(m.value())[0], before[0]);  // create() never ran
}

TEST(Loader, SameNameTwiceIsTheSameModule) {
  ModuleLoader loader({kFakes});
  auto a = loader.load("good");
  auto b = loader.load("good");
  auto c = loader.load(fake("good"));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a.value(), b.value());
  EXPECT_EQ(a.value(), c.value());
}

TEST(Loader, RelativePathIsNotLookedUpInTheSystemPath) {
  TempDir dir;
  dir.put(fake("good"), "good.so");
  std::string cwd = fs::current_path().string();
  ASSERT_EQ(::chdir(dir.path().c_str()), 0);
  ModuleLoader loader({});
  auto r = loader.load("good.so");
  ASSERT_EQ(::chdir(cwd.c_str()), 0);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_STREQ(r.value()->name(), "good");
}

// ---- search path -----------------------------------------------------------------------------

TEST(LoaderSearch, NotFoundListsEveryFolder) {
  ModuleLoader loader({"/nonexistent/a", kFakes, "/nonexistent/b"});
  auto r = loader.load("nope");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(),
            "module \"nope\" not found in: /nonexistent/a, " + kFakes + ", /nonexistent/b");
}

TEST(LoaderSearch, FirstFolderWins) {
  TempDir empty, first, second;
  std::string in_first = first.put(fake("good"), "good.so");
  second.put(fake("good"), "good.so");
  ModuleLoader loader({empty.path(), first.path(), second.path()});
  auto r = loader.load("good");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r.value()->path, in_first);
}

TEST(LoaderSearch, DefaultSearchPathOrder) {
  ::setenv("STRATA_MODULES_PATH", "/env/one::/env/two:/cfg/mods:", 1);
  auto p = ModuleLoader::default_search_path("/cfg/mods");
  std::vector<std::string> want = {"/cfg/mods", "/env/one", "/env/two", STRATA_BUILD_MODULES_DIR,
                                   STRATA_INSTALL_MODULES_DIR};
  EXPECT_EQ(p, want);  // empty entries skipped, duplicates kept once (first position)

  ::unsetenv("STRATA_MODULES_PATH");
  p = ModuleLoader::default_search_path("");
  want = {STRATA_BUILD_MODULES_DIR, STRATA_INSTALL_MODULES_DIR};
  EXPECT_EQ(p, want);
}

TEST(LoaderSearch, DiscoverListsLoadableModulesAndReportsTheRest) {
  TempDir first, second;
  first.put(fake("good"), "good.so");
  first.put(fake("abi_major"), "abi_major.so");
  first.put(kFakes + "/not_elf.so", "not_elf.so");
  second.put(fake("good"), "good.so");  // shadowed by the first folder's
  second.put(fake("dup_a"), "dup_a.so");
  ModuleLoader loader({first.path(), "/nonexistent", second.path()});
  std::vector<std::string> errors;
  auto found = loader.discover(&errors);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_STREQ(found[0]->name(), "good");
  EXPECT_EQ(found[0]->path, first.path() + "/good.so");
  EXPECT_STREQ(found[1]->name(), "dup");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0],
            "module \"abi_major\" ABI version 2.0 is not binary compatible with host "
            "ABI 1." +
                std::to_string(STRATA_ABI_MINOR));
  EXPECT_EQ(errors[1].rfind("module file \"" + first.path() +
                                "/not_elf.so\" is not a loadable "
                                "object: ",
                            0),
            0u)
      << errors[1];
}

// ---- host function table ---------------------------------------------------------------------

TEST(HostApi, TableIsComplete) {
  const strata_host_api* h = host_api();
  EXPECT_EQ(h->struct_size, sizeof(strata_host_api));
  EXPECT_EQ(h->abi_major, static_cast<uint32_t>(STRATA_ABI_MAJOR));
  EXPECT_EQ(h->abi_minor, static_cast<uint32_t>(STRATA_ABI_MINOR));
  EXPECT_TRUE(h->log && h->metric && h->metric_add && h->metric_set && h->metric_observe &&
              h->now_unix_ms && h->monotonic_ns && h->op_set_value && h->instance_name);
  EXPECT_GT(h->now_unix_ms(), 1600000000000);  // after 2020
  uint64_t a = h->monotonic_ns();
  EXPECT_GE(h->monotonic_ns(), a);
}

TEST(HostApi, MetricAddsTheInstanceLabel) {
  strata_instance_ctx ctx{"tiers.l1", "latest", {}};
  const strata_host_api* h = host_api();
  strata_metric* m =
      h->metric(&ctx, STRATA_METRIC_COUNTER, "strata_hostapi_test_total", "Test.", "op=\"get\"");
  ASSERT_NE(m, nullptr);
  h->metric_add(m, 2);
  EXPECT_EQ(
      h->metric(&ctx, STRATA_METRIC_COUNTER, "strata_hostapi_test_total", "Test.", "op=\"get\""),
      m);
  Series* s = MetricsRegistry::global().find("strata_hostapi_test_total",
                                             "module_instance=\"tiers.l1\",op=\"get\"");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(reinterpret_cast<strata_metric*>(s), m);
  EXPECT_DOUBLE_EQ(s->value(), 2);

  strata_metric* g = h->metric(&ctx, STRATA_METRIC_GAUGE, "strata_hostapi_gauge", "G.", nullptr);
  h->metric_set(g, 4);
  ASSERT_NE(MetricsRegistry::global().find("strata_hostapi_gauge", "module_instance=\"tiers.l1\""),
            nullptr);
  strata_metric* hist =
      h->metric(&ctx, STRATA_METRIC_HISTOGRAM, "strata_hostapi_seconds", "H.", nullptr);
  h->metric_observe(hist, 0.01);
  EXPECT_EQ(reinterpret_cast<Series*>(hist)->count(), 1u);
}

TEST(HostApi, MetricTypeConflictGivesANullHandleThatIgnoresUpdates) {
  strata_instance_ctx ctx{"tiers.l1", "", {}};
  const strata_host_api* h = host_api();
  ASSERT_NE(h->metric(&ctx, STRATA_METRIC_COUNTER, "strata_hostapi_conflict", "C.", nullptr),
            nullptr);
  strata_metric* g = h->metric(&ctx, STRATA_METRIC_GAUGE, "strata_hostapi_conflict", "C.", nullptr);
  EXPECT_EQ(g, nullptr);
  h->metric_add(g, 1);  // must not crash
  h->metric_set(g, 1);
  h->metric_observe(g, 1);
}

TEST(HostApi, GoodModuleMetricCarriesItsInstance) {
  ModuleLoader loader({kFakes});
  auto m = loader.load("good");
  ASSERT_TRUE(m.ok()) << m.error();
  auto inst = ModuleInstance::create(*m.value(), "tiers.metered", "", ResolvedOptions());
  ASSERT_TRUE(inst.ok()) << inst.error();
  Series* s = MetricsRegistry::global().find("strata_fake_created_total",
                                             "module_instance=\"tiers.metered\",kind=\"fake\"");
  ASSERT_NE(s, nullptr);
  EXPECT_DOUBLE_EQ(s->value(), 1);
}

TEST(HostApi, LogLineCarriesInstanceAndPipeline) {
  strata_instance_ctx ctx{"tiers.l2", "latest", {}};
  testing::internal::CaptureStderr();
  host_api()->log(&ctx, STRATA_LOG_WARN, "redis is slow");
  std::string out = testing::internal::GetCapturedStderr();
  EXPECT_NE(out.find(" WARN  [tiers.l2 pipeline=latest] redis is slow\n"), std::string::npos)
      << out;
}

TEST(HostApi, OpSetValueIgnoresAnOpWithoutHostStorage) {
  strata_tier_op op{};
  host_api()->op_set_value(&op, "x", 1);  // host_result NULL: ignored
  OpResult r;
  op.host_result = &r;
  host_api()->op_set_value(&op, "abc", 3);
  EXPECT_TRUE(r.has_value);
  EXPECT_EQ(r.value, "abc");
  strata_instance_ctx ctx{"tiers.l1", "", {}};
  EXPECT_STREQ(host_api()->instance_name(&ctx), "tiers.l1");
}

}  // namespace
}  // namespace strata

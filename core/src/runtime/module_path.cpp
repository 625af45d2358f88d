// Runtime::module_search_path: which folders every command searches for modules. The build
// tree's modules folder is compiled into the loader's default path; only a binary that runs
// from inside that build tree (build/bin/strata, the tests) may search it, so an installed
// strata never loads whatever a build folder on the machine happens to hold.
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "loader/loader.hpp"
#include "runtime/runtime.hpp"

namespace strata {
namespace {

std::string real_path(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) ? std::string(buf) : path;
}

// The folder of the running executable ("" when /proc/self/exe cannot be read).
std::string exe_dir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string exe(buf, static_cast<size_t>(n));
  size_t slash = exe.rfind('/');
  return slash == std::string::npos ? "" : exe.substr(0, slash);
}

// The modules folder of the prefix a shared library holding this code was installed into
// (PREFIX/lib/libstrata_embed.so -> PREFIX/lib/strata/modules): an application that embeds
// strata (strata::embed) finds the modules of the strata it links, wherever that was installed.
// "" when this code is in the executable itself (the strata binary: exe_dir() covers it).
std::string library_modules_dir(const std::string& exe_dir) {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&library_modules_dir), &info) == 0 || !info.dli_fname)
    return "";
  std::string lib = real_path(info.dli_fname);
  size_t slash = lib.rfind('/');
  if (slash == std::string::npos || lib.substr(0, slash) == real_path(exe_dir)) return "";
  return lib.substr(0, slash) + "/strata/modules";
}

bool is_under(const std::string& path, const std::string& dir) {
  return !dir.empty() && (path == dir || path.rfind(dir + "/", 0) == 0);
}

// True when $STRATA_MODULES_PATH names `dir` itself: then it is the user's choice, kept.
bool env_names(const std::string& dir) {
  const char* env = std::getenv("STRATA_MODULES_PATH");
  if (!env) return false;
  std::string list = env;
  for (size_t start = 0; start <= list.size();) {
    size_t colon = std::min(list.find(':', start), list.size());
    if (list.compare(start, colon - start, dir) == 0 && colon - start == dir.size()) return true;
    start = colon + 1;
  }
  return false;
}

}  // namespace

std::vector<std::string> Runtime::module_search_path(const std::string& first_dir,
                                                     const std::string& config_modules_dir) {
  const std::string exe = exe_dir();
  const bool uninstalled = !exe.empty() && is_under(exe, real_path(STRATA_BUILD_DIR));
  std::vector<std::string> path;
  auto add = [&path](const std::string& dir) {
    if (!dir.empty() && std::find(path.begin(), path.end(), dir) == path.end()) path.push_back(dir);
  };
  add(first_dir);
  for (const std::string& dir : ModuleLoader::default_search_path(config_modules_dir)) {
    if (dir == STRATA_BUILD_MODULES_DIR && !uninstalled && !env_names(dir)) continue;
    // This prefix's first: the embedding library's, then the binary's.
    if (dir == STRATA_INSTALL_MODULES_DIR && !uninstalled && !exe.empty()) {
      add(library_modules_dir(exe));
      add((std::filesystem::path(exe) / STRATA_MODULES_DIR_FROM_BINDIR)
              .lexically_normal()
              .string());
    }
    add(dir);
  }
  return path;
}

}  // namespace strata

// Helpers of the memcached_l1 integration tests: memcached `stats` over a raw socket, one op
// with its result storage, and a tier instance loaded through the host's loader. Included by
// memcached_l1_test.cpp and rich_ops_test.cpp (each gets its own copy: anonymous namespace).
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <toml++/toml.h>
#include <map>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "loader/loader.hpp"
#include "servers.hpp"

namespace {

using strata::test::ServerProcess;

// One text-protocol request to memcached over a fresh raw socket; the reply up to and
// including its final "END\r\n" ("" when the server did not answer).
[[maybe_unused]] std::string raw_request(int port, const std::string& cmd) {
  int fd = strata::test::connect_loopback(port, 2000);
  if (fd < 0) return "";
  std::string buf;
  if (::write(fd, cmd.data(), cmd.size()) == ssize_t(cmd.size())) {
    char chunk[4096];
    while (buf.find("END\r\n") == std::string::npos) {
      ssize_t n = ::read(fd, chunk, sizeof chunk);
      if (n <= 0) break;
      buf.append(chunk, size_t(n));
    }
  }
  ::close(fd);
  return buf;
}

// memcached `stats` over a fresh raw socket (one connection per call).
[[maybe_unused]] std::map<std::string, long long> stats(int port) {
  std::map<std::string, long long> out;
  std::string buf = raw_request(port, "stats\r\n");
  size_t pos = 0;
  while ((pos = buf.find("STAT ", pos)) != std::string::npos) {
    size_t sp = buf.find(' ', pos + 5), eol = buf.find("\r\n", pos);
    if (sp == std::string::npos || eol == std::string::npos) break;
    try {
      out[buf.substr(pos + 5, sp - pos - 5)] = std::stoll(buf.substr(sp + 1, eol - sp - 1));
    } catch (...) {
    }
    pos = eol;
  }
  return out;
}

// One op plus the host-side storage of its result.
struct Op {
  strata_tier_op op{};
  strata::OpResult result;
  std::string key, value;
};

Op make(strata_tier_op_kind kind, std::string key, std::string value = "", int64_t ttl_ms = 0,
        uint32_t flags = 0) {
  Op o;
  o.key = std::move(key);
  o.value = std::move(value);
  o.op.struct_size = sizeof(strata_tier_op);
  o.op.kind = kind;
  o.op.ttl_ms = ttl_ms;
  o.op.flags = flags;
  return o;
}

class Tier {
 public:
  // `extra` is TOML for the instance section (besides servers).
  Tier(const std::vector<const ServerProcess*>& servers, const std::string& extra,
       std::string instance)
      : loader_(strata::ModuleLoader::default_search_path("")) {
    std::string toml = "servers = [";
    for (size_t i = 0; i < servers.size(); ++i)
      toml += (i ? ", \"" : "\"") + servers[i]->address() + "\"";
    toml += "]\n" + extra;
    auto table = toml::parse(toml);
    auto mod = loader_.load("memcached_l1");
    if (!mod.ok()) {
      error_ = mod.error();
      return;
    }
    const strata_module_descriptor* d = (*mod)->desc;
    strata::Diagnostics diags;
    auto opts = strata::validate_table(table, "test.toml", "tiers.x", d->options, d->option_count,
                                       {}, diags);
    if (!opts) {
      error_ = diags.str();
      return;
    }
    auto inst = strata::ModuleInstance::create(**mod, std::move(instance), "", std::move(*opts));
    if (!inst.ok()) {
      error_ = inst.error();
      return;
    }
    inst_ = std::move(*inst);
    auto started = inst_->start();
    if (!started.ok()) error_ = started.error();
  }
  const std::string& error() const { return error_; }
  strata::ModuleInstance* instance() { return inst_.get(); }

  int execute(std::vector<Op>& ops) {
    std::vector<strata_tier_op> raw;
    for (auto& o : ops) {
      o.op.key = {o.key.data(), o.key.size()};
      o.op.value = {o.value.data(), o.value.size()};
      o.result = {};
      o.op.host_result = &o.result;
      raw.push_back(o.op);
    }
    strata_error err{};
    int rc = inst_->tier()->execute(inst_->handle(), raw.data(), raw.size(), &err);
    for (size_t i = 0; i < ops.size(); ++i) {
      ops[i].op = raw[i];
    }
    return rc;
  }
  strata_status one(Op& o) {
    std::vector<Op> v{o};
    execute(v);
    o = v[0];
    return o.op.status;
  }
  int health(std::string* msg) {
    strata_error err{};
    int rc = inst_->tier()->health(inst_->handle(), &err);
    *msg = err.message;
    return rc;
  }

 private:
  strata::ModuleLoader loader_;
  std::unique_ptr<strata::ModuleInstance> inst_;
  std::string error_;
};

#define START(server)                                   \
  ServerProcess server(ServerProcess::Kind::Memcached); \
  ASSERT_TRUE(server.start())

}  // namespace

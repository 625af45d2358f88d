// The host's own schemas: [pipelines.*], the keys every [tiers.*] and [fronts.*] section may
// carry besides its module's options, and [admin]. `strata describe` prints them like a module's.
#include <strata/sdk.hpp>

#include <algorithm>
#include <string_view>

#include "config/internal.hpp"

namespace strata {
namespace {

constexpr const char* kLuaLibraries[] = {"io", "os", "require", "debug", "ffi", nullptr};
constexpr const char* kOrderings[] = {"auto", "partition", "version", "timestamp", nullptr};

constexpr double kMinRetryBackoffMs = 10;
constexpr double kMaxRetryBackoffMs = 60 * 60 * 1000;

}  // namespace

const std::vector<strata_option_def>& pipeline_table_keys() {
  static const std::vector<strata_option_def> keys = {
      option("script_config", STRATA_OPT_TABLE, "",
             "[pipelines.NAME.script_config]: any values (strings, numbers, booleans, arrays, "
             "tables; no dates, integers within 2^53) handed to the script's init(config) as a "
             "Lua table, with config.pipeline set to the pipeline's name (a reserved key). "
             "Read again on SIGHUP."),
  };
  return keys;
}

const std::vector<strata_option_def>& pipeline_schema() {
  static const std::vector<strata_option_def> schema = [] {
    strata_option_def lua_allow =
        option("lua_allow", STRATA_OPT_STRING_LIST, "",
               "Lua libraries the pipeline's script may use beyond the sandbox (each of io, os, "
               "require, debug, ffi). Empty keeps the script sandboxed.")
            .one_of(kLuaLibraries);
    strata_option_def order =
        option(
            "order", STRATA_OPT_ENUM, "auto",
            "How writes of one key are ordered and replays refused. partition: a per-partition "
            "watermark stored atomically with the writes (exactly once per partition, no per-key "
            "metadata; keys must not span partitions). version: per key, by the script's "
            "version() hook. timestamp: per key, by the record timestamp. auto: version when the "
            "script defines version(), else partition. See docs/kafka_source.md.")
            .one_of(kOrderings);
    return std::vector<strata_option_def>{
        option("source", STRATA_OPT_STRING, nullptr,
               "Name of the [sources.NAME] instance that feeds this pipeline."),
        option("tiers", STRATA_OPT_STRING_LIST, nullptr,
               "Names of [tiers.NAME] instances in read order, L1 first. Non-empty, no "
               "duplicates."),
        option("policy", STRATA_OPT_STRING, "",
               "Name of the [policies.NAME] instance that decides what each tier gets. Empty uses "
               "the built-in default (write_through)."),
        option("script", STRATA_OPT_STRING, "",
               "Path of the Lua script with the key/ttl/value hooks, relative to the config file's "
               "folder. Empty means the identity hook: the cache key is the record key."),
        option("key", STRATA_OPT_STRING, "",
               "Key template used instead of a script, e.g. \"user:{value.user}\": literal text "
               "and {key}, {value}, {value.PATH} (a member of the JSON value), {header.NAME}, "
               "{topic}, {partition}, {offset}. A record it cannot build a key for is a dead "
               "letter. Not with `script` (docs/scripting.md, \"Keys without a script\")."),
        lua_allow,
        option("lua_budget", STRATA_OPT_INT, "1000000",
               "Instruction budget for one hook call; a script that exceeds it fails for "
               "that record only. 0 removes the budget and lets the JIT compile the "
               "script (trusted scripts only).")
            .min(0),
        option("neg_ttl", STRATA_OPT_DURATION, "0",
               "TTL of the negative entry written to L1 after a miss in every tier. 0 disables "
               "negative caching."),
        option("dead_letter_file", STRATA_OPT_STRING, "",
               "File that receives records that could not be processed (one JSON line each). Empty "
               "disables it."),
        option("dead_letter_topic", STRATA_OPT_STRING, "",
               "Kafka topic that receives records that could not be processed. Empty disables it. "
               "Needs dead_letter_kafka."),
        option("dead_letter_kafka", STRATA_OPT_STRING, "",
               "Kafka bootstrap servers (\"host:port,host:port\") of the cluster that receives "
               "dead_letter_topic: usually the source's cluster, written again (the host reads no "
               "module's options). Only with dead_letter_topic."),
        // At least 10ms: a down Redis refuses connections at once, so a shorter first wait
        // is a busy loop of retries (0 was millions a minute at full CPU). At most 1h: longer
        // only delays recovery, and doubling a larger wait could overflow.
        option("retry_backoff", STRATA_OPT_DURATION, "100ms",
               "First wait before retrying a failed durable write (or a failed poll); "
               "doubles on each retry. At most retry_backoff_max.")
            .range(kMinRetryBackoffMs, kMaxRetryBackoffMs),
        option("retry_backoff_max", STRATA_OPT_DURATION, "5s",
               "Upper bound of the retry wait for durable writes; at least retry_backoff.")
            .range(kMinRetryBackoffMs, kMaxRetryBackoffMs),
        option("lua_memory", STRATA_OPT_SIZE, "128MiB",
               "Memory cap of the script's Lua state; a record whose hooks exceed it fails alone. "
               "0 removes the cap."),
        order,
        option(
            "overlap_l1", STRATA_OPT_BOOL, "true",
            "Write a batch's volatile (L1) copies on a thread of their own, overlapping the next "
            "batch's hooks and durable writes; L1 trails L2 by up to two batches. A batch is "
            "acked once its L1 writes ran, as without it. Ignored with a write-back policy. "
            "false writes L1 on the worker, right after L2 (docs/kafka_source.md)."),
        option("overlap_hooks", STRATA_OPT_BOOL, "true",
               "Run the next batch's hooks and policy on a thread of their own while the batch "
               "in hand is written. Writes, acks and dead letters keep their order; a rebalance "
               "can make that batch's ack stale (docs/kafka_source.md). false runs them on the "
               "worker thread, between the writes."),
    };
  }();
  return schema;
}

const std::vector<strata_option_def>& tier_host_schema() {
  static const std::vector<strata_option_def> schema = {
      option("breaker_failures", STRATA_OPT_INT, "5",
             "Consecutive failures that open the tier's circuit breaker.")
          .range(1, 100000),
      option("breaker_open", STRATA_OPT_DURATION, "1s",
             "How long the breaker stays open before it lets half-open probes through."),
      option("breaker_probes", STRATA_OPT_INT, "1",
             "Successful half-open probes that close the breaker again.")
          .range(1, 1000),
  };
  return schema;
}

const std::vector<strata_option_def>& front_host_schema() {
  static const std::vector<strata_option_def> schema = {
      option("tiers", STRATA_OPT_STRING_LIST, "",
             "Names of [tiers.NAME] instances the front reads through, in read order (L1 first): "
             "a chain of the front's own. Exactly one of `tiers` and `pipeline`."),
      option("pipeline", STRATA_OPT_STRING, "",
             "Name of a [pipelines.NAME] whose tier chain the front shares (its tiers, its "
             "neg_ttl, its in-flight reads). Exactly one of `tiers` and `pipeline`."),
      option("neg_ttl", STRATA_OPT_DURATION, "0",
             "With `tiers`: TTL of the negative entry written to L1 after a miss in every tier; 0 "
             "disables negative caching. With `pipeline` the pipeline's neg_ttl applies."),
      option("chain_threads", STRATA_OPT_INT, "4",
             "Host threads that run the front's chain ops (reads block on the tiers: this "
             "many ops are in the tiers at once). 0 runs each op on the thread that "
             "submitted it.")
          .range(0, 256),
      option("inline_reads", STRATA_OPT_BOOL, "true",
             "With chain_threads > 0 and a volatile first tier (L1): a front's plain gets read "
             "L1 on the front's own thread, one batched read per submit, and only the misses "
             "go to a chain thread (L2, one read in flight per key). The front's thread waits "
             "for L1's round trip (bounded by that tier's timeouts; immediate while its "
             "breaker is open) instead of two thread hand-offs. false: every op goes to a "
             "chain thread."),
  };
  return schema;
}

const std::vector<strata_option_def>& admin_schema() {
  static const std::vector<strata_option_def> schema = {
      option("enabled", STRATA_OPT_BOOL, "true",
             "Serve /metrics and /healthz (only when `port` is set too)."),
      option("listen", STRATA_OPT_STRING, "127.0.0.1",
             "Address the admin HTTP listener binds; loopback by default. Must not be empty (an "
             "empty address would bind every interface): write 0.0.0.0 for that."),
      option("port", STRATA_OPT_INT, "0", "TCP port of the admin listener; 0 disables it.")
          .range(0, 65535),
  };
  return schema;
}

namespace config_detail {

bool check_admin_values(const toml::table& table, const ResolvedOptions& values,
                        const std::string& file, Diagnostics& diags) {
  std::string listen = values.str("listen");
  if (listen.find_first_not_of(" \t") != std::string::npos) return true;
  const toml::node* node = table.get("listen");
  diags.add(node ? pos_of(*node, file) : pos_of(table, file),
            "admin.listen: an empty address is refused (it would bind every interface); write "
            "the address to listen on, e.g. \"127.0.0.1\" for loopback or \"0.0.0.0\" for every "
            "IPv4 interface");
  return false;
}

namespace {

SourcePos pos_of_key(const toml::table& table, const char* key, const std::string& file) {
  const toml::node* node = table.get(key);
  return node ? pos_of(*node, file) : pos_of(table, file);
}

// "host:port" with a port of 1..65535, the form librdkafka's bootstrap.servers takes (a
// scheme such as "PLAINTEXT://" may lead).
bool is_server_address(std::string_view s) {
  size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == s.size()) return false;
  std::string_view port = s.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos)
    return false;
  int n = std::stoi(std::string(port));
  return n >= 1 && n <= 65535;
}

bool check_dead_letter_kafka(const toml::table& table, const ResolvedOptions& values,
                             const std::string& file, const std::string& section,
                             Diagnostics& diags) {
  std::string topic = values.str("dead_letter_topic");
  std::string servers = values.str("dead_letter_kafka");
  if (topic.empty() && servers.empty()) return true;
  if (topic.empty()) {
    diags.add(pos_of_key(table, "dead_letter_kafka", file),
              section +
                  ".dead_letter_kafka: set, but dead_letter_topic is not; name the topic "
                  "too, or remove dead_letter_kafka");
    return false;
  }
  if (servers.empty()) {
    diags.add(pos_of_key(table, "dead_letter_topic", file),
              section +
                  ".dead_letter_topic: needs dead_letter_kafka, the Kafka bootstrap "
                  "servers (\"host:port,...\") of the cluster that receives it; an embedded "
                  "mock cluster cannot hold dead letters: use dead_letter_file instead");
    return false;
  }
  size_t start = 0;
  while (start <= servers.size()) {
    size_t comma = std::min(servers.find(',', start), servers.size());
    std::string_view entry(servers.data() + start, comma - start);
    while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
    while (!entry.empty() && entry.back() == ' ') entry.remove_suffix(1);
    if (!is_server_address(entry)) {
      diags.add(pos_of_key(table, "dead_letter_kafka", file),
                section + ".dead_letter_kafka: '" + std::string(entry) +
                    "' is not host:port (a Kafka bootstrap server, e.g. \"kafka1:9092\"); an "
                    "embedded mock cluster cannot hold dead letters: use dead_letter_file instead");
      return false;
    }
    start = comma + 1;
  }
  return true;
}

}  // namespace

bool check_pipeline_values(const toml::table& table, const ResolvedOptions& values,
                           const std::string& file, const std::string& section,
                           Diagnostics& diags) {
  bool servers_ok = check_dead_letter_kafka(table, values, file, section, diags);
  int64_t first = values.integer("retry_backoff");
  int64_t most = values.integer("retry_backoff_max");
  if (first <= most) return servers_ok;
  const toml::node* max_node = table.get("retry_backoff_max");
  if (max_node) {
    diags.add(pos_of(*max_node, file),
              section + ".retry_backoff_max: " + format_duration_ms(most) +
                  " is below retry_backoff (" + format_duration_ms(first) +
                  "); the longest retry wait cannot be shorter than the first");
  } else {
    const toml::node* first_node = table.get("retry_backoff");
    diags.add(first_node ? pos_of(*first_node, file) : pos_of(table, file),
              section + ".retry_backoff: " + format_duration_ms(first) +
                  " is above retry_backoff_max (" + format_duration_ms(most) +
                  ", its default); set retry_backoff_max too");
  }
  return false;
}

}  // namespace config_detail
}  // namespace strata

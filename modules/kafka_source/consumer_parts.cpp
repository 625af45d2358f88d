#include "consumer_parts.hpp"

#include <cstring>
#include <map>

namespace kafka_source {
namespace {

// Properties with a dedicated option, or that would break at-least-once if overridden.
constexpr const char* kReservedProps[][2] = {{"bootstrap.servers", "brokers"},
                                             {"metadata.broker.list", "brokers"},
                                             {"group.id", "group_id"},
                                             {"auto.offset.reset", "start"},
                                             {"enable.auto.offset.store", ""},
                                             {"enable.auto.commit", ""},
                                             {"auto.commit.interval.ms", "commit_interval"},
                                             {"enable.partition.eof", ""}};

void set_pass_through(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  for (const auto& r : kReservedProps)
    if (key == r[0])
      throw strata::Error("rdkafka." + key +
                          (r[1][0]
                               ? std::string(" is set by the option \"") + r[1] + "\""
                               : std::string(" is fixed by kafka_source (at-least-once commits "
                                             "and the lag)")));
  char errstr[512];
  rd_kafka_conf_res_t res =
      rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr, sizeof errstr);
  // librdkafka's message may quote the value; a value may be a secret, so never repeat it.
  if (res == RD_KAFKA_CONF_UNKNOWN)
    throw strata::Error("rdkafka." + key + ": unknown librdkafka property");
  if (res != RD_KAFKA_CONF_OK)
    throw strata::Error("rdkafka." + key + ": invalid value for this librdkafka property");
}

}  // namespace

void fill_records(Batch& batch) {
  size_t header_total = 0;
  std::vector<rd_kafka_headers_t*> hdrs(batch.msgs.size(), nullptr);
  for (size_t i = 0; i < batch.msgs.size(); ++i)
    if (rd_kafka_message_headers(batch.msgs[i], &hdrs[i]) == RD_KAFKA_RESP_ERR_NO_ERROR)
      header_total += rd_kafka_header_cnt(hdrs[i]);
    else
      hdrs[i] = nullptr;
  batch.headers.reserve(header_total);  // records point into it: it must never reallocate
  batch.records.reserve(batch.msgs.size());
  for (size_t i = 0; i < batch.msgs.size(); ++i) {
    const rd_kafka_message_t* m = batch.msgs[i];
    strata_record r{};
    r.struct_size = sizeof(strata_record);
    r.topic = rd_kafka_topic_name(m->rkt);
    r.partition = m->partition;
    r.offset = m->offset;
    r.key = strata_bytes{static_cast<const char*>(m->key), m->key_len};
    r.value = strata_bytes{static_cast<const char*>(m->payload), m->len};
    r.timestamp_ms = rd_kafka_message_timestamp(m, nullptr);
    size_t first = batch.headers.size();
    if (hdrs[i]) {
      const char* name;
      const void* val;
      size_t size;
      for (size_t h = 0;
           rd_kafka_header_get_all(hdrs[i], h, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
           ++h)
        batch.headers.push_back(strata_header{strata_bytes{name, std::strlen(name)},
                                              strata_bytes{static_cast<const char*>(val), size}});
    }
    r.header_count = batch.headers.size() - first;
    r.headers = r.header_count ? &batch.headers[first] : nullptr;
    batch.records.push_back(r);
  }
}

int parse_brokers(const std::string& brokers, std::string* bootstraps) {
  if (brokers == "mock") return 1;
  if (brokers.rfind("mock:", 0) == 0) {
    std::string n = brokers.substr(5);
    if (n.empty() || n.size() > 2 || n.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(n) < 1)
      throw strata::Error("brokers: \"" + brokers + "\" is not \"mock:N\" with N in 1..99");
    return std::stoi(n);
  }
  if (brokers.empty()) throw strata::Error("brokers: empty; give \"host:port,...\" or \"mock\"");
  *bootstraps = brokers;
  return 0;
}

void set_property(rd_kafka_conf_t* conf, const std::string& key, const std::string& value,
                  const std::string& context) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr, sizeof errstr) !=
      RD_KAFKA_CONF_OK)
    throw strata::Error(context + ": " + errstr);
}

ConfPtr consumer_conf(const strata::Options& opts, const std::string& group,
                      const std::string& start, bool mock) {
  ConfPtr conf = new_conf();
  auto set = [&](const char* key, const std::string& value) {
    set_property(conf.get(), key, value, key);
  };
  set("group.id", group);
  set("auto.offset.reset", start);
  set("enable.auto.offset.store", "false");  // only acked positions are stored...
  set("enable.auto.commit", "true");         // ...and committed in the background
  set("auto.commit.interval.ms", std::to_string(opts.duration_ms("commit_interval")));
  set("client.id", "strata");
  // Reaching a partition's end is an event: the lag of a partition read to its end that gets
  // no new record is then known (0), not unknown.
  set("enable.partition.eof", "true");
  // Throughput defaults (rdkafka.* below may override): prefetch deep queues (still bounded
  // by queued.max.messages.kbytes, 64 MiB) and answer fetches within 10 ms instead of 500 ms
  // of waiting for fetch.min.bytes. Measured in docs/performance.md.
  set("queued.min.messages", "1000000");
  set("fetch.wait.max.ms", "10");
  if (mock) {
    // The mock re-forms a group only session.timeout.ms - 1 s after a member left; keep a
    // restart of the quickstart quick. rdkafka.* below may still override both.
    set("session.timeout.ms", "6000");
    set("heartbeat.interval.ms", "500");
  }
  for (const auto& [key, value] : opts.table("rdkafka")) set_pass_through(conf.get(), key, value);
  return conf;
}

std::string describe(const rd_kafka_topic_partition_list_t* parts) {
  std::map<std::string, std::string> by_topic;
  for (int i = 0; i < parts->cnt; ++i) {
    auto& s = by_topic[parts->elems[i].topic];
    if (!s.empty()) s += ',';
    s += std::to_string(parts->elems[i].partition);
  }
  std::string out = std::to_string(parts->cnt) + " partition(s)";
  const char* sep = ": ";
  for (const auto& [t, p] : by_topic) {
    out.append(sep).append(t).append("[").append(p).append("]");
    sep = " ";
  }
  return out;
}

bool is_cooperative(const rd_kafka_conf_t* conf) {
  char value[512];
  size_t size = sizeof value;
  if (rd_kafka_conf_get(conf, "partition.assignment.strategy", value, &size) != RD_KAFKA_CONF_OK)
    return false;
  return std::strstr(value, "cooperative") != nullptr;
}

}  // namespace kafka_source

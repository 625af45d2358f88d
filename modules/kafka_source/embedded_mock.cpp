// Embedded mock cluster and seed-file loader for kafka_source (see embedded_mock.hpp).
#include "embedded_mock.hpp"

#include "consumer_parts.hpp"

#include <nlohmann/json.hpp>
#include <strata/sdk.hpp>

#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace kafka_source {
namespace {

using Json = nlohmann::ordered_json;  // keeps an object's keys in the order written

// One field's bytes: a JSON string's contents, nothing for null, or any other value as its
// compact JSON text (keys in the order written, no white space between tokens).
void read_field(const Json& v, std::string* out, bool* is_null) {
  *is_null = v.is_null();
  *out = v.is_string() ? v.get<std::string>() : *is_null ? std::string() : v.dump();
}

SeedRecord parse_json_line(const std::string& line, const std::string& default_topic) {
  Json obj;
  try {
    obj = Json::parse(line);
  } catch (const Json::parse_error& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 12: ..." without the id.
    std::string what = e.what();
    size_t id_end = what.find("] ");
    throw std::runtime_error(id_end == std::string::npos ? what : what.substr(id_end + 2));
  }
  if (!obj.is_object()) throw std::runtime_error("expected a JSON object");
  SeedRecord rec;
  rec.topic = default_topic;
  bool has_value = false;
  for (const auto& [field, v] : obj.items()) {
    if (field == "topic") {
      if (!v.is_string() || v.get_ref<const std::string&>().empty())
        throw std::runtime_error("\"topic\" must be a string");
      rec.topic = v.get<std::string>();
    } else if (field == "key") {
      read_field(v, &rec.key, &rec.key_null);
    } else if (field == "value") {
      read_field(v, &rec.value, &rec.value_null);
      has_value = true;
    } else {
      throw std::runtime_error("unknown field \"" + field + "\" (allowed: topic, key, value)");
    }
  }
  if (!has_value) throw std::runtime_error("missing \"value\"");
  return rec;
}

// Delivery report: remembers the first failure (called from rd_kafka_flush/poll).
void on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto* failure = static_cast<std::string*>(opaque);
  if (msg->err && failure->empty()) failure->assign(rd_kafka_err2str(msg->err));
}

}  // namespace

std::vector<SeedRecord> parse_seed_file(const std::string& path, const std::string& default_topic) {
  std::ifstream in(path);
  if (!in) throw strata::Error("cannot open seed_file \"" + path + "\"");
  std::vector<SeedRecord> out;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    try {
      if (line[first] == '{') {
        out.push_back(parse_json_line(line, default_topic));
      } else {
        size_t tab = line.find('\t');
        if (tab == std::string::npos)
          throw std::runtime_error("expected KEY<TAB>VALUE or a JSON object");
        SeedRecord rec;
        rec.topic = default_topic;
        rec.key = line.substr(0, tab);
        rec.key_null = false;
        rec.value = line.substr(tab + 1);
        out.push_back(std::move(rec));
      }
    } catch (const std::runtime_error& e) {
      throw strata::Error(path + ":" + std::to_string(lineno) + ": " + e.what());
    }
  }
  return out;
}

// ---- The mock cluster ------------------------------------------------------------------------

EmbeddedMock::~EmbeddedMock() { stop(); }

void EmbeddedMock::start(int brokers, const std::vector<std::string>& topics, int partitions) {
  ConfPtr conf = new_conf();
  // Keep the owner quiet: it never talks to a broker itself.
  set_property(conf.get(), "log_level", "3", "mock cluster");
  char errstr[512];
  owner_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof errstr);
  if (!owner_) throw strata::Error(STRATA_ERR_INTERNAL, std::string("mock cluster: ") + errstr);
  conf.release();  // owned by owner_ now
  cluster_ = rd_kafka_mock_cluster_new(owner_, brokers);
  if (!cluster_) throw strata::Error(STRATA_ERR_INTERNAL, "mock cluster: cannot create it");
  for (const auto& t : topics) {
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(cluster_, t.c_str(), partitions, 1);
    if (err)
      throw strata::Error(STRATA_ERR_INTERNAL, "mock cluster: cannot create topic \"" + t +
                                                   "\": " + rd_kafka_err2str(err));
  }
  bootstraps_ = rd_kafka_mock_cluster_bootstraps(cluster_);
}

void EmbeddedMock::produce(const std::vector<SeedRecord>& records) {
  if (records.empty()) return;
  ConfPtr conf = new_conf();
  set_property(conf.get(), "bootstrap.servers", bootstraps_, "seed producer");
  set_property(conf.get(), "linger.ms", "5", "seed producer");
  std::string delivery_failure;
  rd_kafka_conf_set_dr_msg_cb(conf.get(), on_delivery);
  rd_kafka_conf_set_opaque(conf.get(), &delivery_failure);
  char errstr[512];
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof errstr);
  if (!producer) throw strata::Error(STRATA_ERR_INTERNAL, std::string("seed producer: ") + errstr);
  conf.release();  // owned by producer now
  std::string failure;
  for (const auto& r : records) {
    rd_kafka_resp_err_t err;
    while (true) {
      err = rd_kafka_producev(
          producer, RD_KAFKA_V_TOPIC(r.topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_KEY(r.key_null ? nullptr : r.key.data(), r.key_null ? 0 : r.key.size()),
          RD_KAFKA_V_VALUE(r.value_null ? nullptr : const_cast<char*>(r.value.data()),
                           r.value_null ? 0 : r.value.size()),
          RD_KAFKA_V_END);
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
      rd_kafka_poll(producer, 100);  // local queue full: let deliveries drain
    }
    if (err) {
      failure = "cannot produce to \"" + r.topic + "\": " + rd_kafka_err2str(err);
      break;
    }
  }
  // flush() serves the delivery reports: every record is acked (or failed) when it returns.
  rd_kafka_resp_err_t ferr = rd_kafka_flush(producer, 30000);
  if (failure.empty() && ferr) failure = std::string("flush: ") + rd_kafka_err2str(ferr);
  if (failure.empty() && !delivery_failure.empty())
    failure = "delivery failed: " + delivery_failure;
  rd_kafka_destroy(producer);
  if (!failure.empty()) throw strata::Error(STRATA_ERR_UNAVAILABLE, "seed_file: " + failure);
}

void EmbeddedMock::stop() {
  if (cluster_) rd_kafka_mock_cluster_destroy(cluster_);
  cluster_ = nullptr;
  if (owner_) rd_kafka_destroy(owner_);
  owner_ = nullptr;
}

void write_file_atomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text << "\n";
    if (!out.flush()) throw strata::Error("cannot write \"" + tmp + "\"");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw strata::Error("cannot rename \"" + tmp + "\" to \"" + path + "\"");
}

}  // namespace kafka_source

// Embedded mock cluster and seed-file loader for kafka_source (see embedded_mock.hpp).
#include "embedded_mock.hpp"

#include <strata/sdk.hpp>

#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace kafka_source {
namespace {

// ---- A minimal JSON reader: just enough for one flat object per line. ---------------------

struct JsonCursor {
  const std::string& s;
  size_t i = 0;

  void skip_ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) ++i;
  }
  void expect(char c) {
    skip_ws();
    if (i >= s.size() || s[i] != c) throw std::runtime_error(std::string("expected '") + c + "'");
    ++i;
  }
  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  unsigned hex4() {
    if (i + 4 > s.size()) throw std::runtime_error("truncated \\u escape");
    unsigned v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = s[i++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= c - '0';
      else if (c >= 'a' && c <= 'f')
        v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        v |= c - 'A' + 10;
      else
        throw std::runtime_error("bad \\u escape");
    }
    return v;
  }
  std::string string() {
    expect('"');
    std::string out;
    while (true) {
      if (i >= s.size()) throw std::runtime_error("unterminated string");
      char c = s[i++];
      if (c == '"') return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i >= s.size()) throw std::runtime_error("unterminated string");
      char e = s[i++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && i + 6 <= s.size() && s[i] == '\\' && s[i + 1] == 'u') {
            i += 2;
            unsigned lo = hex4();
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default:
          throw std::runtime_error("bad escape");
      }
    }
  }
  // Skips any JSON value and returns its text as written (objects, arrays, numbers, literals).
  std::string raw_value() {
    skip_ws();
    size_t start = i;
    int depth = 0;
    while (i < s.size()) {
      char c = s[i];
      if (c == '"') {
        string();
        if (depth == 0) break;
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') {
        if (depth == 0) break;  // the end of the enclosing object
        --depth;
        ++i;
        if (depth == 0) break;
        continue;
      }
      if (depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\r')) break;
      ++i;
    }
    if (depth != 0) throw std::runtime_error("unbalanced brackets");
    if (i == start) throw std::runtime_error("missing value");
    return s.substr(start, i - start);
  }
  bool peek(char c) {
    skip_ws();
    return i < s.size() && s[i] == c;
  }
};

// Reads one field value: a JSON string (unescaped), null, or any other value as its text.
void read_field(JsonCursor& cur, std::string* out, bool* is_null) {
  if (cur.peek('"')) {
    *out = cur.string();
    *is_null = false;
    return;
  }
  std::string raw = cur.raw_value();
  *is_null = raw == "null";
  *out = *is_null ? std::string() : raw;
}

SeedRecord parse_json_line(const std::string& line, const std::string& default_topic) {
  SeedRecord rec;
  rec.topic = default_topic;
  JsonCursor cur{line};
  cur.expect('{');
  bool has_value = false;
  if (!cur.peek('}')) {
    while (true) {
      std::string field = cur.string();
      cur.expect(':');
      if (field == "topic") {
        bool null = false;
        read_field(cur, &rec.topic, &null);
        if (null || rec.topic.empty()) throw std::runtime_error("\"topic\" must be a string");
      } else if (field == "key") {
        read_field(cur, &rec.key, &rec.key_null);
      } else if (field == "value") {
        read_field(cur, &rec.value, &rec.value_null);
        has_value = true;
      } else {
        throw std::runtime_error("unknown field \"" + field + "\" (allowed: topic, key, value)");
      }
      if (cur.peek(',')) {
        cur.expect(',');
        continue;
      }
      break;
    }
  }
  cur.expect('}');
  cur.skip_ws();
  if (cur.i != line.size()) throw std::runtime_error("trailing text after the object");
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
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // Keep the owner quiet: it never talks to a broker itself.
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
  owner_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!owner_) {
    rd_kafka_conf_destroy(conf);
    throw strata::Error(STRATA_ERR_INTERNAL, std::string("mock cluster: ") + errstr);
  }
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
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps_.c_str(), errstr, sizeof errstr) ||
      rd_kafka_conf_set(conf, "linger.ms", "5", errstr, sizeof errstr)) {
    rd_kafka_conf_destroy(conf);
    throw strata::Error(STRATA_ERR_INTERNAL, std::string("seed producer: ") + errstr);
  }
  std::string delivery_failure;
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_conf_set_opaque(conf, &delivery_failure);
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!producer) {
    rd_kafka_conf_destroy(conf);
    throw strata::Error(STRATA_ERR_INTERNAL, std::string("seed producer: ") + errstr);
  }
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

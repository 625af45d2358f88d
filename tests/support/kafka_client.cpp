#include "kafka_client.hpp"

namespace strata::test {

rd_kafka_t* kafka_client(rd_kafka_type_t type, const KafkaProps& props, std::string* error,
                         const std::function<void(rd_kafka_conf_t*)>& conf_hook) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [key, value] : props) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      *error = key + ": " + errstr;
      return nullptr;
    }
  }
  if (conf_hook) conf_hook(conf);
  rd_kafka_t* rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
  if (!rk) {
    rd_kafka_conf_destroy(conf);  // rd_kafka_new() owns conf only on success
    *error = errstr;
  }
  return rk;
}

}  // namespace strata::test

// librdkafka clients for tests (consumers that read what strata committed or dead-lettered,
// producers that feed a cluster): the one place tests set librdkafka properties, so a refused
// property fails the test with librdkafka's message instead of being silently ignored.
#pragma once

#include <librdkafka/rdkafka.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace strata::test {

using KafkaProps = std::vector<std::pair<std::string, std::string>>;

// Sets every property in order, lets `conf_hook` add callbacks or an opaque, then creates the
// handle. nullptr and *error on failure (the conf is freed).
rd_kafka_t* kafka_client(rd_kafka_type_t type, const KafkaProps& props, std::string* error,
                         const std::function<void(rd_kafka_conf_t*)>& conf_hook = {});

}  // namespace strata::test

// kafka_source's pieces that need none of the source's state: the librdkafka configuration
// built from the options, the broker option's forms, record batches made from messages, and
// the text of a partition list for the log.
#pragma once

#include <librdkafka/rdkafka.h>
#include <strata/sdk.hpp>

#include <memory>
#include <string>
#include <vector>

namespace kafka_source {

// One batch handed to the host: the librdkafka messages own every byte the records point to.
struct Batch {
  std::vector<rd_kafka_message_t*> msgs;
  std::vector<strata_record> records;
  std::vector<strata_header> headers;
  ~Batch() {
    for (auto* m : msgs) rd_kafka_message_destroy(m);
  }
};

// Fills batch.records (and the headers they point to) from batch.msgs, in order.
void fill_records(Batch& batch);

// "mock" / "mock:N" -> N (1..99) embedded brokers; anything else is a bootstrap list, stored in
// *bootstraps, and gives 0. Throws strata::Error for an empty or malformed value.
int parse_brokers(const std::string& brokers, std::string* bootstraps);

using ConfPtr = std::unique_ptr<rd_kafka_conf_t, void (*)(rd_kafka_conf_t*)>;
inline ConfPtr new_conf() { return ConfPtr(rd_kafka_conf_new(), rd_kafka_conf_destroy); }

// Sets one librdkafka property the source chose itself (the one place it calls
// rd_kafka_conf_set for those); throws strata::Error "<context>: <librdkafka's message>". The
// message may quote the value: the `rdkafka` pass-through table, which may hold secrets, has
// its own check that never repeats it.
void set_property(rd_kafka_conf_t* conf, const std::string& key, const std::string& value,
                  const std::string& context);

// The consumer's configuration: group, start, at-least-once offset handling, throughput
// defaults, the mock's short sessions, then the `rdkafka` pass-through table (reserved keys
// refused, values never repeated in messages). Everything but bootstrap.servers, the opaque
// and the callbacks. Throws strata::Error.
ConfPtr consumer_conf(const strata::Options& opts, const std::string& group,
                      const std::string& start, bool mock);

// "3 partition(s): events[0,1,2]" for the log.
std::string describe(const rd_kafka_topic_partition_list_t* parts);

// Whether the configured assignors (partition.assignment.strategy) make the group's rebalance
// protocol COOPERATIVE: librdkafka refuses a mix, and cooperative-sticky is its one cooperative
// assignor. Read from the configuration, so a rebalance handler never has to ask librdkafka
// (rd_kafka_rebalance_protocol() waits for the group thread without a timeout).
bool is_cooperative(const rd_kafka_conf_t* conf);

}  // namespace kafka_source

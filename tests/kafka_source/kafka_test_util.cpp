// Helpers for the kafka_source tests (see kafka_test_util.hpp).
#include "kafka_test_util.hpp"

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <toml++/toml.h>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/log.hpp"
#include "config/config.hpp"
#include "kafka_client.hpp"
#include "loader/loader.hpp"
#include "servers.hpp"

namespace kafka_test {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "strata-kafka-XXXXXX").string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data())) path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

MockKafkaProcess::MockKafkaProcess(int brokers, const std::string& topics, int partitions) {
  const char* bin = std::getenv("STRATA_MOCK_KAFKA");
  if (!bin) bin = STRATA_MOCK_KAFKA_PATH;
  int fds[2];
  if (pipe(fds) != 0) return;
  pid_ = fork();
  if (pid_ == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    std::string b = std::to_string(brokers), p = std::to_string(partitions);
    execl(bin, bin, "--brokers", b.c_str(), "--topics", topics.c_str(), "--partitions", p.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  FILE* out = fdopen(fds[0], "r");
  char line[1024];
  if (out && std::fgets(line, sizeof line, out)) {
    bootstrap_ = line;
    while (!bootstrap_.empty() && (bootstrap_.back() == '\n' || bootstrap_.back() == '\r'))
      bootstrap_.pop_back();
  }
  if (out) std::fclose(out);
}

MockKafkaProcess::~MockKafkaProcess() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status;
  waitpid(pid_, &status, 0);
}

bool kcat_produce(const std::string& bootstrap, const std::string& topic,
                  const std::vector<std::pair<std::string, std::string>>& records,
                  const std::string& scratch_dir) {
  static int n = 0;
  std::string file = scratch_dir + "/produce-" + std::to_string(++n) + ".txt";
  {
    std::ofstream f(file);
    for (const auto& [k, v] : records) f << k << ":" << v << "\n";
  }
  int status = -1;
  strata::test::run_command(
      "kcat -P -b " + bootstrap + " -t " + topic + " -K: -X enable.idempotence=true -l " + file,
      &status);
  return status == 0;
}

std::map<int32_t, int64_t> committed_offsets(const std::string& bootstrap, const std::string& group,
                                             const std::string& topic, int partitions) {
  std::map<int32_t, int64_t> out;
  std::string err;
  rd_kafka_t* rk = strata::test::kafka_client(
      RD_KAFKA_CONSUMER, {{"bootstrap.servers", bootstrap}, {"group.id", group}}, &err);
  if (!rk) return out;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(list, topic.c_str(), p);
  // The coordinator may still be starting: retry a few times.
  for (int attempt = 0; attempt < 10; ++attempt)
    if (rd_kafka_committed(rk, list, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int i = 0; i < list->cnt; ++i) out[list->elems[i].partition] = list->elems[i].offset;
      break;
    }
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

const strata::LoadedModule& kafka_module() {
  // KAFKA_TEST_DEBUG=1 shows the module's (and librdkafka's) debug lines.
  if (std::getenv("KAFKA_TEST_DEBUG")) strata::log::set_level(STRATA_LOG_DEBUG);
  static strata::ModuleLoader* loader = [] {
    return new strata::ModuleLoader(strata::ModuleLoader::default_search_path(""));
  }();
  static const strata::LoadedModule* mod = [] {
    auto r = loader->load("kafka_source");
    if (!r.ok()) {
      std::fprintf(stderr, "cannot load kafka_source: %s\n", r.error().c_str());
      std::abort();  // test binary only: nothing can run without the module
    }
    return r.value();
  }();
  return *mod;
}

std::unique_ptr<Source> Source::create(const std::string& toml_body, std::string* error) {
  const strata::LoadedModule& mod = kafka_module();
  toml::table tbl;
  try {
    tbl = toml::parse(std::string_view(toml_body), std::string_view("test.toml"));
  } catch (const toml::parse_error& e) {
    *error = std::string("toml: ") + e.what();
    return nullptr;
  }
  strata::Diagnostics diags;
  auto opts = strata::validate_table(tbl, "test.toml", "sources.k", mod.desc->options,
                                     mod.desc->option_count, {}, diags);
  if (!opts || !diags.empty()) {
    *error = diags.str();
    return nullptr;
  }
  auto inst = strata::ModuleInstance::create(mod, "sources.k", "test", std::move(*opts));
  if (!inst.ok()) {
    *error = inst.error();
    return nullptr;
  }
  std::unique_ptr<Source> s(new Source());
  s->inst_ = std::move(inst.value());
  return s;
}

Source::~Source() = default;  // ModuleInstance stops (drain) and destroys

bool Source::start(std::string* error) {
  auto r = inst_->start();
  if (!r.ok() && error) *error = r.error();
  return r.ok();
}

int Source::poll_once(std::vector<Rec>* out, size_t max_records, int timeout_ms,
                      std::string* error) {
  strata_record_batch batch{nullptr, 0, nullptr};
  strata_error err{};
  int rc = inst_->source()->poll(inst_->handle(), max_records, timeout_ms, &batch, &err);
  if (rc != STRATA_OK) {
    if (error) *error = err.message;
    return rc;
  }
  for (size_t i = 0; i < batch.count; ++i) {
    const strata_record& r = batch.records[i];
    Rec c{r.topic,
          r.partition,
          r.offset,
          r.key.data ? std::string(r.key.data, r.key.len) : std::string(),
          r.value.data ? std::string(r.value.data, r.value.len) : std::string(),
          r.key.data == nullptr,
          r.value.data == nullptr,
          r.timestamp_ms,
          {}};
    for (size_t h = 0; h < r.header_count; ++h)
      c.headers.emplace_back(std::string(r.headers[h].key.data, r.headers[h].key.len),
                             std::string(r.headers[h].value.data, r.headers[h].value.len));
    out->push_back(std::move(c));
  }
  if (batch.count || batch.source_cookie) inst_->source()->release_batch(inst_->handle(), &batch);
  return rc;
}

std::vector<Rec> Source::poll_until(size_t want, int max_polls) {
  std::vector<Rec> got;
  for (int i = 0; i < max_polls && got.size() < want; ++i)
    if (poll_once(&got) != STRATA_OK) break;
  return got;
}

int Source::ack(const std::vector<strata_position>& positions) {
  strata_error err{};
  return inst_->source()->ack(inst_->handle(), positions.data(), positions.size(), &err);
}
void Source::pause() { inst_->source()->pause(inst_->handle()); }
void Source::resume() { inst_->source()->resume(inst_->handle()); }
int64_t Source::lag() { return inst_->source()->lag(inst_->handle()); }
void Source::stop() { inst_->stop(true); }

}  // namespace kafka_test

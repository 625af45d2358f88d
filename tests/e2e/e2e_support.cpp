#include "e2e_support.hpp"

#include <sys/prctl.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "kafka_client.hpp"
#include "servers.hpp"

namespace strata::test {

int64_t seq_of(const std::string& value) {
  auto p = value.find("\"seq\":");
  if (p == std::string::npos) return -1;
  return std::strtoll(value.c_str() + p + 6, nullptr, 10);
}

void export_e2e_paths(const char* strata_bin, const char* mock_kafka, const char* modules_dir) {
  setenv("STRATA_BIN", strata_bin, 0);
  setenv("STRATA_MOCK_KAFKA", mock_kafka, 0);
  setenv("STRATA_MODULES_PATH", modules_dir, 0);
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) kill9();
}

pid_t spawn_logged(const std::vector<std::string>& argv, const std::string& log_path) {
  pid_t pid = ::fork();
  if (pid != 0) return pid;  // the child's pid, or -1
  // A test process that dies without its destructors (an abort, a sanitizer's halt) must not
  // leave servers behind that keep ctest waiting.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
  }
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execv(args[0], args.data());
  std::fprintf(stderr, "cannot exec %s\n", args[0]);
  ::_exit(127);
}

bool ChildProcess::start(const std::vector<std::string>& argv, const std::string& log_path) {
  pid_ = spawn_logged(argv, log_path);
  return pid_ > 0;
}

int ChildProcess::stop(int sig) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, sig);
  int st = 0;
  ::waitpid(pid_, &st, 0);
  pid_ = -1;
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  return 128 + WTERMSIG(st);
}

void ChildProcess::kill9() { stop(SIGKILL); }

int ChildProcess::wait(int timeout_ms) {
  for (int waited = 0; pid_ > 0; waited += 20) {
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    if (waited >= timeout_ms) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

bool ChildProcess::running() {
  if (pid_ <= 0) return false;
  int st;
  if (::waitpid(pid_, &st, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

MockKafka::~MockKafka() { proc_.stop(); }

bool MockKafka::start(const std::string& topic, int partitions, const std::string& workdir) {
  const char* bin = std::getenv("STRATA_MOCK_KAFKA");
  if (!bin) return false;
  std::string bootstrap_file = workdir + "/bootstrap";
  control_ = workdir + "/mock-control";
  log_ = workdir + "/mock-kafka.log";
  if (::mkfifo(control_.c_str(), 0600) != 0) return false;
  if (!proc_.start({bin, "--brokers", "1", "--topics", topic, "--partitions",
                    std::to_string(partitions), "--bootstrap-file", bootstrap_file, "--control",
                    control_},
                   log_))
    return false;
  for (int i = 0; i < 200; ++i) {
    std::string b = read_file(bootstrap_file);
    while (!b.empty() && (b.back() == '\n' || b.back() == ' ')) b.pop_back();
    if (!b.empty()) {
      bootstrap_ = b;
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

namespace {
size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}
}  // namespace

bool MockKafka::command(const std::string& line) {
  const std::string applied = "control: " + line + ": ok";
  const size_t before = occurrences(read_file(log_), applied);
  int fd = ::open(control_.c_str(), O_WRONLY | O_NONBLOCK);
  if (fd < 0) return false;
  std::string l = line + "\n";
  bool wrote = ::write(fd, l.data(), l.size()) == static_cast<ssize_t>(l.size());
  ::close(fd);
  for (int i = 0; wrote && i < 200; ++i) {  // 10 s
    if (occurrences(read_file(log_), applied) > before) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

bool kcat_produce(const std::string& bootstrap, const std::string& topic, const std::string& file) {
  int status = -1;
  run_command("kcat -P -b " + bootstrap + " -t " + topic +
                  " -K '|' -X linger.ms=20 -X enable.idempotence=true -l " + file + " 2>&1",
              &status);
  return status == 0;
}

std::map<int32_t, PartitionProgress> group_progress(const std::string& bootstrap,
                                                    const std::string& group,
                                                    const std::string& topic, int partitions) {
  std::map<int32_t, PartitionProgress> out;
  std::string err;
  rd_kafka_t* rk = strata::test::kafka_client(
      RD_KAFKA_CONSUMER,
      {{"bootstrap.servers", bootstrap}, {"group.id", group}, {"log_level", "2"}}, &err);
  if (!rk) return out;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(list, topic.c_str(), p);
  if (rd_kafka_committed(rk, list, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int i = 0; i < list->cnt; ++i)
      out[list->elems[i].partition].committed = list->elems[i].offset;
  }
  for (int p = 0; p < partitions; ++p) {
    int64_t lo = -1, hi = -1;
    if (rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &lo, &hi, 10000) ==
        RD_KAFKA_RESP_ERR_NO_ERROR)
      out[p].high = hi;
  }
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_destroy(rk);
  return out;
}

std::pair<int64_t, int64_t> committed_and_end(const std::string& bootstrap,
                                              const std::string& group, const std::string& topic,
                                              int partitions) {
  int64_t committed = 0, end = 0;
  for (auto& [p, pr] : group_progress(bootstrap, group, topic, partitions)) {
    if (pr.committed > 0) committed += pr.committed;
    if (pr.high > 0) end += pr.high;
  }
  return {committed, end};
}

std::string http_get(int port, const std::string& path, int timeout_ms) {
  std::string out;
  int fd = connect_loopback(port, timeout_ms);
  if (fd < 0) return out;
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
    char buf[65536];
    ssize_t n;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline && (n = ::read(fd, buf, sizeof buf)) > 0)
      out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

double metric_value(const std::string& text, const std::string& metric) {
  size_t p = 0;
  while ((p = text.find(metric, p)) != std::string::npos) {
    size_t after = p + metric.size();
    bool line_start = p == 0 || text[p - 1] == '\n';
    if (line_start && after < text.size() && (text[after] == ' ' || text[after] == '{')) {
      size_t eol = text.find('\n', after);
      size_t value = text.rfind(' ', eol) + 1;  // the sample's value ends the line
      return std::strtod(text.c_str() + value, nullptr);
    }
    p = after;
  }
  return -1;
}

}  // namespace strata::test

// strata-mock-kafka: runs librdkafka's mock Kafka cluster as a standalone process until SIGTERM
// or SIGINT. End-to-end tests and demo scripts use it so several strata processes can share one
// cluster, and so the cluster survives when a strata process is killed.
//
//   strata-mock-kafka --brokers N --topics a,b --partitions P [--replication R]
//                     [--bootstrap-file F] [--control FIFO]
//
// Prints the bootstrap address as the first line of stdout (and writes it to F atomically).
// With --control, reads fault commands from FIFO, one a line (tests/faults uses it):
//   broker down|up ID          leader TOPIC PARTITION BROKER
//   errors APIKEY CODE[,CODE]  (rd_kafka_mock_push_request_errors: the next requests fail)
//   clear APIKEY               (drops the errors still pushed for APIKEY)
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

const char kUsage[] =
    "usage: strata-mock-kafka [--brokers N] [--topics a,b,...] [--partitions P]\n"
    "                         [--replication R] [--bootstrap-file FILE] [--control FIFO]\n"
    "Runs an in-memory Kafka-protocol cluster on 127.0.0.1 until SIGTERM/SIGINT.\n"
    "Prints the bootstrap address on the first line of stdout. Topics not listed are\n"
    "auto-created on first use. --control reads fault commands from FIFO, one a line:\n"
    "  broker down|up ID | leader TOPIC PARTITION BROKER | errors APIKEY CODE[,CODE...]\n";

struct Args {
  int brokers = 1;
  int partitions = 8;
  int replication = 1;
  std::vector<std::string> topics;
  std::string bootstrap_file;
  std::string control;
};

bool parse_int(const char* s, int lo, int hi, int* out) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (!*s || *end || v < lo || v > hi) return false;
  *out = static_cast<int>(v);
  return true;
}

// Returns 0 to run, or an exit status (1 bad usage, 0 after --help).
int parse_args(int argc, char** argv, Args* a) {
  for (int i = 1; i < argc; ++i) {
    std::string opt = argv[i];
    if (opt == "-h" || opt == "--help") {
      std::fputs(kUsage, stdout);
      return -1;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "strata-mock-kafka: %s needs a value\n%s", opt.c_str(), kUsage);
      return 1;
    }
    const char* val = argv[++i];
    if (opt == "--brokers") {
      if (!parse_int(val, 1, 99, &a->brokers)) {
        std::fprintf(stderr, "strata-mock-kafka: --brokers must be 1..99\n");
        return 1;
      }
    } else if (opt == "--partitions") {
      if (!parse_int(val, 1, 10000, &a->partitions)) {
        std::fprintf(stderr, "strata-mock-kafka: --partitions must be 1..10000\n");
        return 1;
      }
    } else if (opt == "--replication") {
      if (!parse_int(val, 1, 99, &a->replication)) {
        std::fprintf(stderr, "strata-mock-kafka: --replication must be 1..99\n");
        return 1;
      }
    } else if (opt == "--control") {
      a->control = val;
    } else if (opt == "--topics") {
      std::string s = val;
      size_t start = 0;
      while (start <= s.size()) {
        size_t comma = s.find(',', start);
        if (comma == std::string::npos) comma = s.size();
        if (comma > start) a->topics.push_back(s.substr(start, comma - start));
        start = comma + 1;
      }
    } else if (opt == "--bootstrap-file") {
      a->bootstrap_file = val;
    } else {
      std::fprintf(stderr, "strata-mock-kafka: unknown option %s\n%s", opt.c_str(), kUsage);
      return 1;
    }
  }
  return 0;
}

bool write_atomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text << "\n";
    if (!out.flush()) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

// One control command against the cluster; "" when applied, else why not.
std::string apply_command(rd_kafka_mock_cluster_t* cluster, const std::string& line) {
  std::istringstream in(line);
  std::string verb;
  in >> verb;
  if (verb == "broker") {
    std::string state;
    int id = 0;
    if (!(in >> state >> id) || (state != "down" && state != "up"))
      return "usage: broker down|up ID";
    rd_kafka_resp_err_t err = state == "down" ? rd_kafka_mock_broker_set_down(cluster, id)
                                              : rd_kafka_mock_broker_set_up(cluster, id);
    return err ? rd_kafka_err2str(err) : "";
  }
  if (verb == "leader") {
    std::string topic;
    int partition = 0, broker = 0;
    if (!(in >> topic >> partition >> broker)) return "usage: leader TOPIC PARTITION BROKER";
    rd_kafka_resp_err_t err =
        rd_kafka_mock_partition_set_leader(cluster, topic.c_str(), partition, broker);
    return err ? rd_kafka_err2str(err) : "";
  }
  if (verb == "errors") {
    int api_key = 0;
    std::string codes;
    if (!(in >> api_key >> codes)) return "usage: errors APIKEY CODE[,CODE...]";
    std::vector<rd_kafka_resp_err_t> errs;
    std::istringstream list(codes);
    std::string code;
    while (std::getline(list, code, ','))
      errs.push_back(static_cast<rd_kafka_resp_err_t>(std::atoi(code.c_str())));
    rd_kafka_mock_push_request_errors_array(cluster, static_cast<int16_t>(api_key), errs.size(),
                                            errs.data());
    return "";
  }
  if (verb == "clear") {
    int api_key = 0;
    if (!(in >> api_key)) return "usage: clear APIKEY";
    rd_kafka_mock_clear_request_errors(cluster, static_cast<int16_t>(api_key));
    return "";
  }
  return "unknown command";
}

// Reads commands from the FIFO until the process exits. Opened read-write so that writers
// coming and going never make it see end-of-file.
// Held by main from the moment the cluster is being destroyed until the process exits.
std::mutex g_control_mu;
bool g_stopping = false;

void serve_control(const std::string& path, rd_kafka_mock_cluster_t* cluster) {
  int fd = ::open(path.c_str(), O_RDWR);
  if (fd < 0) {
    std::fprintf(stderr, "strata-mock-kafka: cannot open %s\n", path.c_str());
    return;
  }
  std::string buf;
  char chunk[512];
  ssize_t n;
  while ((n = ::read(fd, chunk, sizeof chunk)) > 0) {
    buf.append(chunk, static_cast<size_t>(n));
    size_t eol;
    while ((eol = buf.find('\n')) != std::string::npos) {
      std::string line = buf.substr(0, eol);
      buf.erase(0, eol + 1);
      std::lock_guard<std::mutex> lock(g_control_mu);
      if (g_stopping) return;
      std::string why = apply_command(cluster, line);
      std::fprintf(stderr, "strata-mock-kafka: control: %s: %s\n", line.c_str(),
                   why.empty() ? "ok" : why.c_str());
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  int rc = parse_args(argc, argv, &args);
  if (rc != 0) return rc < 0 ? 0 : rc;

  // Block the stop signals before librdkafka starts its threads (they inherit the mask), then
  // wait for one synchronously: no async-signal-safety concerns.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The owner handle never connects anywhere; keep its "no bootstrap.servers" notice quiet.
  rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof errstr);
  rd_kafka_t* owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!owner) {
    std::fprintf(stderr, "strata-mock-kafka: %s\n", errstr);
    return 1;
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(owner, args.brokers);
  if (!cluster) {
    std::fprintf(stderr, "strata-mock-kafka: cannot create the mock cluster\n");
    rd_kafka_destroy(owner);
    return 1;
  }
  for (const auto& t : args.topics) {
    rd_kafka_resp_err_t err =
        rd_kafka_mock_topic_create(cluster, t.c_str(), args.partitions, args.replication);
    if (err) {
      std::fprintf(stderr, "strata-mock-kafka: cannot create topic %s: %s\n", t.c_str(),
                   rd_kafka_err2str(err));
      rd_kafka_mock_cluster_destroy(cluster);
      rd_kafka_destroy(owner);
      return 1;
    }
  }
  std::string bootstraps = rd_kafka_mock_cluster_bootstraps(cluster);
  if (!args.bootstrap_file.empty() && !write_atomically(args.bootstrap_file, bootstraps)) {
    std::fprintf(stderr, "strata-mock-kafka: cannot write %s\n", args.bootstrap_file.c_str());
    rd_kafka_mock_cluster_destroy(cluster);
    rd_kafka_destroy(owner);
    return 1;
  }
  std::printf("%s\n", bootstraps.c_str());
  std::fflush(stdout);
  std::fprintf(stderr,
               "strata-mock-kafka: %d broker(s) at %s, %zu topic(s) x %d partitions "
               "(produce with: kcat -P -b %s -t TOPIC -K:)\n",
               args.brokers, bootstraps.c_str(), args.topics.size(), args.partitions,
               bootstraps.c_str());

  // The control thread blocks in read(); it is never joined, only kept off the cluster once
  // the cluster is being destroyed.
  if (!args.control.empty()) std::thread(serve_control, args.control, cluster).detach();

  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::fprintf(stderr, "strata-mock-kafka: %s, shutting down\n",
               sig == SIGINT ? "SIGINT" : "SIGTERM");
  g_control_mu.lock();  // never unlocked: the control thread must not touch the cluster again
  g_stopping = true;
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(owner);
  return 0;
}

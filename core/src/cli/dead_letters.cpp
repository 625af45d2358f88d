// `strata dead-letters replay FILE -c CONFIG [--pipeline P] [--overwrite] [--skip-bad-lines]`:
// feeds a dead-letter file's records back through a pipeline once their cause is fixed (a
// script bug, a tier that refused a key). The pipeline runs alone in this process as for
// `strata replay` (replay_job.hpp), with the dead_letter_file source in place of its own: its
// hooks, policy and tiers see the records with their original coordinates, behind the replay
// gate, so no key is rolled back. Records that fail again go to the pipeline's dead-letter
// destinations with their new reason (docs/operations.md, "Replaying dead letters").
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include "cli/commands.hpp"
#include "cli/replay_job.hpp"
#include "pipeline/pipeline.hpp"

namespace strata::cli {
namespace {

constexpr const char* kSourceName = "dead_letters";
constexpr const char* kSourceModule = "dead_letter_file";

struct DeadLetterArgs {
  Args base;
  std::string file;
  bool overwrite = false;
  bool skip_bad_lines = false;
};

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

// The pipeline's configured dead_letter_file as the runtime opens it, or "".
std::string sink_file(const Config& cfg, const PipelineConfig& p) {
  std::string f = p.options.str("dead_letter_file");
  if (!f.empty() && f[0] != '/') f = cfg.dir + "/" + f;
  return f;
}

// The configuration cut to the pipeline, its source replaced by the file. `table` keeps the
// source's options alive for as long as the Config that points at it.
Result<std::shared_ptr<const Config>> narrow(Config cfg, const DeadLetterArgs& a,
                                             const std::shared_ptr<toml::table>& table,
                                             std::string* where_dead) {
  auto one = keep_one_pipeline(std::move(cfg), a.base.pipeline);
  if (!one) return fail(one.error());
  Config& c = one.value();
  PipelineConfig& p = c.pipelines.front();
  const std::string own = sink_file(c, p);
  if (!own.empty() && same_file(own, a.file))
    return fail(a.file + " is pipeline " + p.name +
                "'s dead_letter_file, which the live pipeline appends to: rotate it first (mv " +
                a.file + " " + a.file + ".1, then reload strata so that it opens a new " +
                a.file + ") and replay " + a.file + ".1");
  const std::string topic = p.options.str("dead_letter_topic");
  *where_dead = !own.empty() && !topic.empty() ? own + " and topic " + topic
                : !own.empty()                 ? own
                : !topic.empty()               ? "topic " + topic
                                               : "";
  table->insert_or_assign("module", kSourceModule);
  table->insert_or_assign("file", a.file);
  table->insert_or_assign("pipeline", p.name);
  table->insert_or_assign("skip_bad_lines", a.skip_bad_lines);
  InstanceConfig src;
  src.category = "sources";
  src.name = kSourceName;
  src.module = kSourceModule;
  src.pos = src.module_pos = {a.file, 0, 0};
  src.table = table.get();
  c.sources = {src};
  p.source = kSourceName;
  return std::make_shared<const Config>(std::move(c));
}

int dead_letters_replay(const DeadLetterArgs& a) {
  if (a.file.empty()) {
    std::fprintf(stderr, "strata dead-letters replay: FILE is required\n");
    return 2;
  }
  DeadLetterArgs args = a;
  std::error_code ec;
  args.file = std::filesystem::absolute(a.file, ec).lexically_normal().string();
  if (ec) args.file = a.file;
  auto table = std::make_shared<toml::table>();
  auto where_dead = std::make_shared<std::string>();
  ReplayJob job;
  job.command = "dead-letters replay";
  job.progress_job = "dead-letters";
  job.args = &args.base;
  job.from = "earliest";  // the whole file (the source reads nothing else)
  job.narrow = [&args, table, where_dead](Config cfg) {
    return narrow(std::move(cfg), args, table, where_dead.get());
  };
  job.before_start = [&args](Pipeline& p) { p.set_dead_letter_replay(args.overwrite); };
  job.summary = [&args, where_dead](Pipeline& p, const std::string& word) {
    const PipelineStats& s = p.stats();
    const uint64_t dead = s.dead_letters.load();
    std::printf(
        "dead-letters replay %s (pipeline %s): %s: %llu records, %llu durable writes, %llu "
        "refused (the key holds a newer or a live value), %llu dead letters again%s%s\n",
        args.file.c_str(), p.name().c_str(), word.c_str(), (unsigned long long)s.records.load(),
        (unsigned long long)s.keys_written.load(), (unsigned long long)s.stale_skipped.load(),
        (unsigned long long)dead,
        dead == 0              ? ""
        : where_dead->empty()  ? " (the pipeline has no dead-letter destination: they are in the "
                                 "log, and still in the file)"
                               : " (in ",
        dead == 0 || where_dead->empty() ? "" : (*where_dead + ")").c_str());
    return dead == 0 ? 0 : 4;
  };
  return run_replay_job(job);
}

}  // namespace

void add_dead_letters_command(CLI::App& app, Action& action) {
  CLI::App* group = app.add_subcommand("dead-letters", "work with a pipeline's dead letters");
  group->require_subcommand(1);
  auto a = std::make_shared<DeadLetterArgs>();
  CLI::App* cmd = group->add_subcommand(
      "replay",
      "feed a dead-letter file back through a pipeline once the cause is fixed: records that "
      "fail again stay dead letters; exit 0 done, 1 failed, 3 interrupted, 4 some records are "
      "dead letters again");
  add_config_option(*cmd, a->base);
  add_modules_dir_option(*cmd, a->base);
  cmd->add_option("FILE", a->file, "the dead-letter file (JSON lines, as dead_letter_file writes)")
      ->required();
  cmd->add_option("--pipeline", a->base.pipeline,
                  "which pipeline (default: the only one); only the file's lines of this "
                  "pipeline are replayed")
      ->type_name("NAME");
  cmd->add_flag("--overwrite", a->overwrite,
                "order = \"partition\" only: write each record even over a value the live "
                "pipeline stored (right only when no later record of those keys was applied)");
  cmd->add_flag("--skip-bad-lines", a->skip_bad_lines,
                "log and skip lines that are not dead-letter lines instead of refusing the file");
  cmd->add_option("--shutdown-timeout", a->base.shutdown_timeout,
                  "how long a stop on SIGINT/SIGTERM may take (default 25s, 0 = no limit)")
      ->type_name("DURATION");
  cmd->callback([a, &action] { action = [a] { return dead_letters_replay(*a); }; });
}

}  // namespace strata::cli

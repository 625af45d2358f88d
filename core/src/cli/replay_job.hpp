// What `strata replay` and `strata dead-letters replay` share (replay.cpp): one pipeline of a
// configuration, alone in this process, in replay mode behind a ReplayGate, followed with a
// progress bar until its source has delivered its whole range, then stopped within
// --shutdown-timeout. Each command says how to cut the configuration down and what to print.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "cli/commands.hpp"
#include "common/result.hpp"
#include "config/config.hpp"

namespace strata {
class Pipeline;
}

namespace strata::cli {

struct ReplayJob {
  std::string command;        // "replay", "dead-letters replay": messages and the log
  std::string progress_job;   // job= of the progress lines: "replay", "dead-letters"
  const Args* args = nullptr;  // -c, --modules-dir, --group, --shutdown-timeout
  std::string from;           // strata_source_replay.from
  // The parsed configuration -> what the runtime builds (exactly one pipeline).
  std::function<Result<std::shared_ptr<const Config>>(Config)> narrow;
  // After the build, before the source is asked to replay.
  std::function<void(Pipeline&)> before_start;
  // Prints the summary; returns the exit code when the replay itself ended well.
  std::function<int(Pipeline&, const std::string& word)> summary;
};

// Only pipeline `name` ("" = the only one) and its source; no front, no admin listener: another
// pipeline's source would join that pipeline's live group, and the fronts and the admin port
// belong to the live process.
Result<Config> keep_one_pipeline(Config cfg, const std::string& name);

// Exit codes: 0 done (or the summary's code), 1 failed, 2 usage, 3 interrupted.
int run_replay_job(const ReplayJob& job);

}  // namespace strata::cli

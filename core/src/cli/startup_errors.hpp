// `strata run`'s configuration errors before anything ran: in the log format the file asks for
// when its top-level log_format can still be read (one JSON object per line, which a log
// collector parses like every other line), else as the plain `FILE:LINE:COL: message` lines
// `strata check` prints.
#pragma once

#include <string>

namespace strata::cli {

// `errors`: Diagnostics::str(), one diagnostic per line.
void report_startup_errors(const std::string& config_path, const std::string& errors);

}  // namespace strata::cli

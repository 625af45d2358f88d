// `strata replay --from`: earliest | a timestamp (RFC 3339 or epoch milliseconds) |
// PARTITION:OFFSET,... -> the source's replay spec (strata_source_replay.from). Used by
// replay.cpp; tested in tests/cli/replay_test.cpp.
#pragma once

#include <string>

namespace strata::cli {

// "earliest" -> "earliest"; "1700000000000" or "2026-12-02T05:00:00Z" (also with fractional
// seconds and a +HH:MM offset) -> "timestamp:MS"; "0:120,3:0" -> "offsets:0:120,3:0".
// False (and `why`) when none fits.
bool parse_replay_from(const std::string& text, std::string* spec, std::string* why);

}  // namespace strata::cli

// Where a redis_bus subscriber stands in the stream, and how that survives a restart: the id
// of the last entry whose keys were deleted from L1, and how many entries the stream had ever
// been given up to it (Redis 7's entries-added, counted on by one per entry applied), kept in
// `state_file` (written to a temp file, fsynced, renamed). An older file than the truth only
// replays deletes, which is harmless; a newer one is never written (the state is saved after
// the deletes completed). Used by redis_bus.cpp and stream_link.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace redis_bus {

// A stream entry id "ms-seq".
struct EntryId {
  uint64_t ms = 0, seq = 0;
  bool operator<(const EntryId& o) const { return ms != o.ms ? ms < o.ms : seq < o.seq; }
  bool operator==(const EntryId& o) const { return ms == o.ms && seq == o.seq; }
  bool operator>(const EntryId& o) const { return o < *this; }
  std::string str() const { return std::to_string(ms) + "-" + std::to_string(seq); }
};

// "123-4" (or "123", seq 0); nullopt when it is not an id.
std::optional<EntryId> parse_id(const std::string& text);

struct Position {
  EntryId last;        // 0-0: before the first entry
  uint64_t added = 0;  // the stream's entries-added when `last` was its newest entry
};

// The position in `path`; nullopt when the file is missing or unreadable (`why` says which).
std::optional<Position> load_position(const std::string& path, std::string* why);

// Writes `path` atomically (temp file, fsync, rename). False with `why` on failure.
bool save_position(const std::string& path, const Position& p, std::string* why);

}  // namespace redis_bus

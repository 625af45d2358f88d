// The subscriber's position and its state file: see bus_state.hpp.
#include "bus_state.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace redis_bus {
namespace {

bool parse_u64(const char* b, const char* e, uint64_t* out) {
  if (b == e) return false;
  auto r = std::from_chars(b, e, *out);
  return r.ec == std::errc() && r.ptr == e;
}

// The file's one line: "strata-bus 1 <last id> <entries added>".
constexpr const char* kMagic = "strata-bus";

}  // namespace

std::optional<EntryId> parse_id(const std::string& text) {
  EntryId id;
  const char* b = text.data();
  const char* e = b + text.size();
  const char* dash = static_cast<const char*>(std::memchr(b, '-', text.size()));
  if (!dash) return parse_u64(b, e, &id.ms) ? std::optional<EntryId>(id) : std::nullopt;
  if (!parse_u64(b, dash, &id.ms) || !parse_u64(dash + 1, e, &id.seq)) return std::nullopt;
  return id;
}

std::optional<Position> load_position(const std::string& path, std::string* why) {
  std::ifstream in(path);
  if (!in) {
    *why = "no state file " + path;
    return std::nullopt;
  }
  std::string magic, version, id, added;
  in >> magic >> version >> id >> added;
  Position p;
  std::optional<EntryId> last = parse_id(id);
  if (magic != kMagic || version != "1" || !last ||
      !parse_u64(added.data(), added.data() + added.size(), &p.added)) {
    *why = "state file " + path + " is not a strata-bus state";
    return std::nullopt;
  }
  p.last = *last;
  return p;
}

bool save_position(const std::string& path, const Position& p, std::string* why) {
  const std::string tmp = path + ".tmp";
  const std::string text =
      std::string(kMagic) + " 1 " + p.last.str() + " " + std::to_string(p.added) + "\n";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    *why = "cannot write " + tmp + ": " + std::strerror(errno);
    return false;
  }
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ok && ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    *why = "cannot write " + path + ": " + std::strerror(ok ? errno : err);
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace redis_bus

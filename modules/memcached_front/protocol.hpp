// The memcached protocol as pure code: an incremental parser that turns a connection's input
// bytes into requests (text and meta commands), and the encoders for their replies. No I/O and
// no strata ABI here, so the parser is unit-tested and fuzzed on its own; the server
// (connection.cpp) feeds it and commands.cpp maps requests onto the tier chain.
//
// The spec is memcached's doc/protocol.txt; where it is vague the byte-exact behaviour of
// memcached 1.6.18 is followed (error strings, which codes meta `q` hides, which malformed
// lines swallow their data block).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mcfront {

enum class Cmd : uint8_t {
  None,   // bytes were consumed with nothing to answer (the data block of a refused value)
  Error,  // a malformed request: `reply` is the exact line to send
  Get, Gets, Gat, Gats,
  Set, Add, Replace, Append, Prepend, Cas,
  Delete, Incr, Decr, Touch,
  Version, Stats, Verbosity, FlushAll, Quit,
  MetaGet, MetaSet, MetaDelete, MetaArith, MetaNoop, MetaDebug
};

const char* cmd_name(Cmd c);  // "get", "ms", ... (metrics label)
bool is_retrieval(Cmd c);     // get gets gat gats
bool is_meta(Cmd c);

// The meta flags of one mg/ms/md/ma/me request.
struct MetaFlags {
  std::string ret;          // return flags in request order, from "bcfkOstv" (and 'q' is not)
  std::string key_token;    // the key as sent (base64 when b): what `k` echoes
  std::string opaque;       // O(token)
  bool base64 = false;      // b
  bool value = false;       // v
  bool quiet = false;       // q
  bool has_ttl = false;     // T(token)
  int64_t ttl = 0;          //   seconds, memcached's exptime meaning
  bool has_cas = false;     // C(token)
  uint64_t compare_cas = 0;
  bool has_flags = false;   // F(token)
  uint32_t client_flags = 0;
  char mode = 0;            // M(token): ms E A P R S; ma I + D -
  bool has_delta = false;   // D(token)
  uint64_t delta = 1;
  bool has_vivify = false;  // N(token): vivify on miss with this TTL
  int64_t vivify_ttl = 0;
  uint64_t initial = 0;     // J(token)
  char unsupported = 0;     // the first flag the front cannot keep memcached's meaning of
};

struct Request {
  Cmd cmd = Cmd::None;
  std::vector<std::string> keys;  // retrieval: every key; the others: keys[0]
  std::string value;              // storage: the data block
  uint32_t flags = 0;             // client flags
  int64_t exptime = 0;            // as sent: 0 never, < 0 expired, > 30 days a unix time
  uint64_t number = 0;            // cas unique, incr/decr delta, verbosity level
  bool noreply = false;
  bool close = false;             // close the connection once this reply is out
  std::string reply;              // Cmd::Error: the line to send, with its \r\n
  MetaFlags meta;
  void clear();
};

struct Limits {
  size_t max_key = 250;                   // memcached's KEY_MAX_LENGTH
  size_t max_line = 2048;                 // a command line (memcached closes past 2048)
  size_t max_retrieval_line = 64 * 1024;  // get/gets/gat/gats with many keys
  size_t max_value = 1024 * 1024;         // a data block (memcached's -I default)
};

class Parser {
 public:
  explicit Parser(Limits limits = {}) : limits_(limits) {}
  // Parses the request at the front of in[0, len). Returns the bytes consumed, 0 when the
  // request is not complete yet (nothing consumed). `req` is filled when the return is > 0.
  size_t next(const char* in, size_t len, Request& req);
  const Limits& limits() const { return limits_; }

 private:
  size_t parse_line(std::string_view line, size_t line_bytes, const char* in, size_t len,
                    Request& req);
  size_t parse_storage(size_t line_bytes, const char* in, size_t len, Request& req);
  size_t parse_meta_set(size_t line_bytes, const char* in, size_t len, Request& req);
  size_t read_data(size_t line_bytes, int64_t bytes, const char* in, size_t len, Request& req);
  void parse_retrieval(Request& req);
  void parse_simple(Request& req);  // delete incr decr touch verbosity flush_all stats
  bool parse_meta_flags(size_t first, Request& req);

  Limits limits_;
  uint64_t swallow_ = 0;                 // data bytes of a refused value still to skip
  std::vector<std::string_view> tok_;    // tokens of the current line (reused)
};

// Seconds as memcached means them (0 never, < 0 already expired, > 30 days a unix time) to the
// chain's TTL in ms (< 0 never, > 0 relative). Returns false when the item is already expired.
bool exptime_to_ttl_ms(int64_t exptime, int64_t now_unix_ms, int64_t& ttl_ms);

bool valid_base64(std::string_view in);
bool base64_decode(std::string_view in, std::string& out);
std::string base64_encode(std::string_view in);

// Reply encoders: each appends to `out`.
void append_value(std::string& out, std::string_view key, uint32_t flags, std::string_view data,
                  bool with_cas, uint64_t cas);
void append_u64(std::string& out, uint64_t v);
void append_i64(std::string& out, int64_t v);

// What a meta reply reports about an item (mg hit, ms/ma success).
struct MetaItem {
  bool found = false;
  std::string_view data;
  uint32_t flags = 0;
  uint64_t cas = 0;
  int64_t ttl_s = -1;  // -1: no expiry or unknown
};
// `code` is "VA", "HD", "EN", "NS", "EX", "NF". Returns false (and appends nothing) when `q`
// hides this code for this command.
bool append_meta(std::string& out, Cmd cmd, const MetaFlags& f, std::string_view code,
                 const MetaItem& item);

}  // namespace mcfront

// How redis_l2 keeps memcached client flags (strata_tier_op.flags) in the value key itself.
// A value written with flags != 0 is stored as an envelope:
//
//   kMagic (8 bytes: 00 'S' 'T' 'R' 'A' 'T' 'A' 01) | flags (4 bytes, big-endian) | value
//
// A value written with flags 0 is stored as its bytes alone, exactly as plain Redis clients
// expect (every pipeline write), with one exception that keeps the encoding unambiguous: a
// flags-0 value whose bytes themselves start with kMagic is stored in an envelope with flags
// 0, so it reads back byte for byte instead of being taken for an envelope. Reads strip a
// valid envelope (kMagic and at least the 4 flag bytes) and hand back its flags; anything
// else (shorter, or a partial magic) is a plain value with flags 0. See docs/redis_l2.md,
// "Client flags".
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace redis_l2 {

inline constexpr std::string_view kMagic{"\0STRATA\x01", 8};
inline constexpr size_t kEnvelopeHeader = 12;  // kMagic + 4 flag bytes

// True when `v` (the bytes to store) must be enveloped: flags != 0, or the bytes would be
// mistaken for an envelope on read.
inline bool needs_envelope(uint32_t flags, std::string_view v) {
  return flags != 0 || (v.size() >= kMagic.size() && v[0] == '\0' &&
                        std::memcmp(v.data(), kMagic.data(), kMagic.size()) == 0);
}

// The 12-byte header of an envelope with `flags`.
inline std::string envelope_header(uint32_t flags) {
  std::string h(kMagic);
  h.push_back(static_cast<char>((flags >> 24) & 0xff));
  h.push_back(static_cast<char>((flags >> 16) & 0xff));
  h.push_back(static_cast<char>((flags >> 8) & 0xff));
  h.push_back(static_cast<char>(flags & 0xff));
  return h;
}

// What a plain write stores: `v` itself when no envelope is needed (the caller then sends `v`
// without a copy), else header + v.
inline std::string enveloped(uint32_t flags, std::string_view v) {
  std::string out = envelope_header(flags);
  out.append(v);
  return out;
}

// A stored value read back: the client's bytes and flags.
struct Unwrapped {
  std::string_view payload;
  uint32_t flags = 0;
};

inline Unwrapped unwrap(const char* data, size_t len) {
  if (len < kEnvelopeHeader || data[0] != '\0' ||
      std::memcmp(data, kMagic.data(), kMagic.size()) != 0)
    return {std::string_view(data, len), 0};
  const auto* f = reinterpret_cast<const unsigned char*>(data + kMagic.size());
  uint32_t flags =
      (uint32_t(f[0]) << 24) | (uint32_t(f[1]) << 16) | (uint32_t(f[2]) << 8) | uint32_t(f[3]);
  return {std::string_view(data + kEnvelopeHeader, len - kEnvelopeHeader), flags};
}

}  // namespace redis_l2

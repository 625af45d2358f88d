// Redis Cluster key slots: CRC16 (XMODEM: polynomial 0x1021, init 0, no reflection, as the
// Redis Cluster specification's keyHashSlot) of the key, or of its hash tag (the bytes between
// the first '{' and the first '}' after it, when not empty), modulo 16384. Used by the cluster
// router (cluster_router.hpp) and by the command planner to keep one script or transaction in
// one slot.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace redis_l2 {

constexpr uint16_t kClusterSlots = 16384;

namespace detail {
constexpr std::array<uint16_t, 256> crc16_table() {
  std::array<uint16_t, 256> t{};
  for (unsigned i = 0; i < 256; ++i) {
    uint16_t crc = static_cast<uint16_t>(i << 8);
    for (int b = 0; b < 8; ++b)
      crc = static_cast<uint16_t>(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
    t[i] = crc;
  }
  return t;
}
inline constexpr std::array<uint16_t, 256> kCrc16Table = crc16_table();
}  // namespace detail

constexpr uint16_t crc16(std::string_view s) {
  uint16_t crc = 0;
  for (char ch : s)
    crc = static_cast<uint16_t>(
        (crc << 8) ^ detail::kCrc16Table[((crc >> 8) ^ static_cast<uint8_t>(ch)) & 0xff]);
  return crc;
}

// The part of `key` that is hashed: its hash tag if it has a non-empty one, else all of it.
constexpr std::string_view hash_tag_of(std::string_view key) {
  size_t open = key.find('{');
  if (open == std::string_view::npos) return key;
  size_t close = key.find('}', open + 1);
  if (close == std::string_view::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

constexpr uint16_t key_slot(std::string_view key) {
  return crc16(hash_tag_of(key)) & (kClusterSlots - 1);
}

// A short tag (1 to 4 characters of [0-9A-Za-z]) whose slot is `slot`, the same for every
// process: "{" + slot_tag(s) + "}" in a key puts that key into slot s. Computed once.
const std::string& slot_tag(uint16_t slot);

}  // namespace redis_l2

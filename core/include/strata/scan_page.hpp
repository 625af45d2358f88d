// strata C++ SDK: the scan page a STRATA_TIER_SCAN answers with (layout in strata.h), written
// by a tier module (ScanPageWriter) and read by the host (parse_scan_page). Header-only.
#pragma once

#include <strata/strata.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace strata {

namespace detail {
inline void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline bool get_le(std::string_view& in, int bytes, uint64_t* v) {
  if (in.size() < static_cast<size_t>(bytes)) return false;
  *v = 0;
  for (int i = 0; i < bytes; ++i)
    *v |= uint64_t(static_cast<unsigned char>(in[static_cast<size_t>(i)])) << (8 * i);
  in.remove_prefix(static_cast<size_t>(bytes));
  return true;
}
}  // namespace detail

// Builds a page: the header first, then entries; bytes() is what goes to op_set_value().
class ScanPageWriter {
 public:
  ScanPageWriter(std::string_view cursor, uint64_t keys_total, uint32_t skipped) {
    detail::put_le(buf_, cursor.size(), 4);
    buf_.append(cursor);
    detail::put_le(buf_, keys_total, 8);
    skipped_at_ = buf_.size();
    detail::put_le(buf_, skipped, 4);
    count_at_ = buf_.size();
    detail::put_le(buf_, 0, 4);
  }
  void add(std::string_view key, std::string_view value, uint32_t flags, int64_t ttl_ms) {
    detail::put_le(buf_, key.size(), 4);
    detail::put_le(buf_, value.size(), 4);
    detail::put_le(buf_, flags, 4);
    detail::put_le(buf_, static_cast<uint64_t>(ttl_ms), 8);
    buf_.append(key);
    buf_.append(value);
    patch(count_at_, ++count_);
  }
  // The header's `skipped`, when it is known only after the entries.
  void set_skipped(uint32_t skipped) { patch(skipped_at_, skipped); }
  const std::string& bytes() const { return buf_; }

 private:
  void patch(size_t at, uint32_t v) {
    for (size_t i = 0; i < 4; ++i) buf_[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
  }
  std::string buf_;
  size_t skipped_at_ = 0, count_at_ = 0;
  uint32_t count_ = 0;
};

struct ScanEntry {
  std::string_view key, value;  // point into the page's bytes
  uint32_t flags = 0;
  int64_t ttl_ms = 0;
};

struct ScanPage {
  std::string_view cursor;  // empty: the iteration is over
  uint64_t keys_total = STRATA_SCAN_TOTAL_UNKNOWN;
  uint32_t skipped = 0;
  std::vector<ScanEntry> entries;
};

// False when `bytes` is not a well-formed page (short, or lengths past its end).
inline bool parse_scan_page(std::string_view bytes, ScanPage* page) {
  uint64_t n = 0, count = 0, skipped = 0;
  if (!detail::get_le(bytes, 4, &n) || n > bytes.size()) return false;
  page->cursor = bytes.substr(0, n);
  bytes.remove_prefix(n);
  if (!detail::get_le(bytes, 8, &page->keys_total) || !detail::get_le(bytes, 4, &skipped) ||
      !detail::get_le(bytes, 4, &count))
    return false;
  page->skipped = static_cast<uint32_t>(skipped);
  page->entries.clear();
  // Each entry takes at least 20 bytes: a count beyond that cannot be honest.
  if (count > bytes.size() / 20 + 1) return false;
  page->entries.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t klen = 0, vlen = 0, flags = 0, ttl = 0;
    if (!detail::get_le(bytes, 4, &klen) || !detail::get_le(bytes, 4, &vlen) ||
        !detail::get_le(bytes, 4, &flags) || !detail::get_le(bytes, 8, &ttl) ||
        klen > bytes.size() || vlen > bytes.size() - klen)
      return false;
    ScanEntry e;
    e.key = bytes.substr(0, klen);
    e.value = bytes.substr(klen, vlen);
    e.flags = static_cast<uint32_t>(flags);
    e.ttl_ms = static_cast<int64_t>(ttl);
    bytes.remove_prefix(klen + vlen);
    page->entries.push_back(e);
  }
  return bytes.empty();
}

}  // namespace strata

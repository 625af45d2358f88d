// Diagnostics (FILE:LINE:COL: message) and the small text helpers every message uses:
// positions of toml++ nodes, type names, and "did you mean" suggestions.
#include <algorithm>
#include <functional>
#include <tuple>

#include "config/config.hpp"
#include "config/internal.hpp"

namespace strata {

std::string Diagnostic::str() const {
  if (pos.line <= 0) return pos.file + ": " + message;
  return pos.file + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.col) + ": " + message;
}

void Diagnostics::add(SourcePos pos, std::string message) {
  // The same check may run twice over one section (validate_instance and tier_host_options
  // both see a tier's host keys); report each problem once. Hashed: a file with 50,000 errors
  // must not compare each with all the others.
  size_t h = std::hash<std::string>{}(message);
  h ^= std::hash<std::string>{}(pos.file) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h ^= (static_cast<size_t>(pos.line) << 20) ^ static_cast<size_t>(pos.col);
  auto [first, last] = seen_.equal_range(h);
  for (auto it = first; it != last; ++it) {
    const Diagnostic& d = items_[it->second];
    if (d.message == message && d.pos.line == pos.line && d.pos.col == pos.col &&
        d.pos.file == pos.file)
      return;
  }
  seen_.emplace(h, items_.size());
  items_.push_back(Diagnostic{std::move(pos), std::move(message)});
}

std::string Diagnostics::str() const {
  std::vector<const Diagnostic*> sorted;
  sorted.reserve(items_.size());
  for (const Diagnostic& d : items_) sorted.push_back(&d);
  auto by_pos = [](const Diagnostic* a, const Diagnostic* b) {
    return std::tie(a->pos.file, a->pos.line, a->pos.col) <
           std::tie(b->pos.file, b->pos.line, b->pos.col);
  };
  size_t shown = std::min(sorted.size(), kMaxPrinted);
  // Stable: equal positions keep the order they were found in.
  std::stable_sort(sorted.begin(), sorted.end(), by_pos);
  std::string out;
  for (size_t i = 0; i < shown; ++i) out += sorted[i]->str() + "\n";
  if (sorted.size() > shown) {
    size_t more = sorted.size() - shown;
    out += sorted[shown]->pos.file + ": ... and " + std::to_string(more) + " more error" +
           (more == 1 ? "" : "s") + "\n";
  }
  return out;
}

namespace {

// Optimal string alignment distance: Levenshtein plus adjacent transpositions ("prot" is one
// edit from "port"), the typos people actually make. Three rolling rows: called once per
// unknown key and candidate, so it must not allocate a matrix each time.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev2(b.size() + 1), prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
    }
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

std::string closest_name(const std::string& word, const std::vector<std::string>& candidates) {
  // A typo is at most a third of the word (and at most 3 edits); beyond that a suggestion is
  // more confusing than helpful.
  size_t limit = std::min<size_t>(3, std::max<size_t>(1, word.size() / 3));
  std::string best;
  size_t best_d = limit + 1;
  for (const std::string& c : candidates) {
    // The distance is at least the difference in length: skip the work (a long key against
    // short names would otherwise cost length x length).
    size_t gap = word.size() > c.size() ? word.size() - c.size() : c.size() - word.size();
    if (gap >= best_d) continue;
    size_t d = edit_distance(word, c);
    if (d < best_d && d < std::max(c.size(), word.size())) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

namespace config_detail {

SourcePos pos_of(const toml::node& node, const std::string& file) {
  const auto& r = node.source();
  return SourcePos{file, static_cast<int>(r.begin.line), static_cast<int>(r.begin.column)};
}

SourcePos pos_of(const toml::key& key, const std::string& file) {
  const auto& r = key.source();
  return SourcePos{file, static_cast<int>(r.begin.line), static_cast<int>(r.begin.column)};
}

std::string toml_type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return "array";
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
    default:
      return "nothing";
  }
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best = closest_name(word, candidates);
  return best.empty() ? "" : " (did you mean '" + best + "'?)";
}

}  // namespace config_detail
}  // namespace strata

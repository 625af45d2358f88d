#include "markdown.hpp"

#include <regex>
#include <sstream>

namespace strata::docs_test {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

std::vector<std::string> words_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

bool is_fence(const std::string& line) { return trim(line).rfind("```", 0) == 0; }

// The marker text of the comment on the last non-blank line before `fence`, or "".
std::string marker_before(const std::vector<std::string>& lines, size_t fence) {
  static const std::regex comment(R"(^\s*<!--\s*check:\s*(.*?)\s*-->\s*$)");
  for (size_t i = fence; i-- > 0;) {
    if (trim(lines[i]).empty()) continue;
    std::smatch m;
    return std::regex_match(lines[i], m, comment) ? m[1].str() : std::string();
  }
  return "";
}

// `words` of a shell line if its command is strata, else empty.
std::vector<std::string> shell_strata_words(const std::string& line) {
  std::vector<std::string> w = words_of(line);
  size_t i = 0;
  if (i < w.size() && w[i] == "$") ++i;
  static const std::regex assignment(R"(^[A-Za-z_][A-Za-z0-9_]*=.*)");
  while (i < w.size() && std::regex_match(w[i], assignment)) ++i;
  if (i >= w.size()) return {};
  const std::string& cmd = w[i];
  if (cmd != "strata" && !(cmd.size() > 7 && cmd.compare(cmd.size() - 7, 7, "/strata") == 0))
    return {};
  return {w.begin() + static_cast<long>(i) + 1, w.end()};
}

}  // namespace

std::vector<TomlBlock> toml_blocks(const std::string& text) {
  std::vector<TomlBlock> out;
  std::vector<std::string> lines = lines_of(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!is_fence(lines[i])) continue;
    bool toml = trim(lines[i]) == "```toml";
    TomlBlock b{static_cast<int>(i) + 1, "", toml ? marker_before(lines, i) : ""};
    for (++i; i < lines.size() && !is_fence(lines[i]); ++i) b.text += lines[i] + "\n";
    if (toml) out.push_back(b);
  }
  return out;
}

Marker parse_marker(const std::string& marker) {
  Marker m;
  static const std::regex fragment(R"(^fragment,\s*with\s+(.+)$)");
  static const std::regex invalid(R"re(^invalid\s+"([^"]+)"$)re");
  std::smatch g;
  if (marker.empty()) return m;
  if (std::regex_match(marker, g, fragment)) {
    m.kind = Marker::Kind::Fragment;
    m.with = words_of(g[1].str());
  } else if (std::regex_match(marker, g, invalid)) {
    m.kind = Marker::Kind::Invalid;
    m.expected = g[1].str();
  } else {
    m.kind = Marker::Kind::Malformed;
    m.problem =
        "marker '" + marker + "' is neither 'fragment, with SECTION...' nor 'invalid \"MESSAGE\"'";
  }
  return m;
}

std::vector<CommandLine> strata_commands(const std::string& text) {
  std::vector<CommandLine> out;
  std::vector<std::string> lines = lines_of(text);
  std::string paragraph;  // prose since the last blank line or fence, lines joined by spaces
  int paragraph_line = 0;
  std::vector<int> starts;  // offset in `paragraph` where each joined line begins
  auto flush = [&] {
    // Inline code: the pieces between backtick pairs of the paragraph.
    for (size_t open = paragraph.find('`'); open != std::string::npos;) {
      size_t close = paragraph.find('`', open + 1);
      if (close == std::string::npos) break;
      std::string span = paragraph.substr(open + 1, close - open - 1);
      for (size_t bar = span.find("\\|"); bar != std::string::npos; bar = span.find("\\|", bar))
        span.erase(bar, 1);  // a table cell's escaped `get\|set`
      if (span.rfind("strata ", 0) == 0) {
        int line = paragraph_line;
        for (size_t k = 0; k < starts.size(); ++k)
          if (static_cast<size_t>(starts[k]) <= open) line = paragraph_line + static_cast<int>(k);
        std::vector<std::string> w = words_of(span);
        out.push_back({line, {w.begin() + 1, w.end()}});
      }
      open = paragraph.find('`', close + 1);
    }
    paragraph.clear();
    starts.clear();
  };
  for (size_t i = 0; i < lines.size(); ++i) {
    if (is_fence(lines[i])) {
      flush();
      std::string lang = trim(lines[i]).substr(3);
      bool shell =
          lang.empty() || lang == "sh" || lang == "console" || lang == "bash" || lang == "shell";
      for (++i; i < lines.size() && !is_fence(lines[i]); ++i) {
        std::vector<std::string> w =
            shell ? shell_strata_words(lines[i]) : std::vector<std::string>{};
        if (!w.empty()) out.push_back({static_cast<int>(i) + 1, w});
      }
      continue;
    }
    if (trim(lines[i]).empty()) {
      flush();
      continue;
    }
    if (paragraph.empty()) paragraph_line = static_cast<int>(i) + 1;
    starts.push_back(static_cast<int>(paragraph.size()));
    paragraph += lines[i] + " ";
  }
  flush();
  return out;
}

std::vector<std::string> options_of(const CommandLine& c) {
  std::vector<std::string> out;
  static const std::regex option(R"(^\[?(--?[A-Za-z][A-Za-z0-9-]*))");
  for (const std::string& w : c.words) {
    if (w == "--") break;  // the words after it are values, even when they start with '-'
    std::string rest = w;
    for (size_t bar; !rest.empty(); rest = bar == std::string::npos ? "" : rest.substr(bar + 1)) {
      bar = rest.find('|');
      std::string alt = rest.substr(0, bar);
      std::smatch m;
      if (std::regex_search(alt, m, option)) out.push_back(m[1].str());
    }
  }
  return out;
}

}  // namespace strata::docs_test

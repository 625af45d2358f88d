// The nesting bound checked on the raw text before toml++ sees it. toml++ limits nested arrays
// and inline tables (256) but not dotted keys: `a.a.a....= 1` with 50,000 parts builds 50,000
// nested tables and overflows the stack (in the parser, in its destructor and in every walk of
// ours). A cheap lexical scan measures how deep the document would nest and refuses it first.
//
// The scan follows TOML's lexical rules for strings, comments and keys. Where it and toml++ could
// disagree the text is not valid TOML, so toml++ stops with a syntax error at or before that
// point: the depth it reaches there is never more than what the scan counted so far.
#include <string_view>
#include <vector>

#include "config/internal.hpp"

namespace strata::config_detail {
namespace {

class NestingScan {
 public:
  NestingScan(std::string_view text, int limit) : t_(text), limit_(limit) {}

  // True when the text stays within the limit; otherwise `where` and `depth` tell where it
  // first went past it.
  bool run(int* line, int* col) {
    while (i_ < t_.size()) {
      if (!step()) {
        *line = bad_line_;
        *col = bad_col_;
        return false;
      }
    }
    return true;
  }

 private:
  struct Open {
    char kind;  // '[' or '{'
    int depth;  // depth of the array or inline table itself
  };

  char at(size_t k) const { return k < t_.size() ? t_[k] : '\0'; }
  bool starts(std::string_view s) const { return t_.substr(i_, s.size()) == s; }

  // Advances one byte, keeping line and column (columns count UTF-8 characters, as toml++'s).
  void advance() {
    unsigned char c = static_cast<unsigned char>(t_[i_++]);
    if (c == '\n') {
      ++line_;
      col_ = 1;
    } else if ((c & 0xC0) != 0x80) {
      ++col_;
    }
  }
  void advance(size_t n) {
    for (size_t k = 0; k < n && i_ < t_.size(); ++k) advance();
  }

  bool too_deep(int depth) {
    if (depth <= limit_) return false;
    bad_line_ = line_;
    bad_col_ = col_;
    return true;
  }

  void skip_comment() {
    while (i_ < t_.size() && t_[i_] != '\n') advance();
  }

  // At an opening quote: skips the whole string. Multi-line strings may end in up to two extra
  // quotes that belong to the content (`"""a""""` is `a"`), so a closing run is taken whole.
  void skip_string() {
    char q = t_[i_];
    bool basic = q == '"';
    if (at(i_ + 1) == q && at(i_ + 2) == q) {
      advance(3);
      while (i_ < t_.size()) {
        if (basic && t_[i_] == '\\') {
          advance(2);
        } else if (t_[i_] == q && at(i_ + 1) == q && at(i_ + 2) == q) {
          size_t run = 0;
          while (run < 5 && at(i_ + run) == q) ++run;
          advance(run);
          return;
        } else {
          advance();
        }
      }
      return;
    }
    advance();
    while (i_ < t_.size() && t_[i_] != '\n') {
      if (basic && t_[i_] == '\\') {
        advance(2);
        continue;
      }
      if (t_[i_] == q) {
        advance();
        return;
      }
      advance();
    }
  }

  // Counts the parts of a key (bare or quoted, separated by '.') up to `end` ('=' for a key,
  // ']' for a table header), stopping before it. The table a key's value lands in is `base`
  // deep; each part nests one level further.
  bool scan_key(int base, char end, int* parts) {
    *parts = 1;
    while (i_ < t_.size() && t_[i_] != end && t_[i_] != '\n') {
      char c = t_[i_];
      if (c == '"' || c == '\'') {
        skip_string();
      } else if (c == '.') {
        ++*parts;
        if (too_deep(base + *parts)) return false;
        advance();
      } else if (c == '#') {
        return true;  // a syntax error for toml++; nothing deeper can follow on this line
      } else {
        advance();
      }
    }
    return !too_deep(base + *parts);
  }

  // One token at the current position.
  bool step() {
    char c = t_[i_];
    if (c == ' ' || c == '\t' || c == '\r') {
      advance();
      return true;
    }
    if (c == '#') {
      skip_comment();
      return true;
    }
    if (c == '\n') {
      if (stack_.empty()) expect_key_ = true;  // a top-level value ends with its line
      advance();
      return true;
    }
    if (expect_key_) return key_or_header();
    return value_token();
  }

  bool key_or_header() {
    bool top = stack_.empty();
    if (top && t_[i_] == '[') {
      bool array_of_tables = at(i_ + 1) == '[';
      advance(array_of_tables ? 2 : 1);
      int parts = 0;
      if (!scan_key(array_of_tables ? 1 : 0, ']', &parts)) return false;
      // The elements of an array of tables sit one level below the array.
      header_depth_ = parts + (array_of_tables ? 1 : 0);
      while (i_ < t_.size() && t_[i_] == ']') advance();
      return true;
    }
    if (!top && stack_.back().kind == '{' && t_[i_] == '}') return value_token();
    int base = top ? header_depth_ : stack_.back().depth;
    int parts = 0;
    if (!scan_key(base, '=', &parts)) return false;
    if (at(i_) == '=') advance();
    value_depth_ = base + parts;
    expect_key_ = false;
    return true;
  }

  bool value_token() {
    char c = t_[i_];
    if (c == '"' || c == '\'') {
      skip_string();
      return true;
    }
    if (c == '[' || c == '{') {
      // An element of an array nests one below it; the value of a key sits where the key put it.
      int depth =
          !stack_.empty() && stack_.back().kind == '[' ? stack_.back().depth + 1 : value_depth_;
      if (too_deep(depth)) return false;
      stack_.push_back(Open{c, depth});
      advance();
      if (c == '{') expect_key_ = true;
      return true;
    }
    if (c == ']' || c == '}') {
      if (!stack_.empty()) stack_.pop_back();
      advance();
      expect_key_ = false;
      return true;
    }
    if (c == ',') {
      if (!stack_.empty() && stack_.back().kind == '{') expect_key_ = true;
      advance();
      return true;
    }
    advance();
    return true;
  }

  std::string_view t_;
  int limit_;
  size_t i_ = 0;
  int line_ = 1, col_ = 1;
  int bad_line_ = 0, bad_col_ = 0;
  bool expect_key_ = true;
  int header_depth_ = 0;  // depth of the table the current [header] opened
  int value_depth_ = 0;   // depth of the value after the last key's '='
  std::vector<Open> stack_;
};

}  // namespace

bool check_nesting(std::string_view text, const std::string& file, Diagnostics& diags) {
  int line = 0, col = 0;
  if (NestingScan(text, kMaxNesting).run(&line, &col)) return true;
  diags.add(SourcePos{file, line, col},
            "the configuration nests deeper than " + std::to_string(kMaxNesting) +
                " levels here (each part of a dotted key or table header, and each nested "
                "array or inline table, is one level); the file is refused before it is parsed");
  return false;
}

}  // namespace strata::config_detail

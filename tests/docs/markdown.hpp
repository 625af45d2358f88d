// What tests/docs reads out of the Markdown pages: the ```toml blocks (with the
// `<!-- check: ... -->` marker before each, if any) and the `strata ...` command lines shown in
// shell blocks and inline code. Just enough Markdown for our own pages: fences at the start of
// a line, inline code between single backticks within a paragraph.
#pragma once
#include <string>
#include <vector>

namespace strata::docs_test {

struct TomlBlock {
  int line = 0;        // 1-based line of the opening fence
  std::string text;    // the block's lines
  std::string marker;  // what follows "check:" in the marker comment, trimmed; "" when none
};

// The marker of a block, parsed. Forms (one HTML comment on the line right above the fence):
//   <!-- check: fragment, with sources.events tiers.l1 -->  stock sections are appended
//   <!-- check: invalid "expected text" -->                 `strata check` must fail saying it
struct Marker {
  enum class Kind { Complete, Fragment, Invalid, Malformed } kind = Kind::Complete;
  std::vector<std::string> with;  // Fragment: the stock sections to append
  std::string expected;           // Invalid: a piece of the expected message
  std::string problem;            // Malformed: why
};

struct CommandLine {
  int line = 0;                    // 1-based line where the command starts
  std::vector<std::string> words;  // the words after `strata`, as written
};

std::vector<TomlBlock> toml_blocks(const std::string& text);
Marker parse_marker(const std::string& marker);
// Lines of ```sh / ```console / ``` blocks whose command is `strata` (or a path ending in
// /strata, after an optional "$ " and VAR=value words), and inline code spans that start with
// "strata ".
std::vector<CommandLine> strata_commands(const std::string& text);
// The options a command line names: words starting with '-', without brackets, "=value",
// trailing punctuation, and alternatives split on '|' ("[--pipeline" -> "--pipeline").
std::vector<std::string> options_of(const CommandLine& c);

}  // namespace strata::docs_test

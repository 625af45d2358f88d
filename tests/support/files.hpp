// Scratch files for tests: a fresh temp folder, whole-file read and write, and removal.
// Shared by the test folders that drive strata through files (cli, e2e, pipeline).
#pragma once

#include <string>

namespace strata::test {

// A new folder /tmp/PREFIX-XXXXXX ("/tmp" if it cannot be made).
std::string make_temp_dir(const std::string& prefix = "strata-test");
std::string read_file(const std::string& path);  // "" when missing
// Writes a sibling then renames it, so a process reading the file (SIGHUP) never sees half.
void write_file(const std::string& path, const std::string& text);
// rm -rf, refused for anything outside /tmp/.
void remove_tree(const std::string& dir);

}  // namespace strata::test

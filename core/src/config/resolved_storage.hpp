// The storage behind ResolvedOptions: owns every string a strata_option_value points to.
// Lives on the heap so moving a ResolvedOptions never moves the values array.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"

namespace strata {

struct ResolvedOptions::Storage {
  struct Slot {
    std::string name;
    std::string s;
    std::vector<std::string> list;
    std::vector<const char*> list_ptrs;
    std::vector<std::pair<std::string, std::string>> kv;
    std::vector<strata_kv> kv_ptrs;
  };
  std::vector<Slot> slots;                  // one per schema option; never resized once filled
  std::vector<strata_option_value> values;  // values[i] describes slots[i]

  // Points every value at its slot's strings. Called once, after the slots are complete.
  void finalize();
};

}  // namespace strata

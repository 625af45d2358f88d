// ResolvedOptions: the validated values of one section, in schema order, with lookups by name
// for host-level schemas ([pipelines.*], tier host keys, [admin]).
#include "config/resolved_storage.hpp"

namespace strata {

void ResolvedOptions::Storage::finalize() {
  for (size_t i = 0; i < slots.size(); ++i) {
    Slot& slot = slots[i];
    strata_option_value& v = values[i];
    v.s = slot.s.c_str();
    slot.list_ptrs.clear();
    for (const std::string& item : slot.list) slot.list_ptrs.push_back(item.c_str());
    v.list = slot.list_ptrs.empty() ? nullptr : slot.list_ptrs.data();
    v.list_len = slot.list_ptrs.size();
    slot.kv_ptrs.clear();
    for (const auto& [k, val] : slot.kv) slot.kv_ptrs.push_back(strata_kv{k.c_str(), val.c_str()});
    v.table = slot.kv_ptrs.empty() ? nullptr : slot.kv_ptrs.data();
    v.table_len = slot.kv_ptrs.size();
  }
}

ResolvedOptions::ResolvedOptions() : storage(std::make_unique<Storage>()) {}
ResolvedOptions::~ResolvedOptions() = default;
ResolvedOptions::ResolvedOptions(ResolvedOptions&&) noexcept = default;
ResolvedOptions& ResolvedOptions::operator=(ResolvedOptions&&) noexcept = default;

const strata_option_value* ResolvedOptions::values() const {
  return storage && !storage->values.empty() ? storage->values.data() : nullptr;
}

size_t ResolvedOptions::size() const { return storage ? storage->values.size() : 0; }

const strata_option_value* ResolvedOptions::find(const std::string& name) const {
  if (!storage) return nullptr;
  for (size_t i = 0; i < storage->slots.size(); ++i)
    if (storage->slots[i].name == name) return &storage->values[i];
  return nullptr;
}

std::string ResolvedOptions::str(const std::string& name) const {
  const strata_option_value* v = find(name);
  return v && v->s ? std::string(v->s) : std::string();
}

int64_t ResolvedOptions::integer(const std::string& name) const {
  const strata_option_value* v = find(name);
  return v ? v->i : 0;
}

double ResolvedOptions::number(const std::string& name) const {
  const strata_option_value* v = find(name);
  return v ? v->d : 0.0;
}

std::vector<std::string> ResolvedOptions::list(const std::string& name) const {
  std::vector<std::string> out;
  if (const strata_option_value* v = find(name))
    for (size_t i = 0; i < v->list_len; ++i) out.emplace_back(v->list[i]);
  return out;
}

bool ResolvedOptions::is_set(const std::string& name) const {
  const strata_option_value* v = find(name);
  return v && v->is_set;
}

}  // namespace strata

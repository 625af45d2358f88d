// The `record` table every hook receives: an empty, read-only table whose metatable reads the
// fields of the strata_record being run. Used by KeyHooks (lua_hooks.cpp), one per Lua state.
#pragma once

#include <strata/strata.h>

#include <lua.hpp>

namespace strata::lua {

struct RecordView {
  const strata_record* current = nullptr;  // only set during KeyHooks::run()
  unsigned cached = 0;  // fields of this record kept by the table's __index (bits)
};

// Pushes a new record table bound to `view`, which must outlive the Lua state.
void push_record_table(lua_State* L, RecordView* view);

// Binds the table at stack index `record` (absolute) to `rec`, dropping what the previous record
// cached (a bit mask: no Lua work). If a script rawset() anything into the table, the slot gets a
// fresh table instead, so nothing a script writes can reach a later record.
void begin_record(lua_State* L, int record, RecordView* view, const strata_record* rec);

}  // namespace strata::lua

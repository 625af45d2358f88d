-- The fixed script of lua_boundary_fuzz. Its hooks return whatever the record's header "p"
-- (the fuzz input) spells: key() starts reading it, every later hook of the same record reads
-- on. One tag byte per value (tag % 16), little framing, so that libFuzzer's byte mutations
-- map onto every Lua type the hooks can hand back, and onto errors, runaway loops and memory.
-- The fuzzer prepends "local HOOKS = {...}" to choose which hooks exist.
local byte, sub, rep, char = string.byte, string.sub, string.rep, string.char
local floor, huge, ldexp = math.floor, math.huge, math.ldexp
local setmetatable, error, cocreate = setmetatable, error, coroutine.create
local null = strata.json.null

-- Numbers at the edges of what ttl() and version() accept (seconds -> ms rounding, 2^53,
-- int64, the 10-year TTL limit of 315360000 s) and the ones that must be refused.
local NUMS = {
  0, -0.0, 1, -1, 0.5, 0.0004, 0.0005, 0.0006, 1e-300, 4.9e-324, 2^31, 2^32, 2^53, 2^53 + 2,
  2^63, 2^64, 1e308, huge, -huge, 0 / 0, 9.2e15, 9.2e15 + 2, 9.3e15, 315360000,
  315360000.0004, 315360000.001, 315360001, 2^63 / 1000, -2^63, 18446744073709551615,
}

local data, pos, len, rec = "", 1, 0, nil

local function u8()
  if pos > len then return 0 end
  local b = byte(data, pos)
  pos = pos + 1
  return b
end

local function str()
  local n = u8()
  if n >= 200 then n = (n - 200) * 256 + u8() end -- up to ~14 KiB
  local s = sub(data, pos, pos + n - 1)
  pos = pos + n
  return s
end

local decode

local function tbl(tag, depth)
  local t = {}
  local keyed = tag >= 128
  for i = 1, u8() % 8 do
    if keyed then
      t[str()] = decode(depth + 1)
    else
      t[i] = decode(depth + 1) -- a nil leaves a hole
    end
  end
  local extra = floor(tag / 16) % 8
  if extra == 1 then
    t[#t + 1] = t -- a cycle: JSON encoding must refuse it, not recurse forever
  elseif extra == 2 then
    setmetatable(t, { __index = function() error("__index") end, __len = function() return 1e9 end })
  elseif extra == 3 then
    t[u8() * 65536 + 1] = "sparse"
  elseif extra == 4 then
    t[1.5] = "x"
    t[true] = "y"
  end
  return t
end

decode = function(depth)
  if depth > 24 then return "deep" end
  local tag = u8()
  local k = tag % 16
  if k == 0 then
    return nil
  elseif k == 1 then
    return true
  elseif k == 2 then
    return false
  elseif k == 3 then
    return str()
  elseif k == 4 then
    return NUMS[u8() % #NUMS + 1]
  elseif k == 5 then -- an integer of 0..8 bytes, sign from the tag
    local v = 0
    for _ = 1, u8() % 9 do v = v * 256 + u8() end
    if tag >= 128 then v = -v end
    return v
  elseif k == 6 then -- any magnitude a double has
    local m = (u8() * 256 + u8()) / 65536
    local e = (u8() * 256 + u8()) % 2200 - 1100
    local v = ldexp(m, e)
    if tag >= 128 then v = -v end
    return v
  elseif k == 7 then
    return tbl(tag, depth)
  elseif k == 8 then -- a table of strings (keys for key() and invalidate())
    local t = {}
    for i = 1, u8() % 6 do t[i] = str() end
    return t
  elseif k == 9 then
    return function() end
  elseif k == 10 then
    return cocreate(function() end)
  elseif k == 11 then
    return null -- lightuserdata
  elseif k == 12 then
    local how = floor(tag / 16) % 4
    if how == 0 then error(str()) end
    if how == 1 then error(nil) end
    if how == 2 then error({}) end
    -- an error object whose __tostring fails inside the message handler
    error(setmetatable({}, { __tostring = function() error("__tostring") end }))
  elseif k == 13 then
    if tag >= 128 then -- runs into the memory cap
      local s = rep("x", 65536)
      while true do s = s .. s end
    end
    while true do end -- runs into the instruction budget
  elseif k == 14 then -- a field of the record itself
    local w = u8() % 7
    if w == 0 then return rec.key end
    if w == 1 then return rec.value end
    if w == 2 then return rec.headers end
    if w == 3 then return rec.offset end
    if w == 4 then return rec.timestamp end
    if w == 5 then return rec.topic end
    return rec
  else -- 15: a long string of one byte (NUL, spaces, control characters...)
    return rep(char(u8()), u8() * 64 + u8())
  end
end

local function start(record)
  rec = record
  data = record.headers.p or ""
  pos, len = 1, #data
end

local function next_value(record)
  rec = record
  return decode(0)
end

function key(record)
  start(record)
  return decode(0)
end

if HOOKS.ttl then ttl = next_value end
if HOOKS.value then value = next_value end
if HOOKS.invalidate then invalidate = next_value end
if HOOKS.version then version = next_value end

#!/usr/bin/env python3
"""Writes the seed corpus of lua_boundary_fuzz (fuzz/corpus/lua_boundary_fuzz/).

Input layout (lua_boundary_fuzz.cpp): variant, mode, count, then per record flags, where,
key (len + bytes), value (len + bytes), program (2-byte little-endian len + bytes). A program is
the values fuzz/boundary.lua decodes for key, ttl, value, invalidate, version in turn.
"""
import os
import struct

NIL, TRUE, FALSE = b"\x00", b"\x01", b"\x02"
NUMS = ["0", "-0", "1", "-1", "0.5", "0.0004", "0.0005", "0.0006", "1e-300", "4.9e-324",
        "2^31", "2^32", "2^53", "2^53+2", "2^63", "2^64", "1e308", "huge", "-huge", "nan",
        "9.2e15", "9.2e15+2", "9.3e15", "315360000", "315360000.0004", "315360000.001",
        "315360001", "2^63/1000", "-2^63", "2^64-1"]


def s(text):
    b = text if isinstance(text, bytes) else text.encode()
    assert len(b) < 200
    return b"\x03" + bytes([len(b)]) + b


def num(name):
    return b"\x04" + bytes([NUMS.index(name)])


def integer(v):
    tag = 0x85 if v < 0 else 0x05
    v = abs(v)
    raw = v.to_bytes(max(1, (v.bit_length() + 7) // 8), "big")
    return bytes([tag, len(raw)]) + raw


def strings(*items):
    out = b"\x08" + bytes([len(items)])
    for i in items:
        b = i if isinstance(i, bytes) else i.encode()
        out += bytes([len(b)]) + b
    return out


def table(*values, keyed=False, extra=0):
    tag = 0x07 | (extra << 4) | (0x80 if keyed else 0)
    return bytes([tag, len(values)]) + b"".join(values)


def record(program, key=b"k", value=b"v", flags=0, where=0):
    return (bytes([flags, where, len(key)]) + key + bytes([len(value)]) + value +
            struct.pack("<H", len(program)) + program)


def batch(variant, mode, *records):
    return bytes([variant, mode, len(records) - 1]) + b"".join(records)


ALL = 15  # ttl, value, invalidate, version
TWO_TIERS = 0x20
SEEDS = {
    "typical": batch(ALL, TWO_TIERS, record(
        s("user:42:last") + integer(3600) + s('{"user":"u42"}') + strings("session:u42") + NIL)),
    "version_order": batch(ALL, TWO_TIERS | 1,
                           record(s("k") + NIL + s("v2") + NIL + integer(2)),
                           record(s("k") + NIL + s("v1") + NIL + integer(1)),
                           record(s("k") + NIL + s("v3") + strings("k") + s("18446744073709551615"))),
    "timestamp_order": batch(ALL, 0x10 | 2,
                             record(b"\x0e\x00" + NIL + b"\x0e\x01" + NIL + NIL, where=0x10),
                             record(b"\x0e\x00" + NIL + NIL + NIL + NIL, flags=2, where=0x00)),
    "guarded_partitions": batch(3, 0x34 | 0,
                                record(strings("a", "b", "a") + num("0.0004") + s("x"), where=1),
                                record(strings("b") + num("315360000") + s("y"), where=7)),
    "json_value": batch(2, TWO_TIERS, record(
        s("j") + table(s("a"), integer(-5), table(TRUE, FALSE, num("0.5")), keyed=True))),
    "ttl_edges": batch(1, TWO_TIERS, record(s("t") + num("nan")), record(s("t") + num("huge")),
                       record(s("t") + num("315360001")), record(s("t") + num("-1"))),
    "errors": batch(ALL, TWO_TIERS, record(b"\x0c" + bytes([5]) + b"boom!"),
                    record(s("k") + b"\x3c"), record(s("k") + NIL + b"\x1c")),
    "runaway": batch(ALL, TWO_TIERS, record(s("k") + NIL + b"\x0d"),
                     record(s("k") + NIL + b"\x8d")),
    "cycle": batch(2, TWO_TIERS, record(s("c") + table(s("x"), extra=1)),
                   record(s("c") + table(s("x"), extra=3))),
    "binary_keys": batch(ALL, 0x30, record(
        strings(b"a\x00b", b"has space", b"\x7f\x01", "x" * 120) + b"\x06\xff\xff\x04\x4c" +
        b"\x0f\x00\x04\x00" + strings(b"") + NIL, key=b"\x00\xff", value=b"", flags=8)),
    "odd_types": batch(ALL, TWO_TIERS, record(b"\x09"), record(s("k") + b"\x0a"),
                       record(s("k") + NIL + b"\x0b"), record(s("k") + NIL + NIL + b"\x0e\x06")),
    "identity": batch(0xF0, 0x10, record(b"\x0e\x00", flags=0), record(b"\x0e\x00", flags=1)),
}

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "lua_boundary_fuzz")
os.makedirs(out, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)

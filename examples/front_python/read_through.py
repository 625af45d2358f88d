#!/usr/bin/env python3
"""An application in another language reading strata's cache through the memcached front.

It knows nothing about strata: python3-memcache (Debian's `memcache` module) talks memcached's
protocol to the front, which reads through the tier chain (memcached L1, then Redis L2 with one
read in flight per key, refilled into L1). Run by tests/memcached_front (FrontPython test):

    python3 read_through.py 127.0.0.1:11311 user:1:last [more keys]

prints `KEY = VALUE` for each key found and `KEY missing` otherwise, then writes and reads back
one key of its own through the front (durable tier first, then L1) and exits 0 when it all
worked.
"""
import sys

import memcache


def main(argv):
    if len(argv) < 3:
        print("usage: read_through.py HOST:PORT KEY...", file=sys.stderr)
        return 2
    client = memcache.Client([argv[1]], socket_timeout=5)
    for key in argv[2:]:
        value = client.get(key)
        if value is None:
            print(f"{key} missing")
        else:
            print(f"{key} = {value.decode() if isinstance(value, bytes) else value}")
    # Writes go to the durable tier first, then L1, as the chain's set does.
    if not client.set("front_python:hello", "from python", time=60):
        print("set failed", file=sys.stderr)
        return 1
    many = client.get_multi(["front_python:hello"] + argv[2:])
    print(f"multi-get found {len(many)} of {1 + len(argv) - 2} keys")
    if client.get("front_python:hello") != "from python":
        print("read-back failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

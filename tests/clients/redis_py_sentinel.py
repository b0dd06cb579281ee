"""redis-py's Sentinel client, as an application uses it: discover the
master of `mymaster` through the monitors, write a key to it, read it back
from a replica the monitors list, and print the master's address.

Usage: redis_py_sentinel.py KEY VALUE SENTINEL_PORT...

Exits non-zero (with redis-py's error) when discovery or the write fails,
so the calling test sees why. Installed by scripts/test.sh from PyPI.
"""

import sys

from redis.sentinel import Sentinel


def main() -> None:
    key, value, *ports = sys.argv[1:]
    sentinel = Sentinel(
        [("127.0.0.1", int(p)) for p in ports],
        socket_timeout=2,
        socket_connect_timeout=2,
    )
    host, port = sentinel.discover_master("mymaster")
    master = sentinel.master_for("mymaster", socket_timeout=2)
    master.set(key, value)
    if master.get(key) != value.encode():
        sys.exit(f"read back {master.get(key)!r} from the master")
    replicas = sentinel.discover_slaves("mymaster")
    print(f"{host}:{port} replicas={len(replicas)}")


if __name__ == "__main__":
    main()

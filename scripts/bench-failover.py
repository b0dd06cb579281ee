#!/usr/bin/env python3
"""Failover time side by side: three vigil-sentinel monitors against three
redis-sentinel 7.0 monitors, over the same kind of nodes (redis-server 7.0
by default, or vigil-server), loopback only.

    scripts/bench-failover.py [--rounds N] [--nodes redis|vigil] [--down-after MS]

Each round starts a master and two replicas and three monitors of one kind
(quorum 2), waits until every monitor knows both replicas and both peers,
then SIGKILLs the master and measures, as a client would see it, the time
until asking the monitors (`SENTINEL get-master-addr-by-name`) gives a
replica that accepts a write. Reports the median and the range per kind
and the Vigil/Redis ratio of the medians; the issue's goal is a median
within down-after + 300 ms.
"""
import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def command(port, *args, timeout=0.5):
    """One command over a fresh connection; the reply as text, or None."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(
                b"".join(
                    [b"*%d\r\n" % len(args)]
                    + [b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in args]
                )
            )
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                if complete(data):
                    break
            return data.decode(errors="replace")
    except OSError:
        return None


def complete(data):
    """Whether `data` holds one whole reply (enough for the replies used)."""
    if data.startswith((b"+", b"-", b":")):
        return data.endswith(b"\r\n")
    if data.startswith(b"$"):
        head, _, rest = data.partition(b"\r\n")
        n = int(head[1:])
        return n < 0 or len(rest) >= n + 2
    if data.startswith(b"*"):
        head, _, rest = data.partition(b"\r\n")
        n = int(head[1:])
        return n < 0 or rest.count(b"\r\n") >= 2 * n
    return False


def bulks(reply):
    lines = reply.split("\r\n")
    return [lines[i + 1] for i, l in enumerate(lines) if l.startswith("$") and l != "$-1"]


class Round:
    def __init__(self, monitor_kind, node_kind, down_after, work):
        self.procs = []
        self.work = work
        node_bin = {
            "redis": "redis-server",
            "vigil": os.path.join(ROOT, "target/release/vigil-server"),
        }[node_kind]
        self.master = self.node(node_bin, [])
        self.replicas = [
            self.node(node_bin, ["--replicaof", "127.0.0.1", str(self.master[1])])
            for _ in range(2)
        ]
        self.monitors = [self.monitor(monitor_kind, n, down_after) for n in range(3)]

    def spawn(self, args, **kw):
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
        self.procs.append(p)
        return p

    def node(self, binary, extra):
        port = free_port()
        d = tempfile.mkdtemp(dir=self.work)
        p = self.spawn(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--dir", d, "--logfile", ""] + extra
        )
        wait(lambda: command(port, "PING") == "+PONG\r\n", 10, f"node {port}")
        return p, port

    def monitor(self, kind, n, down_after):
        port = free_port()
        d = tempfile.mkdtemp(dir=self.work)
        m = self.master[1]
        if kind == "vigil":
            path = os.path.join(d, "sentinel.yaml")
            with open(path, "w") as f:
                f.write(
                    f"port: {port}\nbind: [127.0.0.1]\ndir: {d}\nmasters:\n  mymaster:\n"
                    f"    host: 127.0.0.1\n    port: {m}\n    quorum: 2\n"
                    f"    down-after: {down_after}ms\n"
                )
            args = [os.path.join(ROOT, "target/release/vigil-sentinel"), "--config", path]
        else:
            path = os.path.join(d, "sentinel.conf")
            with open(path, "w") as f:
                f.write(
                    f"port {port}\nbind 127.0.0.1\ndir {d}\n"
                    f"sentinel monitor mymaster 127.0.0.1 {m} 2\n"
                    f"sentinel down-after-milliseconds mymaster {down_after}\n"
                )
            args = ["redis-sentinel", path]
        p = self.spawn(args)
        wait(lambda: command(port, "PING") == "+PONG\r\n", 10, f"monitor {port}")
        return p, port

    def settled(self):
        want = [f"127.0.0.1:{r[1]}" for r in self.replicas]
        for _, port in self.monitors:
            replicas = command(port, "SENTINEL", "REPLICAS", "mymaster") or ""
            peers = command(port, "SENTINEL", "SENTINELS", "mymaster") or ""
            if not all(w in replicas for w in want) or peers.count("voted-leader-epoch") != 2:
                return False
        return True

    def failover_time(self):
        wait(self.settled, 60, "discovery")
        # Let the first INFO and hello rounds pass everywhere.
        time.sleep(2)
        candidates = {r[1] for r in self.replicas}
        self.master[0].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        while time.monotonic() - killed < 60:
            for _, port in self.monitors:
                addr = bulks(command(port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster") or "")
                if len(addr) == 2 and int(addr[1]) in candidates:
                    if command(int(addr[1]), "SET", "k", "v") == "+OK\r\n":
                        return time.monotonic() - killed
            time.sleep(0.005)
        raise RuntimeError("no failover within 60 s")

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()


def wait(cond, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise RuntimeError(f"timed out waiting for {what}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--nodes", choices=["redis", "vigil"], default="redis")
    ap.add_argument("--down-after", type=int, default=1000)
    a = ap.parse_args()
    for tool in ["redis-server", "redis-sentinel"]:
        if not shutil.which(tool):
            sys.exit(f"missing {tool}")
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "--bin", "vigil-server", "--bin", "vigil-sentinel"],
        cwd=ROOT, check=True,
    )
    work = tempfile.mkdtemp()
    results = {"vigil": [], "redis": []}
    try:
        for n in range(a.rounds):
            for kind in ["vigil", "redis"]:
                r = Round(kind, a.nodes, a.down_after, work)
                try:
                    t = r.failover_time()
                finally:
                    r.stop()
                results[kind].append(t)
                print(f"round {n + 1} {kind}-sentinel: {t * 1000:.0f} ms", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nkill to a writable new master ({a.nodes} nodes, down-after {a.down_after} ms, "
          f"{a.rounds} rounds)")
    print(f"{'':16}{'median ms':>10}{'min':>8}{'max':>8}")
    for kind in ["vigil", "redis"]:
        v = results[kind]
        print(f"{kind + '-sentinel':16}{statistics.median(v) * 1000:>10.0f}"
              f"{min(v) * 1000:>8.0f}{max(v) * 1000:>8.0f}")
    ratio = statistics.median(results["vigil"]) / statistics.median(results["redis"])
    print(f"ratio vigil/redis (medians): {ratio:.2f}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Failover side by side: three vigil-sentinel monitors against three
redis-sentinel 7.0 monitors, over the same kind of nodes (redis-server 7.0
by default, or vigil-server), loopback only.

    scripts/bench-failover.py [--rounds N] [--nodes redis|vigil]
                              [--down-after MS] [--mode kill|switchover]

Each round starts a master, two replicas and three monitors of one kind
(quorum 2), waits until every monitor knows both replicas and both peers,
and starts a writer: a client that asks the monitors for the master
(`SENTINEL get-master-addr-by-name`), appends a new number to a list there
(`RPUSH`) as fast as it can over one connection, and asks again whenever a
write fails. Then:

* `--mode kill` (default): SIGKILL the master. Reports, from the kill, the
  first `+sdown`, `+odown`, `+elected-leader`, `+promoted-slave` and
  `+switch-master` any monitor publishes for the master, the first write
  acknowledged by the new master, and the acknowledged writes missing from
  the new master's list once the failover is over.
* `--mode switchover`: a planned failover of the live master,
  `SENTINEL FAILOVER mymaster COORDINATED` on a Vigil monitor and
  `SENTINEL FAILOVER mymaster` on redis-sentinel (which has no coordinated
  mode). Reports the longest gap between two acknowledged writes (the pause
  clients see), the first write on the new master, and lost writes.

Rounds alternate between the two kinds; medians and ranges per kind, and
the Vigil/Redis ratio of the medians of the first write on the new master.
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
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVENTS = ["+sdown", "+odown", "+elected-leader", "+promoted-slave", "+switch-master"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    """One RESP connection with a buffered reader (enough for these replies)."""

    def __init__(self, port, timeout=0.5):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, *args):
        self.sock.sendall(encode(args))

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        """A reply as Python values; an error reply as an Error instance."""
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return Error(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.exact(n).decode(errors="replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ConnectionError(f"bad reply {line!r}")

    def call(self, *args):
        self.send(*args)
        return self.reply()

    def close(self):
        self.sock.close()


class Error(str):
    pass


def command(port, *args, timeout=0.5):
    """One command over a fresh connection; the reply, or None."""
    try:
        c = Conn(port, timeout)
        try:
            return c.call(*args)
        finally:
            c.close()
    except (OSError, ConnectionError):
        return None


class Writer(threading.Thread):
    """The application: RPUSH 1, 2, 3, ... to whichever node the monitors
    name as master, re-asking them after any failure."""

    def __init__(self, monitors):
        super().__init__(daemon=True)
        self.monitors = monitors
        self.stop = threading.Event()
        self.acked = []  # (time, port, value)
        self.lock = threading.Lock()

    def master(self):
        for port in self.monitors:
            addr = command(port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster", timeout=0.2)
            if isinstance(addr, list) and len(addr) == 2:
                return int(addr[1])
        return None

    def run(self):
        n = 0
        conn, port = None, None
        while not self.stop.is_set():
            if conn is None:
                port = self.master()
                try:
                    conn = Conn(port, timeout=0.5) if port else None
                except OSError:
                    conn = None
                if conn is None:
                    time.sleep(0.002)
                    continue
            n += 1
            try:
                r = conn.call("RPUSH", "log", n)
            except (OSError, ConnectionError):
                r = None
            if isinstance(r, int):
                with self.lock:
                    self.acked.append((time.monotonic(), port, n))
            else:
                conn.close()
                conn = None
        if conn:
            conn.close()

    def snapshot(self):
        with self.lock:
            return list(self.acked)


class Events(threading.Thread):
    """First time each failover event about `mymaster` is published by one
    monitor (PSUBSCRIBE *)."""

    def __init__(self, port, first):
        super().__init__(daemon=True)
        self.first = first
        self.conn = Conn(port, timeout=None)
        self.conn.send("PSUBSCRIBE", "*")
        self.conn.reply()

    def run(self):
        try:
            while True:
                msg = self.conn.reply()
                if not (isinstance(msg, list) and len(msg) == 4):
                    continue
                name, payload = msg[2], msg[3]
                about = payload.startswith("master mymaster ") if name in (
                    "+sdown", "+odown", "+elected-leader") else "mymaster" in payload
                if name in EVENTS and about:
                    self.first.setdefault(name, time.monotonic())
        except (OSError, ConnectionError):
            pass


class Round:
    def __init__(self, monitor_kind, node_kind, down_after, work):
        self.procs = []
        self.work = work
        self.kind = monitor_kind
        node_bin = {
            "redis": "redis-server",
            "vigil": os.path.join(ROOT, "target/release/vigil-server"),
        }[node_kind]
        self.master = self.node(node_bin, [])
        self.replicas = [
            self.node(node_bin, ["--replicaof", "127.0.0.1", str(self.master[1])])
            for _ in range(2)
        ]
        self.monitors = [self.monitor(monitor_kind, down_after) for _ in range(3)]

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
        wait(lambda: command(port, "PING") == "PONG", 10, f"node {port}")
        return p, port

    def monitor(self, kind, down_after):
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
        wait(lambda: command(port, "PING") == "PONG", 10, f"monitor {port}")
        return p, port

    def settled(self):
        want = {r[1] for r in self.replicas}
        for _, port in self.monitors:
            replicas = command(port, "SENTINEL", "REPLICAS", "mymaster") or []
            peers = command(port, "SENTINEL", "SENTINELS", "mymaster") or []
            ok = {int(dict(zip(r[::2], r[1::2])).get("port", 0)) for r in replicas
                  if "master-link-status" in r and dict(zip(r[::2], r[1::2]))
                  .get("master-link-status") == "ok"}
            if not want <= ok or len(peers) != 2:
                return False
        return True

    def run(self, mode):
        wait(self.settled, 60, "discovery")
        # Let the first INFO and hello rounds pass everywhere.
        time.sleep(2)
        first = {}
        for _, port in self.monitors:
            Events(port, first).start()
        writer = Writer([p for _, p in self.monitors])
        writer.start()
        wait(lambda: len(writer.snapshot()) > 1000, 10, "writes")
        old = self.master[1]
        start = time.monotonic()
        if mode == "kill":
            self.master[0].send_signal(signal.SIGKILL)
        else:
            how = ["COORDINATED"] if self.kind == "vigil" else []
            r = command(self.monitors[0][1], "SENTINEL", "FAILOVER", "mymaster", *how)
            if r != "OK":
                raise RuntimeError(f"SENTINEL FAILOVER: {r}")

        def on_new():
            return [a for a in writer.snapshot() if a[0] > start and a[1] != old]

        wait(lambda: len(on_new()) > 1000 and "+switch-master" in first, 60, "the new master")
        writer.stop.set()
        writer.join()
        acked = writer.snapshot()
        new = on_new()[0][1]
        # Lost: acknowledged, but not in the new master's list.
        present = set(int(v) for v in command(new, "LRANGE", "log", 0, -1, timeout=5))
        lost = sum(1 for _, _, v in acked if v not in present)
        times = [t for t, _, _ in acked]
        around = [b - a for a, b in zip(times, times[1:]) if b > start]
        result = {e: first[e] - start for e in EVENTS if e in first}
        result["first write on new master"] = on_new()[0][0] - start
        result["longest write gap"] = max(around)
        result["lost acknowledged writes"] = lost
        return result

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
    ap.add_argument("--mode", choices=["kill", "switchover"], default="kill")
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
                    res = r.run(a.mode)
                finally:
                    r.stop()
                results[kind].append(res)
                print(f"round {n + 1} {kind}-sentinel: "
                      + ", ".join(f"{k} {show(k, v)}" for k, v in res.items()), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{a.mode}, {a.nodes} nodes, down-after {a.down_after} ms, {a.rounds} rounds: "
          "median (min-max), ms from the kill or the FAILOVER command")
    rows = (EVENTS if a.mode == "kill" else []) + [
        "first write on new master", "longest write gap", "lost acknowledged writes"]
    print(f"{'':28}{'vigil-sentinel':>22}{'redis-sentinel':>22}")
    for row in rows:
        cells = []
        for kind in ["vigil", "redis"]:
            v = [r[row] for r in results[kind] if row in r]
            cells.append(f"{show(row, statistics.median(v))} ({show(row, min(v))}-"
                         f"{show(row, max(v))})" if v else "-")
        print(f"{row:28}{cells[0]:>22}{cells[1]:>22}")
    med = {k: statistics.median(r["first write on new master"] for r in results[k])
           for k in results}
    print(f"ratio vigil/redis, first write on new master (medians): "
          f"{med['vigil'] / med['redis']:.2f}")


def show(row, v):
    return f"{v:g}" if row == "lost acknowledged writes" else f"{v * 1000:.0f}"


if __name__ == "__main__":
    main()

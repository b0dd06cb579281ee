#!/usr/bin/env python3
"""Print command-table entries for vigil's `src/node/commands/*.rs` from a
running Redis 7.0 (`COMMAND INFO` and `COMMAND DOCS`), so arity, flags, key
positions, ACL categories, group and version match Redis exactly.

Usage: tools/command-specs.py PORT CMD [CMD ...]   (prints Rust to stdout)
Handlers are named after the command (`get`, `client_list`); rename as needed.
"""
import socket
import sys

FLAG_CONST = {
    "write": "WRITE", "readonly": "READONLY", "denyoom": "DENYOOM", "admin": "ADMIN",
    "pubsub": "PUBSUB", "noscript": "NOSCRIPT", "blocking": "BLOCKING", "loading": "LOADING",
    "stale": "STALE", "skip_monitor": "SKIP_MONITOR", "skip_slowlog": "SKIP_SLOWLOG",
    "asking": "ASKING", "fast": "FAST", "no_auth": "NO_AUTH", "no_mandatory_keys": "NO_MANDATORY_KEYS",
    "no_async_loading": "NO_ASYNC_LOADING", "no_multi": "NO_MULTI", "movablekeys": "MOVABLE_KEYS",
    "allow_busy": "ALLOW_BUSY", "module": "MODULE",
}
RUST_KEYWORDS = {"type", "move", "match", "ref", "loop", "fn", "mod", "use", "impl"}


def resp(sock_file):
    line = sock_file.readline()
    kind, rest = line[:1], line[1:-2]
    if kind in (b"+", b"-"):
        return rest.decode()
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = sock_file.read(n + 2)[:-2]
        return data.decode()
    if kind in (b"*", b"~", b">"):
        n = int(rest)
        return None if n < 0 else [resp(sock_file) for _ in range(n)]
    if kind == b"%":
        n = int(rest)
        return dict((resp(sock_file), resp(sock_file)) for _ in range(n))
    raise ValueError(line)


def command(port, *args):
    s = socket.create_connection(("127.0.0.1", port))
    f = s.makefile("rb")
    s.sendall(b"HELLO 3\r\n")
    resp(f)
    payload = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a.encode()) for a in args)
    s.sendall(payload)
    r = resp(f)
    s.close()
    return r


def implied(flags):
    cats = set()
    if "write" in flags:
        cats.add("write")
    if "readonly" in flags:
        cats.add("read")
    if "admin" in flags:
        cats |= {"admin", "dangerous"}
    if "pubsub" in flags:
        cats.add("pubsub")
    if "fast" in flags:
        cats.add("fast")
    if "blocking" in flags:
        cats.add("blocking")
    if "fast" not in flags:
        cats.add("slow")
    return cats


def entry(info, docs, parent=None, indent="    "):
    name, arity, flags, first, last, step, cats = info[:7]
    subs = info[9] if len(info) > 9 else []
    flags = list(flags)
    cats = [c.lstrip("+@") for c in cats]
    explicit = [c for c in cats if c not in implied(flags)]
    flag_expr = " | ".join("flags::" + FLAG_CONST[f] for f in flags if f in FLAG_CONST) or "0"
    acl_expr = " | ".join("acl::" + c.upper() for c in explicit) or "0"
    short = name.split("|")[-1]
    handler = name.replace("|", "_").replace("-", "_")
    if handler in RUST_KEYWORDS:
        handler += "_cmd"
    since = docs.get("since", "") if docs else ""
    group = docs.get("group", "") if docs else ""
    if parent:
        return (f'{indent}subcommand("{short}", "{name}", {arity}, {flag_expr}, {acl_expr}, '
                f'keys({first}, {last}, {step}), "{since}", {handler}),')
    if subs:
        sub_docs = docs.get("subcommands", {}) if docs else {}
        lines = [f'{indent}Command {{',
                 f'{indent}    subcommands: &[']
        for sub in sorted(subs, key=lambda s: s[0]):
            lines.append(entry(sub, sub_docs.get(sub[0]), parent=name, indent=indent + "        "))
        lines.append(f'{indent}    ],')
        lines.append(f'{indent}    ..command("{name}", {arity}, {flag_expr}, {acl_expr}, keys({first}, {last}, {step}), '
                     f'"{group}", "{since}", unknown_subcommand)')
        lines.append(f'{indent}}},')
        return "\n".join(lines)
    return (f'{indent}command("{name}", {arity}, {flag_expr}, {acl_expr}, keys({first}, {last}, {step}), '
            f'"{group}", "{since}", {handler}),')


def main():
    port = int(sys.argv[1])
    for name in sys.argv[2:]:
        info = command(port, "COMMAND", "INFO", name)[0]
        if info is None:
            print(f"    // {name}: unknown to this Redis", file=sys.stderr)
            continue
        docs = command(port, "COMMAND", "DOCS", name).get(name)
        print(entry(info, docs))


if __name__ == "__main__":
    main()

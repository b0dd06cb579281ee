#!/usr/bin/env python3
"""Generate src/node/commands/introspect/metadata.rs: the key specs, tips and
documentation (argument tree, complexity, history, doc flags) that
`COMMAND INFO` and `COMMAND DOCS` publish, taken from a running Redis 7.0 for
the commands Vigil implements.

Usage:
  tools/command-metadata.py --redis PORT [--sentinel PORT] [--vigil PORT] [NAME ...]

The commands covered are, together:
  * NAME arguments (full names: `get`, `config|get`);
  * with --vigil PORT, every name a running vigil-server lists in
    `COMMAND LIST` (top-level commands and subcommands);
  * the commands already in the output file (unless --fresh).
So after adding commands, either point --vigil at a fresh build or pass the
new names; the whole file is rewritten, sorted, and formatted with rustfmt.

The commands only a monitor has (`sentinel`, `sentinel|masters`, ...) are
unknown to redis-server: with --sentinel PORT, a running redis-sentinel 7.0
describes the names the Redis does not know. The monitor (vigil-sentinel)
publishes those entries; both binaries read the one table.

Summaries are not copied from Redis: the one-line summaries are prose, not
interface, so Vigil writes its own in tools/command-summaries.txt
(`full-name<TAB>summary`). The generator stops and lists the names that lack
one. Everything else (argument names, types, tokens and flags, key specs,
tips, complexity, history, doc flags, deprecation) is interface data clients
and tools rely on and is kept exactly as Redis states it.
"""
import argparse
import os
import re
import socket
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, "src/node/commands/introspect/metadata.rs")
DEFAULT_SUMMARIES = os.path.join(ROOT, "tools/command-summaries.txt")

# Field orders as Redis 7.0 prints them; the generator refuses anything else
# so that a change in Redis cannot silently produce a wrong shape.
DOC_FIELDS = ["summary", "since", "group", "complexity", "doc_flags", "deprecated_since",
              "replaced_by", "history", "arguments", "subcommands"]
ARG_FIELDS = ["name", "type", "key_spec_index", "token", "since", "deprecated_since", "flags",
              "arguments"]
KEY_FLAGS = ["RO", "RW", "OW", "RM", "access", "update", "insert", "delete", "not_key",
             "incomplete", "variable_flags"]
ARG_FLAGS = ["optional", "multiple", "multiple_token"]
DOC_FLAGS = ["deprecated", "syscmd"]
ARG_TYPES = {
    "string": "String", "integer": "Integer", "double": "Double", "key": "Key",
    "pattern": "Pattern", "unix-time": "UnixTime", "pure-token": "PureToken",
    "oneof": "Oneof", "block": "Block",
}


class Conn:
    """A minimal RESP3 client (the tool must run with a bare python3)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.file = self.sock.makefile("rb")
        self.call("HELLO", "3")

    def call(self, *args):
        payload = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode()
            payload += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(payload)
        return self.read()

    def read(self):
        line = self.file.readline()
        kind, rest = line[:1], line[1:-2].decode()
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RuntimeError(rest)
        if kind == b":":
            return int(rest)
        if kind in (b"$", b"="):
            n = int(rest)
            if n < 0:
                return None
            data = self.file.read(n + 2)[:-2].decode()
            return data[4:] if kind == b"=" else data
        if kind == b"_":
            return None
        if kind in (b"*", b"~", b">"):
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        if kind == b"%":
            return dict((self.read(), self.read()) for _ in range(int(rest)))
        raise ValueError("unexpected reply line %r" % line)


def rust_str(s):
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\u{%x}" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def opt_str(s):
    return "None" if s is None else "Some(%s)" % rust_str(s)


class Struct:
    """A Rust struct literal `Name { field: value, ..Name::BLANK }`."""

    def __init__(self, name, fields, blank=True):
        self.name, self.fields, self.blank = name, fields, blank


class Array:
    """A Rust slice literal `&[a, b]`."""

    def __init__(self, items):
        self.items = items


def render(value, indent=0, width=100):
    """Rust source for `value`: on one line when it fits in `width`
    columns, otherwise one field or element per line."""
    if isinstance(value, str):
        return value
    one = render_flat(value)
    if indent + len(one) <= width:
        return one
    pad = " " * (indent + 4)
    if isinstance(value, Array):
        inner = "".join("%s%s,\n" % (pad, render(v, indent + 4, width)) for v in value.items)
        return "&[\n%s%s]" % (inner, " " * indent)
    lines = ["%s%s: %s,\n" % (pad, k, render(v, indent + 4, width))
             for k, v in value.fields]
    if value.blank:
        lines.append("%s..%s::BLANK\n" % (pad, value.name))
    return "%s {\n%s%s}" % (value.name, "".join(lines), " " * indent)


def render_flat(value):
    if isinstance(value, str):
        return value
    if isinstance(value, Array):
        return "&[%s]" % ", ".join(render_flat(v) for v in value.items)
    parts = ["%s: %s" % (k, render_flat(v)) for k, v in value.fields]
    if value.blank:
        parts.append("..%s::BLANK" % value.name)
    return "%s { %s }" % (value.name, ", ".join(parts))


def check_order(what, keys, canonical):
    unknown = [k for k in keys if k not in canonical]
    if unknown:
        sys.exit("%s: fields %s are not known to this generator; teach it (and spec.rs)"
                 % (what, unknown))
    if list(keys) != sorted(keys, key=canonical.index):
        sys.exit("%s: fields %s are not in the order the generator expects %s"
                 % (what, list(keys), canonical))


def flag_expr(what, names, canonical, module):
    check_order(what, names, canonical)
    if not names:
        return "0"
    return " | ".join("%s::%s" % (module, n.upper()) for n in names)


def begin_search(spec):
    t, s = spec["type"], spec["spec"]
    if t == "index":
        return "BeginSearch::Index(%d)" % s["index"]
    if t == "keyword":
        return Struct("BeginSearch::Keyword", [("keyword", rust_str(s["keyword"])),
                                               ("startfrom", str(s["startfrom"]))], blank=False)
    if t == "unknown":
        return "BeginSearch::Unknown"
    sys.exit("unknown begin_search type %r" % t)


def find_keys(spec):
    t, s = spec["type"], spec["spec"]
    if t == "range":
        return Struct("FindKeys::Range", [(k, str(s[k])) for k in ("lastkey", "keystep", "limit")],
                      blank=False)
    if t == "keynum":
        return Struct("FindKeys::Keynum",
                      [(k, str(s[k])) for k in ("keynumidx", "firstkey", "keystep")], blank=False)
    if t == "unknown":
        return "FindKeys::Unknown"
    sys.exit("unknown find_keys type %r" % t)


def key_spec(name, ks):
    check_order(name + " key spec", ks.keys(), ["notes", "flags", "begin_search", "find_keys"])
    return Struct("KeySpec", [
        ("notes", opt_str(ks.get("notes"))),
        ("flags", flag_expr(name + " key spec flags", ks["flags"], KEY_FLAGS, "kf")),
        ("begin_search", begin_search(ks["begin_search"])),
        ("find_keys", find_keys(ks["find_keys"])),
    ], blank=False)


def argument(name, a):
    check_order(name + " argument", a.keys(), ARG_FIELDS)
    kind = ARG_TYPES.get(a["type"])
    if kind is None:
        sys.exit("%s: unknown argument type %r" % (name, a["type"]))
    nested = "arguments" in a
    if nested != (a["type"] in ("oneof", "block")):
        sys.exit("%s: argument %s: nested arguments do not match its type" % (name, a["name"]))
    fields = [("name", rust_str(a["name"])), ("kind", "ArgType::" + kind)]
    if "key_spec_index" in a:
        fields.append(("key_spec_index", "Some(%d)" % a["key_spec_index"]))
    for f in ("token", "since", "deprecated_since"):
        if f in a:
            fields.append((f, "Some(%s)" % rust_str(a[f])))
    if "flags" in a:
        fields.append(("flags", flag_expr(name + " argument flags", a["flags"], ARG_FLAGS, "af")))
    if nested:
        fields.append(("arguments", Array([argument(name, s) for s in a["arguments"]])))
    return Struct("Arg", fields)


def meta(name, info, docs, summary):
    check_order(name + " docs", docs.keys(), DOC_FIELDS)
    fields = [("name", rust_str(name)), ("summary", rust_str(summary))]
    if "complexity" in docs:
        fields.append(("complexity", "Some(%s)" % rust_str(docs["complexity"])))
    if "doc_flags" in docs:
        fields.append(("doc_flags",
                       flag_expr(name + " doc flags", docs["doc_flags"], DOC_FLAGS, "df")))
    for f in ("deprecated_since", "replaced_by"):
        if f in docs:
            fields.append((f, "Some(%s)" % rust_str(docs[f])))
    if docs.get("history"):
        fields.append(("history", Array(["(%s, %s)" % (rust_str(v), rust_str(d))
                                         for v, d in docs["history"]])))
    if docs.get("arguments"):
        fields.append(("arguments", Array([argument(name, a) for a in docs["arguments"]])))
    if info[7]:
        fields.append(("tips", Array([rust_str(t) for t in info[7]])))
    if info[8]:
        fields.append(("key_specs", Array([key_spec(name, ks) for ks in info[8]])))
    return "    // command: %s\n    %s,\n" % (name, render(Struct("Meta", fields), 4))


def read_summaries(path):
    summaries = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            name, sep, text = line.partition("\t")
            if not sep or not text.strip():
                sys.exit("%s:%d: expected `name<TAB>summary`" % (path, n))
            summaries[name.strip().lower()] = text.strip()
    return summaries


def existing_names(path):
    if not os.path.exists(path):
        return set()
    with open(path, encoding="utf-8") as f:
        return set(re.findall(r"^\s*// command: (\S+)$", f.read(), re.M))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--redis", type=int, required=True, help="port of a Redis 7.0 on 127.0.0.1")
    p.add_argument("--sentinel", type=int,
                   help="port of a redis-sentinel 7.0 describing the names the Redis does not know")
    p.add_argument("--vigil", type=int, help="port of a vigil-server whose COMMAND LIST to cover")
    p.add_argument("--out", default=DEFAULT_OUT)
    p.add_argument("--summaries", default=DEFAULT_SUMMARIES)
    p.add_argument("--fresh", action="store_true", help="forget the commands already in --out")
    p.add_argument("names", nargs="*")
    args = p.parse_args()

    names = {n.lower() for n in args.names}
    if args.vigil:
        names |= set(Conn(args.vigil).call("COMMAND", "LIST"))
    if not args.fresh:
        names |= existing_names(args.out)
    if not names:
        sys.exit("no commands: pass names or --vigil PORT")

    redis = Conn(args.redis)
    sentinel = Conn(args.sentinel) if args.sentinel else None
    version = re.search(r"redis_version:(\S+)", redis.call("INFO", "server")).group(1)
    if not version.startswith("7.0."):
        print("warning: Redis %s is not 7.0; Vigil targets 7.0.15" % version, file=sys.stderr)
    summaries = read_summaries(args.summaries)

    missing = sorted(n for n in names if n not in summaries)
    if missing:
        sys.exit("write a summary in %s for: %s" % (args.summaries, " ".join(missing)))

    entries = []
    for name in sorted(names):
        source = redis
        if redis.call("COMMAND", "INFO", name)[0] is None and sentinel is not None:
            source = sentinel
        info = source.call("COMMAND", "INFO", name)[0]
        docs = source.call("COMMAND", "DOCS", name).get(name)
        if info is None or docs is None:
            sys.exit("Redis %s does not know %r%s" % (
                version, name, "" if sentinel else " (a Sentinel command? pass --sentinel PORT)"))
        entries.append(meta(name, info, docs, summaries[name]))

    with open(args.out, "w", encoding="utf-8") as f:
        f.write("//! Generated by `tools/command-metadata.py` from Redis %s: do not edit.\n"
                "//! Summaries come from `tools/command-summaries.txt`.\n\n" % version)
        f.write("use super::spec::{arg_flags as af, doc_flags as df, key_flags as kf};\n"
                "use super::spec::{Arg, ArgType, BeginSearch, FindKeys, KeySpec, Meta};\n\n"
                "/// Sorted by name (looked up by bisection).\n"
                "pub static METADATA: &[Meta] = &[\n")
        f.writelines(entries)
        f.write("];\n")
    subprocess.run(["rustfmt", "--edition", "2021", args.out], check=True)
    print("wrote %d commands to %s" % (len(entries), os.path.relpath(args.out)), file=sys.stderr)


if __name__ == "__main__":
    main()

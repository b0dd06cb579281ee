//! The monitor's introspection surface — INFO, CLIENT, COMMAND, ACL —
//! against a real redis-sentinel 7.0: both watch the same master, get the
//! same commands, and their replies are compared field by field (values
//! that differ between any two processes — ids, addresses, ports, pids,
//! times, buffer sizes, byte counters — excepted; orders Redis takes from
//! its hash tables compared as sets). COMMAND DOCS summaries are Vigil's
//! own words (tools/command-summaries.txt), so they are left out too.

mod common;

use std::time::{Duration, Instant};

use common::monitor::{redis_sentinel_with, vigil_sentinel, yaml_with, Monitor};
use common::{wait_until, Kind, Raw, Reply, Server, TempDir};

/// A vigil-sentinel and a redis-sentinel watching one master.
struct Pair {
    v: Monitor,
    r: Monitor,
    yaml: std::path::PathBuf,
    _dirs: [TempDir; 2],
    _master: Server,
}

impl Pair {
    fn start(requirepass: Option<&str>) -> Pair {
        let master = Server::start(Kind::Redis, &[]);
        let dirs = [TempDir::new("surface-v"), TempDir::new("surface-r")];
        let (yaml_extra, conf_extra) = match requirepass {
            Some(p) => (format!("requirepass: {p}\n"), format!("requirepass {p}\n")),
            None => (String::new(), String::new()),
        };
        let yaml = yaml_with(&dirs[0].0, master.port, 2, &yaml_extra);
        let v = vigil_sentinel(&yaml, &dirs[0].0.join("state"), None);
        let r = redis_sentinel_with(&dirs[1].0, master.port, 2, &conf_extra);
        Pair {
            v,
            r,
            yaml,
            _dirs: dirs,
            _master: master,
        }
    }

    fn both(&self) -> [&Monitor; 2] {
        [&self.v, &self.r]
    }
}

/// Arguments of a test line: split on spaces, `\s` a space inside an
/// argument, `\e` an empty argument.
fn argv(line: &str) -> Vec<Vec<u8>> {
    line.split(' ')
        .map(|a| a.replace("\\s", " ").replace("\\e", "").into_bytes())
        .collect()
}

fn send(c: &mut Raw, line: &str) -> Vec<u8> {
    let args = argv(line);
    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    c.cmd(&refs)
}

fn text(c: &mut Raw, line: &str) -> String {
    String::from_utf8_lossy(&send(c, line)).into_owned()
}

/// Send `lines` in order on one connection to each monitor: every reply
/// must be the same bytes (but for the connection id in HELLO's map).
fn same_replies(p: &Pair, lines: &[&str]) {
    let (mut v, mut r) = (p.v.raw(), p.r.raw());
    for line in lines {
        let (a, b) = (send(&mut v, line), send(&mut r, line));
        assert_eq!(without_hello_id(&a), without_hello_id(&b), "{line}");
    }
}

/// A reply shown readably, the value after HELLO's `id` key masked.
fn without_hello_id(reply: &[u8]) -> String {
    let shown = common::show(reply);
    let key = "$2\\r\\nid\\r\\n:";
    match shown.find(key) {
        Some(at) => {
            let start = at + key.len();
            let digits = shown[start..]
                .chars()
                .take_while(char::is_ascii_digit)
                .count();
            format!("{}*{}", &shown[..start], &shown[start + digits..])
        }
        None => shown,
    }
}

/// The connection's id, from CLIENT ID.
fn client_id(c: &mut Raw) -> i64 {
    match Reply::parse(&send(c, "CLIENT ID")) {
        Reply::Int(n) => n,
        other => panic!("CLIENT ID: {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Field-by-field comparisons.

/// CLIENT LIST fields whose values belong to one process and moment.
const VARYING_CLIENT_FIELDS: &[&str] = &[
    "id",
    "addr",
    "laddr",
    "fd",
    "age",
    "idle",
    "qbuf",
    "qbuf-free",
    "argv-mem",
    "rbs",
    "rbp",
    "obl",
    "omem",
    "tot-mem",
];

/// The `name=value` fields of CLIENT LIST lines, varying values as `*`.
fn client_fields(lines: &str) -> Vec<Vec<(String, String)>> {
    lines
        .lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            line.split(' ')
                .map(|f| {
                    let (k, v) = f.split_once('=').unwrap_or((f, ""));
                    let v = if VARYING_CLIENT_FIELDS.contains(&k) {
                        "*"
                    } else {
                        v
                    };
                    (k.to_string(), v.to_string())
                })
                .collect()
        })
        .collect()
}

/// The text of a bulk or verbatim reply.
fn body(reply: &[u8]) -> String {
    let s = String::from_utf8_lossy(reply).into_owned();
    let start = s.find("\r\n").map_or(0, |i| i + 2);
    let s = &s[start..s.len().saturating_sub(2)];
    s.strip_prefix("txt:").unwrap_or(s).to_string()
}

/// INFO fields whose values belong to one process and moment.
const VARYING_INFO_FIELDS: &[&str] = &[
    "redis_build_id",
    "gcc_version",
    "process_id",
    "run_id",
    "tcp_port",
    "server_time_usec",
    "uptime_in_seconds",
    "uptime_in_days",
    "hz",
    "lru_clock",
    "executable",
    "config_file",
    "connected_clients",
    "client_recent_max_input_buffer",
    "client_recent_max_output_buffer",
    "total_connections_received",
    "total_commands_processed",
    "instantaneous_ops_per_sec",
    "total_net_input_bytes",
    "total_net_output_bytes",
    "instantaneous_input_kbps",
    "instantaneous_output_kbps",
    "total_error_replies",
    "total_reads_processed",
    "total_writes_processed",
    "reply_buffer_shrinks",
    "reply_buffer_expands",
    "used_cpu_sys",
    "used_cpu_user",
    "used_cpu_sys_children",
    "used_cpu_user_children",
    "used_cpu_sys_main_thread",
    "used_cpu_user_main_thread",
    // Depends on when the monitors discovered each other (checked apart).
    "master0",
];

/// INFO text as lines of (field, value): headers and blank separators
/// kept, varying values as `*`; Vigil's own lines (`vigil_...`, after
/// redis-sentinel's) left out.
fn info_fields(info: &str) -> Vec<(String, String)> {
    info.split("\r\n")
        .filter(|line| !line.starts_with("vigil_"))
        .map(|line| match line.split_once(':') {
            Some((k, v)) if !line.starts_with('#') => {
                let v = if VARYING_INFO_FIELDS.contains(&k) {
                    "*"
                } else {
                    v
                };
                (k.to_string(), v.to_string())
            }
            _ => (line.to_string(), String::new()),
        })
        .collect()
}

/// One INFO field's value.
fn info_field(info: &str, name: &str) -> String {
    info.split("\r\n")
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("INFO has no {name}"))
        .to_string()
}

fn info_number(m: &Monitor, section: &str, name: &str) -> f64 {
    let info = body(&m.raw().cmd(&[b"INFO", section.as_bytes()]));
    info_field(&info, name).parse().expect("a number")
}

/// A RESP2 map (flat pairs) as (key, value) pairs.
fn pairs(r: &Reply) -> Vec<(Vec<u8>, Reply)> {
    r.items()
        .chunks(2)
        .map(|kv| (kv[0].bulk(), kv[1].clone()))
        .collect()
}

/// COMMAND (INFO) entries in name order, their subcommands too: Redis
/// lists both in hash-table order, which differs between processes.
fn sorted_entries(r: &Reply) -> Vec<Reply> {
    let mut entries: Vec<Reply> = r
        .items()
        .iter()
        .map(|e| {
            let mut items = e.items().to_vec();
            items[9] = Reply::Agg(b'*', sorted_entries(&items[9]));
            // The one intended difference: Vigil takes `SENTINEL FAILOVER
            // <name> [COORDINATED|IMMEDIATE]` (arity -3, as Valkey 9).
            if items[0].bulk() == b"sentinel|failover" && items[1] == Reply::Int(-3) {
                items[1] = Reply::Int(3);
            }
            Reply::Agg(b'*', items)
        })
        .collect();
    entries.sort_by_key(|e| e.items()[0].bulk());
    entries
}

/// One command's documentation: its name and its (field, value) pairs.
type Doc = (Vec<u8>, Vec<(Vec<u8>, Reply)>);

/// COMMAND DOCS as sorted (name, docs) pairs, without the summaries
/// (Vigil's own words) and with subcommands sorted.
fn sorted_docs(r: &Reply) -> Vec<Doc> {
    let mut docs: Vec<Doc> = pairs(r)
        .into_iter()
        .map(|(name, doc)| {
            let fields = pairs(&doc)
                .into_iter()
                .filter(|(k, _)| k != b"summary")
                .map(|(k, v)| {
                    if k == b"subcommands" {
                        let subs = sorted_docs(&v)
                            .into_iter()
                            .flat_map(|(n, d)| {
                                let flat = d.into_iter().flat_map(|(k, v)| [Reply::Bulk(k), v]);
                                [Reply::Bulk(n), Reply::Agg(b'*', flat.collect())]
                            })
                            .collect();
                        (k, Reply::Agg(b'*', subs))
                    } else {
                        (k, v)
                    }
                })
                .collect();
            (name, fields)
        })
        .collect();
    docs.sort_by(|a, b| a.0.cmp(&b.0));
    docs
}

fn sorted_bulks(r: &Reply) -> Vec<Vec<u8>> {
    let mut b = r.bulks();
    b.sort();
    b
}

// ---------------------------------------------------------------------------
// INFO

#[test]
fn info_has_redis_sentinels_sections_fields_and_order() {
    let p = Pair::start(None);
    for line in [
        "INFO",
        "INFO all",
        "INFO default",
        "INFO everything",
        "INFO server",
        "INFO clients",
        "INFO stats",
        "INFO cpu",
        "INFO sentinel",
        "INFO cpu SERVER",
        "INFO memory",
        "INFO keyspace commandstats",
        "INFO sentinel foo",
    ] {
        let [v, r] = p.both().map(|m| body(&send(&mut m.raw(), line)));
        assert_eq!(info_fields(&v), info_fields(&r), "{line}\n{v}\n{r}");
    }
    // Once they know each other, they report the master alike.
    let master0 = |m: &Monitor| info_field(&body(&send(&mut m.raw(), "INFO sentinel")), "master0");
    assert!(
        wait_until(Duration::from_secs(20), || {
            let v = master0(&p.v);
            v == master0(&p.r) && v.ends_with(",slaves=0,sentinels=2")
        }),
        "{} / {}",
        master0(&p.v),
        master0(&p.r)
    );
    // RESP3 does not make INFO verbatim text on a monitor.
    let [v, r] = p.both().map(|m| {
        let mut c = m.raw();
        send(&mut c, "HELLO 3");
        send(&mut c, "INFO cpu")[..1].to_vec()
    });
    assert_eq!((v, r), (b"$".to_vec(), b"$".to_vec()));
}

#[test]
fn info_values_are_the_monitors_own() {
    let p = Pair::start(None);
    let m = &p.v;
    let server = body(&send(&mut m.raw(), "INFO server"));
    assert_eq!(info_field(&server, "process_id"), m.pid().to_string());
    assert_eq!(info_field(&server, "tcp_port"), m.port.to_string());
    assert!(info_field(&server, "executable").ends_with("vigil-sentinel"));
    assert_eq!(
        info_field(&server, "config_file"),
        p.yaml.display().to_string()
    );
    // A fresh run id, not the monitor's id.
    let run_id = info_field(&server, "run_id");
    assert_eq!(run_id.len(), 40);
    assert!(!m.say("SENTINEL MYID").contains(&run_id));
    let hz: u32 = info_field(&server, "hz").parse().unwrap();
    assert!((10..20).contains(&hz), "{hz}");
    assert!(wait_until(Duration::from_secs(5), || {
        info_number(m, "server", "uptime_in_seconds") >= 1.0
    }));

    // Counters move with what clients do.
    let mut c = m.raw();
    let before = |c: &mut Raw, name: &str| -> f64 {
        info_field(&body(&send(c, "INFO stats")), name)
            .parse()
            .unwrap()
    };
    let commands = before(&mut c, "total_commands_processed");
    let input = before(&mut c, "total_net_input_bytes");
    let errors = before(&mut c, "total_error_replies");
    let connections = before(&mut c, "total_connections_received");
    for _ in 0..3 {
        send(&mut c, "PING");
    }
    send(&mut c, "NOSUCHCOMMAND");
    let _other = m.raw();
    let info = body(&send(&mut c, "INFO stats"));
    let now = |name: &str| -> f64 { info_field(&info, name).parse().unwrap() };
    // The INFO that read `commands`, the three PINGs, and the rest from
    // the peer monitor's link.
    assert!(now("total_commands_processed") >= commands + 5.0);
    assert!(now("total_net_input_bytes") >= input + 3.0 * 14.0);
    assert!(now("total_error_replies") >= errors + 1.0);
    assert!(now("total_connections_received") > connections);
    // A burst shows in the instantaneous rate.
    assert!(wait_until(Duration::from_secs(5), || {
        for _ in 0..50 {
            send(&mut c, "PING");
        }
        info_number(m, "stats", "instantaneous_ops_per_sec") > 0.0
    }));
    // Subscriptions and tracking are counted.
    let mut sub = m.raw();
    send(&mut sub, "SUBSCRIBE a b");
    sub.read_reply();
    send(&mut sub, "PSUBSCRIBE p*");
    let mut tracker = m.raw();
    send(&mut tracker, "CLIENT TRACKING on BCAST PREFIX x PREFIX y");
    let stats = body(&send(&mut c, "INFO stats clients"));
    assert_eq!(info_field(&stats, "pubsub_channels"), "2");
    assert_eq!(info_field(&stats, "pubsub_patterns"), "1");
    assert_eq!(info_field(&stats, "tracking_clients"), "1");
    assert_eq!(info_field(&stats, "tracking_total_prefixes"), "2");
    // connected_clients counts what CLIENT LIST lists.
    let listed = body(&send(&mut c, "CLIENT LIST")).lines().count();
    let clients = info_field(&body(&send(&mut c, "INFO clients")), "connected_clients");
    assert_eq!(clients, listed.to_string());
    assert!(info_number(m, "cpu", "used_cpu_user") >= 0.0);
}

// ---------------------------------------------------------------------------
// CLIENT

#[test]
fn client_answers_like_redis_sentinel() {
    let p = Pair::start(None);
    same_replies(
        &p,
        &[
            "CLIENT HELP",
            "CLIENT SETINFO lib-name x",
            "CLIENT",
            "CLIENT FOO",
            "CLIENT ID x",
            "CLIENT GETNAME",
            "CLIENT SETNAME a\\sb",
            "CLIENT SETNAME a\nb",
            "CLIENT SETNAME probe",
            "CLIENT GETNAME",
            "CLIENT SETNAME \\e",
            "CLIENT GETNAME",
            "CLIENT LIST TYPE foo",
            "CLIENT LIST TYPE replica",
            "CLIENT LIST TYPE master",
            "CLIENT LIST ID 100000 200000",
            "CLIENT LIST ID x",
            "CLIENT LIST x",
            "CLIENT KILL 1.2.3.4:5",
            "CLIENT KILL ID 100000",
            "CLIENT KILL ID x",
            "CLIENT KILL ID 0",
            "CLIENT KILL USER bob",
            "CLIENT KILL USER default SKIPME maybe",
            "CLIENT KILL TYPE foo",
            "CLIENT KILL TYPE master",
            "CLIENT KILL foo bar",
            "CLIENT KILL ADDR",
            "CLIENT KILL ID 1 TYPE",
            "CLIENT NO-EVICT on",
            "CLIENT NO-EVICT OFF",
            "CLIENT NO-EVICT x",
            "CLIENT PAUSE x",
            "CLIENT PAUSE -1",
            "CLIENT PAUSE 10 foo",
            "CLIENT PAUSE 1 write x",
            "CLIENT PAUSE 10",
            "CLIENT PAUSE 10 WRITE",
            "CLIENT UNPAUSE",
            "CLIENT UNPAUSE x",
            "CLIENT UNBLOCK 100000",
            "CLIENT UNBLOCK x",
            "CLIENT UNBLOCK 1 foo",
            "CLIENT UNBLOCK 1 error x",
            "CLIENT REPLY foo",
            "CLIENT REPLY",
            "CLIENT CACHING yes",
            "CLIENT CACHING",
            "CLIENT GETREDIR",
            "CLIENT TRACKINGINFO",
            "CLIENT TRACKING",
            "CLIENT TRACKING maybe",
            "CLIENT TRACKING on foo",
            "CLIENT TRACKING on PREFIX a",
            "CLIENT TRACKING on BCAST OPTIN",
            "CLIENT TRACKING on OPTIN OPTOUT",
            "CLIENT TRACKING on REDIRECT x",
            "CLIENT TRACKING on REDIRECT 0",
            "CLIENT TRACKING on REDIRECT 100000",
            "CLIENT TRACKING on BCAST PREFIX",
            "CLIENT TRACKING on",
            "CLIENT TRACKINGINFO",
            "CLIENT GETREDIR",
            "CLIENT CACHING yes",
            "CLIENT TRACKING on BCAST",
            "CLIENT TRACKING off",
            "CLIENT TRACKING on OPTIN",
            "CLIENT CACHING no",
            "CLIENT CACHING maybe",
            "CLIENT CACHING yes",
            "CLIENT TRACKINGINFO",
            "CLIENT TRACKINGINFO",
            "PING",
            "CLIENT TRACKINGINFO",
            "CLIENT TRACKING on OPTOUT",
            "CLIENT TRACKING off",
            "CLIENT TRACKING on OPTOUT NOLOOP",
            "CLIENT CACHING no",
            "CLIENT TRACKINGINFO",
            "CLIENT TRACKING off",
            "CLIENT TRACKING on BCAST PREFIX a PREFIX c",
            "CLIENT TRACKING on BCAST PREFIX a",
            "CLIENT TRACKING on BCAST PREFIX ab",
            "CLIENT TRACKING on BCAST PREFIX d PREFIX de",
            "CLIENT TRACKING on BCAST PREFIX e",
            "CLIENT TRACKINGINFO",
            "CLIENT TRACKING on BCAST",
            "CLIENT TRACKINGINFO",
            "CLIENT TRACKING off",
            "CLIENT TRACKINGINFO",
            "HELLO 3",
            "CLIENT TRACKINGINFO",
            "CLIENT TRACKING on BCAST PREFIX z",
            "CLIENT TRACKINGINFO",
            "CLIENT GETNAME",
            "CLIENT HELP",
        ],
    );
    // Redirections name a live client: each monitor's own ids.
    let [v, r] = p.both().map(|m| {
        let (mut a, mut b) = (m.raw(), m.raw());
        let target = client_id(&mut b);
        let lines = [
            format!("CLIENT TRACKING on REDIRECT {target}"),
            format!("CLIENT TRACKING on REDIRECT {target} REDIRECT {target}"),
            "CLIENT TRACKING on BCAST".to_string(),
        ];
        let mut out: Vec<String> = lines.iter().map(|l| text(&mut a, l)).collect();
        let redir = text(&mut a, "CLIENT GETREDIR");
        assert_eq!(redir, format!(":{target}\r\n"));
        let info = body(&send(&mut a, "CLIENT INFO"));
        assert!(info.contains(&format!(" redir={target} ")), "{info}");
        let info = info.replace(&format!(" redir={target} "), " redir=<target> ");
        out.push(format!("{:?}", client_fields(&info)));
        out
    });
    assert_eq!(v, r);
}

#[test]
fn client_list_and_info_describe_connections_like_redis_sentinel() {
    let p = Pair::start(None);
    let [v, r] = p.both().map(|m| {
        let mut out = Vec::new();
        let (mut a, mut b, mut c) = (m.raw(), m.raw(), m.raw());
        let (ida, idb, idc) = (client_id(&mut a), client_id(&mut b), client_id(&mut c));
        assert!(ida < idb && idb < idc);
        send(&mut a, "CLIENT SETNAME probe-a");
        send(&mut a, "CLIENT NO-EVICT on");
        out.push(body(&send(&mut a, "CLIENT INFO")));
        // A subscriber, in RESP2 and RESP3.
        send(&mut b, "SUBSCRIBE ch1 ch2");
        b.read_reply();
        send(&mut b, "PSUBSCRIBE p*");
        send(&mut c, "HELLO 3 SETNAME probe-c");
        send(&mut c, "CLIENT TRACKING on BCAST PREFIX k");
        send(&mut c, "PSUBSCRIBE q*");
        out.push(body(&send(
            &mut a,
            &format!("CLIENT LIST ID {idc} {ida} {idb} 100000"),
        )));
        out.push(body(&send(&mut a, "CLIENT LIST TYPE pubsub")));
        let normal = body(&send(&mut a, "CLIENT LIST TYPE normal"));
        assert!(normal.contains(&format!("id={ida} ")) && !normal.contains(&format!("id={idb} ")));
        out.push(body(&send(&mut c, "CLIENT INFO")));
        // The RESP3 reply is verbatim text.
        assert!(send(&mut c, "CLIENT INFO").starts_with(b"="));
        assert!(send(&mut c, "CLIENT LIST").starts_with(b"="));
        // An unknown command leaves cmd=NULL, a rejected one its name.
        send(&mut b, "UNSUBSCRIBE");
        b.read_reply();
        send(&mut b, "PUNSUBSCRIBE");
        send(&mut b, "NOSUCH");
        out.push(body(&send(&mut a, &format!("CLIENT LIST ID {idb}"))));
        send(&mut b, "CLIENT ID x");
        out.push(body(&send(&mut a, &format!("CLIENT LIST ID {idb}"))));
        out.into_iter()
            .map(|t| client_fields(&t))
            .collect::<Vec<_>>()
    });
    assert_eq!(v, r);
    // The lines carry the connection's own facts.
    for m in p.both() {
        let mut a = m.raw();
        let id = client_id(&mut a);
        let info = body(&send(&mut a, "CLIENT INFO"));
        let local = a.stream.get_ref().local_addr().unwrap().to_string();
        assert!(
            info.starts_with(&format!("id={id} addr={local} laddr=127.0.0.1:{} ", m.port)),
            "{info}"
        );
    }
}

#[test]
fn client_kill_reply_and_pause_act_like_redis_sentinel() {
    let p = Pair::start(None);
    let [v, r] = p.both().map(|m| {
        let mut out = Vec::new();
        // KILL by id, by address (old and new forms), by type, itself.
        let (mut a, mut b) = (m.raw(), m.raw());
        let idb = client_id(&mut b);
        let addr_b = b.stream.get_ref().local_addr().unwrap().to_string();
        out.push(text(&mut a, &format!("CLIENT KILL ID {idb}")));
        assert!(b.is_closed(Duration::from_secs(5)), "killed client still open");
        out.push(text(&mut a, &format!("CLIENT KILL {addr_b}")));
        out.push(text(&mut a, &format!("CLIENT KILL ADDR {addr_b}")));
        let mut b = m.raw();
        let addr_b = b.stream.get_ref().local_addr().unwrap().to_string();
        send(&mut b, "PING");
        out.push(text(&mut a, &format!("CLIENT KILL {addr_b}")));
        assert!(b.is_closed(Duration::from_secs(5)));
        let mut sub = m.raw();
        send(&mut sub, "PSUBSCRIBE x*");
        out.push(text(&mut a, "CLIENT KILL TYPE pubsub"));
        assert!(sub.is_closed(Duration::from_secs(5)));
        let ida = client_id(&mut a);
        out.push(text(&mut a, &format!("CLIENT KILL ID {ida} SKIPME no")));
        assert!(a.is_closed(Duration::from_secs(5)));

        // REPLY SKIP and OFF silence replies and errors, not pub/sub
        // confirmations (pushed even then); in subscribed mode REPLY ON is
        // refused, silently.
        let mut c = m.raw();
        c.send(b"CLIENT REPLY SKIP\r\nPING one\r\nNOSUCH\r\nCLIENT REPLY OFF\r\nPING two\r\nSUBSCRIBE ch\r\nCLIENT REPLY ON\r\nPING three\r\n");
        for _ in 0..2 {
            out.push(common::show(&c.read_reply()));
        }
        out.push(text(&mut c, "UNSUBSCRIBE"));
        out.push(text(&mut c, "CLIENT REPLY ON"));
        out.push(text(&mut c, "PING four"));

        // PAUSE WRITE holds PUBLISH, not PING; PAUSE ALL holds everything.
        let (mut ctl, mut w) = (m.raw(), m.raw());
        let idw = client_id(&mut w);
        out.push(text(&mut ctl, "CLIENT PAUSE 60000 WRITE"));
        out.push(text(&mut w, "PING"));
        w.send_cmd(&[b"PUBLISH", b"x", b"y"]);
        let held = wait_until(Duration::from_secs(5), || {
            body(&send(&mut ctl, &format!("CLIENT LIST ID {idw}"))).contains(" flags=b ")
        });
        assert!(held, "PUBLISH was not held");
        let line = body(&send(&mut ctl, &format!("CLIENT LIST ID {idw}")));
        out.push(format!("{:?}", client_fields(&line)));
        let blocked = info_field(&body(&send(&mut ctl, "INFO clients")), "blocked_clients");
        assert!(blocked.parse::<u32>().unwrap() >= 1);
        out.push(text(&mut ctl, "CLIENT UNPAUSE"));
        out.push(common::show(&w.read_reply()));
        out.push(text(&mut ctl, "CLIENT PAUSE 300"));
        let started = Instant::now();
        out.push(text(&mut w, "PING"));
        assert!(started.elapsed() >= Duration::from_millis(200), "{:?}", started.elapsed());
        out
    });
    assert_eq!(v, r);
}

// ---------------------------------------------------------------------------
// COMMAND

#[test]
fn command_describes_the_fifteen_commands_like_redis_sentinel() {
    let p = Pair::start(None);
    same_replies(
        &p,
        &[
            "COMMAND COUNT",
            "COMMAND COUNT x",
            "COMMAND HELP",
            "COMMAND FOO",
            "COMMAND INFO ping role client|kill sentinel|masters nosuch get",
            "COMMAND GETKEYS",
            "COMMAND GETKEYS ping",
            "COMMAND GETKEYS ping x",
            "COMMAND GETKEYS get k",
            "COMMAND GETKEYS client foo",
            "COMMAND GETKEYSANDFLAGS sentinel masters",
            "COMMAND LIST x",
            "COMMAND LIST FILTERBY foo x",
            "COMMAND LIST FILTERBY MODULE x",
            "COMMAND LIST FILTERBY ACLCAT nosuch",
            "COMMAND DOCS nosuch get",
        ],
    );
    let ask = |m: &Monitor, line: &str| Reply::parse(&send(&mut m.raw(), line));
    let [v, r] = p.both().map(|m| sorted_entries(&ask(m, "COMMAND")));
    assert_eq!(v.len(), 15);
    assert_eq!(v, r);
    let [v, r] = p.both().map(|m| sorted_entries(&ask(m, "COMMAND INFO")));
    assert_eq!(v, r);
    for line in [
        "COMMAND LIST",
        "COMMAND LIST FILTERBY PATTERN cl*",
        "COMMAND LIST FILTERBY PATTERN *subscribe",
        "COMMAND LIST FILTERBY PATTERN sentinel|*",
    ] {
        let [v, r] = p.both().map(|m| sorted_bulks(&ask(m, line)));
        assert_eq!(v, r, "{line}");
    }
    let categories = ask(&p.r, "ACL CAT").bulks();
    for cat in categories {
        let cat = String::from_utf8(cat).unwrap();
        let line = format!("COMMAND LIST FILTERBY ACLCAT {cat}");
        let [v, r] = p.both().map(|m| sorted_bulks(&ask(m, &line)));
        assert_eq!(v, r, "{line}");
    }
    for line in [
        "COMMAND DOCS",
        "COMMAND DOCS ping client sentinel|slaves acl|setuser nosuch",
    ] {
        let [v, r] = p.both().map(|m| sorted_docs(&ask(m, line)));
        assert_eq!(v, r, "{line}");
    }
    // RESP3 shapes: sets of flags and categories, maps of docs (the
    // summary in Vigil's words).
    let [v, r] = p.both().map(|m| {
        let mut c = m.raw();
        send(&mut c, "HELLO 3");
        [
            common::show(&send(&mut c, "COMMAND INFO ping client|tracking")),
            common::show(&send(&mut c, "COMMAND DOCS sentinel|config")),
        ]
    });
    let ours = common::show(b"$43\r\nReads or changes the monitor's own settings");
    let theirs = common::show(b"$18\r\nConfigure Sentinel");
    assert_eq!(v, r.map(|s| s.replace(&theirs, &ours)));
}

// ---------------------------------------------------------------------------
// ACL

#[test]
fn acl_answers_for_the_default_user_like_redis_sentinel() {
    let p = Pair::start(None);
    same_replies(
        &p,
        &[
            "ACL",
            "ACL FOO",
            "ACL HELP",
            "ACL WHOAMI",
            "ACL WHOAMI x",
            "ACL USERS",
            "ACL LIST",
            "ACL CAT",
            "ACL CAT foo",
            "ACL CAT a b",
            "ACL CAT keyspace",
            "ACL GETUSER default",
            "ACL GETUSER nobody",
            "ACL GETUSER",
            "ACL LOG",
            "ACL LOG x",
            "ACL LOG -1",
            "ACL LOG RESET",
            "ACL LOG reset x",
            "ACL GENPASS x",
            "ACL GENPASS 0",
            "ACL GENPASS 4097",
            "ACL SAVE",
            "ACL LOAD",
            "ACL DRYRUN default",
            "ACL DRYRUN default ping",
            "ACL DRYRUN default ping a b",
            "ACL DRYRUN default sentinel masters",
            "ACL DRYRUN default get k",
            "ACL DRYRUN default client",
            "ACL DRYRUN default client foo",
            "ACL DRYRUN nobody ping",
            "ACL DELUSER nobody",
            "ACL DELUSER nobody default",
            "AUTH x",
            "AUTH default anything",
            "HELLO 2 AUTH default anything",
            "AUTH a b c",
        ],
    );
    let ask = |m: &Monitor, line: &str| Reply::parse(&send(&mut m.raw(), line));
    for cat in ask(&p.r, "ACL CAT").bulks() {
        let line = format!("ACL CAT {}", String::from_utf8(cat).unwrap());
        let [v, r] = p.both().map(|m| sorted_bulks(&ask(m, &line)));
        assert_eq!(v, r, "{line}");
    }
    for bits in ["", " 1", " 5", " 128", " 4096"] {
        let line = format!("ACL GENPASS{bits}");
        let [v, r] = p.both().map(|m| ask(m, &line).bulk().len());
        assert_eq!(v, r, "{line}");
    }
    // Failed authentications are logged, alike ones grouped.
    let log = |m: &Monitor| {
        let mut c = m.raw();
        send(&mut c, "ACL LOG RESET");
        send(&mut c, "CLIENT SETNAME intruder");
        for line in [
            "auth bob x",
            "AUTH bob y",
            "HELLO 3 AUTH eve z",
            "AUTH bob x",
        ] {
            send(&mut c, line);
        }
        acl_log_fields(&mut c, "ACL LOG")
    };
    let [v, r] = p.both().map(log);
    assert_eq!(v, r);
    // `auth` and `AUTH` are logged apart, as typed; the second `AUTH bob`
    // joins the first.
    assert_eq!(v.len(), 3);
    // SETUSER is refused rather than half-supported (the one difference).
    assert!(p
        .v
        .say("ACL SETUSER bob on")
        .starts_with("-ERR ACL SETUSER is not supported"));
}

/// ACL LOG entries as (field, value) lists: the age as present, the
/// client line compared field by field.
fn acl_log_fields(c: &mut Raw, line: &str) -> Vec<Vec<(String, String)>> {
    Reply::parse(&send(c, line))
        .items()
        .iter()
        .map(|entry| {
            pairs(entry)
                .into_iter()
                .map(|(k, v)| {
                    let k = String::from_utf8(k).unwrap();
                    let v = match (k.as_str(), v) {
                        ("age-seconds", Reply::Bulk(age)) => {
                            let age: f64 = String::from_utf8_lossy(&age).parse().unwrap();
                            assert!((0.0..30.0).contains(&age), "{age}");
                            "*".to_string()
                        }
                        ("client-info", Reply::Bulk(info)) => {
                            format!("{:?}", client_fields(&String::from_utf8_lossy(&info)))
                        }
                        (_, other) => format!("{other:?}"),
                    };
                    (k, v)
                })
                .collect()
        })
        .collect()
}

#[test]
fn requirepass_guards_both_alike() {
    let p = Pair::start(Some("s3cret"));
    same_replies(
        &p,
        &[
            "PING",
            "ACL WHOAMI",
            "CLIENT",
            "CLIENT FOO",
            "CLIENT ID x",
            "CLIENT ID",
            "SENTINEL",
            "SENTINEL bogus",
            "SENTINEL masters",
            "INFO",
            "COMMAND",
            "FOO",
            "HELLO",
            "HELLO 3 SETNAME a\\sb",
            "HELLO 2 AUTH default wrong",
            "AUTH wrong",
            "auth bob s3cret",
            "AUTH default wrong",
            "AUTH s3cret",
            "ACL LIST",
            "ACL GETUSER default",
            "AUTH default s3cret",
            "HELLO 2 AUTH default s3cret SETNAME probe",
            "CLIENT GETNAME",
        ],
    );
    let [v, r] = p.both().map(|m| {
        let mut c = m.raw();
        send(&mut c, "AUTH s3cret");
        acl_log_fields(&mut c, "ACL LOG")
    });
    assert_eq!(v, r);
    assert_eq!(v.len(), 3);
}

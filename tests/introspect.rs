//! Introspection and DEBUG behaviour that the differential corpus cannot
//! check: COMMAND answers that cover every command (they must match
//! Vigil's own command table, not Redis's), DEBUG SLEEP stopping the whole
//! server, the enable-debug-command gate, and an interactive redis-cli
//! session, which loads COMMAND DOCS on connect.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{show, Server};
use vigil::node::commands;

const DEBUG_REFUSED: &str = "-ERR DEBUG command not allowed. If the enable-debug-command option \
     is set to \"local\", you can run it from a local connection, otherwise you need to set this \
     option in the configuration file, and then restart the server.\r\n";

fn text(reply: Vec<u8>) -> String {
    String::from_utf8_lossy(&reply).into_owned()
}

/// The bulk strings of a flat reply, in order.
fn bulks(reply: &[u8]) -> Vec<String> {
    let s = String::from_utf8_lossy(reply);
    let lines: Vec<&str> = s.split("\r\n").collect();
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with('$') && **l != "$-1")
        .filter_map(|(i, _)| lines.get(i + 1).map(|v| v.to_string()))
        .collect()
}

#[test]
fn command_count_list_info_and_docs_cover_exactly_the_command_table() {
    let server = Server::vigil(&[]);
    let mut c = server.raw();
    let top: BTreeSet<String> = commands::all().map(|c| c.full_name.to_string()).collect();
    let every: BTreeSet<String> = commands::all()
        .flat_map(|c| std::iter::once(c).chain(c.subcommands))
        .map(|c| c.full_name.to_string())
        .collect();

    assert_eq!(
        text(c.cmd(&[b"COMMAND", b"COUNT"])),
        format!(":{}\r\n", top.len())
    );

    let listed: Vec<String> = bulks(&c.cmd(&[b"COMMAND", b"LIST"]));
    assert_eq!(listed.len(), every.len(), "no duplicates");
    assert_eq!(listed.into_iter().collect::<BTreeSet<_>>(), every);

    // COMMAND and COMMAND INFO without names: one 10-element entry per
    // top-level command.
    for argv in [&[&b"COMMAND"[..]][..], &[b"COMMAND", b"INFO"]] {
        let reply = c.cmd(argv);
        assert!(
            reply.starts_with(format!("*{}\r\n*10\r\n", top.len()).as_bytes()),
            "{}",
            show(&reply[..80.min(reply.len())])
        );
    }

    // COMMAND DOCS without names: a map with every top-level command.
    c.cmd(&[b"HELLO", b"3"]);
    let docs = c.cmd(&[b"COMMAND", b"DOCS"]);
    assert!(docs.starts_with(format!("%{}\r\n", top.len()).as_bytes()));
    for name in &top {
        let key = format!("${}\r\n{}\r\n%", name.len(), name);
        assert!(
            String::from_utf8_lossy(&docs).contains(&key),
            "{name} missing"
        );
    }
}

#[test]
fn debug_sleep_stops_the_whole_server() {
    let server = Server::vigil(&[]);
    let mut sleeper = server.raw();
    let mut other = server.raw();
    assert_eq!(text(other.cmd(&[b"PING"])), "+PONG\r\n");

    let started = Instant::now();
    sleeper.send_cmd(&[b"DEBUG", b"SLEEP", b"0.5"]);
    std::thread::sleep(Duration::from_millis(100));
    let ping_sent = Instant::now();
    assert_eq!(text(other.cmd(&[b"PING"])), "+PONG\r\n");
    let ping_wait = ping_sent.elapsed();
    assert_eq!(text(sleeper.read_reply()), "+OK\r\n");
    let slept = started.elapsed();

    assert!(slept >= Duration::from_millis(500), "slept {slept:?}");
    assert!(
        ping_wait >= Duration::from_millis(300),
        "PING answered after {ping_wait:?} while the server slept"
    );

    // Fractions and nonsense parse like strtod: no sleep for 0 or "abc".
    let t = Instant::now();
    assert_eq!(text(sleeper.cmd(&[b"DEBUG", b"SLEEP", b"abc"])), "+OK\r\n");
    assert_eq!(text(sleeper.cmd(&[b"DEBUG", b"SLEEP", b"0"])), "+OK\r\n");
    assert!(t.elapsed() < Duration::from_millis(200));
}

#[test]
fn debug_is_refused_unless_enable_debug_command_allows_it() {
    let server = Server::vigil(&["--enable-debug-command", "no", "--requirepass", "pw"]);
    let mut c = server.raw();
    // Refused before authentication, like every pre-execution check that
    // comes before NOAUTH; the arity check comes first.
    assert_eq!(
        text(c.cmd(&[b"DEBUG"])),
        "-ERR wrong number of arguments for 'debug' command\r\n"
    );
    assert_eq!(text(c.cmd(&[b"DEBUG", b"DIGEST"])), DEBUG_REFUSED);
    assert_eq!(text(c.cmd(&[b"AUTH", b"pw"])), "+OK\r\n");
    assert_eq!(text(c.cmd(&[b"DEBUG", b"DIGEST"])), DEBUG_REFUSED);
    // A refusal inside MULTI aborts the transaction.
    assert_eq!(text(c.cmd(&[b"MULTI"])), "+OK\r\n");
    assert_eq!(text(c.cmd(&[b"DEBUG", b"DIGEST"])), DEBUG_REFUSED);
    assert_eq!(text(c.cmd(&[b"PING"])), "+QUEUED\r\n");
    assert_eq!(
        text(c.cmd(&[b"EXEC"])),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );

    let yes = Server::vigil(&["--enable-debug-command", "yes"]);
    assert_eq!(
        text(yes.raw().cmd(&[b"DEBUG", b"DIGEST"])),
        format!("+{}\r\n", "0".repeat(40))
    );
}

/// A non-loopback address of this machine, if it has one.
fn external_ipv4() -> Option<std::net::IpAddr> {
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    // Connecting a UDP socket sends nothing; it only picks a route.
    probe.connect("203.0.113.1:9").ok()?;
    let ip = probe.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[test]
fn enable_debug_command_local_allows_only_loopback_connections() {
    let Some(ip) = external_ipv4() else {
        eprintln!("no non-loopback address: only the loopback half is checked");
        let server = Server::vigil(&["--enable-debug-command", "local"]);
        assert!(text(server.raw().cmd(&[b"DEBUG", b"DIGEST"])).starts_with("+"));
        return;
    };
    let ip_s = ip.to_string();
    let server = Server::vigil(&[
        "--enable-debug-command",
        "local",
        "--bind",
        "127.0.0.1",
        &ip_s,
        "--protected-mode",
        "no",
    ]);
    assert!(text(server.raw().cmd(&[b"DEBUG", b"DIGEST"])).starts_with("+0000"));

    let stream = std::net::TcpStream::connect((ip, server.port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut remote = common::Raw {
        stream: std::io::BufReader::new(stream),
    };
    assert_eq!(text(remote.cmd(&[b"DEBUG", b"DIGEST"])), DEBUG_REFUSED);
    assert_eq!(text(remote.cmd(&[b"PING"])), "+PONG\r\n");
}

#[test]
fn debug_protocol_push_is_followed_by_a_normal_reply_in_resp3() {
    let server = Server::vigil(&[]);
    let mut c = server.raw();
    assert_eq!(
        text(c.cmd(&[b"DEBUG", b"PROTOCOL", b"push"])),
        "-ERR RESP2 is not supported by this command\r\n"
    );
    c.cmd(&[b"HELLO", b"3"]);
    assert_eq!(
        text(c.cmd(&[b"DEBUG", b"PROTOCOL", b"push"])),
        ">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n"
    );
    assert_eq!(
        text(c.read_reply()),
        "$40\r\nSome real reply following the push reply\r\n"
    );
}

#[test]
fn debug_set_active_expire_stops_background_expiry() {
    let server = Server::vigil(&["--hz", "100"]);
    let mut c = server.raw();
    assert_eq!(
        text(c.cmd(&[b"DEBUG", b"SET-ACTIVE-EXPIRE", b"0"])),
        "+OK\r\n"
    );
    c.cmd(&[b"SET", b"k", b"v", b"PX", b"10"]);
    std::thread::sleep(Duration::from_millis(300));
    // Still in the table (DBSIZE does not expire lazily).
    assert_eq!(text(c.cmd(&[b"DBSIZE"])), ":1\r\n");
    assert_eq!(
        text(c.cmd(&[b"DEBUG", b"SET-ACTIVE-EXPIRE", b"1"])),
        "+OK\r\n"
    );
    assert!(common::wait_until(Duration::from_secs(5), || text(
        c.cmd(&[b"DBSIZE"])
    ) == ":0\r\n"));
}

/// Run an interactive redis-cli (under `script`, which gives it a
/// terminal) against `port`, typing `lines`, and return what it printed.
fn interactive_redis_cli(port: u16, extra: &str, lines: &[&str]) -> (bool, String) {
    // A fixed window size keeps linenoise from querying the cursor
    // position, which nobody would answer.
    let shell = format!("stty cols 200 rows 50; redis-cli -p {port} {extra}");
    let mut child = Command::new("script")
        .args(["-qfec", &shell, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run script(1) and redis-cli (util-linux, redis-tools)");
    let mut stdin = child.stdin.take().expect("stdin");
    std::thread::sleep(Duration::from_millis(500));
    for line in lines {
        stdin.write_all(line.as_bytes()).expect("type");
        stdin.write_all(b"\r").expect("type");
        std::thread::sleep(Duration::from_millis(300));
    }
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("output");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn interactive_redis_cli_loads_command_docs_and_shows_argument_hints() {
    let server = Server::vigil(&[]);
    for extra in ["", "-3"] {
        let (ok, out) = interactive_redis_cli(
            server.port,
            extra,
            &["set k v", "get k", "help set", "quit"],
        );
        assert!(ok, "redis-cli {extra} failed:\n{out}");
        assert!(!out.contains("Assertion"), "{out}");
        assert!(out.contains("\"v\""), "{out}");
        // The hint comes from the argument tree of COMMAND DOCS ...
        assert!(out.contains("key value [NX|XX] [GET]"), "{out}");
        // ... and the help text from its summary, which is Vigil's.
        assert!(
            out.contains("Stores a string at a key, with optional conditions and expiry"),
            "{out}"
        );
    }
}

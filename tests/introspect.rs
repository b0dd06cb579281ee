//! DEBUG behaviour that the differential corpus cannot check: DEBUG SLEEP
//! stopping the whole server, the enable-debug-command gate, push replies
//! and active expiry switched off.

mod common;

use std::time::{Duration, Instant};

use common::Server;

const DEBUG_REFUSED: &str = "-ERR DEBUG command not allowed. If the enable-debug-command option \
     is set to \"local\", you can run it from a local connection, otherwise you need to set this \
     option in the configuration file, and then restart the server.\r\n";

fn text(reply: Vec<u8>) -> String {
    String::from_utf8_lossy(&reply).into_owned()
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

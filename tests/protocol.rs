//! Protocol behaviour at the byte level: malformed and partial requests,
//! limits, inline commands, pipelining. Where Redis's behaviour is the
//! specification, the same bytes go to a real redis-server 7.0 and the full
//! byte streams that come back (until the server closes the connection or
//! goes quiet) must be identical.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{show, wait_until, Kind, Server};

/// Send `payload`, then collect everything the server sends until it closes
/// the connection or stays silent for `quiet`.
fn exchange_raw(port: u16, payload: &[u8], quiet: Duration) -> (Vec<u8>, bool) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_nodelay(true).unwrap();
    s.write_all(payload).unwrap();
    s.set_read_timeout(Some(quiet)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return (out, false)
            }
            Err(_) => return (out, true),
        }
    }
}

#[test]
fn malformed_and_edge_case_requests_get_redis_replies_byte_for_byte() {
    let vigil = Server::vigil(&[]);
    let redis = Server::redis(&[]);
    let cases: &[&[u8]] = &[
        b"*1\r\n$4\r\nPINGxx",
        b"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n",
        b"*01\r\n$4\r\nPING\r\n",
        b"*+1\r\n$4\r\nPING\r\n",
        b"*x\r\nPING\r\n",
        b"*2147483648\r\n",
        b"*1\r\n:1\r\n",
        b"*1\r\n$-1\r\n",
        b"*1\r\n$01\r\nx\r\n",
        b"*1\r\n$536870913\r\n",
        b"*1\r\n$0\r\n\r\n",
        b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\nPING\r\n",
        b"PING\r\nPING\nPING   \r\n  ECHO  \"a\\x41\\n\"\r\n",
        b"\r\n\n\r\nPING\r\n",
        b"ECHO \"unbalanced\r\nPING\r\n",
        b"ECHO 'it\\'s'\r\nECHO \"a\"b\r\n",
        b"SET k v\r\nGET k\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\nDEL k\r\n",
        b"NOSUCH a b c\r\n",
        b"*3\r\n$6\r\nNOSUCH\r\n$3\r\na\rb\r\n$1\r\nc\r\n",
        b"QUIT\r\nPING\r\n",
        b"PING\r\n*1\r\n$3\r\nfoo\r\n*x\r\nPING\r\n",
        b"hello 3\r\nPING\r\nGET missing\r\nhello 2\r\nGET missing\r\n",
    ];
    for case in cases {
        let (ours, ours_closed) = exchange_raw(vigil.port, case, Duration::from_millis(300));
        let (theirs, theirs_closed) = exchange_raw(redis.port, case, Duration::from_millis(300));
        let mask = |b: &[u8]| -> String {
            // The HELLO reply carries the client id, which differs per server.
            show(b).replace(|c: char| c.is_ascii_digit(), "#")
        };
        let same = if case.starts_with(b"hello") {
            mask(&ours) == mask(&theirs)
        } else {
            ours == theirs
        };
        assert!(
            same,
            "request {}\n  vigil: {}\n  redis: {}",
            show(case),
            show(&ours),
            show(&theirs)
        );
        assert_eq!(
            ours_closed,
            theirs_closed,
            "close behaviour differs for {}",
            show(case)
        );
    }
}

#[test]
fn oversized_headers_and_inline_lines_are_refused() {
    let vigil = Server::vigil(&[]);
    let redis = Server::redis(&[]);
    let mut big_inline = vec![b'a'; 70 * 1024];
    big_inline.push(b' ');
    let mut big_count = b"*".to_vec();
    big_count.extend(std::iter::repeat_n(b'1', 70 * 1024));
    let mut big_bulk_header = b"*1\r\n$".to_vec();
    big_bulk_header.extend(std::iter::repeat_n(b'1', 70 * 1024));
    for case in [&big_inline, &big_count, &big_bulk_header] {
        let (ours, ours_closed) = exchange_raw(vigil.port, case, Duration::from_millis(500));
        let (theirs, theirs_closed) = exchange_raw(redis.port, case, Duration::from_millis(500));
        assert_eq!(show(&ours), show(&theirs));
        assert!(ours_closed && theirs_closed);
    }
}

#[test]
fn unauthenticated_clients_get_redis_limits() {
    let vigil = Server::vigil(&["--requirepass", "secret"]);
    let redis = Server::redis(&["--requirepass", "secret"]);
    let cases: &[&[u8]] = &[
        b"*11\r\n",
        b"*1\r\n$16385\r\n",
        b"PING\r\nNOSUCH\r\nAUTH wrong\r\nAUTH secret\r\nPING\r\n",
        b"HELLO 3\r\nHELLO 3 AUTH default wrong\r\n",
        b"AUTH default secret\r\n*11\r\n$4\r\nECHO\r\n",
    ];
    for case in cases {
        let (ours, ours_closed) = exchange_raw(vigil.port, case, Duration::from_millis(300));
        let (theirs, theirs_closed) = exchange_raw(redis.port, case, Duration::from_millis(300));
        assert_eq!(show(&ours), show(&theirs), "request {}", show(case));
        assert_eq!(
            ours_closed,
            theirs_closed,
            "close behaviour for {}",
            show(case)
        );
    }
}

#[test]
fn a_pipeline_split_at_every_byte_gives_the_same_replies() {
    let vigil = Server::vigil(&[]);
    let pipeline: &[u8] = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\nGET key\r\n*2\r\n$4\r\nECHO\r\n$4\r\na\r\nb\r\nINCR n\r\n";
    let expected: &[u8] = b"+OK\r\n$5\r\nvalue\r\n$4\r\na\r\nb\r\n:";
    for cut in 1..pipeline.len() {
        let mut s = TcpStream::connect(("127.0.0.1", vigil.port)).unwrap();
        s.set_nodelay(true).unwrap();
        s.write_all(&pipeline[..cut]).unwrap();
        s.flush().unwrap();
        // Let the first part arrive (and be parsed) on its own.
        let mut probe = vigil.raw();
        assert!(wait_until(Duration::from_secs(5), || {
            let list = probe.cmd_str("CLIENT LIST");
            list.lines()
                .any(|l| l.contains("cmd=") && !l.contains("cmd=client"))
                || list.lines().filter(|l| l.contains("qbuf=")).count() >= 2
        }));
        s.write_all(&pipeline[cut..]).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !got.ends_with(b"\r\n") || got.len() < expected.len() + 3 {
            let mut buf = [0u8; 256];
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "closed at cut {cut}");
            got.extend_from_slice(&buf[..n]);
            assert!(
                Instant::now() < deadline,
                "timeout at cut {cut}: {}",
                show(&got)
            );
        }
        assert!(got.starts_with(expected), "cut {cut}: {}", show(&got));
    }
}

#[test]
fn a_huge_announced_bulk_does_not_allocate_it() {
    let vigil = Server::vigil(&[]);
    let mut info = vigil.raw();
    let used = |info: &mut common::Raw| -> u64 {
        let text = String::from_utf8(info.cmd(&[b"INFO", b"memory"])).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let before = used(&mut info);
    // Announce 500 MB (within proto-max-bulk-len) and send only a little.
    let mut s = TcpStream::connect(("127.0.0.1", vigil.port)).unwrap();
    s.write_all(b"*2\r\n$3\r\nGET\r\n$500000000\r\nabc")
        .unwrap();
    s.flush().unwrap();
    assert!(wait_until(Duration::from_secs(5), || info
        .cmd_str("CLIENT LIST")
        .contains("qbuf=")));
    let during = used(&mut info);
    assert!(
        during < before + 10 * 1024 * 1024,
        "used_memory grew from {before} to {during}"
    );
    drop(s);
    assert_eq!(info.cmd(&[b"PING"]), b"+PONG\r\n");
}

#[test]
fn the_query_buffer_limit_closes_the_client_silently() {
    for kind in [Kind::Vigil, Kind::Redis] {
        let mut server = Server::start(kind, &["--client-query-buffer-limit", "1mb"]);
        let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        s.write_all(b"*2\r\n$3\r\nGET\r\n$3000000\r\n").unwrap();
        let chunk = vec![b'x'; 64 * 1024];
        let mut closed = false;
        for _ in 0..64 {
            if s.write_all(&chunk).is_err() {
                closed = true;
                break;
            }
        }
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = Vec::new();
        let read = s.read_to_end(&mut buf);
        let timed_out = matches!(&read, Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut));
        assert!(
            closed || !timed_out,
            "{kind:?}: the connection should be closed, got {read:?}"
        );
        assert!(buf.is_empty(), "{kind:?}: no reply is sent: {}", show(&buf));
        // Redis's line: the client's CLIENT LIST line, then the first 64
        // bytes of its buffer quoted.
        let needle = "Closing client that reached max query buffer length: id=";
        let line = server
            .wait_for_log_line(needle, Duration::from_secs(5))
            .unwrap_or_else(|| panic!("{kind:?}: the reason is logged: {:?}", server.log_lines()));
        // (Redis has parsed the header by then and shows the argument's
        // bytes; Vigil shows the buffer from the command's start.)
        assert!(
            line.contains(" cmd=NULL user=default redir=-1 resp=2 (qbuf initial bytes: \"")
                && line.ends_with("xxxx\")"),
            "{kind:?}: {line}"
        );
        assert_eq!(server.raw().cmd(&[b"PING"]), b"+PONG\r\n");
    }
}

#[test]
fn random_garbage_never_crashes_the_server() {
    let vigil = Server::vigil(&[]);
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..300 {
        let len = (next() % 200) as usize;
        let alphabet = b"*$\r\n0123456789-+ PINGSETGET\"'\\x\x00\xff";
        let bytes: Vec<u8> = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        let _ = exchange_raw(vigil.port, &bytes, Duration::from_millis(5));
    }
    assert_eq!(vigil.raw().cmd(&[b"PING"]), b"+PONG\r\n");
}

#[test]
fn pipelined_replies_arrive_in_order_in_one_batch() {
    let vigil = Server::vigil(&[]);
    let mut raw = vigil.raw();
    let mut payload = Vec::new();
    for i in 0..1000 {
        payload.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n$4\r\nk{:03}\r\n$4\r\nv{:03}\r\n",
                i % 1000,
                i % 1000
            )
            .as_bytes(),
        );
        payload
            .extend_from_slice(format!("*2\r\n$3\r\nGET\r\n$4\r\nk{:03}\r\n", i % 1000).as_bytes());
    }
    raw.send(&payload);
    for i in 0..1000 {
        assert_eq!(raw.read_reply(), b"+OK\r\n");
        assert_eq!(
            raw.read_reply(),
            format!("$4\r\nv{:03}\r\n", i % 1000).as_bytes()
        );
    }
}

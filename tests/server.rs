//! The `vigil-server` process and its clients: start-up and shutdown, the
//! command line and config files, connection limits and client management,
//! MONITOR, and the tools operators use (`redis-cli --pipe`, unix sockets).

mod common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{show, wait_until, Kind, Server, TempDir};

fn vigil_bin() -> &'static str {
    env!("CARGO_BIN_EXE_vigil-server")
}

#[test]
fn startup_logs_pid_then_ready_and_signals_stop_it_cleanly() {
    for (sig, name) in [(libc::SIGTERM, "SIGTERM"), (libc::SIGINT, "SIGINT")] {
        let mut vigil = Server::vigil(&[]);
        let log = vigil.log_lines();
        let pid_line = log
            .iter()
            .position(|l| l.contains(&format!("PID: {}", vigil.pid())));
        let ready_line = log
            .iter()
            .position(|l| l.contains("Ready to accept connections"));
        assert!(
            pid_line.is_some() && ready_line.is_some() && pid_line < ready_line,
            "{log:#?}"
        );
        let status = vigil
            .signal_and_wait(sig, Duration::from_secs(5))
            .expect("stops within 5 s");
        assert!(status.success(), "{name}: {status:?}");
        assert!(vigil
            .log_lines()
            .iter()
            .any(|l| l.contains(&format!("Received {name}"))));
    }
}

#[test]
fn shutdown_command_stops_the_server_without_a_reply() {
    let mut vigil = Server::vigil(&[]);
    let mut c = vigil.raw();
    c.send(b"SHUTDOWN NOSAVE\r\n");
    assert!(c.is_closed(Duration::from_secs(5)));
    assert!(wait_until(Duration::from_secs(5), || !vigil.is_running()));
    let second = Server::vigil(&[]);
    let mut c = second.raw();
    assert_eq!(c.cmd_str("SHUTDOWN BOGUS"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd_str("SHUTDOWN SAVE NOSAVE"), "-ERR syntax error\r\n");
    assert_eq!(
        c.cmd_str("SHUTDOWN ABORT"),
        "-ERR No shutdown in progress.\r\n"
    );
}

#[test]
fn config_file_errors_name_the_line_and_exit_1() {
    let dir = TempDir::new("conf");
    let conf = dir.0.join("bad.conf");
    std::fs::write(&conf, "# comment\nport 7000\nfoo bar\n").unwrap();
    let out = Command::new(vigil_bin()).arg(&conf).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("FATAL CONFIG FILE ERROR"), "{err}");
    assert!(err.contains("at line 3"), "{err}");
    assert!(err.contains(">>> 'foo bar'"), "{err}");
    assert!(
        err.contains("Bad directive or wrong number of arguments"),
        "{err}"
    );
    assert!(err.contains(conf.to_str().unwrap()), "{err}");

    for (args, reason) in [
        (
            vec!["--port", "abc"],
            "argument couldn't be parsed into an integer",
        ),
        (
            vec!["--port", "70000"],
            "argument must be between 0 and 65535 inclusive",
        ),
        (
            vec!["--appendonly", "maybe"],
            "argument must be 'yes' or 'no'",
        ),
        (
            vec!["--maxmemory", "12x"],
            "argument must be a memory value",
        ),
        (vec!["--save", "1"], "Invalid save parameters"),
        (
            vec!["--appendfsync", "sometimes"],
            "argument(s) must be one of the following: everysec, always, no",
        ),
        (
            vec!["--nosuchdirective", "1"],
            "Bad directive or wrong number of arguments",
        ),
    ] {
        let out = Command::new(vigil_bin()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(reason), "{args:?}: {err}");
    }
    let missing = Command::new(vigil_bin())
        .arg("/nonexistent/redis.conf")
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));

    let version = Command::new(vigil_bin()).arg("--version").output().unwrap();
    assert!(version.status.success());
    assert!(String::from_utf8_lossy(&version.stdout).contains("7.0.15"));
}

#[test]
fn a_config_file_with_redis_test_directives_starts() {
    let dir = TempDir::new("conf");
    let conf = dir.0.join("redis.conf");
    let port = common::free_port();
    // The directives of Redis 7.0's own test configuration.
    std::fs::write(
        &conf,
        format!(
            "always-show-logo yes\nnotify-keyspace-events KEA\ndaemonize no\npidfile {pid}\nport {port}\ntimeout 0\n\
             bind 127.0.0.1\nloglevel verbose\nlogfile ''\ndatabases 16\nlatency-monitor-threshold 1\n\
             repl-diskless-sync-delay 0\nsave 60 10000\nrdbcompression yes\ndbfilename dump.rdb\ndir {dir}\n\
             slave-serve-stale-data yes\nappendonly no\nappendfsync everysec\nno-appendfsync-on-rewrite no\n\
             activerehashing yes\nenable-protected-configs yes\nenable-debug-command yes\nenable-module-command yes\n\
             propagation-error-behavior panic\nshutdown-on-sigterm force\n",
            pid = dir.0.join("vigil.pid").display(),
            dir = dir.0.display()
        ),
    )
    .unwrap();
    let mut child = Command::new(vigil_bin())
        .arg(&conf)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The pidfile is written just after the listeners open (as in Redis),
    // so wait for both.
    let read_pidfile = || std::fs::read_to_string(dir.0.join("vigil.pid")).unwrap_or_default();
    let ok = wait_until(Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() && read_pidfile().ends_with('\n')
    });
    let pidfile = read_pidfile();
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(ok, "server did not start");
    assert_eq!(pidfile.trim(), child.id().to_string());
    assert!(status.success());
    assert!(!dir.0.join("vigil.pid").exists(), "pidfile removed at exit");
}

#[test]
fn maxclients_refuses_extra_connections_with_redis_error() {
    let vigil = Server::vigil(&["--maxclients", "2"]);
    let _a = vigil.raw();
    let _b = vigil.raw();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", vigil.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    assert_eq!(buf, b"-ERR max number of clients reached\r\n");
}

#[test]
fn client_kill_list_and_setname() {
    let vigil = Server::vigil(&[]);
    let mut admin = vigil.raw();
    let mut victim = vigil.raw();
    victim.cmd_str("CLIENT SETNAME victim");
    let list = admin.cmd_str("CLIENT LIST");
    let line = list
        .lines()
        .find(|l| l.contains("name=victim"))
        .unwrap_or_else(|| panic!("{list}"));
    let fields: Vec<&str> = line
        .split(' ')
        .map(|f| f.split('=').next().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "id",
            "addr",
            "laddr",
            "fd",
            "name",
            "age",
            "idle",
            "flags",
            "db",
            "sub",
            "psub",
            "ssub",
            "multi",
            "qbuf",
            "qbuf-free",
            "argv-mem",
            "multi-mem",
            "rbs",
            "rbp",
            "obl",
            "oll",
            "omem",
            "tot-mem",
            "events",
            "cmd",
            "user",
            "redir",
            "resp"
        ]
    );
    assert!(line.contains("cmd=client|setname"), "{line}");
    let victim_id: u64 = victim
        .cmd_str("CLIENT ID")
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    assert_eq!(
        admin.cmd_str(&format!("CLIENT KILL ID {victim_id}")),
        ":1\r\n"
    );
    assert!(victim.is_closed(Duration::from_secs(5)));
    // TYPE normal kills every normal client except the caller (SKIPME yes).
    let mut other = vigil.raw();
    other.cmd_str("PING");
    assert_eq!(admin.cmd_str("CLIENT KILL TYPE normal"), ":1\r\n");
    assert!(other.is_closed(Duration::from_secs(5)));
    assert_eq!(admin.cmd_str("PING"), "+PONG\r\n");
    // Killing yourself: the reply arrives, then the connection closes.
    let me: u64 = admin
        .cmd_str("CLIENT ID")
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    assert_eq!(
        admin.cmd_str(&format!("CLIENT KILL ID {me} SKIPME no")),
        ":1\r\n"
    );
    assert!(admin.is_closed(Duration::from_secs(5)));
}

#[test]
fn client_pause_holds_writes_until_unpaused() {
    let vigil = Server::vigil(&[]);
    let mut admin = vigil.raw();
    let mut writer = vigil.raw();
    assert_eq!(admin.cmd_str("CLIENT PAUSE 100000 WRITE"), "+OK\r\n");
    writer.send(b"SET k v\r\n");
    // Reads still run during a write pause.
    assert_eq!(admin.cmd_str("GET k"), "$-1\r\n");
    assert!(writer
        .stream
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(300)))
        .is_ok());
    let mut byte = [0u8; 1];
    assert!(
        writer.stream.get_mut().read(&mut byte).is_err(),
        "the write must wait"
    );
    // Held back counts as blocked, as in Redis: flag b, blocked_clients.
    assert!(admin
        .cmd_str("INFO clients")
        .contains("blocked_clients:1\r\n"));
    let list = admin.cmd_str("CLIENT LIST");
    let held = list.lines().find(|l| l.contains("cmd=set")).unwrap();
    assert!(held.contains(" flags=b "), "{held}");
    // Its command is parsed and held, not pending input: "SET k v".
    assert!(
        held.contains(" qbuf=0 ") && held.contains(" argv-mem=5 "),
        "{held}"
    );
    writer
        .stream
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(admin.cmd_str("CLIENT UNPAUSE"), "+OK\r\n");
    assert_eq!(writer.read_reply(), b"+OK\r\n");
    // A pause that times out releases clients by itself.
    let started = Instant::now();
    admin.cmd_str("CLIENT PAUSE 300 ALL");
    assert_eq!(writer.cmd_str("GET k"), "$1\r\nv\r\n");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn monitor_shows_commands_in_redis_format() {
    let vigil = Server::vigil(&["--requirepass", "pw"]);
    let mut mon = vigil.raw();
    mon.cmd_str("AUTH pw");
    assert_eq!(mon.cmd_str("MONITOR"), "+OK\r\n");
    let mut c = vigil.raw();
    c.cmd_str("AUTH pw");
    c.cmd(&[b"SET", b"b\x00n", b"a\"b\\\n\xff"]);
    c.cmd_str("CLIENT LIST");
    c.cmd_str("SELECT 5");
    let lines: Vec<String> = (0..3)
        .map(|_| String::from_utf8_lossy(&mon.read_reply()).into_owned())
        .collect();
    let addr = &lines[0][lines[0].find('[').unwrap()..lines[0].find(']').unwrap() + 1];
    assert!(addr.starts_with("[0 127.0.0.1:"), "{addr}");
    assert!(
        lines[0].ends_with("\"AUTH\" \"(redacted)\"\r\n"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].ends_with("\"SET\" \"b\\x00n\" \"a\\\"b\\\\\\n\\xff\"\r\n"),
        "{}",
        lines[1]
    );
    // CLIENT LIST is an admin command: never shown. SELECT shows the new db.
    assert!(
        lines[2].contains("[5 127.0.0.1:") && lines[2].ends_with("\"SELECT\" \"5\"\r\n"),
        "{}",
        lines[2]
    );
}

/// Several clients pipelining at once, one of them in MULTI/EXEC and one
/// switching databases: the monitor sees every executed command exactly
/// once, each client's in the order it sent them, with its db.
#[test]
fn monitor_sees_concurrent_pipelines_once_each_in_order() {
    const CLIENTS: usize = 4;
    const PER_CLIENT: usize = 500;
    let vigil = Server::vigil(&[]);
    let mut mon = vigil.raw();
    assert_eq!(mon.cmd_str("MONITOR"), "+OK\r\n");
    let port = vigil.port;
    let workers: Vec<_> = (0..CLIENTS)
        .map(|n| {
            std::thread::spawn(move || {
                let mut c = common::Raw::connect(port);
                let addr = c.stream.get_ref().local_addr().unwrap().to_string();
                let mut batch = Vec::new();
                let mut sent = Vec::new();
                for i in 0..PER_CLIENT {
                    let line = match (n, i % 100) {
                        (1, 10) => "MULTI".to_string(),
                        (1, 11) => format!("INCR c1:ctr:{i}"),
                        (1, 12) => "EXEC".to_string(),
                        (2, 50) => "SELECT 7".to_string(),
                        (2, 52) => "SELECT 0".to_string(),
                        _ => format!("SET c{n}:{i} {i}"),
                    };
                    batch.extend_from_slice(line.as_bytes());
                    batch.extend_from_slice(b"\r\n");
                    sent.push(line);
                    if batch.len() > 4096 {
                        c.send(&batch);
                        batch.clear();
                    }
                }
                c.send(&batch);
                for _ in 0..PER_CLIENT {
                    c.read_reply();
                }
                (addr, sent)
            })
        })
        .collect();
    let expected: Vec<(String, Vec<String>)> =
        workers.into_iter().map(|w| w.join().unwrap()).collect();
    let mut seen: std::collections::HashMap<String, Vec<(String, String)>> = Default::default();
    for _ in 0..CLIENTS * PER_CLIENT {
        let line = String::from_utf8(mon.read_reply()).unwrap();
        // +<sec>.<usec> [<db> <addr>] "ARG" "ARG"...
        let rest = line.strip_prefix('+').unwrap().trim_end();
        let (stamp, rest) = rest.split_once(' ').unwrap();
        let (secs, usecs) = stamp.split_once('.').unwrap();
        assert!(secs.parse::<u64>().is_ok() && usecs.len() == 6, "{line}");
        let (source, args) = rest[1..].split_once("] ").unwrap();
        let (db, addr) = source.split_once(' ').unwrap();
        let args: Vec<String> = args
            .split(' ')
            .map(|a| a.trim_matches('"').to_string())
            .collect();
        seen.entry(addr.to_string())
            .or_default()
            .push((db.to_string(), args.join(" ")));
    }
    for (addr, sent) in &expected {
        let got = &seen[addr];
        let commands: Vec<&str> = got.iter().map(|(_, c)| c.as_str()).collect();
        assert_eq!(commands, *sent, "{addr}");
        for ((db, command), i) in got.iter().zip(0..) {
            // SELECT shows the new db; the SET between the two SELECTs ran in 7.
            let in_seven = addr == &expected[2].0 && matches!(i % 100, 50 | 51);
            assert_eq!(db, if in_seven { "7" } else { "0" }, "{addr} {command}");
        }
    }
    // Nothing more: every command was shown once.
    assert!(!mon.is_closed(Duration::from_millis(200)));
}

/// `redis-cli MONITOR` prints the same shape of lines from Vigil as from
/// Redis, unix-socket clients shown as `unix:<path>`.
#[test]
fn redis_cli_monitor_prints_redis_lines() {
    let mut outputs = Vec::new();
    for kind in [Kind::Vigil, Kind::Redis] {
        let dir = TempDir::new("mon-sock");
        let path = dir.0.join("s.sock");
        let server = Server::start(kind, &["--unixsocket", path.to_str().unwrap()]);
        let mut cli = Command::new("redis-cli")
            .args(["-p", &server.port.to_string(), "MONITOR"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = cli.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).as_deref(), Ok("OK"));
        let mut c = server.raw();
        c.cmd(&[b"SET", b"quote\"d", b"tab\there\x01\xfe"]);
        c.cmd_str("SELECT 3");
        c.cmd_str("GET k");
        let unix = Command::new("redis-cli")
            .args(["-s", path.to_str().unwrap(), "PING"])
            .output()
            .unwrap();
        assert!(unix.status.success());
        let lines: Vec<String> = (0..4)
            .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        let _ = cli.kill();
        let _ = cli.wait();
        let port = c.stream.get_ref().local_addr().unwrap().port();
        let masked: Vec<String> = lines
            .iter()
            .map(|l| {
                let (stamp, rest) = l.split_once(' ').unwrap();
                let (secs, usecs) = stamp.split_once('.').unwrap();
                assert!(secs.parse::<u64>().is_ok() && usecs.len() == 6, "{l}");
                rest.replace(&format!("127.0.0.1:{port}"), "ADDR")
                    .replace(path.to_str().unwrap(), "PATH")
            })
            .collect();
        outputs.push(masked);
    }
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[1][3], "[0 unix:PATH] \"PING\"");
}

#[test]
fn idle_clients_are_closed_after_timeout() {
    for kind in [Kind::Vigil, Kind::Redis] {
        let server = Server::start(kind, &["--timeout", "1"]);
        let mut idle = server.raw();
        idle.cmd_str("PING");
        // Redis never times out subscribers, monitors or blocked clients.
        let mut subscriber = server.raw();
        subscriber.send(b"SUBSCRIBE ch\r\n");
        subscriber.read_reply();
        let mut monitor = server.raw();
        assert_eq!(monitor.cmd_str("MONITOR"), "+OK\r\n");
        let mut blocked = server.raw();
        blocked.send(b"BLPOP list 0\r\n");
        let shown = String::from_utf8_lossy(&monitor.read_reply()).into_owned();
        assert!(
            shown.contains("\"BLPOP\" \"list\" \"0\""),
            "{kind:?}: {shown}"
        );
        assert!(idle.is_closed(Duration::from_secs(5)), "{kind:?}");
        // Well past the idle client's close, the others are still open.
        assert!(!monitor.is_closed(Duration::from_millis(1500)), "{kind:?}");
        assert!(!blocked.is_closed(Duration::from_millis(50)), "{kind:?}");
        assert!(!subscriber.is_closed(Duration::from_millis(50)), "{kind:?}");
        let mut probe = server.raw();
        assert_eq!(probe.cmd_str("PUBLISH ch still-here"), ":1\r\n", "{kind:?}");
        assert_eq!(probe.cmd_str("RPUSH list v"), ":1\r\n", "{kind:?}");
        assert_eq!(
            show(&blocked.read_reply()),
            show(b"*2\r\n$4\r\nlist\r\n$1\r\nv\r\n"),
            "{kind:?}"
        );
        let shown = String::from_utf8_lossy(&monitor.read_reply()).into_owned();
        assert!(shown.contains("\"PUBLISH\" \"ch\""), "{kind:?}: {shown}");
    }
}

/// A client held by CLIENT PAUSE is blocked for Redis, so `timeout` does
/// not close it while it waits; the idle one that paused everyone is.
#[test]
fn clients_held_by_a_pause_are_not_timed_out() {
    for kind in [Kind::Vigil, Kind::Redis] {
        let server = Server::start(kind, &["--timeout", "1"]);
        let mut admin = server.raw();
        assert_eq!(admin.cmd_str("CLIENT PAUSE 2500 WRITE"), "+OK\r\n");
        let mut writer = server.raw().patient(Duration::from_secs(10));
        let started = Instant::now();
        assert_eq!(writer.cmd_str("SET k v"), "+OK\r\n", "{kind:?}");
        assert!(
            started.elapsed() >= Duration::from_millis(2000),
            "{kind:?}: {:?}",
            started.elapsed()
        );
        assert!(admin.is_closed(Duration::from_secs(5)), "{kind:?}");
    }
}

#[test]
fn maxclients_counts_rejected_connections_like_redis() {
    for kind in [Kind::Vigil, Kind::Redis] {
        let server = Server::start(kind, &["--maxclients", "2"]);
        let mut a = server.raw();
        let _b = server.raw();
        for _ in 0..3 {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf);
            assert_eq!(show(&buf), show(b"-ERR max number of clients reached\r\n"));
        }
        let stats = a.cmd_str("INFO stats");
        assert!(
            stats.contains("rejected_connections:3\r\n"),
            "{kind:?}: {stats}"
        );
        assert!(
            stats.contains("total_connections_received:2\r\n"),
            "{kind:?}: {stats}"
        );
    }
}

/// Protected mode (on by default, no password): only 127.0.0.1 and ::1
/// are local for Redis 7.0, so a client connecting from 127.0.0.2 gets
/// the long DENIED explanation — byte for byte Redis's — and is counted
/// as rejected; a password lets it in.
#[test]
fn protected_mode_denies_non_local_peers_with_redis_text() {
    let from = |port: u16| {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        let src: std::net::SocketAddr = "127.0.0.2:0".parse().unwrap();
        socket.bind(&src.into()).unwrap();
        let dst: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        socket.connect(&dst.into()).unwrap();
        let mut s: std::net::TcpStream = socket.into();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"PING\r\n").unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        buf
    };
    let vigil = Server::vigil(&[]);
    let redis = Server::redis(&[]);
    let denied = from(redis.port);
    assert!(
        denied.starts_with(b"-DENIED Redis is running in protected mode"),
        "{}",
        show(&denied)
    );
    assert_eq!(show(&from(vigil.port)), show(&denied));
    for server in [&vigil, &redis] {
        let stats = server.raw().cmd_str("INFO stats");
        assert!(stats.contains("rejected_connections:1\r\n"), "{stats}");
    }
    // Loopback itself is always let in; with a password, everyone is.
    let open = Server::vigil(&["--requirepass", "pw"]);
    assert_eq!(
        show(&from(open.port)),
        show(b"-NOAUTH Authentication required.\r\n")
    );
}

/// `tcp-keepalive` arms the kernel's keepalive timer on accepted sockets
/// (`ss -o` shows it), as Redis does; 0 leaves it off.
#[test]
fn tcp_keepalive_is_set_on_client_sockets() {
    let timer = |port: u16| -> String {
        let out = Command::new("ss")
            .args([
                "-tno",
                "state",
                "established",
                &format!("( sport = :{port} )"),
            ])
            .output()
            .expect("ss (iproute2) is installed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for kind in [Kind::Vigil, Kind::Redis] {
        let server = Server::start(kind, &["--tcp-keepalive", "60"]);
        let mut c = server.raw();
        c.cmd_str("PING");
        let text = timer(server.port);
        assert!(
            text.contains("timer:(keepalive,59sec,0)") || text.contains("timer:(keepalive,1min,0)"),
            "{kind:?}: {text}"
        );
        assert_eq!(c.cmd_str("CONFIG SET tcp-keepalive 0"), "+OK\r\n");
        assert_eq!(
            c.cmd_str("CONFIG GET tcp-keepalive"),
            "*2\r\n$13\r\ntcp-keepalive\r\n$1\r\n0\r\n"
        );
        drop(c);
        let mut fresh = server.raw();
        fresh.cmd_str("PING");
        let text = timer(server.port);
        assert!(!text.contains("keepalive"), "{kind:?}: {text}");
    }
}

#[test]
fn redis_cli_pipe_mode_counts_replies() {
    let vigil = Server::vigil(&[]);
    let mut input = Vec::new();
    for i in 0..10_000 {
        input.extend_from_slice(
            format!("*3\r\n$3\r\nSET\r\n$7\r\nkey{i:04}\r\n$1\r\nv\r\n").as_bytes(),
        );
    }
    input.extend_from_slice(b"*2\r\n$4\r\nINCR\r\n$7\r\nkey0001\r\n");
    let mut child = Command::new("redis-cli")
        .args(["-p", &vigil.port.to_string(), "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("redis-cli is installed by .ci/run");
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("errors: 1, replies: 10001"), "{text}");
    assert_eq!(vigil.raw().cmd_str("DBSIZE"), ":10000\r\n");
}

#[test]
fn unix_socket_clients_work() {
    let dir = TempDir::new("sock");
    let path = dir.0.join("vigil.sock");
    let vigil = Server::vigil(&[
        "--unixsocket",
        path.to_str().unwrap(),
        "--unixsocketperm",
        "700",
    ]);
    let out = Command::new("redis-cli")
        .args(["-s", path.to_str().unwrap(), "SET", "u", "1"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK");
    let list = Command::new("redis-cli")
        .args(["-s", path.to_str().unwrap(), "CLIENT", "INFO"])
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&list.stdout);
    assert!(info.contains("flags=U"), "{info}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(vigil.raw().cmd_str("GET u"), "$1\r\n1\r\n");
}

#[test]
fn the_redis_crate_works_in_both_protocols() {
    let vigil = Server::vigil(&[]);
    for url in [vigil.url(), format!("{}?protocol=resp3", vigil.url())] {
        let mut c = redis::Client::open(url.as_str())
            .unwrap()
            .get_connection()
            .unwrap();
        let _: () = redis::cmd("SET").arg("k").arg(42).query(&mut c).unwrap();
        let v: i64 = redis::cmd("INCR").arg("k").query(&mut c).unwrap();
        assert_eq!(v, 43);
        let (a, b): (Option<String>, Option<String>) =
            redis::pipe().get("k").get("missing").query(&mut c).unwrap();
        assert_eq!((a.as_deref(), b), (Some("43"), None));
        let hello: redis::Value = redis::cmd("HELLO").query(&mut c).unwrap();
        assert!(format!("{hello:?}").contains("7.0.15"), "{hello:?}");
    }
    let mut raw = vigil.raw();
    assert!(show(&raw.cmd(&[b"HELLO", b"3"])).starts_with("%7"));
}

#[test]
fn normal_clients_over_their_output_limit_are_closed() {
    let vigil = Server::vigil(&["--client-output-buffer-limit", "normal 1mb 512kb 10"]);
    let mut c = vigil.raw();
    c.cmd(&[b"SET", b"big", &vec![b'x'; 600 * 1024]]);
    // Two copies of the value in one batch pass the 1 MB hard limit.
    c.send(b"GET big\r\nGET big\r\n");
    assert!(
        c.is_closed(Duration::from_secs(5)),
        "the client must be disconnected"
    );
    assert_eq!(vigil.raw().cmd_str("PING"), "+PONG\r\n");
}

/// `KEYS *` over a big dataset from a client that reads nothing: cut off at
/// the normal class's hard limit, with Redis's log line naming the client
/// by its CLIENT LIST line.
#[test]
fn keys_star_past_the_hard_limit_closes_the_client_as_redis() {
    for kind in [Kind::Vigil, Kind::Redis] {
        let mut server = Server::start(kind, &["--client-output-buffer-limit", "normal 1mb 0 0"]);
        let mut admin = server.raw().patient(Duration::from_secs(60));
        assert_eq!(admin.cmd_str("DEBUG POPULATE 1000000"), "+OK\r\n");
        let peak_before = server.status_kb("VmHWM:").max(server.status_kb("VmRSS:"));
        let mut greedy = server.raw();
        greedy.send(b"CLIENT SETNAME greedy\r\nKEYS *\r\n");
        let needle = "scheduled to be closed ASAP for overcoming of output buffer limits.";
        let line = server
            .wait_for_log_line(needle, Duration::from_secs(10))
            .unwrap_or_else(|| panic!("{kind:?}: {:?}", server.log_lines()));
        assert!(
            line.contains("Client id=") && line.contains(" name=greedy "),
            "{kind:?}: {line}"
        );
        // The connection ends without the reply: at most the SETNAME +OK
        // and part of what was already on its way.
        let mut bytes = Vec::new();
        greedy
            .stream
            .get_ref()
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let _ = greedy.stream.read_to_end(&mut bytes);
        assert!(bytes.len() < 4 << 20, "{kind:?}: {} bytes", bytes.len());
        assert_eq!(admin.cmd_str("DBSIZE"), ":1000000\r\n");
        // The ~18 MB reply was never built past the limit.
        let grew = server.status_kb("VmHWM:").saturating_sub(peak_before);
        eprintln!("{kind:?}: KEYS * over 1M keys, new peak RSS +{grew} kB");
        assert!(grew < 8 * 1024, "{kind:?}: peak RSS grew by {grew} kB");
    }
}

/// A subscriber over the pubsub soft limit is closed only once it stayed
/// over it for longer than the soft seconds (checked as messages arrive),
/// in Vigil as in Redis.
#[test]
fn the_pubsub_soft_limit_waits_its_seconds() {
    for kind in [Kind::Vigil, Kind::Redis] {
        let server = Server::start(kind, &["--client-output-buffer-limit", "pubsub 0 256kb 2"]);
        // Never read: the subscriber stays over its limit.
        let _slow = server.stalled_subscriber("firehose");
        let mut publisher = server.raw();
        let payload = vec![b'x'; 64 * 1024];
        // Well past the soft limit (the socket buffers take some first).
        let started = Instant::now();
        for _ in 0..200 {
            publisher.cmd(&[b"PUBLISH", b"firehose", &payload]);
        }
        let over_at = Instant::now();
        assert!(over_at - started < Duration::from_secs(1), "{kind:?}");
        let mut closed_at = None;
        while over_at.elapsed() < Duration::from_secs(10) {
            if publisher.cmd(&[b"PUBLISH", b"firehose", b"x"]) == b":0\r\n" {
                closed_at = Some(over_at.elapsed());
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let closed_at = closed_at.unwrap_or_else(|| panic!("{kind:?}: never closed"));
        assert!(
            closed_at >= Duration::from_millis(1900) && closed_at < Duration::from_secs(4),
            "{kind:?}: closed after {closed_at:?}"
        );
    }
}

/// CLIENT INFO / CLIENT LIST lines against a real Redis: every field in
/// Redis's order, and the same values wherever they do not depend on the
/// allocator or the clock.
#[test]
fn client_lines_have_redis_fields_and_values() {
    fn fields(line: &str) -> Vec<(String, String)> {
        line.trim_end()
            .split(' ')
            .map(|f| {
                let (k, v) = f.split_once('=').unwrap_or((f, ""));
                (k.to_string(), v.to_string())
            })
            .collect()
    }
    fn line_of(reply: &str) -> String {
        reply.lines().nth(1).unwrap_or_default().to_string()
    }
    // Vary by nature: ids, addresses, descriptors, times, allocations.
    const VARYING: &[&str] = &[
        "id",
        "addr",
        "laddr",
        "fd",
        "age",
        "idle",
        "qbuf-free",
        "multi-mem",
        "rbs",
        "rbp",
        "tot-mem",
    ];
    let mut seen = Vec::new();
    for kind in [Kind::Vigil, Kind::Redis] {
        let server = Server::start(kind, &[]);
        let mut a = server.raw();
        let mut b = server.raw();
        let mut blocked = server.raw();
        blocked.cmd_str("CLIENT SETNAME waiter");
        blocked.send(b"BLPOP nolist 0\r\n");
        assert!(wait_until(Duration::from_secs(5), || b
            .cmd_str("INFO clients")
            .contains("blocked_clients:1\r\n")));
        a.cmd_str("CLIENT SETNAME worker");
        a.cmd_str("SELECT 2");
        a.cmd_str("MULTI");
        a.cmd_str("SET k v");
        let a_id = a.cmd_str("CLIENT ID");
        assert_eq!(a_id, "+QUEUED\r\n");
        let own = line_of(&b.cmd_str("CLIENT INFO"));
        let list = b.cmd_str("CLIENT LIST");
        let other = list
            .lines()
            .find(|l| l.contains("name=worker"))
            .unwrap_or_else(|| panic!("{list}"))
            .to_string();
        let waiter = list
            .lines()
            .find(|l| l.contains("name=waiter"))
            .unwrap_or_else(|| panic!("{list}"))
            .to_string();
        seen.push((fields(&own), fields(&other), fields(&waiter)));
    }
    let strip = |f: &[(String, String)]| -> Vec<(String, String)> {
        f.iter()
            .map(|(k, v)| {
                let v = if VARYING.contains(&k.as_str()) { "" } else { v };
                (k.clone(), v.to_string())
            })
            .collect()
    };
    let (vigil, redis) = (&seen[0], &seen[1]);
    assert_eq!(strip(&vigil.0), strip(&redis.0), "CLIENT INFO");
    assert_eq!(strip(&vigil.1), strip(&redis.1), "CLIENT LIST line");
    assert_eq!(strip(&vigil.2), strip(&redis.2), "a blocked client's line");
    for (k, v) in vigil.0.iter().chain(&vigil.1) {
        if k != "addr" && k != "laddr" && VARYING.contains(&k.as_str()) {
            assert!(v.parse::<u64>().is_ok(), "{k}={v}");
        }
    }
}

//! CONFIG behaviour that a byte-for-byte comparison with Redis cannot
//! show: changes that reach the process (listening sockets, working
//! directory, log level, authentication of new connections) and
//! `CONFIG REWRITE` round trips through a real config file.

mod common;

use std::net::TcpStream;
use std::time::Duration;

use common::{free_port, wait_until, Raw, Server, TempDir};

fn reply(conn: &mut Raw, line: &str) -> String {
    conn.cmd_str(line)
}

fn refused(addr: (&str, u16)) -> bool {
    matches!(
        TcpStream::connect(addr),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
    )
}

fn get(conn: &mut Raw, name: &str) -> String {
    let r = conn.cmd(&[b"CONFIG", b"GET", name.as_bytes()]);
    // *2 $n name $m value: the value is the last line before the final CRLF.
    let text = String::from_utf8(r).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines[0], "*2", "CONFIG GET {name}: {text:?}");
    lines[4].to_string()
}

#[test]
fn config_set_port_moves_the_listener() {
    let server = Server::vigil(&[]);
    let old = server.port;
    let mut admin = server.raw();
    let new = free_port();
    assert_eq!(
        reply(&mut admin, &format!("CONFIG SET port {new}")),
        "+OK\r\n"
    );
    // The old socket is closed by the time the reply arrives.
    assert!(refused(("127.0.0.1", old)), "old port still accepts");
    let mut fresh = Raw::connect(new);
    assert_eq!(reply(&mut fresh, "PING"), "+PONG\r\n");
    // Connections made before the move keep working.
    assert_eq!(reply(&mut admin, "PING"), "+PONG\r\n");
    assert_eq!(get(&mut admin, "port"), new.to_string());

    // A port that is taken: the command fails and nothing moves.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().port();
    assert_eq!(
        reply(&mut admin, &format!("CONFIG SET port {busy}")),
        "-ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs.\r\n"
    );
    assert_eq!(get(&mut admin, "port"), new.to_string());
    let mut again = Raw::connect(new);
    assert_eq!(reply(&mut again, "PING"), "+PONG\r\n");

    // Moving back to the first port works too.
    assert_eq!(
        reply(&mut admin, &format!("CONFIG SET port {old}")),
        "+OK\r\n"
    );
    assert!(refused(("127.0.0.1", new)));
    assert_eq!(reply(&mut Raw::connect(old), "PING"), "+PONG\r\n");
}

#[test]
fn config_set_bind_moves_the_listener_between_addresses() {
    let server = Server::vigil(&[]);
    let port = server.port;
    let mut admin = server.raw();
    // Every 127.x address is local, so a second one can be bound here.
    assert_eq!(reply(&mut admin, "CONFIG SET bind 127.0.0.2"), "+OK\r\n");
    assert!(refused(("127.0.0.1", port)));
    let mut moved = TcpStream::connect(("127.0.0.2", port)).expect("listening on 127.0.0.2");
    std::io::Write::write_all(&mut moved, b"PING\r\n").unwrap();
    let mut buf = [0u8; 7];
    std::io::Read::read_exact(&mut moved, &mut buf).unwrap();
    assert_eq!(&buf, b"+PONG\r\n");

    // Both: the socket already listening is kept, not re-bound.
    let r = admin.cmd(&[b"CONFIG", b"SET", b"bind", b"127.0.0.2 127.0.0.1"]);
    assert_eq!(r, b"+OK\r\n");
    assert_eq!(reply(&mut Raw::connect(port), "PING"), "+PONG\r\n");
    assert_eq!(get(&mut admin, "bind"), "127.0.0.2 127.0.0.1");

    // An address that is not local fails and leaves the sockets as they were.
    assert_eq!(
        reply(&mut admin, "CONFIG SET bind 192.0.2.1"),
        "-ERR CONFIG SET failed (possibly related to argument 'bind') - Failed to bind to specified addresses.\r\n"
    );
    assert_eq!(get(&mut admin, "bind"), "127.0.0.2 127.0.0.1");
    assert_eq!(reply(&mut Raw::connect(port), "PING"), "+PONG\r\n");
    assert!(TcpStream::connect(("127.0.0.2", port)).is_ok());
}

#[test]
fn failed_config_set_rolls_back_a_port_change() {
    let server = Server::vigil(&[]);
    let old = server.port;
    let mut admin = server.raw();
    let new = free_port();
    // The port moves first, then the bind fails: everything goes back.
    let r = admin.cmd(&[
        b"CONFIG",
        b"SET",
        b"port",
        new.to_string().as_bytes(),
        b"bind",
        b"127.0.0.1 192.0.2.1",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&r),
        "-ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs.\r\n"
    );
    assert_eq!(get(&mut admin, "port"), old.to_string());
    assert_eq!(get(&mut admin, "bind"), "127.0.0.1");
    assert!(refused(("127.0.0.1", new)));
    assert_eq!(reply(&mut Raw::connect(old), "PING"), "+PONG\r\n");
}

#[test]
fn config_set_dir_changes_the_working_directory() {
    let mut server = Server::vigil(&["--enable-protected-configs", "yes"]);
    let mut admin = server.raw();
    let sub = server.dir.0.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let sub = sub.canonicalize().unwrap();
    let r = admin.cmd(&[b"CONFIG", b"SET", b"dir", sub.to_str().unwrap().as_bytes()]);
    assert_eq!(r, b"+OK\r\n");
    assert_eq!(get(&mut admin, "dir"), sub.to_str().unwrap());
    let cwd = std::fs::read_link(format!("/proc/{}/cwd", server.pid())).unwrap();
    assert_eq!(cwd, sub);

    // Relative to the current directory, as chdir(2) is.
    assert_eq!(reply(&mut admin, "CONFIG SET dir .."), "+OK\r\n");
    let parent = sub.parent().unwrap().to_str().unwrap().to_string();
    assert_eq!(get(&mut admin, "dir"), parent);

    assert_eq!(
        reply(&mut admin, "CONFIG SET dir /nonexistent/vigil"),
        "-ERR CONFIG SET failed (possibly related to argument 'dir') - No such file or directory\r\n"
    );
    assert_eq!(get(&mut admin, "dir"), parent);

    // A later refusal in the same command undoes the directory change.
    let r = admin.cmd(&[
        b"CONFIG",
        b"SET",
        b"dir",
        sub.to_str().unwrap().as_bytes(),
        b"hz",
        b"x",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&r),
        "-ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer\r\n"
    );
    assert_eq!(get(&mut admin, "dir"), parent);
    let cwd = std::fs::read_link(format!("/proc/{}/cwd", server.pid())).unwrap();
    assert_eq!(cwd.to_str().unwrap(), parent);
    assert!(server.is_running());
}

#[test]
fn protected_configs_follow_enable_protected_configs() {
    let refused_text = "-ERR CONFIG SET failed (possibly related to argument 'dbfilename') - can't set protected config\r\n";
    let server = Server::vigil(&[]);
    assert_eq!(
        reply(&mut server.raw(), "CONFIG SET dbfilename x.rdb"),
        refused_text
    );
    // `local` admits connections from loopback, which these are.
    let server = Server::vigil(&["--enable-protected-configs", "local"]);
    let mut conn = server.raw();
    assert_eq!(reply(&mut conn, "CONFIG SET dbfilename x.rdb"), "+OK\r\n");
    assert_eq!(get(&mut conn, "dbfilename"), "x.rdb");
    assert_eq!(
        reply(&mut conn, "CONFIG SET dbfilename a/x.rdb"),
        "-ERR CONFIG SET failed (possibly related to argument 'dbfilename') - dbfilename can't be a path, just a filename\r\n"
    );
}

#[test]
fn loglevel_change_takes_effect_at_once() {
    let mut server = Server::vigil(&[]);
    let mut admin = server.raw();
    // Protocol errors are logged at verbose level only.
    let mut bad = server.raw();
    bad.send(b"*abc\r\n");
    assert!(bad.try_read_reply().is_some());
    assert_eq!(reply(&mut admin, "CONFIG SET loglevel verbose"), "+OK\r\n");
    let mut bad = server.raw();
    bad.send(b"*1\r\n$abc\r\n");
    assert!(bad.try_read_reply().is_some());
    assert!(
        server.wait_for_log("invalid bulk length", Duration::from_secs(5)),
        "verbose line missing: {:?}",
        server.log_lines()
    );
    assert!(!server
        .log_lines()
        .iter()
        .any(|l| l.contains("invalid multibulk length")));

    // Back to warning: verbose lines stop; a warning still shows and marks
    // that the log has caught up.
    assert_eq!(reply(&mut admin, "CONFIG SET loglevel warning"), "+OK\r\n");
    let mut bad = server.raw();
    bad.send(b"*abc\r\n");
    assert!(bad.try_read_reply().is_some());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().port();
    let r = reply(&mut admin, &format!("CONFIG SET port {busy}"));
    assert!(r.starts_with("-ERR"), "{r}");
    assert!(server.wait_for_log(
        "Could not create server TCP listening socket",
        Duration::from_secs(5)
    ));
    assert!(!server
        .log_lines()
        .iter()
        .any(|l| l.contains("invalid multibulk length")));
    assert_eq!(get(&mut admin, "loglevel"), "warning");
}

#[test]
fn log_format_json_writes_one_json_object_per_line() {
    let mut server = Server::vigil(&["--log-format", "json"]);
    let mut admin = server.raw();
    assert!(server.wait_for_log("Ready to accept connections", Duration::from_secs(5)));
    for line in server.log_lines().iter().filter(|l| !l.is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        assert!(
            v["timestamp"].is_string() && v["level"].is_string(),
            "{line}"
        );
        assert!(v["fields"]["message"].is_string(), "{line}");
    }
    assert_eq!(get(&mut admin, "log-format"), "json");
    let r = reply(&mut admin, "CONFIG SET log-format text");
    assert!(r.contains("can't set immutable config"), "{r}");
}

#[test]
fn an_unknown_log_format_stops_start_up() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vigil-server"))
        .args(["--port", &free_port().to_string(), "--log-format", "xml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("'log-format \"xml\"'"), "{text}");
    assert!(
        text.contains("must be one of the following: text, json"),
        "{text}"
    );
}

#[test]
fn requirepass_binds_new_connections_only() {
    let server = Server::vigil(&[]);
    let mut admin = server.raw();
    assert_eq!(
        reply(&mut admin, "CONFIG SET requirepass secret"),
        "+OK\r\n"
    );
    // The connection that set it was authenticated and stays so.
    assert_eq!(reply(&mut admin, "PING"), "+PONG\r\n");
    let mut late = server.raw();
    assert_eq!(
        reply(&mut late, "PING"),
        "-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        reply(&mut late, "AUTH wrong"),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(reply(&mut late, "AUTH secret"), "+OK\r\n");
    assert_eq!(reply(&mut late, "PING"), "+PONG\r\n");
    let mut waiting = server.raw();
    assert_eq!(
        reply(&mut waiting, "PING"),
        "-NOAUTH Authentication required.\r\n"
    );
    // Removing the password frees connections that never authenticated;
    // setting one again binds them again.
    assert_eq!(
        admin.cmd(&[b"CONFIG", b"SET", b"requirepass", b""]),
        b"+OK\r\n"
    );
    assert_eq!(reply(&mut waiting, "PING"), "+PONG\r\n");
    assert_eq!(reply(&mut admin, "CONFIG SET requirepass again"), "+OK\r\n");
    assert_eq!(
        reply(&mut waiting, "PING"),
        "-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(reply(&mut late, "PING"), "+PONG\r\n");
}

#[test]
fn hz_is_capped_and_timeout_applies_to_idle_clients() {
    let server = Server::vigil(&[]);
    let mut admin = server.raw();
    assert_eq!(reply(&mut admin, "CONFIG SET hz 1000"), "+OK\r\n");
    assert_eq!(get(&mut admin, "hz"), "500");
    assert_eq!(reply(&mut admin, "CONFIG SET timeout 1"), "+OK\r\n");
    let mut idle = server.raw();
    assert_eq!(reply(&mut idle, "PING"), "+PONG\r\n");
    assert!(wait_until(Duration::from_secs(5), || idle
        .is_closed(Duration::from_millis(200))));
}

const ORIGINAL: &str = "# Vigil test configuration\n\
# (comments and layout must survive a rewrite)\n\
\n\
bind 127.0.0.1\n\
maxmemory 100mb\n\
# eviction\n\
maxmemory-policy allkeys-lru\n\
slave-read-only yes\n\
hz 10\n\
save 900 1\n\
save 300 10\n";

#[test]
fn config_rewrite_round_trip() {
    let conf_dir = TempDir::new("rewrite");
    let path = conf_dir.0.join("vigil.conf");
    std::fs::write(&path, ORIGINAL).unwrap();
    // The node works in the file's directory, so the `dir` the rewrite
    // records is still there at the restart.
    let dir_arg = conf_dir.0.to_str().unwrap().to_string();
    let mut server = Server::vigil_with_config(&path, &["--dir", &dir_arg]);
    let mut admin = server.raw();
    let r = admin.cmd(&[
        b"CONFIG",
        b"SET",
        b"maxmemory",
        b"2gb",
        b"hz",
        b"25",
        b"slave-read-only",
        b"no",
        b"notify-keyspace-events",
        b"KEA",
        b"timeout",
        b"300",
        b"client-output-buffer-limit",
        b"pubsub 64mb 16mb 90",
        b"maxmemory-clients",
        b"5%",
    ]);
    assert_eq!(r, b"+OK\r\n");
    assert_eq!(reply(&mut admin, "CONFIG REWRITE"), "+OK\r\n");
    assert!(server.wait_for_log(
        "CONFIG REWRITE executed with success",
        Duration::from_secs(5)
    ));

    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Comments stay where they were; changed lines are rewritten in place.
    assert_eq!(lines[0], "# Vigil test configuration");
    assert_eq!(lines[1], "# (comments and layout must survive a rewrite)");
    assert_eq!(lines[4], "maxmemory 2gb");
    assert_eq!(lines[5], "# eviction");
    assert_eq!(lines[6], "maxmemory-policy allkeys-lru");
    assert_eq!(lines[7], "replica-read-only no");
    assert_eq!(lines[8], "hz 25");
    // The harness starts the server with `--save ""`.
    assert_eq!(lines[9], "save \"\"");
    let generated = lines
        .iter()
        .position(|l| *l == "# Generated by CONFIG REWRITE")
        .expect("signature line");
    let appended = &lines[generated..];
    for expected in [
        "timeout 300",
        "notify-keyspace-events \"AKE\"",
        "client-output-buffer-limit pubsub 64mb 16mb 90",
        "maxmemory-clients 5%",
    ] {
        assert!(appended.contains(&expected), "{expected} missing:\n{text}");
    }
    assert!(!text.contains("save 300 10"), "{text}");
    // Nothing temporary is left beside the file.
    let leftovers: Vec<String> = std::fs::read_dir(&conf_dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("vigil.conf."))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A second rewrite with nothing changed keeps every line. (Like Redis,
    // it also lends the one client-output-buffer-limit line to the first
    // class, `normal`, and appends `pubsub` again.)
    assert_eq!(reply(&mut admin, "CONFIG REWRITE"), "+OK\r\n");
    let again = std::fs::read_to_string(&path).unwrap();
    let again_lines: Vec<&str> = again.lines().collect();
    for line in &lines {
        assert!(again_lines.contains(line), "{line} lost:\n{again}");
    }
    assert!(again_lines.contains(&"client-output-buffer-limit normal 0 0 0"));

    // Restarted from the file, the node has the values it was given.
    drop(admin);
    drop(server);
    let server = Server::vigil_with_config(&path, &[]);
    let mut conn = server.raw();
    assert_eq!(get(&mut conn, "maxmemory"), "2147483648");
    assert_eq!(get(&mut conn, "hz"), "25");
    assert_eq!(get(&mut conn, "replica-read-only"), "no");
    assert_eq!(get(&mut conn, "notify-keyspace-events"), "AKE");
    assert_eq!(get(&mut conn, "timeout"), "300");
    assert_eq!(get(&mut conn, "maxmemory-policy"), "allkeys-lru");
    assert_eq!(get(&mut conn, "maxmemory-clients"), "5%");
    assert_eq!(
        get(&mut conn, "client-output-buffer-limit"),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 67108864 16777216 90"
    );
}

#[test]
fn config_rewrite_reports_why_it_failed() {
    let server = Server::vigil(&[]);
    assert_eq!(
        reply(&mut server.raw(), "CONFIG REWRITE"),
        "-ERR The server is running without a config file\r\n"
    );

    let conf_dir = TempDir::new("rewrite-fail");
    let path = conf_dir.0.join("vigil.conf");
    std::fs::write(&path, "hz 10\n").unwrap();
    let server = Server::vigil_with_config(&path, &[]);
    // The file turned into a directory since start-up: it cannot be read.
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    assert_eq!(
        reply(&mut server.raw(), "CONFIG REWRITE"),
        "-ERR Rewriting config file: Is a directory\r\n"
    );
    // Gone altogether: written from scratch.
    std::fs::remove_dir(&path).unwrap();
    assert_eq!(reply(&mut server.raw(), "CONFIG REWRITE"), "+OK\r\n");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("# Generated by CONFIG REWRITE\n"),
        "{text}"
    );
    assert!(text.contains("\nsave \"\"\n"), "{text}");
}

/// `rename-command`: the new name reaches the command, the old one is an
/// unknown command, an empty name removes it; the command keeps its own
/// name in CLIENT LIST and INFO commandstats; MULTI queues renamed
/// commands. Replies compared with a real Redis started the same way.
#[test]
fn rename_command_moves_and_removes_commands_as_redis() {
    let args = [
        "--rename-command",
        "CONFIG",
        "my-config",
        "--rename-command",
        "FLUSHALL",
        "",
        "--rename-command",
        "SET",
        "PUT",
    ];
    let vigil = Server::vigil(&args);
    let redis = Server::redis(&args);
    let script = [
        "MY-CONFIG GET maxmemory",
        "my-config get maxmemory",
        "CONFIG GET maxmemory",
        "FLUSHALL",
        "SET k v",
        "PUT k v",
        "GET k",
        "MULTI",
        "PUT k w",
        "SET k x",
        "EXEC",
        "MULTI",
        "PUT k w",
        "EXEC",
        "GET k",
    ];
    let mut v = vigil.raw();
    let mut r = redis.raw();
    for line in script {
        assert_eq!(reply(&mut v, line), reply(&mut r, line), "{line}");
    }
    // COMMAND sees the table clients see: the new name finds the command
    // (described under its own name), the old one nothing, a removed
    // command is not listed. Vigil has fewer commands than Redis, so
    // counts are compared as what the renames removed.
    for line in [
        "COMMAND INFO config",
        "COMMAND GETKEYS my-config get x",
        "COMMAND GETKEYS config get x",
    ] {
        assert_eq!(reply(&mut v, line), reply(&mut r, line), "{line}");
    }
    let first = |reply: String| reply.lines().take(3).collect::<Vec<_>>().join("|");
    assert_eq!(
        first(reply(&mut v, "COMMAND INFO my-config")),
        first(reply(&mut r, "COMMAND INFO my-config"))
    );
    assert_eq!(
        first(reply(&mut v, "COMMAND DOCS my-config")),
        first(reply(&mut r, "COMMAND DOCS my-config"))
    );
    for c in [&mut v, &mut r] {
        let list = reply(c, "COMMAND LIST");
        assert!(!list.contains("\r\nflushall\r\n"), "{list}");
        assert!(list.contains("\r\nconfig\r\n") && list.contains("\r\nset\r\n"));
    }
    let unrenamed = Server::vigil(&[]);
    let count = |c: &mut Raw| -> i64 { reply(c, "COMMAND COUNT")[1..].trim().parse().unwrap() };
    assert_eq!(count(&mut v), count(&mut unrenamed.raw()) - 1);
    reply(&mut v, "MY-CONFIG GET port");
    let list = reply(&mut vigil.raw(), "CLIENT LIST");
    assert!(list.contains(" cmd=config|get "), "{list}");
    let stats = reply(&mut v, "INFO commandstats");
    assert!(stats.contains("cmdstat_config|get:calls=3,"), "{stats}");
    assert!(stats.contains("cmdstat_set:calls=2,"), "{stats}");
}

/// Config-file mistakes in `rename-command` stop start-up with Redis's
/// reasons; CONFIG REWRITE keeps the `rename-command` lines.
#[test]
fn rename_command_errors_and_rewrite() {
    for (line, reason) in [
        (
            "rename-command NOSUCH x",
            "No such command in rename-command",
        ),
        (
            "rename-command SET GET",
            "Target command name already exists",
        ),
    ] {
        let dir = TempDir::new("rename");
        let path = dir.0.join("bad.conf");
        std::fs::write(&path, format!("port 0\n{line}\n")).unwrap();
        for program in [env!("CARGO_BIN_EXE_vigil-server"), "redis-server"] {
            let out = std::process::Command::new(program)
                .arg(&path)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stderr).to_string()
                + &String::from_utf8_lossy(&out.stdout);
            assert!(!out.status.success(), "{program}: {text}");
            assert!(text.contains(reason), "{program}: {text}");
            assert!(text.contains(line), "{program}: {text}");
        }
    }
    let dir = TempDir::new("rename-rewrite");
    let path = dir.0.join("vigil.conf");
    std::fs::write(
        &path,
        "rename-command CONFIG ADMIN-CONFIG\nrename-command FLUSHALL \"\"\nmaxmemory 0\n",
    )
    .unwrap();
    let server = Server::vigil_with_config(&path, &[]);
    let mut c = server.raw();
    assert_eq!(reply(&mut c, "ADMIN-CONFIG SET maxmemory 1mb"), "+OK\r\n");
    assert_eq!(reply(&mut c, "ADMIN-CONFIG REWRITE"), "+OK\r\n");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("rename-command CONFIG ADMIN-CONFIG\n"),
        "{text}"
    );
    assert!(text.contains("rename-command FLUSHALL \"\"\n"), "{text}");
    assert!(text.contains("maxmemory 1mb"), "{text}");
}

/// With `requirepass`, a new connection gets Redis's exact replies to
/// every way of (not) authenticating: NOAUTH before AUTH (HELLO's own
/// NOAUTH text included), WRONGPASS for a wrong password or user, AUTH's
/// arity and syntax errors, HELLO AUTH switching protocol and logging in
/// at once, and the unauthenticated protocol limits.
#[test]
fn authentication_replies_match_redis() {
    let script: &[&[&[u8]]] = &[
        &[b"PING"],
        &[b"SELECT", b"1"],
        &[b"MULTI"],
        &[b"HELLO", b"2"],
        &[b"HELLO", b"3", b"AUTH", b"default", b"wrong"],
        &[b"AUTH"],
        &[b"AUTH", b"a", b"b", b"c"],
        &[b"AUTH", b"wrong"],
        &[b"AUTH", b"nobody", b"s3cret"],
        &[b"AUTH", b"default", b"wrong"],
        &[b"PING"],
        &[b"AUTH", b"s3cret"],
        &[b"PING"],
        &[b"AUTH", b"wrong"],
        // A failed AUTH does not log an authenticated client out.
        &[b"PING"],
        &[b"AUTH", b"default", b"s3cret"],
    ];
    let vigil = Server::vigil(&["--requirepass", "s3cret"]);
    let redis = Server::redis(&["--requirepass", "s3cret"]);
    let mut v = vigil.raw();
    let mut r = redis.raw();
    for argv in script {
        let (a, b) = (v.cmd(argv), r.cmd(argv));
        assert_eq!(
            common::show(&a),
            common::show(&b),
            "{:?}",
            argv.iter()
                .map(|x| String::from_utf8_lossy(x))
                .collect::<Vec<_>>()
        );
    }
    // HELLO AUTH on a fresh connection: the same map (the id aside).
    let hello: &[&[u8]] = &[b"HELLO", b"2", b"AUTH", b"default", b"s3cret"];
    let mask = |reply: Vec<u8>| {
        let text = String::from_utf8_lossy(&reply).into_owned();
        let mut lines: Vec<String> = text.split("\r\n").map(str::to_string).collect();
        if let Some(i) = lines.iter().position(|l| l == "id") {
            lines[i + 1] = ":#".into();
        }
        lines.join("\r\n")
    };
    assert_eq!(mask(vigil.raw().cmd(hello)), mask(redis.raw().cmd(hello)));
    // Before AUTH, a big bulk or multibulk header is a protocol error.
    for bytes in [&b"*100\r\n"[..], &b"*1\r\n$100000\r\n"[..]] {
        let mut replies = Vec::new();
        for server in [&vigil, &redis] {
            let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            std::io::Write::write_all(&mut s, bytes).unwrap();
            let mut out = Vec::new();
            let _ = std::io::Read::read_to_end(&mut s, &mut out);
            replies.push(common::show(&out));
        }
        assert_eq!(replies[0], replies[1]);
        assert!(replies[0].starts_with("-ERR Protocol error: unauthenticated"));
    }
}

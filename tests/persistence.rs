//! RDB persistence through the real binary: snapshots written by SAVE,
//! BGSAVE, save points and shutdown; what restarts load; interoperability
//! with redis-server 7.0 and redis-check-rdb in both directions; corrupt
//! files refused; the -LOADING state; MISCONF after a failed save.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{wait_until, Raw, Server, TempDir};

fn dir_arg(dir: &TempDir) -> String {
    dir.0.to_str().unwrap().to_string()
}

/// Fill a server with strings of every encoding, TTLs and two databases.
fn fill(c: &mut Raw) {
    c.cmd(&[
        b"MSET",
        b"int",
        b"12345",
        b"neg",
        b"-98765",
        b"big",
        b"9223372036854775807",
        b"emb",
        b"hello",
        b"empty",
        b"",
    ]);
    c.cmd(&[b"SET", b"bin\x00key", b"\x00\xff\r\n"]);
    c.cmd(&[b"SET", b"lzf", &b"abcd".repeat(50)]);
    c.cmd(&[b"SET", b"raw", &[b'x'; 300]]);
    c.cmd_str("SET ttl v PXAT 4102444800123");
    c.cmd_str("SELECT 3");
    c.cmd_str("SET db3 x");
    c.cmd_str("SELECT 0");
    c.cmd_str("DEBUG POPULATE 2000 pop 20");
}

fn digest(c: &mut Raw) -> String {
    c.cmd_str("DEBUG DIGEST")
}

fn info_field(c: &mut Raw, section: &str, name: &str) -> String {
    let text = String::from_utf8(c.cmd(&[b"INFO", section.as_bytes()])).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .trim()
        .to_string()
}

#[test]
fn a_saved_dataset_survives_restart_and_loads_in_redis() {
    let dir = TempDir::new("rdb");
    let d = dir_arg(&dir);
    let (want, dbsize) = {
        let vigil = Server::vigil(&["--dir", &d]);
        let mut c = vigil.raw();
        fill(&mut c);
        assert_eq!(c.cmd_str("SAVE"), "+OK\r\n");
        assert_eq!(
            info_field(&mut c, "persistence", "rdb_changes_since_last_save"),
            "0"
        );
        (digest(&mut c), c.cmd_str("DBSIZE"))
    };
    let path = dir.0.join("dump.rdb");
    let check = Command::new("redis-check-rdb")
        .arg(&path)
        .output()
        .expect("redis-check-rdb is installed by .ci/run");
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(report.contains("RDB looks OK"), "{report}");
    assert!(report.contains("Checksum OK"), "{report}");

    let vigil = Server::vigil(&["--dir", &d]);
    let mut c = vigil.raw();
    assert_eq!(digest(&mut c), want);
    assert_eq!(c.cmd_str("DBSIZE"), dbsize);
    assert_eq!(c.cmd_str("PEXPIRETIME ttl"), ":4102444800123\r\n");
    assert_eq!(
        info_field(&mut c, "persistence", "rdb_last_load_keys_loaded"),
        "2010"
    );
    drop(vigil);

    let redis = Server::redis(&["--dir", &d]);
    assert_eq!(
        digest(&mut redis.raw()),
        want,
        "redis-server loads the same data"
    );
}

#[test]
fn a_redis_written_snapshot_loads_with_the_same_digest() {
    // Every type and encoding Redis 7.0.15 writes (fixtures/redis-7.0.15).
    let dir = TempDir::new("fixture");
    let d = dir_arg(&dir);
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/redis-7.0.15/all-types.rdb"
        ),
        dir.0.join("dump.rdb"),
    )
    .unwrap();
    let redis = Server::redis(&["--dir", &d]);
    let want = digest(&mut redis.raw());
    drop(redis);
    let vigil = Server::vigil(&["--dir", &d]);
    let mut c = vigil.raw();
    assert_eq!(digest(&mut c), want);
    assert_eq!(c.cmd_str("DBSIZE"), ":23\r\n");
    assert_eq!(c.cmd_str("STRLEN str:lzf"), ":2000\r\n");
}

#[test]
fn bgsave_writes_in_the_background_and_reports_it() {
    let dir = TempDir::new("bgsave");
    let d = dir_arg(&dir);
    let vigil = Server::vigil(&["--dir", &d]);
    let mut c = vigil.raw();
    fill(&mut c);
    let before: i64 = c
        .cmd_str("LASTSAVE")
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    assert_eq!(c.cmd_str("BGSAVE"), "+Background saving started\r\n");
    assert!(wait_until(Duration::from_secs(10), || info_field(
        &mut c,
        "persistence",
        "rdb_bgsave_in_progress"
    ) == "0"));
    assert_eq!(
        info_field(&mut c, "persistence", "rdb_last_bgsave_status"),
        "ok"
    );
    assert_eq!(info_field(&mut c, "persistence", "rdb_saves"), "1");
    assert_eq!(info_field(&mut c, "stats", "total_forks"), "1");
    let after: i64 = c
        .cmd_str("LASTSAVE")
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    assert!(after >= before);
    assert!(dir.0.join("dump.rdb").exists());
    assert_eq!(c.cmd_str("BGSAVE BOGUS"), "-ERR syntax error\r\n");
    // Inside a transaction the save is scheduled for the cron.
    c.cmd_str("MULTI");
    c.cmd_str("BGSAVE");
    assert_eq!(c.cmd_str("EXEC"), "*1\r\n+Background saving scheduled\r\n");
    assert!(wait_until(Duration::from_secs(10), || info_field(
        &mut c,
        "persistence",
        "rdb_saves"
    ) == "2"));
    c.cmd_str("MULTI");
    assert_eq!(
        c.cmd_str("SAVE"),
        "-ERR Command not allowed inside a transaction\r\n"
    );
}

#[test]
fn save_points_trigger_background_saves() {
    let dir = TempDir::new("savepoints");
    let d = dir_arg(&dir);
    let vigil = Server::vigil(&["--dir", &d, "--save", "1 2"]);
    let mut c = vigil.raw();
    c.cmd_str("SET a 1");
    c.cmd_str("SET b 2");
    assert!(
        wait_until(Duration::from_secs(10), || info_field(
            &mut c,
            "persistence",
            "rdb_saves"
        ) == "1"),
        "2 changes after more than 1 s trigger a save"
    );
    assert_eq!(
        info_field(&mut c, "persistence", "rdb_changes_since_last_save"),
        "0"
    );
}

#[test]
fn shutdown_and_sigterm_write_the_final_snapshot() {
    let dir = TempDir::new("final");
    let d = dir_arg(&dir);
    {
        let mut vigil = Server::vigil(&["--dir", &d, "--save", "3600 1"]);
        vigil.raw().cmd_str("SET by-sigterm 1");
        let status = vigil
            .signal_and_wait(libc::SIGTERM, Duration::from_secs(10))
            .expect("exits");
        assert!(status.success());
        assert!(vigil
            .log_lines()
            .iter()
            .any(|l| l.contains("Saving the final RDB snapshot before exiting.")));
    }
    {
        let mut vigil = Server::vigil(&["--dir", &d, "--save", ""]);
        let mut c = vigil.raw();
        assert_eq!(c.cmd_str("GET by-sigterm"), "$1\r\n1\r\n");
        c.cmd_str("SET by-shutdown-save 1");
        c.send(b"SHUTDOWN SAVE\r\n");
        assert!(c.is_closed(Duration::from_secs(10)));
        assert!(wait_until(Duration::from_secs(5), || !vigil.is_running()));
    }
    {
        let vigil = Server::vigil(&["--dir", &d]);
        let mut c = vigil.raw();
        assert_eq!(
            c.cmd_str("MGET by-sigterm by-shutdown-save"),
            "*2\r\n$1\r\n1\r\n$1\r\n1\r\n"
        );
        c.cmd_str("SET not-saved 1");
        c.send(b"SHUTDOWN NOSAVE\r\n");
        assert!(c.is_closed(Duration::from_secs(10)));
    }
    let vigil = Server::vigil(&["--dir", &d]);
    assert_eq!(vigil.raw().cmd_str("EXISTS not-saved"), ":0\r\n");
}

#[test]
fn a_failed_save_refuses_writes_and_shutdown() {
    let dir = TempDir::new("misconf");
    let d = dir_arg(&dir);
    let vigil = Server::vigil(&["--dir", &d, "--save", "3600 1"]);
    let mut c = vigil.raw();
    // A directory where the snapshot should go makes every save fail.
    std::fs::create_dir_all(dir.0.join("dump.rdb").join("x")).unwrap();
    assert_eq!(c.cmd_str("SAVE"), "-ERR\r\n");
    c.cmd_str("BGSAVE");
    assert!(wait_until(Duration::from_secs(10), || info_field(
        &mut c,
        "persistence",
        "rdb_last_bgsave_status"
    ) == "err"));
    let refused = c.cmd_str("SET k v");
    assert!(
        refused.starts_with("-MISCONF Redis is configured to save RDB snapshots"),
        "{refused}"
    );
    assert!(c.cmd_str("PING").starts_with("-MISCONF"));
    assert_eq!(c.cmd_str("GET k"), "$-1\r\n", "reads still work");
    assert_eq!(
        c.cmd_str("SHUTDOWN"),
        "-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
    );
    assert_eq!(
        c.cmd_str("CONFIG SET stop-writes-on-bgsave-error no"),
        "+OK\r\n"
    );
    assert_eq!(c.cmd_str("SET k v"), "+OK\r\n");
}

fn start_raw(dir: &str, port: u16) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_vigil-server"))
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--dir",
            dir,
            "--save",
            "",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn corrupt_and_truncated_snapshots_stop_startup_with_a_clear_error() {
    let dir = TempDir::new("corrupt");
    let d = dir_arg(&dir);
    let good = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/redis-7.0.15/all-types.rdb"
    ))
    .unwrap();
    for (name, bytes) in [
        ("truncated", good[..good.len() / 2].to_vec()),
        ("bad checksum", {
            let mut b = good.clone();
            let last = b.len() - 1;
            b[last] ^= 0xff;
            b
        }),
        (
            "ziplist",
            std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/redis-7.0-assets/corrupt_ziplist.rdb"
            ))
            .unwrap(),
        ),
    ] {
        std::fs::write(dir.0.join("dump.rdb"), &bytes).unwrap();
        let out = start_raw(&d, common::free_port())
            .wait_with_output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}");
        let log = String::from_utf8_lossy(&out.stderr).to_string()
            + &String::from_utf8_lossy(&out.stdout);
        assert!(log.contains("Fatal error loading the DB"), "{name}: {log}");
        assert!(
            log.contains("at byte"),
            "{name}: the offset is named: {log}"
        );
    }
}

#[test]
fn clients_get_loading_while_a_big_snapshot_loads() {
    let dir = TempDir::new("loading");
    let d = dir_arg(&dir);
    {
        let vigil = Server::vigil(&["--dir", &d]);
        let mut c = vigil.raw().patient(Duration::from_secs(120));
        assert_eq!(c.cmd_str("DEBUG POPULATE 1000000 key 64"), "+OK\r\n");
        assert_eq!(c.cmd_str("SAVE"), "+OK\r\n");
    }
    let port = common::free_port();
    let mut child = start_raw(&d, port);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut saw_loading = false;
    let mut info_loading = false;
    loop {
        assert!(Instant::now() < deadline, "never finished loading");
        let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        drop(stream);
        let mut c = Raw::connect(port).patient(Duration::from_secs(60));
        let reply = c.cmd_str("DBSIZE");
        if reply.starts_with("-LOADING Redis is loading the dataset in memory") {
            saw_loading = true;
            info_loading |= info_field(&mut c, "persistence", "loading") == "1";
            continue;
        }
        assert_eq!(reply, ":1000000\r\n");
        break;
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
    assert!(
        saw_loading,
        "a client connected during the load got -LOADING"
    );
    assert!(info_loading, "INFO persistence shows loading:1 meanwhile");
}

#[test]
fn debug_reload_round_trips_and_refuses_duplicates_without_merge() {
    let dir = TempDir::new("reload");
    let vigil = Server::vigil(&["--dir", &dir_arg(&dir)]);
    let mut c = vigil.raw();
    fill(&mut c);
    let want = digest(&mut c);
    assert_eq!(c.cmd_str("DEBUG RELOAD"), "+OK\r\n");
    assert_eq!(digest(&mut c), want);

    // Redis 7.0 panics on a duplicated key here; we refuse and keep the
    // dataset as it was.
    c.cmd_str("SET int changed");
    let changed = digest(&mut c);
    assert_eq!(
        c.cmd_str("DEBUG RELOAD NOSAVE NOFLUSH"),
        "-ERR Error trying to load the RDB dump, check server logs.\r\n"
    );
    assert_eq!(c.cmd_str("PING"), "+PONG\r\n");
    assert_eq!(c.cmd_str("GET int"), "$7\r\nchanged\r\n");
    assert_eq!(digest(&mut c), changed, "the refused load changed nothing");
    assert_eq!(c.cmd_str("DEBUG RELOAD NOSAVE NOFLUSH MERGE"), "+OK\r\n");
    assert_eq!(digest(&mut c), want);
}

/// The children of process `pid` (from /proc).
fn children_of(pid: u32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

#[test]
fn a_crash_mid_snapshot_leaves_the_last_completed_one() {
    let dir = TempDir::new("rdb-crash");
    let d = dir_arg(&dir);
    let want = {
        let mut vigil = Server::vigil(&["--dir", &d]);
        let mut c = vigil.raw().patient(Duration::from_secs(120));
        fill(&mut c);
        assert_eq!(c.cmd_str("SAVE"), "+OK\r\n");
        let want = digest(&mut c);
        // Writes after the snapshot, then a background save killed with
        // the server before it completes.
        assert_eq!(c.cmd_str("DEBUG POPULATE 300000 later 64"), "+OK\r\n");
        assert_eq!(c.cmd_str("BGSAVE"), "+Background saving started\r\n");
        let children = children_of(vigil.pid());
        for child in &children {
            unsafe { libc::kill(*child, libc::SIGKILL) };
        }
        vigil.signal_and_wait(libc::SIGKILL, Duration::from_secs(10));
        assert!(!children.is_empty(), "the save ran in a child");
        want
    };
    let vigil = Server::vigil(&["--dir", &d]);
    assert_eq!(digest(&mut vigil.raw()), want);
}

#[test]
fn a_background_save_reports_the_memory_it_copied() {
    let dir = TempDir::new("cow");
    let vigil = Server::vigil(&["--dir", &dir_arg(&dir), "--rdb-key-save-delay", "100"]);
    let mut c = vigil.raw();
    // A testing knob, as in Redis: shown only when asked for by name.
    assert_eq!(
        c.cmd_str("CONFIG GET rdb-key-save-delay"),
        "*2\r\n$18\r\nrdb-key-save-delay\r\n$3\r\n100\r\n"
    );
    assert!(!c.cmd_str("CONFIG GET *").contains("rdb-key-save-delay"));
    c.cmd_str("DEBUG POPULATE 10000 key 100");
    assert_eq!(c.cmd_str("BGSAVE"), "+Background saving started\r\n");
    // Rewriting every value while the child runs makes it copy pages.
    let value = "x".repeat(100);
    let mut copied = 0;
    let sampled = wait_until(Duration::from_secs(20), || {
        for i in 0..1000 {
            c.cmd_str(&format!("SET key:{i} {value}"));
        }
        copied = info_field(&mut c, "persistence", "current_cow_size")
            .parse::<u64>()
            .unwrap();
        copied > 0
    });
    assert!(sampled, "no copy-on-write sample while the save ran");
    let peak: u64 = info_field(&mut c, "persistence", "current_cow_peak")
        .parse()
        .unwrap();
    assert!(peak >= copied);
    assert!(wait_until(Duration::from_secs(20), || info_field(
        &mut c,
        "persistence",
        "rdb_bgsave_in_progress"
    ) == "0"));
    let last: u64 = info_field(&mut c, "persistence", "rdb_last_cow_size")
        .parse()
        .unwrap();
    assert!(last >= copied, "{last} < {copied}");
    assert_eq!(info_field(&mut c, "persistence", "current_cow_size"), "0");
}

//! The append-only file through the real binary: the files Redis 7.0
//! writes (byte for byte where they are deterministic), rewrites, loading
//! in both directions between Vigil and redis-server, the old single-file
//! layout, truncated and corrupt files, turning the AOF on at run time, and
//! acknowledged writes surviving SIGKILL.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{wait_until, Raw, Server, TempDir};

fn dir_arg(dir: &TempDir) -> String {
    dir.0.to_str().unwrap().to_string()
}

fn aof_dir(dir: &Path) -> PathBuf {
    dir.join("appendonlydir")
}

fn info_field(c: &mut Raw, section: &str, name: &str) -> String {
    let text = String::from_utf8(c.cmd(&[b"INFO", section.as_bytes()])).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .trim()
        .to_string()
}

fn digest(c: &mut Raw) -> String {
    c.cmd_str("DEBUG DIGEST")
}

/// Wait until no rewrite runs and `rewrites` have completed (all read
/// from one INFO, so a rewrite starting meanwhile is not missed).
fn wait_rewrites(c: &mut Raw, rewrites: u64) {
    let done = wait_until(Duration::from_secs(30), || {
        let info = String::from_utf8(c.cmd(&[b"INFO", b"persistence"])).unwrap();
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}:")))
                .unwrap_or_else(|| panic!("no {name}"))
                .trim()
                .to_string()
        };
        field("aof_rewrite_in_progress") == "0"
            && field("aof_rewrite_scheduled") == "0"
            && field("aof_rewrites").parse::<u64>().unwrap() >= rewrites
    });
    assert!(done, "rewrite did not finish");
    assert_eq!(
        info_field(c, "persistence", "aof_last_bgrewrite_status"),
        "ok"
    );
}

fn check_aof(dir: &Path) -> String {
    let out = Command::new("redis-check-aof")
        .arg(aof_dir(dir).join("appendonly.aof.manifest"))
        .output()
        .expect("redis-check-aof is installed by .ci/run");
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{report}");
    report
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// Strings, sets, TTLs, several databases: the data types every branch of
/// the rewrite and the loaders handle.
fn fill(c: &mut Raw) {
    c.cmd_str("MSET int 12345 emb hello empty \"\"");
    c.cmd(&[b"SET", b"bin\x00key", b"\x00\xff\r\n"]);
    c.cmd(&[b"SET", b"raw", &[b'x'; 300]]);
    c.cmd_str("SET ttl v PXAT 4102444800123");
    c.cmd_str("SADD ints 1 2 3 100000");
    c.cmd_str("SADD words a b c");
    c.cmd_str("SELECT 3");
    c.cmd_str("SET db3 x");
    c.cmd_str("SADD big 0");
    for i in 0..200 {
        c.cmd(&[b"SADD", b"big", format!("m{i}").as_bytes()]);
    }
    c.cmd_str("SELECT 0");
    c.cmd_str("DEBUG POPULATE 1000 pop 20");
}

#[test]
fn the_incr_file_is_byte_identical_to_redis() {
    let script = [
        "SET a 1",
        "set b 2",
        "EXPIREAT a 4102444800",
        "SET c v PXAT 4102444800123",
        "INCRBYFLOAT f 1.5",
        "DEL missing",
        "SETNX a 2",
        "SELECT 3",
        "SET x 1",
        "MULTI",
        "SET t1 1",
        "INCR t1",
        "EXEC",
        "MULTI",
        "INCR t1",
        "EXEC",
        "SADD s a b",
        "SREM s zzz",
        "RPUSH l 3 1 2",
        "LPOP l",
        "SORT l STORE dst",
        "SORT l",
        "SORT nokey STORE dst",
        "SELECT 0",
        "GETEX c PERSIST",
        "UNLINK b",
        "FLUSHDB",
    ];
    let mut files = Vec::new();
    for server in [
        // `always`: the write is in the file before the reply (with
        // `everysec` a busy fsync may hold it back for a while).
        Server::vigil(&["--appendonly", "yes", "--appendfsync", "always"]),
        Server::redis(&["--appendonly", "yes", "--appendfsync", "always"]),
    ] {
        let mut c = server.raw();
        for line in script {
            c.cmd_str(line);
        }
        let dir = aof_dir(&server.dir.0);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let manifest = std::fs::read_to_string(dir.join("appendonly.aof.manifest")).unwrap();
        let incr = std::fs::read(dir.join("appendonly.aof.1.incr.aof")).unwrap();
        files.push((names, manifest, common::show(&incr)));
    }
    assert_eq!(files[0], files[1]);
}

#[test]
fn a_rewritten_aof_loads_in_redis_and_vigil_with_the_same_digest() {
    for preamble in ["yes", "no"] {
        let dir = TempDir::new("aof-rewrite");
        let d = dir_arg(&dir);
        let args = [
            "--dir",
            &d,
            "--appendonly",
            "yes",
            "--aof-use-rdb-preamble",
            preamble,
        ];
        let want = {
            let mut vigil = Server::vigil(&args);
            let mut c = vigil.raw();
            fill(&mut c);
            assert_eq!(
                c.cmd_str("BGREWRITEAOF"),
                "+Background append only file rewriting started\r\n"
            );
            wait_rewrites(&mut c, 1);
            // Writes after the rewrite go to the new incr file.
            c.cmd_str("SET after 1");
            c.cmd_str("SADD words d");
            let want = digest(&mut c);
            vigil.signal_and_wait(libc::SIGTERM, Duration::from_secs(10));
            want
        };
        let ext = if preamble == "yes" { "rdb" } else { "aof" };
        let manifest =
            std::fs::read_to_string(aof_dir(&dir.0).join("appendonly.aof.manifest")).unwrap();
        assert_eq!(
            manifest,
            format!(
                "file appendonly.aof.2.base.{ext} seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
            ),
            "the old base and incr became history and were deleted"
        );
        let mut left: Vec<String> = std::fs::read_dir(aof_dir(&dir.0))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                format!("appendonly.aof.2.base.{ext}"),
                "appendonly.aof.2.incr.aof".into(),
                "appendonly.aof.manifest".into()
            ]
        );
        check_aof(&dir.0);

        let vigil = Server::vigil(&args);
        assert_eq!(digest(&mut vigil.raw()), want, "vigil reloads it");
        drop(vigil);
        let redis = Server::redis(&["--dir", &d, "--appendonly", "yes"]);
        assert_eq!(digest(&mut redis.raw()), want, "redis loads it");
    }
}

#[test]
fn a_redis_written_aof_directory_loads_in_vigil() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/redis-7.0.15");
    let mut digests = Vec::new();
    for redis in [true, false] {
        let dir = TempDir::new("aof-fixture");
        copy_dir(&fixture.join("appendonlydir"), &aof_dir(&dir.0));
        let d = dir_arg(&dir);
        let args = ["--dir", &d, "--appendonly", "yes"];
        let server = if redis {
            Server::redis(&args)
        } else {
            Server::vigil(&args)
        };
        let mut c = server.raw();
        digests.push((
            digest(&mut c),
            c.cmd_str("DBSIZE"),
            c.cmd_str("LINDEX list:small -1"),
            c.cmd_str("EXISTS str:empty"),
        ));
    }
    assert_eq!(digests[0], digests[1]);
    // The incr file's RPUSH and DEL were applied on top of the base. (Its
    // other key expires on 2026-11-24, so its value is not checked.)
    assert_eq!(digests[1].2, "$4\r\ntail\r\n");
    assert_eq!(digests[1].3, ":0\r\n");
}

#[test]
fn an_old_single_file_aof_is_moved_into_the_directory() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/redis-7.0-assets/rdb-preamble.aof");
    let mut digests = Vec::new();
    for redis in [true, false] {
        let dir = TempDir::new("aof-upgrade");
        std::fs::copy(&fixture, dir.0.join("appendonly.aof")).unwrap();
        let d = dir_arg(&dir);
        let args = ["--dir", &d, "--appendonly", "yes"];
        let server = if redis {
            Server::redis(&args)
        } else {
            Server::vigil(&args)
        };
        let mut c = server.raw();
        digests.push((digest(&mut c), c.cmd_str("DBSIZE")));
        assert!(!dir.0.join("appendonly.aof").exists());
        let manifest =
            std::fs::read_to_string(aof_dir(&dir.0).join("appendonly.aof.manifest")).unwrap();
        assert_eq!(
            manifest,
            "file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
        );
    }
    assert_eq!(digests[0], digests[1]);
    assert_eq!(
        digests[1].1, ":3\r\n",
        "k1 k2 from the RDB, k3 from the tail"
    );
}

/// Start vigil on `dir` and wait until it is ready or exits; the exit code
/// and output if it exited. A port taken meanwhile by another test is
/// retried with another.
fn start_or_fail(dir: &str, extra: &[&str]) -> Result<(Running, u16), (i32, String)> {
    start_limited(dir, extra, None)
}

/// [`start_or_fail`], with the size of files the server may write limited
/// to `file_size_limit` bytes (RLIMIT_FSIZE) if given.
fn start_limited(
    dir: &str,
    extra: &[&str],
    file_size_limit: Option<u64>,
) -> Result<(Running, u16), (i32, String)> {
    let mut result = try_start(dir, extra, file_size_limit);
    for _ in 0..5 {
        match &result {
            Err((_, log)) if log.contains("Is another server already running") => {
                result = try_start(dir, extra, file_size_limit)
            }
            _ => break,
        }
    }
    result
}

fn try_start(
    dir: &str,
    extra: &[&str],
    file_size_limit: Option<u64>,
) -> Result<(Running, u16), (i32, String)> {
    use std::os::unix::process::CommandExt;
    let port = common::free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigil-server"));
    if let Some(limit) = file_size_limit {
        // SAFETY: only async-signal-safe setrlimit runs between fork and exec.
        unsafe {
            command.pre_exec(move || {
                let lim = libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: libc::RLIM_INFINITY,
                };
                libc::setrlimit(libc::RLIMIT_FSIZE, &lim);
                Ok(())
            });
        }
    }
    let mut child = command
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--dir",
            dir,
            "--save",
            "",
            "--appendonly",
            "yes",
            // Each write is in the file before its reply, so a test may
            // kill the server and read the file at once.
            "--appendfsync",
            "always",
            "--enable-debug-command",
            "yes",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let out = child.wait_with_output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr);
            return Err((status.code().unwrap_or(-1), text));
        }
        if ping(port).is_some_and(|r| r.starts_with(b"+PONG")) {
            return Ok((Running(child), port));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("not ready after 15 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// PING without panicking: a server that fails to load closes its
/// listeners as it exits.
fn ping(port: u16) -> Option<Vec<u8>> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"PING\r\n").ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    Some(buf[..n].to_vec())
}

/// A server started by [`start_or_fail`]: killed when dropped, so a
/// failing test leaves no process behind.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Kill a server now (SIGKILL: a crash, as far as its files know).
fn stop(server: Running) {
    drop(server);
}

#[test]
fn a_cut_last_command_is_dropped_or_refused_as_configured() {
    let dir = TempDir::new("aof-cut");
    let d = dir_arg(&dir);
    let (child, port) = start_or_fail(&d, &[]).expect("starts");
    let mut c = Raw::connect(port);
    c.cmd_str("SET a 1");
    c.cmd_str("SET b 2");
    let without_last = digest(&mut c);
    c.cmd_str("SET last 3");
    stop(child);
    let incr = aof_dir(&dir.0).join("appendonly.aof.1.incr.aof");
    let whole = std::fs::read(&incr).unwrap();
    let last = b"*3\r\n$3\r\nSET\r\n$4\r\nlast\r\n$1\r\n3\r\n";
    assert!(whole.ends_with(last));
    let boundary = whole.len() - last.len();
    for cut in boundary + 1..whole.len() {
        std::fs::write(&incr, &whole[..cut]).unwrap();
        let (code, log) = start_or_fail(&d, &["--aof-load-truncated", "no"])
            .map(|(child, _)| stop(child))
            .expect_err("a cut file is refused with aof-load-truncated no");
        assert_eq!(code, 1, "cut at {cut}");
        assert!(
            log.contains("Unexpected end of file"),
            "cut at {cut}: {log}"
        );
        assert_eq!(std::fs::read(&incr).unwrap().len(), cut, "left as it was");

        let (child, port) = start_or_fail(&d, &[]).expect("loads the complete commands");
        assert_eq!(
            digest(&mut Raw::connect(port)),
            without_last,
            "cut at {cut}"
        );
        stop(child);
        assert_eq!(
            std::fs::read(&incr).unwrap(),
            &whole[..boundary],
            "the file was cut after the last complete command"
        );
    }
}

#[test]
fn a_transaction_cut_short_is_dropped_whole() {
    let dir = TempDir::new("aof-multi");
    let d = dir_arg(&dir);
    let (child, port) = start_or_fail(&d, &[]).expect("starts");
    let mut c = Raw::connect(port);
    c.cmd_str("SET a 1");
    let before = digest(&mut c);
    stop(child);
    let incr = aof_dir(&dir.0).join("appendonly.aof.1.incr.aof");
    let mut bytes = std::fs::read(&incr).unwrap();
    let boundary = bytes.len();
    bytes.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n");
    std::fs::write(&incr, &bytes).unwrap();
    let (child, port) = start_or_fail(&d, &[]).expect("loads");
    assert_eq!(digest(&mut Raw::connect(port)), before);
    stop(child);
    assert_eq!(std::fs::read(&incr).unwrap().len(), boundary);
}

#[test]
fn corrupt_aofs_stop_startup_with_a_clear_error() {
    let cases: [(&str, &[u8], &str); 3] = [
        ("garbage", b"this is not a command\r\n", "Bad file format"),
        (
            "unknown command",
            b"*2\r\n$7\r\nNOTACMD\r\n$1\r\nx\r\n",
            "Unknown command 'NOTACMD'",
        ),
        (
            "wrong arity",
            b"*2\r\n$3\r\nSET\r\n$1\r\nx\r\n",
            "Wrong number of arguments",
        ),
    ];
    for (name, tail, expect) in cases {
        let dir = TempDir::new("aof-corrupt");
        let d = dir_arg(&dir);
        let (child, port) = start_or_fail(&d, &[]).expect("starts");
        Raw::connect(port).cmd_str("SET a 1");
        stop(child);
        let incr = aof_dir(&dir.0).join("appendonly.aof.1.incr.aof");
        let mut bytes = std::fs::read(&incr).unwrap();
        // In the middle: nothing forgives it.
        let good_tail = b"*3\r\n$3\r\nSET\r\n$1\r\nz\r\n$1\r\n1\r\n";
        bytes.extend_from_slice(tail);
        bytes.extend_from_slice(good_tail);
        std::fs::write(&incr, &bytes).unwrap();
        let (code, log) = start_or_fail(&d, &[])
            .map(|(child, _)| stop(child))
            .expect_err(name);
        assert_eq!(code, 1, "{name}");
        assert!(log.contains(expect), "{name}: {log}");
        assert!(
            log.contains("appendonly.aof.1.incr.aof"),
            "{name} names the file: {log}"
        );
    }

    let dir = TempDir::new("aof-missing");
    let d = dir_arg(&dir);
    std::fs::create_dir_all(aof_dir(&dir.0)).unwrap();
    std::fs::write(
        aof_dir(&dir.0).join("appendonly.aof.manifest"),
        "file appendonly.aof.1.base.rdb seq 1 type b\n",
    )
    .unwrap();
    let (code, log) = start_or_fail(&d, &[])
        .map(|(child, _)| stop(child))
        .expect_err("a listed file is missing");
    assert_eq!(code, 1);
    assert!(log.contains("doesn't exist"), "{log}");

    std::fs::write(aof_dir(&dir.0).join("appendonly.aof.manifest"), "file x\n").unwrap();
    let (code, log) = start_or_fail(&d, &[])
        .map(|(child, _)| stop(child))
        .expect_err("a bad manifest");
    assert_eq!(code, 1);
    assert!(log.contains("Invalid AOF manifest file format"), "{log}");
}

#[test]
fn turning_the_aof_on_at_run_time_writes_a_base_first() {
    let dir = TempDir::new("aof-on");
    let d = dir_arg(&dir);
    let (child, port) = start_or_fail(&d, &["--appendonly", "no"]).expect("starts");
    let mut c = Raw::connect(port);
    fill(&mut c);
    assert_eq!(c.cmd_str("CONFIG SET appendonly yes"), "+OK\r\n");
    wait_rewrites(&mut c, 1);
    assert_eq!(info_field(&mut c, "persistence", "aof_enabled"), "1");
    c.cmd_str("SET after-on 1");
    let want = digest(&mut c);
    assert_eq!(
        std::fs::read_to_string(aof_dir(&dir.0).join("appendonly.aof.manifest")).unwrap(),
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    // A crash now loses nothing: the base and the incr file hold it all.
    stop(child);
    let (child, port) = start_or_fail(&d, &[]).expect("loads");
    let mut c = Raw::connect(port);
    assert_eq!(digest(&mut c), want);

    // Off again: nothing more is appended.
    assert_eq!(c.cmd_str("CONFIG SET appendonly no"), "+OK\r\n");
    assert_eq!(info_field(&mut c, "persistence", "aof_enabled"), "0");
    let incr = aof_dir(&dir.0).join("appendonly.aof.1.incr.aof");
    let size = std::fs::metadata(&incr).unwrap().len();
    c.cmd_str("SET while-off 1");
    assert_eq!(std::fs::metadata(&incr).unwrap().len(), size);
    stop(child);
}

#[test]
fn debug_loadaof_replaces_the_dataset_with_the_aof() {
    let dir = TempDir::new("loadaof");
    let d = dir_arg(&dir);
    let (child, port) = start_or_fail(&d, &["--appendonly", "no"]).expect("starts");
    let mut c = Raw::connect(port);
    assert_eq!(
        c.cmd_str("DEBUG LOADAOF"),
        "-ERR Error loading the append only file: the AOF is not enabled\r\n"
    );
    // The base holds these (DEBUG POPULATE is not propagated), the incr
    // file what follows.
    fill(&mut c);
    assert_eq!(c.cmd_str("CONFIG SET appendonly yes"), "+OK\r\n");
    wait_rewrites(&mut c, 1);
    c.cmd_str("RPUSH list a b c");
    c.cmd_str("EXPIRE list 1000");
    let want = digest(&mut c);
    let incr = aof_dir(&dir.0).join("appendonly.aof.1.incr.aof");
    let size = std::fs::metadata(&incr).unwrap().len();
    // A key that only lives in memory (not propagated) goes away.
    c.cmd_str("DEBUG POPULATE 10 memory-only");
    assert_eq!(c.cmd_str("DEBUG LOADAOF"), "+OK\r\n");
    assert_eq!(digest(&mut c), want);
    assert_eq!(c.cmd_str("EXISTS memory-only:0"), ":0\r\n");
    // Loading appended nothing; writes after it are appended again.
    assert_eq!(std::fs::metadata(&incr).unwrap().len(), size);
    c.cmd_str("SET after 1");
    assert!(std::fs::metadata(&incr).unwrap().len() > size);
    assert_eq!(c.cmd_str("DEBUG LOADAOF"), "+OK\r\n");
    assert_eq!(c.cmd_str("GET after"), "$1\r\n1\r\n");
    stop(child);
}

#[test]
fn a_failed_aof_write_refuses_writes_until_a_retry_succeeds() {
    let dir = TempDir::new("aof-full");
    let d = dir_arg(&dir);
    // The disk "fills up" at 64 KiB per file.
    let (child, port) =
        start_limited(&d, &["--appendfsync", "everysec"], Some(64 * 1024)).expect("starts");
    let mut c = Raw::connect(port);
    let value = "v".repeat(1000);
    let mut acknowledged = Vec::new();
    let mut refusal = String::new();
    for i in 0..200 {
        let reply = c.cmd_str(&format!("SET k{i} {value}"));
        if reply == "+OK\r\n" {
            acknowledged.push(i);
        } else {
            refusal = reply;
            break;
        }
    }
    assert_eq!(
        refusal,
        "-MISCONF Errors writing to the AOF file: File too large\r\n",
        "after {} writes",
        acknowledged.len()
    );
    assert_eq!(c.cmd_str("GET k0").len(), 1009, "reads still work");
    assert!(info_field(&mut c, "persistence", "aof_last_write_status") == "err");

    // Space again: the retry writes the pending data and writes resume.
    let lim = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: prlimit on our own child with a valid new limit.
    let r = unsafe {
        libc::prlimit(
            child.0.id() as i32,
            libc::RLIMIT_FSIZE,
            &lim,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(r, 0);
    assert!(wait_until(Duration::from_secs(5), || c
        .cmd_str("SET after 1")
        == "+OK\r\n"));
    assert_eq!(
        info_field(&mut c, "persistence", "aof_last_write_status"),
        "ok"
    );
    let want = digest(&mut c);
    stop(child);
    // Everything acknowledged is in the AOF.
    let (child, port) = start_or_fail(&d, &[]).expect("loads");
    let mut c = Raw::connect(port);
    assert_eq!(digest(&mut c), want);
    for i in acknowledged {
        assert_eq!(c.cmd_str(&format!("EXISTS k{i}")), ":1\r\n");
    }
    stop(child);
}

#[test]
fn the_aof_is_rewritten_automatically_when_it_doubles() {
    let dir = TempDir::new("aof-auto");
    let d = dir_arg(&dir);
    let (child, port) = start_or_fail(
        &d,
        &[
            "--auto-aof-rewrite-min-size",
            "20kb",
            "--auto-aof-rewrite-percentage",
            "100",
        ],
    )
    .expect("starts");
    let mut c = Raw::connect(port);
    assert_eq!(info_field(&mut c, "persistence", "aof_rewrites"), "0");
    for i in 0..400 {
        c.cmd(&[b"SET", format!("key:{i}").as_bytes(), &[b'v'; 64]]);
    }
    wait_rewrites(&mut c, 1);
    let manifest =
        std::fs::read_to_string(aof_dir(&dir.0).join("appendonly.aof.manifest")).unwrap();
    assert!(
        manifest.starts_with("file appendonly.aof.2.base.rdb seq 2 type b\n"),
        "{manifest}"
    );
    let base: u64 = info_field(&mut c, "persistence", "aof_base_size")
        .parse()
        .unwrap();
    let current: u64 = info_field(&mut c, "persistence", "aof_current_size")
        .parse()
        .unwrap();
    assert!(base > 0 && current >= base, "base {base} current {current}");
    stop(child);
}

#[test]
fn child_conflicts_answer_like_redis() {
    let server = Server::vigil(&["--appendonly", "yes"]);
    let mut c = server.raw().patient(Duration::from_secs(60));
    c.cmd_str("DEBUG POPULATE 300000 k 100");
    // DEBUG SLEEP keeps nothing busy; a big dataset keeps the child alive
    // long enough to see the conflicts.
    assert_eq!(
        c.cmd_str("BGREWRITEAOF"),
        "+Background append only file rewriting started\r\n"
    );
    let during = [
        c.cmd_str("BGREWRITEAOF"),
        c.cmd_str("BGSAVE"),
        c.cmd_str("BGSAVE SCHEDULE"),
    ];
    if info_field(&mut c, "persistence", "aof_rewrite_in_progress") == "1" {
        assert_eq!(
            during[0],
            "-ERR Background append only file rewriting already in progress\r\n"
        );
        assert_eq!(during[1], "-ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.\r\n");
        assert_eq!(during[2], "+Background saving scheduled\r\n");
    }
    wait_rewrites(&mut c, 1);
    assert!(wait_until(Duration::from_secs(30), || {
        info_field(&mut c, "persistence", "rdb_bgsave_in_progress") == "0"
            && info_field(&mut c, "persistence", "rdb_saves") == "1"
    }));
}

/// SIGKILL under a steady write load, `rounds` times over, each after
/// `run`: every write acknowledged more than `window` before the kill is
/// there after the restart, and the server always starts again.
fn crash_rounds(policy: &str, rounds: usize, run: Duration, window: Duration) {
    let dir = TempDir::new("aof-crash");
    let d = dir_arg(&dir);
    for round in 0..rounds {
        let (child, port) =
            start_or_fail(&d, &["--appendfsync", policy]).expect("restarts after a kill");
        let writers: Vec<_> = (0..4)
            .map(|w| {
                std::thread::spawn(move || {
                    let mut c = Raw::connect(port);
                    let mut acked = Vec::new();
                    for i in 0.. {
                        let key = format!("r{round}:w{w}:{i}");
                        c.send_cmd(&[b"SET", key.as_bytes(), b"1"]);
                        match c.try_read_reply() {
                            Some(r) if r == b"+OK\r\n" => acked.push((key, Instant::now())),
                            _ => break,
                        }
                    }
                    acked
                })
            })
            .collect();
        std::thread::sleep(run);
        let killed_at = Instant::now();
        stop(child);
        let acked: Vec<String> = writers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .filter(|(_, at)| *at + window <= killed_at)
            .map(|(key, _)| key)
            .collect();
        assert!(!acked.is_empty(), "round {round}: nothing was acknowledged");
        let (child, port) = start_or_fail(&d, &[]).expect("loads after a kill");
        let mut c = Raw::connect(port);
        for key in &acked {
            assert_eq!(
                c.cmd_str(&format!("EXISTS {key}")),
                ":1\r\n",
                "{policy} round {round}: {key} was acknowledged"
            );
        }
        stop(child);
    }
}

#[test]
fn acknowledged_writes_survive_sigkill_with_appendfsync_always() {
    crash_rounds("always", 4, Duration::from_millis(300), Duration::ZERO);
}

/// `everysec` may lose what the last ~2 seconds wrote (a write waits for a
/// busy fsync up to 2 s), never anything older.
#[test]
fn everysec_loses_at_most_the_last_two_seconds_under_sigkill() {
    crash_rounds(
        "everysec",
        2,
        Duration::from_millis(3000),
        Duration::from_millis(2500),
    );
}

#[test]
fn timestamp_annotations_are_written_and_skipped_on_load() {
    let dir = TempDir::new("aof-ts");
    let d = dir_arg(&dir);
    let (child, port) = start_or_fail(&d, &["--aof-timestamp-enabled", "yes"]).expect("starts");
    let mut c = Raw::connect(port);
    c.cmd_str("SET a 1");
    let want = digest(&mut c);
    stop(child);
    let incr = std::fs::read_to_string(aof_dir(&dir.0).join("appendonly.aof.1.incr.aof")).unwrap();
    assert!(incr.starts_with("#TS:"), "{incr:?}");
    assert!(incr.contains("\r\n*2\r\n$6\r\nSELECT\r\n"), "{incr:?}");
    check_aof(&dir.0);
    let (child, port) = start_or_fail(&d, &[]).expect("loads");
    assert_eq!(digest(&mut Raw::connect(port)), want);
    stop(child);
}

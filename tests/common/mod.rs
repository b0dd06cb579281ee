//! Shared test support: start `vigil-server` (and real `redis-server` for
//! differential tests) on free loopback ports in private directories, talk
//! to them raw or with the `redis` crate, and stop them when dropped.
#![allow(dead_code)]

pub mod monitor;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A private, removed-on-drop directory.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("vigil-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create test dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run the real `redis-cli -p port args...`; its standard output, which
/// must be a success.
pub fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .expect("redis-cli is installed by .ci/run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `text` with each run of digits replaced by one `9`: times, ids, ports
/// and sizes compared by their shape.
pub fn mask_digits(text: &str) -> String {
    let mut out = String::new();
    let mut in_digits = false;
    for c in text.chars() {
        let digit = c.is_ascii_digit();
        if !(digit && in_digits) {
            out.push(if digit { '9' } else { c });
        }
        in_digits = digit;
    }
    out
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind :0")
        .local_addr()
        .unwrap()
        .port()
}

/// A server process started for a test; killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    pub dir: TempDir,
    /// Every line the server printed so far is readable through `log_lines`.
    log_rx: mpsc::Receiver<String>,
    log: Vec<String>,
}

/// Which implementation to start.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Vigil,
    Redis,
}

impl Server {
    /// Start `vigil-server` with test defaults plus `args` (`--name value`).
    pub fn vigil(args: &[&str]) -> Server {
        Server::start(Kind::Vigil, args)
    }

    /// Start a real `redis-server` 7.0 with the same defaults.
    pub fn redis(args: &[&str]) -> Server {
        Server::start(Kind::Redis, args)
    }

    /// Start `vigil-server` from the config file `config` (the test
    /// defaults and `args` still follow it, so they win).
    pub fn vigil_with_config(config: &std::path::Path, args: &[&str]) -> Server {
        Server::start_with(Kind::Vigil, Some(config), args)
    }

    pub fn start(kind: Kind, args: &[&str]) -> Server {
        Server::start_with(kind, None, args)
    }

    fn start_with(kind: Kind, config: Option<&std::path::Path>, args: &[&str]) -> Server {
        let mut last_err = String::new();
        for _ in 0..5 {
            match Server::try_start(kind, config, args) {
                Ok(s) => return s,
                Err(e) => last_err = e,
            }
        }
        panic!("could not start {kind:?}: {last_err}");
    }

    fn try_start(
        kind: Kind,
        config: Option<&std::path::Path>,
        args: &[&str],
    ) -> Result<Server, String> {
        let port = free_port();
        let dir = TempDir::new(match kind {
            Kind::Vigil => "vigil",
            Kind::Redis => "redis",
        });
        let program = match kind {
            Kind::Vigil => env!("CARGO_BIN_EXE_vigil-server").to_string(),
            Kind::Redis => "redis-server".to_string(),
        };
        let port_s = port.to_string();
        let dir_s = dir.0.to_str().unwrap().to_string();
        let mut cmd = Command::new(&program);
        cmd.args(config);
        cmd.args([
            "--port",
            &port_s,
            "--bind",
            "127.0.0.1",
            "--dir",
            &dir_s,
            "--save",
            "",
            "--appendonly",
            "no",
        ]);
        cmd.args(["--enable-debug-command", "yes", "--logfile", ""]);
        cmd.args(args);
        cmd.current_dir(&dir.0)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        let mut child = cmd.spawn().map_err(|e| {
            format!("spawn {program}: {e} (is it installed? .ci/run installs redis-server)")
        })?;
        let (tx, rx) = mpsc::channel();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let mut server = Server {
            child,
            port,
            dir,
            log_rx: rx,
            log: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if server
                .log
                .iter()
                .any(|l| l.contains("Ready to accept connections"))
            {
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                server.drain_log();
                return Err(format!("exited with {status}: {}", server.log.join("\n")));
            }
            if Instant::now() > deadline {
                return Err(format!("not ready after 15s: {}", server.log.join("\n")));
            }
            if let Ok(line) = server.log_rx.recv_timeout(Duration::from_millis(50)) {
                server.log.push(line);
            }
        }
    }

    fn drain_log(&mut self) {
        while let Ok(line) = self.log_rx.try_recv() {
            self.log.push(line);
        }
    }

    /// The server's output so far.
    pub fn log_lines(&mut self) -> Vec<String> {
        self.drain_log();
        self.log.clone()
    }

    /// Wait until a log line contains `needle`.
    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> bool {
        self.wait_for_log_line(needle, timeout).is_some()
    }

    /// The first log line containing `needle`, once there is one.
    pub fn wait_for_log_line(&mut self, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            self.drain_log();
            if let Some(line) = self.log.iter().find(|l| l.contains(needle)) {
                return Some(line.clone());
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A `/proc/PID/status` figure in kB (`"VmRSS:"`, `"VmHWM:"`), 0 if
    /// unreadable.
    pub fn status_kb(&self, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// A connection subscribed to `channel` that never reads, once the
    /// server counts it.
    pub fn stalled_subscriber(&self, channel: &str) -> TcpStream {
        let mut slow = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        slow.write_all(format!("SUBSCRIBE {channel}\r\n").as_bytes())
            .unwrap();
        let mut probe = self.raw();
        assert!(
            wait_until(Duration::from_secs(5), || probe
                .cmd_str(&format!("PUBSUB NUMSUB {channel}"))
                .ends_with(":1\r\n")),
            "the subscriber is counted"
        );
        slow
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send a signal without waiting for anything (SIGSTOP, SIGCONT).
    pub fn signal(&self, sig: i32) {
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// Send a signal to the server and to the processes it forked (a
    /// snapshot child), children first.
    pub fn signal_tree(&self, sig: i32) {
        let pid = self.child.id();
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        for child in children
            .split_whitespace()
            .filter_map(|c| c.parse::<i32>().ok())
        {
            unsafe { libc::kill(child, sig) };
        }
        self.signal(sig);
    }

    /// Send a signal and wait for the process to exit (up to `timeout`).
    pub fn signal_and_wait(
        &mut self,
        sig: i32,
        timeout: Duration,
    ) -> Option<std::process::ExitStatus> {
        signal_and_wait(&mut self.child, sig, timeout)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A `redis` crate connection.
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .unwrap()
            .get_connection()
            .expect("connect")
    }

    /// A raw connection for byte-level protocol tests.
    pub fn raw(&self) -> Raw {
        Raw::connect(self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain TCP connection that reads whole RESP replies as raw bytes.
pub struct Raw {
    pub stream: BufReader<TcpStream>,
}

/// Reads RESP replies out of bytes already received.
pub struct RawBytes<'a>(std::io::BufReader<&'a [u8]>);

impl RawBytes<'_> {
    pub fn try_read_reply(&mut self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        read_one(&mut self.0, &mut out).ok()?;
        Some(out)
    }
}

impl Raw {
    /// A reader over bytes already received (to split a reply).
    pub fn from_bytes(bytes: &[u8]) -> RawBytes<'_> {
        RawBytes(std::io::BufReader::new(bytes))
    }

    pub fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Raw {
            stream: BufReader::new(stream),
        }
    }

    /// Allow slow replies (big SAVE, DEBUG POPULATE in debug builds).
    pub fn patient(self, timeout: Duration) -> Raw {
        self.stream
            .get_ref()
            .set_read_timeout(Some(timeout))
            .unwrap();
        self
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.get_mut().write_all(bytes).expect("send");
    }

    /// Send a command as a multibulk request.
    pub fn send_cmd(&mut self, args: &[&[u8]]) {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.send(&out);
    }

    /// Send a command and read its reply.
    pub fn cmd(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send_cmd(args);
        self.read_reply()
    }

    /// Same, from a string split on spaces (no quoting).
    pub fn cmd_str(&mut self, line: &str) -> String {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        String::from_utf8_lossy(&self.cmd(&args)).into_owned()
    }

    /// Read exactly one complete RESP2/RESP3 reply, returning its bytes.
    pub fn read_reply(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        read_one(&mut self.stream, &mut out).expect("read reply");
        out
    }

    /// Read one reply, or `None` if the server closed the connection.
    pub fn try_read_reply(&mut self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        read_one(&mut self.stream, &mut out).ok()?;
        Some(out)
    }

    /// True once the server has closed the connection (EOF within timeout).
    pub fn is_closed(&mut self, timeout: Duration) -> bool {
        self.stream
            .get_ref()
            .set_read_timeout(Some(timeout))
            .unwrap();
        let mut buf = [0u8; 1];
        let closed = matches!(self.stream.read(&mut buf), Ok(0));
        self.stream
            .get_ref()
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        closed
    }
}

fn read_line(r: &mut impl BufRead, out: &mut Vec<u8>) -> std::io::Result<Vec<u8>> {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "closed",
        ));
    }
    out.extend_from_slice(&line);
    Ok(line)
}

fn read_one(r: &mut impl BufRead, out: &mut Vec<u8>) -> std::io::Result<()> {
    let line = read_line(r, out)?;
    let body = std::str::from_utf8(&line[1..line.len().saturating_sub(2)]).unwrap_or("");
    match line[0] {
        b'+' | b'-' | b':' | b',' | b'#' | b'_' | b'(' => Ok(()),
        b'$' | b'=' | b'!' => {
            let n: i64 = body.parse().unwrap_or(-1);
            if n >= 0 {
                let mut data = vec![0u8; n as usize + 2];
                r.read_exact(&mut data)?;
                out.extend_from_slice(&data);
            }
            Ok(())
        }
        b'*' | b'~' | b'>' => {
            let n: i64 = body.parse().unwrap_or(-1);
            for _ in 0..n.max(0) {
                read_one(r, out)?;
            }
            Ok(())
        }
        b'%' | b'|' => {
            let n: i64 = body.parse().unwrap_or(0);
            for _ in 0..2 * n.max(0) {
                read_one(r, out)?;
            }
            if line[0] == b'|' {
                // Attributes annotate the reply that follows: one unit.
                read_one(r, out)?;
            }
            Ok(())
        }
        other => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("bad reply byte {other:?}"),
        )),
    }
}

/// Show reply bytes readably in assertion messages.
pub fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// Send `sig` to `child` and wait for it to exit (up to `timeout`).
pub fn signal_and_wait(
    child: &mut Child,
    sig: i32,
    timeout: Duration,
) -> Option<std::process::ExitStatus> {
    unsafe { libc::kill(child.id() as i32, sig) };
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `line` sent to the node on `port` over a new connection; "" if the
/// connection failed or was cut: a monitor's role-change transaction kills
/// the nodes' normal clients on purpose (`CLIENT KILL TYPE normal`).
pub fn node_say(port: u16, line: &str) -> String {
    std::panic::catch_unwind(|| Raw::connect(port).cmd_str(line)).unwrap_or_default()
}

/// The master's port according to the monitor on `port`
/// (`SENTINEL GET-MASTER-ADDR-BY-NAME mymaster`), if it answers with one.
pub fn master_port_from(port: u16) -> Option<u16> {
    let reply = std::panic::catch_unwind(|| {
        Raw::connect(port).cmd(&[b"SENTINEL", b"GET-MASTER-ADDR-BY-NAME", b"mymaster"])
    })
    .ok()?;
    let items = Reply::parse(&reply).bulks();
    (items.len() == 2).then(|| String::from_utf8_lossy(&items[1]).parse().ok())?
}

/// Poll `cond` until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A parsed reply: enough structure to compare shapes and read members.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Bulk(Vec<u8>),
    Int(i64),
    Double(f64),
    /// An aggregate with its type byte (`*`, `~`, `>`).
    Agg(u8, Vec<Reply>),
    /// Any other line (status, error, null).
    Line(Vec<u8>),
}

impl Reply {
    pub fn parse(bytes: &[u8]) -> Reply {
        let mut pos = 0;
        let r = Reply::parse_at(bytes, &mut pos);
        assert_eq!(pos, bytes.len(), "trailing bytes in {}", show(bytes));
        r
    }

    fn parse_at(bytes: &[u8], pos: &mut usize) -> Reply {
        let start = *pos;
        let eol = start
            + bytes[start..]
                .windows(2)
                .position(|w| w == b"\r\n")
                .expect("a complete line");
        let line = &bytes[start..eol];
        *pos = eol + 2;
        let text = std::str::from_utf8(&line[1..]).unwrap_or("");
        let n = || -> i64 { text.parse().unwrap_or(-1) };
        match line[0] {
            b'$' if n() >= 0 => {
                let len = n() as usize;
                let data = bytes[*pos..*pos + len].to_vec();
                *pos += len + 2;
                Reply::Bulk(data)
            }
            b':' => Reply::Int(n()),
            b',' => Reply::Double(text.parse().expect("a double")),
            b'*' | b'~' | b'>' if n() >= 0 => {
                let items = (0..n()).map(|_| Reply::parse_at(bytes, pos)).collect();
                Reply::Agg(line[0], items)
            }
            _ => Reply::Line(line.to_vec()),
        }
    }

    pub fn items(&self) -> &[Reply] {
        match self {
            Reply::Agg(_, items) => items,
            other => panic!("not an aggregate: {other:?}"),
        }
    }

    pub fn bulk(&self) -> Vec<u8> {
        match self {
            Reply::Bulk(b) => b.clone(),
            other => panic!("not a bulk string: {other:?}"),
        }
    }

    pub fn bulks(&self) -> Vec<Vec<u8>> {
        self.items().iter().map(Reply::bulk).collect()
    }

    /// A score, as RESP2 (bulk) or RESP3 (double) sends it.
    pub fn score(&self) -> f64 {
        match self {
            Reply::Double(d) => *d,
            Reply::Bulk(b) => String::from_utf8_lossy(b).parse().expect("a score"),
            other => panic!("not a score: {other:?}"),
        }
    }

    /// A header summarising the shape (`*5`, `bulk`, ...).
    pub fn shape(&self) -> String {
        match self {
            Reply::Agg(t, items) => format!("{}{}", *t as char, items.len()),
            Reply::Bulk(_) => "bulk".into(),
            Reply::Int(_) => "int".into(),
            Reply::Double(_) => "double".into(),
            Reply::Line(l) => String::from_utf8_lossy(l).into_owned(),
        }
    }
}

pub fn cmd(c: &mut Raw, line: &str) -> Reply {
    let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    Reply::parse(&c.cmd(&args))
}

/// Every notification the commands cause (key misses included), as
/// `channel payload` lines.
pub fn notifications(server: &Server, commands: &[&str]) -> Vec<String> {
    let mut sub = server.raw();
    cmd(&mut sub, "CONFIG SET notify-keyspace-events KEAm");
    sub.send(b"PSUBSCRIBE __key*@*__:*\r\n");
    sub.read_reply();
    sub.send(b"SUBSCRIBE done\r\n");
    sub.read_reply();
    let mut c = server.raw();
    for line in commands {
        cmd(&mut c, line);
    }
    cmd(&mut c, "PUBLISH done done");
    let mut events = Vec::new();
    loop {
        let msg = Reply::parse(&sub.read_reply());
        let items = msg.items();
        let (channel, payload) = (items[items.len() - 2].bulk(), items[items.len() - 1].bulk());
        if channel == b"done" {
            return events;
        }
        events.push(format!(
            "{} {}",
            String::from_utf8_lossy(&channel),
            String::from_utf8_lossy(&payload)
        ));
    }
}

/// The counters a command moves: changes since the last save, keyspace
/// hits and misses.
fn counters(c: &mut Raw) -> [i64; 3] {
    let info = String::from_utf8(c.cmd(&[b"INFO"])).expect("INFO is text");
    let field = |name: &str| -> i64 {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("INFO has no {name}"))
    };
    [
        field("rdb_changes_since_last_save"),
        field("keyspace_hits"),
        field("keyspace_misses"),
    ]
}

/// Run `lines` on a fresh connection, noting for each how it moved the
/// changes-since-save, keyspace-hits and keyspace-misses counters (to
/// compare two servers line by line).
pub fn counter_deltas(server: &Server, lines: &[&str]) -> Vec<String> {
    let mut c = server.raw();
    lines
        .iter()
        .map(|line| {
            let before = counters(&mut c);
            cmd(&mut c, line);
            let after = counters(&mut c);
            let delta: Vec<i64> = (0..3).map(|i| after[i] - before[i]).collect();
            format!("{line} => changes, hits, misses {delta:?}")
        })
        .collect()
}

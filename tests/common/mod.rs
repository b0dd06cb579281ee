//! Shared test support: start `vigil-server` (and real `redis-server` for
//! differential tests) on free loopback ports in private directories, talk
//! to them raw or with the `redis` crate, and stop them when dropped.
#![allow(dead_code)]

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
        let deadline = Instant::now() + timeout;
        loop {
            self.drain_log();
            if self.log.iter().any(|l| l.contains(needle)) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send a signal and wait for the process to exit (up to `timeout`).
    pub fn signal_and_wait(
        &mut self,
        sig: i32,
        timeout: Duration,
    ) -> Option<std::process::ExitStatus> {
        unsafe { libc::kill(self.child.id() as i32, sig) };
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
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

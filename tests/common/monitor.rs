//! Monitor processes for the tests of `vigil-sentinel`: a vigil-sentinel
//! from a YAML file or a real redis-sentinel 7.0 from a `sentinel.conf`,
//! on a free loopback port, started once it logs its id (both print it
//! only once they listen) and killed when dropped. What it logs is kept,
//! for tests about what the monitor says.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{free_port, wait_until, Raw};

/// A monitor process (vigil-sentinel or redis-sentinel), killed on drop.
pub struct Monitor {
    child: Child,
    pub port: u16,
    /// Every line it printed on stdout so far.
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Monitor {
    pub fn raw(&self) -> Raw {
        Raw::connect(self.port)
    }

    pub fn say(&self, line: &str) -> String {
        self.raw().cmd_str(line)
    }

    /// The master's port according to this monitor.
    pub fn master_port(&self) -> Option<u16> {
        super::master_port_from(self.port)
    }

    /// One field of `SENTINEL MASTER mymaster`.
    pub fn master_field(&self, field: &str) -> String {
        let reply = super::Reply::parse(&self.raw().cmd(&[b"SENTINEL", b"MASTER", b"mymaster"]));
        let items = reply.items();
        (0..items.len())
            .step_by(2)
            .find(|&i| items[i].bulk() == field.as_bytes())
            .map(|i| String::from_utf8_lossy(&items[i + 1].bulk()).into_owned())
            .unwrap_or_else(|| panic!("no {field} in SENTINEL MASTER mymaster"))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send a signal without waiting for anything (SIGSTOP, SIGCONT).
    pub fn signal(&self, sig: i32) {
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// SIGKILL, and wait until the process is gone (its port is free).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The lines it printed so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// The first line printed so far that contains `needle`.
    pub fn logged(&self, needle: &str) -> Option<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.contains(needle))
            .cloned()
    }

    /// Wait until a line containing `needle` is printed.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> Option<String> {
        wait_until(timeout, || self.logged(needle).is_some());
        self.logged(needle)
    }
}

/// Start `cmd` and wait until it logs its id, which both monitors do only
/// once they listen. `None` if it exited first (its port was taken by a
/// process of another test meanwhile): the caller tries another port.
pub fn launch(mut cmd: Command, port: u16) -> Option<Monitor> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn a monitor (redis-sentinel is installed by .ci/run)");
    let (tx, rx) = std::sync::mpsc::channel();
    let out = child.stdout.take().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let kept = log.clone();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if line.contains("Sentinel ID is") {
                let _ = tx.send(());
            }
            kept.lock().unwrap().push(line);
        }
    });
    let ready = rx.recv_timeout(Duration::from_secs(15)).is_ok();
    let monitor = Monitor { child, port, log };
    ready.then_some(monitor)
}

/// A vigil-sentinel on `port`, or on a free port if `None`.
pub fn vigil_sentinel(config: &Path, dir: &Path, port: Option<u16>) -> Monitor {
    vigil_sentinel_with(config, dir, port, &[])
}

/// Like [`vigil_sentinel`], with more command-line arguments.
pub fn vigil_sentinel_with(
    config: &Path,
    dir: &Path,
    port: Option<u16>,
    extra: &[&str],
) -> Monitor {
    for _ in 0..5 {
        let port = port.unwrap_or_else(free_port);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil-sentinel"));
        cmd.args(["--config", config.to_str().unwrap()])
            .args(["--port", &port.to_string()])
            .args(["--dir", dir.to_str().unwrap()])
            .args(extra);
        if let Some(m) = launch(cmd, port) {
            return m;
        }
    }
    panic!("vigil-sentinel did not start");
}

/// A redis-sentinel watching `mymaster` at `master_port`.
pub fn redis_sentinel(dir: &Path, master_port: u16, quorum: u32) -> Monitor {
    redis_sentinel_with(dir, master_port, quorum, "")
}

/// Like [`redis_sentinel`], with more `sentinel.conf` lines.
pub fn redis_sentinel_with(dir: &Path, master_port: u16, quorum: u32, extra: &str) -> Monitor {
    for _ in 0..5 {
        let port = free_port();
        let conf = dir.join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {}\n{extra}sentinel monitor mymaster 127.0.0.1 {master_port} {quorum}\nsentinel down-after-milliseconds mymaster 1000\n",
                dir.display()
            ),
        )
        .unwrap();
        let mut cmd = Command::new("redis-sentinel");
        cmd.arg(&conf);
        if let Some(m) = launch(cmd, port) {
            return m;
        }
    }
    panic!("redis-sentinel did not start");
}

/// A vigil-sentinel YAML file watching `mymaster` at `master_port`.
pub fn yaml(dir: &Path, master_port: u16, quorum: u32) -> PathBuf {
    yaml_with(dir, master_port, quorum, "")
}

/// Like [`yaml`], with more top-level YAML lines.
pub fn yaml_with(dir: &Path, master_port: u16, quorum: u32, extra: &str) -> PathBuf {
    let path = dir.join("sentinel.yaml");
    std::fs::write(
        &path,
        format!("{extra}masters:\n  mymaster:\n    host: 127.0.0.1\n    port: {master_port}\n    quorum: {quorum}\n    down-after: 1s\n"),
    )
    .unwrap();
    path
}

/// Whether every monitor lists every replica (by port) and knows all the
/// other monitors: a deployment ready to fail over.
pub fn all_discovered(monitors: &[Monitor], replicas: &[u16]) -> bool {
    monitors.iter().all(|m| {
        let r = m.say("SENTINEL REPLICAS mymaster");
        let s = m.say("SENTINEL SENTINELS mymaster");
        replicas
            .iter()
            .all(|port| r.contains(&format!("127.0.0.1:{port}")))
            && s.matches("voted-leader-epoch").count() == monitors.len() - 1
    })
}

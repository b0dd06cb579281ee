//! `scripts/demo.sh` as a new user runs it: from a fresh directory laid out
//! like the repository (the script and `sentinel.yaml`, nothing else), with
//! its default data directory, the test binaries instead of a release build
//! (`VIGIL_BIN_DIR`), and ports moved with `--ports` to free ones. Only what
//! the script prints is used: its "ready" table, the `kill -9` line, the
//! restart command and the monitors' streamed events.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{master_port_from, node_say, wait_until, Raw, TempDir};

/// Where the test binaries are: the script's `VIGIL_BIN_DIR`.
fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_vigil-server"))
        .parent()
        .expect("the binaries' directory")
        .to_path_buf()
}

/// A fresh "clone": `scripts/demo.sh` and `sentinel.yaml` copied from the
/// repository.
fn fresh_clone(tag: &str) -> TempDir {
    let root = TempDir::new(tag);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(root.0.join("scripts")).unwrap();
    for file in ["scripts/demo.sh", "sentinel.yaml"] {
        std::fs::copy(repo.join(file), root.0.join(file)).expect("copy the demo's files");
    }
    root
}

/// A `--ports` base whose six ports (BASE..+2, BASE+20000..+2) are free.
/// Bases from 10000 keep every port below the kernel's ephemeral range,
/// where the other tests' `free_port()`s come from.
fn free_base() -> u16 {
    let seed = std::process::id() as u64 * 7919
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as u64;
    for n in 0..200u64 {
        let base = 10000 + ((seed + n * 37) % 2500) as u16;
        let all_free = ports(base)
            .iter()
            .all(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok());
        if all_free {
            return base;
        }
    }
    panic!("no free ports for the demo");
}

fn ports(base: u16) -> [u16; 6] {
    [
        base,
        base + 1,
        base + 2,
        base + 20000,
        base + 20001,
        base + 20002,
    ]
}

fn is_alive(pid: i32) -> bool {
    unsafe { libc::kill(pid, 0) == 0 }
}

/// One row of the script's table of what runs.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    role: String,
    port: u16,
    pid: i32,
}

/// A run of `scripts/demo.sh`. Dropping it stops the script and, in case
/// the script could not, every process it printed and its process group.
struct Demo {
    child: Child,
    out: Arc<Mutex<Vec<String>>>,
    /// The table, once ready.
    rows: Vec<Row>,
}

impl Demo {
    /// `scripts/demo.sh ARGS` from the root of `root`, output collected.
    fn spawn(root: &Path, args: &[String]) -> Demo {
        use std::os::unix::process::CommandExt;
        let mut child = Command::new("bash")
            .arg("scripts/demo.sh")
            .args(args)
            .current_dir(root)
            .env("VIGIL_BIN_DIR", bin_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own group: Drop can stop what it started even before it
            // printed their PIDs.
            .process_group(0)
            .spawn()
            .expect("run bash scripts/demo.sh");
        let out = Arc::new(Mutex::new(Vec::new()));
        let streams: [Box<dyn Read + Send>; 2] = [
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for stream in streams {
            let out = out.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    out.lock().unwrap().push(line);
                }
            });
        }
        Demo {
            child,
            out,
            rows: Vec::new(),
        }
    }

    /// Start the demo and wait for its "ready" output (the whole of it,
    /// up to the Ctrl-C hint).
    fn start(root: &Path, base: u16) -> Demo {
        let mut demo = Demo::spawn(root, &["--ports".into(), base.to_string()]);
        let ready = demo.wait_for(Duration::from_secs(60), |l| l.starts_with("Ctrl-C stops"));
        assert!(ready.is_some(), "not ready:\n{}", demo.transcript());
        demo.rows = demo
            .lines()
            .iter()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                match f.as_slice() {
                    [role @ ("master" | "replica" | "monitor"), port, pid, _dir, _log] => {
                        Some(Row {
                            role: role.to_string(),
                            port: port.parse().ok()?,
                            pid: pid.parse().ok()?,
                        })
                    }
                    _ => None,
                }
            })
            .collect();
        assert_eq!(demo.rows.len(), 6, "{}", demo.transcript());
        demo
    }

    fn lines(&self) -> Vec<String> {
        self.out.lock().unwrap().clone()
    }

    fn transcript(&self) -> String {
        self.lines().join("\n")
    }

    /// The first line matching `pred`, waiting up to `timeout`.
    fn wait_for(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        let mut found = None;
        wait_until(timeout, || {
            found = self.lines().into_iter().find(|l| pred(l));
            found.is_some()
        });
        found
    }

    fn row(&self, role: &str) -> Row {
        self.rows.iter().find(|r| r.role == role).unwrap().clone()
    }

    fn monitor_ports(&self) -> Vec<u16> {
        self.rows
            .iter()
            .filter(|r| r.role == "monitor")
            .map(|r| r.port)
            .collect()
    }

    /// The PID in the printed `kill -9 <pid>` line.
    fn kill_line_pid(&self) -> i32 {
        let line = self
            .wait_for(Duration::ZERO, |l| l.trim_start().starts_with("kill -9 "))
            .expect("a kill -9 line");
        line.trim().trim_start_matches("kill -9 ").parse().unwrap()
    }

    /// The printed command that restarts the master.
    fn restart_command(&self) -> Vec<String> {
        let server = bin_dir().join("vigil-server");
        let line = self
            .wait_for(Duration::ZERO, |l| {
                l.trim_start().starts_with(server.to_str().unwrap())
            })
            .expect("a restart command");
        line.split_whitespace().map(String::from).collect()
    }

    /// SIGINT, as Ctrl-C; the exit status within `timeout`.
    fn interrupt(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        common::signal_and_wait(&mut self.child, libc::SIGINT, timeout)
    }

    /// The printed PIDs still alive.
    fn survivors(&self) -> Vec<i32> {
        self.rows
            .iter()
            .map(|r| r.pid)
            .filter(|&p| is_alive(p))
            .collect()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("demo.sh printed:\n{}", self.transcript());
        }
        if matches!(self.child.try_wait(), Ok(None)) {
            // Its own cleanup first; then by force, by PID and by its group.
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
            wait_until(Duration::from_secs(15), || {
                matches!(self.child.try_wait(), Ok(Some(_)))
            });
            for pid in self.survivors() {
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process the test started from the script's printed command; killed on
/// drop.
struct Restarted(Child);

impl Drop for Restarted {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn demo_fails_over_then_restarts_on_its_data() {
    let root = fresh_clone("demo");
    let base = free_base();
    let [n1, n2, n3, m1, m2, m3] = ports(base);
    let mut demo = Demo::start(&root.0, base);

    // What runs: a master on BASE, replicas on BASE+1..2, monitors on
    // BASE+20000..2, in the default data directory.
    let roles: Vec<(String, u16)> = demo.rows.iter().map(|r| (r.role.clone(), r.port)).collect();
    let expected = [
        ("master", n1),
        ("replica", n2),
        ("replica", n3),
        ("monitor", m1),
        ("monitor", m2),
        ("monitor", m3),
    ];
    assert_eq!(
        roles,
        expected.map(|(r, p)| (r.to_string(), p)).to_vec(),
        "{}",
        demo.transcript()
    );
    let master = demo.row("master");
    assert_eq!(demo.kill_line_pid(), master.pid);
    let restart = demo.restart_command();
    assert!(
        restart.windows(2).any(|w| w == ["--port", &n1.to_string()]),
        "{restart:?}"
    );

    // The master answers, its replicas have what it takes, and every
    // monitor reports it.
    assert_eq!(node_say(n1, "PING"), "+PONG\r\n");
    assert_eq!(node_say(n1, "SET hello world"), "+OK\r\n");
    let mut c = Raw::connect(n1);
    assert_eq!(c.cmd_str("SET k before"), "+OK\r\n");
    assert_eq!(c.cmd_str("WAIT 2 5000"), ":2\r\n");
    for port in demo.monitor_ports() {
        assert_eq!(master_port_from(port), Some(n1), "monitor {port}");
        let addr = node_say(port, "SENTINEL GET-MASTER-ADDR-BY-NAME mymaster");
        assert!(addr.starts_with("*2\r\n$9\r\n127.0.0.1\r\n"), "{addr:?}");
    }
    assert!(
        demo.lines().iter().any(|l| l.starts_with("[monitor-1] ")),
        "the monitors' output is streamed, prefixed:\n{}",
        demo.transcript()
    );

    // Kill the master as the script says: the monitors fail over, and the
    // script's stream shows it.
    unsafe { libc::kill(master.pid, libc::SIGKILL) };
    let killed = Instant::now();
    let switch = demo
        .wait_for(Duration::from_secs(40), |l| {
            l.starts_with("[monitor-") && l.contains("+switch-master mymaster")
        })
        .unwrap_or_else(|| panic!("no +switch-master:\n{}", demo.transcript()));
    let new: u16 = switch
        .split_whitespace()
        .last()
        .and_then(|p| p.parse().ok())
        .expect("+switch-master ends with the new port");
    assert!(new == n2 || new == n3, "{switch}");
    eprintln!("+switch-master {:?} after the kill", killed.elapsed());
    assert!(
        wait_until(Duration::from_secs(15), || demo
            .monitor_ports()
            .iter()
            .all(|&m| master_port_from(m) == Some(new))),
        "{:?}",
        demo.monitor_ports()
            .iter()
            .map(|&m| master_port_from(m))
            .collect::<Vec<_>>()
    );
    assert!(demo
        .wait_for(Duration::from_secs(5), |l| l.starts_with(&format!(
            "[demo] the master on port {n1} (pid {})",
            master.pid
        )))
        .is_some());

    // Restart the old master with the printed command: the monitors turn
    // it into a replica of the new master.
    let old = Restarted(
        Command::new(&restart[0])
            .args(&restart[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the printed restart command"),
    );
    assert!(
        demo.wait_for(Duration::from_secs(40), |l| l.starts_with("[monitor-")
            && l.contains(&format!("+convert-to-slave slave 127.0.0.1:{n1} ")))
            .is_some(),
        "{}",
        demo.transcript()
    );
    assert!(wait_until(Duration::from_secs(15), || node_say(
        n1, "GET k"
    )
        == "$6\r\nbefore\r\n"
        && node_say(n1, "ROLE").contains("slave")));

    // Ctrl-C: exit 0, everything the script started gone, and only that:
    // the restarted old master is the user's.
    let status = demo.interrupt(Duration::from_secs(30));
    assert_eq!(
        status.map(|s| s.code()),
        Some(Some(0)),
        "{}",
        demo.transcript()
    );
    assert_eq!(demo.survivors(), Vec::<i32>::new());
    assert!(
        is_alive(old.0.id() as i32),
        "the script stopped the restarted old master"
    );
    drop(old);
    let data = root.0.join("demo-data");
    for file in [
        "demo.state",
        "node-1/node.log",
        "node-2/appendonlydir",
        "node-3/dump.rdb",
        "monitor-1/vigil-sentinel.state",
        "monitor-3/monitor.log",
    ] {
        assert!(data.join(file).exists(), "{file}");
    }

    // A second run restarts on the same data, with the new master as the
    // master, the monitors agreeing, and the writes kept.
    let mut again = Demo::start(&root.0, base);
    assert_eq!(again.row("master").port, new, "{}", again.transcript());
    for port in again.monitor_ports() {
        assert_eq!(master_port_from(port), Some(new), "monitor {port}");
    }
    assert_eq!(node_say(new, "GET hello"), "$5\r\nworld\r\n");
    assert!(wait_until(Duration::from_secs(10), || node_say(
        n1, "GET k"
    )
        == "$6\r\nbefore\r\n"));
    let status = again.interrupt(Duration::from_secs(30));
    assert_eq!(
        status.map(|s| s.code()),
        Some(Some(0)),
        "{}",
        again.transcript()
    );
    assert_eq!(again.survivors(), Vec::<i32>::new());
}

#[test]
fn demo_refuses_a_port_in_use_and_starts_nothing() {
    let root = fresh_clone("demo-busy");
    let base = free_base();
    let all = ports(base);
    let busy = all[4];
    let _taken = std::net::TcpListener::bind(("127.0.0.1", busy)).expect("take a monitor port");
    let mut demo = Demo::spawn(&root.0, &["--ports".into(), base.to_string()]);
    let exited = wait_until(Duration::from_secs(20), || {
        matches!(demo.child.try_wait(), Ok(Some(_)))
    });
    assert!(exited, "still running:\n{}", demo.transcript());
    let status = demo.child.wait().unwrap();
    // Both output threads have seen EOF once the script exited.
    wait_until(Duration::from_secs(5), || {
        demo.lines().iter().any(|l| l.contains("--ports"))
    });
    let out = demo.transcript();
    assert!(!status.success(), "{out}");
    assert!(
        out.contains(&format!(
            "port already in use on 127.0.0.1: {busy} (monitor-2)"
        )),
        "{out}"
    );
    assert!(out.contains("--ports BASE"), "{out}");
    // Nothing started, nothing written.
    for port in all.iter().filter(|&&p| p != busy) {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", *port)).is_err(),
            "something listens on {port}"
        );
    }
    assert!(!root.0.join("demo-data").exists());
}

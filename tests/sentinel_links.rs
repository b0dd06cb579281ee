//! The monitor's core and links watching real nodes in-process: two
//! monitors discover the replica (from INFO) and each other (from hellos
//! on the master's channel), and see the master go subjectively and
//! objectively down when it freezes, and come back. Run against real
//! redis-server 7.0 nodes and against Vigil nodes.

mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::{Kind, Server};
use vigil::sentinel::core::{Core, Event, Identity};
use vigil::sentinel::links::{Links, Observer};

/// Events a monitor published, in order.
type Events = Rc<RefCell<Vec<String>>>;

/// A monitor under test and what it published.
type Monitor = (Rc<Links>, Events);

struct Recorder(Events);

impl Observer for Recorder {
    fn event(&self, e: &Event) {
        self.0
            .borrow_mut()
            .push(format!("{} {}", e.name, e.payload));
    }
    fn persist(&self, _: &Core) -> bool {
        true
    }
    fn run_script(&self, _: Vec<String>) {}
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A monitor watching `mymaster` at `port` (down-after 1 s, quorum 1).
fn monitor(id: char, own_port: u16, port: u16) -> Monitor {
    let myid: String = std::iter::repeat_n(id, 40).collect();
    let mut core = Core::new(
        Identity {
            myid,
            port: own_port,
            announce_ip: None,
        },
        0,
    );
    core.monitor(unix_ms(), "mymaster", "127.0.0.1", port, 1, 1000, 60_000, 1);
    let events = Rc::new(RefCell::new(Vec::new()));
    let links = Links::new(core, Box::new(Recorder(events.clone())), Box::new(unix_ms));
    (links, events)
}

/// Tick both monitors every 100 ms until `done` holds for both, or 15 s.
async fn run_until(monitors: &[Monitor], done: impl Fn(&[String]) -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        for (links, _) in monitors {
            links.tick();
        }
        if monitors.iter().all(|(_, e)| done(&e.borrow())) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn has(events: &[String], prefix: &str) -> bool {
    events.iter().any(|e| e.starts_with(prefix))
}

fn watch_real_nodes(kind: Kind) {
    let master = Server::start(kind, &[]);
    let replica = Server::start(
        kind,
        &["--replicaof", "127.0.0.1", &master.port.to_string()],
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        // The monitors' own ports are never listened on here: each learns
        // the other from hellos only.
        let monitors = [
            monitor('a', 26901, master.port),
            monitor('b', 26902, master.port),
        ];
        let replica_added = format!("+slave slave 127.0.0.1:{} ", replica.port);
        let found = run_until(&monitors, |e| {
            has(e, &replica_added) && has(e, "+sentinel sentinel ")
        })
        .await;
        let dump = |m: &Monitor| m.1.borrow().join("\n");
        assert!(
            found,
            "a:\n{}\nb:\n{}",
            dump(&monitors[0]),
            dump(&monitors[1])
        );
        for (n, (_, e)) in monitors.iter().enumerate() {
            let other = if n == 0 { 'b' } else { 'a' };
            let peer: String = std::iter::repeat_n(other, 40).collect();
            assert!(has(
                &e.borrow(),
                &format!("+sentinel sentinel {peer} 127.0.0.1 2690")
            ));
            assert!(!has(&e.borrow(), "+sdown"), "{}", e.borrow().join("\n"));
        }

        // The master freezes: down after 1 s without a valid reply.
        master.signal(libc::SIGSTOP);
        let frozen = Instant::now();
        let master_down = format!(
            "+odown master mymaster 127.0.0.1 {} #quorum 1/1",
            master.port
        );
        assert!(run_until(&monitors, |e| has(e, &master_down)).await);
        let took = frozen.elapsed();
        assert!(
            took < Duration::from_millis(3000),
            "ODOWN took {took:?} with down-after 1s"
        );
        master.signal(libc::SIGCONT);
        let back = format!("-sdown master mymaster 127.0.0.1 {}", master.port);
        assert!(run_until(&monitors, |e| has(e, &back)).await);
    });
}

#[test]
fn monitors_watch_redis_nodes() {
    watch_real_nodes(Kind::Redis);
}

#[test]
fn monitors_watch_vigil_nodes() {
    watch_real_nodes(Kind::Vigil);
}

//! Replication through real processes: full synchronisation (disk and
//! diskless payloads), the command stream, partial resynchronisation after
//! a cut link, chained replicas, promotion with PSYNC2, faults in the middle
//! of a transfer, what a replica refuses, WAIT and min-replicas, and
//! `redis-cli --rdb`.
//!
//! Every scenario is a function taking the kind of each node; the tests run
//! it with Vigil on at least one side: Vigil to Vigil, and against a real
//! redis-server 7.0 in both directions. Datasets are compared with
//! `DEBUG DIGEST` plus every database's DBSIZE.
//!
//! `REPL_TESTS_ALL_REDIS=1` turns every Vigil node into a redis-server: that
//! is how the scenarios themselves are checked against the reference
//! (`REPL_TESTS_ALL_REDIS=1 cargo test --test replication` must pass).

mod common;

use std::io::{BufRead, Read};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{cmd, show, wait_until, Kind, Raw, Reply, Server, TempDir};

/// The kind of a node that is meant to be Vigil (real Redis when
/// `REPL_TESTS_ALL_REDIS=1`, to validate the scenarios).
fn vigil() -> Kind {
    match std::env::var("REPL_TESTS_ALL_REDIS") {
        Ok(v) if v == "1" => Kind::Redis,
        _ => Kind::Vigil,
    }
}

/// How long a replica may take to (re)connect, sync and catch up. A real
/// replica retries once per second, so the common case is well under this.
const SYNC_DEADLINE: Duration = Duration::from_secs(30);

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

// ---------------------------------------------------------------------------
// Nodes, INFO, datasets

/// One `INFO` section as `name:value` pairs, in order.
struct Info(Vec<(String, String)>);

impl Info {
    fn parse(text: &str) -> Info {
        Info(
            text.lines()
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn opt(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn get(&self, name: &str) -> &str {
        self.opt(name)
            .unwrap_or_else(|| panic!("INFO has no {name}: {:?}", self.0))
    }

    fn int(&self, name: &str) -> i64 {
        self.get(name)
            .parse()
            .unwrap_or_else(|_| panic!("{name} is not an integer: {:?}", self.0))
    }

    /// The field names in order; a `slaveN` line also lists its `key=`
    /// names (`slave0:ip,port,state,offset,lag`).
    fn names(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|(k, v)| {
                let numbered = k.strip_prefix("slave").filter(|n| !n.is_empty());
                if numbered.is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())) {
                    let keys: Vec<&str> = v
                        .split(',')
                        .filter_map(|kv| kv.split_once('='))
                        .map(|(k, _)| k)
                        .collect();
                    format!("{k}:{}", keys.join(","))
                } else {
                    k.clone()
                }
            })
            .collect()
    }
}

/// What two nodes must agree on: the digest and each database's size.
#[derive(Debug, Clone, PartialEq)]
struct Dataset {
    digest: String,
    sizes: Vec<i64>,
}

/// A server and one connection to it for the test's own commands.
struct Node {
    server: Server,
    c: Raw,
}

impl Node {
    /// Start a node; diskless transfers start at once (no 5 s gathering).
    fn start(kind: Kind, args: &[&str]) -> Node {
        let mut all = vec!["--repl-diskless-sync-delay", "0"];
        all.extend_from_slice(args);
        let server = Server::start(kind, &all);
        let c = server.raw().patient(Duration::from_secs(60));
        Node { server, c }
    }

    fn port(&self) -> u16 {
        self.server.port
    }

    fn cmd(&mut self, line: &str) -> Reply {
        cmd(&mut self.c, line)
    }

    fn ok(&mut self, line: &str) {
        let reply = self.cmd(line);
        assert!(
            reply == Reply::Line(b"+OK".to_vec()),
            "{line}: {}",
            reply.shape()
        );
    }

    /// The raw reply, as text (readable in assertion messages).
    fn say(&mut self, line: &str) -> String {
        self.c.cmd_str(line)
    }

    fn int(&mut self, line: &str) -> i64 {
        match self.cmd(line) {
            Reply::Int(n) => n,
            other => panic!("{line}: {}", other.shape()),
        }
    }

    fn info(&mut self, section: &str) -> Info {
        let text = self.cmd(&format!("INFO {section}")).bulk();
        Info::parse(&String::from_utf8(text).expect("INFO is text"))
    }

    /// A field of `INFO replication`.
    fn repl(&mut self, name: &str) -> String {
        self.info("replication").get(name).to_string()
    }

    /// A counter of `INFO stats` (`sync_full`, `sync_partial_ok`, ...).
    fn stat(&mut self, name: &str) -> i64 {
        self.info("stats").int(name)
    }

    fn replicaof(&mut self, master: &Node) {
        self.ok(&format!("REPLICAOF 127.0.0.1 {}", master.port()));
    }

    fn link_up(&mut self) -> bool {
        self.repl("master_link_status") == "up"
    }

    fn wait_link_up(&mut self) {
        assert!(
            wait_until(SYNC_DEADLINE, || self.link_up()),
            "link never came up: {:?}",
            self.info("replication").0
        );
    }

    fn digest(&mut self) -> String {
        match self.cmd("DEBUG DIGEST") {
            Reply::Line(l) => String::from_utf8_lossy(&l[1..]).into_owned(),
            other => panic!("DEBUG DIGEST: {}", other.shape()),
        }
    }

    fn dataset(&mut self) -> Dataset {
        let digest = self.digest();
        let sizes = (0..16)
            .map(|db| {
                self.ok(&format!("SELECT {db}"));
                self.int("DBSIZE")
            })
            .collect();
        self.ok("SELECT 0");
        Dataset { digest, sizes }
    }

    /// Kill the process outright.
    fn kill(&mut self) {
        assert!(
            self.server
                .signal_and_wait(libc::SIGKILL, Duration::from_secs(10))
                .is_some(),
            "SIGKILL did not end the process"
        );
    }
}

/// Wait until every replica's link is up, it has applied the master's whole
/// stream (same `master_repl_offset`) and holds the same data. All three are
/// checked together, in one poll, because the master may still be expiring
/// keys. Returns the common dataset.
fn converge(master: &mut Node, replicas: &mut [&mut Node]) -> Dataset {
    let mut last = String::new();
    let mut common = None;
    let done = wait_until(SYNC_DEADLINE, || {
        let offset = master.repl("master_repl_offset");
        let want = master.dataset();
        for (i, r) in replicas.iter_mut().enumerate() {
            let info = r.info("replication");
            let (link, roff) = (
                info.get("master_link_status"),
                info.get("master_repl_offset"),
            );
            if link != "up" || roff != offset {
                last = format!("replica {i}: link {link}, offset {roff} vs master {offset}");
                return false;
            }
            // Only now: a replica that refuses stale reads would not answer.
            let got = r.dataset();
            if got != want {
                last = format!("replica {i}: data {got:?} vs master {want:?}");
                return false;
            }
        }
        common = Some(want);
        true
    });
    assert!(done, "replicas did not converge: {last}");
    common.unwrap()
}

// ---------------------------------------------------------------------------
// Write load from another thread

/// Rounds of commands sent to a node from a thread until stopped. Any error
/// reply (outside EXEC) fails the test when the writer is stopped.
struct Writer {
    stop: Arc<AtomicBool>,
    rounds: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    fn start(port: u16, round: fn(u64) -> Vec<String>) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let rounds = Arc::new(AtomicU64::new(0));
        let (s, r) = (stop.clone(), rounds.clone());
        let thread = std::thread::spawn(move || {
            let mut c = Raw::connect(port);
            let mut i = 0;
            while !s.load(Ordering::Relaxed) {
                for line in round(i) {
                    let reply = cmd(&mut c, &line);
                    if let Reply::Line(l) = &reply {
                        assert!(!l.starts_with(b"-"), "{line}: {}", show(l));
                    }
                }
                i += 1;
                r.store(i, Ordering::Relaxed);
                // Leave some CPU to the servers (this is load, not timing).
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        Writer {
            stop,
            rounds,
            thread: Some(thread),
        }
    }

    fn rounds(&self) -> u64 {
        self.rounds.load(Ordering::Relaxed)
    }

    /// Wait until `more` further rounds have been acknowledged.
    fn advance(&self, more: u64) {
        let target = self.rounds() + more;
        let done = wait_until(SYNC_DEADLINE, || {
            self.rounds() >= target || self.thread.as_ref().is_some_and(|t| t.is_finished())
        });
        assert!(done, "writer stalled at round {}", self.rounds());
    }

    /// Stop and return the number of rounds done; a failed writer fails the
    /// test here.
    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Err(panic) = self.thread.take().unwrap().join() {
            std::panic::resume_unwind(panic);
        }
        self.rounds()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A few plain writes per round.
fn simple_round(i: u64) -> Vec<String> {
    vec![
        format!("SET key:{i} {i}"),
        "INCR counter".into(),
        format!("RPUSH log {i}"),
    ]
}

/// Every data type and the commands whose propagation is rewritten (relative
/// expiries, SPOP, INCRBYFLOAT, MULTI/EXEC, SELECT, FLUSHDB, RENAME).
fn mixed_round(i: u64) -> Vec<String> {
    let mut v = vec![
        // strings
        format!("SET str:{i} v{i} EX 1000"),
        "INCR counter".into(),
        format!("APPEND log x{i}"),
        format!("SETRANGE range {} abc", i % 40),
        format!("EXPIRE str:{} 500", i / 2),
        format!("SET brief:{} v PX 40", i % 50),
        "INCRBYFLOAT float 0.1".into(),
        // lists
        format!("RPUSH list {i} item{i}"),
        format!("LPUSH list2 {i}"),
        // hashes
        format!("HSET hash f{} {i}", i % 20),
        "HINCRBY hash hits 1".into(),
        // sets: small integers stay an intset
        format!("SADD ints {}", i % 100),
        format!("SADD words w{}", i % 30),
        format!("SREM words w{}", (i + 7) % 30),
        // sorted sets
        format!("ZADD zset {} m{}", i as f64 * 1.5, i % 40),
        format!("ZINCRBY zset 2 m{}", i % 7),
        // a transaction
        "MULTI".into(),
        format!("INCR tx:{}", i % 5),
        format!("LPUSH txlist {i}"),
        format!("HSET txhash f{} {i}", i % 9),
        "EXEC".into(),
        // other databases
        "SELECT 1".into(),
        format!("SET db1:{} {i}", i % 10),
        format!("HSET db1hash f{} v{i}", i % 15),
        "SELECT 2".into(),
        format!("SADD db2set {i}"),
        "SELECT 3".into(),
        format!("SET db3:{i} v EX 100"),
        "SELECT 0".into(),
        // deletes and renames
        format!("SET ren:{i} v{i}"),
        format!("RENAME ren:{i} renamed:{}", i % 3),
    ];
    if i >= 5 {
        v.push(format!("DEL str:{}", i - 5));
    }
    if i.is_multiple_of(3) {
        v.push("LPOP list".into());
        v.push("LMOVE list list2 LEFT RIGHT".into());
    }
    if i.is_multiple_of(4) {
        v.push(format!("HDEL hash f{}", (i / 4) % 20));
        v.push(format!("GETDEL renamed:{}", (i + 1) % 3));
    }
    if i.is_multiple_of(5) {
        v.push(format!("ZREM zset m{}", (i / 5) % 40));
    }
    if i.is_multiple_of(7) {
        v.push("SPOP ints".into());
    }
    if i.is_multiple_of(10) {
        v.push("LTRIM list 0 99".into());
    }
    if i % 10 == 9 {
        v.extend(["SELECT 2".into(), "FLUSHDB".into(), "SELECT 0".into()]);
    }
    v
}

/// A starting dataset of every type, in two databases.
fn fill(n: &mut Node) {
    n.cmd("DEBUG POPULATE 2000 pop 32");
    n.ok("SET plain hello");
    n.ok("SET ttl v EX 1000");
    n.cmd("RPUSH l a b c 1 2 3");
    n.cmd("HSET h a 1 b 2");
    n.cmd("SADD iset 1 2 3");
    n.cmd("SADD sset x y z");
    n.cmd("ZADD z 1 a 2 b 3.5 c");
    n.ok("SELECT 5");
    n.ok("SET in5 v");
    n.ok("SELECT 0");
}

// ---------------------------------------------------------------------------
// 1. Full sync, streaming, partial resync, chaining

/// Full sync replaces the replica's own data; writes then stream; a link cut
/// from either end while writes go on is repaired by a partial resync; and a
/// replica of the replica ends identical to it, with the same replication
/// id and offset.
fn full_then_partial_then_chained(master: Kind, replica: Kind, diskless: bool) {
    let mut m = Node::start(master, &["--repl-diskless-sync", yes_no(diskless)]);
    fill(&mut m);
    let mut r = Node::start(replica, &[]);
    r.ok("SET replica-only 1");

    // Full synchronisation.
    r.replicaof(&m);
    converge(&mut m, &mut [&mut r]);
    assert_eq!(
        r.int("EXISTS replica-only"),
        0,
        "full sync keeps no old key"
    );
    assert_eq!(m.stat("sync_full"), 1);
    assert_eq!(m.repl("connected_slaves"), "1");
    assert_eq!(r.repl("master_replid"), m.repl("master_replid"));

    // The stream.
    for i in 0..100 {
        m.ok(&format!("SET after:{i} {i}"));
    }
    m.cmd("DEL plain");
    m.cmd("SADD iset 4");
    let data = converge(&mut m, &mut [&mut r]);
    assert!(data.sizes[0] > 2000 && data.sizes[5] == 1, "{data:?}");

    // Cut the link from each end while writes continue: partial resyncs.
    let writer = Writer::start(m.port(), simple_round);
    writer.advance(20);
    let partial = m.stat("sync_partial_ok");
    assert_eq!(r.say("CLIENT KILL TYPE master"), ":1\r\n");
    assert!(
        wait_until(SYNC_DEADLINE, || m.stat("sync_partial_ok") == partial + 1),
        "no partial resync after the replica dropped its master link"
    );
    r.wait_link_up();
    writer.advance(20);
    assert_eq!(m.say("CLIENT KILL TYPE replica"), ":1\r\n");
    assert!(
        wait_until(SYNC_DEADLINE, || m.stat("sync_partial_ok") == partial + 2),
        "no partial resync after the master dropped the replica"
    );
    r.wait_link_up();
    writer.advance(20);
    writer.stop();
    converge(&mut m, &mut [&mut r]);
    assert_eq!(
        m.stat("sync_full"),
        1,
        "a cut link must not cost a full sync"
    );

    // A replica of the replica, attached while writes go on.
    let mut r2 = Node::start(replica, &[]);
    let writer = Writer::start(m.port(), simple_round);
    writer.advance(10);
    r2.replicaof(&r);
    r2.wait_link_up();
    writer.advance(20);
    writer.stop();
    converge(&mut m, &mut [&mut r, &mut r2]);
    for name in ["master_replid", "master_repl_offset"] {
        assert_eq!(r2.repl(name), r.repl(name), "{name}");
        assert_eq!(r.repl(name), m.repl(name), "{name}");
    }
    assert_eq!(r.repl("connected_slaves"), "1");
    assert_eq!(m.stat("sync_full"), 1);
}

#[test]
fn vigil_replica_syncs_from_disk_resyncs_partially_and_chains() {
    full_then_partial_then_chained(vigil(), vigil(), false);
}

#[test]
fn vigil_replica_syncs_diskless_resyncs_partially_and_chains() {
    full_then_partial_then_chained(vigil(), vigil(), true);
}

#[test]
fn vigil_replica_of_redis_syncs_resyncs_partially_and_chains() {
    full_then_partial_then_chained(Kind::Redis, vigil(), true);
}

#[test]
fn redis_replica_of_vigil_syncs_resyncs_partially_and_chains() {
    full_then_partial_then_chained(vigil(), Kind::Redis, false);
}

// ---------------------------------------------------------------------------
// 2. Every data type, writes during the initial sync

/// A replica attached while a mixed write load runs (so writes land before,
/// during and after the snapshot) ends with the master's exact data,
/// including absolute expiry times and a key the master expired meanwhile.
fn mixed_load_converges(master: Kind, replica: Kind) {
    let mut m = Node::start(master, &[]);
    m.cmd("DEBUG POPULATE 20000 base 64");
    m.ok("SET soon v PX 300");
    let mut r = Node::start(replica, &[]);
    let writer = Writer::start(m.port(), mixed_round);
    writer.advance(20);
    r.replicaof(&m);
    r.wait_link_up();
    writer.advance(100);
    let rounds = writer.stop();

    // `soon` expires on the master, which must tell the replica.
    assert!(wait_until(Duration::from_secs(5), || m.int("EXISTS soon") == 0));
    let data = converge(&mut m, &mut [&mut r]);
    assert_eq!(r.int("EXISTS soon"), 0);
    assert!(data.sizes[0] > 20000, "{data:?}");
    assert!(data.sizes[1] > 0 && data.sizes[3] > 0, "{data:?}");
    // Relative expiries reach the replica as the master's absolute times.
    for (db, key) in [(0, "str"), (3, "db3")] {
        let line = format!("PEXPIRETIME {key}:{}", rounds - 1);
        m.ok(&format!("SELECT {db}"));
        r.ok(&format!("SELECT {db}"));
        assert_eq!(m.cmd(&line), r.cmd(&line), "{line}");
    }
    m.ok("SELECT 0");
    r.ok("SELECT 0");
    assert_eq!(m.cmd("LRANGE list 0 -1"), r.cmd("LRANGE list 0 -1"));
    assert_eq!(m.cmd("GET float"), r.cmd("GET float"));
}

#[test]
fn mixed_load_converges_vigil_to_vigil() {
    mixed_load_converges(vigil(), vigil());
}

#[test]
fn mixed_load_converges_redis_master_to_vigil_replica() {
    mixed_load_converges(Kind::Redis, vigil());
}

#[test]
fn mixed_load_converges_vigil_master_to_redis_replica() {
    mixed_load_converges(vigil(), Kind::Redis);
}

// ---------------------------------------------------------------------------
// 3. Promotion

/// The master dies; replica A is promoted and keeps the old history as its
/// second id; replica B repointed to A continues with a partial resync.
fn promoted_replica_serves_a_partial_resync(m_kind: Kind, a_kind: Kind, b_kind: Kind) {
    let mut m = Node::start(m_kind, &[]);
    fill(&mut m);
    let mut a = Node::start(a_kind, &[]);
    let mut b = Node::start(b_kind, &[]);
    a.replicaof(&m);
    b.replicaof(&m);
    for i in 0..50 {
        m.ok(&format!("SET before:{i} {i}"));
    }
    converge(&mut m, &mut [&mut a, &mut b]);
    let old_id = m.repl("master_replid");
    let old_offset: i64 = m.repl("master_repl_offset").parse().unwrap();
    m.kill();
    assert!(wait_until(SYNC_DEADLINE, || !a.link_up() && !b.link_up()));

    a.ok("REPLICAOF NO ONE");
    let info = a.info("replication");
    assert_eq!(info.get("role"), "master");
    assert_eq!(info.get("master_replid2"), old_id);
    assert_eq!(info.int("second_repl_offset"), old_offset + 1);
    assert_eq!(info.int("master_repl_offset"), old_offset);
    assert_ne!(info.get("master_replid"), old_id);
    let new_id = info.get("master_replid").to_string();

    b.replicaof(&a);
    b.wait_link_up();
    assert!(wait_until(SYNC_DEADLINE, || a.stat("sync_partial_ok") == 1));
    assert_eq!(
        a.stat("sync_full"),
        0,
        "the repointed replica needed a full sync"
    );
    converge(&mut a, &mut [&mut b]);
    for i in 0..50 {
        a.ok(&format!("SET after:{i} {i}"));
    }
    a.cmd("DEL before:0");
    converge(&mut a, &mut [&mut b]);
    let info = b.info("replication");
    assert_eq!(info.get("master_replid"), new_id);
    assert_eq!(info.get("master_replid2"), old_id);
    assert_eq!(info.int("second_repl_offset"), old_offset + 1);
    assert_eq!(a.stat("sync_full"), 0);
}

#[test]
fn promoted_vigil_serves_a_partial_resync_to_vigil() {
    promoted_replica_serves_a_partial_resync(vigil(), vigil(), vigil());
}

#[test]
fn promoted_vigil_serves_a_partial_resync_to_redis() {
    promoted_replica_serves_a_partial_resync(Kind::Redis, vigil(), Kind::Redis);
}

#[test]
fn vigil_resyncs_partially_with_a_promoted_redis() {
    promoted_replica_serves_a_partial_resync(vigil(), Kind::Redis, vigil());
}

/// `REPLICAOF NO ONE` while the master still runs: the promoted replica
/// drops its link at once, so nothing the old master accepts afterwards
/// (a partitioned old master, say) reaches the new master's data.
fn promotion_cuts_a_live_master(m_kind: Kind, a_kind: Kind) {
    let mut m = Node::start(m_kind, &[]);
    let mut a = Node::start(a_kind, &[]);
    let mut b = Node::start(m_kind, &[]);
    a.replicaof(&m);
    b.replicaof(&m);
    m.ok("SET before 1");
    converge(&mut m, &mut [&mut a, &mut b]);
    let offset = a.repl("master_repl_offset");

    a.ok("REPLICAOF NO ONE");
    assert!(
        wait_until(SYNC_DEADLINE, || m.repl("connected_slaves") == "1"),
        "the old master still counts the promoted replica"
    );
    m.ok("SET late 1");
    // `b` has it, so it was sent down every link the old master has.
    assert!(wait_until(SYNC_DEADLINE, || b.say("GET late") == "$1\r\n1\r\n"));
    assert_eq!(
        a.say("GET late"),
        "$-1\r\n",
        "the promoted replica applied a write of its old master"
    );
    assert_eq!(a.repl("master_repl_offset"), offset);
    assert_eq!(a.say("GET before"), "$1\r\n1\r\n");
}

#[test]
fn a_promoted_vigil_replica_leaves_its_live_master() {
    promotion_cuts_a_live_master(vigil(), vigil());
}

#[test]
fn a_promoted_vigil_replica_leaves_its_live_redis_master() {
    promotion_cuts_a_live_master(Kind::Redis, vigil());
}

#[test]
fn a_promoted_redis_replica_leaves_its_live_master() {
    // The same test holds for Redis itself.
    promotion_cuts_a_live_master(Kind::Redis, Kind::Redis);
}

/// FAILOVER TO a: writes pause, `a` catches up and takes over, `m` becomes
/// its replica with a partial resync, `b` keeps replicating through `m`,
/// and every write `m` acknowledged before the switch is on `a`.
fn coordinated_failover(m_kind: Kind, a_kind: Kind, b_kind: Kind) {
    let mut m = Node::start(m_kind, &[]);
    fill(&mut m);
    let mut a = Node::start(a_kind, &[]);
    let mut b = Node::start(b_kind, &[]);
    a.replicaof(&m);
    b.replicaof(&m);
    converge(&mut m, &mut [&mut a, &mut b]);

    // A client increments a counter until the old master refuses writes;
    // the last value it got back is the last acknowledged write.
    let port = m.port();
    let writer = std::thread::spawn(move || {
        let mut c = Raw::connect(port).patient(Duration::from_secs(30));
        let mut acked = 0;
        loop {
            let reply = c.cmd_str("INCR counter");
            match reply.strip_prefix(':') {
                Some(n) => acked = n.trim().parse::<i64>().unwrap(),
                None => {
                    assert!(reply.starts_with("-READONLY"), "{reply:?}");
                    return acked;
                }
            }
        }
    });
    assert!(wait_until(SYNC_DEADLINE, || {
        m.int("EXISTS counter") == 1
    }));
    m.ok(&format!("FAILOVER TO 127.0.0.1 {}", a.port()));
    let acked = writer.join().unwrap();
    assert!(acked > 0);
    assert!(wait_until(SYNC_DEADLINE, || a.repl("role") == "master"
        && m.link_up()
        && m.repl("master_failover_state") == "no-failover"));
    assert_eq!(m.repl("master_port"), a.port().to_string());
    assert_eq!(a.stat("sync_partial_ok"), 1);
    assert_eq!(a.stat("sync_full"), 0, "the old master needed a full sync");
    assert_eq!(
        a.say("GET counter"),
        format!("${}\r\n{acked}\r\n", acked.to_string().len()),
        "an acknowledged write is missing, or one that was refused is there"
    );
    a.ok("SET after failover");
    converge(&mut a, &mut [&mut m]);
    converge(&mut m, &mut [&mut b]);
    assert_eq!(b.say("GET after"), "$8\r\nfailover\r\n");
}

#[test]
fn vigil_master_fails_over_to_a_vigil_replica() {
    coordinated_failover(vigil(), vigil(), vigil());
}

#[test]
fn vigil_master_fails_over_to_a_redis_replica() {
    coordinated_failover(vigil(), Kind::Redis, vigil());
}

#[test]
fn redis_master_fails_over_to_a_vigil_replica() {
    coordinated_failover(Kind::Redis, vigil(), Kind::Redis);
}

/// FAILOVER's refusals, and a timeout while the target cannot catch up:
/// the master aborts and takes writes again.
fn failover_refusals_and_timeout(m_kind: Kind, a_kind: Kind) {
    let mut m = Node::start(m_kind, &[]);
    assert_eq!(
        m.say("FAILOVER"),
        "-ERR FAILOVER requires connected replicas.\r\n"
    );
    assert_eq!(m.say("FAILOVER ABORT"), "-ERR No failover in progress.\r\n");
    assert_eq!(
        m.say("FAILOVER TIMEOUT 0"),
        "-ERR FAILOVER timeout must be greater than 0\r\n"
    );
    assert_eq!(m.say("FAILOVER TO 127.0.0.1"), "-ERR syntax error\r\n");
    let mut a = Node::start(a_kind, &[]);
    a.replicaof(&m);
    converge(&mut m, &mut [&mut a]);
    assert_eq!(
        a.say("FAILOVER"),
        "-ERR FAILOVER is not valid when server is a replica.\r\n"
    );
    assert_eq!(
        m.say("FAILOVER FORCE"),
        "-ERR FAILOVER with force option requires both a timeout and target HOST and IP.\r\n"
    );
    assert_eq!(
        m.say("FAILOVER TO 127.0.0.1 1"),
        "-ERR FAILOVER target HOST and PORT is not a replica.\r\n"
    );

    // The target is frozen with a write it has not acknowledged.
    a.server.signal(libc::SIGSTOP);
    m.ok("SET pending 1");
    let started = Instant::now();
    m.ok(&format!("FAILOVER TO 127.0.0.1 {} TIMEOUT 500", a.port()));
    assert_eq!(m.repl("master_failover_state"), "waiting-for-sync");
    assert_eq!(
        m.say("REPLICAOF NO ONE"),
        "-ERR REPLICAOF not allowed while failing over.\r\n"
    );
    assert_eq!(m.say("FAILOVER"), "-ERR FAILOVER already in progress.\r\n");
    // Writes wait meanwhile, and go through once it is aborted.
    assert_eq!(m.say("SET during 1"), "+OK\r\n");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(m.repl("master_failover_state"), "no-failover");
    assert_eq!(m.repl("role"), "master");
    a.server.signal(libc::SIGCONT);
    converge(&mut m, &mut [&mut a]);
}

#[test]
fn vigil_failover_refusals_and_timeout() {
    failover_refusals_and_timeout(vigil(), vigil());
}

/// Stop a node with `SHUTDOWN SAVE`: its snapshot records where it stood
/// in the replication history.
fn shutdown_saving(mut n: Node) {
    n.c.send(b"SHUTDOWN SAVE\r\n");
    assert!(n.c.is_closed(Duration::from_secs(10)));
    assert!(wait_until(Duration::from_secs(10), || !n
        .server
        .is_running()));
}

/// PSYNC2 across restarts: a replica restarted from its snapshot, and then
/// a master restarted from its own, each continue with a partial resync.
fn restarts_resume_the_history(kind: Kind) {
    let (m_dir, r_dir) = (TempDir::new("repl-m"), TempDir::new("repl-r"));
    let m_dir_s = m_dir.0.to_str().unwrap().to_string();
    let r_dir_s = r_dir.0.to_str().unwrap().to_string();
    let mut m = Node::start(kind, &["--dir", &m_dir_s]);
    fill(&mut m);
    let r = Node::start(kind, &["--dir", &r_dir_s]);
    let mut r = r;
    r.replicaof(&m);
    converge(&mut m, &mut [&mut r]);
    assert_eq!(m.stat("sync_full"), 1);

    shutdown_saving(r);
    m.ok("SET missed-by-the-replica 1");
    let port = m.port().to_string();
    let mut r = Node::start(
        kind,
        &["--dir", &r_dir_s, "--replicaof", "127.0.0.1", &port],
    );
    r.wait_link_up();
    converge(&mut m, &mut [&mut r]);
    assert_eq!(
        m.stat("sync_partial_ok"),
        1,
        "the restarted replica resynced fully"
    );
    assert_eq!(m.stat("sync_full"), 1);
    assert_eq!(r.say("GET missed-by-the-replica"), "$1\r\n1\r\n");

    shutdown_saving(m);
    let mut m = Node::start(kind, &["--dir", &m_dir_s]);
    r.replicaof(&m);
    r.wait_link_up();
    assert_eq!(
        m.stat("sync_full"),
        0,
        "the restarted master needed a full sync"
    );
    assert_eq!(m.stat("sync_partial_ok"), 1);
    m.ok("SET after-restart 1");
    converge(&mut m, &mut [&mut r]);
}

#[test]
fn vigil_nodes_resume_the_history_after_restarts() {
    restarts_resume_the_history(vigil());
}

// ---------------------------------------------------------------------------
// 4. Faults

/// A master big enough that a full sync takes a noticeable time (values are
/// zero-padded, so compression is off to keep the payload large).
fn big_master(kind: Kind, diskless: bool) -> Node {
    let mut m = Node::start(
        kind,
        &[
            "--repl-diskless-sync",
            yes_no(diskless),
            "--rdbcompression",
            "no",
        ],
    );
    m.ok("DEBUG POPULATE 300000 big 200");
    m
}

/// The master is frozen in the middle of sending a big snapshot, then
/// SIGKILLed: the replica keeps serving its old data, says the link is down,
/// and never applies part of the snapshot.
fn master_killed_mid_full_sync(master: Kind, replica: Kind, diskless: bool) {
    // On a fast machine the whole payload can arrive between two polls;
    // such a run proves nothing, so it is tried again on fresh nodes.
    for _ in 0..5 {
        if master_killed_mid_full_sync_once(master, replica, diskless) {
            return;
        }
    }
    panic!("the payload always arrived whole before the master could be stopped");
}

/// One try of [`master_killed_mid_full_sync`]; false if the transfer could
/// not be caught in the middle.
fn master_killed_mid_full_sync_once(master: Kind, replica: Kind, diskless: bool) -> bool {
    let mut m = big_master(master, diskless);
    let mut r = Node::start(
        replica,
        &["--replica-serve-stale-data", "yes", "--repl-timeout", "5"],
    );
    r.cmd("DEBUG POPULATE 1000 old 10");
    r.ok("SET old v");
    let before = r.dataset();

    r.replicaof(&m);
    let receiving = |r: &mut Node| {
        let info = r.info("replication");
        info.get("master_sync_in_progress") == "1"
            && info
                .opt("master_sync_read_bytes")
                .is_some_and(|n| n.parse::<i64>().unwrap() > 0)
    };
    assert!(
        wait_until(SYNC_DEADLINE, || receiving(&mut r)),
        "the transfer never started"
    );
    // The whole master freezes, including a child writing the snapshot
    // (Vigil's diskless transfer is written by the forked child itself).
    m.server.signal_tree(libc::SIGSTOP);

    // The snapshot is cut in the middle, and the replica serves meanwhile.
    let info = r.info("replication");
    assert_eq!(info.get("master_link_status"), "down");
    if !receiving(&mut r) {
        m.kill();
        return false;
    }
    if !diskless && info.int("master_sync_read_bytes") >= info.int("master_sync_total_bytes") {
        m.kill();
        return false;
    }
    assert_eq!(r.info("persistence").get("loading"), "0");
    assert_eq!(r.say("GET old"), "$1\r\nv\r\n");

    m.kill();
    let gave_up = wait_until(Duration::from_secs(15), || {
        let info = r.info("replication");
        info.get("master_link_status") == "down" && info.get("master_sync_in_progress") == "0"
    });
    assert!(gave_up, "{:?}", r.info("replication").0);
    assert_eq!(
        r.dataset(),
        before,
        "the replica applied part of a snapshot"
    );
    assert_eq!(r.say("GET old"), "$1\r\nv\r\n");
    let role = r.say("ROLE");
    assert!(!role.contains("connected"), "{role:?}");
    true
}

#[test]
fn vigil_replica_keeps_old_data_when_a_redis_master_dies_mid_disk_sync() {
    master_killed_mid_full_sync(Kind::Redis, vigil(), false);
}

#[test]
fn vigil_replica_keeps_old_data_when_a_redis_master_dies_mid_diskless_sync() {
    master_killed_mid_full_sync(Kind::Redis, vigil(), true);
}

#[test]
fn vigil_replica_keeps_old_data_when_a_vigil_master_dies_mid_disk_sync() {
    master_killed_mid_full_sync(vigil(), vigil(), false);
}

#[test]
fn vigil_replica_keeps_old_data_when_a_vigil_master_dies_mid_diskless_sync() {
    master_killed_mid_full_sync(vigil(), vigil(), true);
}

/// A replica SIGKILLed mid-stream is forgotten at once (its socket closes);
/// a frozen one after `repl-timeout`; the master serves throughout.
fn master_drops_dead_replicas(master: Kind, replica: Kind) {
    let mut m = Node::start(master, &["--repl-timeout", "2"]);
    fill(&mut m);
    let mut killed = Node::start(replica, &[]);
    let mut frozen = Node::start(replica, &[]);
    killed.replicaof(&m);
    frozen.replicaof(&m);
    converge(&mut m, &mut [&mut killed, &mut frozen]);
    let writer = Writer::start(m.port(), simple_round);
    writer.advance(20);

    killed.kill();
    assert!(
        wait_until(Duration::from_secs(5), || m.repl("connected_slaves") == "1"),
        "{:?}",
        m.info("replication").0
    );
    writer.advance(20);

    frozen.server.signal(libc::SIGSTOP);
    let start = Instant::now();
    assert!(
        wait_until(Duration::from_secs(10), || m.repl("connected_slaves")
            == "0"),
        "{:?}",
        m.info("replication").0
    );
    // Timed out on missing ACKs: after more than repl-timeout (2 s).
    assert!(
        start.elapsed() > Duration::from_millis(1000),
        "{:?}",
        start.elapsed()
    );
    writer.advance(20);
    writer.stop();
    assert_eq!(m.say("PING"), "+PONG\r\n");
    m.ok("SET still writable");
    frozen.server.signal(libc::SIGCONT);
}

#[test]
fn vigil_master_drops_dead_vigil_replicas_and_keeps_serving() {
    master_drops_dead_replicas(vigil(), vigil());
}

#[test]
fn vigil_master_drops_dead_redis_replicas_and_keeps_serving() {
    master_drops_dead_replicas(vigil(), Kind::Redis);
}

/// The master drops the replica's link while the snapshot is being made or
/// sent; the replica comes back, syncs fully again, and ends identical.
fn link_cut_during_full_sync(master: Kind, replica: Kind, diskless: bool) {
    let mut m = big_master(master, diskless);
    let mut r = Node::start(replica, &[]);
    let writer = Writer::start(m.port(), simple_round);
    writer.advance(5);
    r.replicaof(&m);
    let syncing = |info: &Info| {
        info.opt("slave0")
            .is_some_and(|s| s.contains("state=wait_bgsave") || s.contains("state=send_bulk"))
    };
    assert!(
        wait_until(SYNC_DEADLINE, || syncing(&m.info("replication"))),
        "the full sync never started"
    );
    // Look and cut in one transaction, so the look is what the cut hit.
    m.ok("MULTI");
    m.cmd("INFO replication");
    m.cmd("CLIENT KILL TYPE replica");
    let exec = m.cmd("EXEC");
    let info = Info::parse(&String::from_utf8(exec.items()[0].bulk()).unwrap());
    assert!(
        syncing(&info),
        "the sync ended before the cut: {:?}",
        info.0
    );
    assert!(
        exec.items()[1] == Reply::Int(1),
        "{}",
        exec.items()[1].shape()
    );

    r.wait_link_up();
    writer.advance(20);
    writer.stop();
    converge(&mut m, &mut [&mut r]);
    assert!(
        m.stat("sync_full") >= 2,
        "sync_full {}",
        m.stat("sync_full")
    );
}

#[test]
fn vigil_replica_recovers_from_a_cut_mid_full_sync_from_vigil() {
    link_cut_during_full_sync(vigil(), vigil(), true);
}

#[test]
fn vigil_replica_recovers_from_a_cut_mid_full_sync_from_redis() {
    link_cut_during_full_sync(Kind::Redis, vigil(), false);
}

#[test]
fn redis_replica_recovers_from_a_cut_mid_full_sync_from_vigil() {
    link_cut_during_full_sync(vigil(), Kind::Redis, false);
}

// ---------------------------------------------------------------------------
// 5. What a replica answers

/// Client writes are refused with READONLY; ROLE has Redis's shape on both
/// ends; REPLICAOF to the same master is a no-op.
fn replica_refuses_writes_and_reports_roles(master: Kind, replica: Kind) {
    let mut m = Node::start(master, &[]);
    fill(&mut m);
    let mut r = Node::start(replica, &[]);
    r.replicaof(&m);
    let data = converge(&mut m, &mut [&mut r]);

    let readonly = "-READONLY You can't write against a read only replica.\r\n";
    for line in ["SET x 1", "DEL plain", "INCR n", "FLUSHALL", "SADD iset 9"] {
        assert_eq!(r.say(line), readonly, "{line}");
    }
    assert_eq!(r.say("GET plain"), "$5\r\nhello\r\n");
    assert_eq!(r.dataset(), data);

    assert_eq!(
        r.say(&format!("REPLICAOF 127.0.0.1 {}", m.port())),
        "+OK Already connected to specified master\r\n"
    );
    assert!(r.link_up());

    // ROLE on the master: offset, then [ip, port, acked offset] as bulks,
    // once the replica's periodic ACK caught up.
    // (The master's periodic PING may move the offset meanwhile.)
    let bulk = |s: &str| format!("${}\r\n{s}\r\n", s.len());
    let port = r.port().to_string();
    let mut role = String::new();
    let mut offset = String::new();
    assert!(
        wait_until(Duration::from_secs(5), || {
            offset = m.repl("master_repl_offset");
            let expected = format!(
                "*3\r\n{}:{offset}\r\n*1\r\n*3\r\n{}{}{}",
                bulk("master"),
                bulk("127.0.0.1"),
                bulk(&port),
                bulk(&offset)
            );
            role = m.say("ROLE");
            role == expected
        }),
        "{role:?}"
    );
    let expected = format!(
        "*5\r\n{}{}:{}\r\n{}:{offset}\r\n",
        bulk("slave"),
        bulk("127.0.0.1"),
        m.port(),
        bulk("connected")
    );
    assert_eq!(r.say("ROLE"), expected);
}

#[test]
fn vigil_replica_refuses_writes_and_reports_roles() {
    replica_refuses_writes_and_reports_roles(vigil(), vigil());
}

#[test]
fn vigil_replica_of_redis_refuses_writes_and_reports_roles() {
    replica_refuses_writes_and_reports_roles(Kind::Redis, vigil());
}

#[test]
fn redis_replica_of_vigil_reports_roles() {
    replica_refuses_writes_and_reports_roles(vigil(), Kind::Redis);
}

/// With `replica-serve-stale-data no` and the master gone, reads get
/// MASTERDOWN (writes still READONLY, which is checked first); turning the
/// setting back on serves the stale data again.
fn stale_replica_refuses_reads(master: Kind, replica: Kind) {
    let mut m = Node::start(master, &[]);
    m.ok("SET x 1");
    let mut r = Node::start(replica, &["--replica-serve-stale-data", "no"]);
    r.replicaof(&m);
    converge(&mut m, &mut [&mut r]);
    assert_eq!(r.say("GET x"), "$1\r\n1\r\n");

    m.kill();
    assert!(wait_until(SYNC_DEADLINE, || !r.link_up()));
    let masterdown =
        "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n";
    for line in ["GET x", "PING", "DBSIZE"] {
        assert_eq!(r.say(line), masterdown, "{line}");
    }
    assert_eq!(
        r.say("SET x 2"),
        "-READONLY You can't write against a read only replica.\r\n"
    );
    // ROLE: the state is `connect` or `connecting` (retrying), and the
    // offset -1 (no master client).
    let role = r.say("ROLE");
    let head = format!("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:{}\r\n", m.port());
    assert!(
        role == format!("{head}$7\r\nconnect\r\n:-1\r\n")
            || role == format!("{head}$10\r\nconnecting\r\n:-1\r\n"),
        "{role:?}"
    );

    r.ok("CONFIG SET replica-serve-stale-data yes");
    assert_eq!(r.say("GET x"), "$1\r\n1\r\n");
}

#[test]
fn vigil_replica_of_redis_refuses_stale_reads_with_masterdown() {
    stale_replica_refuses_reads(Kind::Redis, vigil());
}

#[test]
fn vigil_replica_refuses_stale_reads_with_masterdown() {
    stale_replica_refuses_reads(vigil(), vigil());
}

#[test]
fn replicaof_rejects_bad_arguments_like_redis() {
    let mut n = Node::start(vigil(), &[]);
    let bad_port = "-ERR Invalid master port\r\n";
    for line in [
        "REPLICAOF 127.0.0.1 70000",
        "REPLICAOF 127.0.0.1 -1",
        "REPLICAOF 127.0.0.1 abc",
        "REPLICAOF no two",
        "SLAVEOF 127.0.0.1 65536",
    ] {
        assert_eq!(n.say(line), bad_port, "{line}");
    }
    for (line, name) in [
        ("REPLICAOF", "replicaof"),
        ("REPLICAOF 127.0.0.1", "replicaof"),
        ("REPLICAOF a b c", "replicaof"),
        ("SLAVEOF a", "slaveof"),
    ] {
        assert_eq!(
            n.say(line),
            format!("-ERR wrong number of arguments for '{name}' command\r\n"),
            "{line}"
        );
    }
    assert_eq!(
        n.repl("role"),
        "master",
        "a rejected REPLICAOF changes nothing"
    );
    n.ok("REPLICAOF NO ONE");
    n.ok("replicaof no one");
    assert_eq!(n.repl("role"), "master");
}

/// The names and order of the `INFO replication` fields of a master with
/// one replica, of that replica, and of the replica once the master died.
fn replication_field_names(kind: Kind) -> [Vec<String>; 3] {
    let mut m = Node::start(kind, &[]);
    let mut r = Node::start(kind, &[]);
    r.replicaof(&m);
    m.ok("SET k v");
    converge(&mut m, &mut [&mut r]);
    let master = m.info("replication").names();
    let replica = r.info("replication").names();
    m.kill();
    assert!(wait_until(SYNC_DEADLINE, || !r.link_up()));
    let down = r.info("replication").names();
    [master, replica, down]
}

#[test]
fn info_replication_fields_are_named_and_ordered_like_redis() {
    let ours = replication_field_names(vigil());
    let redis = replication_field_names(Kind::Redis);
    for (i, what) in [
        "master with a replica",
        "connected replica",
        "replica, master down",
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(ours[i], redis[i], "{what}");
    }
    assert!(redis[2].contains(&"master_link_down_since_seconds".to_string()));
}

// ---------------------------------------------------------------------------
// 6. WAIT and min-replicas

fn wait_and_min_replicas(master: Kind, replica: Kind) {
    let mut m = Node::start(master, &[]);
    let mut r = Node::start(replica, &[]);
    r.replicaof(&m);
    converge(&mut m, &mut [&mut r]);

    m.ok("SET w 1");
    let start = Instant::now();
    assert_eq!(m.say("WAIT 1 5000"), ":1\r\n");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );

    m.ok("SET w 2");
    let start = Instant::now();
    assert_eq!(m.say("WAIT 2 100"), ":1\r\n");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(100) && took < Duration::from_secs(2),
        "{took:?}"
    );

    m.ok("CONFIG SET min-replicas-to-write 2");
    assert_eq!(
        m.say("SET w 3"),
        "-NOREPLICAS Not enough good replicas to write.\r\n"
    );
    assert_eq!(m.say("GET w"), "$1\r\n2\r\n", "reads still work");
    assert_eq!(m.repl("min_slaves_good_slaves"), "1");
    m.ok("CONFIG SET min-replicas-to-write 1");
    m.ok("SET w 4");
    converge(&mut m, &mut [&mut r]);
    assert_eq!(r.say("GET w"), "$1\r\n4\r\n");
}

#[test]
fn vigil_master_waits_for_a_vigil_replica_and_enforces_min_replicas() {
    wait_and_min_replicas(vigil(), vigil());
}

#[test]
fn vigil_master_waits_for_a_redis_replica_and_enforces_min_replicas() {
    wait_and_min_replicas(vigil(), Kind::Redis);
}

// ---------------------------------------------------------------------------
// 7. Snapshots for tools, and the payload framing

fn check_rdb(path: &std::path::Path) {
    let out = std::process::Command::new("redis-check-rdb")
        .arg(path)
        .output()
        .expect("redis-check-rdb is installed by .ci/run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// `redis-cli --rdb` downloads a snapshot that redis-check-rdb accepts and
/// that loads, in Redis and in Vigil, with the master's digest.
fn rdb_download(master: Kind, diskless: bool) {
    let mut m = Node::start(master, &["--repl-diskless-sync", yes_no(diskless)]);
    fill(&mut m);
    let want = m.dataset();
    let dir = TempDir::new("rdb-download");
    let file = dir.0.join("dump.rdb");
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &m.port().to_string(), "--rdb"])
        .arg(&file)
        .output()
        .expect("redis-cli is installed by .ci/run");
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Transfer finished with success"), "{text}");
    check_rdb(&file);

    for kind in [Kind::Redis, vigil()] {
        let mut loaded = Node::start(kind, &["--dir", dir.0.to_str().unwrap()]);
        assert_eq!(loaded.dataset(), want, "{kind:?}");
    }
    // The download was a one-off: the master dropped the connection.
    assert!(wait_until(Duration::from_secs(5), || m
        .repl("connected_slaves")
        == "0"));
    m.ok("SET still writable");
}

#[test]
fn redis_cli_downloads_a_disk_snapshot_from_vigil() {
    rdb_download(vigil(), false);
}

#[test]
fn redis_cli_downloads_a_diskless_snapshot_from_vigil() {
    rdb_download(vigil(), true);
}

/// A hand-driven replica: `+FULLRESYNC <id> <offset>`, then `$<len>` and
/// exactly that many bytes (disk) or `$EOF:<mark>` ... `<mark>` (diskless),
/// a valid RDB, and after our ACK the stream from a `SELECT`.
fn payload_framing(master: Kind, diskless: bool) {
    let mut m = Node::start(master, &["--repl-diskless-sync", yes_no(diskless)]);
    fill(&mut m);
    let mut link = Raw::connect(m.port());
    assert_eq!(link.cmd_str("REPLCONF listening-port 7777"), "+OK\r\n");
    assert_eq!(link.cmd_str("REPLCONF capa eof capa psync2"), "+OK\r\n");
    link.send_cmd(&[b"PSYNC", b"?", b"-1"]);
    let line = |link: &mut Raw| {
        let mut l = Vec::new();
        link.stream.read_until(b'\n', &mut l).expect("read");
        String::from_utf8_lossy(&l).into_owned()
    };
    let full = line(&mut link);
    let parts: Vec<&str> = full.trim_end().split(' ').collect();
    assert_eq!(parts.len(), 3, "{full:?}");
    assert_eq!(parts[0], "+FULLRESYNC");
    assert!(parts[1].len() == 40 && parts[1].bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(parts[1], m.repl("master_replid"));
    let offset: i64 = parts[2].parse().unwrap();

    // Keep-alive newlines may precede the payload header.
    let mut header = line(&mut link);
    while header == "\n" {
        header = line(&mut link);
    }
    let header = header.strip_suffix("\r\n").expect("CRLF").to_string();
    let rdb = if diskless {
        let mark = header
            .strip_prefix("$EOF:")
            .unwrap_or_else(|| panic!("{header:?}"));
        assert_eq!(mark.len(), 40, "{header:?}");
        let mut got = Vec::new();
        let mut buf = [0u8; 65536];
        while !got.ends_with(mark.as_bytes()) {
            let n = link.stream.read(&mut buf).expect("payload");
            assert!(n > 0, "closed mid payload");
            got.extend_from_slice(&buf[..n]);
        }
        got.truncate(got.len() - 40);
        got
    } else {
        let len: usize = header
            .strip_prefix('$')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{header:?}"));
        let mut got = vec![0u8; len];
        link.stream.read_exact(&mut got).expect("payload");
        got
    };
    assert!(
        rdb.starts_with(b"REDIS0010"),
        "{}",
        show(&rdb[..rdb.len().min(16)])
    );
    let dir = TempDir::new("payload");
    std::fs::write(dir.0.join("dump.rdb"), &rdb).unwrap();
    check_rdb(&dir.0.join("dump.rdb"));

    // After the ACK, the stream starts with a SELECT; the client's command
    // follows as it was sent.
    link.send_cmd(&[b"REPLCONF", b"ACK", offset.to_string().as_bytes()]);
    m.ok("SET x 1");
    let expected = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n1\r\n";
    let ping = b"*1\r\n$4\r\nping\r\n";
    let (mut stream, mut pings) = (Vec::new(), 0);
    while stream.len() < expected.len() {
        let reply = link.read_reply();
        if reply == ping {
            pings += 1; // the periodic PING may come at any moment
        } else {
            stream.extend_from_slice(&reply);
        }
    }
    assert_eq!(show(&stream), show(expected));
    let end = offset + (expected.len() + pings * ping.len()) as i64;
    // Only a later PING may have moved the offset further.
    let now: i64 = m.repl("master_repl_offset").parse().unwrap();
    assert!(
        now >= end && (now - end) % ping.len() as i64 == 0,
        "{now} vs {end}"
    );
}

#[test]
fn vigil_master_frames_a_disk_payload_with_its_length() {
    payload_framing(vigil(), false);
}

#[test]
fn vigil_master_frames_a_diskless_payload_with_eof_marks() {
    payload_framing(vigil(), true);
}

/// A replica that stops reading (SIGSTOP) while the master takes writes is
/// cut off at the replica class's hard limit — the master's memory does
/// not follow the stalled replica — with Redis's log line; once it runs
/// again it reconnects and catches up.
fn stalled_replica_hits_the_replica_limit(m_kind: Kind, r_kind: Kind) {
    let mut m = Node::start(
        m_kind,
        &[
            "--client-output-buffer-limit",
            "replica 2mb 0 0",
            "--repl-backlog-size",
            "1mb",
        ],
    );
    let mut r = Node::start(r_kind, &[]);
    r.replicaof(&m);
    converge(&mut m, &mut [&mut r]);
    r.server.signal(libc::SIGSTOP);
    let value = "x".repeat(100 * 1024);
    // 40 MB: far more than the kernel's socket buffers can absorb.
    for i in 0..400 {
        m.ok(&format!("SET big:{} {value}", i % 50));
        if m.repl("connected_slaves") == "0" {
            break;
        }
    }
    assert_eq!(m.repl("connected_slaves"), "0");
    let needle = "scheduled to be closed ASAP for overcoming of output buffer limits.";
    let line = m
        .server
        .wait_for_log_line(needle, Duration::from_secs(5))
        .unwrap_or_else(|| panic!("{:?}", m.server.log_lines()));
    assert!(line.contains(" flags=S "), "{line}");
    r.server.signal(libc::SIGCONT);
    converge(&mut m, &mut [&mut r]);
    // What was dropped is past the 1 MB backlog: a second full sync.
    assert_eq!(m.stat("sync_full"), 2);
}

#[test]
fn a_stalled_vigil_replica_is_cut_off_by_a_vigil_master() {
    stalled_replica_hits_the_replica_limit(vigil(), vigil());
}

#[test]
fn a_stalled_redis_replica_is_cut_off_by_a_vigil_master() {
    stalled_replica_hits_the_replica_limit(vigil(), Kind::Redis);
}

//! Sorted sets through the real binary, where a corpus line cannot say it:
//! notification streams, dirty counts and keyspace statistics compared
//! with a real Redis, replies whose content is random (compared by shape
//! and membership), ZSCAN's guarantee while the set grows and shrinks,
//! encodings across the configured thresholds, and the blocking pops with
//! several clients, timeouts and CLIENT UNBLOCK (every wait has a deadline;
//! nothing sleeps and hopes).

mod common;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use common::{cmd, counter_deltas, notifications, show, wait_until, Raw, Reply, Server};

/// ZADD `key` with members `{prefix}{i}` scored `score(i)`, in batches.
fn zadd_range(
    c: &mut Raw,
    key: &str,
    prefix: &str,
    range: std::ops::Range<usize>,
    score: impl Fn(usize) -> f64,
) {
    let items: Vec<(String, String)> = range
        .map(|i| (score(i).to_string(), format!("{prefix}{i}")))
        .collect();
    for chunk in items.chunks(500) {
        let mut args: Vec<&[u8]> = vec![b"ZADD", key.as_bytes()];
        for (s, m) in chunk {
            args.push(s.as_bytes());
            args.push(m.as_bytes());
        }
        c.cmd(&args);
    }
}

/// Writes whose notifications, dirty counts and results are deterministic
/// (the blocking pops only where they find members).
const WRITES: &[&str] = &[
    "ZADD a 1 x 2 y",
    "ZADD a 1 x",
    "ZADD a CH 3 x",
    "ZADD a XX 1 nope",
    "ZADD nokey XX 1 x",
    "ZADD a INCR 1 x",
    "ZINCRBY a 0 x",
    "ZINCRBY b 1 x",
    "ZADD a GT 0 x",
    "ZADD a NX 9 x 9 z",
    "ZADD a INCR inf y",
    "ZADD a INCR -inf y",
    "ZREM a nope",
    "ZREM a x y z",
    "ZADD c 1 a 2 b 3 c 4 d 5 e",
    "ZREMRANGEBYRANK c 0 0",
    "ZREMRANGEBYRANK c 10 20",
    "ZREMRANGEBYSCORE c 2 2",
    "ZREMRANGEBYLEX c [d [d",
    "ZREMRANGEBYSCORE c -inf +inf",
    "ZADD d 1 a 2 b 3 c",
    "ZPOPMIN d",
    "ZPOPMAX d 0",
    "ZPOPMAX d 5",
    "ZADD e 1 a 2 b 3 c",
    "ZMPOP 1 e MIN COUNT 2",
    "BZPOPMAX e 0",
    "ZADD e2 1 a 2 b",
    "BZMPOP 0 2 nokey e2 MIN COUNT 5",
    "ZADD f 1 a 2 b",
    "ZUNIONSTORE g 2 f nokey",
    "ZINTERSTORE g 2 f nokey",
    "ZINTERSTORE g 2 f nokey",
    "ZDIFFSTORE g 1 f",
    "ZRANGESTORE h f 0 0",
    "ZRANGESTORE h f 5 6",
    "SET str v",
    "ZUNIONSTORE str 1 f",
    "ZADD i 1 a",
    "ZPOPMIN i 5",
    "ZADD j 1 a",
    "ZINCRBY j 1 a",
    "ZREM nokey a",
    "ZADD k 1 a 2 b",
    "ZMPOP 2 nokey k MAX COUNT 5",
    "ZADD str 1 a",
    "ZPOPMIN str",
];

#[test]
fn notifications_come_in_redis_order() {
    let vigil = Server::vigil(&[]);
    let redis = Server::redis(&[]);
    let ours = notifications(&vigil, WRITES);
    let theirs = notifications(&redis, WRITES);
    assert!(theirs.len() > 40, "the sequence should notify: {theirs:?}");
    assert_eq!(ours, theirs);
}

/// Reads, for the keyspace hit and miss counters.
const READS: &[&str] = &[
    "ZADD r 1 a 2 b",
    "ZSCORE r a",
    "ZSCORE nokey a",
    "ZMSCORE r a b",
    "ZMSCORE nokey a",
    "ZCARD nokey",
    "ZRANK r a",
    "ZREVRANK nokey a",
    "ZCOUNT r -inf +inf",
    "ZLEXCOUNT nokey - +",
    "ZRANGE r 0 -1",
    "ZRANGE nokey 0 -1",
    "ZRANGEBYSCORE r -inf +inf",
    "ZREVRANGEBYLEX r + -",
    "ZRANGESTORE dst r 0 -1",
    "ZRANGESTORE dst nokey 0 -1",
    "ZUNION 2 r nokey",
    "ZINTER 2 r r",
    "ZDIFF 2 nokey r",
    "ZINTERCARD 2 r nokey",
    "ZRANDMEMBER r",
    "ZRANDMEMBER nokey 3",
    "ZSCAN r 0",
    "ZSCAN nokey 0",
    "ZPOPMIN nokey",
    "BZPOPMIN r 0",
];

#[test]
fn dirty_counts_and_keyspace_stats_match_redis() {
    let vigil = Server::vigil(&[]);
    let redis = Server::redis(&[]);
    let script: Vec<&str> = WRITES.iter().chain(READS).copied().collect();
    assert_eq!(
        counter_deltas(&vigil, &script),
        counter_deltas(&redis, &script)
    );
}

/// ZRANDMEMBER on equal sets on both servers, in both encodings: the
/// replies must have the same shape, hold members with their own scores,
/// and hold them once for positive counts.
#[test]
fn random_replies_have_redis_shapes() {
    let vigil = Server::vigil(&[]);
    let redis = Server::redis(&[]);
    let cases: &[(&str, bool)] = &[
        ("ZRANDMEMBER k", true),
        ("ZRANDMEMBER k 1", true),
        ("ZRANDMEMBER k 5", true),
        ("ZRANDMEMBER k 40", true),
        ("ZRANDMEMBER k 90", true),
        ("ZRANDMEMBER k 1000", true),
        ("ZRANDMEMBER k -5", false),
        ("ZRANDMEMBER k -250", false),
        ("ZRANDMEMBER k 1 WITHSCORES", true),
        ("ZRANDMEMBER k 7 WITHSCORES", true),
        ("ZRANDMEMBER k 80 WITHSCORES", true),
        ("ZRANDMEMBER k -9 WITHSCORES", false),
    ];
    for resp3 in [false, true] {
        for size in [100, 300] {
            for (template, unique) in cases {
                let mut shapes = Vec::new();
                for server in [&vigil, &redis] {
                    let mut c = server.raw();
                    if resp3 {
                        c.cmd(&[b"HELLO", b"3"]);
                    }
                    cmd(&mut c, "DEL k");
                    zadd_range(&mut c, "k", "m", 0..size, |i| (i % 17) as f64 / 4.0);
                    let scores: HashMap<Vec<u8>, f64> = (0..size)
                        .map(|i| (format!("m{i}").into_bytes(), (i % 17) as f64 / 4.0))
                        .collect();
                    let reply = cmd(&mut c, template);
                    let withscores = template.ends_with("WITHSCORES");
                    let mut picked = Vec::new();
                    match &reply {
                        Reply::Bulk(b) => picked.push(b.clone()),
                        Reply::Agg(_, items) if !withscores => picked = reply.bulks(),
                        Reply::Agg(_, items) if resp3 => {
                            for pair in items {
                                let (m, s) = (pair.items()[0].bulk(), pair.items()[1].score());
                                assert_eq!(scores.get(&m), Some(&s), "{template}: score of {m:?}");
                                picked.push(m);
                            }
                        }
                        Reply::Agg(_, items) => {
                            for pair in items.chunks(2) {
                                let (m, s) = (pair[0].bulk(), pair[1].score());
                                assert_eq!(scores.get(&m), Some(&s), "{template}: score of {m:?}");
                                picked.push(m);
                            }
                        }
                        other => panic!("{template}: unexpected {other:?}"),
                    }
                    for m in &picked {
                        assert!(scores.contains_key(m), "{template}: {m:?} is not a member");
                    }
                    if *unique {
                        let distinct: HashSet<&Vec<u8>> = picked.iter().collect();
                        assert_eq!(distinct.len(), picked.len(), "{template}: repeats");
                    }
                    let nested = match &reply {
                        Reply::Agg(_, items) => items.first().map(Reply::shape),
                        _ => None,
                    };
                    let encoding = cmd(&mut c, "OBJECT ENCODING k");
                    shapes.push((reply.shape(), nested, encoding));
                }
                assert_eq!(
                    shapes[0], shapes[1],
                    "{template} over {size} (resp3: {resp3}): vigil vs redis"
                );
            }
        }
    }
}

#[test]
fn zrandmember_picks_members_uniformly() {
    let vigil = Server::vigil(&[]);
    let mut c = vigil.raw();
    for members in [50, 300] {
        cmd(&mut c, "DEL z");
        zadd_range(&mut c, "z", "member:", 0..members, |i| i as f64);
        let mut counts: HashMap<Vec<u8>, u64> = HashMap::new();
        for m in cmd(&mut c, &format!("ZRANDMEMBER z -{}", members * 200)).bulks() {
            *counts.entry(m).or_default() += 1;
        }
        // Chi-square against uniform, with a loose bound (mean plus six
        // standard deviations): fails on real bias, not on bad luck.
        let total: u64 = counts.values().sum();
        let expected = total as f64 / members as f64;
        let chi: f64 = counts
            .values()
            .map(|&n| (n as f64 - expected).powi(2) / expected)
            .sum::<f64>()
            + (members - counts.len()) as f64 * expected;
        let dof = (members - 1) as f64;
        assert!(
            chi < dof + 6.0 * (2.0 * dof).sqrt(),
            "ZRANDMEMBER over {members}: {chi:.0}"
        );
    }
}

#[test]
fn zscan_returns_every_member_while_the_set_grows_and_shrinks() {
    let vigil = Server::vigil(&[]);
    let mut c = vigil.raw();
    zadd_range(&mut c, "z", "m", 0..2000, |i| i as f64);
    let mut seen: HashMap<Vec<u8>, f64> = HashMap::new();
    let mut cursor = b"0".to_vec();
    let mut round = 0;
    loop {
        let reply = Reply::parse(&c.cmd(&[b"ZSCAN", b"z", &cursor, b"COUNT", b"20"]));
        cursor = reply.items()[0].bulk();
        for pair in reply.items()[1].items().chunks(2) {
            seen.insert(pair[0].bulk(), pair[1].score());
        }
        round += 1;
        // Grow the set eightfold during the first rounds, then remove what
        // was added so the index shrinks under the cursor.
        if round <= 30 {
            zadd_range(&mut c, "z", &format!("new:{round}:"), 0..500, |i| i as f64);
        } else if round == 31 {
            for r in 1..=30 {
                let members: Vec<String> = (0..500).map(|i| format!("new:{r}:{i}")).collect();
                let mut args: Vec<&[u8]> = vec![b"ZREM", b"z"];
                args.extend(members.iter().map(|m| m.as_bytes()));
                c.cmd(&args);
            }
        }
        if cursor == b"0" {
            break;
        }
        assert!(round < 100_000, "ZSCAN did not terminate");
    }
    for i in 0..2000 {
        let m = format!("m{i}").into_bytes();
        assert_eq!(seen.get(&m), Some(&(i as f64)), "member m{i} and its score");
    }
    assert!(
        round > 31,
        "the iteration should span the changes ({round} rounds)"
    );
}

/// The encoding after every kind of write, for limits around the
/// defaults, agrees with Redis.
#[test]
fn encodings_follow_the_configured_thresholds_like_redis() {
    let vigil = Server::vigil(&[]);
    let redis = Server::redis(&[]);
    let mut results = Vec::new();
    for server in [&vigil, &redis] {
        let mut c = server.raw();
        let mut seen = Vec::new();
        for (entries, value) in [(0, 64), (1, 64), (4, 3), (128, 64), (128, 0), (3, 1000)] {
            cmd(&mut c, "FLUSHALL");
            cmd(
                &mut c,
                &format!("CONFIG SET zset-max-listpack-entries {entries}"),
            );
            cmd(
                &mut c,
                &format!("CONFIG SET zset-max-listpack-value {value}"),
            );
            let script = [
                "ZADD a 1 x",
                "ZADD a 2 y 3 zz",
                "ZADD a 4 www",
                "ZADD a 5 vvvvv",
                "ZINCRBY b 1 longer-member",
                "ZINCRBY c 1 s",
                "ZUNIONSTORE u 1 a",
                "ZUNIONSTORE u2 2 a c",
                "ZINTERSTORE i 2 a a",
                "ZDIFFSTORE d 2 a c",
                "ZRANGESTORE r a 0 1",
                "ZRANGESTORE r2 a 0 -1",
                "ZRANGESTORE r3 a (1 +inf BYSCORE",
                "ZREM a x y zz www",
                "ZADD big 0 x0 0 x1 0 x2 0 x3 0 x4 0 x5 0 x6 0 x7 0 x8 0 x9",
                "ZREMRANGEBYRANK big 0 7",
            ];
            for line in script {
                cmd(&mut c, line);
                let key = line.split(' ').nth(1).expect("a key");
                let enc = cmd(&mut c, &format!("OBJECT ENCODING {key}"));
                seen.push(format!("[{entries} {value}] {line} -> {enc:?}"));
            }
        }
        results.push(seen);
    }
    assert_eq!(results[0], results[1]);
}

#[test]
fn big_sets_convert_to_skiplists_and_answer_like_redis() {
    let vigil = Server::vigil(&[]);
    let redis = Server::redis(&[]);
    let mut answers = Vec::new();
    for server in [&vigil, &redis] {
        let mut c = server.raw();
        zadd_range(&mut c, "z", "m", 0..5000, |i| {
            ((i * 7919) % 1000) as f64 / 8.0
        });
        let mut a = vec![cmd(&mut c, "OBJECT ENCODING z")];
        for line in [
            "ZRANK z m4321",
            "ZREVRANK z m17",
            "ZCOUNT z (10 50",
            "ZRANGE z 2000 2010 WITHSCORES",
            "ZRANGE z 99 120 BYSCORE LIMIT 3 5 WITHSCORES",
            "ZRANGE z 120 99 BYSCORE REV LIMIT 3 5",
            "ZREMRANGEBYSCORE z 0 1",
            "ZREMRANGEBYRANK z -100 -1",
            "ZPOPMIN z 3",
            "ZPOPMAX z 3",
            "ZCARD z",
            "ZRANGE z 0 5 WITHSCORES",
            "DEBUG DIGEST-VALUE z",
        ] {
            a.push(cmd(&mut c, line));
        }
        answers.push(a);
    }
    assert_eq!(answers[0], answers[1]);
}

// ---------------------------------------------------------------------------
// Blocking pops

/// Wait until the server reports `n` blocked clients.
fn wait_blocked(c: &mut Raw, n: usize) {
    let ok = wait_until(Duration::from_secs(10), || {
        let info = String::from_utf8_lossy(&cmd(c, "INFO clients").bulk()).into_owned();
        info.contains(&format!("blocked_clients:{n}\r"))
    });
    assert!(ok, "expected {n} blocked clients");
}

#[test]
fn bzpopmin_times_out_with_sub_second_precision() {
    let vigil = Server::vigil(&[]);
    let mut c = vigil.raw();
    for (line, null) in [
        ("BZPOPMIN nokey 0.2", "*-1\r\n"),
        ("BZPOPMAX a b 0.25", "*-1\r\n"),
        ("BZMPOP 0.2 2 a b MIN COUNT 3", "*-1\r\n"),
    ] {
        let start = Instant::now();
        let reply = c.cmd_str(line);
        let elapsed = start.elapsed();
        assert_eq!(reply, null, "{line}");
        assert!(
            elapsed >= Duration::from_millis(150) && elapsed < Duration::from_secs(3),
            "{line} took {elapsed:?}"
        );
    }
    // RESP3 clients get the RESP3 null.
    c.cmd(&[b"HELLO", b"3"]);
    assert_eq!(c.cmd_str("BZPOPMIN nokey 0.1"), "_\r\n");
}

#[test]
fn waiters_are_served_in_arrival_order_by_other_clients_writes() {
    let vigil = Server::vigil(&[]);
    let mut admin = vigil.raw();
    let mut waiters: Vec<Raw> = (0..3).map(|_| vigil.raw()).collect();
    for (i, w) in waiters.iter_mut().enumerate() {
        w.send_cmd(&[b"BZPOPMIN", b"other", b"k", b"5"]);
        wait_blocked(&mut admin, i + 1);
    }
    // Two members serve the first two waiters, lowest score first.
    cmd(&mut admin, "ZADD k 2 b 1 a");
    assert_eq!(
        show(&waiters[0].read_reply()),
        "*3\\r\\n$1\\r\\nk\\r\\n$1\\r\\na\\r\\n$1\\r\\n1\\r\\n"
    );
    assert_eq!(
        show(&waiters[1].read_reply()),
        "*3\\r\\n$1\\r\\nk\\r\\n$1\\r\\nb\\r\\n$1\\r\\n2\\r\\n"
    );
    wait_blocked(&mut admin, 1);
    assert_eq!(cmd(&mut admin, "EXISTS k"), Reply::Int(0));
    // A write to the other key serves the last one, with that key's name.
    cmd(&mut admin, "ZINCRBY other 2.5 m");
    assert_eq!(
        show(&waiters[2].read_reply()),
        "*3\\r\\n$5\\r\\nother\\r\\n$1\\r\\nm\\r\\n$3\\r\\n2.5\\r\\n"
    );
    wait_blocked(&mut admin, 0);
}

#[test]
fn transactions_and_store_commands_wake_waiters() {
    let vigil = Server::vigil(&[]);
    let mut admin = vigil.raw();
    let mut w = vigil.raw();

    // A transaction serves the waiter once, after EXEC, with what the key
    // holds then.
    w.send_cmd(&[b"BZPOPMAX", b"k", b"5"]);
    wait_blocked(&mut admin, 1);
    for line in ["MULTI", "ZADD k 1 a", "ZPOPMIN k", "ZADD k 2 b 3 c"] {
        cmd(&mut admin, line);
    }
    cmd(&mut admin, "EXEC");
    assert_eq!(
        show(&w.read_reply()),
        "*3\\r\\n$1\\r\\nk\\r\\n$1\\r\\nc\\r\\n$1\\r\\n3\\r\\n"
    );

    // Keys created by the STORE commands serve waiters too.
    cmd(&mut admin, "ZADD src 1 x 2 y");
    for (store, key) in [
        ("ZUNIONSTORE u 1 src", "u"),
        ("ZINTERSTORE i 2 src src", "i"),
        ("ZDIFFSTORE d 1 src", "d"),
        ("ZRANGESTORE r src 0 0", "r"),
    ] {
        w.send_cmd(&[
            b"BZMPOP",
            b"5",
            b"1",
            key.as_bytes(),
            b"MIN",
            b"COUNT",
            b"10",
        ]);
        wait_blocked(&mut admin, 1);
        cmd(&mut admin, store);
        let reply = Reply::parse(&w.read_reply());
        assert_eq!(reply.items()[0].bulk(), key.as_bytes(), "{store}");
        assert!(!reply.items()[1].items().is_empty(), "{store}");
    }
}

#[test]
fn client_unblock_ends_the_wait_with_a_timeout_or_an_error() {
    let vigil = Server::vigil(&[]);
    let mut admin = vigil.raw();
    let mut w = vigil.raw();
    let id = match cmd(&mut w, "CLIENT ID") {
        Reply::Int(id) => id,
        other => panic!("CLIENT ID: {other:?}"),
    };
    w.send_cmd(&[b"BZPOPMIN", b"k", b"0"]);
    wait_blocked(&mut admin, 1);
    let list = String::from_utf8_lossy(&cmd(&mut admin, "CLIENT LIST").bulk()).into_owned();
    let line = list
        .lines()
        .find(|l| l.starts_with(&format!("id={id} ")))
        .expect("listed");
    assert!(line.contains(" flags=b "), "{line}");
    assert_eq!(
        cmd(&mut admin, &format!("CLIENT UNBLOCK {id}")),
        Reply::Int(1)
    );
    assert_eq!(w.read_reply(), b"*-1\r\n");

    w.send_cmd(&[b"BZMPOP", b"0", b"1", b"k", b"MAX"]);
    wait_blocked(&mut admin, 1);
    cmd(&mut admin, &format!("CLIENT UNBLOCK {id} ERROR"));
    assert_eq!(
        w.read_reply(),
        b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    );
    wait_blocked(&mut admin, 0);
    // The connection goes on normally.
    assert_eq!(cmd(&mut w, "ZADD k 1 a"), Reply::Int(1));
}

#[test]
fn a_waiter_on_a_key_of_another_type_is_not_served_until_it_is_a_sorted_set() {
    let vigil = Server::vigil(&[]);
    let mut admin = vigil.raw();
    let mut w = vigil.raw();
    w.send_cmd(&[b"BZPOPMIN", b"k", b"5"]);
    wait_blocked(&mut admin, 1);
    cmd(&mut admin, "SET k v");
    cmd(&mut admin, "DEL k");
    wait_blocked(&mut admin, 1);
    cmd(&mut admin, "ZADD k 7 m");
    assert_eq!(
        show(&w.read_reply()),
        "*3\\r\\n$1\\r\\nk\\r\\n$1\\r\\nm\\r\\n$1\\r\\n7\\r\\n"
    );
}

// ---------------------------------------------------------------------------
// Snapshots and DUMP/RESTORE, with redis-server 7.0 in both directions

/// Sorted sets of every shape persistence has to get right.
fn fill_zsets(c: &mut Raw) {
    c.cmd(&[
        b"ZADD",
        b"small",
        b"-0",
        b"neg0",
        b"inf",
        b"top",
        b"-inf",
        b"bottom",
        b"1.5",
        b"mid",
        b"123456789012345678",
        b"bigint",
        b"0.1",
        b"tenth",
        b"7",
        b"bin\x00\xff",
    ]);
    zadd_range(c, "large", "member:", 0..5000, |i| match i % 5 {
        0 => i as f64,
        1 => -(i as f64) / 3.0,
        2 => 1e300 / (i as f64),
        _ => (i % 7) as f64,
    });
    c.cmd(&[
        b"ZADD", b"large", b"-0", b"negzero", b"inf", b"pinf", b"-inf", b"ninf",
    ]);
    // A listpack holding a member longer than the current value limit.
    cmd(c, "CONFIG SET zset-max-listpack-value 100");
    c.cmd(&[b"ZADD", b"longmember", b"1", &[b'x'; 80], b"2", b"short"]);
    cmd(c, "CONFIG SET zset-max-listpack-value 64");
    // A skiplist small enough to load back as a listpack.
    cmd(c, "CONFIG SET zset-max-listpack-entries 0");
    cmd(c, "ZADD shrinks 1 a 2 b -0 c");
    cmd(c, "CONFIG SET zset-max-listpack-entries 128");
    cmd(c, "ZADD ttl 1 a");
    cmd(c, "PEXPIREAT ttl 4102444800123");
}

/// A status line or an array of them, as text (the DEBUG digests).
fn status_text(r: Reply) -> String {
    match r {
        Reply::Line(l) => String::from_utf8_lossy(&l).into_owned(),
        Reply::Agg(_, items) => items
            .into_iter()
            .map(status_text)
            .collect::<Vec<_>>()
            .join(","),
        other => format!("{other:?}"),
    }
}

/// The dataset digest, then each key's encoding, digest and first members.
fn zset_state(c: &mut Raw) -> Vec<String> {
    let mut state = vec![status_text(cmd(c, "DEBUG DIGEST"))];
    let text = status_text;
    for key in ["small", "large", "longmember", "shrinks", "ttl"] {
        let encoding =
            String::from_utf8_lossy(&cmd(c, &format!("OBJECT ENCODING {key}")).bulk()).into_owned();
        let range: Vec<String> = cmd(c, &format!("ZRANGE {key} 0 3 WITHSCORES"))
            .bulks()
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect();
        state.push(format!(
            "{key}: {encoding} {} {range:?}",
            text(cmd(c, &format!("DEBUG DIGEST-VALUE {key}"))),
        ));
    }
    state
}

fn check_rdb(path: &std::path::Path) {
    let check = std::process::Command::new("redis-check-rdb")
        .arg(path)
        .output()
        .expect("redis-check-rdb is installed");
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(report.contains("RDB looks OK"), "{report}");
    assert!(report.contains("Checksum OK"), "{report}");
}

#[test]
fn sorted_sets_survive_snapshots_in_both_directions() {
    // Vigil writes; redis-check-rdb, Vigil and Redis read.
    let dir = common::TempDir::new("zset-rdb");
    let d = dir.0.to_str().unwrap().to_string();
    let written = {
        let vigil = Server::vigil(&["--dir", &d]);
        let mut c = vigil.raw();
        fill_zsets(&mut c);
        let state = zset_state(&mut c);
        assert_eq!(cmd(&mut c, "SAVE"), Reply::Line(b"+OK".to_vec()));
        state
    };
    check_rdb(&dir.0.join("dump.rdb"));
    let reloaded = {
        let vigil = Server::vigil(&["--dir", &d]);
        zset_state(&mut vigil.raw())
    };
    // Every set comes back as it was, except the skiplist that fits a
    // listpack: it loads as one, its -0 becoming 0 (hence a new digest).
    for i in [1, 2, 3, 5] {
        assert_eq!(reloaded[i], written[i]);
    }
    assert!(
        reloaded[4].starts_with("shrinks: listpack")
            && reloaded[4].ends_with(r#"["c", "0", "a", "1", "b", "2"]"#),
        "{}",
        reloaded[4]
    );
    let loaded_by_redis = {
        let redis = Server::redis(&["--dir", &d]);
        let mut c = redis.raw();
        let state = zset_state(&mut c);
        // Redis writes its own snapshot for the reverse direction.
        assert_eq!(cmd(&mut c, "SAVE"), Reply::Line(b"+OK".to_vec()));
        state
    };
    assert_eq!(
        loaded_by_redis, reloaded,
        "Redis loads what Vigil wrote alike"
    );
    let vigil = Server::vigil(&["--dir", &d]);
    let mut c = vigil.raw();
    assert_eq!(
        zset_state(&mut c),
        loaded_by_redis,
        "Vigil loads what Redis wrote"
    );
    // DEBUG RELOAD keeps everything.
    assert_eq!(cmd(&mut c, "DEBUG RELOAD"), Reply::Line(b"+OK".to_vec()));
    assert_eq!(zset_state(&mut c), loaded_by_redis);
}

#[test]
fn dump_payloads_restore_in_the_other_server() {
    // Each server restores its own payload and the other's: the two copies
    // must be the same value in the same encoding (a restored skiplist
    // that fits becomes a listpack in both, -0 turning into 0).
    let vigil = Server::vigil(&[]);
    let redis = Server::redis(&[]);
    let (mut v, mut r) = (vigil.raw(), redis.raw());
    fill_zsets(&mut v);
    fill_zsets(&mut r);
    for key in ["small", "large", "longmember", "shrinks"] {
        let ours = cmd(&mut v, &format!("DUMP {key}")).bulk();
        let theirs = cmd(&mut r, &format!("DUMP {key}")).bulk();
        for c in [&mut v, &mut r] {
            let mut seen = Vec::new();
            for (payload, from) in [(&ours, "vigil"), (&theirs, "redis")] {
                let copy = format!("{key}:from-{from}");
                let reply = Reply::parse(&c.cmd(&[b"RESTORE", copy.as_bytes(), b"0", payload]));
                assert_eq!(reply, Reply::Line(b"+OK".to_vec()), "{copy}");
                seen.push((
                    cmd(c, &format!("DEBUG DIGEST-VALUE {copy}")),
                    cmd(c, &format!("OBJECT ENCODING {copy}")),
                    cmd(c, &format!("ZRANGE {copy} 0 -1 WITHSCORES")),
                ));
            }
            assert_eq!(seen[0], seen[1], "{key}");
        }
    }
}

// ---------------------------------------------------------------------------
// The append-only file

#[test]
fn zset_writes_reach_the_incr_file_like_redis() {
    let script = [
        "ZADD a 1 x 2 y 3 z",
        "ZADD a 1 x",
        "ZINCRBY a 1.5 x",
        "ZADD a GT CH 0 y 10 z",
        "ZREM a nope",
        "ZREM a y",
        "ZPOPMIN a",
        "ZADD b 1 x 2 y 3 z -0 w",
        "ZMPOP 2 nokey b MAX COUNT 2",
        "BZPOPMIN b 0",
        "BZMPOP 0 1 b MIN COUNT 9",
        "ZADD c 1 x 2 y inf z",
        "ZREMRANGEBYSCORE c (1 2",
        "ZUNIONSTORE d 2 c a WEIGHTS 2 3",
        "ZRANGESTORE e c 0 0",
        "ZRANGESTORE e c 5 6",
        "MULTI",
        "ZADD m 1 x",
        "BZPOPMAX m 0",
        "BZPOPMAX m 0",
        "EXEC",
    ];
    let mut files = Vec::new();
    // `always`: the file is written before each reply. (With `everysec` a
    // write may wait behind a busy fsync while the reply goes out, as in
    // Redis, and the file read right after would be short.)
    for server in [
        Server::vigil(&["--appendonly", "yes", "--appendfsync", "always"]),
        Server::redis(&["--appendonly", "yes", "--appendfsync", "always"]),
    ] {
        let mut c = server.raw();
        for line in script {
            c.cmd_str(line);
        }
        // A waiter served by another client's write: the pop follows the
        // write that woke it.
        let mut w = server.raw();
        w.send_cmd(&[b"BZPOPMIN", b"k", b"5"]);
        wait_blocked(&mut c, 1);
        cmd(&mut c, "ZADD k 1 a 2 b");
        w.read_reply();
        let dir = server.dir.0.join("appendonlydir");
        let incr = std::fs::read(dir.join("appendonly.aof.1.incr.aof")).unwrap();
        files.push(show(&incr));
    }
    assert_eq!(files[0], files[1]);
}

/// Wait until a background rewrite has finished, successfully.
fn wait_rewritten(c: &mut Raw) {
    let done = wait_until(Duration::from_secs(30), || {
        let info = String::from_utf8_lossy(&cmd(c, "INFO persistence").bulk()).into_owned();
        info.contains("aof_rewrite_in_progress:0\r")
            && info.contains("aof_rewrite_scheduled:0\r")
            && !info.contains("aof_rewrites:0\r")
    });
    assert!(done, "rewrite did not finish");
    let info = String::from_utf8_lossy(&cmd(c, "INFO persistence").bulk()).into_owned();
    assert!(info.contains("aof_last_bgrewrite_status:ok\r"), "{info}");
}

#[test]
fn a_rewritten_aof_with_sorted_sets_loads_alike_in_vigil_and_redis() {
    for preamble in ["yes", "no"] {
        let dir = common::TempDir::new("zset-aof");
        let d = dir.0.to_str().unwrap().to_string();
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
            fill_zsets(&mut c);
            cmd(&mut c, "BGREWRITEAOF");
            wait_rewritten(&mut c);
            // Writes after the rewrite go to the new incr file.
            cmd(&mut c, "ZADD small 42 after");
            let want = zset_members(&mut c);
            vigil.signal_and_wait(libc::SIGTERM, Duration::from_secs(10));
            want
        };
        let check = std::process::Command::new("redis-check-aof")
            .arg(dir.0.join("appendonlydir/appendonly.aof.manifest"))
            .output()
            .expect("redis-check-aof is installed");
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stdout)
        );
        let vigil = Server::vigil(&args);
        let mut c = vigil.raw();
        let (reloaded, members) = (zset_state(&mut c), zset_members(&mut c));
        drop(vigil);
        let redis = Server::redis(&["--dir", &d, "--appendonly", "yes"]);
        assert_eq!(
            reloaded,
            zset_state(&mut redis.raw()),
            "preamble {preamble}"
        );
        // Every member and score survives (encodings are decided again by
        // the load, as with snapshots, so a -0 may come back as 0).
        assert_eq!(members, want, "preamble {preamble}");
    }
}

/// Every member and score of the test's sets, -0 written as 0.
fn zset_members(c: &mut Raw) -> Vec<Vec<String>> {
    ["small", "large", "longmember", "shrinks", "ttl"]
        .iter()
        .map(|key| {
            cmd(c, &format!("ZRANGE {key} 0 -1 WITHSCORES"))
                .bulks()
                .iter()
                .map(|b| match String::from_utf8_lossy(b).into_owned() {
                    z if z == "-0" => "0".to_string(),
                    other => other,
                })
                .collect()
        })
        .collect()
}

#[test]
fn blocked_pops_count_once_in_commandstats() {
    let mut stats = Vec::new();
    for server in [Server::vigil(&[]), Server::redis(&[])] {
        let mut admin = server.raw();
        let mut w = server.raw();
        // Served by a write, re-blocked once on the way (another waiter
        // took the member), timed out, unblocked by CLIENT UNBLOCK.
        let mut first = server.raw();
        first.send_cmd(&[b"BZPOPMIN", b"k", b"5"]);
        wait_blocked(&mut admin, 1);
        w.send_cmd(&[b"BZPOPMIN", b"k", b"5"]);
        wait_blocked(&mut admin, 2);
        cmd(&mut admin, "ZADD k 1 x");
        first.read_reply();
        cmd(&mut admin, "ZADD k 2 y");
        w.read_reply();
        cmd(&mut w, "BZPOPMAX nokey 0.05");
        let id = match cmd(&mut w, "CLIENT ID") {
            Reply::Int(id) => id,
            other => panic!("{other:?}"),
        };
        w.send_cmd(&[b"BZMPOP", b"0", b"1", b"nokey", b"MIN"]);
        wait_blocked(&mut admin, 1);
        cmd(&mut admin, &format!("CLIENT UNBLOCK {id} ERROR"));
        w.read_reply();
        let info =
            String::from_utf8_lossy(&cmd(&mut admin, "INFO commandstats").bulk()).into_owned();
        let counts: Vec<String> = info
            .lines()
            .filter(|l| l.starts_with("cmdstat_bz"))
            .map(|l| {
                // Times vary; the counts must not.
                l.split(',')
                    .filter(|f| !f.contains("usec"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect();
        stats.push(counts);
    }
    let mut ours = stats[0].clone();
    let mut theirs = stats[1].clone();
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs);
}

#[test]
fn keys_that_become_sorted_sets_by_other_means_serve_waiters() {
    let vigil = Server::vigil(&[]);
    let mut admin = vigil.raw();
    let mut w = vigil.raw();
    let dump = {
        cmd(&mut admin, "ZADD tmp 5 dumped");
        let payload = cmd(&mut admin, "DUMP tmp").bulk();
        cmd(&mut admin, "DEL tmp");
        payload
    };
    let cases: Vec<(&str, Vec<Vec<u8>>)> = vec![
        (
            "RENAME",
            vec![b"ZADD src 1 renamed".to_vec(), b"RENAME src k".to_vec()],
        ),
        (
            "COPY",
            vec![b"ZADD src 2 copied".to_vec(), b"COPY src k".to_vec()],
        ),
        (
            "MOVE",
            vec![
                b"SELECT 1".to_vec(),
                b"ZADD k 3 moved".to_vec(),
                b"MOVE k 0".to_vec(),
                b"SELECT 0".to_vec(),
            ],
        ),
        ("RESTORE", vec![b"RESTORE k 0 {dump}".to_vec()]),
        (
            "SWAPDB",
            vec![
                b"SELECT 2".to_vec(),
                b"ZADD k 4 swapped".to_vec(),
                b"SELECT 0".to_vec(),
                b"SWAPDB 0 2".to_vec(),
            ],
        ),
    ];
    for (name, lines) in cases {
        cmd(&mut admin, "DEL k src");
        w.send_cmd(&[b"BZPOPMIN", b"k", b"5"]);
        wait_blocked(&mut admin, 1);
        for line in lines {
            let args: Vec<&[u8]> = if line.ends_with(b"{dump}") {
                vec![b"RESTORE", b"k", b"0", &dump]
            } else {
                line.split(|&b| b == b' ').collect()
            };
            admin.cmd(&args);
        }
        let reply = Reply::parse(&w.read_reply());
        assert_eq!(reply.items()[0].bulk(), b"k", "{name}: {reply:?}");
        // SWAPDB moved the rest of db 0 to db 2: put it back.
        if name == "SWAPDB" {
            cmd(&mut admin, "SWAPDB 0 2");
        }
    }
}

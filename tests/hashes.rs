//! Hash behaviour the differential corpus cannot show, through the real
//! binary: random replies (HRANDFIELD) checked by shape, membership and
//! distribution; HSCAN's guarantee while the hash grows and shrinks under
//! it; encoding thresholds changed with CONFIG SET; keyspace
//! notifications compared event by event with a real redis-server; and a
//! random sequence of writes checked against a model.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use common::{show, Server};
use rand::{Rng, SeedableRng};
use redis::Connection;

fn encoding(c: &mut Connection, key: &str) -> String {
    redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg(key)
        .query(c)
        .unwrap()
}

/// Fill `key` with `f0..f{n-1}` set to `v0..`, in batches.
fn fill(c: &mut Connection, key: &str, from: usize, to: usize) {
    for chunk in (from..to).collect::<Vec<_>>().chunks(500) {
        let mut cmd = redis::cmd("HSET");
        cmd.arg(key);
        for i in chunk {
            cmd.arg(format!("f{i}")).arg(format!("v{i}"));
        }
        let _: i64 = cmd.query(c).unwrap();
    }
}

/// A listpack hash of 10 fields and a hashtable of 600, the two shapes
/// every random and scanning path has to handle.
fn both_encodings(c: &mut Connection) -> [(&'static str, usize); 2] {
    fill(c, "small", 0, 10);
    fill(c, "large", 0, 600);
    assert_eq!(encoding(c, "small"), "listpack");
    assert_eq!(encoding(c, "large"), "hashtable");
    [("small", 10), ("large", 600)]
}

fn hrandfield(c: &mut Connection, key: &str, count: i64) -> Vec<String> {
    redis::cmd("HRANDFIELD")
        .arg(key)
        .arg(count)
        .query(c)
        .unwrap()
}

fn hrandfield_with_values(c: &mut Connection, key: &str, count: i64) -> Vec<(String, String)> {
    let flat: Vec<String> = redis::cmd("HRANDFIELD")
        .arg(key)
        .arg(count)
        .arg("WITHVALUES")
        .query(c)
        .unwrap();
    flat.chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect()
}

#[test]
fn hrandfield_replies_have_the_promised_shape_in_both_encodings() {
    let vigil = Server::vigil(&[]);
    let mut c = vigil.client();
    for (key, size) in both_encodings(&mut c) {
        let member = |f: &str| {
            f.strip_prefix('f')
                .and_then(|n| n.parse::<usize>().ok())
                .is_some_and(|n| n < size)
        };
        // A positive count: distinct fields, as many as asked, at most all
        // of them. The counts cover each of Redis's strategies: one pick,
        // a small part, most of the hash, all of it and more.
        for count in [1, 2, size / 3, size / 2, size - 1, size, size + 5] {
            let got = hrandfield(&mut c, key, count as i64);
            assert_eq!(got.len(), count.min(size), "{key} {count}");
            assert!(got.iter().all(|f| member(f)), "{key} {count}: {got:?}");
            let distinct: HashSet<_> = got.iter().collect();
            assert_eq!(distinct.len(), got.len(), "{key} {count}: repeats");
        }
        // A negative count: exactly |count| picks, repetitions allowed,
        // also past Redis's batch size of 1000.
        for count in [1, 5, size, 3 * size, 2500] {
            let got = hrandfield(&mut c, key, -(count as i64));
            assert_eq!(got.len(), count, "{key} -{count}");
            assert!(got.iter().all(|f| member(f)));
        }
        // WITHVALUES pairs every field with its own value.
        for count in [3, -3, size as i64, -(2 * size as i64)] {
            let pairs = hrandfield_with_values(&mut c, key, count);
            assert_eq!(pairs.len(), count.unsigned_abs() as usize);
            for (f, v) in pairs {
                assert_eq!(&f[1..], &v[1..], "{f} paired with {v}");
            }
        }
        // Without a count: one field.
        let one: String = redis::cmd("HRANDFIELD").arg(key).query(&mut c).unwrap();
        assert!(member(&one));
    }

    // RESP3: each pick with its value is a two-element array.
    let mut raw = vigil.raw();
    raw.cmd_str("HELLO 3");
    for key in ["small", "large"] {
        let reply = raw.cmd_str(&format!("HRANDFIELD {key} -2 WITHVALUES"));
        let body = reply
            .strip_prefix("*2\r\n*2\r\n")
            .unwrap_or_else(|| panic!("{}", show(reply.as_bytes())));
        assert_eq!(
            body.matches("*2\r\n").count(),
            1,
            "{}",
            show(reply.as_bytes())
        );
    }
}

/// Whether `counts` (per field) look uniform over `fields` fields:
/// Pearson's chi-square below its mean plus six standard deviations, a
/// bound a fair picker exceeds only by extraordinary bad luck, while a
/// picker that favours some fields (as one picking a bucket and then a
/// member of its chain does) fails it by far.
fn assert_uniform(what: &str, counts: &HashMap<String, usize>, fields: usize) {
    assert_eq!(counts.len(), fields, "{what}: some field never picked");
    let total: usize = counts.values().sum();
    let expected = total as f64 / fields as f64;
    let chi: f64 = counts
        .values()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum();
    let dof = (fields - 1) as f64;
    let bound = dof + 6.0 * (2.0 * dof).sqrt();
    assert!(chi < bound, "{what}: chi-square {chi:.0} over {bound:.0}");
}

#[test]
fn hrandfield_picks_every_field_about_equally_often() {
    let vigil = Server::vigil(&[]);
    let mut c = vigil.client();
    for (key, size) in both_encodings(&mut c) {
        // Picks with repetition.
        let picks = size * 300;
        let mut counts: HashMap<String, usize> = HashMap::new();
        let mut left = picks;
        while left > 0 {
            let n = left.min(50_000);
            for f in hrandfield(&mut c, key, -(n as i64)) {
                *counts.entry(f).or_default() += 1;
            }
            left -= n;
        }
        assert_uniform(&format!("{key} negative count"), &counts, size);

        // Distinct picks of a few fields (the sampling strategy), and of
        // most of the hash (the copy-and-drop strategy): every field must
        // be as likely to be in the reply as any other.
        for count in [size / 5, size / 2] {
            let rounds = 300 * size / count;
            let mut counts: HashMap<String, usize> = HashMap::new();
            for _ in 0..rounds {
                for f in hrandfield(&mut c, key, count as i64) {
                    *counts.entry(f).or_default() += 1;
                }
            }
            // Picks within one reply are not independent (they are
            // distinct), which only narrows the spread.
            assert_uniform(&format!("{key} count {count}"), &counts, size);
        }
    }
}

fn hscan(c: &mut Connection, key: &str, cursor: u64, count: usize) -> (u64, Vec<(String, String)>) {
    let (next, flat): (String, Vec<String>) = redis::cmd("HSCAN")
        .arg(key)
        .arg(cursor)
        .arg("COUNT")
        .arg(count)
        .query(c)
        .unwrap();
    let pairs = flat
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect();
    (next.parse().unwrap(), pairs)
}

#[test]
fn hscan_returns_every_field_that_stays_while_the_hash_grows_and_shrinks() {
    let vigil = Server::vigil(&[]);
    let mut c = vigil.client();
    fill(&mut c, "h", 0, 1000);
    // Growing: each call adds 200 fields, so the table is resized (and
    // rehashed incrementally) several times during the iteration.
    let mut seen: HashSet<String> = HashSet::new();
    let mut cursor = 0;
    let mut next_field = 1000;
    let mut calls = 0;
    loop {
        let (next, pairs) = hscan(&mut c, "h", cursor, 20);
        for (f, v) in pairs {
            assert_eq!(&f[1..], &v[1..]);
            seen.insert(f);
        }
        fill(&mut c, "h", next_field, next_field + 200);
        next_field += 200;
        calls += 1;
        cursor = next;
        if cursor == 0 {
            break;
        }
        assert!(calls < 100_000, "the scan does not end");
    }
    let missing: Vec<usize> = (0..1000)
        .filter(|i| !seen.contains(&format!("f{i}")))
        .collect();
    assert!(
        missing.is_empty(),
        "fields present throughout but never returned: {missing:?}"
    );
    assert!(next_field > 2000, "the hash grew during the scan");

    // Shrinking: delete fields outside the original range as the scan
    // goes, so the table shrinks under the cursor.
    let total: usize = redis::cmd("HLEN").arg("h").query(&mut c).unwrap();
    let mut seen: HashSet<String> = HashSet::new();
    let mut doomed = (1000..next_field).collect::<Vec<_>>().into_iter();
    let mut cursor = 0;
    loop {
        let (next, pairs) = hscan(&mut c, "h", cursor, 20);
        seen.extend(pairs.into_iter().map(|(f, _)| f));
        let batch: Vec<String> = doomed.by_ref().take(400).map(|i| format!("f{i}")).collect();
        if !batch.is_empty() {
            let _: i64 = redis::cmd("HDEL")
                .arg("h")
                .arg(&batch)
                .query(&mut c)
                .unwrap();
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    let missing: Vec<usize> = (0..1000)
        .filter(|i| !seen.contains(&format!("f{i}")))
        .collect();
    assert!(missing.is_empty(), "lost while shrinking: {missing:?}");
    let left: usize = redis::cmd("HLEN").arg("h").query(&mut c).unwrap();
    assert!(left < total);
}

#[test]
fn encodings_follow_the_thresholds_set_at_run_time() {
    let vigil = Server::vigil(&[]);
    let mut c = vigil.client();
    let set = |c: &mut Connection, name: &str, value: usize| {
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg(name)
            .arg(value)
            .query(c)
            .unwrap();
    };
    // The defaults: 512 entries, 64 bytes.
    fill(&mut c, "d", 0, 512);
    assert_eq!(encoding(&mut c, "d"), "listpack");
    fill(&mut c, "d", 512, 513);
    assert_eq!(encoding(&mut c, "d"), "hashtable");

    for limit in [1usize, 7, 300, 1000] {
        set(&mut c, "hash-max-listpack-entries", limit);
        let key = format!("e{limit}");
        fill(&mut c, &key, 0, limit);
        assert_eq!(encoding(&mut c, &key), "listpack", "{limit} entries");
        fill(&mut c, &key, limit, limit + 1);
        assert_eq!(encoding(&mut c, &key), "hashtable", "{limit} + 1 entries");
    }
    set(&mut c, "hash-max-listpack-entries", 512);

    for limit in [0usize, 10, 200] {
        set(&mut c, "hash-max-listpack-value", limit);
        let at = "x".repeat(limit);
        let over = "x".repeat(limit + 1);
        for (what, field, value) in [
            ("field", &over, "v"),
            ("value", &"f".to_string(), &over[..]),
        ] {
            let key = format!("v{limit}{what}");
            let _: i64 = redis::cmd("HSET")
                .arg(&key)
                .arg(&at)
                .arg(&at)
                .query(&mut c)
                .unwrap();
            assert_eq!(encoding(&mut c, &key), "listpack", "{limit} bytes");
            let _: i64 = redis::cmd("HSET")
                .arg(&key)
                .arg(field)
                .arg(value)
                .query(&mut c)
                .unwrap();
            assert_eq!(
                encoding(&mut c, &key),
                "hashtable",
                "{limit} + 1 byte {what}"
            );
        }
    }
    set(&mut c, "hash-max-listpack-value", 64);

    // A counter converts when its text outgrows the value limit.
    set(&mut c, "hash-max-listpack-value", 5);
    let _: i64 = redis::cmd("HINCRBY")
        .arg("n")
        .arg("f")
        .arg(99_999)
        .query(&mut c)
        .unwrap();
    assert_eq!(encoding(&mut c, "n"), "listpack");
    let _: i64 = redis::cmd("HINCRBY")
        .arg("n")
        .arg("f")
        .arg(1)
        .query(&mut c)
        .unwrap();
    assert_eq!(encoding(&mut c, "n"), "hashtable");
    let _: String = redis::cmd("HINCRBYFLOAT")
        .arg("fl")
        .arg("f")
        .arg("1.25")
        .query(&mut c)
        .unwrap();
    assert_eq!(encoding(&mut c, "fl"), "listpack");
    let _: String = redis::cmd("HINCRBYFLOAT")
        .arg("fl")
        .arg("f")
        .arg("0.0625")
        .query(&mut c)
        .unwrap();
    assert_eq!(encoding(&mut c, "fl"), "hashtable");
}

/// Every keyevent notification a sequence of hash commands produces, as
/// (event, key) pairs, on `server`.
fn hash_events(server: &Server) -> Vec<(String, String)> {
    let mut admin = server.raw();
    assert_eq!(
        admin.cmd_str("CONFIG SET notify-keyspace-events KEAn"),
        "+OK\r\n"
    );
    let mut sub = server.raw();
    sub.cmd_str("PSUBSCRIBE __keyevent@0__:*");
    let script = [
        "HSET h a 1 b 2",
        "HSET h a 1",
        "HSETNX h a x",
        "HSETNX h c 1",
        "HDEL h zz",
        "HDEL missing a",
        "HDEL h a b zz",
        "HINCRBY h n 1",
        "HINCRBYFLOAT h f 1.5",
        "HINCRBY h f 1",
        "HINCRBYFLOAT h n x",
        "HMSET h x 1 x 2",
        "HDEL h c n f x",
        "HINCRBYFLOAT g f 1",
        "HINCRBY i f 1",
        "HSETNX k f v",
        "HGET k f",
        "HGETALL k",
        "HDEL k f",
    ];
    for line in script {
        admin.cmd_str(line);
    }
    // A marker, so the subscriber knows it has read everything.
    admin.cmd_str("SET end 1");
    let mut events = Vec::new();
    loop {
        let msg = String::from_utf8(sub.read_reply()).unwrap();
        let parts: Vec<&str> = msg.split("\r\n").collect();
        // *4 $8 pmessage $N pattern $N channel $N key
        let event = parts[6].trim_start_matches("__keyevent@0__:").to_string();
        let key = parts[8].to_string();
        if key == "end" {
            return events;
        }
        events.push((event, key));
    }
}

#[test]
fn notifications_match_redis_event_for_event() {
    let vigil = Server::vigil(&[]);
    let redis = Server::redis(&[]);
    let ours = hash_events(&vigil);
    let theirs = hash_events(&redis);
    let expected: Vec<(String, String)> = [
        ("new", "h"),
        ("hset", "h"),
        ("hset", "h"),
        ("hset", "h"),
        ("hdel", "h"),
        ("hincrby", "h"),
        ("hincrbyfloat", "h"),
        ("hset", "h"),
        ("hdel", "h"),
        ("del", "h"),
        ("new", "g"),
        ("hincrbyfloat", "g"),
        ("new", "i"),
        ("hincrby", "i"),
        ("new", "k"),
        ("hset", "k"),
        ("hdel", "k"),
        ("del", "k"),
    ]
    .iter()
    .map(|(e, k)| (e.to_string(), k.to_string()))
    .collect();
    assert_eq!(theirs, expected, "redis-server's events (the reference)");
    assert_eq!(ours, expected);
}

/// One random write: the command, and its effect on the model (returning
/// the reply the model predicts).
fn random_write(
    rng: &mut rand::rngs::SmallRng,
    key: &str,
    model: &mut HashMap<String, String>,
) -> (redis::Cmd, redis::Value) {
    // Field names of several lengths, some longer than the value limit
    // used below, and values from empty to too long.
    let field = |rng: &mut rand::rngs::SmallRng| {
        let n: u32 = rng.gen_range(0..30);
        format!("{}{n}", "f".repeat(rng.gen_range(0..8)))
    };
    let value = |rng: &mut rand::rngs::SmallRng| "v".repeat(rng.gen_range(0..9));
    let mut cmd;
    let reply = match rng.gen_range(0..10) {
        0..=3 => {
            cmd = redis::cmd("HSET");
            cmd.arg(key);
            let mut added = 0;
            for _ in 0..rng.gen_range(1..4) {
                let (f, v) = (field(rng), value(rng));
                cmd.arg(&f).arg(&v);
                if model.insert(f, v).is_none() {
                    added += 1;
                }
            }
            redis::Value::Int(added)
        }
        4 => {
            let (f, v) = (field(rng), value(rng));
            cmd = redis::cmd("HSETNX");
            cmd.arg(key).arg(&f).arg(&v);
            let new = !model.contains_key(&f);
            if new {
                model.insert(f, v);
            }
            redis::Value::Int(new as i64)
        }
        5..=7 => {
            cmd = redis::cmd("HDEL");
            cmd.arg(key);
            let mut deleted = 0;
            for _ in 0..rng.gen_range(1..4) {
                let f = field(rng);
                cmd.arg(&f);
                if model.remove(&f).is_some() {
                    deleted += 1;
                }
            }
            redis::Value::Int(deleted)
        }
        _ => {
            let f = format!("n{}", rng.gen_range(0..5));
            let by: i64 = rng.gen_range(-100_000..100_000);
            cmd = redis::cmd("HINCRBY");
            cmd.arg(key).arg(&f).arg(by);
            let new = model.get(&f).map_or(0, |v| v.parse::<i64>().unwrap()) + by;
            model.insert(f, new.to_string());
            redis::Value::Int(new)
        }
    };
    (cmd, reply)
}

#[test]
fn random_writes_agree_with_a_model_and_with_redis_across_conversions() {
    let vigil = Server::vigil(&[]);
    let redis = Server::redis(&[]);
    let mut ours = vigil.client();
    let mut theirs = redis.client();
    for c in [&mut ours, &mut theirs] {
        // Small limits, so hashes convert in the middle of the sequences.
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("hash-max-listpack-entries")
            .arg(12)
            .arg("hash-max-listpack-value")
            .arg(6)
            .query(c)
            .unwrap();
    }
    for seed in 0..20u64 {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
        let key = format!("m{seed}");
        let mut model: HashMap<String, String> = HashMap::new();
        for step in 0..300 {
            let (cmd, predicted) = random_write(&mut rng, &key, &mut model);
            let context = format!(
                "seed {seed} step {step}: {:?}",
                cmd.args_iter().collect::<Vec<_>>()
            );
            let got: redis::Value = cmd.query(&mut ours).unwrap();
            assert_eq!(got, predicted, "{context}");
            let all: HashMap<String, String> =
                redis::cmd("HGETALL").arg(&key).query(&mut ours).unwrap();
            assert_eq!(all, model, "{context}");
            let exists: bool = redis::cmd("EXISTS").arg(&key).query(&mut ours).unwrap();
            assert_eq!(
                exists,
                !model.is_empty(),
                "{context}: empty hashes are deleted"
            );
            // Redis decides the encoding from the whole history; it must
            // have made the same decision at every step.
            let _: redis::Value = cmd.query(&mut theirs).unwrap();
            let want: Option<String> = redis::cmd("OBJECT")
                .arg("ENCODING")
                .arg(&key)
                .query(&mut theirs)
                .unwrap();
            let have: Option<String> = redis::cmd("OBJECT")
                .arg("ENCODING")
                .arg(&key)
                .query(&mut ours)
                .unwrap();
            assert_eq!(have, want, "{context}");
        }
    }
}

/// Hashes of every shape a snapshot has to carry: listpacks with integers,
/// binary and empty strings and compressible values; tables big and small,
/// with long values, and one that shrank back to short entries (saved as a
/// table, loaded as a listpack); a hash with a TTL.
fn fill_hashes(c: &mut common::Raw) {
    c.cmd(&[
        b"HSET",
        b"lp",
        b"a",
        b"1",
        b"neg",
        b"-42",
        b"big",
        b"12345678901",
        b"e",
        b"",
    ]);
    c.cmd(&[b"HSET", b"lp", b"bin\x00", b"\x00\xff\r\n", b"f", b"3.5"]);
    c.cmd(&[b"HSET", b"lpz", b"z", &b"ab".repeat(30)]);
    c.cmd(&[b"HSET", b"long", b"f", &[b'x'; 300], b"g", b"1"]);
    c.cmd(&[b"HSET", b"shrunk", b"a", b"1", b"b", &[b'y'; 100]]);
    c.cmd(&[b"HDEL", b"shrunk", b"b"]);
    for chunk in 0..100 {
        let mut args: Vec<Vec<u8>> = vec![b"HSET".to_vec(), b"table".to_vec()];
        for i in chunk * 1000..(chunk + 1) * 1000 {
            args.push(format!("field:{i}").into_bytes());
            args.push(format!("{i}").into_bytes());
        }
        let argv: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        c.cmd(&argv);
    }
    c.cmd_str("HSET ttl a 1");
    c.cmd_str("PEXPIREAT ttl 4102444800123");
}

const SNAPSHOT_KEYS: &[&str] = &["lp", "lpz", "long", "shrunk", "table", "ttl"];

/// Each key's encoding and the dataset digest.
fn snapshot_state(c: &mut common::Raw) -> (Vec<String>, String) {
    let encodings = SNAPSHOT_KEYS
        .iter()
        .map(|k| {
            let reply = c.cmd_str(&format!("OBJECT ENCODING {k}"));
            format!("{k}: {}", reply.split("\r\n").nth(1).unwrap_or(&reply))
        })
        .collect();
    (encodings, c.cmd_str("DEBUG DIGEST"))
}

#[test]
fn hashes_survive_snapshots_in_both_directions_with_redis_encodings() {
    let dir = common::TempDir::new("hash-rdb");
    let d = dir.0.to_str().unwrap().to_string();
    let path = dir.0.join("dump.rdb");

    // Written by Vigil.
    let written = {
        let vigil = Server::vigil(&["--dir", &d]);
        let mut c = vigil.raw();
        fill_hashes(&mut c);
        assert_eq!(c.cmd_str("SAVE"), "+OK\r\n");
        let (mut encodings, digest) = snapshot_state(&mut c);
        assert_eq!(encodings[3], "shrunk: hashtable");
        // What a load gives it.
        encodings[3] = "shrunk: listpack".to_string();
        (encodings, digest)
    };
    let check = std::process::Command::new("redis-check-rdb")
        .arg(&path)
        .output()
        .expect("redis-check-rdb is installed");
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(report.contains("RDB looks OK"), "{report}");
    assert!(report.contains("Checksum OK"), "{report}");

    let redis = Server::redis(&["--dir", &d]);
    let mut r = redis.raw();
    assert_eq!(
        snapshot_state(&mut r),
        written,
        "redis-server loads Vigil's file"
    );
    assert_eq!(r.cmd_str("PEXPIRETIME ttl"), ":4102444800123\r\n");
    drop(r);
    drop(redis);
    let vigil = Server::vigil(&["--dir", &d]);
    let mut c = vigil.raw();
    assert_eq!(
        snapshot_state(&mut c),
        written,
        "Vigil reloads its own file"
    );
    drop(c);
    drop(vigil);

    // Written by Redis.
    std::fs::remove_file(&path).unwrap();
    let redis = Server::redis(&["--dir", &d]);
    let mut r = redis.raw();
    fill_hashes(&mut r);
    assert_eq!(r.cmd_str("SAVE"), "+OK\r\n");
    let (mut encodings, digest) = snapshot_state(&mut r);
    encodings[3] = "shrunk: listpack".to_string();
    drop(r);
    drop(redis);
    let vigil = Server::vigil(&["--dir", &d]);
    let mut c = vigil.raw();
    assert_eq!(
        snapshot_state(&mut c),
        (encodings, digest),
        "Vigil loads Redis's file"
    );
    // A listpack from Redis dumps back to Redis's bytes.
    let ours = c.cmd_str("DUMP lp");
    let redis = Server::redis(&["--dir", &d]);
    assert_eq!(redis.raw().cmd_str("DUMP lp"), ours);
}

#[test]
fn dirty_counts_and_keyspace_stats_match_redis() {
    let script = [
        "HSET h a 1 b 2",
        "HSET h a 1",
        "HSETNX h a x",
        "HSETNX h c 1",
        "HSETNX nokey c 1",
        "HMSET h x 1 x 2",
        "HINCRBY h n 1",
        "HINCRBY h a x",
        "HINCRBYFLOAT h f 1.5",
        "HINCRBYFLOAT h a nan",
        "HGET h a",
        "HGET h nofield",
        "HGET missing a",
        "HMGET h a b",
        "HMGET missing a",
        "HEXISTS h a",
        "HEXISTS missing a",
        "HLEN h",
        "HSTRLEN missing a",
        "HKEYS h",
        "HVALS missing",
        "HGETALL h",
        "HRANDFIELD h",
        "HRANDFIELD missing 3",
        "HSCAN h 0",
        "HSCAN missing 0",
        "HDEL missing a",
        "HDEL h zz",
        "HDEL h a b c n f x",
        "HSET s 1 2",
        "SET str v",
        "HGET str a",
        "HSET str a 1",
    ];
    let vigil = Server::vigil(&[]);
    let redis = Server::redis(&[]);
    assert_eq!(
        common::counter_deltas(&vigil, &script),
        common::counter_deltas(&redis, &script)
    );
}

#[test]
fn the_aof_records_hash_writes_byte_for_byte_like_redis() {
    let script = [
        "HSET h a 1 b 2",
        "HMSET h c 3",
        "HSETNX h a 9",
        "HSETNX h d 4",
        "HDEL h nofield",
        "HINCRBY h a 5",
        "HINCRBYFLOAT h f 0.1",
        "HINCRBYFLOAT h f 1e3",
        "HINCRBY h a x",
        "MULTI",
        "HINCRBYFLOAT h g 2.5",
        "HDEL h a",
        "EXEC",
        "HDEL h b c d f g",
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
        let incr = server.dir.0.join("appendonlydir/appendonly.aof.1.incr.aof");
        files.push(show(&std::fs::read(incr).unwrap()));
    }
    assert_eq!(files[0], files[1]);
}

#[test]
fn a_rewritten_aof_rebuilds_hashes_in_redis_and_vigil_alike() {
    let dir = common::TempDir::new("hash-aof");
    let d = dir.0.to_str().unwrap().to_string();
    let args = [
        "--dir",
        &d,
        "--appendonly",
        "yes",
        "--aof-use-rdb-preamble",
        "no",
    ];
    let rewritten = {
        let vigil = Server::vigil(&args);
        let mut c = vigil.raw();
        fill_hashes(&mut c);
        c.cmd_str("BGREWRITEAOF");
        let done = common::wait_until(Duration::from_secs(60), || {
            let info = c.cmd_str("INFO persistence");
            info.contains("aof_rewrite_in_progress:0")
                && info.contains("aof_rewrite_scheduled:0")
                && info.contains("aof_rewrites:1")
        });
        assert!(done, "the rewrite did not finish");
        let base = std::fs::read(dir.0.join("appendonlydir/appendonly.aof.2.base.aof")).unwrap();
        // 100,000 fields in HMSETs of 64 pairs, as Redis batches them.
        let hmsets = base.windows(7).filter(|w| w == b"\r\nHMSET").count();
        assert_eq!(hmsets, 100_000usize.div_ceil(64) + 5);
        snapshot_state(&mut c)
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
    let ours = snapshot_state(&mut vigil.raw());
    drop(vigil);
    let redis = Server::redis(&args);
    let theirs = snapshot_state(&mut redis.raw());
    assert_eq!(ours.1, rewritten.1, "Vigil rebuilds the same data");
    // Replayed commands decide the encodings afresh, in both servers alike.
    assert_eq!(ours, theirs);
}

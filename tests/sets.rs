//! Sets through the real binary, where a corpus line cannot say it:
//! notification streams and dirty counts compared with a real Redis,
//! replies whose content is random (compared by shape and membership),
//! SSCAN's guarantee while the set grows and shrinks, and the uniformity
//! of SRANDMEMBER and SPOP.

mod common;

use std::collections::{HashMap, HashSet};

use common::{cmd, counter_deltas, notifications, Raw, Reply, Server};

fn sadd_range(c: &mut Raw, key: &str, prefix: &str, range: std::ops::Range<usize>) {
    let members: Vec<String> = range.map(|i| format!("{prefix}{i}")).collect();
    let mut args: Vec<&[u8]> = vec![b"SADD", key.as_bytes()];
    args.extend(members.iter().map(|m| m.as_bytes()));
    c.cmd(&args);
}

/// Writes whose notifications, dirty counts and results are deterministic.
const WRITES: &[&str] = &[
    "SADD a 1 2",
    "SADD a 1",
    "SREM a 1 9",
    "SREM a 2",
    "SADD b x y",
    "SMOVE b c x",
    "SMOVE b c y",
    "SADD a 5",
    "SMOVE a a 5",
    "SMOVE a a 6",
    "SADD d 5",
    "SMOVE a d 5",
    "SMOVE nokey d 5",
    "SADD e 1 2 3",
    "SPOP e",
    "SPOP e 0",
    "SPOP e 1",
    "SPOP e 5",
    "SPOP e 5",
    "SADD f 1 2 3",
    "SINTERSTORE g f f",
    "SINTERSTORE g f nokey",
    "SINTERSTORE g f nokey",
    "SUNIONSTORE h f",
    "SUNIONSTORE h f nokey c",
    "SDIFFSTORE h f f",
    "SDIFFSTORE h f nokey",
    "SDIFFSTORE h nokey f",
    "SET str v",
    "SUNIONSTORE str f",
    "SDIFFSTORE str nokey",
    "SADD one z",
    "SPOP one 3",
    "SADD w 1",
    "SPOP w",
    "SREM nokey a",
    "SADD big 1 2 3 4 5 6 7 8 9 10",
    "SPOP big 3",
    "SPOP big 6",
    "SPOP big 1000",
    "SADD str2 x",
    "SET str2 v",
    "SADD str2 x",
    "SPOP str2 2",
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
    "SADD r 1 2",
    "SISMEMBER r 1",
    "SISMEMBER nokey 1",
    "SMISMEMBER r 1 2",
    "SCARD nokey",
    "SMEMBERS r",
    "SRANDMEMBER r 5",
    "SRANDMEMBER nokey",
    "SINTER r nokey r",
    "SINTERCARD 2 r r",
    "SUNION r nokey",
    "SDIFF nokey r",
    "SSCAN r 0",
    "SSCAN nokey 0",
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

/// Commands whose replies are random, on equal sets on both servers: the
/// replies must have the same type and length, hold members of the set,
/// and (for positive counts and pops) hold them once.
#[test]
fn random_replies_have_redis_shapes() {
    let vigil = Server::vigil(&[]);
    let redis = Server::redis(&[]);
    let cases: &[(&str, &str, bool)] = &[
        ("SRANDMEMBER {k}", "single", true),
        ("SRANDMEMBER {k} 1", "many", true),
        ("SRANDMEMBER {k} 5", "many", true),
        ("SRANDMEMBER {k} 40", "many", true),
        ("SRANDMEMBER {k} 90", "many", true),
        ("SRANDMEMBER {k} -5", "many", false),
        ("SRANDMEMBER {k} -250", "many", false),
        ("SPOP {k}", "single", true),
        ("SPOP {k} 1", "many", true),
        ("SPOP {k} 7", "many", true),
        ("SPOP {k} 95", "many", true),
    ];
    for resp3 in [false, true] {
        for (kind, members) in [("ints", ""), ("strings", "m"), ("mixed", "")] {
            for (template, shape, unique) in cases {
                let mut replies = Vec::new();
                for server in [&vigil, &redis] {
                    let mut c = server.raw();
                    if resp3 {
                        c.cmd(&[b"HELLO", b"3"]);
                    }
                    cmd(&mut c, "DEL k");
                    // 100 members: integers stay an intset only below the
                    // default limit of 512, so use a smaller limit here.
                    cmd(&mut c, "CONFIG SET set-max-intset-entries 128");
                    sadd_range(&mut c, "k", members, 0..100);
                    if kind == "mixed" {
                        cmd(&mut c, "SADD k x");
                        cmd(&mut c, "SREM k x");
                    }
                    let set: HashSet<Vec<u8>> =
                        cmd(&mut c, "SMEMBERS k").bulks().into_iter().collect();
                    let reply = cmd(&mut c, &template.replace("{k}", "k"));
                    let picked = match (*shape, &reply) {
                        ("single", Reply::Bulk(b)) => vec![b.clone()],
                        ("many", Reply::Agg(..)) => reply.bulks(),
                        _ => panic!("{template}: unexpected {reply:?}"),
                    };
                    for m in &picked {
                        assert!(set.contains(m), "{template}: {m:?} is not a member");
                    }
                    if *unique {
                        let distinct: HashSet<&Vec<u8>> = picked.iter().collect();
                        assert_eq!(distinct.len(), picked.len(), "{template}: repeats");
                    }
                    let left = cmd(&mut c, "SCARD k");
                    let encoding = cmd(&mut c, "OBJECT ENCODING k");
                    let header = match &reply {
                        Reply::Agg(t, items) => format!("{}{}", *t as char, items.len()),
                        Reply::Bulk(_) => "bulk".to_string(),
                        other => format!("{other:?}"),
                    };
                    replies.push((header, left, encoding));
                }
                assert_eq!(
                    replies[0], replies[1],
                    "{template} on {kind} (resp3: {resp3}): vigil vs redis"
                );
            }
        }
    }
}

#[test]
fn sscan_returns_every_member_while_the_set_grows_and_shrinks() {
    let vigil = Server::vigil(&[]);
    let mut c = vigil.raw();
    sadd_range(&mut c, "s", "m", 0..2000);
    let stable: HashSet<Vec<u8>> = (0..2000).map(|i| format!("m{i}").into_bytes()).collect();
    let mut seen = HashSet::new();
    let mut cursor = b"0".to_vec();
    let mut round = 0;
    loop {
        let reply = Reply::parse(&c.cmd(&[b"SSCAN", b"s", &cursor, b"COUNT", b"20"]));
        cursor = reply.items()[0].bulk();
        seen.extend(reply.items()[1].bulks());
        round += 1;
        // Grow the set eightfold during the first rounds, then remove
        // what was added so the table shrinks under the cursor.
        if round <= 30 {
            sadd_range(&mut c, "s", &format!("new:{round}:"), 0..500);
        } else if round == 31 {
            for r in 1..=30 {
                let members: Vec<String> = (0..500).map(|i| format!("new:{r}:{i}")).collect();
                let mut args: Vec<&[u8]> = vec![b"SREM", b"s"];
                args.extend(members.iter().map(|m| m.as_bytes()));
                c.cmd(&args);
            }
        }
        if cursor == b"0" {
            break;
        }
        assert!(round < 100_000, "SSCAN did not terminate");
    }
    let missing: Vec<_> = stable.difference(&seen).collect();
    assert!(
        missing.is_empty(),
        "{} members never returned",
        missing.len()
    );
    assert!(
        round > 31,
        "the iteration should span the changes ({round} rounds)"
    );
}

/// Pearson's chi-square statistic of `counts` against a uniform
/// distribution over `categories` values.
fn chi_square(counts: &HashMap<Vec<u8>, u64>, categories: usize) -> f64 {
    let total: u64 = counts.values().sum();
    let expected = total as f64 / categories as f64;
    let observed: f64 = counts
        .values()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum();
    // Categories never picked contribute their full expectation.
    observed + (categories - counts.len()) as f64 * expected
}

/// A loose bound for a chi-square with `categories - 1` degrees of
/// freedom (mean plus six standard deviations): fails on real bias, not
/// on bad luck.
fn chi_bound(categories: usize) -> f64 {
    let dof = (categories - 1) as f64;
    dof + 6.0 * (2.0 * dof).sqrt()
}

#[test]
fn srandmember_and_spop_pick_members_uniformly() {
    let vigil = Server::vigil(&[]);
    let mut c = vigil.raw();
    for (members, prefix) in [(50, "m"), (50, ""), (300, "member:")] {
        cmd(&mut c, "DEL s");
        sadd_range(&mut c, "s", prefix, 0..members);

        // With repetition: one call, many picks.
        let mut counts: HashMap<Vec<u8>, u64> = HashMap::new();
        let picks = cmd(&mut c, &format!("SRANDMEMBER s -{}", members * 200));
        for m in picks.bulks() {
            *counts.entry(m).or_default() += 1;
        }
        let chi = chi_square(&counts, members);
        assert!(
            chi < chi_bound(members),
            "SRANDMEMBER -N over {members}: {chi:.0}"
        );

        // Distinct picks, small and large counts (the two strategies).
        for count in [members / 10, members / 2] {
            let mut counts: HashMap<Vec<u8>, u64> = HashMap::new();
            for _ in 0..(members * 100 / count) {
                for m in cmd(&mut c, &format!("SRANDMEMBER s {count}")).bulks() {
                    *counts.entry(m).or_default() += 1;
                }
            }
            let chi = chi_square(&counts, members);
            // Picks within one reply are not independent; the bound
            // still catches a member that is favoured.
            assert!(
                chi < chi_bound(members),
                "SRANDMEMBER {count} of {members}: {chi:.0}"
            );
        }

        // SPOP from a fresh copy each time.
        let mut counts: HashMap<Vec<u8>, u64> = HashMap::new();
        for _ in 0..members * 40 {
            cmd(&mut c, "SUNIONSTORE t s");
            *counts.entry(cmd(&mut c, "SPOP t").bulk()).or_default() += 1;
        }
        let chi = chi_square(&counts, members);
        assert!(chi < chi_bound(members), "SPOP over {members}: {chi:.0}");
    }
}

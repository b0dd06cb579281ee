//! Keyspace behaviour that needs several clients or time: WATCH across
//! clients, lazy and active expiry, and SCAN's guarantee while the table
//! grows and shrinks.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{wait_until, Server};
use redis::Commands;

#[test]
fn watch_aborts_exec_when_another_client_writes() {
    let vigil = Server::vigil(&[]);
    let mut a = vigil.raw();
    let mut b = vigil.raw();
    a.cmd_str("SET counter 1");
    a.cmd_str("WATCH counter");
    b.cmd_str("INCR counter");
    a.cmd_str("MULTI");
    a.cmd_str("SET counter 100");
    assert_eq!(a.cmd_str("EXEC"), "*-1\r\n");
    assert_eq!(a.cmd_str("GET counter"), "$1\r\n2\r\n");

    // Untouched: EXEC runs.
    a.cmd_str("WATCH counter");
    a.cmd_str("MULTI");
    a.cmd_str("SET counter 100");
    assert_eq!(a.cmd_str("EXEC"), "*1\r\n+OK\r\n");
}

#[test]
fn watch_sees_flushes_swaps_renames_and_expiry() {
    let vigil = Server::vigil(&[]);
    let mut a = vigil.raw();
    let mut b = vigil.raw();
    let aborted = |a: &mut common::Raw, b: &mut common::Raw, setup: &str, touch: &str| -> bool {
        a.cmd_str("FLUSHALL");
        a.cmd_str(setup);
        a.cmd_str("WATCH k");
        b.cmd_str(touch);
        a.cmd_str("MULTI");
        a.cmd_str("PING");
        a.cmd_str("EXEC") == "*-1\r\n"
    };
    assert!(aborted(&mut a, &mut b, "SET k 1", "FLUSHALL"));
    assert!(aborted(&mut a, &mut b, "SET k 1", "FLUSHDB"));
    assert!(aborted(&mut a, &mut b, "SET k 1", "SWAPDB 0 1"));
    assert!(aborted(&mut a, &mut b, "SET k 1", "RENAME k other"));
    assert!(aborted(&mut a, &mut b, "SET k 1", "EXPIRE k 100"));
    assert!(aborted(&mut a, &mut b, "SET k 1", "DEL k"));
    // A write to another key, or a read, does not abort.
    assert!(!aborted(&mut a, &mut b, "SET k 1", "SET other 1"));
    assert!(!aborted(&mut a, &mut b, "SET k 1", "GET k"));
    // FLUSHALL of a database where the watched key does not exist is no change.
    assert!(!aborted(&mut a, &mut b, "SET other 1", "FLUSHALL"));

    // A watched key that expires before EXEC aborts it.
    a.cmd_str("SET k v PX 50");
    a.cmd_str("WATCH k");
    std::thread::sleep(Duration::from_millis(100));
    a.cmd_str("MULTI");
    a.cmd_str("PING");
    assert_eq!(a.cmd_str("EXEC"), "*-1\r\n");
}

#[test]
fn expired_keys_disappear_on_access_and_in_the_background() {
    let vigil = Server::vigil(&[]);
    let mut c = vigil.client();
    let _: () = redis::cmd("SET")
        .arg("lazy")
        .arg("v")
        .arg("PX")
        .arg(30)
        .query(&mut c)
        .unwrap();
    assert!(wait_until(Duration::from_secs(2), || c
        .get::<_, Option<String>>("lazy")
        .unwrap()
        .is_none()));

    // Many short-lived keys that nobody reads are reclaimed by the active
    // cycle, so memory does not grow without bound.
    let mut pipe = redis::pipe();
    for i in 0..100_000 {
        pipe.cmd("SET")
            .arg(format!("short:{i}"))
            .arg("v")
            .arg("PX")
            .arg(200)
            .ignore();
    }
    let _: () = pipe.query(&mut c).unwrap();
    for i in 0..1000 {
        let _: () = c.set(format!("keep:{i}"), i).unwrap();
    }
    let dbsize = |c: &mut redis::Connection| -> i64 { redis::cmd("DBSIZE").query(c).unwrap() };
    assert!(dbsize(&mut c) > 1000);
    assert!(
        wait_until(Duration::from_secs(10), || dbsize(&mut c) <= 1100),
        "expired keys still present: {}",
        dbsize(&mut c)
    );
    let info: String = redis::cmd("INFO").arg("stats").query(&mut c).unwrap();
    let expired: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("expired_keys:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(expired >= 99_000, "expired_keys:{expired}");
    let keyspace: String = redis::cmd("INFO").arg("keyspace").query(&mut c).unwrap();
    assert!(keyspace.contains("db0:keys="), "{keyspace}");
}

#[test]
fn debug_set_active_expire_stops_background_expiry() {
    let vigil = Server::vigil(&[]);
    let mut c = vigil.client();
    let ok: String = redis::cmd("DEBUG")
        .arg("SET-ACTIVE-EXPIRE")
        .arg(0)
        .query(&mut c)
        .unwrap();
    assert_eq!(ok, "OK");
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .arg("PX")
        .arg(20)
        .query(&mut c)
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 1, "active expiry is off: the key is still counted");
    let v: Option<String> = c.get("k").unwrap();
    assert_eq!(v, None, "lazy expiry still applies");
}

#[test]
fn scan_returns_every_key_present_for_the_whole_iteration() {
    let vigil = Server::vigil(&[]);
    let mut c = vigil.client();
    let mut pipe = redis::pipe();
    for i in 0..5000 {
        pipe.set(format!("stable:{i}"), i).ignore();
    }
    let _: () = pipe.query(&mut c).unwrap();
    let mut writer = vigil.client();
    let mut seen = HashSet::new();
    let mut cursor: u64 = 0;
    let mut round = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(50)
            .query(&mut c)
            .unwrap();
        seen.extend(keys);
        cursor = next;
        // Grow the table a lot, then shrink it, while the iteration runs.
        round += 1;
        if round < 30 {
            let mut pipe = redis::pipe();
            for i in 0..1000 {
                pipe.set(format!("churn:{round}:{i}"), i).ignore();
            }
            let _: () = pipe.query(&mut writer).unwrap();
        } else if round == 30 {
            let churn: Vec<String> = writer.keys("churn:*").unwrap();
            for chunk in churn.chunks(1000) {
                let _: () = writer.del(chunk).unwrap();
            }
        }
        if cursor == 0 {
            break;
        }
    }
    let missing: Vec<usize> = (0..5000)
        .filter(|i| !seen.contains(&format!("stable:{i}")))
        .collect();
    assert!(
        missing.is_empty(),
        "{} stable keys never returned, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
}

#[test]
fn redis_cli_scan_lists_matching_keys() {
    let vigil = Server::vigil(&[]);
    let mut c = vigil.client();
    for i in 0..300 {
        let _: () = c.set(format!("user:{i}"), i).unwrap();
        let _: () = c.set(format!("other:{i}"), i).unwrap();
    }
    let keys: HashSet<String> = common::redis_cli(vigil.port, &["--scan", "--pattern", "user:*"])
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(keys.len(), 300);
    assert!(keys.iter().all(|k| k.starts_with("user:")));
}

//! Pub/Sub and keyspace notifications through the real binary: delivery
//! to channel and pattern subscribers in both protocol versions, the RESP2
//! subscribed-mode restrictions, notifications for each kind of change, and
//! a slow subscriber cut off without stalling publishers.

mod common;

use std::time::{Duration, Instant};

use common::{show, wait_until, Kind, Server};

#[test]
fn messages_reach_channel_and_pattern_subscribers() {
    let vigil = Server::vigil(&[]);
    let mut sub = vigil.raw();
    sub.send(b"SUBSCRIBE news sports\r\n");
    assert_eq!(
        sub.read_reply(),
        b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
    );
    assert_eq!(
        sub.read_reply(),
        b"*3\r\n$9\r\nsubscribe\r\n$6\r\nsports\r\n:2\r\n"
    );
    sub.send(b"PSUBSCRIBE n*\r\n");
    assert_eq!(
        sub.read_reply(),
        b"*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:3\r\n"
    );

    let mut publisher = vigil.raw();
    assert_eq!(publisher.cmd_str("PUBLISH news hello"), ":2\r\n");
    assert_eq!(
        sub.read_reply(),
        b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
    );
    assert_eq!(
        sub.read_reply(),
        b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
    );
    assert_eq!(publisher.cmd_str("PUBLISH nothing x"), ":1\r\n");
    assert_eq!(publisher.cmd_str("PUBLISH other x"), ":0\r\n");
    assert_eq!(
        sub.read_reply(),
        b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$7\r\nnothing\r\n$1\r\nx\r\n"
    );

    assert_eq!(
        publisher.cmd_str("PUBSUB NUMSUB news sports none"),
        "*6\r\n$4\r\nnews\r\n:1\r\n$6\r\nsports\r\n:1\r\n$4\r\nnone\r\n:0\r\n"
    );
    assert_eq!(publisher.cmd_str("PUBSUB NUMPAT"), ":1\r\n");

    // RESP2 subscribed mode: only (P|S)(UN)SUBSCRIBE, PING, QUIT, RESET.
    sub.send(b"GET x\r\n");
    assert_eq!(
        sub.read_reply(),
        b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    sub.send(b"PING\r\n");
    assert_eq!(sub.read_reply(), b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    sub.send(b"UNSUBSCRIBE\r\n");
    let a = sub.read_reply();
    let b = sub.read_reply();
    let mut both = [show(&a), show(&b)];
    both.sort();
    assert!(
        both[0].contains("news") && both[1].contains("sports"),
        "{both:?}"
    );
    sub.send(b"PUNSUBSCRIBE\r\n");
    assert_eq!(
        sub.read_reply(),
        b"*3\r\n$12\r\npunsubscribe\r\n$2\r\nn*\r\n:0\r\n"
    );
    sub.send(b"GET x\r\n");
    assert_eq!(sub.read_reply(), b"$-1\r\n");
}

#[test]
fn resp3_subscribers_get_push_frames_and_may_run_commands() {
    let vigil = Server::vigil(&[]);
    let mut sub = vigil.raw();
    sub.send(b"HELLO 3\r\n");
    sub.read_reply();
    sub.send(b"SUBSCRIBE ch\r\n");
    assert_eq!(
        sub.read_reply(),
        b">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
    );
    sub.send(b"GET missing\r\nPING\r\n");
    assert_eq!(sub.read_reply(), b"_\r\n");
    assert_eq!(sub.read_reply(), b"+PONG\r\n");
    // A RESP3 client publishing to itself gets the push and the count.
    sub.send(b"PUBLISH ch self\r\n");
    assert_eq!(
        sub.read_reply(),
        b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$4\r\nself\r\n"
    );
    assert_eq!(sub.read_reply(), b":1\r\n");
}

#[test]
fn keyspace_notifications_follow_notify_keyspace_events() {
    let vigil = Server::vigil(&["--notify-keyspace-events", "KEA"]);
    let mut sub = vigil.raw();
    sub.send(b"PSUBSCRIBE __key*@0__:*\r\n");
    sub.read_reply();
    let mut c = vigil.raw();
    for cmd in [
        "SET nk 1",
        "EXPIRE nk 100",
        "INCR nk",
        "APPEND nk x",
        "DEL nk",
        "SET e1 1 PX 50",
        "RENAME e1 e2",
    ] {
        c.cmd_str(cmd);
    }
    let mut events = Vec::new();
    for _ in 0..16 {
        let r = sub.read_reply();
        let text = String::from_utf8_lossy(&r).into_owned();
        let parts: Vec<&str> = text.split("\r\n").collect();
        // *4 $8 pmessage $len pattern $len channel $len payload
        events.push(format!("{} {}", parts[6], parts[8]));
    }
    let expected = [
        "__keyspace@0__:nk set",
        "__keyevent@0__:set nk",
        "__keyspace@0__:nk expire",
        "__keyevent@0__:expire nk",
        "__keyspace@0__:nk incrby",
        "__keyevent@0__:incrby nk",
        "__keyspace@0__:nk append",
        "__keyevent@0__:append nk",
        "__keyspace@0__:nk del",
        "__keyevent@0__:del nk",
        "__keyspace@0__:e1 set",
        "__keyevent@0__:set e1",
        "__keyspace@0__:e1 expire",
        "__keyevent@0__:expire e1",
        "__keyspace@0__:e1 rename_from",
        "__keyevent@0__:rename_from e1",
    ];
    assert_eq!(events, expected);
    // The renamed key expires on its own (active cycle): an `expired` event.
    let r = String::from_utf8_lossy(&sub.read_reply()).into_owned();
    assert!(r.contains("rename_to"), "{r}");
    sub.read_reply();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut saw_expired = false;
    while Instant::now() < deadline && !saw_expired {
        saw_expired = String::from_utf8_lossy(&sub.read_reply()).contains("expired");
    }
    assert!(saw_expired, "no expired event for e2");
}

#[test]
fn notifications_are_off_by_default_and_classes_filter() {
    for (args, expect_first) in [
        (&[][..], "marker"),
        (
            &["--notify-keyspace-events", "Eg"][..],
            "__keyevent@0__:del",
        ),
    ] {
        let vigil = Server::vigil(args);
        let mut sub = vigil.raw();
        sub.send(b"PSUBSCRIBE *\r\n");
        sub.read_reply();
        let mut c = vigil.raw();
        // With Eg: SET is a string event (filtered out); DEL is generic.
        c.cmd_str("SET a 2");
        c.cmd_str("DEL a");
        c.cmd_str("PUBLISH marker done");
        let first = String::from_utf8_lossy(&sub.read_reply()).into_owned();
        assert!(first.contains(expect_first), "{args:?}: {first}");
    }
}

#[test]
fn a_slow_subscriber_is_disconnected_and_publishers_never_wait() {
    for kind in [Kind::Vigil, Kind::Redis] {
        let server = Server::start(
            kind,
            &["--client-output-buffer-limit", "pubsub 256kb 128kb 1"],
        );
        // A subscriber that never reads.
        let _slow = server.stalled_subscriber("firehose");
        let mut probe = server.raw();
        let rss_before = server.status_kb("VmRSS:");

        let payload = vec![b'x'; 16 * 1024];
        let mut publisher = server.raw();
        let started = Instant::now();
        for _ in 0..2000 {
            let r = publisher.cmd(&[b"PUBLISH", b"firehose", &payload]);
            assert!(r.starts_with(b":"), "{}", show(&r));
        }
        // 32 MB published in well under the time a blocked publisher would take.
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(20),
            "publishing stalled: {took:?}"
        );
        assert!(wait_until(Duration::from_secs(5), || probe
            .cmd_str("PUBSUB NUMSUB firehose")
            .ends_with(":0\r\n")));
        assert_eq!(publisher.cmd_str("PUBLISH firehose x"), ":0\r\n");
        // The node never held the flood for the subscriber: its peak RSS
        // stayed within a few MB of where it started.
        let peak = server.status_kb("VmHWM:");
        let grew = peak.saturating_sub(rss_before);
        eprintln!("{kind:?}: 32 MB to a stalled subscriber in {took:?}, peak RSS +{grew} kB");
        assert!(grew < 8 * 1024, "{kind:?}: peak RSS grew by {grew} kB");
    }
}

/// With the default pubsub limits (32 MB hard), a 200 MB flood to a
/// subscriber that never reads costs the node about the hard limit, not
/// the flood. (Measured: peak RSS +38 MB for Redis, +40 MB for Vigil, which
/// stops writing into a reply at the hard limit instead of growing it.)
#[test]
fn default_pubsub_limits_bound_memory_under_a_flood() {
    for kind in [Kind::Redis, Kind::Vigil] {
        let server = Server::start(kind, &[]);
        let _slow = server.stalled_subscriber("firehose");
        let mut publisher = server.raw();
        let rss_before = server.status_kb("VmRSS:");
        let payload = vec![b'x'; 16 * 1024];
        let mut delivered = 0;
        for _ in 0..12_800 {
            if publisher.cmd(&[b"PUBLISH", b"firehose", &payload]) == b":1\r\n" {
                delivered += 1;
            }
        }
        assert!(
            delivered < 12_800,
            "{kind:?}: the subscriber was never cut off"
        );
        let grew = server.status_kb("VmHWM:").saturating_sub(rss_before);
        eprintln!(
            "{kind:?}: 200 MB flood, subscriber cut after {} MB, peak RSS +{} MB",
            delivered * 16 / 1024,
            grew / 1024
        );
        assert!(grew < 48 * 1024, "{kind:?}: peak RSS grew by {grew} kB");
    }
}

//! The effect stream of sorted-set writes (what replicas and the AOF get),
//! through a node without sockets. The expected streams are what a real
//! Redis 7.0.15 master sent `redis-cli --replica` for the same commands.

use crate::node::test_support::{node_with_capture, replies, run, stream};

#[test]
fn writes_that_change_nothing_are_not_propagated() {
    let (mut node, id) = node_with_capture();
    run(
        &mut node,
        id,
        &[
            "zadd a 1 x 2 y 3 z",
            "zadd a 1 x",
            "zadd a xx 5 nope",
            "zadd a incr 0 x",
            "zadd a gt 0 x",
            "zadd missing xx 1 x",
            "zrem a nope",
            "zrem missing x",
            "zpopmin a 0",
            "zpopmin missing",
            "zmpop 1 missing min",
            "zremrangebyrank a 5 10",
            "zremrangebyscore a 10 20",
            "zremrangebylex a [q [r",
            "zunionstore f 1 missing",
            "zrangestore g a 5 6",
            "zdiffstore g 2 a a",
            "zrange a 0 -1",
            "zrandmember a 2",
        ],
    );
    assert_eq!(stream(&mut node), ["SELECT 0", "zadd a 1 x 2 y 3 z"]);
}

#[test]
fn writes_propagate_verbatim_and_pops_as_the_zpop_that_happened() {
    let (mut node, id) = node_with_capture();
    run(
        &mut node,
        id,
        &[
            "zadd a 1 x 2 y 3 z",
            "zincrby a 1 x",
            "zrem a x",
            "zpopmin a",
            "zpopmax a 5",
            "zadd b 1 x 2 y 3 z",
            "zmpop 1 b min count 2",
            "zmpop 1 b max count 10",
            "zadd c 1 x",
            "bzpopmin c 0",
            "zadd d 1 x 2 y",
            "bzmpop 0 1 d max count 5",
            "zadd d2 1 x 2 y",
            "bzmpop 0 1 d2 max",
            "zadd e 1 x 2 y",
            "zremrangebyscore e 1 1",
            "zunionstore f 1 e",
            "zunionstore f 1 nokey",
            "zrangestore g e 0 -1",
            "zrangestore g e 5 6",
            "zinterstore g2 1 e",
        ],
    );
    assert_eq!(
        stream(&mut node),
        [
            "SELECT 0",
            "zadd a 1 x 2 y 3 z",
            "zincrby a 1 x",
            "zrem a x",
            "zpopmin a",
            "zpopmax a 5",
            "zadd b 1 x 2 y 3 z",
            "ZPOPMIN b 2",
            "ZPOPMAX b 1",
            "zadd c 1 x",
            "ZPOPMIN c",
            "zadd d 1 x 2 y",
            "ZPOPMAX d 2",
            "zadd d2 1 x 2 y",
            "ZPOPMAX d2 1",
            "zadd e 1 x 2 y",
            "zremrangebyscore e 1 1",
            "zunionstore f 1 e",
            // Deleting the existing destination is a change too.
            "zunionstore f 1 nokey",
            "zrangestore g e 0 -1",
            "zrangestore g e 5 6",
            "zinterstore g2 1 e",
        ]
    );
}

#[test]
fn blocking_pops_inside_a_transaction_do_not_block() {
    let (mut node, id) = node_with_capture();
    let reply = run(
        &mut node,
        id,
        &[
            "multi",
            "zadd h 1 x",
            "zpopmin h",
            "bzpopmin h 0",
            "zadd h 2 y",
            "bzmpop 0 1 h min",
            "exec",
        ],
    );
    assert!(
        reply.ends_with("*5\r\n:1\r\n*2\r\n$1\r\nx\r\n$1\r\n1\r\n*-1\r\n:1\r\n*2\r\n$1\r\nh\r\n*1\r\n*2\r\n$1\r\ny\r\n$1\r\n2\r\n"),
        "{reply:?}"
    );
    assert_eq!(
        stream(&mut node),
        [
            "SELECT 0",
            "MULTI",
            "zadd h 1 x",
            "zpopmin h",
            "zadd h 2 y",
            "ZPOPMIN h 1",
            "EXEC"
        ]
    );
}

#[test]
fn a_served_waiter_propagates_its_pop_after_the_write_that_woke_it() {
    let (mut node, waiter) = node_with_capture();
    let writer = node.connect(|_| {});
    let other = node.connect(|_| {});
    assert_eq!(run(&mut node, waiter, &["bzpopmin k 0"]), "");
    assert_eq!(run(&mut node, other, &["bzmpop 0 1 k2 max count 3"]), "");
    run(&mut node, writer, &["zadd k 1 x 2 y", "zadd k2 1 x 2 y"]);
    assert_eq!(
        replies(&mut node, waiter),
        "*3\r\n$1\r\nk\r\n$1\r\nx\r\n$1\r\n1\r\n"
    );
    assert_eq!(
        replies(&mut node, other),
        "*2\r\n$2\r\nk2\r\n*2\r\n*2\r\n$1\r\ny\r\n$1\r\n2\r\n*2\r\n$1\r\nx\r\n$1\r\n1\r\n"
    );
    assert_eq!(
        stream(&mut node),
        [
            "SELECT 0",
            "zadd k 1 x 2 y",
            "ZPOPMIN k",
            "zadd k2 1 x 2 y",
            "ZPOPMAX k2 2",
        ]
    );
}

#[test]
fn waiters_are_served_first_come_first_served() {
    let (mut node, first) = node_with_capture();
    let second = node.connect(|_| {});
    let writer = node.connect(|_| {});
    run(&mut node, first, &["bzpopmax k 0"]);
    run(&mut node, second, &["bzpopmin other k 0"]);
    run(&mut node, writer, &["zadd k 1 a"]);
    assert_eq!(
        replies(&mut node, first),
        "*3\r\n$1\r\nk\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    assert_eq!(replies(&mut node, second), "");
    run(&mut node, writer, &["zadd k 2 b"]);
    assert_eq!(
        replies(&mut node, second),
        "*3\r\n$1\r\nk\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
    // A key created with another type serves nobody.
    run(&mut node, first, &["bzpopmin s 0"]);
    run(&mut node, writer, &["set s v", "del s", "zadd s 3 c"]);
    assert_eq!(
        replies(&mut node, first),
        "*3\r\n$1\r\ns\r\n$1\r\nc\r\n$1\r\n3\r\n"
    );
}

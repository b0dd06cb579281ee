//! Pub/Sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH,
//! PUBSUB CHANNELS|NUMSUB|NUMPAT|SHARDCHANNELS|SHARDNUMSUB.
//!
//! Delivery and the subscription registry live in `node::pubsub`; this
//! module parses and replies. Sharded channels (7.0) are a separate
//! namespace; on a standalone node they behave like plain channels.

use super::{command, flags, keys, subcommand, CmdResult, Command, Ctx};
use crate::node::pubsub::write_confirmation;
use crate::util::glob;

const SUB_FLAGS: u64 = flags::PUBSUB | flags::NOSCRIPT | flags::LOADING | flags::STALE;

pub const COMMANDS: &[Command] = &[
    command(
        "subscribe",
        -2,
        SUB_FLAGS,
        0,
        keys(0, 0, 0),
        "pubsub",
        "2.0.0",
        subscribe,
    ),
    command(
        "unsubscribe",
        -1,
        SUB_FLAGS,
        0,
        keys(0, 0, 0),
        "pubsub",
        "2.0.0",
        unsubscribe,
    ),
    command(
        "psubscribe",
        -2,
        SUB_FLAGS,
        0,
        keys(0, 0, 0),
        "pubsub",
        "2.0.0",
        psubscribe,
    ),
    command(
        "punsubscribe",
        -1,
        SUB_FLAGS,
        0,
        keys(0, 0, 0),
        "pubsub",
        "2.0.0",
        punsubscribe,
    ),
    command(
        "ssubscribe",
        -2,
        SUB_FLAGS,
        0,
        keys(1, -1, 1),
        "pubsub",
        "7.0.0",
        ssubscribe,
    ),
    command(
        "sunsubscribe",
        -1,
        SUB_FLAGS,
        0,
        keys(1, -1, 1),
        "pubsub",
        "7.0.0",
        sunsubscribe,
    ),
    command(
        "publish",
        3,
        flags::PUBSUB | flags::LOADING | flags::STALE | flags::FAST | flags::MAY_REPLICATE,
        0,
        keys(0, 0, 0),
        "pubsub",
        "2.0.0",
        publish,
    ),
    command(
        "spublish",
        3,
        flags::PUBSUB | flags::LOADING | flags::STALE | flags::FAST | flags::MAY_REPLICATE,
        0,
        keys(1, 1, 1),
        "pubsub",
        "7.0.0",
        spublish,
    ),
    Command {
        subcommands: &[
            subcommand(
                "channels",
                "pubsub|channels",
                -2,
                flags::PUBSUB | flags::LOADING | flags::STALE,
                0,
                keys(0, 0, 0),
                "2.8.0",
                pubsub_channels,
            ),
            subcommand(
                "help",
                "pubsub|help",
                2,
                flags::LOADING | flags::STALE,
                0,
                keys(0, 0, 0),
                "6.2.0",
                pubsub_help,
            ),
            subcommand(
                "numpat",
                "pubsub|numpat",
                2,
                flags::PUBSUB | flags::LOADING | flags::STALE,
                0,
                keys(0, 0, 0),
                "2.8.0",
                pubsub_numpat,
            ),
            subcommand(
                "numsub",
                "pubsub|numsub",
                -2,
                flags::PUBSUB | flags::LOADING | flags::STALE,
                0,
                keys(0, 0, 0),
                "2.8.0",
                pubsub_numsub,
            ),
            subcommand(
                "shardchannels",
                "pubsub|shardchannels",
                -2,
                flags::PUBSUB | flags::LOADING | flags::STALE,
                0,
                keys(0, 0, 0),
                "7.0.0",
                pubsub_shardchannels,
            ),
            subcommand(
                "shardnumsub",
                "pubsub|shardnumsub",
                -2,
                flags::PUBSUB | flags::LOADING | flags::STALE,
                0,
                keys(0, 0, 0),
                "7.0.0",
                pubsub_shardnumsub,
            ),
        ],
        ..command(
            "pubsub",
            -2,
            0,
            0,
            keys(0, 0, 0),
            "pubsub",
            "2.8.0",
            super::container,
        )
    },
];

fn subscribe(ctx: &mut Ctx) -> CmdResult {
    for i in 1..ctx.argc() {
        ctx.node.subscribe(ctx.client, ctx.arg(i));
    }
    Ok(())
}

fn psubscribe(ctx: &mut Ctx) -> CmdResult {
    for i in 1..ctx.argc() {
        ctx.node.psubscribe(ctx.client, ctx.arg(i));
    }
    Ok(())
}

fn ssubscribe(ctx: &mut Ctx) -> CmdResult {
    for i in 1..ctx.argc() {
        ctx.node.ssubscribe(ctx.client, ctx.arg(i));
    }
    Ok(())
}

/// Which subscription set an UNSUBSCRIBE-family command works on.
#[derive(Clone, Copy)]
enum Family {
    Channels,
    Patterns,
    Shard,
}

/// (P|S)UNSUBSCRIBE: the named subscriptions, or all of them. With none to
/// drop, Redis still confirms once, with a null name.
fn unsubscribe_generic(ctx: &mut Ctx, family: Family) -> CmdResult {
    let names: Vec<Vec<u8>> = if ctx.argc() == 1 {
        let set = match family {
            Family::Channels => &ctx.client.channels,
            Family::Patterns => &ctx.client.patterns,
            Family::Shard => &ctx.client.shard_channels,
        };
        set.iter().cloned().collect()
    } else {
        ctx.argv[1..].iter().map(|a| a.to_vec()).collect()
    };
    if names.is_empty() {
        let (kind, count): (&[u8], usize) = match family {
            Family::Channels => (b"unsubscribe", ctx.client.subscriptions()),
            Family::Patterns => (b"punsubscribe", ctx.client.subscriptions()),
            Family::Shard => (b"sunsubscribe", ctx.client.shard_channels.len()),
        };
        write_confirmation(&mut ctx.client.reply, kind, None, count);
    }
    for name in names {
        match family {
            Family::Channels => ctx.node.unsubscribe(ctx.client, &name),
            Family::Patterns => ctx.node.punsubscribe(ctx.client, &name),
            Family::Shard => ctx.node.sunsubscribe(ctx.client, &name),
        }
    }
    Ok(())
}

fn unsubscribe(ctx: &mut Ctx) -> CmdResult {
    unsubscribe_generic(ctx, Family::Channels)
}

fn punsubscribe(ctx: &mut Ctx) -> CmdResult {
    unsubscribe_generic(ctx, Family::Patterns)
}

fn sunsubscribe(ctx: &mut Ctx) -> CmdResult {
    unsubscribe_generic(ctx, Family::Shard)
}

fn publish(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.node.publish(ctx.client, ctx.arg(1), ctx.arg(2));
    ctx.client.reply.int(n as i64);
    Ok(())
}

fn spublish(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.node.spublish(ctx.client, ctx.arg(1), ctx.arg(2));
    ctx.client.reply.int(n as i64);
    Ok(())
}

fn list_channels(ctx: &mut Ctx, shard: bool) {
    let pattern = ctx.argv.get(2).copied();
    let map = if shard {
        &ctx.node.pubsub.shard_channels
    } else {
        &ctx.node.pubsub.channels
    };
    let names: Vec<&Vec<u8>> = map
        .keys()
        .filter(|ch| pattern.is_none_or(|p| glob::matches(p, ch, false)))
        .collect();
    let r = &mut ctx.client.reply;
    r.array(names.len());
    for ch in names {
        r.bulk(ch);
    }
}

fn pubsub_channels(ctx: &mut Ctx) -> CmdResult {
    list_channels(ctx, false);
    Ok(())
}

fn pubsub_shardchannels(ctx: &mut Ctx) -> CmdResult {
    list_channels(ctx, true);
    Ok(())
}

fn count_subscribers(ctx: &mut Ctx, shard: bool) {
    let map = if shard {
        &ctx.node.pubsub.shard_channels
    } else {
        &ctx.node.pubsub.channels
    };
    let r = &mut ctx.client.reply;
    r.array((ctx.argv.len() - 2) * 2);
    for ch in &ctx.argv[2..] {
        r.bulk(ch);
        r.int(map.get(*ch).map_or(0, Vec::len) as i64);
    }
}

fn pubsub_numsub(ctx: &mut Ctx) -> CmdResult {
    count_subscribers(ctx, false);
    Ok(())
}

fn pubsub_shardnumsub(ctx: &mut Ctx) -> CmdResult {
    count_subscribers(ctx, true);
    Ok(())
}

fn pubsub_numpat(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.node.pubsub.patterns.len();
    ctx.client.reply.int(n as i64);
    Ok(())
}

fn pubsub_help(ctx: &mut Ctx) -> CmdResult {
    super::reply_help(
        ctx,
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    );
    Ok(())
}

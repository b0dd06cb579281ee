//! MEMORY subcommands: USAGE, STATS, DOCTOR, MALLOC-STATS, PURGE, HELP.
//!
//! STATS and DOCTOR read the same [`Overview`](crate::node::memory::Overview)
//! INFO memory prints, so the three never disagree. USAGE estimates one
//! key: its table entry, the key's bytes and the value's bytes.

use super::{
    command, flags, is, keys, parse_int, subcommand, CmdResult, Command, Ctx, NO_KEYS, SYNTAX,
};
use crate::node::keyspace::value::Data;
use crate::node::keyspace::{SmallBytes, Value};
use crate::node::memory::{self, Overview};

pub const COMMANDS: &[Command] = &[Command {
    subcommands: &[
        subcommand("doctor", "memory|doctor", 2, 0, 0, NO_KEYS, "4.0.0", doctor),
        subcommand(
            "help",
            "memory|help",
            2,
            flags::LOADING | flags::STALE,
            0,
            NO_KEYS,
            "4.0.0",
            help,
        ),
        subcommand(
            "malloc-stats",
            "memory|malloc-stats",
            2,
            0,
            0,
            NO_KEYS,
            "4.0.0",
            malloc_stats,
        ),
        subcommand("purge", "memory|purge", 2, 0, 0, NO_KEYS, "4.0.0", purge),
        subcommand("stats", "memory|stats", 2, 0, 0, NO_KEYS, "4.0.0", stats),
        subcommand(
            "usage",
            "memory|usage",
            -3,
            flags::READONLY,
            0,
            keys(2, 2, 1),
            "4.0.0",
            usage,
        ),
    ],
    ..command(
        "memory",
        -2,
        0,
        0,
        NO_KEYS,
        "server",
        "4.0.0",
        super::container,
    )
}];

/// Elements sampled by USAGE without SAMPLES (Redis's
/// `OBJ_COMPUTE_SIZE_DEF_SAMPLES`).
const DEFAULT_SAMPLES: usize = 5;

/// `MEMORY USAGE key [SAMPLES count]`: bytes of the key, its value and its
/// table entry; null for a missing key. Like Redis it looks the key up
/// without expiring or touching it.
fn usage(ctx: &mut Ctx) -> CmdResult {
    let mut samples = DEFAULT_SAMPLES;
    let mut j = 3;
    while j < ctx.argc() {
        if !(is(ctx.arg(j), "samples") && j + 1 < ctx.argc()) {
            return Err(SYNTAX);
        }
        let n = parse_int(ctx.arg(j + 1))?;
        if n < 0 {
            return Err(SYNTAX);
        }
        samples = if n == 0 { usize::MAX } else { n as usize };
        j += 2;
    }
    let key = ctx.arg(2);
    match ctx.node.keyspace.dbs[ctx.client.db].get(key) {
        None => ctx.client.reply.null(),
        Some(value) => {
            let bytes = entry_size(key) + value_size(value, samples);
            ctx.client.reply.int(bytes as i64);
        }
    }
    Ok(())
}

/// A key's table entry: the chain link, the key and the value slots, plus
/// the key's own allocation when it is too long to sit inline.
fn entry_size(key: &[u8]) -> usize {
    std::mem::size_of::<usize>()
        + std::mem::size_of::<SmallBytes>()
        + std::mem::size_of::<Value>()
        + SmallBytes::new(key).heap_size()
}

/// The value's heap bytes. Vigil keeps most sizes exactly (list nodes,
/// packs, hash pair bytes, skiplist sizes); only a hashtable set must walk
/// its members, so there, as Redis does for every aggregate, `samples`
/// members are measured and the average stands for all.
fn value_size(value: &Value, samples: usize) -> usize {
    match &value.data {
        Data::Set(set) => set.heap_size_sampled(samples),
        data => data.heap_size(),
    }
}

/// `MEMORY STATS`: Redis 7.0's map, in its order.
fn stats(ctx: &mut Ctx) -> CmdResult {
    let o = ctx.node.memory_overview(ctx.client);
    let r = &mut ctx.client.reply;
    // Redis computes the ratios in single precision; printing them the
    // same way keeps the digits alike.
    let float = |x: f64| x as f32 as f64;
    let a = o.alloc;
    r.map(27 + o.dbs.len());
    let ints = [
        ("peak.allocated", o.peak as i64),
        ("total.allocated", o.used as i64),
        ("startup.allocated", o.startup as i64),
        ("replication.backlog", o.replication_backlog as i64),
        ("clients.slaves", o.clients_replicas as i64),
        ("clients.normal", o.clients_normal as i64),
        ("cluster.links", 0),
        ("aof.buffer", o.aof_buffer as i64),
        ("lua.caches", 0),
        ("functions.caches", 0),
    ];
    for (name, v) in ints {
        r.bulk(name.as_bytes());
        r.int(v);
    }
    for &(db, main, expires) in &o.dbs {
        r.bulk(format!("db.{db}").as_bytes());
        r.map(3);
        r.bulk(b"overhead.hashtable.main");
        r.int(main as i64);
        r.bulk(b"overhead.hashtable.expires");
        r.int(expires as i64);
        r.bulk(b"overhead.hashtable.slot-to-keys");
        r.int(0);
    }
    for (name, v) in [
        ("overhead.total", o.overhead),
        ("keys.count", o.keys),
        ("keys.bytes-per-key", o.bytes_per_key()),
        ("dataset.bytes", o.dataset),
    ] {
        r.bulk(name.as_bytes());
        r.int(v as i64);
    }
    r.bulk(b"dataset.percentage");
    r.double(float(o.dataset_perc()));
    r.bulk(b"peak.percentage");
    r.double(float(o.peak_perc()));
    for (name, v) in [
        ("allocator.allocated", a.allocated),
        ("allocator.active", a.active),
        ("allocator.resident", a.resident),
    ] {
        r.bulk(name.as_bytes());
        r.int(v as i64);
    }
    let pairs = [
        ("allocator-fragmentation", a.active, a.allocated),
        ("allocator-rss", a.resident, a.active),
        ("rss-overhead", o.rss, a.resident),
    ];
    for (name, num, den) in pairs {
        r.bulk(format!("{name}.ratio").as_bytes());
        r.double(float(memory::ratio(num, den)));
        r.bulk(format!("{name}.bytes").as_bytes());
        r.int(num as i64 - den as i64);
    }
    r.bulk(b"fragmentation");
    r.double(float(memory::ratio(o.rss, o.used)));
    r.bulk(b"fragmentation.bytes");
    r.int(o.rss as i64 - o.used as i64);
    Ok(())
}

fn doctor(ctx: &mut Ctx) -> CmdResult {
    let o = ctx.node.memory_overview(ctx.client);
    let report = doctor_report(&o);
    ctx.client.reply.verbatim(report.as_bytes());
    Ok(())
}

/// Redis's memory doctor: the conditions it checks, and its words.
fn doctor_report(o: &Overview) -> String {
    const MB: u64 = 1 << 20;
    let a = &o.alloc;
    // Below 5 MB nothing meaningful can be said.
    if o.used < 5 * MB {
        return "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n".to_string();
    }
    let over = |num: u64, den: u64, ratio: f64| {
        memory::ratio(num, den) as f32 > ratio as f32 && num.saturating_sub(den) > 10 * MB
    };
    // The checks, in Redis's order of report.
    let big_peak = memory::ratio(o.peak, o.used) as f32 > 1.5;
    let high_frag = over(o.rss, o.used, 1.4);
    let high_alloc_frag = over(a.active, a.allocated, 1.1);
    let high_alloc_rss = over(a.resident, a.active, 1.1);
    let high_proc_rss = over(o.rss, a.resident, 1.1);
    let big_client_buf = o.clients > 0 && o.clients_normal / o.clients as u64 > 200 * 1024;
    let big_replica_buf = o.replicas > 0 && o.clients_replicas / o.replicas as u64 > 10 * MB;
    let reports = [
        (big_peak, " * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n"),
        (high_frag, " * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"jemalloc-5.3.0\".\n\n"),
        (high_alloc_frag, " * High allocator fragmentation: This instance has an allocator external fragmentation greater than 1.1. This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. You can try enabling 'activedefrag' config option.\n\n"),
        (high_alloc_rss, " * High allocator RSS overhead: This instance has an RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the allocator is much larger than the sum what the allocator actually holds). This problem is usually due to a large peak memory (check if there is a peak memory entry above in the report), you can try the MEMORY PURGE command to reclaim it.\n\n"),
        (high_proc_rss, " * High process RSS overhead: This instance has non-allocator RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the Redis process is much larger than the RSS the allocator holds). This problem may be due to Lua scripts or Modules.\n\n"),
        (big_replica_buf, " * Big replica buffers: The replica output buffers in this instance are greater than 10MB for each replica (on average). This likely means that there is some replica instance that is struggling receiving data, either because it is too slow or because of networking issues. As a result, data piles on the master output buffers. Please try to identify what replica is not receiving data correctly and why. You can use the INFO output in order to check the replicas delays and the CLIENT LIST command to check the output buffers of each replica.\n\n"),
        (big_client_buf, " * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n"),
    ];
    if reports.iter().all(|(found, _)| !found) {
        return "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n".to_string();
    }
    let mut s =
        "Sam, I detected a few issues in this Redis instance memory implants:\n\n".to_string();
    for (_, text) in reports.iter().filter(|(found, _)| *found) {
        s.push_str(text);
    }
    s.push_str("I'm here to keep you safe, Sam. I want to help you.\n");
    s
}

fn malloc_stats(ctx: &mut Ctx) -> CmdResult {
    let text = memory::malloc_stats_text();
    ctx.client.reply.verbatim(text.as_bytes());
    Ok(())
}

fn purge(ctx: &mut Ctx) -> CmdResult {
    if !memory::purge() {
        return Err(super::CmdError::Static("ERR Error purging dirty pages"));
    }
    ctx.client.reply.ok();
    Ok(())
}

fn help(ctx: &mut Ctx) -> CmdResult {
    super::reply_help(
        ctx,
        "MEMORY",
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doctor_speaks_of_empty_and_healthy_instances_as_redis() {
        let mut o = Overview {
            used: 1 << 20,
            ..Overview::default()
        };
        assert!(doctor_report(&o).starts_with("Hi Sam, this instance is empty"));
        o.used = 50 << 20;
        o.peak = 50 << 20;
        o.rss = 60 << 20;
        o.alloc.allocated = 50 << 20;
        o.alloc.active = 52 << 20;
        o.alloc.resident = 55 << 20;
        o.clients = 1;
        assert_eq!(
            doctor_report(&o),
            "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n"
        );
        o.peak = 200 << 20;
        let report = doctor_report(&o);
        assert!(report.starts_with("Sam, I detected a few issues in this Redis instance memory implants:\n\n * Peak memory:"));
        assert!(report.ends_with("I'm here to keep you safe, Sam. I want to help you.\n"));
    }
}

//! LATENCY subcommands: LATEST, HISTORY, RESET, GRAPH, DOCTOR, HISTOGRAM,
//! HELP. The event series live in the node's
//! [`LatencyMonitor`](crate::node::latency::LatencyMonitor); HISTOGRAM
//! reads the per-command histograms INFO latencystats shows
//! (`Stats::latency`), so both views come from one recording.

use super::{command, flags, subcommand, CmdError, CmdResult, Command, Ctx, NO_KEYS};
use crate::node::config::types::AppendFsync;
use crate::node::latency::{self, DoctorContext};
use crate::resp::reply::Reply;
use crate::util::histogram::Histogram;

const ADMIN_FLAGS: u64 = flags::ADMIN | flags::NOSCRIPT | flags::LOADING | flags::STALE;

pub const COMMANDS: &[Command] = &[Command {
    subcommands: &[
        subcommand(
            "doctor",
            "latency|doctor",
            2,
            ADMIN_FLAGS,
            0,
            NO_KEYS,
            "2.8.13",
            doctor,
        ),
        subcommand(
            "graph",
            "latency|graph",
            3,
            ADMIN_FLAGS,
            0,
            NO_KEYS,
            "2.8.13",
            graph,
        ),
        subcommand(
            "help",
            "latency|help",
            2,
            flags::LOADING | flags::STALE,
            0,
            NO_KEYS,
            "2.8.13",
            help,
        ),
        subcommand(
            "histogram",
            "latency|histogram",
            -2,
            ADMIN_FLAGS,
            0,
            NO_KEYS,
            "7.0.0",
            histogram,
        ),
        subcommand(
            "history",
            "latency|history",
            3,
            ADMIN_FLAGS,
            0,
            NO_KEYS,
            "2.8.13",
            history,
        ),
        subcommand(
            "latest",
            "latency|latest",
            2,
            ADMIN_FLAGS,
            0,
            NO_KEYS,
            "2.8.13",
            latest,
        ),
        subcommand(
            "reset",
            "latency|reset",
            -2,
            ADMIN_FLAGS,
            0,
            NO_KEYS,
            "2.8.13",
            reset,
        ),
    ],
    ..command(
        "latency",
        -2,
        0,
        0,
        NO_KEYS,
        "server",
        "2.8.13",
        super::container,
    )
}];

/// `[event, time, latest ms, all-time max ms]` per event class.
fn latest(ctx: &mut Ctx) -> CmdResult {
    let r = &mut ctx.client.reply;
    let events: Vec<_> = ctx.node.latency.events().collect();
    r.array(events.len());
    for (name, series) in events {
        let last = series.latest();
        r.array(4);
        r.bulk(name.as_bytes());
        r.int(last.time);
        r.int(last.latency as i64);
        r.int(series.max as i64);
    }
    Ok(())
}

/// `[time, ms]` pairs, oldest first; an unknown event has none.
fn history(ctx: &mut Ctx) -> CmdResult {
    let r = &mut ctx.client.reply;
    match ctx.node.latency.get(ctx.argv[2]) {
        None => r.array(0),
        Some(series) => {
            let samples: Vec<_> = series.history().collect();
            r.array(samples.len());
            for s in samples {
                r.array(2);
                r.int(s.time);
                r.int(s.latency as i64);
            }
        }
    }
    Ok(())
}

fn graph(ctx: &mut Ctx) -> CmdResult {
    let event = ctx.arg(2);
    let Some(series) = ctx.node.latency.get(event) else {
        return Err(CmdError::msg(
            [
                b"ERR No samples available for event '".as_slice(),
                super::c_str(event),
                b"'",
            ]
            .concat(),
        ));
    };
    let name = String::from_utf8_lossy(event);
    let text = latency::graph(&name, series, ctx.node.now_ms / 1000);
    ctx.client.reply.verbatim(text.as_bytes());
    Ok(())
}

fn doctor(ctx: &mut Ctx) -> CmdResult {
    let s = &ctx.node.config.settings;
    let context = DoctorContext {
        threshold_ms: s.latency_monitor_threshold,
        slowlog_log_slower_than: s.slowlog_log_slower_than,
        hz: s.hz,
        appendfsync_always: s.appendfsync == AppendFsync::Always,
        anon_huge_pages: latency::anon_huge_pages(),
    };
    let report = ctx.node.latency.doctor(&context, ctx.node.now_ms / 1000);
    ctx.client.reply.verbatim(report.as_bytes());
    Ok(())
}

/// `RESET [event ...]`: how many event classes were dropped.
fn reset(ctx: &mut Ctx) -> CmdResult {
    let argc = ctx.argc();
    let monitor = &mut ctx.node.latency;
    let resets = if argc == 2 {
        monitor.reset(None)
    } else {
        ctx.argv[2..]
            .iter()
            .map(|e| monitor.reset(Some(super::c_str(e))))
            .sum()
    };
    ctx.client.reply.int(resets as i64);
    Ok(())
}

/// `HISTOGRAM [command ...]`: per command with samples, its call count and
/// the cumulative distribution of its latencies over power-of-two
/// microsecond buckets. Names may be `parent|sub`; a container adds its
/// subcommands; unknown names and commands never run are left out.
fn histogram(ctx: &mut Ctx) -> CmdResult {
    let stats = &ctx.node.stats.latency;
    let mut chosen: Vec<&'static str> = Vec::new();
    if ctx.argc() == 2 {
        chosen.extend(stats.keys().copied());
        chosen.sort_unstable();
    } else {
        for name in &ctx.argv[2..] {
            let Some(cmd) = lookup_full_name(name) else {
                continue;
            };
            chosen.push(cmd.full_name);
            chosen.extend(cmd.subcommands.iter().map(|s| s.full_name));
        }
    }
    chosen.retain(|name| stats.get(name).is_some_and(|h| h.count() > 0));
    let r = &mut ctx.client.reply;
    r.map(chosen.len());
    for name in chosen {
        r.bulk(name.as_bytes());
        if let Some(h) = stats.get(name) {
            write_cdf(r, h);
        }
    }
    Ok(())
}

/// `config`, `config|get`: Redis's lookup of a full command name.
fn lookup_full_name(name: &[u8]) -> Option<&'static Command> {
    let mut parts = name.splitn(2, |&c| c == b'|');
    let base = super::lookup_name(parts.next()?)?;
    match parts.next() {
        None => Some(base),
        Some(sub) if base.is_container() => base.subcommand(sub),
        Some(_) => None,
    }
}

/// One command's `calls` and `histogram_usec` (bucket bound µs →
/// cumulative calls), the buckets HdrHistogram's logarithmic iteration
/// gives Redis: bounds of 1024·2^k ns, reported where the count grows.
fn write_cdf(r: &mut Reply, h: &Histogram) {
    let buckets = cdf_buckets(h);
    r.map(2);
    r.bulk(b"calls");
    r.int(h.count() as i64);
    r.bulk(b"histogram_usec");
    r.map(buckets.len());
    for (usec, count) in buckets {
        r.int(usec as i64);
        r.int(count as i64);
    }
}

/// The first bucket bound at or above Redis's histogram ceiling (1 s).
const MAX_RECORDED_NS: u64 = 1 << 30;

fn cdf_buckets(h: &Histogram) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut previous = 0;
    let mut level: u64 = 1024;
    while previous < h.count() && level <= MAX_RECORDED_NS {
        // The highest value HdrHistogram (two significant digits) files
        // with `level`, in µs.
        let highest = level + level / 128 - 1;
        // Redis clamps recorded latencies to one second, so everything
        // slower lands in the last bucket, which Redis labels with its
        // bound itself (the histogram ends there).
        let (bound, cumulative) = if level >= MAX_RECORDED_NS {
            (level, h.count())
        } else {
            (highest, h.count_at_or_below(highest))
        };
        if cumulative > previous {
            out.push((bound / 1000, cumulative));
        }
        previous = cumulative;
        level *= 2;
    }
    out
}

fn help(ctx: &mut Ctx) -> CmdResult {
    super::reply_help(
        ctx,
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_buckets_are_powers_of_two_microseconds() {
        let mut h = Histogram::default();
        h.record(500);
        h.record(3_000);
        h.record(3_500);
        h.record(50_000_000);
        assert_eq!(
            cdf_buckets(&h),
            vec![(1, 1), (4, 3), (67633, 4)],
            "1024 ns, 4096 ns, and 2^26 ns (~67 ms) as Redis prints them"
        );
        h.record(5_000_000_000);
        assert_eq!(
            cdf_buckets(&h).last(),
            Some(&(1073741, 5)),
            "slower than a second counts as a second"
        );
    }
}

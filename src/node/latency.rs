//! The latency monitor behind `LATENCY`: per event class, the spikes the
//! node suffered, as Redis 7.0 keeps them.
//!
//! An event class (`command`, `fast-command`, `fork`, `expire-cycle`,
//! `aof-write`, ...) is a time series created on its first sample. A
//! sample is recorded only when `latency-monitor-threshold` is on and the
//! measured time (milliseconds) reaches it, so an idle monitor costs one
//! comparison. Each series is a ring of 160 one-second slots: a second
//! spike within the same second only raises that second's value, which
//! bounds the memory and keeps the history readable. The all-time maximum
//! survives the ring.
//!
//! The monitor owns the data and the reports built from it (DOCTOR,
//! GRAPH); it never reads the clock itself: callers pass the Unix second.
//! [`Node::latency_sample`] is the bridge the node's code paths use (the
//! command path in `exec`, forks, the active expire cycle, AOF writes).
//! The command surface is `commands::latency`.

use std::fmt::Write as _;

use crate::node::Node;

/// Slots per series (Redis's `LATENCY_TS_LEN`).
pub const TS_LEN: usize = 160;
/// Width of `LATENCY GRAPH` (Redis's `LATENCY_GRAPH_COLS`).
const GRAPH_COLS: usize = 80;
/// Rows of the graph's bars.
const GRAPH_ROWS: usize = 4;

/// One second's worst latency: Unix time (0 = empty slot) and ms.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sample {
    pub time: i64,
    pub latency: u64,
}

/// The ring of one event class.
#[derive(Debug, Clone)]
pub struct Series {
    pub samples: [Sample; TS_LEN],
    /// Next slot to write.
    pub idx: usize,
    /// All-time maximum, kept when the ring wraps.
    pub max: u64,
}

impl Default for Series {
    fn default() -> Self {
        Series {
            samples: [Sample::default(); TS_LEN],
            idx: 0,
            max: 0,
        }
    }
}

impl Series {
    fn add(&mut self, now: i64, latency: u64) {
        self.max = self.max.max(latency);
        let prev = (self.idx + TS_LEN - 1) % TS_LEN;
        if self.samples[prev].time == now {
            let slot = &mut self.samples[prev];
            slot.latency = slot.latency.max(latency);
            return;
        }
        self.samples[self.idx] = Sample { time: now, latency };
        self.idx = (self.idx + 1) % TS_LEN;
    }

    /// The most recent sample.
    pub fn latest(&self) -> Sample {
        self.samples[(self.idx + TS_LEN - 1) % TS_LEN]
    }

    /// Filled slots, oldest first.
    pub fn history(&self) -> impl Iterator<Item = Sample> + '_ {
        (0..TS_LEN)
            .map(move |j| self.samples[(self.idx + j) % TS_LEN])
            .filter(|s| s.time != 0)
    }
}

/// Every event class with samples, in the order they first occurred.
#[derive(Debug, Default)]
pub struct LatencyMonitor {
    events: Vec<(String, Series)>,
    /// GB/s of the last fork (Redis's `stat_fork_rate`), for DOCTOR.
    pub fork_rate: f64,
}

/// What DOCTOR says about one series (Redis's `latencyStats`).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Analysis {
    samples: u64,
    avg: u64,
    mad: u64,
    /// Seconds since the oldest sample (at least 1).
    period: i64,
}

impl LatencyMonitor {
    /// Record `latency_ms` for `event` if the threshold (ms, 0 = off)
    /// says it is a spike.
    pub fn add_if_needed(&mut self, threshold: i64, event: &str, latency_ms: u64, now: i64) {
        if threshold > 0 && latency_ms >= threshold as u64 {
            self.add(event, latency_ms, now);
        }
    }

    fn add(&mut self, event: &str, latency_ms: u64, now: i64) {
        match self.events.iter_mut().find(|(name, _)| name == event) {
            Some((_, series)) => series.add(now, latency_ms),
            None => {
                let mut series = Series::default();
                series.add(now, latency_ms);
                self.events.push((event.to_string(), series));
            }
        }
    }

    pub fn events(&self) -> impl Iterator<Item = (&str, &Series)> {
        self.events.iter().map(|(n, s)| (n.as_str(), s))
    }

    pub fn get(&self, event: &[u8]) -> Option<&Series> {
        self.events
            .iter()
            .find(|(name, _)| name.as_bytes() == event)
            .map(|(_, s)| s)
    }

    /// Drop one event class (matched case-insensitively, as Redis does) or,
    /// with `None`, all of them; how many were dropped.
    pub fn reset(&mut self, event: Option<&[u8]>) -> usize {
        let before = self.events.len();
        match event {
            None => self.events.clear(),
            Some(e) => self
                .events
                .retain(|(name, _)| !name.as_bytes().eq_ignore_ascii_case(e)),
        }
        before - self.events.len()
    }
}

fn analyze(series: &Series, now: i64) -> Analysis {
    let filled: Vec<Sample> = series
        .samples
        .iter()
        .copied()
        .filter(|s| s.time != 0)
        .collect();
    if filled.is_empty() {
        return Analysis::default();
    }
    let n = filled.len() as u64;
    let sum: u64 = filled.iter().map(|s| s.latency).sum();
    let avg = sum / n;
    let oldest = filled.iter().map(|s| s.time).min().unwrap_or(now);
    let period = (now - oldest).max(1);
    let deviation: u64 = filled.iter().map(|s| s.latency.abs_diff(avg)).sum();
    Analysis {
        samples: n,
        avg,
        mad: deviation / n,
        period,
    }
}

/// What the DOCTOR report needs from outside the monitor.
#[derive(Debug, Clone, Copy)]
pub struct DoctorContext {
    pub threshold_ms: i64,
    pub slowlog_log_slower_than: i64,
    pub hz: i64,
    pub appendfsync_always: bool,
    /// The process has anonymous transparent huge pages.
    pub anon_huge_pages: bool,
}

/// The advices DOCTOR can give, in the order it prints them.
#[derive(Debug, Default)]
struct Advice {
    better_vm: bool,
    slowlog_enabled: bool,
    slowlog_tuning: bool,
    slowlog_inspect: bool,
    disk_contention: bool,
    scheduler: bool,
    data_writeback: bool,
    no_appendfsync: bool,
    local_disk: bool,
    ssd: bool,
    write_load_info: bool,
    hz: bool,
    large_objects: bool,
    mass_eviction: bool,
    relax_fsync_policy: bool,
    disable_thp: bool,
    count: usize,
}

impl LatencyMonitor {
    /// `LATENCY DOCTOR`: Redis's report, word for word, for the events this
    /// node records.
    pub fn doctor(&self, ctx: &DoctorContext, now: i64) -> String {
        if self.events.is_empty() && ctx.threshold_ms == 0 {
            return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".to_string();
        }
        let mut report = String::new();
        let mut a = Advice::default();
        for (num, (event, series)) in self.events.iter().enumerate() {
            if num == 0 {
                report.push_str("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
            }
            let ls = analyze(series, now);
            let _ = write!(
                report,
                "{}. {}: {} latency spikes (average {}ms, mean deviation {}ms, period {:.2} sec). Worst all time event {}ms.",
                num + 1,
                event,
                ls.samples,
                ls.avg,
                ls.mad,
                ls.period as f64 / ls.samples.max(1) as f64,
                series.max
            );
            self.advise_for(event, ctx, &mut a, &mut report);
            report.push('\n');
        }
        if ctx.anon_huge_pages {
            a.disable_thp = true;
            a.count += 1;
        }
        if self.events.is_empty() && a.count == 0 {
            report.push_str("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n");
        } else if !self.events.is_empty() && a.count == 0 {
            report.push_str("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n");
        } else {
            write_advices(&a, ctx, &mut report);
        }
        report
    }

    /// The advices one event class calls for (and the fork line).
    fn advise_for(&self, event: &str, ctx: &DoctorContext, a: &mut Advice, report: &mut String) {
        let is = |name: &str| event.eq_ignore_ascii_case(name);
        if is("fork") {
            let rate = self.fork_rate;
            let quality = if rate < 10.0 {
                a.better_vm = true;
                a.count += 1;
                "terrible"
            } else if rate < 25.0 {
                a.better_vm = true;
                a.count += 1;
                "poor"
            } else if rate < 100.0 {
                "good"
            } else {
                "excellent"
            };
            let _ = write!(report, " Fork rate is {rate:.2} GB/sec ({quality}).");
        }
        if is("command") {
            if ctx.slowlog_log_slower_than < 0 {
                a.slowlog_enabled = true;
                a.count += 1;
            } else if ctx.slowlog_log_slower_than / 1000 > ctx.threshold_ms {
                a.slowlog_tuning = true;
                a.count += 1;
            }
            a.slowlog_inspect = true;
            a.large_objects = true;
            a.count += 2;
        }
        if is("fast-command") {
            a.scheduler = true;
            a.count += 1;
        }
        if is("aof-write-pending-fsync") {
            a.local_disk = true;
            a.disk_contention = true;
            a.ssd = true;
            a.data_writeback = true;
            a.count += 4;
        }
        if is("aof-write-active-child") {
            a.no_appendfsync = true;
            a.data_writeback = true;
            a.ssd = true;
            a.count += 3;
        }
        if is("aof-write-alone") {
            a.local_disk = true;
            a.data_writeback = true;
            a.ssd = true;
            a.count += 3;
        }
        if is("aof-fsync-always") {
            a.relax_fsync_policy = true;
            a.count += 1;
        }
        if is("aof-fstat") || is("rdb-unlink-temp-file") {
            a.disk_contention = true;
            a.local_disk = true;
            a.count += 2;
        }
        if is("aof-rewrite-diff-write") || is("aof-rename") {
            a.write_load_info = true;
            a.data_writeback = true;
            a.ssd = true;
            a.local_disk = true;
            a.count += 4;
        }
        if is("expire-cycle") {
            a.hz = true;
            a.large_objects = true;
            a.count += 2;
        }
        if is("eviction-del") {
            a.large_objects = true;
            a.count += 1;
        }
        if is("eviction-cycle") {
            a.mass_eviction = true;
            a.count += 1;
        }
    }
}

fn write_advices(a: &Advice, ctx: &DoctorContext, r: &mut String) {
    let threshold_us = ctx.threshold_ms.max(0) as u64 * 1000;
    r.push_str("\nI have a few advices for you:\n\n");
    if a.better_vm {
        r.push_str("- If you are using a virtual machine, consider upgrading it with a faster one using a hypervisior that provides less latency during fork() calls. Xen is known to have poor fork() performance. Even in the context of the same VM provider, certain kinds of instances can execute fork faster than others.\n");
    }
    if a.slowlog_enabled {
        let _ = writeln!(r, "- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than {threshold_us}'. If the Slow log is disabled Redis is not able to log slow commands execution for you.");
    }
    if a.slowlog_tuning {
        let _ = writeln!(r, "- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {threshold_us}'.");
    }
    if a.slowlog_inspect {
        r.push_str("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
    }
    if a.scheduler {
        r.push_str("- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n  1) Lower the system load.\n  2) Use a computer / VM just for Redis if you are running other software in the same system.\n  3) Check if you have a \"noisy neighbour\" problem.\n  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n");
    }
    if a.local_disk {
        r.push_str("- It is strongly advised to use local disks for persistence, especially if you are using AOF. Remote disks provided by platform-as-a-service providers are known to be slow.\n");
    }
    if a.ssd {
        r.push_str("- SSD disks are able to reduce fsync latency, and total time needed for snapshotting and AOF log rewriting (resulting in smaller memory usage and smaller final AOF rewrite buffer flushes). With extremely high write load SSD disks can be a good option. However Redis should perform reasonably with high load using normal disks. Use this advice as a last resort.\n");
    }
    if a.data_writeback {
        r.push_str("- Mounting ext3/4 filesystems with data=writeback can provide a performance boost compared to data=ordered, however this mode of operation provides less guarantees, and sometimes it can happen that after a hard crash the AOF file will have a half-written command at the end and will require to be repaired before Redis restarts.\n");
    }
    if a.disk_contention {
        r.push_str("- Try to lower the disk contention. This is often caused by other disk intensive processes running in the same computer (including other Redis instances).\n");
    }
    if a.no_appendfsync {
        r.push_str("- Assuming from the point of view of data safety this is viable in your environment, you could try to enable the 'no-appendfsync-on-rewrite' option, so that fsync will not be performed while there is a child rewriting the AOF file or producing an RDB file (the moment where there is high disk contention).\n");
    }
    if a.relax_fsync_policy && ctx.appendfsync_always {
        r.push_str("- Your fsync policy is set to 'always'. It is very hard to get good performances with such a setup, if possible try to relax the fsync policy to 'onesec'.\n");
    }
    if a.write_load_info {
        r.push_str("- Latency during the AOF atomic rename operation or when the final difference is flushed to the AOF file at the end of the rewrite, sometimes is caused by very high write load, causing the AOF buffer to get very large. If possible try to send less commands to accomplish the same work, or use Lua scripts to group multiple operations into a single EVALSHA call.\n");
    }
    if a.hz && ctx.hz < 100 {
        r.push_str("- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n");
    }
    if a.large_objects {
        r.push_str("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n");
    }
    if a.mass_eviction {
        r.push_str("- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or allocation of large objects via sets or sorted sets intersections, STORE option of SORT, Redis Cluster large keys migrations (RESTORE command), may create sudden memory pressure forcing the server to block trying to evict keys. \n");
    }
    if a.disable_thp {
        r.push_str("- I detected a non zero amount of anonymous huge pages used by your process. This creates very serious latency events in different conditions, especially when Redis is persisting on disk. To disable THP support use the command 'echo never > /sys/kernel/mm/transparent_hugepage/enabled', make sure to also add it into /etc/rc.local so that the command will be executed again after a reboot. Note that even if you have already disabled THP, you still need to restart the Redis process to get rid of the huge pages already created.\n");
    }
}

/// `LATENCY GRAPH`: a header, a rule, and Redis's sparkline of the
/// series (bars filled with `_o#|`, labels "how long ago" under them).
pub fn graph(event: &str, series: &Series, now: i64) -> String {
    let samples: Vec<(u64, String)> = series
        .history()
        .map(|s| (s.latency, age_label(now - s.time)))
        .collect();
    let max = samples.iter().map(|s| s.0).max().unwrap_or(0);
    let min = samples.iter().map(|s| s.0).min().unwrap_or(0);
    let mut out = format!(
        "{event} - high {max} ms, low {min} ms (all time high {} ms)\n",
        series.max
    );
    out.push_str(&"-".repeat(GRAPH_COLS));
    out.push('\n');
    for (i, chunk) in samples.chunks(GRAPH_COLS).enumerate() {
        if i > 0 {
            out.push('\n');
        }
        sparkline(&mut out, chunk, min as f64, max as f64);
    }
    out
}

/// How long ago, as the graph labels it: `12s`, `5m`, `3h`, `2d`.
fn age_label(elapsed: i64) -> String {
    if elapsed < 60 {
        format!("{elapsed}s")
    } else if elapsed < 3600 {
        format!("{}m", elapsed / 60)
    } else if elapsed < 3600 * 24 {
        format!("{}h", elapsed / 3600)
    } else {
        format!("{}d", elapsed / (3600 * 24))
    }
}

/// One band of at most [`GRAPH_COLS`] samples: `GRAPH_ROWS` rows of bars
/// (each row three levels high), an empty row, then the labels written
/// vertically. `min`/`max` span the whole series, as in Redis.
fn sparkline(out: &mut String, samples: &[(u64, String)], min: f64, max: f64) {
    const FILL: [u8; 3] = *b"_o#";
    let range = if max - min == 0.0 { 1.0 } else { max - min };
    let steps = (FILL.len() * GRAPH_ROWS) as i64;
    let step_of = |v: u64| {
        // Redis truncates the product, then divides by the range.
        let scaled = ((v as f64 - min) * steps as f64) as i64 as f64;
        ((scaled / range) as i64).clamp(0, steps - 1)
    };
    let mut row = 0usize;
    loop {
        let mut chars = vec![b' '; samples.len()];
        let mut more = false;
        if row < GRAPH_ROWS {
            more = true;
            for (j, (value, _)) in samples.iter().enumerate() {
                let idx = step_of(*value) - ((GRAPH_ROWS - row - 1) * FILL.len()) as i64;
                if (0..FILL.len() as i64).contains(&idx) {
                    chars[j] = FILL[idx as usize];
                } else if idx >= FILL.len() as i64 {
                    chars[j] = b'|';
                }
            }
        } else if row == GRAPH_ROWS {
            // The margin between the bars and the labels.
            more = !samples.is_empty();
        } else {
            let at = row - GRAPH_ROWS - 1;
            for (j, (_, label)) in samples.iter().enumerate() {
                if let Some(&c) = label.as_bytes().get(at) {
                    chars[j] = c;
                    more = true;
                }
            }
        }
        if !more {
            break;
        }
        out.push_str(&String::from_utf8_lossy(&chars));
        out.push('\n');
        row += 1;
    }
}

impl Node {
    /// Record `latency_ms` for `event` now, if it reaches
    /// `latency-monitor-threshold`.
    pub fn latency_sample(&mut self, event: &str, latency_ms: u64) {
        let threshold = self.config.settings.latency_monitor_threshold;
        if threshold > 0 && latency_ms >= threshold as u64 {
            let now = crate::node::unix_ms() / 1000;
            self.latency
                .add_if_needed(threshold, event, latency_ms, now);
        }
    }

    /// A fork for a background child took `fork_usec`: `latest_fork_usec`,
    /// the fork rate DOCTOR judges, and the `fork` event.
    pub fn record_fork(&mut self, fork_usec: u64) {
        self.rdb.latest_fork_usec = fork_usec;
        // GB of address space copied per second, as Redis's stat_fork_rate.
        self.latency.fork_rate = crate::node::memory::used_memory() as f64 * 1_000_000.0
            / fork_usec.max(1) as f64
            / (1u64 << 30) as f64;
        self.latency_sample("fork", fork_usec / 1000);
    }
}

/// Whether the process has anonymous transparent huge pages (Redis's
/// `THPGetAnonHugePagesSize() > 0`), from /proc/self/smaps.
pub fn anon_huge_pages() -> bool {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return false;
    };
    smaps
        .lines()
        .filter_map(|l| l.strip_prefix("AnonHugePages:"))
        .any(|v| {
            v.split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|kb| kb > 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spikes_in_one_second_share_a_slot_and_keep_the_worst() {
        let mut m = LatencyMonitor::default();
        m.add_if_needed(0, "command", 500, 100);
        assert!(m.get(b"command").is_none(), "threshold 0 records nothing");
        m.add_if_needed(10, "command", 9, 100);
        assert!(m.get(b"command").is_none(), "below the threshold");
        m.add_if_needed(10, "command", 50, 100);
        m.add_if_needed(10, "command", 30, 100);
        m.add_if_needed(10, "command", 20, 101);
        let s = m.get(b"command").unwrap();
        let h: Vec<(i64, u64)> = s.history().map(|s| (s.time, s.latency)).collect();
        assert_eq!(h, vec![(100, 50), (101, 20)]);
        assert_eq!(s.max, 50);
        assert_eq!(s.latest().latency, 20);
        assert_eq!(m.reset(Some(b"COMMAND")), 1);
        assert_eq!(m.reset(None), 0);
    }

    #[test]
    fn the_ring_keeps_the_last_160_seconds_and_the_all_time_max() {
        let mut s = Series::default();
        for t in 1..=200 {
            s.add(t, if t == 1 { 999 } else { t as u64 });
        }
        let h: Vec<i64> = s.history().map(|s| s.time).collect();
        assert_eq!(h.len(), TS_LEN);
        assert_eq!(h[0], 41);
        assert_eq!(s.max, 999);
    }

    #[test]
    fn one_sample_graph_matches_redis() {
        let mut s = Series::default();
        s.add(1000, 50);
        assert_eq!(
            graph("command", &s, 1000),
            format!(
                "command - high 50 ms, low 50 ms (all time high 50 ms)\n{}\n \n \n \n_\n \n0\ns\n",
                "-".repeat(80)
            )
        );
    }

    #[test]
    fn graph_bars_scale_between_low_and_high() {
        let mut s = Series::default();
        s.add(1, 10);
        s.add(2, 100);
        s.add(3, 55);
        let g = graph("x", &s, 12);
        let lines: Vec<&str> = g.lines().collect();
        // Rows top to bottom: the high one reaches the top row.
        assert_eq!(&lines[2..6], &[" # ", " |_", " ||", "_||"]);
        assert_eq!(&lines[6..], &["   ", "119", "10s", "ss "]);
    }

    #[test]
    fn doctor_reports_in_redis_words() {
        let ctx = DoctorContext {
            threshold_ms: 0,
            slowlog_log_slower_than: 10000,
            hz: 10,
            appendfsync_always: false,
            anon_huge_pages: false,
        };
        let mut m = LatencyMonitor::default();
        assert!(m.doctor(&ctx, 0).starts_with("I'm sorry, Dave"));
        let on = DoctorContext {
            threshold_ms: 10,
            ..ctx
        };
        assert!(m.doctor(&on, 0).starts_with("Dave, no latency spike"));
        m.add_if_needed(10, "command", 50, 100);
        let report = m.doctor(&on, 100);
        assert!(report.starts_with("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n1. command: 1 latency spikes (average 50ms, mean deviation 0ms, period 1.00 sec). Worst all time event 50ms.\n\nI have a few advices for you:\n\n- Check your Slow Log"));
        assert!(report.ends_with("into multiple smaller objects.\n"));
    }
}

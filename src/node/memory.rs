//! Memory measurements for INFO memory and maxmemory.
//!
//! `used_memory` is what the allocator reports as allocated (jemalloc's
//! `stats.allocated`: every live allocation at its real size class), the
//! same quantity Redis counts, so it follows values as well as keys. RSS
//! comes from the kernel. Reading jemalloc's statistics needs an "epoch"
//! refresh, done here before each read.
//!
//! The epoch refresh merges every arena's statistics, too slow to do before
//! each command the way Redis reads its `used_memory` counter. [`Gauge`]
//! gives maxmemory a cheap and still exact-enough figure: the last
//! refreshed total plus what the node's own thread allocated and freed
//! since (jemalloc keeps those two per-thread counters; reading them is a
//! memory load). What other threads do (the lazy-free thread) shows at the
//! next refresh, as it does in Redis.

use tikv_jemalloc_ctl::{epoch, stats, thread};

/// Allocator figures, in bytes.
#[derive(Debug, Default, Clone, Copy)]
pub struct AllocatorStats {
    pub allocated: u64,
    pub active: u64,
    pub resident: u64,
    pub mapped: u64,
}

/// Current allocator statistics (zeros if unavailable).
pub fn allocator_stats() -> AllocatorStats {
    if epoch::advance().is_err() {
        return AllocatorStats::default();
    }
    AllocatorStats {
        allocated: stats::allocated::read().unwrap_or(0) as u64,
        active: stats::active::read().unwrap_or(0) as u64,
        resident: stats::resident::read().unwrap_or(0) as u64,
        mapped: stats::mapped::read().unwrap_or(0) as u64,
    }
}

/// Bytes the allocator holds for live allocations (`used_memory`).
pub fn used_memory() -> u64 {
    allocator_stats().allocated
}

thread_local! {
    /// This thread's cumulative allocated and freed byte counters.
    static THREAD_COUNTERS: Option<(thread::ThreadLocal<u64>, thread::ThreadLocal<u64>)> =
        thread::allocatedp::read()
            .and_then(|a| Ok((a, thread::deallocatedp::read()?)))
            .ok();
}

/// Bytes this thread allocated and freed so far (zeros if unavailable).
fn thread_counters() -> (u64, u64) {
    THREAD_COUNTERS.with(|c| c.as_ref().map_or((0, 0), |(a, d)| (a.get(), d.get())))
}

/// `used_memory` for maxmemory: the allocator's total at the last
/// [`Gauge::refresh`] adjusted by the calling thread's allocations since.
/// Used from the thread that runs the node.
#[derive(Debug, Default, Clone, Copy)]
pub struct Gauge {
    base: u64,
    allocated_at: u64,
    freed_at: u64,
}

impl Gauge {
    /// Re-read the allocator's total (an epoch refresh).
    pub fn refresh(&mut self) -> u64 {
        self.base = used_memory();
        (self.allocated_at, self.freed_at) = thread_counters();
        self.base
    }

    /// Current estimate, in bytes.
    pub fn used(&self) -> u64 {
        let (allocated, freed) = thread_counters();
        let grown = allocated.wrapping_sub(self.allocated_at) as i128;
        let shrunk = freed.wrapping_sub(self.freed_at) as i128;
        (self.base as i128 + grown - shrunk).max(0) as u64
    }
}

/// Resident set size of the process, from /proc/self/statm.
pub fn rss_bytes() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
    pages * page
}

/// Physical memory of the machine (`total_system_memory`).
pub fn total_system_memory() -> u64 {
    let Ok(info) = std::fs::read_to_string("/proc/meminfo") else {
        return 0;
    };
    info.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Redis's `bytesToHuman`: `966.61K`, `1.06M`, `200B`.
pub fn human(n: u64) -> String {
    const UNITS: [(u64, &str); 5] = [
        (1 << 10, "K"),
        (1 << 20, "M"),
        (1 << 30, "G"),
        (1 << 40, "T"),
        (1 << 50, "P"),
    ];
    if n < 1024 {
        return format!("{n}B");
    }
    for (i, (scale, unit)) in UNITS.iter().enumerate() {
        let next = UNITS.get(i + 1).map_or(u64::MAX, |u| u.0);
        if n < next || i == UNITS.len() - 1 {
            if i == UNITS.len() - 1 && n >= (1u64 << 60) {
                return format!("{n}B");
            }
            return format!("{:.2}{unit}", n as f64 / *scale as f64);
        }
    }
    format!("{n}B")
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn human_sizes_match_redis() {
        assert_eq!(human(0), "0B");
        assert_eq!(human(200), "200B");
        assert_eq!(human(1023), "1023B");
        assert_eq!(human(1024), "1.00K");
        assert_eq!(human(989_809), "966.61K");
        assert_eq!(human(1_106_808), "1.06M");
        assert_eq!(human(25_276_502_016), "23.54G");
    }
}

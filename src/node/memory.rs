//! Memory measurements for INFO memory (and, later, maxmemory).
//!
//! `used_memory` is what the allocator reports as allocated (jemalloc's
//! `stats.allocated`: every live allocation at its real size class), the
//! same quantity Redis counts, so it follows values as well as keys. RSS
//! comes from the kernel. Reading jemalloc's statistics needs an "epoch"
//! refresh, done here before each read.

use tikv_jemalloc_ctl::{epoch, stats};

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

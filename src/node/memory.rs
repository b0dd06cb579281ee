//! Memory measurements: the one computation behind INFO memory, MEMORY
//! STATS and MEMORY DOCTOR ([`Overview`]), the used-memory [`Gauge`] that
//! maxmemory reads, and the allocator's own controls (statistics text,
//! purge).
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

use crate::node::client::Client;
use crate::node::Node;

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

/// Where the memory goes, as INFO memory and MEMORY STATS report it
/// (Redis's `redisMemOverhead`): one computation, so both agree.
#[derive(Debug, Default, Clone)]
pub struct Overview {
    pub alloc: AllocatorStats,
    /// `used_memory`: the allocator's live bytes.
    pub used: u64,
    pub peak: u64,
    pub rss: u64,
    /// Used memory right after start-up (capped by `used`).
    pub startup: u64,
    pub replication_backlog: u64,
    pub clients_replicas: u64,
    pub clients_normal: u64,
    pub aof_buffer: u64,
    /// Per database with keys: (index, main table overhead, expires
    /// table overhead).
    pub dbs: Vec<(usize, u64, u64)>,
    /// Table overhead of every database, empty ones included.
    pub tables: u64,
    pub keys: u64,
    pub overhead: u64,
    pub dataset: u64,
    pub clients: usize,
    pub replicas: usize,
}

impl Overview {
    /// `used - startup`, at least 1 (Redis's `net_usage`).
    pub fn net_usage(&self) -> u64 {
        if self.used > self.startup {
            self.used - self.startup
        } else {
            1
        }
    }

    /// `dataset.percentage` / `used_memory_dataset_perc`.
    pub fn dataset_perc(&self) -> f64 {
        self.dataset as f64 * 100.0 / self.net_usage() as f64
    }

    pub fn peak_perc(&self) -> f64 {
        if self.peak == 0 {
            0.0
        } else {
            self.used as f64 * 100.0 / self.peak as f64
        }
    }

    pub fn bytes_per_key(&self) -> u64 {
        self.net_usage().checked_div(self.keys).unwrap_or(0)
    }
}

/// `a / b`, 0 when `b` is 0 (a fresh process may report zeros).
pub fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

impl Node {
    /// Measure where the memory goes now (and raise the peak). `cur` is
    /// the client asking: it is out of the client table while it runs.
    pub fn memory_overview(&mut self, cur: &Client) -> Overview {
        let alloc = allocator_stats();
        let used = alloc.allocated;
        self.memory_peak = self.memory_peak.max(used);
        let client_mem = |c: &Client| {
            (c.reply.capacity()
                + c.repl.as_ref().map_or(0, |r| r.pending.capacity())
                + c.query_buf_len
                + c.query_buf_free
                + std::mem::size_of::<Client>()) as u64
        };
        let mut o = Overview {
            alloc,
            used,
            peak: self.memory_peak,
            rss: rss_bytes(),
            startup: self.memory_startup.min(used),
            replication_backlog: self.repl.backlog.as_ref().map_or(0, |b| b.memory()) as u64,
            aof_buffer: self.effects.aof_pending() as u64,
            ..Overview::default()
        };
        for c in self.clients.iter().chain(std::iter::once(cur)) {
            if c.is_attached_replica() {
                o.clients_replicas += client_mem(c);
                o.replicas += 1;
            } else {
                o.clients_normal += client_mem(c);
                o.clients += 1;
            }
        }
        let slot = std::mem::size_of::<usize>() as u64;
        for (i, db) in self.keyspace.dbs.iter().enumerate() {
            let main = db.keys.buckets() as u64 * slot;
            let expires = db.expires.buckets() as u64 * slot + db.expires.len() as u64 * 48;
            o.tables += main + expires;
            if !db.is_empty() {
                o.keys += db.len() as u64;
                o.dbs.push((i, main, expires));
            }
        }
        o.overhead = (o.startup
            + o.clients_normal
            + o.clients_replicas
            + o.replication_backlog
            + o.aof_buffer
            + o.tables)
            .min(used);
        o.dataset = used - o.overhead;
        o
    }
}

/// jemalloc's statistics report (`malloc_stats_print`), the text of
/// MEMORY MALLOC-STATS.
pub fn malloc_stats_text() -> String {
    unsafe extern "C" fn append(out: *mut libc::c_void, text: *const libc::c_char) {
        // SAFETY: `out` is the String passed below, alive for the whole
        // call; jemalloc hands over NUL-terminated text.
        let (out, text) = unsafe { (&mut *(out as *mut String), std::ffi::CStr::from_ptr(text)) };
        out.push_str(&text.to_string_lossy());
    }
    let mut out = String::new();
    // SAFETY: the callback only appends to `out`, which outlives the call;
    // a null options string asks for the default report.
    unsafe {
        tikv_jemalloc_sys::malloc_stats_print(
            Some(append),
            &mut out as *mut String as *mut libc::c_void,
            std::ptr::null(),
        );
    }
    out
}

/// Give the dirty pages of every arena back to the system (Redis's
/// `jemalloc_purge`, MEMORY PURGE); false if jemalloc refused.
pub fn purge() -> bool {
    let Ok(narenas) = tikv_jemalloc_ctl::arenas::narenas::read() else {
        return false;
    };
    // `arena.<narenas>.purge` addresses all arenas at once.
    let Ok(name) = std::ffi::CString::new(format!("arena.{narenas}.purge")) else {
        return false;
    };
    // SAFETY: a NUL-terminated name, and no old or new value (purge takes
    // none), so jemalloc reads and writes nothing through the pointers.
    let rc = unsafe {
        tikv_jemalloc_sys::mallctl(
            name.as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
    rc == 0
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

//! Forked children: the one mechanism behind BGSAVE and the AOF rewrite
//! (and, later, the full resync of replicas).
//!
//! The child owns a copy-on-write image of memory at the fork, so it
//! serializes a point-in-time view while the parent keeps serving; the only
//! pause clients see is the `fork()` call itself (DESIGN principle 4). The
//! child never returns into the runtime: it runs its job with plain
//! blocking I/O and leaves with `_exit`. One child runs at a time, as in
//! Redis; while it runs hash tables do not resize, so that writes copy as
//! few pages as possible.

use std::io;
use std::time::Instant;

use crate::node::keyspace::dict;

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success,
    Failure,
    /// Killed by this signal.
    Signal(i32),
}

/// Fork a child that runs `job` and exits with 0 if it returns true.
/// Returns the child's pid and how long `fork()` took, in µs.
pub fn fork_child(job: impl FnOnce() -> bool) -> io::Result<(libc::pid_t, u64)> {
    let started = Instant::now();
    // SAFETY: after fork the child only reads its copy of the process's
    // memory, does blocking file I/O and leaves with _exit: it never returns
    // into the runtime or runs destructors that could touch state shared
    // with other threads of the parent.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        crate::node::replication::set_log_role(b'C');
        let code = if job() { 0 } else { 1 };
        // SAFETY: ends the child without unwinding into the parent's code.
        unsafe { libc::_exit(code) };
    }
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    dict::set_resize_allowed(false);
    Ok((pid, started.elapsed().as_micros() as u64))
}

/// If child `pid` ended, how; `None` while it runs.
pub fn reap(pid: libc::pid_t) -> Option<Exit> {
    let mut status = 0;
    // SAFETY: waitpid on our own child, with a valid status pointer.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    if r == 0 {
        return None;
    }
    dict::set_resize_allowed(true);
    Some(if r != pid {
        Exit::Failure
    } else if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Exit::Success
    } else if libc::WIFSIGNALED(status) {
        Exit::Signal(libc::WTERMSIG(status))
    } else {
        Exit::Failure
    })
}

/// Memory a running child copied since the fork (its private dirty
/// pages, as Redis's child reports them), or `None` if it cannot be read.
pub fn copied_bytes(pid: libc::pid_t) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let kb: u64 = text
        .lines()
        .filter(|l| l.starts_with("Private_Dirty:"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum();
    Some(kb * 1024)
}

/// Copy-on-write of the running child, sampled about once a second (INFO
/// `current_cow_*`; the last sample becomes `rdb/aof_last_cow_size`).
#[derive(Debug, Default, Clone, Copy)]
pub struct CowSample {
    pub current: u64,
    pub peak: u64,
    /// When `current` was taken (Unix ms); 0 before the first sample.
    pub taken_ms: i64,
}

impl CowSample {
    /// Take a new sample of child `pid` if the last one is a second old.
    pub fn refresh(&mut self, pid: libc::pid_t, now_ms: i64) {
        if now_ms - self.taken_ms < 1000 {
            return;
        }
        if let Some(bytes) = copied_bytes(pid) {
            self.current = bytes;
            self.peak = self.peak.max(bytes);
            self.taken_ms = now_ms;
        }
    }
}

/// Stop child `pid` (SIGUSR1, which it does not handle) and wait for it.
pub fn kill(pid: libc::pid_t) {
    // SAFETY: signalling and reaping our own child process.
    unsafe {
        libc::kill(pid, libc::SIGUSR1);
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0);
    }
    dict::set_resize_allowed(true);
}

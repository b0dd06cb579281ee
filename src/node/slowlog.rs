//! The slow log behind `SLOWLOG`: the most recent commands whose execution
//! took at least `slowlog-log-slower-than` microseconds.
//!
//! Only execution time counts (not the time a command waited to be read,
//! nor the time a blocked command waited), as in Redis. An entry copies
//! what an operator needs to find the culprit and nothing that could grow
//! without bound: at most 32 arguments, the last one replaced by
//! "... (N more arguments)", each at most 128 bytes followed by
//! "... (N more bytes)", plus the client's address and name at the time.
//! The log is newest first and trimmed to `slowlog-max-len` on every
//! insertion (not when the setting changes, like Redis).
//!
//! `exec::call` feeds it; the command surface is `commands::slowlog`.

use std::collections::VecDeque;

/// Arguments kept per entry (Redis's `SLOWLOG_ENTRY_MAX_ARGC`).
const MAX_ARGC: usize = 32;
/// Bytes kept per argument (Redis's `SLOWLOG_ENTRY_MAX_STRING`).
const MAX_STRING: usize = 128;

/// One logged command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: i64,
    /// Unix time, seconds, when the command finished.
    pub time: i64,
    /// Execution time, µs.
    pub duration_us: u64,
    pub argv: Vec<Vec<u8>>,
    /// The client's `ip:port` (or socket path).
    pub peer: String,
    pub name: Vec<u8>,
}

#[derive(Debug, Default)]
pub struct SlowLog {
    /// Newest first.
    entries: VecDeque<Entry>,
    next_id: i64,
}

/// Who ran the command, as the entry records it.
pub struct Caller<'a> {
    pub addr: &'a str,
    pub name: Option<&'a [u8]>,
}

impl SlowLog {
    /// Log a command that ran for `duration_us` if the settings ask for it:
    /// `slower_than` < 0 disables the log, 0 logs everything.
    pub fn push_if_needed(
        &mut self,
        slower_than: i64,
        max_len: i64,
        argv: &[&[u8]],
        caller: Caller,
        duration_us: u64,
        now_unix: i64,
    ) {
        if slower_than < 0 || duration_us < slower_than as u64 {
            return;
        }
        let entry = Entry {
            id: self.next_id,
            time: now_unix,
            duration_us,
            argv: trimmed_argv(argv),
            peer: caller.addr.to_string(),
            name: caller.name.unwrap_or_default().to_vec(),
        };
        self.next_id += 1;
        self.entries.push_front(entry);
        self.entries.truncate(max_len.max(0) as usize);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Newest first.
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    /// `SLOWLOG RESET`: entries go, ids keep counting (as in Redis).
    pub fn reset(&mut self) {
        self.entries.clear();
    }
}

/// The arguments as an entry keeps them.
fn trimmed_argv(argv: &[&[u8]]) -> Vec<Vec<u8>> {
    let kept = argv.len().min(MAX_ARGC);
    (0..kept)
        .map(|j| {
            if kept != argv.len() && j == kept - 1 {
                let more = argv.len() - kept + 1;
                format!("... ({more} more arguments)").into_bytes()
            } else {
                trimmed_string(argv[j])
            }
        })
        .collect()
}

fn trimmed_string(arg: &[u8]) -> Vec<u8> {
    if arg.len() <= MAX_STRING {
        return arg.to_vec();
    }
    let mut s = arg[..MAX_STRING].to_vec();
    s.extend_from_slice(format!("... ({} more bytes)", arg.len() - MAX_STRING).as_bytes());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller() -> Caller<'static> {
        Caller {
            addr: "127.0.0.1:5000",
            name: Some(b"app"),
        }
    }

    #[test]
    fn threshold_and_length_rule_the_log() {
        let mut log = SlowLog::default();
        log.push_if_needed(-1, 10, &[b"get", b"a"], caller(), 1_000_000, 1);
        assert!(log.is_empty(), "negative threshold disables");
        log.push_if_needed(100, 10, &[b"get", b"a"], caller(), 99, 1);
        assert!(log.is_empty(), "faster than the threshold");
        for i in 0..5 {
            log.push_if_needed(0, 3, &[b"get", b"a"], caller(), i, 1);
        }
        let ids: Vec<i64> = log.iter().map(|e| e.id).collect();
        assert_eq!(ids, vec![4, 3, 2], "newest first, trimmed to max-len");
        log.reset();
        log.push_if_needed(0, 3, &[b"ping"], caller(), 0, 1);
        assert_eq!(log.iter().next().unwrap().id, 5);
        assert_eq!(log.iter().next().unwrap().name, b"app");
    }

    #[test]
    fn long_commands_are_trimmed_as_redis_does() {
        let big = vec![b'x'; 200];
        let mut argv: Vec<&[u8]> = vec![b"rpush", b"l", &big];
        let numbers: Vec<Vec<u8>> = (1..40).map(|i: i32| i.to_string().into_bytes()).collect();
        argv.extend(numbers.iter().map(Vec::as_slice));
        let kept = trimmed_argv(&argv);
        assert_eq!(kept.len(), 32);
        assert_eq!(kept[2].len(), 128 + "... (72 more bytes)".len());
        assert!(kept[2].ends_with(b"x... (72 more bytes)"));
        assert_eq!(kept[30], b"28");
        assert_eq!(kept[31], b"... (11 more arguments)");
        let exact: Vec<&[u8]> = vec![b"a"; 32];
        assert_eq!(trimmed_argv(&exact).len(), 32);
        assert_eq!(trimmed_argv(&exact)[31], b"a");
    }
}

//! RDB snapshots: `SAVE` (in the foreground), `BGSAVE` and the automatic
//! save points (in a forked child, see `child`), and the bookkeeping INFO
//! persistence reports.
//!
//! The child writes the file (temporary file, fsync, rename, fsync of the
//! directory, so a crash never loses the previous snapshot) and exits with
//! 0 or 1. The parent notices the exit from the cron.

use std::io;
use std::path::Path;
use std::time::Instant;

use super::child::{self, Exit};
use super::rdb::writer::{write_keyspace, AuxFields, WriteOptions};
use crate::node::{unix_ms, Node};
use crate::util::files::replace_atomically;

/// A running background save.
#[derive(Debug)]
pub struct SaveChild {
    pub pid: libc::pid_t,
    pub started: Instant,
    /// `dirty` when the child started: changes after it are not in the file.
    pub dirty_before: u64,
    /// The child writes to replicas' sockets, not to `dbfilename`.
    pub to_sockets: bool,
}

/// RDB persistence state.
#[derive(Debug)]
pub struct RdbState {
    pub child: Option<SaveChild>,
    /// Last background save succeeded (`rdb_last_bgsave_status`).
    pub last_bgsave_ok: bool,
    /// Duration of the last background save, -1 before any.
    pub last_bgsave_secs: i64,
    /// When a background save was last attempted (Unix s): a failed one is
    /// retried by the save points only after a delay.
    pub last_try_unix: i64,
    /// `rdb_saves`.
    pub saves: u64,
    /// A BGSAVE asked for while it could not run (inside EXEC).
    pub scheduled: bool,
    pub last_load_keys_loaded: u64,
    pub last_load_keys_expired: u64,
    /// Copy-on-write of the running child (save or AOF rewrite).
    pub cow: child::CowSample,
    /// `rdb_last_cow_size`.
    pub last_cow_size: u64,
    /// Duration of the last `fork()`, µs (`latest_fork_usec`).
    pub latest_fork_usec: u64,
    pub total_forks: u64,
}

impl Default for RdbState {
    fn default() -> Self {
        RdbState {
            child: None,
            last_bgsave_ok: true,
            last_bgsave_secs: -1,
            last_try_unix: 0,
            saves: 0,
            scheduled: false,
            last_load_keys_loaded: 0,
            last_load_keys_expired: 0,
            cow: child::CowSample::default(),
            last_cow_size: 0,
            latest_fork_usec: 0,
            total_forks: 0,
        }
    }
}

/// A failed background save is retried by the save points only after
/// this many seconds.
const BGSAVE_RETRY_DELAY: i64 = 5;

impl Node {
    pub(crate) fn rdb_options(&self) -> WriteOptions {
        let s = &self.config.settings;
        WriteOptions {
            compress: s.rdbcompression,
            checksum: s.rdbchecksum,
            key_delay_us: s.rdb_key_save_delay.max(0) as u64,
        }
    }

    pub(crate) fn aux_fields(&self) -> AuxFields {
        AuxFields {
            ctime: unix_ms() / 1000,
            used_mem: crate::node::memory::used_memory(),
            replication: self.replication_aux(),
            aof_base: false,
        }
    }

    /// `repl-stream-db`, `repl-id`, `repl-offset` for a snapshot, when
    /// this node has a replication history worth continuing.
    fn replication_aux(&self) -> Option<(usize, String, i64)> {
        self.repl.backlog.as_ref()?;
        let db = match self.repl.master.as_ref() {
            Some(m) => m
                .client
                .and_then(|id| self.clients.get(id))
                .map_or(self.repl.master_db, |c| c.db),
            None => self.effects.repl_selected_db().unwrap_or(0),
        };
        Some((db, self.repl.id.clone(), self.repl.offset))
    }

    /// Write the dataset to `dbfilename` in the working directory (`dir`).
    fn write_rdb_file(&self, temp_name: &str) -> io::Result<u64> {
        let target = self.config.settings.dbfilename.clone();
        let (aux, opts) = (self.aux_fields(), self.rdb_options());
        replace_atomically(Path::new("."), &target, temp_name, |out| {
            write_keyspace(out, &self.keyspace, &aux, opts)
        })
    }

    /// `SAVE`: write the snapshot now, blocking every client meanwhile.
    pub fn save_now(&mut self) -> Result<(), String> {
        let temp = format!("temp-{}.rdb", std::process::id());
        match self.write_rdb_file(&temp) {
            Ok(_) => {
                tracing::info!("DB saved on disk");
                self.dirty = 0;
                self.lastsave_unix = unix_ms() / 1000;
                self.rdb.last_bgsave_ok = true;
                self.rdb.saves += 1;
                Ok(())
            }
            Err(e) => {
                tracing::warn!("Failed saving the DB: {e}");
                Err(e.to_string())
            }
        }
    }

    /// Whether a background child (a save or an AOF rewrite) runs.
    pub fn has_child(&self) -> bool {
        self.rdb.child.is_some() || self.aof.child.is_some()
    }

    /// Fork a child that writes the snapshot. The parent returns at once.
    pub fn start_bgsave(&mut self) -> Result<(), String> {
        if self.has_child() {
            return Err("Background save already in progress".into());
        }
        self.rdb.last_try_unix = unix_ms() / 1000;
        let forked = child::fork_child(|| {
            let temp = format!("temp-{}.rdb", std::process::id());
            self.write_rdb_file(&temp).is_ok()
        });
        let (pid, fork_usec) = match forked {
            Ok(forked) => forked,
            Err(e) => {
                self.rdb.last_bgsave_ok = false;
                tracing::warn!("Can't save in background: fork: {e}");
                return Err(format!("fork failed: {e}"));
            }
        };
        self.record_fork(fork_usec);
        self.rdb.total_forks += 1;
        tracing::info!("Background saving started by pid {pid}");
        self.rdb.child = Some(SaveChild {
            pid,
            started: Instant::now(),
            dirty_before: self.dirty,
            to_sockets: false,
        });
        Ok(())
    }

    /// From the cron: collect a finished child, start due or scheduled saves.
    pub fn persistence_cron(&mut self) {
        let running = self.rdb.child.as_ref().map(|c| c.pid);
        if let Some(pid) = running.or(self.aof.child.as_ref().map(|c| c.pid)) {
            self.rdb.cow.refresh(pid, self.now_ms);
        }
        self.reap_child();
        self.aof_cron();
        if self.has_child() {
            return;
        }
        let now = unix_ms() / 1000;
        let retry_ok = self.rdb.last_bgsave_ok || now - self.rdb.last_try_unix > BGSAVE_RETRY_DELAY;
        if !retry_ok {
            return;
        }
        let due = self
            .config
            .settings
            .save
            .0
            .iter()
            .find(|&&(seconds, changes)| {
                self.dirty >= changes as u64 && now - self.lastsave_unix > seconds
            });
        if let Some(&(seconds, changes)) = due {
            tracing::info!("{changes} changes in {seconds} seconds. Saving...");
            let _ = self.start_bgsave();
        } else if self.rdb.scheduled && self.start_bgsave().is_ok() {
            self.rdb.scheduled = false;
        }
    }

    /// Collect a snapshot child that ended, now rather than at the next
    /// cron (a replica acknowledged the snapshot it wrote).
    pub fn reap_child_now(&mut self) {
        self.reap_child();
    }

    /// Handle the end of a background save, if it ended.
    fn reap_child(&mut self) {
        let Some(running) = &self.rdb.child else {
            return;
        };
        let Some(exit) = child::reap(running.pid) else {
            return;
        };
        let running = self.rdb.child.take().expect("checked above");
        self.rdb.last_cow_size = std::mem::take(&mut self.rdb.cow).current;
        if running.to_sockets {
            let ok = exit == Exit::Success;
            if ok {
                tracing::info!("Background RDB transfer terminated with success");
            } else {
                tracing::warn!("Background transfer error: {exit:?}");
            }
            self.replication_snapshot_done(ok, true);
            return;
        }
        self.rdb.last_bgsave_secs = running.started.elapsed().as_secs() as i64;
        match exit {
            Exit::Success => {
                tracing::info!("Background saving terminated with success");
                self.dirty = self.dirty.saturating_sub(running.dirty_before);
                self.lastsave_unix = unix_ms() / 1000;
                self.rdb.last_bgsave_ok = true;
                self.rdb.saves += 1;
            }
            Exit::Signal(sig) => {
                tracing::warn!("Background saving terminated by signal {sig}");
                let _ = std::fs::remove_file(format!("temp-{}.rdb", running.pid));
                // SIGUSR1 is how a save is cancelled on purpose.
                if sig != libc::SIGUSR1 {
                    self.rdb.last_bgsave_ok = false;
                }
            }
            Exit::Failure => {
                tracing::warn!("Background saving error");
                self.rdb.last_bgsave_ok = false;
            }
        }
        self.replication_snapshot_done(exit == Exit::Success, false);
    }

    /// Stop a running background save (shutdown, FLUSHALL).
    pub fn kill_save_child(&mut self) {
        if let Some(running) = self.rdb.child.take() {
            child::kill(running.pid);
            let _ = std::fs::remove_file(format!("temp-{}.rdb", running.pid));
            tracing::info!("Killed the background saving child {}", running.pid);
            // Replicas waiting for it start over.
            self.replication_snapshot_done(false, running.to_sockets);
        }
    }

    /// Whether writes are refused because the last background save failed
    /// (`stop-writes-on-bgsave-error` with save points configured).
    pub fn writes_refused_by_save_error(&self) -> bool {
        let s = &self.config.settings;
        s.stop_writes_on_bgsave_error && !s.save.0.is_empty() && !self.rdb.last_bgsave_ok
    }
}

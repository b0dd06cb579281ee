//! AOF rewrite: `BGREWRITEAOF`, the automatic rewrite on growth, and the
//! first rewrite of an AOF turned on at run time (spec/node.md 4.4).
//!
//! The rewrite never copies a buffer of the writes that happen meanwhile:
//! it first switches appending to a new incr file (and commits that to the
//! manifest), then forks a child that writes the new base from the
//! point-in-time image it inherited. When the child succeeds, the manifest
//! names the new base plus the incr file opened at the start; the older
//! files become history and are deleted. A crash at any moment leaves a
//! manifest whose files hold every write: old base + old incrs + new incr
//! before the switch, new base + new incr after it.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use super::manifest::{AofFile, Manifest};
use super::{create_append, RewriteChild, Status};
use crate::node::persistence::child::{self, Exit};
use crate::node::{unix_ms, Node};
use crate::util::files::sync_dir;

/// After this many consecutive failures, automatic rewrites back off.
const FAILURES_BEFORE_BACKOFF: u64 = 3;
const MAX_BACKOFF_MINUTES: i64 = 60;

/// Where a rewrite child writes the new base (in the AOF directory).
fn temp_base_name(pid: libc::pid_t) -> String {
    format!("temp-rewriteaof-bg-{pid}.aof")
}

/// The incr file that collects writes while the first base is written.
fn temp_incr_name(stem: &str) -> String {
    format!("temp-{stem}.incr")
}

impl Node {
    /// Start a background rewrite. The caller checked that no child runs.
    pub fn start_aof_rewrite(&mut self) -> Result<(), String> {
        let dir = self.aof_dir();
        if let Err(e) = std::fs::create_dir_all(&dir) {
            tracing::warn!(
                "Can't open or create append-only dir {}: {e}",
                dir.display()
            );
            return Err(e.to_string());
        }
        self.flush_aof(true);
        self.open_rewrite_incr(&dir)?;

        let forked = child::fork_child(|| {
            let pid = std::process::id() as libc::pid_t;
            self.write_base_now(&dir.join(temp_base_name(pid))).is_ok()
        });
        let (pid, fork_usec) = forked.map_err(|e| {
            tracing::warn!("Can't rewrite append only file in background: fork: {e}");
            self.aof.last_rewrite_ok = false;
            format!("fork failed: {e}")
        })?;
        self.record_fork(fork_usec);
        self.rdb.total_forks += 1;
        self.aof.rewrites += 1;
        self.aof.rewrite_scheduled = false;
        tracing::info!("Background append only file rewriting started by pid {pid}");
        self.aof.child = Some(RewriteChild {
            pid,
            started: Instant::now(),
        });
        Ok(())
    }

    /// Switch appending to the incr file that will follow the new base: the
    /// next incr (committed to the manifest now) when the AOF is on, a
    /// temporary one while waiting for the first base, none when off.
    fn open_rewrite_incr(&mut self, dir: &Path) -> Result<(), String> {
        let stem = self.config.settings.appendfilename.clone();
        match self.aof.status {
            Status::Off => Ok(()),
            Status::WaitRewrite => {
                let path = dir.join(temp_incr_name(&stem));
                let file = create_append(&path).map_err(|e| {
                    tracing::warn!("Can't open the append-only file {}: {e}", path.display());
                    e.to_string()
                })?;
                self.switch_incr_file(file);
                Ok(())
            }
            Status::On => {
                let mut manifest = self.aof.manifest.clone();
                let incr = manifest.next_incr(&stem);
                let path = dir.join(&incr.name);
                let file = create_append(&path).map_err(|e| {
                    tracing::warn!("Can't open the append-only file {}: {e}", incr.name);
                    e.to_string()
                })?;
                manifest.incrs.push(incr);
                if let Err(e) = self.persist_manifest(&manifest) {
                    tracing::warn!("Can't persist the AOF manifest: {e}");
                    return Err(e.to_string());
                }
                self.aof.manifest = manifest;
                self.switch_incr_file(file);
                Ok(())
            }
        }
    }

    /// From the cron: collect a finished rewrite, start scheduled or due
    /// rewrites, retry a failed write, do a postponed flush.
    pub fn aof_cron(&mut self) {
        self.reap_rewrite_child();
        let now = unix_ms() / 1000;
        if !self.has_child() && self.aof.rewrite_scheduled && !self.rewrite_limited(now) {
            let _ = self.start_aof_rewrite();
        }
        if self.aof.status == Status::On && !self.has_child() && self.rewrite_due() {
            let base = self.aof.base_size.max(1);
            let growth = (self.aof.current_size * 100 / base) as i64 - 100;
            if !self.rewrite_limited(now) {
                tracing::info!("Starting automatic rewriting of AOF on {growth}% growth");
                let _ = self.start_aof_rewrite();
            }
        }
        if self.aof.flush_postponed_since.is_some() || self.aof.write_error.is_some() {
            self.flush_aof(false);
        }
    }

    /// `auto-aof-rewrite-percentage` / `-min-size`: the AOF grew enough.
    fn rewrite_due(&self) -> bool {
        let s = &self.config.settings;
        let perc = s.auto_aof_rewrite_percentage;
        if perc == 0 || self.aof.current_size <= s.auto_aof_rewrite_min_size as u64 {
            return false;
        }
        let base = self.aof.base_size.max(1);
        (self.aof.current_size * 100 / base) as i64 - 100 >= perc
    }

    /// After repeated failures, rewrites wait 1, 2, 4... up to 60 minutes.
    fn rewrite_limited(&mut self, now: i64) -> bool {
        let a = &mut self.aof;
        if a.consecutive_failures < FAILURES_BEFORE_BACKOFF {
            a.retry_delay_minutes = 0;
            a.retry_at_unix = 0;
            return false;
        }
        if a.retry_at_unix != 0 {
            if now < a.retry_at_unix {
                return true;
            }
            a.retry_at_unix = 0;
            return false;
        }
        a.retry_delay_minutes = (a.retry_delay_minutes * 2).clamp(1, MAX_BACKOFF_MINUTES);
        a.retry_at_unix = now + a.retry_delay_minutes * 60;
        tracing::warn!(
            "Background AOF rewrite has repeatedly failed and triggered the limit, will retry in {} minutes",
            a.retry_delay_minutes
        );
        true
    }

    /// Handle the end of a rewrite child, if it ended.
    fn reap_rewrite_child(&mut self) {
        let Some(running) = &self.aof.child else {
            return;
        };
        let Some(exit) = child::reap(running.pid) else {
            return;
        };
        let running = self.aof.child.take().expect("checked above");
        self.aof.last_cow_size = std::mem::take(&mut self.rdb.cow).current;
        self.aof.last_rewrite_secs = running.started.elapsed().as_secs() as i64;
        let temp = self.aof_dir().join(temp_base_name(running.pid));
        let outcome = match exit {
            Exit::Success => self.install_rewritten_base(&temp),
            Exit::Signal(sig) => Err(format!("Background AOF rewrite terminated by signal {sig}")),
            Exit::Failure => Err("Background AOF rewrite terminated with error".into()),
        };
        match outcome {
            Ok(()) => {
                self.aof.last_rewrite_ok = true;
                self.aof.consecutive_failures = 0;
                tracing::info!("Background AOF rewrite finished successfully");
                self.delete_aof_history();
            }
            Err(e) => {
                let _ = std::fs::remove_file(&temp);
                // Killing the child on purpose is not a failure.
                if exit != Exit::Signal(libc::SIGUSR1) {
                    tracing::warn!("{e}");
                    self.aof.last_rewrite_ok = false;
                    self.aof.consecutive_failures += 1;
                }
                // Turning the AOF on still needs its first base.
                if self.aof.status == Status::WaitRewrite {
                    self.aof.rewrite_scheduled = true;
                }
            }
        }
    }

    /// Make the child's file the base: rename it into place, and commit a
    /// manifest naming it with the incr file opened when the rewrite
    /// started (or, for the first base, the temporary incr renamed).
    fn install_rewritten_base(&mut self, temp: &Path) -> Result<(), String> {
        let dir = self.aof_dir();
        let stem = self.config.settings.appendfilename.clone();
        let mut manifest = self.aof.manifest.clone();
        let base = manifest.next_base(&stem, self.config.settings.aof_use_rdb_preamble);
        let base_path = dir.join(&base.name);
        std::fs::rename(temp, &base_path)
            .map_err(|e| format!("Error trying to rename the temporary AOF base file: {e}"))?;
        let mut renamed_incr: Option<(std::path::PathBuf, std::path::PathBuf)> = None;
        if self.aof.status == Status::WaitRewrite {
            let incr: AofFile = manifest.next_incr(&stem);
            let from = dir.join(temp_incr_name(&stem));
            let to = dir.join(&incr.name);
            if let Err(e) = std::fs::rename(&from, &to) {
                let _ = std::fs::remove_file(&base_path);
                return Err(format!(
                    "Error trying to rename the temporary AOF incr file: {e}"
                ));
            }
            manifest.incrs.push(incr);
            renamed_incr = Some((to, from));
        }
        let keep = usize::from(self.aof.file.is_some());
        manifest.install_base(base, keep);
        if let Err(e) = self
            .persist_manifest(&manifest)
            .and_then(|_| sync_dir(&dir))
        {
            let _ = std::fs::remove_file(&base_path);
            if let Some((to, from)) = renamed_incr {
                let _ = std::fs::rename(to, from);
            }
            return Err(format!("Can't persist the AOF manifest: {e}"));
        }
        self.aof.manifest = manifest;
        let base_size = std::fs::metadata(&base_path).map_or(0, |m| m.len());
        self.aof.current_size = base_size + self.aof.incr_size;
        self.aof.base_size = self.aof.current_size;
        self.aof.fsync_offset = self.aof.current_size;
        self.aof.last_fsync_unix = unix_ms() / 1000;
        if self.aof.status == Status::WaitRewrite {
            self.aof.status = Status::On;
            tracing::info!("Background AOF rewrite terminated with success");
        }
        Ok(())
    }

    /// Delete the history files and drop them from the manifest (unless
    /// `aof-disable-auto-gc`).
    pub fn delete_aof_history(&mut self) {
        if self.config.settings.aof_disable_auto_gc || self.aof.manifest.history.is_empty() {
            return;
        }
        let dir = self.aof_dir();
        let mut manifest: Manifest = self.aof.manifest.clone();
        for f in manifest.history.drain(..) {
            match std::fs::remove_file(dir.join(&f.name)) {
                Ok(()) => tracing::info!("Removing the history file {} in the background", f.name),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!("Can't remove the history file {}: {e}", f.name),
            }
        }
        match self.persist_manifest(&manifest) {
            Ok(()) => self.aof.manifest = manifest,
            Err(e) => tracing::warn!("Can't persist the AOF manifest: {e}"),
        }
    }

    /// Stop a running rewrite (the AOF turned off or on again, shutdown).
    pub fn kill_rewrite_child(&mut self) {
        if let Some(running) = self.aof.child.take() {
            child::kill(running.pid);
            let _ = std::fs::remove_file(self.aof_dir().join(temp_base_name(running.pid)));
            tracing::info!("Killing running AOF rewrite child: {}", running.pid);
        }
    }
}

/// Write a new file through `write` and fsync it (no rename: the parent
/// installs it).
pub(super) fn write_synced(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    write(&mut out)?;
    out.flush()?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()
}

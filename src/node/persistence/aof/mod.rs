//! The append-only file, in Redis 7.0's multi-part layout (spec/node.md 4).
//!
//! The AOF is a directory (`appenddirname`) holding a base file (a snapshot:
//! an RDB, or commands), incr files (every effect since that snapshot, as
//! the RESP commands replicas get) and a manifest listing them. The effect
//! stream (`effects`) encodes each change into the AOF buffer in the order
//! the keyspace saw it; [`Node::flush_aof`] writes the buffer to the last
//! incr file before any reply of the same round goes out (the server layer
//! calls it ahead of every socket write), so no client ever sees a reply to
//! a write that is not at least in the page cache.
//!
//! `appendfsync` decides when the disk gets it:
//! * `always`: `fdatasync` right after the write, before the replies. One
//!   fsync covers everything every client wrote during the round (group
//!   commit), so throughput does not collapse with many clients.
//! * `everysec`: a background thread (`fsync`) syncs at most once a second;
//!   while it is still busy, writes wait up to two seconds, then go anyway
//!   (`aof_delayed_fsync`).
//! * `no`: the kernel decides.
//!
//! A rewrite (`rewrite`) opens a new incr file first, so writes go on into
//! it while a forked child writes a new base; the manifest then names the
//! new base and the old files become history and are deleted. Loading at
//! start-up (`startup`, `replay`) reads the manifest's files in order.

pub mod base;
pub mod fsync;
pub mod manifest;
pub mod replay;
pub mod rewrite;
pub mod startup;

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use self::fsync::FsyncWorker;
use self::manifest::Manifest;
use crate::node::config::types::AppendFsync;
use crate::node::{unix_ms, Node};
use crate::util::files::replace_atomically;

/// Whether commands go to the AOF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Off,
    On,
    /// Turned on at run time: the first rewrite must produce a base before
    /// the AOF counts (writes meanwhile go to a temporary incr file).
    WaitRewrite,
}

/// A running rewrite.
#[derive(Debug)]
pub struct RewriteChild {
    pub pid: libc::pid_t,
    pub started: Instant,
}

/// AOF persistence state.
pub struct AofState {
    pub status: Status,
    pub manifest: Manifest,
    /// The incr file commands are appended to.
    file: Option<Arc<File>>,
    /// Encoded commands not yet written.
    buf: Vec<u8>,
    /// `aof_current_size`: the base and incr files' bytes.
    pub current_size: u64,
    /// `aof_base_size`: `current_size` after the last rewrite or load.
    pub base_size: u64,
    /// Bytes in the incr file being appended.
    incr_size: u64,
    /// `current_size` at the last fsync.
    fsync_offset: u64,
    /// When the last fsync was started (Unix s).
    last_fsync_unix: i64,
    /// A write waits for a busy background fsync since then (Unix s).
    flush_postponed_since: Option<i64>,
    pub delayed_fsync: u64,
    /// The last write failed with this error (writes are refused until one
    /// succeeds).
    pub write_error: Option<String>,
    fsync: Option<FsyncWorker>,
    pub child: Option<RewriteChild>,
    pub rewrite_scheduled: bool,
    pub last_rewrite_secs: i64,
    /// `aof_last_cow_size`.
    pub last_cow_size: u64,
    pub last_rewrite_ok: bool,
    pub rewrites: u64,
    pub consecutive_failures: u64,
    /// After repeated failures, automatic rewrites wait until then (Unix s),
    /// with this many minutes between tries.
    retry_at_unix: i64,
    retry_delay_minutes: i64,
}

impl Default for AofState {
    fn default() -> Self {
        AofState {
            status: Status::Off,
            manifest: Manifest::default(),
            file: None,
            buf: Vec::new(),
            current_size: 0,
            base_size: 0,
            incr_size: 0,
            fsync_offset: 0,
            last_fsync_unix: 0,
            flush_postponed_since: None,
            delayed_fsync: 0,
            write_error: None,
            fsync: None,
            child: None,
            rewrite_scheduled: false,
            last_rewrite_secs: -1,
            last_cow_size: 0,
            last_rewrite_ok: true,
            rewrites: 0,
            consecutive_failures: 0,
            retry_at_unix: 0,
            retry_delay_minutes: 0,
        }
    }
}

impl AofState {
    /// Bytes encoded and not yet written (`aof_buffer_length`).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Background fsyncs queued or running (`aof_pending_bio_fsync`).
    pub fn pending_fsyncs(&self) -> usize {
        self.fsync.as_ref().map_or(0, FsyncWorker::in_progress)
    }

    fn fsync_worker(&mut self) -> &FsyncWorker {
        self.fsync.get_or_insert_with(|| {
            FsyncWorker::start().unwrap_or_else(|e| {
                tracing::warn!("Can't start the AOF fsync thread: {e}. Exiting...");
                std::process::exit(1)
            })
        })
    }
}

/// Open an incr file for appending, creating it.
fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().append(true).create(true).open(path)
}

/// Create (or empty) a file and open it for appending.
fn create_append(path: &Path) -> io::Result<File> {
    File::create(path)?;
    open_append(path)
}

/// Write all of `buf`; on failure, the error and how many bytes went out.
fn write_all(mut file: &File, buf: &[u8]) -> Result<(), (usize, io::Error)> {
    let mut written = 0;
    while written < buf.len() {
        match file.write(&buf[written..]) {
            Ok(0) => return Err((written, io::Error::from(io::ErrorKind::WriteZero))),
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err((written, e)),
        }
    }
    Ok(())
}

/// Write `<stem>.manifest` in `dir` atomically.
fn persist_manifest(dir: &Path, stem: &str, manifest: &Manifest) -> io::Result<()> {
    let name = format!("{stem}.manifest");
    let temp = format!("temp-{name}");
    replace_atomically(dir, &name, &temp, |out| {
        out.write_all(manifest.format().as_bytes())
    })
}

impl Node {
    /// The AOF directory (relative to `dir`, the working directory).
    pub fn aof_dir(&self) -> PathBuf {
        PathBuf::from(&self.config.settings.appenddirname)
    }

    /// Write the manifest atomically.
    fn persist_manifest(&self, manifest: &Manifest) -> io::Result<()> {
        persist_manifest(
            &self.aof_dir(),
            &self.config.settings.appendfilename,
            manifest,
        )
    }

    /// Make `file` the incr file commands are appended to. The old one gets
    /// a last background fsync (it holds everything written so far); the
    /// next command written is preceded by a `SELECT`.
    fn switch_incr_file(&mut self, file: File) {
        if let Some(old) = self.aof.file.take() {
            self.aof.fsync_worker().submit(old);
            self.aof.fsync_offset = self.aof.current_size;
            self.aof.last_fsync_unix = unix_ms() / 1000;
        }
        self.aof.file = Some(Arc::new(file));
        self.aof.incr_size = 0;
        self.effects
            .start_aof(self.config.settings.aof_timestamp_enabled);
    }

    /// Write the AOF buffer to the incr file, and fsync as `appendfsync`
    /// says. `force` writes even while a background fsync is busy.
    pub fn flush_aof(&mut self, force: bool) {
        if self.aof.file.is_none() {
            return;
        }
        self.effects.drain_aof_into(&mut self.aof.buf);
        let policy = self.config.settings.appendfsync;
        if self.aof.buf.is_empty() {
            // Nothing new, but written data may still wait for its fsync.
            if policy == AppendFsync::Everysec && self.aof.fsync_offset != self.aof.current_size {
                let now = unix_ms() / 1000;
                if now > self.aof.last_fsync_unix && self.aof.pending_fsyncs() == 0 {
                    if let Some(file) = self.aof.file.clone() {
                        self.aof_fsync(&file, policy, now, false);
                    }
                }
            }
            return;
        }
        let Some(file) = self.aof.file.clone() else {
            return;
        };
        let now = unix_ms() / 1000;
        let sync_in_progress = policy == AppendFsync::Everysec && self.aof.pending_fsyncs() > 0;

        if policy == AppendFsync::Everysec && !force && sync_in_progress {
            // A write now would wait in the kernel behind the fsync.
            match self.aof.flush_postponed_since {
                None => {
                    self.aof.flush_postponed_since = Some(now);
                    return;
                }
                Some(since) if now - since < 2 => return,
                Some(_) => {
                    self.aof.delayed_fsync += 1;
                    tracing::info!("Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer without waiting for fsync to complete, this may slow down Vigil.");
                }
            }
        }
        self.aof.flush_postponed_since = None;

        let started = std::time::Instant::now();
        let written = write_all(&file, &self.aof.buf);
        // The write's latency, under the circumstance that explains it
        // (a fsync in flight, a child competing for the disk, or neither),
        // and under `aof-write` for all of them, as Redis files it.
        let write_ms = started.elapsed().as_millis() as u64;
        let circumstance = if sync_in_progress {
            "aof-write-pending-fsync"
        } else if self.has_child() {
            "aof-write-active-child"
        } else {
            "aof-write-alone"
        };
        self.latency_sample(circumstance, write_ms);
        self.latency_sample("aof-write", write_ms);
        if let Err((written, e)) = written {
            self.aof_write_failed(&file, written, e, policy);
            return;
        }
        let n = self.aof.buf.len() as u64;
        self.aof.current_size += n;
        self.aof.incr_size += n;
        // Keep a modest buffer around; give back a big one.
        if self.aof.buf.capacity() > 4 * 1024 * 1024 {
            self.aof.buf = Vec::new();
        } else {
            self.aof.buf.clear();
        }
        if self.aof.write_error.take().is_some() {
            tracing::warn!("AOF write error looks solved, Vigil can write again.");
        }
        self.aof_fsync(&file, policy, now, sync_in_progress);
    }

    /// The fsync after a write, per `appendfsync`.
    fn aof_fsync(&mut self, file: &Arc<File>, policy: AppendFsync, now: i64, busy: bool) {
        if self.config.settings.no_appendfsync_on_rewrite && self.has_child() {
            return;
        }
        match policy {
            AppendFsync::Always => {
                let started = std::time::Instant::now();
                let synced = file.sync_data();
                self.latency_sample("aof-fsync-always", started.elapsed().as_millis() as u64);
                if let Err(e) = synced {
                    tracing::warn!("Can't persist AOF for fsync error when the AOF fsync policy is 'always': {e}. Exiting...");
                    std::process::exit(1);
                }
                self.aof.fsync_offset = self.aof.current_size;
                self.aof.last_fsync_unix = now;
            }
            AppendFsync::Everysec => {
                if now > self.aof.last_fsync_unix {
                    if !busy {
                        self.aof.fsync_worker().submit(file.clone());
                        self.aof.fsync_offset = self.aof.current_size;
                    }
                    self.aof.last_fsync_unix = now;
                }
            }
            AppendFsync::No => {}
        }
    }

    /// A write to the AOF failed after `written` bytes. A partial command
    /// is cut off again if possible (else it counts as written); with
    /// `always` the promise cannot be kept and the server exits; otherwise
    /// writes are refused until a retry succeeds.
    fn aof_write_failed(&mut self, file: &File, written: usize, e: io::Error, policy: AppendFsync) {
        let text = crate::node::config::rewrite::error_text(&e);
        if written > 0 {
            tracing::warn!(
                "Short write while writing to the AOF file: (nwritten={written}, expected={})",
                self.aof.buf.len()
            );
            if file.set_len(self.aof.incr_size).is_err() {
                self.aof.buf.drain(..written);
                self.aof.current_size += written as u64;
                self.aof.incr_size += written as u64;
            }
        } else {
            tracing::warn!("Error writing to the AOF file: {text}");
        }
        if policy == AppendFsync::Always {
            tracing::warn!("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...");
            std::process::exit(1);
        }
        self.aof.write_error = Some(text);
    }

    /// Why writes are refused because of the AOF, if they are: the last
    /// write or background fsync failed.
    pub fn aof_write_refusal(&self) -> Option<String> {
        if self.aof.status == Status::Off {
            return None;
        }
        let failure = self
            .aof
            .write_error
            .clone()
            .or_else(|| self.aof.fsync.as_ref().and_then(FsyncWorker::failure))?;
        Some(format!("MISCONF Errors writing to the AOF file: {failure}"))
    }

    /// Flush and fsync everything (shutdown, turning the AOF off).
    pub fn sync_aof(&mut self) {
        self.flush_aof(true);
        if let Some(file) = &self.aof.file {
            if let Err(e) = file.sync_data() {
                tracing::warn!("Fail to fsync the AOF file: {e}");
            }
            self.aof.fsync_offset = self.aof.current_size;
        }
        if let Some(worker) = &self.aof.fsync {
            worker.drain();
        }
    }

    /// `CONFIG SET appendonly no`: write what is pending, close the file,
    /// stop a rewrite.
    pub fn stop_append_only(&mut self) {
        if self.aof.status == Status::Off {
            return;
        }
        self.sync_aof();
        self.aof.file = None;
        let _ = self.effects.stop_aof();
        self.aof.status = Status::Off;
        self.aof.rewrite_scheduled = false;
        self.kill_rewrite_child();
        tracing::info!("Background append only file rewriting is off");
    }

    /// `CONFIG SET appendonly yes`: a rewrite writes the first base from the
    /// current data; the AOF counts from its end.
    pub fn start_append_only(&mut self) -> Result<(), String> {
        if self.aof.status != Status::Off {
            return Ok(());
        }
        self.aof.status = Status::WaitRewrite;
        if self.rdb.child.is_some() || self.call_depth > 1 {
            self.aof.rewrite_scheduled = true;
            tracing::info!("AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible.");
            return Ok(());
        }
        self.kill_rewrite_child();
        if let Err(e) = self.start_aof_rewrite() {
            self.aof.status = Status::Off;
            tracing::warn!("Vigil needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the above logs for more info about the error.");
            return Err(e);
        }
        self.aof.last_fsync_unix = unix_ms() / 1000;
        Ok(())
    }
}

//! The background fsync of `appendfsync everysec`: a thread that calls
//! `fdatasync` on the AOF so that the event loop never waits for the disk.
//!
//! Jobs carry the file itself (shared), so a file switched away from by a
//! rewrite stays open until its last fsync is done. The loop asks
//! [`FsyncWorker::in_progress`] before writing: while a fsync runs, a
//! `write` to the same file can block in the kernel, which is why Redis
//! postpones writes then (up to two seconds).

use std::fs::File;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};

pub struct FsyncWorker {
    jobs: Sender<Arc<File>>,
    pending: Arc<AtomicUsize>,
    /// The last background fsync failed (and the error), until one succeeds.
    failed: Arc<AtomicBool>,
    error: Arc<Mutex<String>>,
}

impl FsyncWorker {
    pub fn start() -> std::io::Result<FsyncWorker> {
        let (jobs, rx) = mpsc::channel::<Arc<File>>();
        let pending = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicBool::new(false));
        let error = Arc::new(Mutex::new(String::new()));
        let (p, f, e) = (pending.clone(), failed.clone(), error.clone());
        std::thread::Builder::new()
            .name("aof-fsync".into())
            .spawn(move || {
                for file in rx {
                    match file.sync_data() {
                        Ok(()) => f.store(false, Ordering::Release),
                        Err(err) => {
                            tracing::warn!("Fail to fsync the AOF file: {err}");
                            if let Ok(mut text) = e.lock() {
                                *text = crate::node::config::rewrite::error_text(&err);
                            }
                            f.store(true, Ordering::Release);
                        }
                    }
                    p.fetch_sub(1, Ordering::AcqRel);
                }
            })?;
        Ok(FsyncWorker {
            jobs,
            pending,
            failed,
            error,
        })
    }

    /// Queue a fsync of `file`.
    pub fn submit(&self, file: Arc<File>) {
        self.pending.fetch_add(1, Ordering::AcqRel);
        if self.jobs.send(file).is_err() {
            self.pending.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Fsyncs queued or running (`aof_pending_bio_fsync`).
    pub fn in_progress(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }

    /// The error of the last background fsync, if it failed.
    pub fn failure(&self) -> Option<String> {
        if !self.failed.load(Ordering::Acquire) {
            return None;
        }
        Some(self.error.lock().map(|e| e.clone()).unwrap_or_default())
    }

    /// Wait until every queued fsync is done (switching files, shutdown).
    pub fn drain(&self) {
        while self.in_progress() > 0 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

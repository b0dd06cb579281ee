//! Loading the dataset at start-up, while clients that connect meanwhile
//! get `-LOADING` (the node answers them between load steps).
//!
//! With `appendonly yes` the AOF is the source of truth (the RDB is
//! ignored, as in Redis): its files load in the manifest's order — an RDB
//! base through the snapshot reader thread, commands a batch at a time —
//! and then the AOF is opened for appending. Otherwise `dbfilename` loads
//! if it exists.

use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::{Shared, StartError};
use crate::node::persistence::aof::manifest::Manifest;
use crate::node::persistence::aof::startup::{self as aof, CommandFileLoad};
use crate::node::persistence::load::{spawn_reader, InsertRules, LoadMessage, LoadingState};
use crate::node::persistence::rdb::reader::FileInfo;

/// AOF commands run per step before other clients get a turn.
const COMMANDS_PER_STEP: usize = 1000;

pub async fn load_data(shared: &Rc<Shared>) -> Result<(), StartError> {
    let appendonly = shared.node.borrow().config.settings.appendonly;
    if appendonly {
        return load_aof(shared).await;
    }
    let manifest = aof::read_manifest(&shared.node.borrow().config.settings)
        .map_err(|e| StartError(format!("{e}. Exiting.")))?;
    if let Some(m) = manifest {
        shared.node.borrow_mut().aof.manifest = m;
    }
    load_snapshot(shared).await
}

/// Load `dbfilename` if it exists.
async fn load_snapshot(shared: &Rc<Shared>) -> Result<(), StartError> {
    let path = std::path::PathBuf::from(&shared.node.borrow().config.settings.dbfilename);
    if !path.exists() {
        return Ok(());
    }
    let fatal = |e: String| {
        StartError(format!(
            "Fatal error loading the DB ({}): {e}. Exiting.",
            path.display()
        ))
    };
    let total = std::fs::metadata(&path)
        .map_err(|e| fatal(e.to_string()))?
        .len();
    let started = Instant::now();
    let progress = begin_loading(shared, total);
    let rules = InsertRules {
        drop_expired: true,
        replace_existing: false,
    };
    let loaded = load_rdb(shared, &path, rules, progress).await;
    let state = shared.node.borrow_mut().loading.take();
    let info = loaded.map_err(fatal)?;
    shared.node.borrow_mut().restore_replication_info(&info);
    if let Some(state) = state {
        let mut node = shared.node.borrow_mut();
        node.rdb.last_load_keys_loaded = state.keys_loaded;
        node.rdb.last_load_keys_expired = state.keys_expired;
    }
    tracing::info!(
        "DB loaded from disk: {:.3} seconds",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Load the AOF's files in order, then open it for appending.
async fn load_aof(shared: &Rc<Shared>) -> Result<(), StartError> {
    let fatal = |e: String| StartError(format!("Fatal error loading the AOF: {e}. Exiting."));
    let (manifest, dir) = {
        let node = shared.node.borrow();
        (aof::find(&node.config.settings), node.aof_dir())
    };
    let manifest = manifest.map_err(fatal)?.unwrap_or_default();
    let files = aof::files_to_load(&dir, &manifest).map_err(fatal)?;
    let total: u64 = files
        .iter()
        .map(|f| std::fs::metadata(&f.path).map_or(0, |m| m.len()))
        .sum();
    if total > 0 {
        let started = Instant::now();
        let progress = begin_loading(shared, total);
        let mut result = Ok(());
        for file in files {
            let file_started = Instant::now();
            let kind = if manifest.base.as_ref().is_some_and(|b| b.name == file.name) {
                "base"
            } else {
                "incr"
            };
            result = load_aof_file(shared, file.clone(), progress.clone()).await;
            if result.is_err() {
                break;
            }
            tracing::info!(
                "DB loaded from {kind} file {}: {:.3} seconds",
                file.name,
                file_started.elapsed().as_secs_f64()
            );
        }
        shared.node.borrow_mut().loading = None;
        result.map_err(fatal)?;
        tracing::info!(
            "DB loaded from append only file: {:.3} seconds",
            started.elapsed().as_secs_f64()
        );
    }
    open_aof(shared, manifest)
}

fn open_aof(shared: &Shared, manifest: Manifest) -> Result<(), StartError> {
    shared
        .node
        .borrow_mut()
        .open_aof_after_load(manifest)
        .map_err(|e| StartError(format!("{e}. Exiting.")))
}

/// One AOF file: an RDB part if it starts like one, then commands.
async fn load_aof_file(
    shared: &Rc<Shared>,
    file: aof::FileToLoad,
    progress: Arc<AtomicU64>,
) -> Result<(), String> {
    let size = std::fs::metadata(&file.path)
        .map_err(|e| format!("{}: {e}", file.name))?
        .len();
    if size == 0 {
        return Ok(());
    }
    let before = progress.load(Ordering::Relaxed);
    let mut offset = 0;
    if aof::starts_with_rdb(&file.path).map_err(|e| format!("{}: {e}", file.name))? {
        tracing::info!("Reading RDB base file on AOF loading...");
        // An AOF keeps keys that expired: its own commands say when they go.
        let rules = InsertRules {
            drop_expired: false,
            replace_existing: false,
        };
        let info = load_rdb(shared, &file.path, rules, progress.clone())
            .await
            .map_err(|e| format!("{} ({})", e, file.name))?;
        offset = info.length;
        if offset >= size {
            return Ok(());
        }
        tracing::info!("Reading the remaining AOF tail...");
    }
    let mut load = CommandFileLoad::open(file.clone(), offset)
        .map_err(|e| format!("Can't open the append-only file {}: {e}", file.name))?;
    loop {
        let done = load.step(&mut shared.node.borrow_mut(), COMMANDS_PER_STEP)?;
        progress.store(before + load.position(), Ordering::Relaxed);
        if done {
            return Ok(());
        }
        // Let clients (and their -LOADING replies) through between steps.
        tokio::task::yield_now().await;
    }
}

/// Mark the node as loading `total` bytes; the returned counter tracks
/// progress for INFO.
pub(super) fn begin_loading(shared: &Shared, total: u64) -> Arc<AtomicU64> {
    let progress = Arc::new(AtomicU64::new(0));
    shared.node.borrow_mut().loading = Some(LoadingState {
        started_unix: crate::node::unix_ms() / 1000,
        total_bytes: total,
        loaded_bytes: progress.clone(),
        keys_loaded: 0,
        keys_expired: 0,
    });
    progress
}

/// Read an RDB file on a thread and insert its keys batch by batch.
pub(super) async fn load_rdb(
    shared: &Rc<Shared>,
    path: &Path,
    rules: InsertRules,
    progress: Arc<AtomicU64>,
) -> Result<FileInfo, String> {
    let databases = shared.node.borrow().config.settings.databases as usize;
    let (keys_before, expired_before) = shared
        .node
        .borrow()
        .loading
        .as_ref()
        .map_or((0, 0), |l| (l.keys_loaded, l.keys_expired));
    let mut rx = spawn_reader(path, databases, progress).map_err(|e| e.to_string())?;
    while let Some(message) = rx.recv().await {
        match message {
            LoadMessage::Keys(batch) => {
                // Dropping the receiver on error stops the reading thread.
                shared.node.borrow_mut().insert_loaded(batch, rules)?;
            }
            LoadMessage::Done(Err(e)) => return Err(e),
            LoadMessage::Done(Ok(info)) => {
                let node = shared.node.borrow();
                let (keys, expired) = node
                    .loading
                    .as_ref()
                    .map_or((0, 0), |l| (l.keys_loaded, l.keys_expired));
                let (keys, expired) = (keys - keys_before, expired - expired_before);
                if info.empty_keys_skipped > 0 {
                    tracing::warn!("Done loading RDB, keys loaded: {keys}, keys expired: {expired}, empty keys skipped: {}.", info.empty_keys_skipped);
                } else {
                    tracing::info!(
                        "Done loading RDB, keys loaded: {keys}, keys expired: {expired}."
                    );
                }
                return Ok(info);
            }
        }
        tokio::task::yield_now().await;
    }
    Err("the reading thread stopped".into())
}

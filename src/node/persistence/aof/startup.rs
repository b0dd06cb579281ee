//! The AOF at start-up: finding its files, loading their commands, and
//! opening the last incr file for appending (spec/node.md 4.5).
//!
//! [`find`] reads the manifest, first moving an old single-file AOF into
//! the directory if that is all there is. The server layer then loads the
//! files in order (an RDB base through the snapshot loader, commands
//! through [`CommandFileLoad`], a step at a time so that clients get
//! `-LOADING` meanwhile), and [`Node::open_aof_after_load`] makes the AOF
//! ready to append: creating a first base and incr file if there were none.
//! [`Node::load_aof_now`] is the same load done at once (DEBUG LOADAOF).

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::manifest::Manifest;
use super::replay::{loader_client, CommandReader, StreamError};
use super::rewrite::write_synced;
use super::{base, create_append, open_append, persist_manifest, Status};
use crate::node::client::Client;
use crate::node::config::Settings;
use crate::node::persistence::rdb::writer::write_keyspace;
use crate::node::{unix_ms, Node};

/// One file to load.
#[derive(Debug, Clone)]
pub struct FileToLoad {
    pub name: String,
    pub path: PathBuf,
    /// Only the last file may be cut short by `aof-load-truncated`.
    pub last: bool,
}

/// The AOF's manifest, or `None` if there is no AOF at all. An old-style
/// single file (`appendfilename` in `dir`) is moved into the directory
/// under a new manifest first, as Redis 7.0 upgrades it.
pub fn find(s: &Settings) -> Result<Option<Manifest>, String> {
    let dir = PathBuf::from(&s.appenddirname);
    let manifest_path = dir.join(format!("{}.manifest", s.appendfilename));
    match std::fs::read(&manifest_path) {
        Ok(text) => {
            let m = Manifest::parse(&text)
                .map_err(|e| format!("{e} (in the AOF manifest {})", manifest_path.display()))?;
            return Ok(Some(m));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(format!(
                "Can't read the AOF manifest {}: {e}",
                manifest_path.display()
            ))
        }
    }
    let old = PathBuf::from(&s.appendfilename);
    if !old.is_file() {
        return Ok(None);
    }
    upgrade_single_file(&dir, &s.appendfilename).map(Some)
}

/// The manifest alone, when the AOF is off: a later BGREWRITEAOF or
/// `CONFIG SET appendonly yes` continues its numbering, as in Redis.
pub fn read_manifest(s: &Settings) -> Result<Option<Manifest>, String> {
    let path = PathBuf::from(&s.appenddirname).join(format!("{}.manifest", s.appendfilename));
    match std::fs::read(&path) {
        Ok(text) => Manifest::parse(&text)
            .map(Some)
            .map_err(|e| format!("{e} (in the AOF manifest {})", path.display())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!(
            "Can't read the AOF manifest {}: {e}",
            path.display()
        )),
    }
}

/// Move `dir/../<stem>` into `dir` as the base of a new manifest.
fn upgrade_single_file(dir: &Path, stem: &str) -> Result<Manifest, String> {
    let fail = |e: io::Error| format!("Can't upgrade the old-style AOF {stem}: {e}");
    std::fs::create_dir_all(dir).map_err(fail)?;
    let m = Manifest {
        base_seq: 1,
        base: Some(super::manifest::AofFile {
            name: stem.to_string(),
            seq: 1,
            kind: super::manifest::FileType::Base,
        }),
        ..Manifest::default()
    };
    persist_manifest(dir, stem, &m).map_err(fail)?;
    std::fs::rename(stem, dir.join(stem)).map_err(fail)?;
    tracing::info!("Successfully migrated an old-style AOF into the AOF directory");
    Ok(m)
}

/// The manifest's files in load order; a listed file that is missing is
/// an error.
pub fn files_to_load(dir: &Path, m: &Manifest) -> Result<Vec<FileToLoad>, String> {
    let listed: Vec<_> = m.load_order().collect();
    let mut out = Vec::with_capacity(listed.len());
    for (i, f) in listed.iter().enumerate() {
        let path = dir.join(&f.name);
        if !path.is_file() {
            return Err(format!("The AOF file {} doesn't exist", f.name));
        }
        out.push(FileToLoad {
            name: f.name.clone(),
            path,
            last: i + 1 == listed.len(),
        });
    }
    Ok(out)
}

/// Whether a file starts like an RDB (a base, or an old preamble AOF).
pub fn starts_with_rdb(path: &Path) -> io::Result<bool> {
    let mut magic = [0u8; 5];
    let mut f = File::open(path)?;
    let mut got = 0;
    while got < magic.len() {
        match f.read(&mut magic[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got == 5 && &magic == b"REDIS")
}

/// Loading the commands of one file, a few at a time.
pub struct CommandFileLoad {
    file: FileToLoad,
    reader: CommandReader<BufReader<File>>,
    client: Client,
    /// Where the open MULTI started (a file cut inside it is cut there).
    multi_start: u64,
}

impl CommandFileLoad {
    /// Read `file`'s commands from `offset` (after an RDB preamble).
    pub fn open(file: FileToLoad, offset: u64) -> io::Result<CommandFileLoad> {
        let mut f = File::open(&file.path)?;
        f.seek(SeekFrom::Start(offset))?;
        Ok(CommandFileLoad {
            file,
            reader: CommandReader::new(BufReader::with_capacity(1 << 20, f), offset),
            client: loader_client(unix_ms()),
            multi_start: offset,
        })
    }

    /// Bytes of the file read so far.
    pub fn position(&self) -> u64 {
        self.reader.offset()
    }

    /// Run up to `budget` commands. `Ok(true)` when the file is done.
    pub fn step(&mut self, node: &mut Node, budget: usize) -> Result<bool, String> {
        let name = self.file.name.clone();
        for _ in 0..budget {
            let before = self.reader.valid_up_to();
            match self.reader.next_command() {
                Ok(Some(argv)) => {
                    if argv[0].eq_ignore_ascii_case(b"multi") {
                        self.multi_start = before;
                    }
                    node.replay(&mut self.client, &argv)
                        .map_err(|e| format!("{e} {name}"))?;
                }
                Ok(None) if self.client.in_multi() => {
                    tracing::info!("Revert incomplete MULTI/EXEC transaction in AOF file {name}");
                    return self.truncated(node);
                }
                Ok(None) => return Ok(true),
                Err(StreamError::Truncated) => return self.truncated(node),
                Err(StreamError::BadFormat) => {
                    return Err(format!("Bad file format reading the append only file {name}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>"));
                }
                Err(StreamError::Io(e)) => {
                    return Err(format!(
                        "Unrecoverable error reading the append only file {name}: {e}"
                    ));
                }
            }
        }
        Ok(false)
    }

    /// The file ends inside a command (or a transaction): cut it after the
    /// last complete one if allowed, else refuse to start.
    fn truncated(&mut self, node: &Node) -> Result<bool, String> {
        let name = &self.file.name;
        let at = if self.client.in_multi() {
            self.multi_start
        } else {
            self.reader.valid_up_to()
        };
        if !(self.file.last && node.config.settings.aof_load_truncated) {
            return Err(format!("Unexpected end of file reading the append only file {name}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server."));
        }
        tracing::warn!("!!! Warning: short read while loading the AOF file {name}!!!");
        tracing::warn!("!!! Truncating the AOF {name} at offset {at} !!!");
        OpenOptions::new()
            .write(true)
            .open(&self.file.path)
            .and_then(|f| f.set_len(at))
            .map_err(|e| format!("Error truncating the AOF file {name}: {e}"))?;
        tracing::warn!("AOF {name} loaded anyway because aof-load-truncated is enabled");
        Ok(true)
    }
}

impl Node {
    /// `DEBUG LOADAOF`: write out and fsync the AOF, then replace the
    /// dataset with what its files load to, blocking. Nothing is propagated
    /// meanwhile (the AOF already holds it); if the files do not load, the
    /// dataset that was there stays.
    pub fn load_aof_now(&mut self) -> Result<(), String> {
        if self.aof.status != Status::On {
            return Err("the AOF is not enabled".into());
        }
        self.flush_aof(true);
        self.sync_aof();
        let files = files_to_load(&self.aof_dir(), &self.aof.manifest.clone())?;
        let fresh = crate::node::keyspace::Keyspace::new(self.keyspace.dbs.len());
        let old = std::mem::replace(&mut self.keyspace, fresh);
        let effects = std::mem::take(&mut self.effects);
        self.loading = Some(crate::node::persistence::load::LoadingState {
            started_unix: unix_ms() / 1000,
            total_bytes: 0,
            loaded_bytes: Default::default(),
            keys_loaded: 0,
            keys_expired: 0,
        });
        let result = self.load_aof_files_now(files);
        self.loading = None;
        self.effects = effects;
        match result {
            Ok(()) => {
                let keys: u64 = old.dbs.iter().map(|db| db.len() as u64).sum();
                crate::node::keyspace::lazyfree::free_later(old, keys);
                self.dirty = 0;
                Ok(())
            }
            Err(e) => {
                self.keyspace = old;
                Err(e)
            }
        }
    }

    fn load_aof_files_now(&mut self, files: Vec<FileToLoad>) -> Result<(), String> {
        let rules = crate::node::persistence::load::InsertRules {
            drop_expired: false,
            replace_existing: false,
        };
        for file in files {
            let size = std::fs::metadata(&file.path)
                .map_err(|e| format!("{}: {e}", file.name))?
                .len();
            let mut offset = 0;
            if size > 0 && starts_with_rdb(&file.path).map_err(|e| e.to_string())? {
                let (info, _) = self.load_file_now(&file.path, rules)?;
                offset = info.length;
            }
            if offset < size {
                let mut load = CommandFileLoad::open(file, offset).map_err(|e| e.to_string())?;
                while !load.step(self, usize::MAX)? {}
            }
        }
        Ok(())
    }

    /// After loading (or with no AOF at all): make sure a base and an incr
    /// file exist, open the last incr file for appending, and start
    /// feeding the AOF. `manifest` is what was loaded (empty if nothing).
    pub fn open_aof_after_load(&mut self, mut manifest: Manifest) -> Result<(), String> {
        let dir = self.aof_dir();
        let stem = self.config.settings.appendfilename.clone();
        std::fs::create_dir_all(&dir).map_err(|e| {
            format!(
                "Can't open or create append-only dir {}: {e}",
                dir.display()
            )
        })?;
        // What was loaded counts as the size the next rewrite is measured by.
        let loaded: u64 = manifest
            .load_order()
            .map(|f| std::fs::metadata(dir.join(&f.name)).map_or(0, |m| m.len()))
            .sum();

        if manifest.base.is_none() && manifest.incrs.is_empty() {
            let base = manifest.next_base(&stem, self.config.settings.aof_use_rdb_preamble);
            self.write_base_now(&dir.join(&base.name))
                .map_err(|e| format!("Can't create the AOF base file {}: {e}", base.name))?;
            tracing::info!("Creating AOF base file {} on server start", base.name);
            manifest.install_base(base, 0);
        }
        let (file, incr_size) = match manifest.incrs.last() {
            Some(last) => {
                let path = dir.join(&last.name);
                let file = open_append(&path)
                    .map_err(|e| format!("Can't open the append-only file {}: {e}", last.name))?;
                tracing::info!("Opening AOF incr file {} on server start", last.name);
                let size = file.metadata().map_or(0, |m| m.len());
                (file, size)
            }
            None => {
                let incr = manifest.next_incr(&stem);
                let file = create_append(&dir.join(&incr.name))
                    .map_err(|e| format!("Can't open the append-only file {}: {e}", incr.name))?;
                tracing::info!("Creating AOF incr file {} on server start", incr.name);
                manifest.incrs.push(incr);
                (file, 0)
            }
        };
        persist_manifest(&dir, &stem, &manifest)
            .map_err(|e| format!("Can't persist the AOF manifest: {e}"))?;
        self.aof.manifest = manifest;
        self.switch_incr_file(file);
        self.aof.incr_size = incr_size;
        self.aof.current_size = loaded;
        self.aof.base_size = loaded;
        self.aof.fsync_offset = loaded;
        self.aof.last_fsync_unix = unix_ms() / 1000;
        self.aof.status = Status::On;
        self.delete_aof_history();
        Ok(())
    }

    /// Write a base file from the current dataset, in the foreground.
    pub(super) fn write_base_now(&self, path: &Path) -> io::Result<()> {
        let preamble = self.config.settings.aof_use_rdb_preamble;
        let timestamp = self
            .config
            .settings
            .aof_timestamp_enabled
            .then(|| unix_ms() / 1000);
        let aux = crate::node::persistence::rdb::writer::AuxFields {
            aof_base: true,
            ..self.aux_fields()
        };
        let opts = self.rdb_options();
        write_synced(path, |out| {
            if preamble {
                write_keyspace(out, &self.keyspace, &aux, opts).map(|_| ())
            } else {
                base::write_commands(out, &self.keyspace, timestamp)
            }
        })
    }
}

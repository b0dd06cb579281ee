//! Replacing files so that a crash never leaves a half-written one in
//! place: write a temporary file in the same directory, flush and fsync
//! it, rename it over the target (atomic on POSIX), then fsync the
//! directory so the rename itself survives a power loss.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Write `target` in `dir` through `write`, atomically. `temp_name` is the
/// temporary file's name (Redis uses `temp-<pid>.rdb`).
pub fn replace_atomically<T>(
    dir: &Path,
    target: &str,
    temp_name: &str,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<T>,
) -> io::Result<T> {
    let temp = dir.join(temp_name);
    let result = (|| {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let value = write(&mut out)?;
        out.flush()?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, dir.join(target))?;
        sync_dir(dir)?;
        Ok(value)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// fsync a directory (makes renames and creations in it durable).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temp() {
        let dir = std::env::temp_dir().join(format!("vigil-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        replace_atomically(&dir, "f", "temp-1", |w| w.write_all(b"first")).unwrap();
        let err = replace_atomically(&dir, "f", "temp-1", |w| {
            w.write_all(b"partial")?;
            Err::<(), _>(io::Error::other("disk full"))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read(dir.join("f")).unwrap(), b"first");
        assert!(!dir.join("temp-1").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

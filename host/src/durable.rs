//! The small files a standalone worker keeps across restarts (offsets,
//! connectors): read when present, and replaced whole through a temporary
//! file of their own, flushed to disk, renamed over the old one, and the
//! directory flushed too, so a crash or a power cut leaves the old or the
//! new version, never a mix, an empty file or a lost rename.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Reads `path` if it exists (`None` if not) and makes sure its directory
/// exists, so the first write cannot fail for want of it.
pub fn open(path: &Path, what: &str) -> Result<Option<String>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(e).with_context(|| format!("reading {what} from {}", path.display()));
        }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the directory {}", dir.display()))?;
    }
    Ok(text)
}

/// Replaces `path` with `text`: written to [`temp_path`], flushed to disk,
/// renamed over `path`, and the rename flushed with the directory. Without
/// the flushes a crash soon after the rename can leave an empty or partial
/// file under the new name on file systems that reorder metadata and data
/// (ext4 without `auto_da_alloc`, XFS).
pub fn replace(path: &Path, text: &str, what: &str) -> Result<()> {
    let tmp = temp_path(path);
    let write = || -> std::io::Result<()> {
        let mut file = File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        File::open(dir)?.sync_all()
    };
    write().with_context(|| format!("writing {what} to {}", path.display()))
}

/// Where `path`'s next version is written before it replaces it: a hidden
/// file named after the whole file name, so two stores in one directory
/// (`connect.offsets`, `connect.configs`) never share one.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_in_one_directory_have_temp_files_of_their_own() {
        let dir = Path::new("/var/lib/sluice");
        let offsets = temp_path(&dir.join("connect.offsets"));
        let configs = temp_path(&dir.join("connect.configs"));
        assert_ne!(offsets, configs);
        assert_eq!(offsets, dir.join(".connect.offsets.tmp"));
    }

    #[test]
    fn a_replaced_file_holds_the_new_text_and_no_temp_file_is_left() {
        let dir = std::env::temp_dir().join(format!("sluice-durable-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("connect.offsets");
        replace(&path, "old", "offsets").unwrap();
        replace(&path, "new", "offsets").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert!(!temp_path(&path).exists());
        std::fs::remove_dir_all(dir).unwrap();
    }
}

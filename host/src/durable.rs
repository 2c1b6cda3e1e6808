//! The small files a standalone worker keeps across restarts (offsets,
//! connectors): read when present, and replaced whole through a temporary
//! file and a rename, so a crash leaves the old or the new version, never a
//! mix.

use std::path::Path;

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

/// Replaces `path` with `text`.
pub fn replace(path: &Path, text: &str, what: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("writing {what} to {}", path.display()))
}

//! Source offsets: the position each connector reached in each of its
//! source partitions, persisted only after Kafka acknowledged every record
//! up to it. Standalone workers keep them in a file (here); distributed
//! workers in the offset topic (`cluster::offset_log`), behind the same
//! [`OffsetStore`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::durable;

/// A connector's offsets: partition JSON to offset JSON, both as the
/// connector wrote them.
pub type ConnectorOffsets = BTreeMap<String, String>;

/// Where source offsets are kept: what tasks and the REST offsets
/// endpoints read and write. Calls block until the offsets are durable;
/// tasks call them from their own threads.
pub trait OffsetStore: Send + Sync {
    /// The committed offsets of `connector`, as (partition, offset) pairs,
    /// both JSON.
    fn offsets(&self, connector: &str) -> Vec<(String, String)>;

    /// Sets (`Some`) or removes (`None`) the offsets of some of
    /// `connector`'s partitions. A partition or offset that is not JSON is
    /// refused before anything changes.
    fn alter(&self, connector: &str, changes: &[(&str, Option<&str>)]) -> Result<()>;

    /// Records new offsets for `connector`.
    fn commit(&self, connector: &str, offsets: &ConnectorOffsets) -> Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        let changes: Vec<(&str, Option<&str>)> = offsets
            .iter()
            .map(|(p, o)| (p.as_str(), Some(o.as_str())))
            .collect();
        self.alter(connector, &changes)
    }

    /// Forgets every offset of `connector`.
    fn reset(&self, connector: &str) -> Result<()> {
        let partitions = self.offsets(connector);
        let changes: Vec<(&str, Option<&str>)> =
            partitions.iter().map(|(p, _)| (p.as_str(), None)).collect();
        if changes.is_empty() {
            return Ok(());
        }
        self.alter(connector, &changes)
    }
}

/// Checks the changes of an [`OffsetStore::alter`]: each partition in the
/// one spelling the stores key by, so that a partition written by a plugin
/// and the same one given over REST (or read back from the store) are one
/// entry, and each offset JSON. The first problem is an error naming the
/// connector and the value.
pub fn checked_changes<'a>(
    connector: &str,
    changes: &[(&str, Option<&'a str>)],
) -> Result<Vec<(String, Option<&'a str>)>> {
    changes
        .iter()
        .map(|(partition, offset)| {
            let key = serde_json::from_str::<Value>(partition)
                .map(|v| v.to_string())
                .with_context(|| {
                    format!("connector {connector}: the source partition {partition} is not JSON")
                })?;
            if let Some(offset) = offset {
                serde_json::from_str::<Value>(offset).with_context(|| {
                    format!(
                        "connector {connector}: the offset {offset} of source partition \
                         {partition} is not JSON"
                    )
                })?;
            }
            Ok((key, *offset))
        })
        .collect()
}

/// The standalone offset store (`offset.storage.file.filename`). Every
/// commit rewrites the file through a temporary file and a rename, so a
/// crash leaves the old or the new version, never a mix.
pub struct FileOffsetStore {
    path: PathBuf,
    connectors: Mutex<BTreeMap<String, ConnectorOffsets>>,
}

impl FileOffsetStore {
    /// Opens the store, reading the file if it exists.
    pub fn open(path: &Path) -> Result<Self> {
        let connectors = match durable::open(path, "offsets")? {
            Some(text) => {
                parse(&text).with_context(|| format!("reading offsets from {}", path.display()))?
            }
            None => BTreeMap::new(),
        };
        Ok(FileOffsetStore {
            path: path.to_path_buf(),
            connectors: Mutex::new(connectors),
        })
    }

    fn write(&self, connectors: &BTreeMap<String, ConnectorOffsets>) -> Result<()> {
        durable::replace(&self.path, &render(connectors)?, "offsets")
    }
}

impl OffsetStore for FileOffsetStore {
    fn offsets(&self, connector: &str) -> Vec<(String, String)> {
        let connectors = self.connectors.lock().expect("offset store lock");
        connectors
            .get(connector)
            .map(|o| o.iter().map(|(p, o)| (p.clone(), o.clone())).collect())
            .unwrap_or_default()
    }

    /// Writes the file. A write that fails (a full disk) leaves the store
    /// as the file is: every connector's offsets stay writable.
    fn alter(&self, connector: &str, changes: &[(&str, Option<&str>)]) -> Result<()> {
        let checked = checked_changes(connector, changes)?;
        let mut connectors = self.connectors.lock().expect("offset store lock");
        let before = connectors.get(connector).cloned();
        let entry = connectors.entry(connector.to_string()).or_default();
        for (key, offset) in checked {
            match offset {
                Some(offset) => entry.insert(key, offset.to_string()),
                None => entry.remove(&key),
            };
        }
        if entry.is_empty() {
            connectors.remove(connector);
        }
        let written = self.write(&connectors);
        if written.is_err() {
            match before {
                Some(before) => connectors.insert(connector.to_string(), before),
                None => connectors.remove(connector),
            };
        }
        written
    }

    fn reset(&self, connector: &str) -> Result<()> {
        let mut connectors = self.connectors.lock().expect("offset store lock");
        if connectors.remove(connector).is_none() {
            return Ok(());
        }
        self.write(&connectors)
    }
}

/// The file holds, per connector, a list of {partition, offset} objects
/// with the connector's own JSON values, so it is readable by people.
fn render(connectors: &BTreeMap<String, ConnectorOffsets>) -> Result<String> {
    let mut out = serde_json::Map::new();
    for (name, offsets) in connectors {
        let list: Vec<Value> = offsets
            .iter()
            .map(|(p, o)| -> Result<Value> {
                Ok(serde_json::json!({
                    "partition": serde_json::from_str::<Value>(p)?,
                    "offset": serde_json::from_str::<Value>(o)?,
                }))
            })
            .collect::<Result<_>>()?;
        out.insert(name.clone(), Value::Array(list));
    }
    Ok(serde_json::to_string_pretty(
        &serde_json::json!({ "connectors": out }),
    )?)
}

fn parse(text: &str) -> Result<BTreeMap<String, ConnectorOffsets>> {
    let root: Value = serde_json::from_str(text)?;
    let mut connectors = BTreeMap::new();
    let Some(map) = root.get("connectors").and_then(Value::as_object) else {
        anyhow::bail!("expected an object with a \"connectors\" object");
    };
    for (name, list) in map {
        let mut offsets = ConnectorOffsets::new();
        // An entry that cannot be read is an error, never skipped: a
        // skipped entry would restart its partition from the beginning.
        let Some(list) = list.as_array() else {
            anyhow::bail!(
                "connector \"{name}\": expected a list of {{\"partition\", \"offset\"}} \
                 entries, found {list}"
            );
        };
        for (index, entry) in list.iter().enumerate() {
            let (Some(p), Some(o)) = (entry.get("partition"), entry.get("offset")) else {
                anyhow::bail!(
                    "connector \"{name}\", entry {index}: expected an object with \
                     \"partition\" and \"offset\", found {entry}"
                );
            };
            offsets.insert(p.to_string(), o.to_string());
        }
        connectors.insert(name.clone(), offsets);
    }
    Ok(connectors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_survive_reopening() {
        let dir = std::env::temp_dir().join(format!("sluice-offsets-{}", std::process::id()));
        let path = dir.join("offsets.json");
        let store = FileOffsetStore::open(&path).unwrap();
        let mut offsets = ConnectorOffsets::new();
        offsets.insert(
            r#"{"filename":"/inbox/a.txt"}"#.into(),
            r#"{"position":10}"#.into(),
        );
        store.commit("src", &offsets).unwrap();
        offsets.insert(
            r#"{"filename":"/inbox/a.txt"}"#.into(),
            r#"{"position":25}"#.into(),
        );
        store.commit("src", &offsets).unwrap();
        let reopened = FileOffsetStore::open(&path).unwrap();
        assert_eq!(
            reopened.offsets("src"),
            [(
                r#"{"filename":"/inbox/a.txt"}"#.to_string(),
                r#"{"position":25}"#.to_string()
            )]
        );
        assert!(reopened.offsets("other").is_empty());
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// One connector's bad offset, or a failed write, must not stop the
    /// others' offsets from being written (it used to poison the store).
    #[test]
    fn a_bad_offset_or_a_failed_write_leaves_the_store_as_the_file() {
        let dir =
            std::env::temp_dir().join(format!("sluice-offsets-poison-{}", std::process::id()));
        let path = dir.join("offsets.json");
        let store = FileOffsetStore::open(&path).unwrap();
        let good = |position: u32| {
            ConnectorOffsets::from([(r#"{"f":"a"}"#.to_string(), format!(r#"{{"p":{position}}}"#))])
        };
        store.commit("good", &good(1)).unwrap();
        let bad = ConnectorOffsets::from([(r#"{"f":"a"}"#.to_string(), "not json".to_string())]);
        let error = store.commit("hostile", &bad).unwrap_err().to_string();
        assert!(
            error.contains("connector hostile") && error.contains("not JSON"),
            "{error}"
        );
        store.commit("good", &good(2)).unwrap();
        // A write that fails (here: the directory is gone) changes nothing.
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(store.commit("good", &good(3)).is_err());
        assert_eq!(store.offsets("good")[0].1, r#"{"p":2}"#);
        std::fs::create_dir_all(&dir).unwrap();
        store.commit("good", &good(4)).unwrap();
        let reopened = FileOffsetStore::open(&path).unwrap();
        assert_eq!(reopened.offsets("good")[0].1, r#"{"p":4}"#);
        assert!(reopened.offsets("hostile").is_empty());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_corrupt_file_is_an_error_not_an_empty_store() {
        let dir = std::env::temp_dir().join(format!("sluice-offsets-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("offsets.json");
        std::fs::write(&path, "{not json").unwrap();
        assert!(FileOffsetStore::open(&path).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_unreadable_entry_is_an_error_naming_the_file_and_the_entry() {
        let dir = std::env::temp_dir().join(format!("sluice-offsets-entry-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("offsets.json");
        let message = |text: &str| {
            std::fs::write(&path, text).unwrap();
            match FileOffsetStore::open(&path) {
                Ok(_) => panic!("{text} was read as a store"),
                Err(e) => format!("{e:#}"),
            }
        };
        let not_a_list = message(r#"{"connectors": {"src": {"partition": {}, "offset": {}}}}"#);
        assert!(
            not_a_list.contains(&path.display().to_string()) && not_a_list.contains("\"src\""),
            "{not_a_list}"
        );
        let bad_entry = message(r#"{"connectors": {"src": [{"partition": {"f": 1}}, 7]}}"#);
        assert!(bad_entry.contains("\"src\", entry 0"), "{bad_entry}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

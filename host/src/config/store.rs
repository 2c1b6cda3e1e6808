//! The standalone connector store (`config.storage.file.filename`): every
//! connector's configuration, exactly as given (secret references
//! unresolved), and its target state, so that connectors created, changed,
//! paused, stopped or deleted over REST are the same after a restart.
//! Kafka Connect's standalone mode forgets them; Sluice does not.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::durable;

/// What the operator asked a connector to be doing (Kafka Connect's
/// TargetState).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TargetState {
    #[default]
    Started,
    Paused,
    Stopped,
}

/// One stored connector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredConnector {
    pub config: BTreeMap<String, String>,
    #[serde(default)]
    pub state: TargetState,
}

/// The file, rewritten through a temporary file and a rename on every
/// change, so a crash leaves the old or the new version, never a mix.
pub struct ConnectorStore {
    path: PathBuf,
    connectors: Mutex<BTreeMap<String, StoredConnector>>,
}

#[derive(Serialize, Deserialize)]
struct StoreFile {
    connectors: BTreeMap<String, StoredConnector>,
}

impl ConnectorStore {
    /// Opens the store, reading the file if it exists. A file that does not
    /// parse is an error: starting with no connectors would silently stop
    /// every pipeline.
    pub fn open(path: &Path) -> Result<Self> {
        let connectors = match durable::open(path, "connectors")? {
            Some(text) => {
                serde_json::from_str::<StoreFile>(&text)
                    .with_context(|| format!("reading connectors from {}", path.display()))?
                    .connectors
            }
            None => BTreeMap::new(),
        };
        Ok(ConnectorStore {
            path: path.to_path_buf(),
            connectors: Mutex::new(connectors),
        })
    }

    /// Every stored connector.
    pub fn all(&self) -> BTreeMap<String, StoredConnector> {
        self.lock().clone()
    }

    /// Stores (or replaces) a connector.
    pub fn put(&self, name: &str, connector: StoredConnector) -> Result<()> {
        let mut connectors = self.lock();
        connectors.insert(name.to_string(), connector);
        self.write(&connectors)
    }

    /// Forgets a connector.
    pub fn remove(&self, name: &str) -> Result<()> {
        let mut connectors = self.lock();
        if connectors.remove(name).is_some() {
            self.write(&connectors)?;
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, StoredConnector>> {
        self.connectors.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self, connectors: &BTreeMap<String, StoredConnector>) -> Result<()> {
        let text = serde_json::to_string_pretty(&StoreFile {
            connectors: connectors.clone(),
        })?;
        durable::replace(&self.path, &text, "connectors")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connectors_and_states_survive_reopening() {
        let dir = std::env::temp_dir().join(format!("sluice-store-{}", std::process::id()));
        let path = dir.join("connectors.json");
        let store = ConnectorStore::open(&path).unwrap();
        let config: BTreeMap<String, String> = [("name".to_string(), "a".to_string())]
            .into_iter()
            .collect();
        store
            .put(
                "a",
                StoredConnector {
                    config: config.clone(),
                    state: TargetState::Paused,
                },
            )
            .unwrap();
        store
            .put(
                "b",
                StoredConnector {
                    config: config.clone(),
                    state: TargetState::Started,
                },
            )
            .unwrap();
        store.remove("b").unwrap();
        let reopened = ConnectorStore::open(&path).unwrap().all();
        assert_eq!(reopened.len(), 1);
        assert_eq!(reopened["a"].state, TargetState::Paused);
        assert_eq!(reopened["a"].config, config);
        std::fs::write(&path, "{oops").unwrap();
        assert!(ConnectorStore::open(&path).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}

//! Each connector's active topics (Kafka Connect's KIP-558): the topics a
//! source produced to and a sink consumed from since the connector was
//! created or its topics were last reset.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// Shared between the task loops that record topics and the REST API.
#[derive(Clone, Default)]
pub struct ActiveTopics {
    connectors: Arc<Mutex<BTreeMap<String, BTreeSet<String>>>>,
}

impl ActiveTopics {
    /// Notes that `connector` used `topic`. Called once per batch, not per
    /// record.
    pub fn record<'a>(&self, connector: &str, topics: impl IntoIterator<Item = &'a str>) {
        let mut connectors = self.lock();
        let set = connectors.entry(connector.to_string()).or_default();
        for topic in topics {
            if !set.contains(topic) {
                set.insert(topic.to_string());
            }
        }
    }

    /// The topics `connector` used, in order.
    pub fn get(&self, connector: &str) -> Vec<String> {
        self.lock()
            .get(connector)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Forgets `connector`'s topics.
    pub fn reset(&self, connector: &str) {
        self.lock().remove(connector);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, BTreeSet<String>>> {
        self.connectors.lock().unwrap_or_else(|e| e.into_inner())
    }
}

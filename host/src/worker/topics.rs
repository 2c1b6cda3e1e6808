//! Each connector's active topics (Kafka Connect's KIP-558): the topics a
//! source produced to and a sink consumed from since the connector was
//! created or its topics were last reset. In a cluster they live in the
//! status topic (`status-topic-<topic>:connector-<c>`), so that every
//! worker answers the same, whichever runs the tasks.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock};

/// Told when a connector's task starts to use a topic (`true`) and when a
/// reset forgets it (`false`): connector, task, topic, used.
pub type TopicObserver = Box<dyn Fn(&str, u32, &str, bool) + Send + Sync>;

/// Shared between the task loops that record topics and the REST API.
#[derive(Clone, Default)]
pub struct ActiveTopics {
    connectors: Arc<Mutex<BTreeMap<String, BTreeSet<String>>>>,
    observer: Arc<OnceLock<TopicObserver>>,
}

impl ActiveTopics {
    /// Notes that task `task` of `connector` used `topics`. Called once
    /// per batch, not per record; only a topic new to the connector is
    /// told to the observer.
    pub fn record<'a>(
        &self,
        connector: &str,
        task: u32,
        topics: impl IntoIterator<Item = &'a str>,
    ) {
        let mut new = Vec::new();
        {
            let mut connectors = self.lock();
            let set = connectors.entry(connector.to_string()).or_default();
            for topic in topics {
                if !set.contains(topic) {
                    set.insert(topic.to_string());
                    new.push(topic);
                }
            }
        }
        if let Some(observer) = self.observer.get() {
            for topic in new {
                observer(connector, task, topic, true);
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
        let forgotten = self.lock().remove(connector).unwrap_or_default();
        if let Some(observer) = self.observer.get() {
            for topic in &forgotten {
                observer(connector, 0, topic, false);
            }
        }
    }

    /// Takes in a change another worker made (read from the status
    /// topic), without telling the observer again.
    pub fn apply(&self, connector: &str, topic: &str, used: bool) {
        let mut connectors = self.lock();
        if used {
            connectors
                .entry(connector.to_string())
                .or_default()
                .insert(topic.to_string());
        } else if let Some(set) = connectors.get_mut(connector) {
            set.remove(topic);
        }
    }

    /// Has `observer` told of every change from now on (once).
    pub fn observe(&self, observer: TopicObserver) {
        let _ = self.observer.set(observer);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, BTreeSet<String>>> {
        self.connectors.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_new_topics_and_forgotten_ones_reach_the_observer() {
        let topics = ActiveTopics::default();
        /// What the observer was told: connector, task, topic, used.
        type Told = Vec<(String, u32, String, bool)>;
        let seen: Arc<Mutex<Told>> = Default::default();
        let log = Arc::clone(&seen);
        topics.observe(Box::new(move |c, t, topic, used| {
            log.lock().unwrap().push((c.into(), t, topic.into(), used))
        }));
        topics.record("c", 1, ["a", "b"]);
        topics.record("c", 0, ["a", "b"]);
        // Read back from the status topic: known already, or another
        // worker's; nothing is told again.
        topics.apply("c", "a", true);
        topics.apply("c", "z", true);
        assert_eq!(topics.get("c"), ["a", "b", "z"]);
        topics.reset("c");
        assert!(topics.get("c").is_empty());
        let seen = seen.lock().unwrap().clone();
        let told: Vec<(&str, u32, &str, bool)> = seen
            .iter()
            .map(|(c, t, topic, used)| (c.as_str(), *t, topic.as_str(), *used))
            .collect();
        assert_eq!(
            told,
            [
                ("c", 1, "a", true),
                ("c", 1, "b", true),
                ("c", 0, "a", false),
                ("c", 0, "b", false),
                ("c", 0, "z", false),
            ]
        );
    }
}

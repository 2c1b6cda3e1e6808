//! How a connector's tasks are confined and kept alive: their limits
//! (`task.memory.max.bytes`, `task.call.timeout.ms`, defaulting to the
//! worker's) and the restart
//! policy for a failed task (`task.restart.*`). Kafka Connect has neither:
//! its tasks share the JVM's heap and stay FAILED until restarted by hand.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::configdef::ConfigError;
use crate::runtime::limits::{CALL_TIMEOUT_KEY, MEMORY_MAX_KEY, TaskLimits};

pub const RESTART_ENABLED_KEY: &str = "task.restart.enabled";
pub const RESTART_INITIAL_KEY: &str = "task.restart.backoff.initial.ms";
pub const RESTART_MAX_KEY: &str = "task.restart.backoff.max.ms";
pub const RESTART_RESET_KEY: &str = "task.restart.reset.after.ms";

/// The connector keys this module reads.
pub const SANDBOX_KEYS: &[&str] = &[
    MEMORY_MAX_KEY,
    CALL_TIMEOUT_KEY,
    RESTART_ENABLED_KEY,
    RESTART_INITIAL_KEY,
    RESTART_MAX_KEY,
    RESTART_RESET_KEY,
];

/// When a failed task is started again: after `initial`, doubling with
/// each failure up to `max`; a task that ran `reset_after` without failing
/// starts over from `initial`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestartPolicy {
    pub enabled: bool,
    pub initial: Duration,
    pub max: Duration,
    pub reset_after: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            enabled: true,
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
            reset_after: Duration::from_secs(10),
        }
    }
}

impl RestartPolicy {
    /// The wait before the restart that follows `previous` (none yet: the
    /// first wait).
    pub fn next_backoff(&self, previous: Option<Duration>) -> Duration {
        match previous {
            None => self.initial,
            Some(wait) => (wait * 2).min(self.max).max(self.initial),
        }
    }
}

/// A connector's limits and restart policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SandboxSpec {
    /// Shared by every plugin instance of the connector's tasks.
    pub limits: Arc<TaskLimits>,
    pub restart: RestartPolicy,
}

impl SandboxSpec {
    /// Reads the keys from `raw`, each defaulting to the worker's limits
    /// or the default policy; problems go to `errors`.
    pub fn check(
        raw: &BTreeMap<String, String>,
        worker: &TaskLimits,
        errors: &mut Vec<ConfigError>,
    ) -> SandboxSpec {
        SandboxSpec {
            limits: Arc::new(limits(raw, worker, errors)),
            restart: restart_policy(raw, errors),
        }
    }
}

/// The limits `map` sets, the others from `defaults`: used for the worker's
/// keys (over the built-in defaults) and a connector's (over the worker's).
pub fn limits(
    map: &BTreeMap<String, String>,
    defaults: &TaskLimits,
    errors: &mut Vec<ConfigError>,
) -> TaskLimits {
    let memory_max = positive(map, MEMORY_MAX_KEY, defaults.memory_max, "bytes", errors);
    let millis = |key: &str, default: Duration, errors: &mut Vec<ConfigError>| {
        Duration::from_millis(positive(
            map,
            key,
            default.as_millis() as u64,
            "milliseconds",
            errors,
        ))
    };
    TaskLimits {
        memory_max,
        call_timeout: millis(CALL_TIMEOUT_KEY, defaults.call_timeout, errors),
    }
}

fn restart_policy(raw: &BTreeMap<String, String>, errors: &mut Vec<ConfigError>) -> RestartPolicy {
    let defaults = RestartPolicy::default();
    let enabled = match raw.get(RESTART_ENABLED_KEY).map(|v| v.trim()) {
        None => defaults.enabled,
        Some("true") => true,
        Some("false") => false,
        Some(other) => {
            errors.push(ConfigError::invalid(
                RESTART_ENABLED_KEY,
                other,
                "expected true or false",
            ));
            defaults.enabled
        }
    };
    let millis = |key: &str, default: Duration, errors: &mut Vec<ConfigError>| {
        Duration::from_millis(positive(
            raw,
            key,
            default.as_millis() as u64,
            "milliseconds",
            errors,
        ))
    };
    let initial = millis(RESTART_INITIAL_KEY, defaults.initial, errors);
    let max = millis(RESTART_MAX_KEY, defaults.max, errors);
    let reset_after = millis(RESTART_RESET_KEY, defaults.reset_after, errors);
    if max < initial {
        errors.push(ConfigError::invalid(
            RESTART_MAX_KEY,
            &max.as_millis().to_string(),
            format!(
                "must be at least {RESTART_INITIAL_KEY} ({})",
                initial.as_millis()
            ),
        ));
    }
    RestartPolicy {
        enabled,
        initial,
        max,
        reset_after,
    }
}

/// A whole number of at least 1 under `key`, or `default` when unset.
fn positive(
    map: &BTreeMap<String, String>,
    key: &str,
    default: u64,
    unit: &str,
    errors: &mut Vec<ConfigError>,
) -> u64 {
    match map.get(key) {
        None => default,
        Some(v) => match v.trim().parse::<u64>() {
            Ok(n) if n >= 1 => n,
            _ => {
                errors.push(ConfigError::invalid(
                    key,
                    v,
                    format!("expected a whole number of {unit}, at least 1"),
                ));
                default
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn connector_limits_override_the_workers() {
        let worker = TaskLimits {
            memory_max: 1 << 30,
            ..TaskLimits::default()
        };
        let mut errors = Vec::new();
        let spec = SandboxSpec::check(
            &map(&[("task.call.timeout.ms", "250")]),
            &worker,
            &mut errors,
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(spec.limits.memory_max, 1 << 30);
        assert_eq!(spec.limits.call_timeout, Duration::from_millis(250));
        assert_eq!(spec.restart, RestartPolicy::default());
    }

    #[test]
    fn bad_values_are_named() {
        let mut errors = Vec::new();
        SandboxSpec::check(
            &map(&[
                ("task.memory.max.bytes", "lots"),
                ("task.restart.enabled", "yes"),
                ("task.restart.backoff.initial.ms", "5000"),
                ("task.restart.backoff.max.ms", "1000"),
            ]),
            &TaskLimits::default(),
            &mut errors,
        );
        let keys: Vec<&str> = errors.iter().map(ConfigError::key).collect();
        assert_eq!(
            keys,
            [
                "task.memory.max.bytes",
                "task.restart.enabled",
                "task.restart.backoff.max.ms"
            ]
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let policy = RestartPolicy::default();
        let mut wait = None;
        let waits: Vec<u64> = (0..7)
            .map(|_| {
                let next = policy.next_backoff(wait);
                wait = Some(next);
                next.as_secs()
            })
            .collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
    }
}

//! The worker's log levels, changeable at runtime over REST
//! (`/admin/loggers`, as Kafka Connect's). A logger is a tracing target
//! such as `sluice::worker::sink_task` (plugins log under
//! `sluice::plugin`); setting a level applies to the logger and every
//! logger under it, as setting a log4j logger does.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing_subscriber::EnvFilter;

/// The levels Kafka Connect accepts, mapped onto tracing's.
const LEVELS: &[(&str, &str)] = &[
    ("TRACE", "trace"),
    ("DEBUG", "debug"),
    ("INFO", "info"),
    ("WARN", "warn"),
    ("ERROR", "error"),
    ("FATAL", "error"),
    ("OFF", "off"),
];

/// The root logger's name.
pub const ROOT: &str = "root";

/// One logger's explicitly set level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggerLevel {
    /// Kafka Connect's spelling: TRACE, DEBUG, INFO, WARN, ERROR, FATAL, OFF.
    pub level: String,
    /// When it was set over REST, in milliseconds since the epoch; `None`
    /// for levels set at start.
    pub last_modified: Option<u64>,
}

/// Installs a filter in the running subscriber.
pub type Apply = Box<dyn Fn(EnvFilter) -> Result<(), String> + Send + Sync>;

/// The levels in force and how to apply a change to the running
/// subscriber.
pub struct LogLevels {
    levels: Mutex<BTreeMap<String, LoggerLevel>>,
    apply: Option<Apply>,
}

impl LogLevels {
    /// Levels from `RUST_LOG`-style directives (`info,sluice::worker=debug`);
    /// a directive Sluice cannot show as a logger is skipped with a warning.
    /// Changes only update the table until [`LogLevels::applying`] says how
    /// to install them.
    pub fn new(directives: &str) -> Self {
        let mut levels = BTreeMap::new();
        levels.insert(
            ROOT.to_string(),
            LoggerLevel {
                level: "INFO".into(),
                last_modified: None,
            },
        );
        for directive in directives
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
        {
            let (name, level) = match directive.split_once('=') {
                Some((name, level)) => (name.trim(), level.trim()),
                None => (ROOT, directive),
            };
            match (parse_level(level), valid_name(name)) {
                (Some(level), true) => {
                    levels.insert(
                        name.to_string(),
                        LoggerLevel {
                            level: level.to_string(),
                            last_modified: None,
                        },
                    );
                }
                _ => eprintln!("ignoring the log directive {directive:?}"),
            }
        }
        LogLevels {
            levels: Mutex::new(levels),
            apply: None,
        }
    }

    /// Installs every change of level in the running subscriber through
    /// `apply`.
    pub fn applying(mut self, apply: Apply) -> Self {
        self.apply = Some(apply);
        self
    }

    /// The filter the current levels describe.
    pub fn filter(&self) -> EnvFilter {
        filter_for(&self.lock())
    }

    /// Every logger with an explicitly set level, the root among them.
    pub fn all(&self) -> BTreeMap<String, LoggerLevel> {
        self.lock().clone()
    }

    /// The level in force for `name`: its own, or its nearest ancestor's.
    pub fn effective(&self, name: &str) -> Result<LoggerLevel, String> {
        check_name(name)?;
        let levels = self.lock();
        let mut candidate = name;
        loop {
            if let Some(level) = levels.get(candidate) {
                return Ok(level.clone());
            }
            match candidate.rfind("::") {
                Some(i) => candidate = &candidate[..i],
                None => return Ok(levels[ROOT].clone()),
            }
        }
    }

    /// Sets `name` (and so every logger under it) to `level`; returns the
    /// loggers whose level changed, as Kafka Connect does.
    pub fn set(&self, name: &str, level: &str) -> Result<Vec<String>, String> {
        check_name(name)?;
        let level = parse_level(level).ok_or_else(|| {
            format!(
                "Invalid log level '{level}'. Valid levels are TRACE, DEBUG, INFO, WARN, ERROR, FATAL and OFF."
            )
        })?;
        let mut levels = self.lock();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        // Loggers below this one follow it from now on.
        let below: Vec<String> = levels
            .keys()
            .filter(|k| name == ROOT && k.as_str() != ROOT || k.starts_with(&format!("{name}::")))
            .cloned()
            .collect();
        for k in &below {
            levels.remove(k);
        }
        levels.insert(
            name.to_string(),
            LoggerLevel {
                level: level.to_string(),
                last_modified: Some(now),
            },
        );
        if let Some(apply) = &self.apply {
            apply(filter_for(&levels))?;
        }
        let mut changed = vec![name.to_string()];
        changed.extend(below);
        Ok(changed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, LoggerLevel>> {
        self.levels.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn parse_level(level: &str) -> Option<&'static str> {
    LEVELS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(level.trim()))
        .map(|(name, _)| *name)
}

/// Names that can be written into a filter directive unambiguously.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '.' | '-'))
}

fn check_name(name: &str) -> Result<(), String> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(format!(
            "Invalid logger name '{name}': a logger is a module path such as sluice::worker \
             (letters, digits, '_', ':', '.' and '-', at most 200 characters)"
        ))
    }
}

fn filter_for(levels: &BTreeMap<String, LoggerLevel>) -> EnvFilter {
    let tracing_level = |level: &str| {
        LEVELS
            .iter()
            .find(|(name, _)| *name == level)
            .map(|(_, t)| *t)
            .unwrap_or("info")
    };
    let mut directives = vec![tracing_level(&levels[ROOT].level).to_string()];
    for (name, level) in levels.iter().filter(|(n, _)| n.as_str() != ROOT) {
        directives.push(format!("{name}={}", tracing_level(&level.level)));
    }
    EnvFilter::new(directives.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_apply_to_descendants_and_replace_theirs() {
        let logs = LogLevels::new("warn,sluice::worker::sink_task=debug");
        assert_eq!(logs.effective("sluice::rest").unwrap().level, "WARN");
        assert_eq!(
            logs.effective("sluice::worker::sink_task::inner")
                .unwrap()
                .level,
            "DEBUG"
        );
        let changed = logs.set("sluice::worker", "trace").unwrap();
        assert_eq!(changed, ["sluice::worker", "sluice::worker::sink_task"]);
        assert_eq!(
            logs.effective("sluice::worker::sink_task").unwrap().level,
            "TRACE"
        );
        assert!(logs.all()["sluice::worker"].last_modified.is_some());
        assert!(
            logs.set("sluice", "LOUD")
                .unwrap_err()
                .contains("Invalid log level 'LOUD'")
        );
        assert!(logs.set("a,b=trace", "INFO").is_err());
        let changed = logs.set(ROOT, "error").unwrap();
        assert_eq!(changed, ["root", "sluice::worker"]);
        assert_eq!(logs.all().len(), 1);
    }
}

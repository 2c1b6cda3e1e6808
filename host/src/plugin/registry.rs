//! The plugin registry: every component in the `plugin.path` directories,
//! its kind, name, version and configuration keys. A file that is not a
//! valid plugin is reported and skipped; the others load.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use wasmtime::component::Component;

use super::kind::{PluginKind, detect_kind, importance_name, type_name};
use super::state::{Runtime, bare_state};
use super::world::PluginDescriber;
use crate::capability;
use crate::runtime::bindings::types::{ConfigKey, PluginMetadata, RecordPart};

/// A loaded plugin.
pub struct Plugin {
    pub kind: PluginKind,
    pub metadata: PluginMetadata,
    pub config_keys: Vec<ConfigKey>,
    pub path: PathBuf,
    /// SHA-256 of the component file.
    pub digest: String,
    pub component: Component,
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} plugin {}@{} ({})",
            self.kind,
            self.metadata.name,
            self.metadata.version,
            self.path.display()
        )
    }
}

/// A file in the plugin path that could not be loaded, and why.
#[derive(Clone, Debug)]
pub struct RejectedPlugin {
    pub path: PathBuf,
    pub reason: String,
}

/// Every plugin the worker knows.
#[derive(Default)]
pub struct PluginRegistry {
    plugins: Vec<Arc<Plugin>>,
    rejected: Vec<RejectedPlugin>,
}

impl PluginRegistry {
    /// Loads every `.wasm` file in `dirs`. A bad file is logged and skipped.
    pub fn load(runtime: &Runtime, dirs: &[PathBuf]) -> Result<Self> {
        let mut registry = PluginRegistry::default();
        for dir in dirs {
            let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
                .with_context(|| format!("reading plugin.path directory {}", dir.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
                .collect();
            files.sort();
            for path in files {
                match Plugin::load(runtime, &path) {
                    Ok(plugin) => {
                        tracing::info!(
                            "loaded {} plugin {}@{} from {}",
                            plugin.kind,
                            plugin.metadata.name,
                            plugin.metadata.version,
                            path.display()
                        );
                        registry.plugins.push(Arc::new(plugin));
                    }
                    Err(e) => {
                        let reason = format!("{e:#}");
                        tracing::error!("skipping plugin file {}: {reason}", path.display());
                        registry.rejected.push(RejectedPlugin { path, reason });
                    }
                }
            }
        }
        Ok(registry)
    }

    pub fn plugins(&self) -> &[Arc<Plugin>] {
        &self.plugins
    }

    pub fn rejected(&self) -> &[RejectedPlugin] {
        &self.rejected
    }

    /// Finds the connector plugin `class` names: a plugin name, optionally
    /// with `@version`, or one of its aliases (Kafka's class names). With
    /// several versions and none asked for, the newest wins.
    pub fn resolve_connector(&self, class: &str) -> Result<Arc<Plugin>, String> {
        self.resolve(&[PluginKind::Source, PluginKind::Sink], "connector", class)
    }

    /// Finds the converter plugin `class` names (`value.converter`).
    pub fn resolve_converter(&self, class: &str) -> Result<Arc<Plugin>, String> {
        self.resolve(&[PluginKind::Converter], "converter", class)
    }

    /// Finds the predicate plugin `class` names.
    pub fn resolve_predicate(&self, class: &str) -> Result<Arc<Plugin>, String> {
        self.resolve(&[PluginKind::Predicate], "predicate", class)
    }

    /// Finds the transform plugin `class` names, and the variant it asks
    /// for: Kafka names the variants of a transform as nested classes,
    /// `org.apache.kafka.connect.transforms.Cast$Value`.
    pub fn resolve_transform(
        &self,
        class: &str,
    ) -> Result<(Arc<Plugin>, Option<RecordPart>), String> {
        let variant = [("$Key", RecordPart::Key), ("$Value", RecordPart::Value)]
            .into_iter()
            .find_map(|(suffix, part)| class.strip_suffix(suffix).map(|base| (base, part)));
        match variant {
            Some((base, part)) => self
                .resolve(&[PluginKind::Transform], "transform", base)
                .map(|plugin| (plugin, Some(part))),
            None => self
                .resolve(&[PluginKind::Transform], "transform", class)
                .map(|plugin| (plugin, None)),
        }
    }

    fn resolve(
        &self,
        kinds: &[PluginKind],
        what: &str,
        class: &str,
    ) -> Result<Arc<Plugin>, String> {
        let (name, version) = match class.trim().split_once('@') {
            Some((n, v)) => (n, Some(v)),
            None => (class.trim(), None),
        };
        let of_kind = || self.plugins.iter().filter(|p| kinds.contains(&p.kind));
        let mut candidates: Vec<&Arc<Plugin>> = of_kind()
            .filter(|p| p.metadata.name == name || p.metadata.aliases.iter().any(|a| a == name))
            .filter(|p| version.is_none_or(|v| p.metadata.version == v))
            .collect();
        candidates.sort_by(|a, b| {
            version_key(&a.metadata.version).cmp(&version_key(&b.metadata.version))
        });
        candidates.last().map(|p| Arc::clone(p)).ok_or_else(|| {
            let available: Vec<String> = of_kind()
                .map(|p| format!("{}@{}", p.metadata.name, p.metadata.version))
                .collect();
            format!(
                "no {what} plugin named \"{class}\" (available: {})",
                if available.is_empty() {
                    "none".to_string()
                } else {
                    available.join(", ")
                }
            )
        })
    }
}

/// Orders versions numerically part by part (`0.10.0` after `0.9.1`).
fn version_key(version: &str) -> Vec<u64> {
    version
        .split(['.', '-', '+'])
        .map(|part| part.parse().unwrap_or(0))
        .collect()
}

impl Plugin {
    /// Loads the component at `path` and asks it what it is.
    pub fn load(runtime: &Runtime, path: &Path) -> Result<Plugin> {
        let bytes = std::fs::read(path).context("reading the file")?;
        let (component, digest) = runtime
            .load_component(&bytes)
            .context("not a valid WebAssembly component")?;
        let kind = detect_kind(runtime, &component)?;
        let target = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut instance = PluginDescriber::new(runtime, &component, kind, bare_state(&target))?;
        let metadata = instance
            .metadata()
            .map_err(anyhow::Error::from)
            .context("calling metadata")?;
        let config_keys = instance
            .config_keys()
            .map_err(anyhow::Error::from)
            .context("calling config-keys")?;
        if metadata.name.trim().is_empty() {
            bail!("the plugin's metadata has an empty name");
        }
        Ok(Plugin {
            kind,
            metadata,
            config_keys,
            path: path.to_path_buf(),
            digest,
            component,
        })
    }

    /// The interfaces the component imports: the host capabilities
    /// (`sluice:connect/logging`, `wasi:filesystem/...`, `wasi:sockets/...`)
    /// it may ask to be granted. Everything else it cannot reach at all.
    pub fn imports(&self, runtime: &Runtime) -> Vec<String> {
        let mut imports: Vec<String> = self
            .component
            .component_type()
            .imports(runtime.engine())
            .map(|(name, _)| name.to_string())
            .collect();
        imports.sort();
        imports
    }

    /// A plain-text description: kind, name, version, aliases, imports and
    /// configuration keys (`sluice plugin inspect`).
    pub fn describe(&self, runtime: &Runtime) -> String {
        use std::fmt::Write;
        let m = &self.metadata;
        let mut out = format!(
            "kind: {}\nname: {}\nversion: {}\ndescription: {}\nsha256: {}\n",
            self.kind, m.name, m.version, m.description, self.digest
        );
        if !m.aliases.is_empty() {
            let _ = writeln!(out, "aliases: {}", m.aliases.join(", "));
        }
        let imports = self.imports(runtime);
        out.push_str("imports (what it may ask to be granted):\n");
        for import in &imports {
            let _ = writeln!(out, "  {import}");
        }
        let grants = capability::grant_keys_for(&imports);
        if !grants.is_empty() {
            out.push_str("grants (connector keys for what it imports):\n");
            for key in grants {
                let _ = writeln!(out, "  {} ({}): {}", key.name, key.type_, key.documentation);
            }
        }
        out.push_str("configuration keys:\n");
        if self.config_keys.is_empty() {
            out.push_str("  (none)\n");
        }
        for key in &self.config_keys {
            let default = match (&key.default_value, key.required) {
                (Some(v), _) => format!("default {v}"),
                (None, true) => "required".to_string(),
                (None, false) => "optional".to_string(),
            };
            let _ = writeln!(
                out,
                "  {} ({}, {default}, {} importance): {}",
                key.name,
                type_name(key.type_),
                importance_name(key.importance),
                key.documentation
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_numerically() {
        assert!(version_key("0.10.0") > version_key("0.9.1"));
        assert!(version_key("1.0.0") > version_key("0.99"));
    }
}

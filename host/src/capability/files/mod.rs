//! Files: the worker names directories that exist for plugins
//! (`files.root.<name>=<host path>`); a connector grants some of them, each
//! read-only or read-write (`grant.files=<name>:ro,<other>:rw`). The plugin
//! sees each granted root as the directory `/<name>` and nothing else.
//! Confinement to a root (`..`, absolute paths, symlinks leading out) is
//! cap-std's, through wasmtime-wasi's preopened directories.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use wasmtime::component::Linker;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use super::lifecycle::{
    Capability, CapabilityHost, InstanceContext, View, grant_key, named_resources, read_grant,
};
use crate::configdef::{ConfigError, KeyDefinition};

/// The worker key prefix that names a root.
pub const ROOT_PREFIX: &str = "files.root.";
/// The connector key that grants roots.
pub const GRANT_KEY: &str = "grant.files";

/// The files capability: directories of the worker's file system.
pub struct Files;

impl Capability for Files {
    type Definitions = FileRoots;
    type Grant = Vec<FileRootGrant>;
    /// Nothing of its own: the roots are WASI's preopened directories.
    type InstanceState = ();

    const WORKER_KEYS: &'static [&'static str] = &[];
    const WORKER_PREFIXES: &'static [&'static str] = &[ROOT_PREFIX];
    const IMPORTS: &'static [&'static str] = &["wasi:filesystem/"];

    fn connector_keys() -> &'static [KeyDefinition] {
        const KEYS: &[KeyDefinition] = &[grant_key(
            GRANT_KEY,
            "The file roots this connector may use, each <root>:ro or <root>:rw; the worker \
             defines roots with files.root.<root>. A root appears to the plugin as /<root>.",
        )];
        KEYS
    }

    fn define(
        worker: &BTreeMap<String, String>,
        base: &Path,
        errors: &mut Vec<ConfigError>,
    ) -> FileRoots {
        let mut roots = FileRoots::default();
        for (key, name, value) in named_resources(worker, ROOT_PREFIX) {
            let dir = PathBuf::from(value.trim());
            let dir = if dir.is_absolute() {
                dir
            } else {
                base.join(dir)
            };
            if !dir.is_dir() {
                errors.push(ConfigError::invalid(
                    key,
                    value,
                    "not an existing directory",
                ));
            }
            if let Err(reason) = roots.insert(name, dir) {
                errors.push(ConfigError::invalid(key, value, reason));
            }
        }
        roots
    }

    fn grant(
        connector: &BTreeMap<String, String>,
        roots: &FileRoots,
        errors: &mut Vec<ConfigError>,
    ) -> Vec<FileRootGrant> {
        read_grant(connector, GRANT_KEY, errors, |value| {
            parse_grants(value, roots)
        })
    }

    fn add_to_linker<S: CapabilityHost>(
        _: &mut Linker<S>,
        _: fn(&mut S) -> View<'_, ()>,
    ) -> Result<()> {
        // wasi:filesystem is linked with the rest of WASI by the runtime.
        Ok(())
    }

    fn instance_state(
        roots: &FileRoots,
        grants: &Vec<FileRootGrant>,
        instance: &mut InstanceContext<'_>,
    ) -> Result<()> {
        preopen(instance.wasi, roots, grants)
    }
}

/// The directories the worker offers, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileRoots(pub BTreeMap<String, PathBuf>);

impl FileRoots {
    /// Adds the root `name` from the worker key `files.root.<name>`.
    pub fn insert(&mut self, name: &str, path: PathBuf) -> Result<(), String> {
        if !super::lifecycle::valid_name(name) {
            return Err(format!(
                "root name \"{name}\" must be letters, digits, '-' or '_'"
            ));
        }
        self.0.insert(name.to_string(), path);
        Ok(())
    }
}

pub use super::lifecycle::Access;

/// One root granted to a connector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRootGrant {
    pub root: String,
    pub access: Access,
}

impl fmt::Display for FileRootGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.root, self.access)
    }
}

/// Parses `grant.files`: `<name>:ro` or `<name>:rw`, comma-separated; a
/// name without access is read-only. Each root must exist in `roots`.
pub fn parse_grants(value: &str, roots: &FileRoots) -> Result<Vec<FileRootGrant>, String> {
    let grants =
        super::lifecycle::parse_access_grants(value, &roots.0, "a file root", "files.root.<name>")?;
    Ok(grants
        .into_iter()
        .map(|(root, access)| FileRootGrant { root, access })
        .collect())
}

/// Makes each granted root visible to the plugin as `/<name>`.
pub fn preopen(
    builder: &mut WasiCtxBuilder,
    roots: &FileRoots,
    grants: &[FileRootGrant],
) -> Result<()> {
    for grant in grants {
        let host_path = &roots.0[&grant.root];
        let perms = match grant.access {
            Access::ReadOnly => FsPerms::ReadOnly,
            Access::ReadWrite => FsPerms::ReadWrite,
        };
        builder
            .preopened_dir(host_path, format!("/{}", grant.root), perms)
            .map_err(anyhow::Error::from)
            .with_context(|| {
                format!(
                    "opening file root \"{}\" ({})",
                    grant.root,
                    host_path.display()
                )
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots() -> FileRoots {
        let mut roots = FileRoots::default();
        roots.insert("inbox", "/tmp/in".into()).unwrap();
        roots.insert("outbox", "/tmp/out".into()).unwrap();
        roots
    }

    #[test]
    fn grants_parse_with_access() {
        let grants = parse_grants("inbox:ro, outbox:rw", &roots()).unwrap();
        assert_eq!(grants[0].to_string(), "inbox:ro");
        assert_eq!(grants[1].to_string(), "outbox:rw");
        assert_eq!(
            parse_grants("inbox", &roots()).unwrap()[0].access,
            Access::ReadOnly
        );
    }

    #[test]
    fn an_undefined_root_is_named() {
        let err = parse_grants("inbox:ro,secrets:rw", &roots()).unwrap_err();
        assert!(
            err.contains("\"secrets\"") && err.contains("inbox, outbox"),
            "{err}"
        );
    }

    #[test]
    fn bad_access_and_names_are_refused() {
        assert!(
            parse_grants("inbox:rx", &roots())
                .unwrap_err()
                .contains("ro or rw")
        );
        assert!(
            parse_grants("inbox,inbox:rw", &roots())
                .unwrap_err()
                .contains("twice")
        );
        assert!(roots().insert("../etc", "/etc".into()).is_err());
    }
}

//! Config-provider references (`${provider:[path:]key}`) in configuration
//! values: `sluice::config::secrets::references`, which finds them, and
//! `ConfigProviders::resolve` on a configuration of one key, with the
//! three providers declared but able to read nothing (the env provider
//! only a variable that is not set, the file and directory providers only
//! under a directory that does not exist). A value then resolves only if
//! it has no reference to them, and resolves to itself, with no secret.

#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sluice::config::secrets::{ConfigProviders, Resolved, has_reference, references};

const UNSET: &str = "SLUICE_FUZZ_UNSET";
const NOWHERE: &str = "/nonexistent-sluice-fuzz";

fn providers() -> &'static ConfigProviders {
    static PROVIDERS: OnceLock<ConfigProviders> = OnceLock::new();
    PROVIDERS.get_or_init(|| {
        assert!(std::env::var_os(UNSET).is_none(), "{UNSET} is set");
        assert!(!std::path::Path::new(NOWHERE).exists(), "{NOWHERE} exists");
        let worker: BTreeMap<String, String> = [
            ("config.providers", "env,file,directory"),
            ("config.providers.env.class", "EnvVarConfigProvider"),
            ("config.providers.env.param.allowlist.pattern", UNSET),
            ("config.providers.file.class", "FileConfigProvider"),
            ("config.providers.file.param.allowed.paths", NOWHERE),
            (
                "config.providers.directory.class",
                "DirectoryConfigProvider",
            ),
            ("config.providers.directory.param.allowed.paths", NOWHERE),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut errors = Vec::new();
        let providers = ConfigProviders::from_worker_config(&worker, &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        providers
    })
}

/// The configuration `{"key": value}` resolved, or why not.
fn resolve_one(value: &str) -> Result<Resolved, String> {
    let raw = BTreeMap::from([("key".to_string(), value.to_string())]);
    providers()
        .resolve(&raw, |_| true)
        .map_err(|e| e.to_string())
}

fuzz_target!(|bytes: &[u8]| {
    let Ok(value) = std::str::from_utf8(bytes) else {
        return;
    };
    let found = references(value);
    let mut end = 0;
    for reference in &found {
        let span = reference.span.clone();
        assert!(end <= span.start && span.end <= value.len(), "{found:?}");
        end = span.end;
        // What the reference says, written again, is what the value holds.
        let mut written = format!("${{{}:", reference.provider);
        if let Some(path) = reference.path {
            written.push_str(path);
            written.push(':');
        }
        written.push_str(reference.key);
        if reference.closed {
            written.push('}');
        }
        assert_eq!(value[span], written, "{reference:?}");
    }
    assert_eq!(has_reference(value), !found.is_empty());
    match resolve_one(value) {
        Ok(resolved) => {
            assert_eq!(resolved.config["key"], value, "resolved with no provider");
            assert!(resolved.secrets.is_empty(), "{value:?} resolved a secret");
        }
        Err(e) => assert!(
            !found.is_empty(),
            "{value:?} refused without a reference: {e}"
        ),
    }
});

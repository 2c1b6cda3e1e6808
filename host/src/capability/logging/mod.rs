//! Logging: plugins write into the worker's log, each line attributed to the
//! connector task that wrote it, with the connector's secrets masked:
//! through the `logging` interface, and what they print to stdout and
//! stderr (`output`), within the task's output budget. Every plugin has
//! it; there is nothing to define or grant.

pub mod bindings;
mod host;
pub mod output;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use wasmtime::component::{HasData, Linker};

use super::lifecycle::{Capability, CapabilityHost, InstanceContext, View};
use crate::configdef::{ConfigError, KeyDefinition};
use crate::redact::Secrets;
use output::Stream;

/// The logging capability.
pub struct Logging;

/// Who an instance's log lines are attributed to, and what they must not
/// show.
pub struct LogContext {
    /// `connector-0`, or the converter's or transform's name.
    pub target: Arc<str>,
    /// The connector's resolved secrets, masked in each line.
    pub secrets: Arc<Secrets>,
}

struct HasLog;

impl HasData for HasLog {
    type Data<'a> = View<'a, LogContext>;
}

impl Capability for Logging {
    type Definitions = ();
    type Grant = ();
    type InstanceState = LogContext;

    const WORKER_KEYS: &'static [&'static str] = &[];
    const WORKER_PREFIXES: &'static [&'static str] = &[];
    const IMPORTS: &'static [&'static str] = &["sluice:connect/logging"];

    fn connector_keys() -> &'static [KeyDefinition] {
        &[]
    }

    fn define(_: &BTreeMap<String, String>, _: &Path, _: &mut Vec<ConfigError>) {}

    fn grant(_: &BTreeMap<String, String>, _: &(), _: &mut Vec<ConfigError>) {}

    fn add_to_linker<S: CapabilityHost>(
        linker: &mut Linker<S>,
        get: fn(&mut S) -> View<'_, LogContext>,
    ) -> Result<()> {
        bindings::logging::add_to_linker::<S, HasLog>(linker, get)?;
        Ok(())
    }

    fn instance_state(_: &(), _: &(), instance: &mut InstanceContext<'_>) -> Result<LogContext> {
        let output = |stream| {
            output::PluginOutput::new(
                stream,
                Arc::clone(instance.log_target),
                Arc::clone(instance.secrets),
                Arc::clone(instance.metrics),
            )
        };
        let (stdout, stderr) = (output(Stream::Stdout), output(Stream::Stderr));
        instance.wasi.stdout(stdout);
        instance.wasi.stderr(stderr);
        Ok(LogContext {
            target: Arc::clone(instance.log_target),
            secrets: Arc::clone(instance.secrets),
        })
    }
}

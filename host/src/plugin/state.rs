//! What a plugin instance's store holds: WASI, the resource table, every
//! capability's part (as its connector was granted them) and the task's
//! limits. It sits above `capability/`, which it bundles, and gives the
//! runtime its concrete state: [`Runtime`] is the runtime of such stores.

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::capability::{self, Definitions, Grants, HostState, InstanceContext, Instances};
use crate::redact::Secrets;
use crate::runtime::StoreState;
use crate::runtime::limits::{MAX_RESOURCES_PER_INSTANCE, Sandbox};

/// The runtime whose stores hold a [`PluginState`].
pub type Runtime = crate::runtime::Runtime<PluginState>;

impl Runtime {
    /// The worker's runtime, with every capability linked (see
    /// `runtime::Runtime::with_linker`).
    pub fn new(cache_dir: &Path, enforce_limits: bool) -> Result<Self> {
        Runtime::with_linker(cache_dir, enforce_limits, capability::add_to_linker)
    }
}

/// The state every plugin instance's store carries.
pub struct PluginState {
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    pub table: ResourceTable,
    /// Each capability's part, as the connector was granted it.
    pub capabilities: Instances,
    /// The task's limits, and this instance's share of what it used.
    pub sandbox: Sandbox,
}

/// Who a plugin instance works for.
pub struct Identity<'a> {
    /// The connector (empty for a plugin that belongs to none).
    pub connector: &'a str,
    /// Who its log lines are attributed to (`connector-0`).
    pub log_target: &'a str,
    /// The connector's resolved secrets, masked in its log lines.
    pub secrets: Arc<Secrets>,
}

impl PluginState {
    /// The state of an instance granted `grants` of what the worker
    /// `defined`: the granted capabilities and nothing else (its stdout and
    /// stderr go to the worker's log), within `sandbox`'s limits.
    pub fn new(
        defined: &Definitions,
        grants: &Grants,
        who: Identity<'_>,
        sandbox: Sandbox,
    ) -> Result<Self> {
        // Stdout and stderr are the logging capability's: the worker's own
        // are never handed to a plugin.
        let mut wasi = WasiCtxBuilder::new();
        let log_target: Arc<str> = who.log_target.into();
        let capabilities = defined.instances(
            grants,
            &mut InstanceContext {
                connector: who.connector,
                log_target: &log_target,
                secrets: &who.secrets,
                metrics: sandbox.metrics(),
                wasi: &mut wasi,
            },
        )?;
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES_PER_INSTANCE);
        Ok(PluginState {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            table,
            capabilities,
            sandbox,
        })
    }

    /// The state of an instance granted nothing (a converter, transform or
    /// predicate: only connectors reach outside systems).
    pub fn ungranted(who: Identity<'_>, sandbox: Sandbox) -> Self {
        Self::new(&Definitions::default(), &Grants::default(), who, sandbox)
            .expect("granting nothing cannot fail")
    }
}

/// The state of an instance granted nothing, outside any task's limits: for
/// describing a plugin or probing a configuration.
pub fn bare_state(log_target: &str) -> PluginState {
    PluginState::ungranted(
        Identity {
            connector: "",
            log_target,
            secrets: Arc::default(),
        },
        Sandbox::detached(),
    )
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for PluginState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: self.capabilities.http_hooks(),
        }
    }
}

impl StoreState for PluginState {
    fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    fn sandbox_mut(&mut self) -> &mut Sandbox {
        &mut self.sandbox
    }
}

impl HostState for PluginState {
    fn capability_parts(&mut self) -> (&mut Instances, &mut ResourceTable) {
        (&mut self.capabilities, &mut self.table)
    }
}

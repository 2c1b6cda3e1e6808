//! The WebAssembly runtime: one wasmtime engine for the worker, an on-disk
//! cache of precompiled components, and the per-task store state through
//! which the capabilities a connector was granted reach its plugin, within
//! the task's limits.

pub mod bindings;
pub mod blocking;
pub mod limits;

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::capability;
use crate::config::secrets::Secrets;

/// The most native stack one call into a plugin may use (wasmtime's
/// default, stated so that traces can name it).
pub const MAX_WASM_STACK: usize = 512 << 10;

/// The state every plugin instance's store carries.
pub struct PluginState {
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    /// Which endpoints its HTTP requests may go to.
    pub http_grant: capability::net::HttpGrant,
    pub table: ResourceTable,
    /// Who the plugin's log lines are attributed to (`connector/task-0`).
    pub log_target: Arc<str>,
    /// The connector's resolved secrets, masked in the plugin's log lines.
    pub secrets: Arc<Secrets>,
    /// The task's limits, and this instance's share of what it used.
    pub sandbox: limits::Sandbox,
    /// The datasources the connector was granted (none for other plugins).
    pub sql: capability::sql::SqlContext,
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
            hooks: &mut self.http_grant,
        }
    }
}

/// The engine, the linker every world is instantiated with, and the cache
/// of compiled components.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    linker: Arc<Linker<PluginState>>,
    cache_dir: PathBuf,
    /// Whether stores run under their task's limits (see `limits`).
    enforce_limits: bool,
}

impl Runtime {
    /// Creates the engine. `cache_dir` keeps compiled components between
    /// runs: compiling a component takes far longer than loading one.
    /// `enforce_limits` compiles plugins with epoch checks and runs every
    /// store under its task's memory cap and call deadline; turning it off
    /// (`task.limits.enabled=false`) exists to measure what the limits cost.
    pub fn new(cache_dir: &Path, enforce_limits: bool) -> Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(enforce_limits);
        config.max_wasm_stack(MAX_WASM_STACK);
        // Sluice calls plugins synchronously from a thread per task; the
        // machinery for concurrent component calls more than doubles the
        // cost of every call (see DESIGN.md).
        config.concurrency_support(false);
        // `SLUICE_PERF_MAP=1` names the plugins' compiled functions for
        // `perf` (in /tmp/perf-<pid>.map), to see where a plugin spends time.
        if std::env::var_os("SLUICE_PERF_MAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config)
            .map_err(anyhow::Error::from)
            .context("creating the wasmtime engine")?;
        if enforce_limits {
            limits::start_epoch_ticker(&engine);
        }
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking WASI")?;
        blocking::add_to_linker(&mut linker).context("linking WASI's blocking calls")?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking wasi:http")?;
        capability::logging::add_to_linker(&mut linker)?;
        capability::sql::add_to_linker(&mut linker)?;
        std::fs::create_dir_all(cache_dir)
            .with_context(|| format!("creating the component cache {}", cache_dir.display()))?;
        Ok(Runtime {
            engine,
            linker: Arc::new(linker),
            cache_dir: cache_dir.to_path_buf(),
            enforce_limits,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn linker(&self) -> &Linker<PluginState> {
        &self.linker
    }

    /// A new store for one plugin instance, under its task's limits.
    pub fn store(&self, state: PluginState) -> Store<PluginState> {
        let mut store = Store::new(&self.engine, state);
        if self.enforce_limits {
            limits::install(&mut store);
        }
        store
    }

    /// Compiles `bytes` as a component, or loads the compiled form cached
    /// under the hash of the bytes and of the engine's settings.
    pub fn load_component(&self, bytes: &[u8]) -> Result<(Component, String)> {
        let digest = hex(&Sha256::digest(bytes));
        let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut engine_hash);
        let cached = self
            .cache_dir
            .join(format!("{digest}-{:016x}.cwasm", engine_hash.finish()));
        if cached.exists() {
            // SAFETY: the file was written by `precompile_component` of an
            // engine with the same settings (its hash is in the name), into a
            // cache directory only this worker's operator controls.
            match unsafe { Component::deserialize_file(&self.engine, &cached) } {
                Ok(component) => return Ok((component, digest)),
                Err(e) => tracing::warn!(
                    "ignoring unreadable cached component {}: {e:#}",
                    cached.display()
                ),
            }
        }
        let compiled = self.engine.precompile_component(bytes)?;
        let tmp = cached.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, &compiled)
            .and_then(|()| std::fs::rename(&tmp, &cached))
            .with_context(|| format!("writing the component cache {}", cached.display()))?;
        // SAFETY: just produced by `precompile_component` of this engine.
        let component = unsafe { Component::deserialize(&self.engine, &compiled)? };
        Ok((component, digest))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

//! The WebAssembly runtime, the ground floor of the host: one wasmtime
//! engine for the worker, an on-disk cache of precompiled components, the
//! linker every plugin is instantiated with, and stores that run under
//! their task's limits. It is generic over what a store holds: the state
//! that bundles the capabilities lives above it (`plugin::PluginState`),
//! and the capabilities' host functions are linked by the caller.

pub mod bindings;
pub mod blocking;
pub mod limits;

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, Store};

pub use limits::StoreState;

/// The most native stack one call into a plugin may use (wasmtime's
/// default, stated so that traces can name it).
pub const MAX_WASM_STACK: usize = 512 << 10;

/// The engine, the linker every world is instantiated with, and the cache
/// of compiled components.
pub struct Runtime<S: 'static> {
    engine: Engine,
    linker: Arc<Linker<S>>,
    cache_dir: PathBuf,
    /// Whether stores run under their task's limits (see `limits`).
    enforce_limits: bool,
}

// Not derived: a derive would ask `S: Clone`, and the state is never cloned.
impl<S: 'static> Clone for Runtime<S> {
    fn clone(&self) -> Self {
        Runtime {
            engine: self.engine.clone(),
            linker: Arc::clone(&self.linker),
            cache_dir: self.cache_dir.clone(),
            enforce_limits: self.enforce_limits,
        }
    }
}

impl<S: StoreState> Runtime<S> {
    /// Creates the engine and links WASI; `link` adds the host functions
    /// of the capabilities. `cache_dir` keeps compiled components between
    /// runs: compiling a component takes far longer than loading one.
    /// `enforce_limits` compiles plugins with epoch checks and runs every
    /// store under its task's memory cap and call deadline; turning it off
    /// (`task.limits.enabled=false`) exists to measure what the limits cost.
    pub fn with_linker(
        cache_dir: &Path,
        enforce_limits: bool,
        link: impl FnOnce(&mut Linker<S>) -> Result<()>,
    ) -> Result<Self> {
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
        link(&mut linker)?;
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

    pub fn linker(&self) -> &Linker<S> {
        &self.linker
    }

    /// A new store for one plugin instance, under its task's limits.
    pub fn store(&self, state: S) -> Store<S> {
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

//! Logging: plugins write into the worker's log, each line attributed to the
//! connector task that wrote it.

mod host;

use anyhow::Result;
use wasmtime::component::{HasSelf, Linker};

use crate::runtime::PluginState;
use crate::runtime::bindings::logging;

/// Adds the `logging` interface to `linker`.
pub fn add_to_linker(linker: &mut Linker<PluginState>) -> Result<()> {
    logging::add_to_linker::<PluginState, HasSelf<PluginState>>(linker, |state| state)?;
    Ok(())
}

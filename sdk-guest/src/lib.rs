//! The Rust SDK for Sluice plugins.
//!
//! A connector is a plain Rust type that implements [`SourceConnector`] or
//! [`SinkConnector`], plus one macro line that exports it as a WebAssembly
//! component:
//!
//! ```ignore
//! use sluice_sdk::prelude::*;
//!
//! struct Hello;
//! struct HelloTask { topic: String, sent: bool }
//!
//! impl SourceConnector for Hello {
//!     type Task = HelloTask;
//!     fn metadata() -> PluginMetadata { PluginMetadata::new("hello", env!("CARGO_PKG_VERSION"), "Says hello once") }
//!     fn config_keys() -> Vec<ConfigKey> {
//!         vec![ConfigKey::new("topic", ConfigType::String, Importance::High, "Where to say it").required()]
//!     }
//! }
//!
//! impl SourceTask for HelloTask {
//!     fn start(config: Config, _offsets: Offsets) -> Result<Self> {
//!         Ok(HelloTask { topic: config.require("topic")?.to_string(), sent: false })
//!     }
//!     fn poll(&mut self, _max_records: u32) -> Result<SourceBatch> {
//!         let mut batch = SourceBatch::new();
//!         if !std::mem::replace(&mut self.sent, true) {
//!             batch.push(SourceRecord::new(&self.topic, BatchData::Raw(b"hello".to_vec())));
//!         }
//!         Ok(batch)
//!     }
//! }
//!
//! sluice_sdk::export_source_connector!(Hello);
//! ```
//!
//! Converters, transforms and predicates work the same way: implement
//! [`Converter`], [`Transform`] or [`Predicate`] and export it with
//! [`export_converter!`], [`export_transform!`] or [`export_predicate!`].
//!
//! Plugins are built for `wasm32-wasip2`. Everything crosses the component
//! boundary in batches; the SDK never makes a call per record.

#![deny(missing_docs)]

pub mod allocator;
pub mod config;
pub mod converter;
pub mod data;
pub mod log;
pub mod predicate;
pub mod sink;
pub mod source;
pub mod sql;
pub mod transform;

mod error;
mod wire;

pub use config::Config;
pub use converter::Converter;
pub use data::{Schema, SchemaRef, SchemaType, StructuredValue, Value};
pub use error::Result;
pub use predicate::Predicate;
pub use sink::{SinkConnector, SinkTask};
pub use source::{Offsets, SourceBatch, SourceConnector, SourceTask};
pub use transform::Transform;
pub use wit::{
    BatchData, BatchSchema, ConfigIssue, ConfigKey, ConfigType, ConnectError, ConnectRecord, Data,
    ErrorKind, Header, Importance, PluginMetadata, RecordPart, SinkRecord, SourceRecord,
    TopicPartition,
};

/// Everything a plugin usually needs, in one import.
pub mod prelude {
    pub use crate::sql::{self, SqlValue};
    pub use crate::{
        BatchData, BatchSchema, Config, ConfigIssue, ConfigKey, ConfigType, ConnectError,
        ConnectRecord, Converter, Data, ErrorKind, Header, Importance, Offsets, PluginMetadata,
        Predicate, RecordPart, Result, Schema, SchemaRef, SchemaType, SinkConnector, SinkRecord,
        SinkTask, SourceBatch, SourceConnector, SourceRecord, SourceTask, StructuredValue,
        TopicPartition, Transform, Value,
    };
}

/// Every plugin built with the SDK allocates small blocks from size-class
/// free lists (see [`allocator`]). A plugin that installs its own global
/// allocator turns off the `size-class-allocator` feature.
#[cfg(all(
    target_family = "wasm",
    not(target_feature = "atomics"),
    feature = "size-class-allocator"
))]
#[global_allocator]
static ALLOCATOR: allocator::SizeClassAllocator = allocator::SizeClassAllocator::new();

/// The canonical ABI's allocator, which the host calls to place lists and
/// strings in the plugin's memory, served by the system allocator
/// (wasi-libc's dlmalloc): wasi-libc frees with `free` what the host hands
/// it (the bytes of a file read), so those blocks must be dlmalloc's, never
/// the size-class allocator's; Rust frees the rest through
/// [`allocator::SizeClassAllocator`], which gives blocks that are not its
/// own back to the system allocator.
///
/// # Safety
///
/// Called by the host as the canonical ABI prescribes: `old_ptr` and
/// `old_len` describe a block this function returned, or are 0.
#[cfg(all(
    target_family = "wasm",
    not(target_feature = "atomics"),
    feature = "size-class-allocator"
))]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cabi_realloc(
    old_ptr: *mut u8,
    old_len: usize,
    align: usize,
    new_len: usize,
) -> *mut u8 {
    use std::alloc::{GlobalAlloc, Layout, System};
    if new_len == 0 {
        return align as *mut u8;
    }
    // SAFETY: the canonical ABI passes a power-of-two alignment, and an
    // old block it got from here with its length.
    let block = unsafe {
        if old_len == 0 {
            System.alloc(Layout::from_size_align_unchecked(new_len, align))
        } else {
            System.realloc(
                old_ptr,
                Layout::from_size_align_unchecked(old_len, align),
                new_len,
            )
        }
    };
    if block.is_null() {
        std::process::abort();
    }
    block
}

/// The raw WIT types, shared by every world.
pub use bindings::source::sluice::connect::types as wit;

/// Bindings generated from `wit/` by wit-bindgen, one module per world. The
/// shared interfaces (`types`, `logging`, `sql`) are generated once and reused, so
/// that a record type is the same Rust type in every world.
#[doc(hidden)]
pub mod bindings {
    /// The `source-connector` world.
    pub mod source {
        wit_bindgen::generate!({
            world: "source-connector",
            path: "../wit",
            // `connect-record` crosses in the record-batch byte form, so no
            // function names it; the SDK still needs the type.
            generate_unused_types: true,
            // A batch lists each schema once: equal schemas are found by
            // comparison.
            additional_derives: [PartialEq],
            pub_export_macro: true,
            export_macro_name: "export_source_world",
            default_bindings_module: "::sluice_sdk::bindings::source",
        });
    }

    /// The `sink-connector` world.
    pub mod sink {
        wit_bindgen::generate!({
            world: "sink-connector",
            path: "../wit",
            pub_export_macro: true,
            export_macro_name: "export_sink_world",
            default_bindings_module: "::sluice_sdk::bindings::sink",
            with: {
                "sluice:connect/types@0.1.0": crate::bindings::source::sluice::connect::types,
                "sluice:connect/logging@0.1.0": crate::bindings::source::sluice::connect::logging,
                "sluice:connect/sql@0.1.0": crate::bindings::source::sluice::connect::sql,
            },
        });
    }

    /// The `converter` world.
    pub mod converter {
        wit_bindgen::generate!({
            world: "converter",
            path: "../wit",
            pub_export_macro: true,
            export_macro_name: "export_converter_world",
            default_bindings_module: "::sluice_sdk::bindings::converter",
            with: {
                "sluice:connect/types@0.1.0": crate::bindings::source::sluice::connect::types,
                "sluice:connect/logging@0.1.0": crate::bindings::source::sluice::connect::logging,
            },
        });
    }

    /// The `transform` world.
    pub mod transform {
        wit_bindgen::generate!({
            world: "transform",
            path: "../wit",
            pub_export_macro: true,
            export_macro_name: "export_transform_world",
            default_bindings_module: "::sluice_sdk::bindings::transform",
            with: {
                "sluice:connect/types@0.1.0": crate::bindings::source::sluice::connect::types,
                "sluice:connect/logging@0.1.0": crate::bindings::source::sluice::connect::logging,
            },
        });
    }

    /// The `predicate` world.
    pub mod predicate {
        wit_bindgen::generate!({
            world: "predicate",
            path: "../wit",
            pub_export_macro: true,
            export_macro_name: "export_predicate_world",
            default_bindings_module: "::sluice_sdk::bindings::predicate",
            with: {
                "sluice:connect/types@0.1.0": crate::bindings::source::sluice::connect::types,
                "sluice:connect/logging@0.1.0": crate::bindings::source::sluice::connect::logging,
            },
        });
    }
}

/// Exports a [`Converter`] as the component's `converter` world.
#[macro_export]
macro_rules! export_converter {
    ($converter:ty) => {
        type __SluiceConverterExports = $crate::converter::Exports<$converter>;
        $crate::bindings::converter::export_converter_world!(
            __SluiceConverterExports with_types_in $crate::bindings::converter
        );
    };
}

/// Exports a [`Transform`] as the component's `transform` world.
#[macro_export]
macro_rules! export_transform {
    ($transform:ty) => {
        type __SluiceTransformExports = $crate::transform::Exports<$transform>;
        $crate::bindings::transform::export_transform_world!(
            __SluiceTransformExports with_types_in $crate::bindings::transform
        );
    };
}

/// Exports a [`Predicate`] as the component's `predicate` world.
#[macro_export]
macro_rules! export_predicate {
    ($predicate:ty) => {
        type __SluicePredicateExports = $crate::predicate::Exports<$predicate>;
        $crate::bindings::predicate::export_predicate_world!(
            __SluicePredicateExports with_types_in $crate::bindings::predicate
        );
    };
}

/// Exports a [`SourceConnector`] as the component's `source-connector` world.
#[macro_export]
macro_rules! export_source_connector {
    ($connector:ty) => {
        type __SluiceSourceExports = $crate::source::Exports<$connector>;
        $crate::bindings::source::export_source_world!(
            __SluiceSourceExports with_types_in $crate::bindings::source
        );
    };
}

/// Exports a [`SinkConnector`] as the component's `sink-connector` world.
#[macro_export]
macro_rules! export_sink_connector {
    ($connector:ty) => {
        type __SluiceSinkExports = $crate::sink::Exports<$connector>;
        $crate::bindings::sink::export_sink_world!(
            __SluiceSinkExports with_types_in $crate::bindings::sink
        );
    };
}

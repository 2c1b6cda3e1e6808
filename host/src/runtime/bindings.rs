//! Host-side bindings generated from wit/, one module per world. The shared
//! interfaces (`types`, `logging`) are generated once, in `source`, and
//! reused by the other worlds so a record is one Rust type everywhere.

/// The `source-connector` world, and the shared `types` and `logging`.
pub mod source {
    wasmtime::component::bindgen!({
        world: "source-connector",
        path: "../wit",
    });
}

/// The `sink-connector` world.
pub mod sink {
    wasmtime::component::bindgen!({
        world: "sink-connector",
        path: "../wit",
        with: {
            "sluice:connect/types": super::source::sluice::connect::types,
            "sluice:connect/logging": super::source::sluice::connect::logging,
        },
    });
}

/// The `converter` world.
pub mod converter {
    wasmtime::component::bindgen!({
        world: "converter",
        path: "../wit",
        with: {
            "sluice:connect/types": super::source::sluice::connect::types,
            "sluice:connect/logging": super::source::sluice::connect::logging,
        },
    });
}

/// The `transform` world.
pub mod transform {
    wasmtime::component::bindgen!({
        world: "transform",
        path: "../wit",
        with: {
            "sluice:connect/types": super::source::sluice::connect::types,
            "sluice:connect/logging": super::source::sluice::connect::logging,
        },
    });
}

/// The `predicate` world.
pub mod predicate {
    wasmtime::component::bindgen!({
        world: "predicate",
        path: "../wit",
        with: {
            "sluice:connect/types": super::source::sluice::connect::types,
            "sluice:connect/logging": super::source::sluice::connect::logging,
        },
    });
}

pub use source::sluice::connect::logging;
pub use source::sluice::connect::types;

/// The fully qualified names of the interfaces that tell a plugin's kind.
pub const SOURCE_INTERFACE: &str = "sluice:connect/source@0.1.0";
pub const SINK_INTERFACE: &str = "sluice:connect/sink@0.1.0";
pub const CONVERSION_INTERFACE: &str = "sluice:connect/conversion@0.1.0";
pub const TRANSFORMATION_INTERFACE: &str = "sluice:connect/transformation@0.1.0";
pub const CONDITION_INTERFACE: &str = "sluice:connect/condition@0.1.0";

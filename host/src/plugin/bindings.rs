//! Host-side bindings of the plugin worlds, generated from wit/, one module
//! per world. The interfaces they share are generated once, where they
//! belong: the data model in `runtime::bindings`, each host capability's
//! interface in its own module; the worlds reuse them, so a record is one
//! Rust type everywhere.

/// The `source-connector` world.
pub mod source {
    wasmtime::component::bindgen!({
        world: "source-connector",
        path: "../wit",
        with: {
            "sluice:connect/types": crate::runtime::bindings::types,
            "sluice:connect/logging": crate::capability::logging::bindings::logging,
            "sluice:connect/sql": crate::capability::sql::bindings::sql,
        },
    });
}

/// The `sink-connector` world.
pub mod sink {
    wasmtime::component::bindgen!({
        world: "sink-connector",
        path: "../wit",
        with: {
            "sluice:connect/types": crate::runtime::bindings::types,
            "sluice:connect/logging": crate::capability::logging::bindings::logging,
            "sluice:connect/sql": crate::capability::sql::bindings::sql,
        },
    });
}

/// The `converter` world.
pub mod converter {
    wasmtime::component::bindgen!({
        world: "converter",
        path: "../wit",
        with: {
            "sluice:connect/types": crate::runtime::bindings::types,
            "sluice:connect/logging": crate::capability::logging::bindings::logging,
        },
    });
}

/// The `transform` world.
pub mod transform {
    wasmtime::component::bindgen!({
        world: "transform",
        path: "../wit",
        with: {
            "sluice:connect/types": crate::runtime::bindings::types,
            "sluice:connect/logging": crate::capability::logging::bindings::logging,
        },
    });
}

/// The `predicate` world.
pub mod predicate {
    wasmtime::component::bindgen!({
        world: "predicate",
        path: "../wit",
        with: {
            "sluice:connect/types": crate::runtime::bindings::types,
            "sluice:connect/logging": crate::capability::logging::bindings::logging,
        },
    });
}

/// The fully qualified names of the interfaces that tell a plugin's kind.
pub const SOURCE_INTERFACE: &str = "sluice:connect/source@0.1.0";
pub const SINK_INTERFACE: &str = "sluice:connect/sink@0.1.0";
pub const CONVERSION_INTERFACE: &str = "sluice:connect/conversion@0.1.0";
pub const TRANSFORMATION_INTERFACE: &str = "sluice:connect/transformation@0.1.0";
pub const CONDITION_INTERFACE: &str = "sluice:connect/condition@0.1.0";

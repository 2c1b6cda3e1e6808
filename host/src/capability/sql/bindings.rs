//! The host side of the `sql` interface, generated from wit/. A call
//! returns the plugin's errors as `sql-error` and traps on a host fault
//! (a bad resource handle); connections and row streams are the host's
//! own types.

mod generated {
    wasmtime::component::bindgen!({
        inline: "
            package sluice:host-sql;
            world sql {
                import sluice:connect/sql@0.1.0;
            }
        ",
        path: "../wit",
        imports: {
            "sluice:connect/sql": trappable,
        },
        trappable_error_type: {
            "sluice:connect/sql.sql-error" => crate::capability::sql::SqlFailure,
        },
        // Values and errors compare, for tests of what crosses.
        additional_derives: [PartialEq],
        with: {
            "sluice:connect/sql.connection": crate::capability::sql::SqlConnection,
            "sluice:connect/sql.rows": crate::capability::sql::SqlRows,
        },
    });
}

pub use generated::sluice::connect::sql;

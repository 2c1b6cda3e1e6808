//! The host side of the `logging` interface, generated from wit/. A
//! panicking plugin's last call traps with the panic's message.

mod generated {
    wasmtime::component::bindgen!({
        inline: "
            package sluice:host-logging;
            world logging {
                import sluice:connect/logging@0.1.0;
            }
        ",
        path: "../wit",
        imports: {
            "sluice:connect/logging.panicked": trappable,
        },
    });
}

pub use generated::sluice::connect::logging;

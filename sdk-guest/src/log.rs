//! Logging into the host's log, where each line is attributed to the
//! connector and task that wrote it.

use crate::bindings::source::sluice::connect::logging::{self, Level};

/// Writes `message` to the host log at `level`.
pub fn log(level: Level, message: &str) {
    logging::log(level, message);
}

pub fn error(message: &str) {
    log(Level::Error, message);
}

pub fn warn(message: &str) {
    log(Level::Warn, message);
}

pub fn info(message: &str) {
    log(Level::Info, message);
}

pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// Makes a panic in the plugin reach the host's trace: the hook hands the
/// panic's message and location to the host, which stops the call there.
/// The SDK's adapters call this when an instance is entered; it installs
/// the hook once.
#[doc(hidden)]
pub fn report_panics() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            logging::panicked(&info.to_string());
        }));
    });
}

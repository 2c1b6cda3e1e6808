//! Logging into the host's log, where each line is attributed to the
//! connector and task that wrote it.

use crate::bindings::source::sluice::connect::logging::{self, Level};

/// Writes `message` to the host log at `level`.
pub fn log(level: Level, message: &str) {
    logging::log(level, message);
}

/// Writes `message` to the host log at `ERROR`: something failed. An error
/// the task cannot get past is better returned as a
/// [`crate::ConnectError`], which the host puts in the task's trace.
pub fn error(message: &str) {
    log(Level::Error, message);
}

/// Writes `message` to the host log at `WARN`: something is wrong, but the
/// task carries on.
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// Writes `message` to the host log at `INFO`, the level the host shows by
/// default: what an operator follows in normal running (started, connected,
/// caught up), not a line per record.
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Writes `message` to the host log at `DEBUG`: detail for tracking a
/// problem down, shown once the operator sets the `sluice::plugin` logger
/// to `DEBUG` (over `/admin/loggers`, as in Kafka Connect).
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

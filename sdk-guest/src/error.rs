//! Constructors for the WIT `connect-error`, so plugins can write
//! `ConnectError::fatal(..)` and use `?` on configuration lookups.

use crate::wit::{ConnectError, ErrorKind};

/// The result of every fallible plugin call.
pub type Result<T, E = ConnectError> = std::result::Result<T, E>;

impl ConnectError {
    /// The task cannot go on; the host fails it with `message` as the trace.
    pub fn fatal(message: impl Into<String>) -> Self {
        ConnectError {
            kind: ErrorKind::Fatal,
            message: message.into(),
            record: None,
        }
    }

    /// A transient failure; the host retries the call with backoff.
    pub fn retriable(message: impl Into<String>) -> Self {
        ConnectError {
            kind: ErrorKind::Retriable,
            message: message.into(),
            record: None,
        }
    }

    /// Names the record, by its index in the batch, that caused the error.
    pub fn for_record(mut self, index: usize) -> Self {
        self.record = Some(index as u32);
        self
    }
}

//! Shared code of Sluice's field transforms (Cast, ExtractField, Flatten,
//! HoistField, InsertField, MaskField, ReplaceField, ValueToKey, HeaderFrom,
//! TimestampConverter): reading and writing the key or value of a record,
//! Kafka's `Requirements` checks and their messages, schema copies with
//! fields changed, field paths (KIP-821), configuration parsing with Kafka's
//! `ConfigException` messages, and the Java formatting these transforms
//! reproduce (`Double.toString`, `BigDecimal`, `SimpleDateFormat`).
//!
//! It is a library linked into each transform, not a component itself.

pub mod config;
pub mod date_format;
pub mod fields;
pub mod java;
pub mod part;
pub mod path;
pub mod require;
pub mod schema;

/// The calendar, shared with the converters.
pub use java_text::time;

/// Java's `BigDecimal` and the `Decimal` schema's scale, shared with the
/// converters and the JDBC connectors.
pub use java_text::decimal;

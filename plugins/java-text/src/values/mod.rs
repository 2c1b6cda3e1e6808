//! Kafka's `Values` class: text to a value with an inferred schema
//! (`parseString`, as the simple header converter reads headers and
//! InsertHeader reads its literal) and a value to text (`convertToString`,
//! as the simple header converter writes headers).

mod parse;
mod render;

pub use parse::{Parsed, parse_string};
pub use render::{append, format_date};

//! The `.properties` reader of worker and connector files
//! (`sluice::config::properties::parse`). Text whose only escapes are
//! well-formed reads without error, and what it reads, written back with
//! Java's escapes, reads back the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice::config::properties::parse;

/// A key or value as `java.util.Properties.store` escapes it (with UTF-8
/// text left as it is, as the reader reads UTF-8).
fn escape(out: &mut String, text: &str, is_key: bool) {
    for (i, c) in text.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0c' => out.push_str("\\f"),
            ' ' if is_key || i == 0 => out.push_str("\\ "),
            '=' | ':' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
}

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let properties = match parse(text) {
        Ok(properties) => properties,
        Err(e) => {
            assert!(
                text.contains("\\u"),
                "{text:?} is refused ({e}) without a \\u escape"
            );
            return;
        }
    };
    let mut written = String::new();
    for (key, value) in &properties {
        escape(&mut written, key, true);
        written.push('=');
        escape(&mut written, value, false);
        written.push('\n');
    }
    let again = parse(&written).unwrap_or_else(|e| panic!("{written:?} cannot be read: {e}"));
    assert_eq!(
        properties, again,
        "{text:?} written as {written:?} reads otherwise"
    );
});

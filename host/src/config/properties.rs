//! Java `.properties` files, as Kafka Connect reads its worker and connector
//! configurations: `key=value`, `key: value` or `key value`, `#`/`!`
//! comments, backslash line continuations and escapes.

use std::collections::BTreeMap;

/// Parses the text of a `.properties` file. Later keys replace earlier ones,
/// as in `java.util.Properties`.
pub fn parse(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(first) = lines.next() {
        let mut logical = first.trim_start().to_string();
        if logical.is_empty() || logical.starts_with('#') || logical.starts_with('!') {
            continue;
        }
        // An odd number of trailing backslashes continues the line.
        while ends_with_continuation(&logical) {
            logical.pop();
            match lines.next() {
                Some(next) => logical.push_str(next.trim_start()),
                None => break,
            }
        }
        let (key, value) = split_key_value(&logical);
        out.insert(unescape(key), unescape(value.trim_start()));
    }
    out
}

fn ends_with_continuation(line: &str) -> bool {
    line.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
}

/// Splits at the first unescaped `=`, `:` or whitespace.
fn split_key_value(line: &str) -> (&str, &str) {
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '=' | ':' => return (&line[..i], &line[i + 1..]),
            c if c.is_whitespace() => {
                let rest = line[i..].trim_start();
                let rest = rest
                    .strip_prefix('=')
                    .or_else(|| rest.strip_prefix(':'))
                    .unwrap_or(rest);
                return (&line[..i], rest);
            }
            _ => {}
        }
    }
    (line, "")
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => {
                        out.push_str("\\u");
                        out.push_str(&hex);
                    }
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_comments_and_continuations() {
        let props = parse(
            "# comment\n! also\nname=local-file-source\nconnector.class : FileStreamSource\n\
             tasks.max 1\nfile=/inbox/a\\\n   b.txt\nempty=\nkey\\=with\\:seps=v\n",
        );
        assert_eq!(props["name"], "local-file-source");
        assert_eq!(props["connector.class"], "FileStreamSource");
        assert_eq!(props["tasks.max"], "1");
        assert_eq!(props["file"], "/inbox/ab.txt");
        assert_eq!(props["empty"], "");
        assert_eq!(props["key=with:seps"], "v");
        assert_eq!(props.len(), 6);
    }

    #[test]
    fn unicode_escape() {
        assert_eq!(parse("k=caf\\u00e9")["k"], "café");
    }
}

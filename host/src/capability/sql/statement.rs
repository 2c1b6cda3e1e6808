//! What a plugin's SQL text is, before it reaches the database: its first
//! keyword, past blanks, comments (nested ones included) and parentheses.
//! Transactions are controlled through the interface, never through text,
//! and a read-only grant may not change the session's settings.

/// Statements that begin or end transactions.
pub const TRANSACTION_KEYWORDS: &[&str] = &[
    "BEGIN",
    "START",
    "COMMIT",
    "END",
    "ROLLBACK",
    "ABORT",
    "SAVEPOINT",
    "RELEASE",
    "XA",
];

/// Statements that change a session's settings.
pub const SESSION_KEYWORDS: &[&str] = &["SET", "RESET"];

/// The first keyword of a statement, upper-cased, past blanks, comments
/// and opening parentheses.
pub fn leading_keyword(sql: &str) -> Option<String> {
    let mut rest = sql;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map(|(_, r)| r).unwrap_or("");
        } else if let Some(after) = rest.strip_prefix('#') {
            // MySQL's line comments.
            rest = after.split_once('\n').map(|(_, r)| r).unwrap_or("");
        } else if rest.starts_with("/*") {
            rest = skip_block_comment(rest);
        } else {
            break;
        }
    }
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    (!word.is_empty()).then(|| word.to_ascii_uppercase())
}

/// The text after the block comment `text` starts with (nested comments
/// count, as in PostgreSQL).
fn skip_block_comment(text: &str) -> &str {
    let bytes = text.as_bytes();
    let mut depth = 0;
    let mut i = 0;
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'/', b'*') => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return &text[i..];
                }
            }
            _ => i += 1,
        }
    }
    ""
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_keywords_are_found_past_comments() {
        assert_eq!(leading_keyword("  commit").as_deref(), Some("COMMIT"));
        assert_eq!(
            leading_keyword("-- note\n/* a /* nested */ b */ (select 1)").as_deref(),
            Some("SELECT")
        );
        assert_eq!(
            leading_keyword("# mysql\nSet autocommit=0").as_deref(),
            Some("SET")
        );
        assert_eq!(leading_keyword("/* unterminated"), None);
        assert_eq!(leading_keyword(""), None);
    }
}

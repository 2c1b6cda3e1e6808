//! A JSON tree and a strict parser for it, as Jackson reads Kafka's bytes:
//! numbers keep their text (a Decimal needs every digit), object members
//! keep their order, and a repeated member replaces the earlier one in its
//! place, as in Jackson's `ObjectNode`.

use std::collections::HashMap;

/// Jackson's limit on nesting (`StreamReadConstraints`), which also keeps
/// the recursion of the converter bounded.
const MAX_DEPTH: usize = 1000;

/// A JSON value.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// A number, as written (already checked against JSON's grammar).
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Jackson's `JsonNodeType` name, which Kafka's messages show.
    pub fn node_type(&self) -> &'static str {
        match self {
            Json::Null => "NULL",
            Json::Bool(_) => "BOOLEAN",
            Json::Number(_) => "NUMBER",
            Json::String(_) => "STRING",
            Json::Array(_) => "ARRAY",
            Json::Object(_) => "OBJECT",
        }
    }

    /// The member `key` of an object; `None` for a missing member or a
    /// value that is not an object (Jackson's `get(String)`).
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A number without fraction or exponent (Jackson's
    /// `isIntegralNumber`).
    pub fn is_integral(&self) -> bool {
        matches!(self, Json::Number(text) if !text.contains(['.', 'e', 'E']))
    }

    /// An integral number that fits an `int` (Jackson's `isInt`).
    pub fn as_int(&self) -> Option<i32> {
        match self {
            Json::Number(text) if self.is_integral() => text.parse().ok(),
            _ => None,
        }
    }
}

/// Parses one JSON document. `Ok(None)` for input of only whitespace
/// (Jackson's missing node).
pub fn parse(bytes: &[u8]) -> Result<Option<Json>, String> {
    // Jackson skips a UTF-8 byte order mark.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut parser = Parser { bytes, pos: 0 };
    parser.skip_whitespace();
    if parser.pos == bytes.len() {
        return Ok(None);
    }
    let value = parser.value(0)?;
    parser.skip_whitespace();
    if parser.pos < bytes.len() {
        return Err(parser.error(format!(
            "Unexpected character ({}): expected end of input",
            parser.describe_current()
        )));
    }
    Ok(Some(value))
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The message with the line and column of the current position.
    fn error(&self, message: String) -> String {
        let before = &self.bytes[..self.pos.min(self.bytes.len())];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        format!("{message} at line {line}, column {column}")
    }

    /// The current character as Jackson names it: `'x' (code 120)`.
    fn describe_current(&self) -> String {
        let rest = &self.bytes[self.pos..];
        let c = std::str::from_utf8(&rest[..rest.len().min(4)])
            .ok()
            .or_else(|| {
                (1..4)
                    .rev()
                    .find_map(|n| std::str::from_utf8(rest.get(..n)?).ok())
            })
            .and_then(|s| s.chars().next());
        match c {
            Some(c) if (c as u32) < 0x20 => format!("CTRL-CHAR, code {}", c as u32),
            Some(c) => format!("'{c}' (code {})", c as u32),
            None => format!("byte 0x{:02x}", rest.first().copied().unwrap_or(0)),
        }
    }

    fn end_of_input(&self, what: &str) -> String {
        self.error(format!("Unexpected end-of-input: {what}"))
    }

    fn value(&mut self, depth: usize) -> Result<Json, String> {
        let Some(&c) = self.bytes.get(self.pos) else {
            return Err(self.end_of_input("expected a value"));
        };
        match c {
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b'"' => self.string().map(Json::String),
            b'-' | b'0'..=b'9' => self.number(),
            b't' | b'f' | b'n' => self.literal(),
            _ => Err(self.error(format!(
                "Unexpected character ({}): expected a value",
                self.describe_current()
            ))),
        }
    }

    fn check_depth(&self, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(self.error(format!(
                "Document nesting depth ({depth}) exceeds the maximum allowed ({MAX_DEPTH})"
            )));
        }
        Ok(())
    }

    fn object(&mut self, depth: usize) -> Result<Json, String> {
        self.check_depth(depth)?;
        self.pos += 1;
        let mut members: Vec<(String, Json)> = Vec::new();
        // An index by name, only once an object is large enough to need it.
        let mut index: HashMap<String, usize> = HashMap::new();
        self.skip_whitespace();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.skip_whitespace();
            match self.bytes.get(self.pos) {
                Some(b'"') => {}
                Some(_) => {
                    return Err(self.error(format!(
                        "Unexpected character ({}): was expecting double-quote to start field name",
                        self.describe_current()
                    )));
                }
                None => return Err(self.end_of_input("expected close marker for OBJECT")),
            }
            let key = self.string()?;
            self.skip_whitespace();
            match self.bytes.get(self.pos) {
                Some(b':') => self.pos += 1,
                Some(_) => {
                    return Err(self.error(format!(
                        "Unexpected character ({}): was expecting a colon to separate field name and value",
                        self.describe_current()
                    )));
                }
                None => return Err(self.end_of_input("expected close marker for OBJECT")),
            }
            self.skip_whitespace();
            let value = self.value(depth)?;
            let existing = if members.len() > 16 {
                if index.is_empty() {
                    index = members
                        .iter()
                        .enumerate()
                        .map(|(i, (k, _))| (k.clone(), i))
                        .collect();
                }
                index.get(&key).copied()
            } else {
                members.iter().position(|(k, _)| *k == key)
            };
            match existing {
                Some(i) => members[i].1 = value,
                None => {
                    if !index.is_empty() {
                        index.insert(key.clone(), members.len());
                    }
                    members.push((key, value));
                }
            }
            self.skip_whitespace();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Json::Object(members));
                }
                Some(_) => {
                    return Err(self.error(format!(
                        "Unexpected character ({}): was expecting comma to separate Object entries",
                        self.describe_current()
                    )));
                }
                None => return Err(self.end_of_input("expected close marker for OBJECT")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, String> {
        self.check_depth(depth)?;
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.skip_whitespace();
            if self.pos == self.bytes.len() {
                return Err(self.end_of_input("expected close marker for ARRAY"));
            }
            items.push(self.value(depth)?);
            self.skip_whitespace();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                Some(_) => {
                    return Err(self.error(format!(
                        "Unexpected character ({}): was expecting comma to separate Array entries",
                        self.describe_current()
                    )));
                }
                None => return Err(self.end_of_input("expected close marker for ARRAY")),
            }
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(&b) = self.bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            let run = std::str::from_utf8(&self.bytes[start..self.pos]).map_err(|e| {
                let bad = start + e.valid_up_to();
                let byte = self.bytes[bad];
                Parser {
                    bytes: self.bytes,
                    pos: bad,
                }
                .error(format!("Invalid UTF-8 start byte 0x{byte:02x}"))
            })?;
            out.push_str(run);
            match self.bytes.get(self.pos) {
                None => {
                    return Err(self.end_of_input("was expecting closing quote for a string value"));
                }
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    out.push(self.escape()?);
                }
                Some(_) => {
                    return Err(self.error(format!(
                        "Illegal unquoted character ({}): has to be escaped using backslash to be included in string value",
                        self.describe_current()
                    )));
                }
            }
        }
    }

    fn escape(&mut self) -> Result<char, String> {
        let Some(&c) = self.bytes.get(self.pos) else {
            return Err(self.end_of_input("was expecting closing quote for a string value"));
        };
        self.pos += 1;
        Ok(match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let high = self.hex4()?;
                if (0xD800..0xDC00).contains(&high)
                    && self.bytes.get(self.pos..self.pos + 2) == Some(b"\\u")
                {
                    let save = self.pos;
                    self.pos += 2;
                    let low = self.hex4()?;
                    if (0xDC00..0xE000).contains(&low) {
                        let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                        return Ok(char::from_u32(code).unwrap_or('\u{FFFD}'));
                    }
                    self.pos = save;
                }
                // A lone surrogate has no place in a Rust string.
                char::from_u32(high).unwrap_or('\u{FFFD}')
            }
            _ => {
                self.pos -= 1;
                return Err(self.error(format!(
                    "Unrecognized character escape ({})",
                    self.describe_current()
                )));
            }
        })
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let mut code = 0;
        for _ in 0..4 {
            let Some(&c) = self.bytes.get(self.pos) else {
                return Err(self.end_of_input("expected a hex-digit for character escape sequence"));
            };
            let digit = (c as char).to_digit(16).ok_or_else(|| {
                self.error(format!(
                    "Unexpected character ({}): expected a hex-digit for character escape sequence",
                    self.describe_current()
                ))
            })?;
            code = code * 16 + digit;
            self.pos += 1;
        }
        Ok(code)
    }

    fn number(&mut self) -> Result<Json, String> {
        let start = self.pos;
        let digits = |p: &mut Parser| {
            let from = p.pos;
            while p.bytes.get(p.pos).is_some_and(u8::is_ascii_digit) {
                p.pos += 1;
            }
            p.pos - from
        };
        if self.bytes[self.pos] == b'-' {
            self.pos += 1;
        }
        let int_start = self.pos;
        let int_digits = digits(self);
        if int_digits == 0 {
            return Err(self.number_error(
                "expected digit (0-9) to follow minus sign, for valid numeric value",
            ));
        }
        if int_digits > 1 && self.bytes[int_start] == b'0' {
            self.pos = int_start;
            return Err(self.error("Invalid numeric value: Leading zeroes not allowed".into()));
        }
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if digits(self) == 0 {
                return Err(self.number_error("Decimal point not followed by a digit"));
            }
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.pos) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(self.number_error("Exponent indicator not followed by a digit"));
            }
        }
        // A number runs into the next token only through a separator.
        if let Some(&c) = self.bytes.get(self.pos)
            && (c.is_ascii_alphanumeric() || c == b'.' || c == b'-' || c == b'+')
        {
            return Err(self.error(format!(
                "Unexpected character ({}): expected separator after a number",
                self.describe_current()
            )));
        }
        let text = std::str::from_utf8(&self.bytes[start..self.pos]).expect("ASCII");
        Ok(Json::Number(text.to_string()))
    }

    fn number_error(&self, what: &str) -> String {
        match self.bytes.get(self.pos) {
            None => self.end_of_input(what),
            Some(_) => self.error(format!(
                "Unexpected character ({}) in numeric value: {what}",
                self.describe_current()
            )),
        }
    }

    fn literal(&mut self) -> Result<Json, String> {
        let start = self.pos;
        while self
            .bytes
            .get(self.pos)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            self.pos += 1;
        }
        match &self.bytes[start..self.pos] {
            b"true" => Ok(Json::Bool(true)),
            b"false" => Ok(Json::Bool(false)),
            b"null" => Ok(Json::Null),
            token => {
                let token = String::from_utf8_lossy(token).into_owned();
                self.pos = start;
                Err(self.error(format!(
                    "Unrecognized token '{token}': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_replaces_repeated_members() {
        let json = parse(br#"{"b":1,"a":2,"b":3}"#).unwrap().unwrap();
        assert_eq!(
            json,
            Json::Object(vec![
                ("b".into(), Json::Number("3".into())),
                ("a".into(), Json::Number("2".into())),
            ])
        );
    }

    #[test]
    fn refuses_what_jackson_refuses() {
        for bad in [
            &b"{"[..],
            b"[1,]",
            b"01",
            b"1.",
            b"tru",
            b"\"a\nb\"",
            b"{} x",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parse(b"  ").unwrap(), None);
    }
}

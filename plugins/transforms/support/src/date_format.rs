//! Java's `SimpleDateFormat` in UTC and the US locale, for the patterns
//! Kafka's transforms take (`TimestampConverter.format`,
//! `TimestampRouter.timestamp.format`) and the ISO formats Kafka prints
//! dates with.
//!
//! Supported letters: `G y Y M L w W d D F E u a H k K h m s S z Z X`,
//! quoted literals (`'T'`, `''` for a quote) and any other character as
//! itself. The week-based letters `Y w W` follow the en-US rules a JVM
//! usually runs with (weeks start on Sunday; week 1 of a year is the week
//! that holds 1 January) and are only formatted: a pattern that must also
//! parse ([`DateFormat::new`]) refuses them. Parsing is lenient like Java's
//! default (a 13th month rolls into the next year), skips blanks before a
//! field, and ignores text after the pattern.

use crate::time::{DateTime, MILLIS_PER_DAY, days_from_civil, iso_weekday};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Every letter Java's `SimpleDateFormat` knows.
const JAVA_LETTERS: &str = "GyYMLwWDdFEuaHkKhmsSzZX";
/// The week-based letters, which this implementation formats but does not
/// parse.
const WEEK_LETTERS: &str = "YwW";

#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    Literal(String),
    Field { letter: char, count: usize },
}

impl Item {
    /// Whether the field reads digits (so that a numeric field right
    /// before it must stop at its own width).
    fn is_numeric(&self) -> bool {
        match self {
            Item::Literal(_) => false,
            Item::Field { letter, count } => match letter {
                'M' | 'L' => *count < 3,
                'y' | 'd' | 'D' | 'F' | 'u' | 'H' | 'k' | 'K' | 'h' | 'm' | 's' | 'S' => true,
                _ => false,
            },
        }
    }
}

/// A compiled date pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DateFormat {
    pattern: String,
    items: Vec<Item>,
}

impl DateFormat {
    /// Compiles `pattern` for formatting and parsing; the error says which
    /// letter is wrong.
    pub fn new(pattern: &str) -> Result<Self, String> {
        let format = Self::for_formatting(pattern)?;
        let week_letter = format.items.iter().find_map(|item| match item {
            Item::Field { letter, .. } if WEEK_LETTERS.contains(*letter) => Some(*letter),
            _ => None,
        });
        match week_letter {
            Some(letter) => Err(format!(
                "pattern character '{letter}' (week-based fields) is not supported for parsing"
            )),
            None => Ok(format),
        }
    }

    /// Compiles `pattern` for [`DateFormat::format`] only: every letter
    /// Java knows, week-based ones included. The errors are Java's.
    pub fn for_formatting(pattern: &str) -> Result<Self, String> {
        let mut items = Vec::new();
        let mut literal = String::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    literal.push('\'');
                    continue;
                }
                // Quoted text up to the closing quote; `''` inside is a quote.
                let mut closed = false;
                while let Some(q) = chars.next() {
                    if q == '\'' {
                        if chars.peek() == Some(&'\'') {
                            chars.next();
                            literal.push('\'');
                        } else {
                            closed = true;
                            break;
                        }
                    } else {
                        literal.push(q);
                    }
                }
                if !closed {
                    return Err("Unterminated quote".into());
                }
            } else if c.is_ascii_alphabetic() {
                if !JAVA_LETTERS.contains(c) {
                    return Err(format!("Illegal pattern character '{c}'"));
                }
                let mut count = 1;
                while chars.peek() == Some(&c) {
                    chars.next();
                    count += 1;
                }
                if c == 'X' && count > 3 {
                    return Err(format!("invalid ISO 8601 format: length={count}"));
                }
                if !literal.is_empty() {
                    items.push(Item::Literal(std::mem::take(&mut literal)));
                }
                items.push(Item::Field { letter: c, count });
            } else {
                literal.push(c);
            }
        }
        if !literal.is_empty() {
            items.push(Item::Literal(literal));
        }
        Ok(DateFormat {
            pattern: pattern.to_string(),
            items,
        })
    }

    /// The pattern as given (Java's `toPattern()`).
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// `millis` since the epoch, formatted in UTC.
    pub fn format(&self, millis: i64) -> String {
        let t = DateTime::from_millis(millis);
        let mut out = String::new();
        for item in &self.items {
            let (letter, count) = match item {
                Item::Literal(text) => {
                    out.push_str(text);
                    continue;
                }
                Item::Field { letter, count } => (*letter, *count),
            };
            let number = |out: &mut String, value: i64| {
                out.push_str(&format!("{value:0count$}"));
            };
            let weekday = iso_weekday(t.days);
            match letter {
                'G' => out.push_str(if t.year > 0 { "AD" } else { "BC" }),
                'y' => {
                    let year = if t.year > 0 { t.year } else { 1 - t.year };
                    if count == 2 {
                        out.push_str(&format!("{:02}", year % 100));
                    } else {
                        number(&mut out, year);
                    }
                }
                'Y' if count == 2 => {
                    out.push_str(&format!("{:02}", week_year(&t).rem_euclid(100)));
                }
                'Y' => number(&mut out, week_year(&t)),
                'w' => number(&mut out, week_of_year(&t)),
                'W' => number(&mut out, week_of_month(&t)),
                'M' | 'L' => match count {
                    1 | 2 => number(&mut out, t.month),
                    3 => out.push_str(&MONTHS[(t.month - 1) as usize][..3]),
                    _ => out.push_str(MONTHS[(t.month - 1) as usize]),
                },
                'd' => number(&mut out, t.day),
                'D' => number(&mut out, t.days - days_from_civil(t.year, 1, 1) + 1),
                'F' => number(&mut out, (t.day - 1) / 7 + 1),
                'E' => {
                    let name = WEEKDAYS[(weekday - 1) as usize];
                    out.push_str(if count >= 4 { name } else { &name[..3] });
                }
                'u' => number(&mut out, weekday),
                'a' => out.push_str(if t.hour < 12 { "AM" } else { "PM" }),
                'H' => number(&mut out, t.hour),
                'k' => number(&mut out, if t.hour == 0 { 24 } else { t.hour }),
                'K' => number(&mut out, t.hour % 12),
                'h' => number(&mut out, if t.hour % 12 == 0 { 12 } else { t.hour % 12 }),
                'm' => number(&mut out, t.minute),
                's' => number(&mut out, t.second),
                'S' => number(&mut out, t.millisecond),
                'z' => out.push_str(if count >= 4 {
                    "Coordinated Universal Time"
                } else {
                    "UTC"
                }),
                'Z' => out.push_str("+0000"),
                'X' => out.push('Z'),
                _ => {}
            }
        }
        out
    }

    /// Milliseconds since the epoch that `text` names, or `None` when it
    /// does not match the pattern. Text after the pattern is ignored, as
    /// Java's `DateFormat.parse(String)` does.
    pub fn parse(&self, text: &str) -> Option<i64> {
        let mut fields = Parsed::default();
        let mut pos = 0usize;
        for (index, item) in self.items.iter().enumerate() {
            let (letter, count) = match item {
                Item::Literal(literal) => {
                    if !text[pos..].starts_with(literal.as_str()) {
                        return None;
                    }
                    pos += literal.len();
                    continue;
                }
                Item::Field { letter, count } => (*letter, *count),
            };
            // Java skips blanks before every field.
            while text[pos..].starts_with([' ', '\t']) {
                pos += 1;
            }
            if item.is_numeric() {
                let abutting = self.items.get(index + 1).is_some_and(Item::is_numeric);
                let available = text[pos..].bytes().take_while(u8::is_ascii_digit).count();
                let width = if abutting {
                    count.min(available)
                } else {
                    available
                };
                // Java reads longer numbers leniently; beyond 18 digits
                // they overflow a long anyway.
                if width == 0 || width > 18 {
                    return None;
                }
                let value: i64 = text[pos..pos + width].parse().ok()?;
                pos += width;
                fields.set_number(letter, count, value, width);
            } else {
                pos += fields.set_text(letter, &text[pos..])?;
            }
        }
        fields.millis()
    }
}

/// 0 for Sunday, the first day of an en-US week, to 6 for Saturday.
fn weekday_from_sunday(t: &DateTime) -> i64 {
    iso_weekday(t.days) % 7
}

/// Whether the day lies in the last days of December that belong to week 1
/// of the next year (the week that holds its 1 January).
fn in_next_years_first_week(t: &DateTime) -> bool {
    t.month == 12 && t.day + (6 - weekday_from_sunday(t)) > 31
}

/// The year the day's week belongs to (`Y`).
fn week_year(t: &DateTime) -> i64 {
    t.year + i64::from(in_next_years_first_week(t))
}

/// The week of the year, from 1 (`w`).
fn week_of_year(t: &DateTime) -> i64 {
    if in_next_years_first_week(t) {
        return 1;
    }
    let jan1 = days_from_civil(t.year, 1, 1);
    let day_of_year = t.days - jan1;
    (day_of_year + iso_weekday(jan1) % 7) / 7 + 1
}

/// The week of the month, from 1 for the week that holds its first day
/// (`W`).
fn week_of_month(t: &DateTime) -> i64 {
    let first = t.days - (t.day - 1);
    (t.day - 1 + iso_weekday(first) % 7) / 7 + 1
}

/// The fields read so far; Java's defaults (1970-01-01T00:00:00.000Z) for
/// the others.
#[derive(Debug)]
struct Parsed {
    year: i64,
    bc: bool,
    month: Option<i64>,
    day: Option<i64>,
    day_of_year: Option<i64>,
    hour_of_day: Option<i64>,
    /// The 12-hour-clock hour (`h` or `K`), 0-11.
    hour: Option<i64>,
    pm: Option<bool>,
    minute: i64,
    second: i64,
    millisecond: i64,
    offset_millis: i64,
}

impl Default for Parsed {
    fn default() -> Self {
        Parsed {
            year: 1970,
            bc: false,
            month: None,
            day: None,
            day_of_year: None,
            hour_of_day: None,
            hour: None,
            pm: None,
            minute: 0,
            second: 0,
            millisecond: 0,
            offset_millis: 0,
        }
    }
}

impl Parsed {
    fn set_number(&mut self, letter: char, count: usize, value: i64, width: usize) {
        match letter {
            'y' => {
                self.year = if count <= 2 && width == 2 {
                    two_digit_year(value)
                } else {
                    value
                }
            }
            'M' | 'L' => self.month = Some(value),
            'd' => self.day = Some(value),
            'D' => self.day_of_year = Some(value),
            'H' => self.hour_of_day = Some(value),
            'k' => self.hour_of_day = Some(if value == 24 { 0 } else { value }),
            'K' => self.hour = Some(value),
            'h' => self.hour = Some(if value == 12 { 0 } else { value }),
            'm' => self.minute = value,
            's' => self.second = value,
            'S' => self.millisecond = value,
            // 'F' and 'u' repeat what the date says.
            _ => {}
        }
    }

    /// Reads a text field at the start of `text`; the bytes it took.
    fn set_text(&mut self, letter: char, text: &str) -> Option<usize> {
        match letter {
            'G' => {
                let (index, len) = match_name(text, &["AD", "BC"], &[])?;
                self.bc = index == 1;
                Some(len)
            }
            'M' | 'L' => {
                let short: Vec<&str> = MONTHS.iter().map(|m| &m[..3]).collect();
                let (index, len) = match_name(text, &MONTHS, &short)?;
                self.month = Some(index as i64 + 1);
                Some(len)
            }
            'E' => {
                let short: Vec<&str> = WEEKDAYS.iter().map(|d| &d[..3]).collect();
                let (_, len) = match_name(text, &WEEKDAYS, &short)?;
                Some(len)
            }
            'a' => {
                let (index, len) = match_name(text, &["AM", "PM"], &[])?;
                self.pm = Some(index == 1);
                Some(len)
            }
            'z' | 'Z' | 'X' => {
                let (offset, len) = parse_zone(text)?;
                self.offset_millis = offset;
                Some(len)
            }
            _ => None,
        }
    }

    fn millis(&self) -> Option<i64> {
        let year = if self.bc { 1 - self.year } else { self.year };
        // Beyond what a long of milliseconds reaches (Java's Date range).
        let bounded = |v: Option<i64>| v.is_none_or(|v| v.abs() <= 1_000_000_000_000);
        if year.abs() > 300_000_000
            || !bounded(self.month)
            || !bounded(self.day)
            || !bounded(self.day_of_year)
        {
            return None;
        }
        let days = match (self.month, self.day, self.day_of_year) {
            (None, None, Some(day_of_year)) => days_from_civil(year, 1, 1) + day_of_year - 1,
            (month, day, _) => {
                // Lenient: months past December roll into the next year.
                let month0 = month.unwrap_or(1) - 1;
                let year = year + month0.div_euclid(12);
                let month = month0.rem_euclid(12) + 1;
                days_from_civil(year, month, 1) + day.unwrap_or(1) - 1
            }
        };
        let hour = match (self.hour_of_day, self.hour) {
            (_, Some(hour)) => hour + if self.pm == Some(true) { 12 } else { 0 },
            (Some(hour), None) => hour,
            (None, None) => {
                if self.pm == Some(true) {
                    12
                } else {
                    0
                }
            }
        };
        let of_day = hour
            .checked_mul(3_600_000)?
            .checked_add(self.minute.checked_mul(60_000)?)?
            .checked_add(self.second.checked_mul(1000)?)?
            .checked_add(self.millisecond)?;
        days.checked_mul(MILLIS_PER_DAY)?
            .checked_add(of_day)?
            .checked_sub(self.offset_millis)
    }
}

/// A two-digit year in the century that starts 80 years ago, as Java's
/// default century for `yy`.
fn two_digit_year(value: i64) -> i64 {
    let now_millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let start_year = DateTime::from_millis(now_millis).year - 80;
    let candidate = start_year / 100 * 100 + value;
    if candidate < start_year {
        candidate + 100
    } else {
        candidate
    }
}

/// The index of the name `text` starts with (full names first, then short
/// ones, ignoring case) and its length.
fn match_name(text: &str, full: &[&str], short: &[&str]) -> Option<(usize, usize)> {
    for names in [full, short] {
        for (index, name) in names.iter().enumerate() {
            if text.len() >= name.len()
                && text.is_char_boundary(name.len())
                && text[..name.len()].eq_ignore_ascii_case(name)
            {
                return Some((index, name.len()));
            }
        }
    }
    None
}

/// A zone at the start of `text`: `Z`, `UTC`, `GMT`, optionally followed
/// by an offset, or an offset alone (`+01`, `+0100`, `+01:00`). The offset
/// in milliseconds and the bytes taken.
fn parse_zone(text: &str) -> Option<(i64, usize)> {
    for name in ["Coordinated Universal Time", "UTC", "GMT"] {
        if let Some(rest) = text.strip_prefix(name) {
            return match parse_offset(rest) {
                Some((offset, len)) => Some((offset, name.len() + len)),
                None => Some((0, name.len())),
            };
        }
    }
    if text.starts_with('Z') {
        return Some((0, 1));
    }
    parse_offset(text)
}

fn parse_offset(text: &str) -> Option<(i64, usize)> {
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let bytes = text.as_bytes();
    let digit = |i: usize| {
        bytes
            .get(i)
            .filter(|b| b.is_ascii_digit())
            .map(|b| i64::from(b - b'0'))
    };
    let hours = digit(1)? * 10 + digit(2)?;
    let (minutes, len) = if bytes.get(3) == Some(&b':') {
        (digit(4)? * 10 + digit(5)?, 6)
    } else if let (Some(a), Some(b)) = (digit(3), digit(4)) {
        (a * 10 + b, 5)
    } else {
        (0, 3)
    };
    Some((sign * (hours * 3_600_000 + minutes * 60_000), len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(pattern: &str) -> DateFormat {
        DateFormat::new(pattern).unwrap()
    }

    #[test]
    fn formats_like_java() {
        let millis = 1_700_000_000_123; // 2023-11-14T22:13:20.123Z, a Tuesday
        assert_eq!(fmt("yyyy-MM-dd").format(millis), "2023-11-14");
        assert_eq!(
            fmt("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").format(millis),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(
            fmt("EEE, d MMM yy hh:mm a").format(millis),
            "Tue, 14 Nov 23 10:13 PM"
        );
        assert_eq!(
            fmt("EEEE MMMM D Z X z").format(millis),
            "Tuesday November 318 +0000 Z UTC"
        );
        assert_eq!(fmt("'o''clock' ''").format(0), "o'clock '");
        assert_eq!(fmt("yyyyMMdd").format(-1), "19691231");
    }

    #[test]
    fn parses_like_java() {
        assert_eq!(
            fmt("yyyy-MM-dd").parse("2023-11-14"),
            Some(1_699_920_000_000)
        );
        assert_eq!(
            fmt("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").parse("2023-11-14T22:13:20.123Z"),
            Some(1_700_000_000_123)
        );
        assert_eq!(
            fmt("yyyyMMddHHmm").parse("202311142213"),
            Some(1_700_000_000_000 - 20_000)
        );
        assert_eq!(
            fmt("yyyy-MM-dd HH:mm Z").parse("2023-11-14 23:13 +0100"),
            Some(1_700_000_000_000 - 20_000)
        );
        assert_eq!(
            fmt("dd MMM yyyy").parse("14 nov 2023"),
            Some(1_699_920_000_000)
        );
        assert_eq!(
            fmt("yyyy-MM-dd").parse("2023-13-01"),
            fmt("yyyy-MM-dd").parse("2024-01-01")
        );
        assert_eq!(
            fmt("yyyy-MM-dd").parse("2023-11-14 trailing"),
            Some(1_699_920_000_000)
        );
        assert_eq!(fmt("yyyy-MM-dd").parse("14/11/2023"), None);
    }

    #[test]
    fn refuses_unknown_letters() {
        assert_eq!(
            DateFormat::new("yyyy-bb").unwrap_err(),
            "Illegal pattern character 'b'"
        );
        assert!(DateFormat::new("YYYY").is_err());
        assert!(DateFormat::for_formatting("YYYY").is_ok());
        assert!(DateFormat::new("'open").is_err());
        assert_eq!(
            DateFormat::new("XXXX").unwrap_err(),
            "invalid ISO 8601 format: length=4"
        );
    }

    #[test]
    fn formats_week_fields_like_java_in_the_us_locale() {
        let week = |pattern: &str, y: i64, m: i64, d: i64| {
            DateFormat::for_formatting(pattern)
                .unwrap()
                .format(days_from_civil(y, m, d) * MILLIS_PER_DAY)
        };
        // 2023-11-14 was a Tuesday: week 46 of 2023, week 3 of November.
        assert_eq!(week("YYYY-ww-W", 2023, 11, 14), "2023-46-3");
        // 2024-12-29 was a Sunday, and its week holds 1 January 2025.
        assert_eq!(week("YYYY w YY", 2024, 12, 29), "2025 1 25");
        assert_eq!(week("YYYY w", 2024, 12, 28), "2024 52");
        // 2022-01-01 was a Saturday: week 1, and 2 January starts week 2.
        assert_eq!(week("w W", 2022, 1, 1), "1 1");
        assert_eq!(week("w W", 2022, 1, 2), "2 2");
    }
}

//! The part of `java.text.SimpleDateFormat` a topic name needs, always in
//! UTC and the proleptic Gregorian calendar (Java switches to the Julian
//! calendar before 15 October 1582; no topic is that old).
//!
//! Supported: every letter of `SimpleDateFormat` (`G y Y M L w W D d F E
//! u a H k K h m s S z Z X`), quoted text (`'...'`, `''` for a quote) and
//! any other character as itself. The week-based letters (`Y w W`) follow
//! the en-US rules a JVM usually runs with: weeks start on Sunday and week 1
//! of a year is the week that holds 1 January.

use std::fmt;

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
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MILLIS_PER_DAY: i64 = 86_400_000;

/// A compiled pattern.
#[derive(Debug)]
pub struct DateFormat {
    parts: Vec<Part>,
}

#[derive(Debug)]
enum Part {
    Literal(String),
    /// A pattern letter and how many times it is repeated.
    Field(char, usize),
}

/// Why a pattern was refused, in Java's words where Java refuses it too.
#[derive(Debug)]
pub enum PatternError {
    Illegal(char),
    UnterminatedQuote,
    IsoLength(usize),
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatternError::Illegal(c) => write!(f, "Illegal pattern character '{c}'"),
            PatternError::UnterminatedQuote => f.write_str("Unterminated quote"),
            PatternError::IsoLength(n) => write!(f, "invalid ISO 8601 format: length={n}"),
        }
    }
}

/// The fields of one instant, in UTC.
struct Instant {
    year: i64,
    month: u32,
    day: u32,
    day_of_year: u32,
    /// 0 for Monday.
    weekday: u32,
    hour: u32,
    minute: u32,
    second: u32,
    millis: u32,
}

impl Instant {
    fn at(epoch_millis: i64) -> Self {
        let days = epoch_millis.div_euclid(MILLIS_PER_DAY);
        let in_day = epoch_millis.rem_euclid(MILLIS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let day_of_year = (days - days_from_civil(year, 1, 1)) as u32 + 1;
        // 1970-01-01 was a Thursday.
        let weekday = (days + 3).rem_euclid(7) as u32;
        Instant {
            year,
            month,
            day,
            day_of_year,
            weekday,
            hour: (in_day / 3_600_000) as u32,
            minute: (in_day / 60_000 % 60) as u32,
            second: (in_day / 1000 % 60) as u32,
            millis: (in_day % 1000) as u32,
        }
    }
}

impl Instant {
    /// 0 for Sunday, the first day of an en-US week.
    fn weekday_from_sunday(&self) -> u32 {
        (self.weekday + 1) % 7
    }

    /// Whether the day lies in the last days of December that belong to
    /// week 1 of the next year (the week that holds its 1 January).
    fn in_next_years_first_week(&self) -> bool {
        self.month == 12 && self.day + (6 - self.weekday_from_sunday()) > 31
    }

    fn week_year(&self) -> i64 {
        if self.in_next_years_first_week() {
            self.year + 1
        } else {
            self.year
        }
    }

    fn week_of_year(&self) -> u32 {
        if self.in_next_years_first_week() {
            return 1;
        }
        // The weekday of 1 January, counted back from this day's.
        let jan1 = (self.weekday_from_sunday() + 7 * 53 - (self.day_of_year - 1)) % 7;
        (self.day_of_year - 1 + jan1) / 7 + 1
    }

    fn week_of_month(&self) -> u32 {
        let first = (self.weekday_from_sunday() + 7 * 5 - (self.day - 1)) % 7;
        (self.day - 1 + first) / 7 + 1
    }
}

/// Year, month (1-12) and day (1-31) of a day count since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The day count since 1970-01-01 of a date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl DateFormat {
    /// Compiles `pattern`, refusing what `SimpleDateFormat` refuses and the
    /// letters this module does not know.
    pub fn parse(pattern: &str) -> Result<Self, PatternError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    literal.push('\'');
                    continue;
                }
                loop {
                    match chars.next() {
                        None => return Err(PatternError::UnterminatedQuote),
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            literal.push('\'');
                        }
                        Some('\'') => break,
                        Some(quoted) => literal.push(quoted),
                    }
                }
            } else if c.is_ascii_alphabetic() {
                match c {
                    'G' | 'y' | 'Y' | 'M' | 'L' | 'w' | 'W' | 'D' | 'd' | 'F' | 'E' | 'u' | 'a'
                    | 'H' | 'k' | 'K' | 'h' | 'm' | 's' | 'S' | 'z' | 'Z' | 'X' => {}
                    _ => return Err(PatternError::Illegal(c)),
                }
                let mut count = 1;
                while chars.peek() == Some(&c) {
                    chars.next();
                    count += 1;
                }
                if c == 'X' && count > 3 {
                    return Err(PatternError::IsoLength(count));
                }
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal)));
                }
                parts.push(Part::Field(c, count));
            } else {
                literal.push(c);
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(DateFormat { parts })
    }

    /// `epoch_millis` (milliseconds since 1970-01-01T00:00:00Z) in UTC.
    pub fn format(&self, epoch_millis: i64) -> String {
        let t = Instant::at(epoch_millis);
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Field(letter, count) => field(&mut out, &t, *letter, *count),
            }
        }
        out
    }
}

/// Appends one pattern field, as `SimpleDateFormat` prints it.
fn field(out: &mut String, t: &Instant, letter: char, count: usize) {
    let number = |out: &mut String, n: i64| out.push_str(&format!("{n:0count$}"));
    let text = |out: &mut String, full: &str| {
        if count >= 4 {
            out.push_str(full)
        } else {
            out.push_str(&full[..3])
        }
    };
    // Years before 1 AD count backwards in the BC era, as Java shows them.
    let year_of_era = if t.year > 0 { t.year } else { 1 - t.year };
    match letter {
        'G' => out.push_str(if t.year > 0 { "AD" } else { "BC" }),
        'y' if count == 2 => out.push_str(&format!("{:02}", year_of_era % 100)),
        'y' => number(out, year_of_era),
        'Y' if count == 2 => out.push_str(&format!("{:02}", t.week_year().rem_euclid(100))),
        'Y' => number(out, t.week_year()),
        'w' => number(out, t.week_of_year().into()),
        'W' => number(out, t.week_of_month().into()),
        'M' | 'L' if count >= 3 => text(out, MONTHS[t.month as usize - 1]),
        'M' | 'L' => number(out, t.month.into()),
        'D' => number(out, t.day_of_year.into()),
        'd' => number(out, t.day.into()),
        'F' => number(out, ((t.day - 1) / 7 + 1).into()),
        'E' => text(out, DAYS[t.weekday as usize]),
        'u' => number(out, (t.weekday + 1).into()),
        'a' => out.push_str(if t.hour < 12 { "AM" } else { "PM" }),
        'H' => number(out, t.hour.into()),
        'k' => number(out, ((t.hour + 23) % 24 + 1).into()),
        'K' => number(out, (t.hour % 12).into()),
        'h' => number(out, ((t.hour + 11) % 12 + 1).into()),
        'm' => number(out, t.minute.into()),
        's' => number(out, t.second.into()),
        'S' => number(out, t.millis.into()),
        'z' if count >= 4 => out.push_str("Coordinated Universal Time"),
        'z' => out.push_str("UTC"),
        'Z' => out.push_str("+0000"),
        'X' => out.push('Z'),
        _ => {}
    }
}

//! Conversions of `sql-value`s shared by the backends: dates and times
//! between the WIT representation (days and microseconds since the Unix
//! epoch) and chrono's types, and exact decimals between their text and
//! PostgreSQL's binary `NUMERIC`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};

use super::{ErrorKind, SqlError, SqlValue};

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

fn out_of_range(what: &str, value: i64) -> SqlError {
    SqlError::new(
        ErrorKind::Data,
        format!("{what} {value} is outside the range the host can convert"),
    )
}

fn epoch() -> NaiveDateTime {
    DateTime::UNIX_EPOCH.naive_utc()
}

pub fn date_from_days(days: i32) -> Result<NaiveDate, SqlError> {
    epoch()
        .date()
        .checked_add_signed(TimeDelta::days(days.into()))
        .ok_or_else(|| out_of_range("date", days.into()))
}

pub fn days_from_date(date: NaiveDate) -> i32 {
    // Every NaiveDate is within ±262,143 years: its day count fits an i32.
    (date - epoch().date()).num_days() as i32
}

/// A time of day; `None` outside 00:00:00..24:00:00.
pub fn time_from_micros(micros: i64) -> Option<NaiveTime> {
    if !(0..MICROS_PER_DAY).contains(&micros) {
        return None;
    }
    let seconds = (micros / MICROS_PER_SECOND) as u32;
    let nanos = (micros % MICROS_PER_SECOND) as u32 * 1_000;
    NaiveTime::from_num_seconds_from_midnight_opt(seconds, nanos)
}

pub fn micros_from_time(time: NaiveTime) -> i64 {
    (time - NaiveTime::MIN)
        .num_microseconds()
        .expect("a day in microseconds fits an i64")
}

pub fn datetime_from_micros(micros: i64) -> Result<NaiveDateTime, SqlError> {
    DateTime::from_timestamp_micros(micros)
        .map(|t| t.naive_utc())
        .ok_or_else(|| out_of_range("timestamp", micros))
}

/// Microseconds since the epoch; `None` for a date too far out for an
/// i64 of microseconds (about ±292,000 years).
pub fn micros_from_datetime(datetime: NaiveDateTime) -> Option<i64> {
    (datetime - epoch()).num_microseconds()
}

pub fn instant_from_micros(micros: i64) -> Result<DateTime<Utc>, SqlError> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| out_of_range("timestamptz", micros))
}

/// The text SQLite's date and time functions read: `YYYY-MM-DD`,
/// `HH:MM:SS.SSSSSS`, `YYYY-MM-DD HH:MM:SS.SSSSSS` (and `+00:00` for an
/// instant).
pub fn iso_text(value: &SqlValue) -> Result<Option<String>, SqlError> {
    Ok(Some(match value {
        SqlValue::Date(days) => date_from_days(*days)?.format("%Y-%m-%d").to_string(),
        SqlValue::Time(micros) => time_from_micros(*micros)
            .ok_or_else(|| out_of_range("time of day in microseconds", *micros))?
            .format("%H:%M:%S%.6f")
            .to_string(),
        SqlValue::Timestamp(micros) => datetime_from_micros(*micros)?
            .format("%Y-%m-%d %H:%M:%S%.6f")
            .to_string(),
        SqlValue::Timestamptz(micros) => instant_from_micros(*micros)?
            .format("%Y-%m-%d %H:%M:%S%.6f+00:00")
            .to_string(),
        _ => return Ok(None),
    }))
}

/// PostgreSQL's `NUMERIC` in its binary form: base-10000 digits with a
/// weight (the power of 10000 of the first digit), a sign and a display
/// scale. Written out here because sqlx reads it only into
/// bigdecimal/rust_decimal, which would round or refuse what PostgreSQL
/// holds exactly (`NaN`, 1000 digits).
pub mod pg_numeric {
    const NBASE: i32 = 10_000;
    const POSITIVE: u16 = 0x0000;
    const NEGATIVE: u16 = 0x4000;
    const NAN: u16 = 0xC000;
    const POSITIVE_INFINITY: u16 = 0xD000;
    const NEGATIVE_INFINITY: u16 = 0xF000;

    /// The decimal text of a binary `NUMERIC`.
    pub fn decode(bytes: &[u8]) -> Result<String, String> {
        let word = |i: usize| -> Result<u16, String> {
            bytes
                .get(i * 2..i * 2 + 2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .ok_or_else(|| "a truncated NUMERIC value".to_string())
        };
        let ndigits = word(0)? as usize;
        let weight = word(1)? as i16 as i32;
        let sign = word(2)?;
        let dscale = word(3)? as i32;
        match sign {
            NAN => return Ok("NaN".into()),
            POSITIVE_INFINITY => return Ok("Infinity".into()),
            NEGATIVE_INFINITY => return Ok("-Infinity".into()),
            POSITIVE | NEGATIVE => {}
            other => return Err(format!("a NUMERIC value with sign {other:#x}")),
        }
        let digits: Vec<i32> = (0..ndigits)
            .map(|i| word(4 + i).map(i32::from))
            .collect::<Result<_, _>>()?;
        if digits.iter().any(|d| !(0..NBASE).contains(d)) {
            return Err("a NUMERIC value with a digit out of range".into());
        }
        let digit = |position: i32| -> i32 {
            usize::try_from(position)
                .ok()
                .and_then(|p| digits.get(p).copied())
                .unwrap_or(0)
        };
        let mut text = String::new();
        if sign == NEGATIVE {
            text.push('-');
        }
        if weight < 0 {
            text.push('0');
        } else {
            text.push_str(&digit(0).to_string());
            for position in 1..=weight {
                text.push_str(&format!("{:04}", digit(position)));
            }
        }
        if dscale > 0 {
            text.push('.');
            let mut fraction = String::new();
            let mut position = weight + 1;
            while (fraction.len() as i32) < dscale {
                fraction.push_str(&format!("{:04}", digit(position)));
                position += 1;
            }
            fraction.truncate(dscale as usize);
            text.push_str(&fraction);
        }
        Ok(text)
    }

    /// The binary `NUMERIC` of decimal text in plain notation (`-12.50`),
    /// or of `NaN`, `Infinity`, `-Infinity`.
    pub fn encode(text: &str, out: &mut Vec<u8>) -> Result<(), String> {
        let header = |out: &mut Vec<u8>, ndigits: u16, weight: i16, sign: u16, dscale: u16| {
            for word in [ndigits, weight as u16, sign, dscale] {
                out.extend_from_slice(&word.to_be_bytes());
            }
        };
        let special = match text {
            "NaN" => Some(NAN),
            "Infinity" | "+Infinity" => Some(POSITIVE_INFINITY),
            "-Infinity" => Some(NEGATIVE_INFINITY),
            _ => None,
        };
        if let Some(sign) = special {
            header(out, 0, 0, sign, 0);
            return Ok(());
        }
        let (sign, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (NEGATIVE, rest),
            None => (POSITIVE, text.strip_prefix('+').unwrap_or(text)),
        };
        let (integer, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (integer.is_empty() && fraction.is_empty())
            || !all_digits(integer)
            || !all_digits(fraction)
        {
            return Err(format!(
                "\"{text}\" is not a decimal number in plain notation (such as -123.45)"
            ));
        }
        let dscale = u16::try_from(fraction.len())
            .ok()
            .filter(|s| *s <= 16383)
            .ok_or_else(|| format!("\"{text}\" has more than 16383 digits after the point"))?;
        // Pad to whole groups of four digits on each side of the point.
        let integer = integer.trim_start_matches('0');
        let integer_groups = integer.len().div_ceil(4);
        let mut padded = "0".repeat(integer_groups * 4 - integer.len());
        padded.push_str(integer);
        padded.push_str(fraction);
        padded.push_str(&"0".repeat(fraction.len().div_ceil(4) * 4 - fraction.len()));
        let mut groups: Vec<i16> = padded
            .as_bytes()
            .chunks(4)
            .map(|chunk| {
                chunk
                    .iter()
                    .fold(0i16, |acc, b| acc * 10 + i16::from(b - b'0'))
            })
            .collect();
        let mut weight = integer_groups as i32 - 1;
        let leading_zeros = groups.iter().take_while(|g| **g == 0).count();
        groups.drain(..leading_zeros);
        weight -= leading_zeros as i32;
        while groups.last() == Some(&0) {
            groups.pop();
        }
        if groups.is_empty() {
            weight = 0;
        }
        let weight = i16::try_from(weight).map_err(|_| format!("\"{text}\" is too large"))?;
        let ndigits = u16::try_from(groups.len()).map_err(|_| format!("\"{text}\" is too long"))?;
        header(out, ndigits, weight, sign, dscale);
        for group in groups {
            out.extend_from_slice(&group.to_be_bytes());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numerics_round_trip_through_the_binary_form() {
        for text in [
            "0",
            "0.00",
            "1",
            "-1",
            "10000",
            "12345678901234567890.123456789",
            "-0.000001",
            "0.1000",
            "99999999999999999999999999999999999999",
            "-1234.5600",
            "NaN",
            "Infinity",
            "-Infinity",
        ] {
            let mut bytes = Vec::new();
            pg_numeric::encode(text, &mut bytes).unwrap();
            assert_eq!(pg_numeric::decode(&bytes).unwrap(), text, "{text}");
        }
        let mut bytes = Vec::new();
        pg_numeric::encode("007.50", &mut bytes).unwrap();
        assert_eq!(pg_numeric::decode(&bytes).unwrap(), "7.50");
    }

    #[test]
    fn bad_numerics_are_refused() {
        for text in ["", ".", "1e5", "1.2.3", "abc", "--1", "1,5"] {
            assert!(pg_numeric::encode(text, &mut Vec::new()).is_err(), "{text}");
        }
        assert!(pg_numeric::decode(&[0, 1]).is_err());
    }

    #[test]
    fn times_convert_both_ways() {
        let date = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        assert_eq!(date_from_days(days_from_date(date)).unwrap(), date);
        assert_eq!(
            days_from_date(NaiveDate::from_ymd_opt(1969, 12, 31).unwrap()),
            -1
        );
        let time = NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).unwrap();
        assert_eq!(time_from_micros(micros_from_time(time)), Some(time));
        assert_eq!(time_from_micros(MICROS_PER_DAY), None);
        let micros = -1_234_567_890_123_456;
        let datetime = datetime_from_micros(micros).unwrap();
        assert_eq!(micros_from_datetime(datetime), Some(micros));
        assert_eq!(
            iso_text(&SqlValue::Timestamptz(1_500_000))
                .unwrap()
                .unwrap(),
            "1970-01-01 00:00:01.500000+00:00"
        );
    }
}

//! `regex-router`: Kafka's `RegexRouter` transform. When the whole topic
//! name matches `regex`, the topic becomes the name with its first match
//! replaced by `replacement`, as Java's `Matcher.replaceFirst`: `$1` and
//! `${name}` insert a group, `\` takes the next character literally.
//!
//! Patterns are compiled by the `regex` crate, whose syntax is Java's for
//! everything but look-around and back-references, which it lacks: such a
//! pattern is refused when the transform is configured. The replacement is
//! read once, at configuration, with Java's rules, and expanded by this
//! crate rather than by the `regex` crate, whose `$1a` would mean a group
//! named `1a`.

use regex::{Captures, Regex};
use sluice_sdk::prelude::*;

const REGEX: &str = "regex";
const REPLACEMENT: &str = "replacement";

pub struct RegexRouter {
    /// The operator's pattern, for `replaceFirst`.
    pattern: Regex,
    /// The same pattern anchored at both ends, for `matches`.
    whole_topic: Regex,
    replacement: Vec<Piece>,
}

/// A part of a replacement string.
#[derive(Debug, PartialEq)]
enum Piece {
    Literal(String),
    Group(usize),
    Named(String),
}

/// A required string key, or Kafka's message for a missing one.
fn required<'a>(config: &'a Config, key: &str) -> Result<&'a str, String> {
    config.get(key).ok_or_else(|| {
        format!("Missing required configuration \"{key}\" which has no default value.")
    })
}

/// The pattern and its anchored form, or Kafka's message for an invalid one.
fn patterns(config: &Config) -> Result<(Regex, Regex), String> {
    let pattern = required(config, REGEX)?;
    let invalid = |e: regex::Error| {
        format!(
            "Invalid value {pattern} for configuration {REGEX}: Invalid regex: {}",
            regex_problem(&e)
        )
    };
    let plain = Regex::new(pattern).map_err(invalid)?;
    let anchored = Regex::new(&format!(r"\A(?:{pattern})\z")).map_err(invalid)?;
    Ok((plain, anchored))
}

/// The regex crate's error as one line: its syntax errors repeat the pattern
/// and draw a caret under the problem on lines of their own.
fn regex_problem(error: &regex::Error) -> String {
    let text = error.to_string();
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("error: "))
        .next_back()
        .map(str::to_string)
        .unwrap_or_else(|| text.trim().to_string())
}

/// Reads a replacement with the rules of Java's `Matcher.appendReplacement`
/// for `pattern`, with Java's messages for what it refuses: a group number
/// takes as many digits as still name a group, so `$10` is group 1 then `0`
/// in a pattern of fewer than ten groups.
fn parse_replacement(replacement: &str, pattern: &Regex) -> Result<Vec<Piece>, String> {
    let group_count = pattern.captures_len() - 1;
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped) => literal.push(escaped),
                None => return Err("character to be escaped is missing".into()),
            },
            '$' => {
                let piece = match chars.next() {
                    None => {
                        return Err("Illegal group reference: group index is missing".into());
                    }
                    Some('{') => {
                        let mut name = String::new();
                        while let Some(&c) = chars.peek() {
                            if !c.is_ascii_alphanumeric() {
                                break;
                            }
                            name.push(c);
                            chars.next();
                        }
                        if name.is_empty() {
                            return Err("named capturing group has 0 length name".into());
                        }
                        if chars.next() != Some('}') {
                            return Err("named capturing group is missing trailing '}'".into());
                        }
                        if name.starts_with(|c: char| c.is_ascii_digit()) {
                            return Err(format!(
                                "capturing group name {{{name}}} starts with digit character"
                            ));
                        }
                        if !pattern.capture_names().flatten().any(|n| n == name) {
                            return Err(format!("No group with name {{{name}}}"));
                        }
                        Piece::Named(name)
                    }
                    Some(first) => {
                        let Some(mut number) = first.to_digit(10).map(|d| d as usize) else {
                            return Err("Illegal group reference".into());
                        };
                        while let Some(digit) = chars.peek().and_then(|c| c.to_digit(10)) {
                            let longer = number * 10 + digit as usize;
                            if longer > group_count {
                                break;
                            }
                            number = longer;
                            chars.next();
                        }
                        if number > group_count {
                            return Err(format!("No group {number}"));
                        }
                        Piece::Group(number)
                    }
                };
                if !literal.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                }
                pieces.push(piece);
            }
            other => literal.push(other),
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    Ok(pieces)
}

/// The replacement with the groups of one match put in; a group that took
/// no part in the match adds nothing, as in Java.
fn expand(pieces: &[Piece], captures: &Captures) -> String {
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Literal(text) => out.push_str(text),
            Piece::Group(n) => out.push_str(captures.get(*n).map_or("", |m| m.as_str())),
            Piece::Named(name) => out.push_str(captures.name(name).map_or("", |m| m.as_str())),
        }
    }
    out
}

/// The whole configuration, checked as `create` checks it.
fn configure(config: &Config) -> Result<RegexRouter, ConfigIssue> {
    fn issue(key: &'static str) -> impl Fn(String) -> ConfigIssue {
        move |message| ConfigIssue {
            key: key.into(),
            message,
        }
    }
    let (pattern, whole_topic) = patterns(config).map_err(issue(REGEX))?;
    let raw = required(config, REPLACEMENT).map_err(issue(REPLACEMENT))?;
    let replacement = parse_replacement(raw, &pattern).map_err(|problem| ConfigIssue {
        key: REPLACEMENT.into(),
        message: format!("Invalid value {raw} for configuration {REPLACEMENT}: {problem}"),
    })?;
    Ok(RegexRouter {
        pattern,
        whole_topic,
        replacement,
    })
}

impl Transform for RegexRouter {
    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "regex-router",
            env!("CARGO_PKG_VERSION"),
            "Update the record topic using the configured regular expression and replacement string",
        )
        .alias("org.apache.kafka.connect.transforms.RegexRouter")
        .alias("RegexRouter")
    }

    fn config_keys() -> Vec<ConfigKey> {
        vec![
            ConfigKey::new(
                REGEX,
                ConfigType::String,
                Importance::High,
                "Regular expression to use for matching.",
            )
            .required(),
            ConfigKey::new(
                REPLACEMENT,
                ConfigType::String,
                Importance::High,
                "Replacement string.",
            )
            .required(),
        ]
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        configure(config).err().into_iter().collect()
    }

    fn create(config: Config, part: Option<RecordPart>) -> Result<Self> {
        if part.is_some() {
            return Err(ConnectError::fatal(
                "RegexRouter has no $Key or $Value variant: use RegexRouter",
            ));
        }
        configure(&config).map_err(|issue| ConnectError::fatal(issue.message))
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        if self.whole_topic.is_match(&record.topic) {
            // `replaceFirst` searches again from the start, so with lazy
            // quantifiers its match can be shorter than the whole name.
            if let Some(captures) = self.pattern.captures(&record.topic) {
                let whole = captures.get(0).expect("group 0 is the match");
                let topic = format!(
                    "{}{}{}",
                    &record.topic[..whole.start()],
                    expand(&self.replacement, &captures),
                    &record.topic[whole.end()..]
                );
                record.topic = topic;
            }
        }
        Ok(Some(record))
    }
}

sluice_sdk::export_transform!(RegexRouter);

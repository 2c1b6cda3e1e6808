//! The predicates (TopicNameMatches, HasHeaderKey, RecordIsTombstone) run
//! as components on a batch, with Kafka's documentation example of a Filter
//! behind a predicate: the host applies a transform only where its
//! predicate (negated or not) says so, so here the predicate's answers pick
//! the records handed to the Filter.

use sluice::runtime::bindings::types::ConnectRecord;
use sluice_tests::components::*;

/// The predicate's answers for `batch`, in order, from one call.
fn answers(class: &str, config: &[(&str, &str)], batch: &[ConnectRecord]) -> Vec<bool> {
    let mut predicate = components().predicate(class, config);
    let answers = predicate.test(batch).expect("the predicate trapped");
    assert_eq!(answers.len(), batch.len(), "one answer per record");
    answers
}

/// Records of these topics, with a value each.
fn topics(names: &[&str]) -> Vec<ConnectRecord> {
    names
        .iter()
        .map(|t| record(t, None, Some(text("v"))))
        .collect()
}

/// Why the predicate could not be created.
fn refused(class: &str, config: &[(&str, &str)]) -> String {
    match components().try_predicate(class, config) {
        Ok(_) => panic!("{class} accepted {config:?}"),
        Err(e) => format!("{e:#}"),
    }
}

fn assert_contains(text: &str, expected: &str) {
    assert!(text.contains(expected), "expected {expected:?} in {text:?}");
}

/// A plugin name, its Kafka simple class name and a configuration it
/// accepts.
type Named = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

#[test]
fn every_predicate_answers_to_its_kafka_class_and_simple_name() {
    let predicates: [Named; 3] = [
        (
            "topic-name-matches",
            "TopicNameMatches",
            &[("pattern", "foo")],
        ),
        ("has-header-key", "HasHeaderKey", &[("name", "h")]),
        ("record-is-tombstone", "RecordIsTombstone", &[]),
    ];
    for (name, class, config) in predicates {
        for class in [
            name.to_string(),
            class.to_string(),
            format!("org.apache.kafka.connect.transforms.predicates.{class}"),
        ] {
            components()
                .try_predicate(&class, config)
                .unwrap_or_else(|e| panic!("{class}: {e:#}"));
        }
    }
}

#[test]
fn topic_name_matches_needs_the_whole_name_to_match() {
    let batch = topics(&["foo", "foobar", "xfoo", "bar", "foo-1", "FOO"]);
    assert_eq!(
        answers("TopicNameMatches", &[("pattern", "foo")], &batch),
        [true, false, false, false, false, false]
    );
    assert_eq!(
        answers("TopicNameMatches", &[("pattern", r"foo(-\d+)?")], &batch),
        [true, false, false, false, true, false]
    );
    assert_eq!(
        answers("TopicNameMatches", &[("pattern", "(?i)foo.*")], &batch),
        [true, true, false, false, true, true]
    );
}

#[test]
fn kafka_docs_example_filter_behind_topic_name_matches() {
    // transforms=Filter
    // transforms.Filter.type=org.apache.kafka.connect.transforms.Filter
    // transforms.Filter.predicate=IsFoo
    // predicates=IsFoo
    // predicates.IsFoo.type=org.apache.kafka.connect.transforms.predicates.TopicNameMatches
    // predicates.IsFoo.pattern=foo
    let batch = topics(&["foo", "bar", "foo", "baz"]);
    let is_foo = answers(
        "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
        &[("pattern", "foo")],
        &batch,
    );
    assert_eq!(is_foo, [true, false, true, false]);
    let mut filter = components().transform("org.apache.kafka.connect.transforms.Filter", &[]);
    let mut kept = Vec::new();
    for (record, matches) in batch.into_iter().zip(is_foo) {
        if !matches {
            kept.push(record);
            continue;
        }
        if let Some(record) = apply_one(&mut filter, record).expect("the filter never fails") {
            kept.push(record);
        }
    }
    let kept: Vec<&str> = kept.iter().map(|r| r.topic.as_str()).collect();
    assert_eq!(kept, ["bar", "baz"]);

    // transforms.Extract.predicate=IsBar with transforms.Extract.negate=true:
    // the host negates, the predicate answers as it always does.
    let is_bar = answers(
        "TopicNameMatches",
        &[("pattern", "bar")],
        &topics(&["bar", "baz"]),
    );
    assert_eq!(is_bar, [true, false]);
}

#[test]
fn has_header_key_looks_for_any_header_of_that_name() {
    let mut batch = topics(&["a", "b", "c", "d"]);
    batch[0].headers = vec![header("my-header", "x")];
    batch[1].headers = vec![header("other", "x"), header("my-header", "y")];
    batch[2].headers = vec![header("My-Header", "x"), header("my-header-2", "x")];
    assert_eq!(
        answers("HasHeaderKey", &[("name", "my-header")], &batch),
        [true, true, false, false]
    );
    // A header with a null value still has its key.
    batch[3].headers = vec![header("my-header", "x")];
    batch[3].headers[0].value = None;
    assert_eq!(
        answers("HasHeaderKey", &[("name", "my-header")], &batch),
        [true, true, false, true]
    );
}

#[test]
fn record_is_tombstone_is_true_for_a_null_value_only() {
    let batch = [
        record("t", Some(text("k")), None),
        record("t", Some(text("k")), Some(text("v"))),
        record("t", None, None),
        record("t", None, Some(text(""))),
    ];
    assert_eq!(
        answers("RecordIsTombstone", &[], &batch),
        [true, false, true, false]
    );
}

#[test]
fn bad_predicate_configuration_is_named_as_kafka_names_it() {
    assert_contains(
        &refused("TopicNameMatches", &[("pattern", "foo(")]),
        "Invalid value foo( for configuration pattern: Invalid regex: unclosed group",
    );
    assert_contains(
        &refused("TopicNameMatches", &[("pattern", "")]),
        "Invalid value  for configuration pattern: String must be non-empty",
    );
    assert_contains(
        &refused("TopicNameMatches", &[]),
        "Missing required configuration \"pattern\" which has no default value.",
    );
    assert_contains(
        &refused("HasHeaderKey", &[("name", "")]),
        "Invalid value  for configuration name: String must be non-empty",
    );
}

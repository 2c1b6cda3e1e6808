//! The routing and header transforms (RegexRouter, TimestampRouter,
//! SetSchemaMetadata, InsertHeader, DropHeaders, Filter) run as components:
//! the examples of Kafka's documentation and unit tests, then bad
//! configuration and bad records with the messages Kafka gives.

use sluice::runtime::bindings::types::{ConnectRecord, Data, Header, SchemaType, ValueNode};
use sluice_tests::components::*;

/// The topic a transform gives `topic`, for a record with a timestamp.
fn routed(class: &str, config: &[(&str, &str)], topic: &str) -> String {
    let mut transform = components().transform(class, config);
    let mut input = record(topic, None, Some(text("v")));
    input.timestamp = Some(1_483_425_001_864);
    apply_one(&mut transform, input)
        .unwrap_or_else(|e| panic!("{class} {config:?} failed on {topic}: {e}"))
        .expect("routed, not dropped")
        .topic
}

/// Why the transform could not be created.
fn refused(class: &str, config: &[(&str, &str)]) -> String {
    match components().try_transform(class, config) {
        Ok(_) => panic!("{class} accepted {config:?}"),
        Err(e) => format!("{e:#}"),
    }
}

/// Equality by `Debug`: the WIT types of the host bindings have no
/// `PartialEq`.
macro_rules! assert_same {
    ($left:expr, $right:expr $(, $($context:tt)+)?) => {
        assert_eq!(format!("{:?}", $left), format!("{:?}", $right) $(, $($context)+)?)
    };
}

fn assert_contains(text: &str, expected: &str) {
    assert!(text.contains(expected), "expected {expected:?} in {text:?}");
}

/// The header keys of a record, in order.
fn header_keys(record: &ConnectRecord) -> Vec<&str> {
    record.headers.iter().map(|h| h.key.as_str()).collect()
}

/// The root schema type and value of structured data.
fn root(data: &Data) -> (SchemaType, &ValueNode) {
    match data {
        Data::Structured(s) => (s.schema[0].type_, &s.values[0]),
        Data::Raw(_) => panic!("expected structured data, got raw bytes"),
    }
}

/// A plugin name, its Kafka simple class name and a configuration it
/// accepts.
type Named = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

#[test]
fn every_transform_answers_to_its_kafka_class_and_simple_name() {
    let configs: [Named; 6] = [
        (
            "regex-router",
            "RegexRouter",
            &[("regex", "a"), ("replacement", "b")],
        ),
        ("timestamp-router", "TimestampRouter", &[]),
        (
            "set-schema-metadata",
            "SetSchemaMetadata$Value",
            &[("schema.name", "n")],
        ),
        (
            "insert-header",
            "InsertHeader",
            &[("header", "h"), ("value.literal", "v")],
        ),
        ("drop-headers", "DropHeaders", &[("headers", "h")]),
        ("filter", "Filter", &[]),
    ];
    for (name, class, config) in configs {
        let named = match class.split_once('$') {
            Some((_, variant)) => format!("{name}${variant}"),
            None => name.to_string(),
        };
        for class in [
            named,
            class.to_string(),
            format!("org.apache.kafka.connect.transforms.{class}"),
        ] {
            components()
                .try_transform(&class, config)
                .unwrap_or_else(|e| panic!("{class}: {e:#}"));
        }
    }
}

#[test]
fn regex_router_rewrites_matching_topics_as_kafka_does() {
    // (regex, replacement, topic, routed topic): the first six are Kafka's
    // RegexRouterTest, then the documentation's examples, then Java's
    // replacement syntax.
    let cases = [
        ("foo", "bar", "foo", "bar"),
        ("foo", "bar", "foo-bar", "foo-bar"),
        ("(.*)", "$1", "blah", "blah"),
        ("(.*)", "prefix-$1", "blah", "prefix-blah"),
        ("(.*)", "$1-suffix", "blah", "blah-suffix"),
        (r"(.*)-(\d\d\d\d\d\d\d\d)", "$1", "index-20160117", "index"),
        ("(.*)-(.*)", "$2", "prefix-orders", "orders"),
        ("(.*)-(.*)", "$2", "a-b-c", "c"),
        (
            r"([^.]+)\.([^.]+)\.([^.]+)",
            "$3",
            "mysql-server.inventory.customers",
            "customers",
        ),
        // A group number takes only the digits that still name a group.
        ("(.*)", "$1a", "topic", "topica"),
        ("(.*)", "$10", "topic", "topic0"),
        (
            "(?<table>.*)-raw",
            "${table}-clean",
            "orders-raw",
            "orders-clean",
        ),
        (r"(.*)", r"\$1-$1", "t", "$1-t"),
        // The whole name must match, but replaceFirst searches again: a lazy
        // group matches nothing at the start.
        ("(.*?)", "x-$1", "abc", "x-abc"),
    ];
    for (regex, replacement, topic, expected) in cases {
        let config = [("regex", regex), ("replacement", replacement)];
        assert_eq!(
            routed("RegexRouter", &config, topic),
            expected,
            "regex={regex} replacement={replacement} topic={topic}"
        );
    }
}

#[test]
fn regex_router_refuses_bad_patterns_and_replacements_with_kafka_messages() {
    assert_contains(
        &refused("RegexRouter", &[("regex", "(.*"), ("replacement", "$1")]),
        "Invalid value (.* for configuration regex: Invalid regex: unclosed group",
    );
    assert_contains(
        &refused("RegexRouter", &[("regex", "(.*)"), ("replacement", "$2")]),
        "Invalid value $2 for configuration replacement: No group 2",
    );
    assert_contains(
        &refused("RegexRouter", &[("regex", "(.*)"), ("replacement", "${1}")]),
        "capturing group name {1} starts with digit character",
    );
    assert_contains(
        &refused("RegexRouter", &[("regex", "(.*)"), ("replacement", "${x}")]),
        "No group with name {x}",
    );
    assert_contains(
        &refused("RegexRouter", &[("regex", "(.*)"), ("replacement", "a\\")]),
        "character to be escaped is missing",
    );
    assert_contains(
        &refused("RegexRouter", &[("regex", "(.*)")]),
        "Missing required configuration \"replacement\" which has no default value.",
    );
    // Look-around is Java syntax the regex crate lacks: refused, not misread.
    assert_contains(
        &refused("RegexRouter", &[("regex", "(?=a).*"), ("replacement", "b")]),
        "Invalid value (?=a).* for configuration regex: Invalid regex:",
    );
    assert_contains(
        &refused("RegexRouter$Value", &[("regex", "a"), ("replacement", "b")]),
        "RegexRouter has no $Key or $Value variant",
    );
}

#[test]
fn timestamp_router_formats_the_record_timestamp_in_utc() {
    // 1483425001864 is 2017-01-03T06:30:01.864Z, as in Kafka's
    // TimestampRouterTest.
    assert_eq!(routed("TimestampRouter", &[], "test"), "test-20170103");
    let examples = [
        // The documentation's example: the week-based year, as in en-US.
        ("foo-${topic}-${timestamp}", "YYYYMM", "foo-test-201701"),
        (
            "${timestamp}.${topic}",
            "yyyy-MM-dd'T'HH",
            "2017-01-03T06.test",
        ),
        (
            "${topic}_${timestamp}",
            "yy_D_EEE_hh_mm_ss_SSS_a",
            "test_17_3_Tue_06_30_01_864_AM",
        ),
    ];
    for (topic_format, timestamp_format, expected) in examples {
        let config = [
            ("topic.format", topic_format),
            ("timestamp.format", timestamp_format),
        ];
        assert_eq!(routed("TimestampRouter", &config, "test"), expected);
    }
}

#[test]
fn timestamp_router_fails_a_record_without_a_timestamp() {
    let mut transform = components().transform("TimestampRouter", &[]);
    let error = apply_one(&mut transform, record("orders", None, Some(text("v"))))
        .expect_err("a record without a timestamp has no route");
    assert_contains(&error, "Timestamp missing on record: ");
    assert_contains(&error, "topic='orders'");
    assert_contains(
        &refused("TimestampRouter", &[("timestamp.format", "yyyyMMddq")]),
        "Invalid value yyyyMMddq for configuration timestamp.format: \
         Illegal pattern character 'q'",
    );
}

const STRUCT_WITH_DEFAULT: &str = r#"{
    "schema": {"type": "struct", "optional": false, "fields": [
        {"field": "id", "type": "int32", "optional": false},
        {"field": "status", "type": "string", "optional": true, "default": "new"}
    ]},
    "payload": {"id": 7, "status": null}
}"#;

/// STRUCT_WITH_DEFAULT with its null kept: Kafka's JsonConverter (and so
/// `json`) reads a null as the field's default unless told not to.
fn struct_with_null() -> Data {
    let mut converter = components().converter(
        "json",
        &[
            ("schemas.enable", "true"),
            ("replace.null.with.default", "false"),
        ],
        false,
    );
    let mut read = converter
        .to_data("t", &[Some(STRUCT_WITH_DEFAULT.as_bytes().to_vec())])
        .expect("the json converter trapped");
    match read.pop() {
        Some(Ok(Some(data))) => data,
        other => panic!("the json converter could not read the struct: {other:?}"),
    }
}

/// The schema name and version and the `status` field of a transformed
/// STRUCT_WITH_DEFAULT.
fn metadata_and_status(data: &Data) -> (Option<String>, Option<i32>, ValueNode) {
    let Data::Structured(s) = data else {
        panic!("expected structured data")
    };
    let ValueNode::Struct(fields) = &s.values[0] else {
        panic!("expected a struct, got {:?}", s.values[0])
    };
    let status = fields
        .iter()
        .find(|(name, _)| name == "status")
        .map(|(_, i)| s.values[*i as usize].clone())
        .expect("a status field");
    (s.schema[0].name.clone(), s.schema[0].version, status)
}

#[test]
fn set_schema_metadata_names_and_versions_the_schema() {
    // Kafka's SetSchemaMetadataTest: name foo, version 42.
    let mut transform = components().transform(
        "org.apache.kafka.connect.transforms.SetSchemaMetadata$Value",
        &[("schema.name", "foo"), ("schema.version", "42")],
    );
    let out = apply_one(
        &mut transform,
        record("t", Some(text("k")), Some(struct_with_null())),
    )
    .unwrap()
    .unwrap();
    let (name, version, status) = metadata_and_status(out.value.as_ref().unwrap());
    assert_eq!((name.as_deref(), version), (Some("foo"), Some(42)));
    // replace.null.with.default is true by default: the null reads as "new".
    assert_same!(status, ValueNode::String("new".into()));
    assert_eq!(root(out.key.as_ref().unwrap()).0, SchemaType::String);

    let mut keep_nulls = components().transform(
        "SetSchemaMetadata$Value",
        &[
            ("schema.version", "3"),
            ("replace.null.with.default", "false"),
        ],
    );
    let out = apply_one(&mut keep_nulls, record("t", None, Some(struct_with_null())))
        .unwrap()
        .unwrap();
    let (name, version, status) = metadata_and_status(out.value.as_ref().unwrap());
    assert_same!(
        (name, version, status),
        (None::<String>, Some(3), ValueNode::Null)
    );

    let mut key = components().transform("SetSchemaMetadata$Key", &[("schema.name", "OrderKey")]);
    let out = apply_one(&mut key, record("t", Some(text("k")), Some(text("v"))))
        .unwrap()
        .unwrap();
    let Some(Data::Structured(k)) = &out.key else {
        panic!("structured key")
    };
    assert_eq!(k.schema[0].name.as_deref(), Some("OrderKey"));
    assert_same!(out.value, Some(text("v")));
}

#[test]
fn set_schema_metadata_needs_a_schema_and_a_setting() {
    let mut transform =
        components().transform("SetSchemaMetadata$Value", &[("schema.name", "foo")]);
    let error = apply_one(
        &mut transform,
        record("t", None, Some(schemaless(r#"{"id": 7}"#))),
    )
    .expect_err("schemaless data has no schema to name");
    assert_eq!(error, "Schema required for [updating schema metadata]");
    // A tombstone passes untouched, as in Kafka's shouldNotFailOnEmptyRecord.
    let tombstone = record("t", None, None);
    assert_same!(
        apply_one(&mut transform, tombstone.clone()).unwrap(),
        Some(tombstone)
    );
    assert_contains(
        &refused("SetSchemaMetadata$Value", &[]),
        "Neither schema name nor version configured",
    );
    assert_contains(
        &refused("SetSchemaMetadata$Value", &[("schema.version", "two")]),
        "Invalid value two for configuration schema.version: Not a number of type INT",
    );
    assert_contains(
        &refused("SetSchemaMetadata", &[("schema.name", "foo")]),
        "SetSchemaMetadata needs a variant: use SetSchemaMetadata$Key or SetSchemaMetadata$Value",
    );
}

/// The header a record got from InsertHeader with `value.literal`.
fn inserted(literal: &str) -> Header {
    let mut transform = components().transform(
        "InsertHeader",
        &[("header", "inserted"), ("value.literal", literal)],
    );
    let out = apply_one(&mut transform, record("t", None, Some(text("v"))))
        .unwrap()
        .unwrap();
    out.headers.into_iter().last().expect("a header was added")
}

#[test]
fn insert_header_adds_the_literal_with_the_type_kafka_infers() {
    // The documentation's example: a plain string.
    let mut transform = components().transform(
        "org.apache.kafka.connect.transforms.InsertHeader",
        &[
            ("header", "MessageSource"),
            ("value.literal", "Kafka Connect framework"),
        ],
    );
    let mut input = record("t", None, Some(text("v")));
    input.headers = vec![header("MessageSource", "upstream"), header("other", "x")];
    let out = apply_one(&mut transform, input).unwrap().unwrap();
    // Added after the others, even beside one of the same name.
    assert_eq!(
        header_keys(&out),
        ["MessageSource", "other", "MessageSource"]
    );
    assert_same!(
        out.headers[2],
        header("MessageSource", "Kafka Connect framework")
    );

    // Values.parseString infers the type.
    let typed = [
        ("42", SchemaType::Int8, ValueNode::Int8(42)),
        ("40000", SchemaType::Int32, ValueNode::Int32(40000)),
        ("1.5", SchemaType::Float32, ValueNode::Float32(1.5)),
        ("true", SchemaType::Boolean, ValueNode::Boolean(true)),
        ("", SchemaType::String, ValueNode::String(String::new())),
        (
            "42 apples",
            SchemaType::String,
            ValueNode::String("42 apples".into()),
        ),
    ];
    for (literal, schema, value) in typed {
        let header = inserted(literal);
        let data = header.value.as_ref().expect("a value");
        assert_same!(root(data), (schema, &value), "value.literal={literal:?}");
    }
    let Some(Data::Structured(date)) = inserted("2017-01-03").value else {
        panic!("a structured date")
    };
    assert_eq!(
        date.schema[0].name.as_deref(),
        Some("org.apache.kafka.connect.data.Date")
    );
    assert_same!(date.values[0], ValueNode::Int32(17169));
    let Some(Data::Structured(array)) = inserted("[1, 2, 300]").value else {
        panic!("a structured array")
    };
    assert_eq!(array.schema[0].type_, SchemaType::Array);
    assert_eq!(array.schema[1].type_, SchemaType::Int16);
    assert!(inserted("null").value.is_none());

    assert_contains(
        &refused("InsertHeader", &[("header", "h")]),
        "Missing required configuration \"value.literal\" which has no default value.",
    );
}

#[test]
fn drop_headers_removes_every_header_named() {
    let mut transform = components().transform(
        "org.apache.kafka.connect.transforms.DropHeaders",
        &[("headers", "unwanted-1, unwanted-2")],
    );
    let mut input = record("t", None, Some(text("v")));
    input.headers = vec![
        header("unwanted-1", "a"),
        header("kept", "b"),
        header("unwanted-2", "c"),
        header("unwanted-1", "d"),
        header("also-kept", "e"),
    ];
    let out = apply_one(&mut transform, input).unwrap().unwrap();
    assert_eq!(header_keys(&out), ["kept", "also-kept"]);
    assert_same!(out.value, Some(text("v")));

    assert_contains(
        &refused("DropHeaders", &[("headers", " , ")]),
        "Invalid value  ,  for configuration headers: Empty list",
    );
    assert_contains(
        &refused("DropHeaders", &[]),
        "Missing required configuration \"headers\" which has no default value.",
    );
}

#[test]
fn filter_drops_every_record() {
    let mut transform = components().transform("org.apache.kafka.connect.transforms.Filter", &[]);
    let batch = [
        record("foo", None, Some(text("a"))),
        record("bar", None, None),
    ];
    let results = transform.apply(&batch).expect("the filter trapped");
    assert_same!(
        results,
        [Ok::<Option<ConnectRecord>, String>(None), Ok(None)]
    );
    assert_contains(
        &refused("Filter$Value", &[]),
        "Filter has no $Key or $Value variant",
    );
}

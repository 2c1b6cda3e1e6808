//! The field transforms (Cast, ExtractField, Flatten, HoistField,
//! InsertField, MaskField, ReplaceField, ValueToKey, HeaderFrom,
//! TimestampConverter) run as components on records read through the json
//! converter: the configurations of Kafka's documentation with and without
//! schemas, then bad configuration and bad records with Kafka's messages.

use sluice::runtime::bindings::types::{ConnectRecord, Data, ValueNode};
use sluice_tests::components::*;

/// The envelope Kafka's JsonConverter writes: `{"schema":..,"payload":..}`.
fn envelope(schema: &str, payload: &str) -> String {
    format!(r#"{{"schema":{schema},"payload":{payload}}}"#)
}

/// A struct field's schema in the envelope: `{"type":..,"optional":..,"field":..}`.
fn field(type_: &str, optional: bool, name: &str) -> String {
    format!(r#"{{"type":"{type_}","optional":{optional},"field":"{name}"}}"#)
}

/// A struct schema in the envelope.
fn structure(fields: &[String], optional: bool) -> String {
    format!(
        r#"{{"type":"struct","fields":[{}],"optional":{optional}}}"#,
        fields.join(",")
    )
}

/// A record of topic `t` whose value is `value`.
fn with_value(value: Data) -> ConnectRecord {
    record("t", None, Some(value))
}

/// The record `class` makes of `input`.
fn run(class: &str, config: &[(&str, &str)], input: ConnectRecord) -> ConnectRecord {
    let mut transform = components().transform(class, config);
    apply_one(&mut transform, input)
        .unwrap_or_else(|e| panic!("{class} {config:?} failed: {e}"))
        .expect("transformed, not dropped")
}

/// The message `class` fails `input` with.
fn fails(class: &str, config: &[(&str, &str)], input: ConnectRecord) -> String {
    let mut transform = components().transform(class, config);
    match apply_one(&mut transform, input) {
        Ok(output) => panic!("{class} {config:?} accepted the record: {output:?}"),
        Err(message) => message,
    }
}

/// Why `class` could not be created with `config`.
fn refused(class: &str, config: &[(&str, &str)]) -> String {
    match components().try_transform(class, config) {
        Ok(_) => panic!("{class} accepted {config:?}"),
        Err(e) => format!("{e:#}"),
    }
}

fn assert_contains(text: &str, expected: &str) {
    assert!(text.contains(expected), "expected {expected:?} in {text:?}");
}

/// The value as plain JSON (schemaless), `-` when there is none.
fn plain(record: &ConnectRecord) -> String {
    record
        .value
        .as_ref()
        .map(to_schemaless)
        .unwrap_or_else(|| "-".into())
}

/// The key as plain JSON (schemaless), `-` when there is none.
fn plain_key(record: &ConnectRecord) -> String {
    record
        .key
        .as_ref()
        .map(to_schemaless)
        .unwrap_or_else(|| "-".into())
}

/// A configuration written in the test, as the harness takes it.
type StaticConfig = &'static [(&'static str, &'static str)];

#[test]
fn every_transform_answers_to_its_kafka_names_and_needs_its_variant() {
    let configs: [(&str, &str, StaticConfig); 10] = [
        ("cast", "Cast", &[("spec", "int32")]),
        ("extract-field", "ExtractField", &[("field", "f")]),
        ("flatten", "Flatten", &[]),
        ("hoist-field", "HoistField", &[("field", "f")]),
        ("insert-field", "InsertField", &[("topic.field", "t")]),
        ("mask-field", "MaskField", &[("fields", "f")]),
        ("replace-field", "ReplaceField", &[("exclude", "f")]),
        (
            "header-from",
            "HeaderFrom",
            &[("fields", "f"), ("headers", "h"), ("operation", "copy")],
        ),
        (
            "timestamp-converter",
            "TimestampConverter",
            &[("target.type", "unix")],
        ),
        ("value-to-key", "ValueToKey", &[("fields", "f")]),
    ];
    for (name, class, config) in configs {
        if class == "ValueToKey" {
            for class in [
                name,
                class,
                "org.apache.kafka.connect.transforms.ValueToKey",
            ] {
                components()
                    .try_transform(class, config)
                    .unwrap_or_else(|e| panic!("{class}: {e:#}"));
            }
            assert_contains(
                &refused("ValueToKey$Key", config),
                "ValueToKey has no $Key or $Value variant",
            );
            continue;
        }
        for variant in ["Key", "Value"] {
            for class in [
                format!("{name}${variant}"),
                format!("{class}${variant}"),
                format!("org.apache.kafka.connect.transforms.{class}${variant}"),
            ] {
                components()
                    .try_transform(&class, config)
                    .unwrap_or_else(|e| panic!("{class}: {e:#}"));
            }
        }
        assert_contains(
            &refused(class, config),
            &format!("{class} needs a variant: use {class}$Key or {class}$Value"),
        );
    }
}

/// Kafka's documentation (connect.html, "Transformations"): the file
/// source's lines wrapped in a map by HoistField, then a static field added
/// by InsertField.
#[test]
fn documentation_example_hoist_then_insert_static_field() {
    let hoist = [("field", "line")];
    let insert = [
        ("static.field", "data_source"),
        ("static.value", "test-file-source"),
    ];
    for line in ["foo", "bar", "hello world"] {
        let wrapped = run(
            "org.apache.kafka.connect.transforms.HoistField$Value",
            &hoist,
            with_value(schemaless(&format!("\"{line}\""))),
        );
        let out = run(
            "org.apache.kafka.connect.transforms.InsertField$Value",
            &insert,
            wrapped,
        );
        assert_eq!(
            plain(&out),
            format!(r#"{{"line":"{line}","data_source":"test-file-source"}}"#)
        );
    }

    // The same with schemas: the string becomes a struct with a required
    // field, then gains an optional string field.
    let wrapped = run(
        "HoistField$Value",
        &hoist,
        with_value(json(
            r#"{"schema":{"type":"string","optional":false},"payload":"foo"}"#,
        )),
    );
    assert_eq!(
        show(&wrapped.value),
        envelope(
            &structure(&[field("string", false, "line")], false),
            r#"{"line":"foo"}"#
        )
    );
    let out = run("InsertField$Value", &insert, wrapped);
    assert_eq!(
        show(&out.value),
        envelope(
            &structure(
                &[
                    field("string", false, "line"),
                    field("string", true, "data_source")
                ],
                false
            ),
            r#"{"line":"foo","data_source":"test-file-source"}"#
        )
    );
}

#[test]
fn hoist_field_wraps_keys_and_refuses_a_missing_field_name() {
    let out = run(
        "HoistField$Key",
        &[("field", "id")],
        record("t", Some(schemaless("42")), Some(text("v"))),
    );
    assert_eq!(plain_key(&out), r#"{"id":42}"#);
    assert_eq!(
        show(&out.value),
        show(&Some(text("v"))),
        "the value is untouched"
    );

    // A null cannot fill the required field the hoisted schema makes.
    assert_eq!(
        fails(
            "HoistField$Value",
            &[("field", "line")],
            with_value(required_string_null())
        ),
        "Invalid value: null used for required field: \"line\", schema type: STRING"
    );
    assert_contains(
        &refused("HoistField$Value", &[]),
        "Missing required configuration \"field\" which has no default value.",
    );
}

/// A null with a required STRING schema, which the json converter would
/// refuse to read but a connector may hand over.
fn required_string_null() -> Data {
    let Data::Structured(mut structured) = text("") else {
        unreachable!("text is structured")
    };
    structured.values = vec![ValueNode::Null];
    Data::Structured(structured)
}

#[test]
fn insert_field_adds_record_metadata_with_optionality_suffixes() {
    let config = [
        ("topic.field", "topic_field!"),
        ("partition.field", "partition_field"),
        ("offset.field", "offset_field!"),
        ("timestamp.field", "timestamp_field?"),
        ("static.field", "instance_id"),
        ("static.value", "my-instance-id"),
    ];
    let value = envelope(
        &structure(&[field("int32", false, "magic")], false),
        r#"{"magic":42}"#,
    );
    let mut input = record("test", None, Some(json(&value)));
    input.offset = Some(42);
    input.timestamp = Some(1_483_425_001_864);
    let out = run("InsertField$Value", &config, input.clone());
    let timestamp = r#"{"type":"int64","optional":true,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"field":"timestamp_field"}"#;
    assert_eq!(
        show(&out.value),
        envelope(
            &structure(
                &[
                    field("int32", false, "magic"),
                    field("string", false, "topic_field"),
                    field("int32", true, "partition_field"),
                    field("int64", false, "offset_field"),
                    timestamp.to_string(),
                    field("string", true, "instance_id"),
                ],
                false
            ),
            r#"{"magic":42,"topic_field":"test","partition_field":0,"offset_field":42,"timestamp_field":1483425001864,"instance_id":"my-instance-id"}"#
        )
    );

    // Schemaless: the timestamp is a plain long.
    let mut input = record("test", None, Some(schemaless(r#"{"magic":42}"#)));
    input.offset = Some(42);
    input.timestamp = Some(1_483_425_001_864);
    let out = run("InsertField$Value", &config, input);
    assert_eq!(
        plain(&out),
        r#"{"magic":42,"topic_field":"test","partition_field":0,"offset_field":42,"timestamp_field":1483425001864,"instance_id":"my-instance-id"}"#
    );

    // A tombstone passes through.
    let out = run(
        "InsertField$Value",
        &[("topic.field", "topic")],
        record("t", None, None),
    );
    assert!(out.value.is_none());

    // Only a record a sink consumed has an offset.
    let source_record = record("t", None, Some(schemaless(r#"{"magic":42}"#)));
    assert_eq!(
        fails(
            "InsertField$Value",
            &[("offset.field", "offset")],
            source_record
        ),
        "Only SinkRecord supported for [field insertion], found: org.apache.kafka.connect.source.SourceRecord"
    );
    assert_eq!(
        fails(
            "InsertField$Value",
            &[("topic.field", "topic")],
            with_value(schemaless("\"foo\""))
        ),
        "Only Map objects supported in absence of schema for [field insertion], found: java.lang.String"
    );
    assert_contains(
        &refused("InsertField$Value", &[("static.field", "s")]),
        "No value specified for static field: s",
    );
}

/// Kafka's documentation (connect.html, "Predicates"): ExtractField$Key
/// with `field=other_field`.
#[test]
fn extract_field_takes_one_field_of_the_key() {
    let config = [("field", "other_field")];
    let key = envelope(
        &structure(
            &[
                field("int32", false, "other_field"),
                field("string", false, "name"),
            ],
            false,
        ),
        r#"{"other_field":42,"name":"x"}"#,
    );
    let out = run(
        "org.apache.kafka.connect.transforms.ExtractField$Key",
        &config,
        record("t", Some(json(&key)), Some(text("v"))),
    );
    assert_eq!(
        show(&out.key),
        r#"{"schema":{"type":"int32","optional":false},"payload":42}"#
    );

    let out = run(
        "ExtractField$Key",
        &config,
        record(
            "t",
            Some(schemaless(r#"{"other_field":42,"name":"x"}"#)),
            None,
        ),
    );
    assert_eq!(plain_key(&out), "42");

    // A null passes through; a missing map entry is null.
    let out = run("ExtractField$Key", &config, record("t", None, None));
    assert!(out.key.is_none());
    let out = run(
        "ExtractField$Key",
        &config,
        record("t", Some(schemaless(r#"{"name":"x"}"#)), None),
    );
    assert!(out.key.is_none());

    let keyed = record("t", Some(json(&key)), None);
    assert_eq!(
        fails("ExtractField$Key", &[("field", "nope")], keyed),
        "Unknown field: nope"
    );
    assert_eq!(
        fails(
            "ExtractField$Value",
            &config,
            with_value(schemaless("\"x\""))
        ),
        "Only Map objects supported in absence of schema for [field extraction], found: java.lang.String"
    );
}

/// KIP-821: `field.syntax.version=V2` reads dotted paths, with backticks
/// around names that hold dots.
#[test]
fn extract_field_follows_nested_paths_with_syntax_v2() {
    let value = r#"{"address":{"city":"Zürich","zip.code":"8000"},"address.city":"flat"}"#;
    let extract = |path: &str, version: &str| {
        let out = run(
            "ExtractField$Value",
            &[("field", path), ("field.syntax.version", version)],
            with_value(schemaless(value)),
        );
        plain(&out)
    };
    assert_eq!(extract("address.city", "V2"), r#""Zürich""#);
    assert_eq!(extract("address.`zip.code`", "v2"), r#""8000""#);
    assert_eq!(extract("address.city", "V1"), r#""flat""#);
    assert_eq!(extract("address.missing", "V2"), "-");

    let address = r#"{"type":"struct","fields":[{"type":"string","optional":false,"field":"city"}],"optional":false,"field":"address"}"#;
    let schema = structure(&[address.to_string(), field("int32", false, "id")], false);
    let out = run(
        "ExtractField$Value",
        &[("field", "address.city"), ("field.syntax.version", "V2")],
        with_value(json(&envelope(
            &schema,
            r#"{"address":{"city":"Bern"},"id":1}"#,
        ))),
    );
    assert_eq!(
        show(&out.value),
        r#"{"schema":{"type":"string","optional":false},"payload":"Bern"}"#
    );

    assert_contains(
        &refused(
            "ExtractField$Value",
            &[("field", "`open.path"), ("field.syntax.version", "V2")],
        ),
        "Incomplete backtick pair in path: [`open.path]",
    );
    assert_contains(
        &refused(
            "ExtractField$Value",
            &[("field", "a"), ("field.syntax.version", "V3")],
        ),
        "Invalid value V3 for configuration field.syntax.version",
    );
}

/// Cast's documentation: `field1:type,field2:type` casts fields, a single
/// type the whole value.
#[test]
fn cast_fields_and_whole_values_with_and_without_schema() {
    let config = [("spec", "age:int8,score:string,active:boolean,price:float64")];
    let decimal = r#"{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"},"field":"price"}"#;
    let value = envelope(
        &structure(
            &[
                field("int32", false, "age"),
                field("double", true, "score"),
                field("string", false, "active"),
                decimal.to_string(),
                field("string", false, "name"),
            ],
            false,
        ),
        // 12345 unscaled at scale 2: 123.45
        r#"{"age":42,"score":1.5E10,"active":"TRUE","price":"MDk=","name":"Ann"}"#,
    );
    let out = run("Cast$Value", &config, with_value(json(&value)));
    assert_eq!(
        show(&out.value),
        envelope(
            &structure(
                &[
                    field("int8", false, "age"),
                    field("string", true, "score"),
                    field("boolean", false, "active"),
                    field("double", false, "price"),
                    field("string", false, "name"),
                ],
                false
            ),
            r#"{"age":42,"score":"1.5E10","active":true,"price":123.45,"name":"Ann"}"#
        )
    );

    // Schemaless: fields of a map; integers narrow as Java's casts do.
    let out = run(
        "Cast$Value",
        &[("spec", "big:int8,flag:int32,text:float32")],
        with_value(schemaless(
            r#"{"big":300,"flag":true,"text":"2.5","other":"x"}"#,
        )),
    );
    assert_eq!(plain(&out), r#"{"big":44,"flag":1,"text":2.5,"other":"x"}"#);

    // The whole key, with and without schema.
    let out = run(
        "Cast$Key",
        &[("spec", "int32")],
        record(
            "t",
            Some(json(
                r#"{"schema":{"type":"int64","optional":true},"payload":42}"#,
            )),
            None,
        ),
    );
    assert_eq!(
        show(&out.key),
        r#"{"schema":{"type":"int32","optional":true},"payload":42}"#
    );
    let out = run(
        "Cast$Value",
        &[("spec", "string")],
        with_value(schemaless("1.0")),
    );
    assert_eq!(plain(&out), r#""1.0""#);
    let out = run(
        "Cast$Value",
        &[("spec", "string")],
        with_value(json(
            r#"{"schema":{"type":"bytes","optional":false},"payload":"aGVsbG8="}"#,
        )),
    );
    assert_eq!(
        show(&out.value),
        r#"{"schema":{"type":"string","optional":false},"payload":"aGVsbG8="}"#
    );

    // A Timestamp cast to a string prints as Kafka's Values does.
    let timestamp = envelope(
        r#"{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1}"#,
        "1483425001864",
    );
    let out = run(
        "Cast$Value",
        &[("spec", "string")],
        with_value(json(&timestamp)),
    );
    assert_eq!(plain(&out), r#""2017-01-03T06:30:01.864Z""#);

    // Bad values, then bad configurations.
    assert_eq!(
        fails(
            "Cast$Value",
            &[("spec", "age:int32")],
            with_value(schemaless(r#"{"age":"old"}"#))
        ),
        "Value (old) was out of range for requested data type"
    );
    assert_eq!(
        fails(
            "Cast$Value",
            &[("spec", "int32")],
            with_value(schemaless(r#"{"a":1}"#))
        ),
        "Cast transformation does not support casting from MAP; supported types are [INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING, BYTES]"
    );
    assert_eq!(
        fails("Cast$Value", &config, with_value(schemaless("\"x\""))),
        "Only Map objects supported in absence of schema for [cast types], found: java.lang.String"
    );
    assert_contains(
        &refused("Cast$Value", &[("spec", "age:int7")]),
        "Invalid type found in casting spec: int7",
    );
    assert_contains(
        &refused("Cast$Value", &[("spec", "bytes")]),
        "Cast transformation does not support casting to BYTES",
    );
    assert_contains(
        &refused("Cast$Value", &[("spec", "int32,a:int8")]),
        "may ony specify a single cast in their spec",
    );
}

/// Flatten's documentation: nested names joined by the delimiter, `.` by
/// default.
#[test]
fn flatten_joins_nested_names_with_the_delimiter() {
    let out = run(
        "Flatten$Value",
        &[],
        with_value(schemaless(
            r#"{"A":{"B":{"int8":8,"string":"x"},"list":[1,2]},"top":null}"#,
        )),
    );
    assert_eq!(
        plain(&out),
        r#"{"A.B.int8":8,"A.B.string":"x","A.list":[1,2],"top":null}"#
    );

    let inner = r#"{"type":"struct","fields":[{"type":"int32","optional":false,"field":"zip"}],"optional":true,"field":"address"}"#;
    let value = envelope(
        &structure(&[field("string", false, "name"), inner.to_string()], false),
        r#"{"name":"Ann","address":{"zip":8000}}"#,
    );
    let out = run(
        "Flatten$Value",
        &[("delimiter", "_")],
        with_value(json(&value)),
    );
    // The field under the optional struct becomes optional.
    assert_eq!(
        show(&out.value),
        envelope(
            &structure(
                &[
                    field("string", false, "name"),
                    field("int32", true, "address_zip")
                ],
                false
            ),
            r#"{"name":"Ann","address_zip":8000}"#
        )
    );

    // A tombstone passes through.
    assert!(
        run("Flatten$Value", &[], record("t", None, None))
            .value
            .is_none()
    );

    let with_map = envelope(
        &structure(
            &[r#"{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"int32","optional":false},"optional":false,"field":"m"}"#.to_string()],
            false,
        ),
        r#"{"m":{"a":1}}"#,
    );
    assert_eq!(
        fails("Flatten$Value", &[], with_value(json(&with_map))),
        "Flatten transformation does not support MAP for record with schemas (for field m)."
    );
    assert_eq!(
        fails("Flatten$Value", &[], with_value(schemaless("\"x\""))),
        "Only Map objects supported in absence of schema for [flattening], found: java.lang.String"
    );
}

/// MaskField's documentation: fields masked with their type's null value,
/// or with `replacement` converted to their type.
#[test]
fn mask_field_masks_with_null_values_or_a_replacement() {
    let value = envelope(
        &structure(
            &[
                field("string", false, "ssn"),
                field("int32", false, "age"),
                field("boolean", false, "vip"),
                field("string", false, "name"),
            ],
            false,
        ),
        r#"{"ssn":"123-45-6789","age":42,"vip":true,"name":"Ann"}"#,
    );
    let out = run(
        "MaskField$Value",
        &[("fields", "ssn,age,vip")],
        with_value(json(&value)),
    );
    assert_eq!(
        plain(&out),
        r#"{"ssn":"","age":0,"vip":false,"name":"Ann"}"#
    );

    let out = run(
        "MaskField$Value",
        &[("fields", "ssn"), ("replacement", "***-**-****")],
        with_value(schemaless(r#"{"ssn":"123-45-6789","tags":["a"]}"#)),
    );
    assert_eq!(plain(&out), r#"{"ssn":"***-**-****","tags":["a"]}"#);
    let out = run(
        "MaskField$Value",
        &[("fields", "age,tags")],
        with_value(schemaless(r#"{"age":42,"tags":["a"]}"#)),
    );
    assert_eq!(plain(&out), r#"{"age":0,"tags":[]}"#);
    let out = run(
        "MaskField$Value",
        &[("fields", "age"), ("replacement", "-1")],
        with_value(schemaless(r#"{"age":42}"#)),
    );
    assert_eq!(plain(&out), r#"{"age":-1}"#);

    assert_eq!(
        fails(
            "MaskField$Value",
            &[("fields", "vip"), ("replacement", "x")],
            with_value(json(&value))
        ),
        "Cannot mask value of type class java.lang.Boolean with custom replacement."
    );
    assert_eq!(
        fails(
            "MaskField$Value",
            &[("fields", "age"), ("replacement", "old")],
            with_value(json(&value))
        ),
        "Unable to convert old (class java.lang.String) to number"
    );
    assert_eq!(
        fails(
            "MaskField$Value",
            &[("fields", "ssn")],
            with_value(schemaless("\"x\""))
        ),
        "Only Map objects supported in absence of schema for [mask fields], found: java.lang.String"
    );
}

/// ReplaceField's documentation: `exclude`, `include` and `renames`, and
/// Kafka 2.x's `blacklist`/`whitelist`.
#[test]
fn replace_field_filters_and_renames() {
    let value = envelope(
        &structure(
            &[
                field("string", false, "dont"),
                field("int32", false, "abc"),
                field("boolean", false, "foo"),
                field("string", false, "etc"),
            ],
            false,
        ),
        r#"{"dont":"whatever","abc":42,"foo":true,"etc":"etc"}"#,
    );
    let config = [("exclude", "dont"), ("renames", "abc:xyz,foo:bar")];
    let out = run("ReplaceField$Value", &config, with_value(json(&value)));
    assert_eq!(
        show(&out.value),
        envelope(
            &structure(
                &[
                    field("int32", false, "xyz"),
                    field("boolean", false, "bar"),
                    field("string", false, "etc"),
                ],
                false
            ),
            r#"{"xyz":42,"bar":true,"etc":"etc"}"#
        )
    );

    let schemaless_value = r#"{"dont":"whatever","abc":42,"foo":true,"etc":"etc"}"#;
    let out = run(
        "ReplaceField$Value",
        &config,
        with_value(schemaless(schemaless_value)),
    );
    assert_eq!(plain(&out), r#"{"xyz":42,"bar":true,"etc":"etc"}"#);
    let out = run(
        "ReplaceField$Value",
        &[("include", "abc,foo")],
        with_value(schemaless(schemaless_value)),
    );
    assert_eq!(plain(&out), r#"{"abc":42,"foo":true}"#);
    let out = run(
        "ReplaceField$Value",
        &[("blacklist", "dont,etc"), ("whitelist", "dont,abc")],
        with_value(schemaless(schemaless_value)),
    );
    assert_eq!(plain(&out), r#"{"abc":42}"#);

    assert_contains(
        &refused("ReplaceField$Value", &[("renames", "abc:xyz,foo")]),
        "Invalid value [abc:xyz, foo] for configuration renames: Invalid rename mapping: foo",
    );
    assert_eq!(
        fails("ReplaceField$Value", &config, with_value(schemaless("42"))),
        "Only Map objects supported in absence of schema for [field replacement], found: java.lang.Long"
    );
}

/// ValueToKey's documentation: the key made of fields of the value.
#[test]
fn value_to_key_builds_the_key_from_value_fields() {
    let config = [("fields", "a,b")];
    let value = envelope(
        &structure(
            &[
                field("int32", false, "a"),
                field("int32", false, "b"),
                field("int32", false, "c"),
            ],
            false,
        ),
        r#"{"a":1,"b":2,"c":3}"#,
    );
    let out = run(
        "org.apache.kafka.connect.transforms.ValueToKey",
        &config,
        with_value(json(&value)),
    );
    assert_eq!(
        show(&out.key),
        envelope(
            &structure(
                &[field("int32", false, "a"), field("int32", false, "b")],
                false
            ),
            r#"{"a":1,"b":2}"#
        )
    );
    assert_eq!(show(&out.value), value, "the value is untouched");

    let out = run(
        "ValueToKey",
        &config,
        with_value(schemaless(r#"{"a":1,"b":2,"c":3}"#)),
    );
    assert_eq!(plain_key(&out), r#"{"a":1,"b":2}"#);

    assert_eq!(
        fails("ValueToKey", &[("fields", "a,d")], with_value(json(&value))),
        "Field does not exist: d"
    );
    assert_eq!(
        fails("ValueToKey", &config, record("t", None, None)),
        "Only Map objects supported in absence of schema for [copying fields from value to key], found: null"
    );
    assert_contains(
        &refused("ValueToKey", &[("fields", "")]),
        "Invalid value [] for configuration fields: Empty list",
    );
}

/// HeaderFrom's documentation: fields moved or copied to the headers named
/// in the same position.
#[test]
fn header_from_moves_or_copies_fields_to_headers() {
    let value = envelope(
        &structure(
            &[
                field("string", false, "id"),
                field("int64", false, "ts"),
                field("string", false, "body"),
            ],
            false,
        ),
        r#"{"id":"a1","ts":42,"body":"hi"}"#,
    );
    let config = [
        ("fields", "id,ts"),
        ("headers", "record_id,record_ts"),
        ("operation", "move"),
    ];
    let mut input = with_value(json(&value));
    input.headers.push(header("existing", "x"));
    let out = run("HeaderFrom$Value", &config, input);
    assert_eq!(
        show(&out.value),
        envelope(
            &structure(&[field("string", false, "body")], false),
            r#"{"body":"hi"}"#
        )
    );
    let headers: Vec<(String, String)> = out
        .headers
        .iter()
        .map(|h| (h.key.clone(), show(&h.value)))
        .collect();
    assert_eq!(
        headers,
        [
            ("existing".to_string(), show(&Some(text("x")))),
            (
                "record_id".to_string(),
                r#"{"schema":{"type":"string","optional":false},"payload":"a1"}"#.to_string()
            ),
            (
                "record_ts".to_string(),
                r#"{"schema":{"type":"int64","optional":false},"payload":42}"#.to_string()
            ),
        ]
    );

    let copy = [
        ("fields", "id"),
        ("headers", "record_id"),
        ("operation", "copy"),
    ];
    let out = run(
        "HeaderFrom$Value",
        &copy,
        with_value(schemaless(r#"{"id":"a1","body":"hi"}"#)),
    );
    assert_eq!(plain(&out), r#"{"id":"a1","body":"hi"}"#);
    assert_eq!(out.headers.len(), 1);
    assert_eq!(out.headers[0].key, "record_id");
    assert_eq!(
        out.headers[0].value.as_ref().map(to_schemaless).as_deref(),
        Some(r#""a1""#)
    );

    assert_eq!(
        fails(
            "HeaderFrom$Key",
            &copy,
            record("t", Some(schemaless("7")), None)
        ),
        "Only Map objects supported in absence of schema for [header copy], found: java.lang.Long"
    );
    assert_contains(
        &refused(
            "HeaderFrom$Value",
            &[("fields", "a"), ("headers", "h"), ("operation", "swap")],
        ),
        "Invalid value swap for configuration operation: String must be one of: move, copy",
    );
    assert_contains(
        &refused(
            "HeaderFrom$Value",
            &[("fields", "a,b"), ("headers", "h"), ("operation", "copy")],
        ),
        "'fields' config must have the same number of elements as 'headers' config.",
    );
}

/// TimestampConverter's documentation: Unix time, formatted strings and
/// Connect's Date, Time and Timestamp, for a field or the whole value.
#[test]
fn timestamp_converter_converts_between_representations() {
    let timestamp_schema = r#"{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1}"#;

    // A string field parsed with the format becomes a Timestamp.
    let value = envelope(
        &structure(
            &[
                field("string", false, "event_date"),
                field("int32", false, "n"),
            ],
            false,
        ),
        r#"{"event_date":"2017-01-03 06:30:01","n":1}"#,
    );
    let config = [
        ("field", "event_date"),
        ("format", "yyyy-MM-dd HH:mm:ss"),
        ("target.type", "Timestamp"),
    ];
    let out = run(
        "TimestampConverter$Value",
        &config,
        with_value(json(&value)),
    );
    let converted_field =
        timestamp_schema.replacen("\"version\":1", "\"version\":1,\"field\":\"event_date\"", 1);
    assert_eq!(
        show(&out.value),
        envelope(
            &structure(&[converted_field, field("int32", false, "n")], false),
            r#"{"event_date":1483425001000,"n":1}"#
        )
    );

    // The whole value: a Timestamp to a formatted string, and to a Date.
    let whole = json(&envelope(timestamp_schema, "1483425001864"));
    let out = run(
        "TimestampConverter$Value",
        &[
            ("target.type", "string"),
            ("format", "yyyy-MM-dd'T'HH:mm:ss.SSS"),
        ],
        with_value(whole.clone()),
    );
    assert_eq!(
        show(&out.value),
        r#"{"schema":{"type":"string","optional":false},"payload":"2017-01-03T06:30:01.864"}"#
    );
    let out = run(
        "TimestampConverter$Value",
        &[("target.type", "Date")],
        with_value(whole),
    );
    assert_eq!(
        show(&out.value),
        r#"{"schema":{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Date","version":1},"payload":17169}"#
    );

    // Schemaless: a long is Unix time, here in seconds.
    let out = run(
        "TimestampConverter$Value",
        &[
            ("field", "ts"),
            ("target.type", "string"),
            ("format", "yyyy-MM-dd"),
            ("unix.precision", "seconds"),
        ],
        with_value(schemaless(r#"{"ts":1483425001,"other":1}"#)),
    );
    assert_eq!(plain(&out), r#"{"ts":"2017-01-03","other":1}"#);
    let out = run(
        "TimestampConverter$Key",
        &[("target.type", "unix"), ("format", "yyyy-MM-dd")],
        record("t", Some(schemaless(r#""2017-01-03""#)), None),
    );
    assert_eq!(plain_key(&out), "1483401600000");

    assert_eq!(
        fails(
            "TimestampConverter$Value",
            &config,
            with_value(json(&envelope(
                &structure(&[field("string", false, "event_date")], false),
                r#"{"event_date":"yesterday"}"#
            )))
        ),
        "Could not parse timestamp: value (yesterday) does not match pattern (yyyy-MM-dd HH:mm:ss)"
    );
    assert_eq!(
        fails(
            "TimestampConverter$Value",
            &[("target.type", "Timestamp")],
            with_value(json(
                r#"{"schema":{"type":"int32","optional":false},"payload":1}"#
            ))
        ),
        "Schema Schema{INT32} does not correspond to a known timestamp type format"
    );
    assert_contains(
        &refused("TimestampConverter$Value", &[("target.type", "string")]),
        "TimestampConverter requires format option to be specified when using string timestamps",
    );
    assert_contains(
        &refused("TimestampConverter$Value", &[("target.type", "Instant")]),
        "Invalid value Instant for configuration target.type: String must be one of: string, unix, Date, Time, Timestamp",
    );
}

//! The converters (json, string, bytearray, simple-header) run as
//! components. The json converter reads hand-made fixtures of Kafka's
//! JsonConverter output (every schema type, logical types, defaults, nulls,
//! Java's float formatting) to the structure each describes, and writes that
//! structure back to exactly the fixture's bytes; then the other converters'
//! round trips, and the messages Kafka gives for bad input.

use sluice::plugin::ConverterInstance;
use sluice::runtime::bindings::shared;
use sluice::runtime::bindings::types::{
    BatchData, Data, SchemaNode, SchemaType, Structured, ValueNode,
};
use sluice_tests::components::*;

// --- helpers -------------------------------------------------------------

/// A converter by name with its configuration, for values.
fn converter(name: &str, config: &[(&str, &str)]) -> ConverterInstance {
    components().converter(name, config, false)
}

/// What `to_data` makes of `bytes`.
fn read(converter: &mut ConverterInstance, bytes: Option<&[u8]>) -> Result<Option<Data>, String> {
    let mut results = converter
        .to_data("t", &[bytes.map(<[u8]>::to_vec)])
        .expect("the converter trapped");
    assert_eq!(results.len(), 1, "one result per item");
    results.pop().expect("checked")
}

/// What `from_data` makes of `data`.
fn write(converter: &mut ConverterInstance, data: Option<Data>) -> Result<Option<Vec<u8>>, String> {
    let mut results = converter
        .from_data("t", &[data])
        .expect("the converter trapped");
    assert_eq!(results.len(), 1, "one result per item");
    results.pop().expect("checked")
}

/// A result of `to_data` described, `null` for a null.
fn shown(result: Result<Option<Data>, String>) -> Result<String, String> {
    result.map(|data| data.map_or("null".into(), |data| describe(&data)))
}

/// `text` read to data, which must not be null.
fn read_ok(converter: &mut ConverterInstance, text: &str) -> Data {
    read(converter, Some(text.as_bytes()))
        .unwrap_or_else(|e| panic!("could not read {text}: {e}"))
        .unwrap_or_else(|| panic!("{text} read as null"))
}

/// `data` written, as text; `None` for null bytes.
fn write_ok(converter: &mut ConverterInstance, data: Data) -> Option<String> {
    write(converter, Some(data.clone()))
        .unwrap_or_else(|e| panic!("could not write {}: {e}", describe(&data)))
        .map(|bytes| String::from_utf8(bytes).expect("UTF-8"))
}

/// The message `to_data` fails with.
fn read_error(converter: &mut ConverterInstance, text: &str) -> String {
    match read(converter, Some(text.as_bytes())) {
        Ok(data) => panic!(
            "{text} was read as {}",
            data.as_ref().map(describe).unwrap_or("null".into())
        ),
        Err(message) => message,
    }
}

fn assert_contains(text: &str, expected: &str) {
    assert!(text.contains(expected), "expected {expected:?} in {text:?}");
}

/// Reads `fixture`, checks the structure against `expected` and writes it
/// back to exactly `fixture`.
fn round_trip(converter: &mut ConverterInstance, fixture: &str, expected: &str) {
    let data = read_ok(converter, fixture);
    assert_eq!(describe(&data), expected, "reading {fixture}");
    assert_eq!(
        write_ok(converter, data).as_deref(),
        Some(fixture),
        "writing back what {fixture} read as"
    );
}

/// Structured data from flat node lists (node 0 the root).
fn flat(schema: Vec<SchemaNode>, values: Vec<ValueNode>) -> Data {
    Data::Structured(Structured { schema, values })
}

/// A readable rendering of structured data: `schema | value`, with typed
/// numbers (`1i32`), bytes in hex and logical names shortened.
fn describe(data: &Data) -> String {
    match data {
        Data::Raw(bytes) => format!("raw {}", hex(bytes)),
        Data::Structured(s) => {
            let schema = if s.schema.is_empty() {
                "schemaless".to_string()
            } else {
                describe_schema(s, 0)
            };
            format!("{schema} | {}", describe_value(&s.values, 0))
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    let digits: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("0x{digits}")
}

fn describe_schema(s: &Structured, index: u32) -> String {
    let node = &s.schema[index as usize];
    let mut out = match node.type_ {
        SchemaType::Int8 => "int8",
        SchemaType::Int16 => "int16",
        SchemaType::Int32 => "int32",
        SchemaType::Int64 => "int64",
        SchemaType::Float32 => "float32",
        SchemaType::Float64 => "float64",
        SchemaType::Boolean => "boolean",
        SchemaType::String => "string",
        SchemaType::Bytes => "bytes",
        SchemaType::Array => "array",
        SchemaType::Map => "map",
        SchemaType::Struct => "struct",
    }
    .to_string();
    let mut notes = Vec::new();
    if let Some(name) = &node.name {
        notes.push(
            name.strip_prefix("org.apache.kafka.connect.data.")
                .unwrap_or(name)
                .to_string(),
        );
    }
    if let Some(version) = node.version {
        notes.push(format!("v{version}"));
    }
    if let Some(doc) = &node.doc {
        notes.push(format!("doc={doc:?}"));
    }
    for (k, v) in &node.parameters {
        notes.push(format!("{k}={v}"));
    }
    if !notes.is_empty() {
        out.push_str(&format!("({})", notes.join(" ")));
    }
    match node.type_ {
        SchemaType::Struct => {
            let fields: Vec<String> = node
                .fields
                .iter()
                .map(|f| format!("{}: {}", f.name, describe_schema(s, f.schema)))
                .collect();
            out.push_str(&format!("{{{}}}", fields.join(", ")));
        }
        SchemaType::Array => {
            let items = node
                .value_schema
                .map_or("?".into(), |i| describe_schema(s, i));
            out.push_str(&format!("<{items}>"));
        }
        SchemaType::Map => {
            let keys = node
                .key_schema
                .map_or("?".into(), |i| describe_schema(s, i));
            let values = node
                .value_schema
                .map_or("?".into(), |i| describe_schema(s, i));
            out.push_str(&format!("<{keys}, {values}>"));
        }
        _ => {}
    }
    if node.optional {
        out.push('?');
    }
    if let Some(default) = node.default_value {
        out.push_str(&format!(" = {}", describe_value(&s.values, default)));
    }
    out
}

fn describe_value(values: &[ValueNode], index: u32) -> String {
    match &values[index as usize] {
        ValueNode::Null => "null".into(),
        ValueNode::Boolean(v) => v.to_string(),
        ValueNode::Int8(v) => format!("{v}i8"),
        ValueNode::Int16(v) => format!("{v}i16"),
        ValueNode::Int32(v) => format!("{v}i32"),
        ValueNode::Int64(v) => format!("{v}i64"),
        ValueNode::Float32(v) => format!("{v:?}f32"),
        ValueNode::Float64(v) => format!("{v:?}f64"),
        ValueNode::String(v) => format!("{v:?}"),
        ValueNode::Bytes(v) => hex(v),
        ValueNode::Array(items) => {
            let items: Vec<String> = items.iter().map(|&i| describe_value(values, i)).collect();
            format!("[{}]", items.join(", "))
        }
        ValueNode::Map(entries) => {
            let entries: Vec<String> = entries
                .iter()
                .map(|&(k, v)| {
                    format!(
                        "{} => {}",
                        describe_value(values, k),
                        describe_value(values, v)
                    )
                })
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        ValueNode::Struct(fields) => {
            let fields: Vec<String> = fields
                .iter()
                .map(|(name, v)| format!("{name}: {}", describe_value(values, *v)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
    }
}

// --- json: envelopes -----------------------------------------------------

#[test]
fn every_converter_answers_to_its_kafka_class_and_simple_name() {
    for (name, class) in [
        ("json", "org.apache.kafka.connect.json.JsonConverter"),
        ("string", "org.apache.kafka.connect.storage.StringConverter"),
        (
            "bytearray",
            "org.apache.kafka.connect.converters.ByteArrayConverter",
        ),
        (
            "simple-header",
            "org.apache.kafka.connect.storage.SimpleHeaderConverter",
        ),
    ] {
        let simple = class.rsplit('.').next().unwrap();
        for alias in [name, class, simple] {
            components()
                .try_converter(alias, &[], false)
                .unwrap_or_else(|e| panic!("{alias}: {e:#}"));
        }
    }
}

#[test]
fn json_primitives_round_trip() {
    let mut json = converter("json", &[]);
    for (fixture, expected) in [
        (
            r#"{"schema":{"type":"int8","optional":false},"payload":-128}"#,
            "int8 | -128i8",
        ),
        (
            r#"{"schema":{"type":"int16","optional":false},"payload":32767}"#,
            "int16 | 32767i16",
        ),
        (
            r#"{"schema":{"type":"int32","optional":false},"payload":42}"#,
            "int32 | 42i32",
        ),
        (
            r#"{"schema":{"type":"int64","optional":false},"payload":-9223372036854775808}"#,
            "int64 | -9223372036854775808i64",
        ),
        (
            r#"{"schema":{"type":"boolean","optional":true},"payload":true}"#,
            "boolean? | true",
        ),
        (
            r#"{"schema":{"type":"string","optional":false},"payload":"a\"b\\c\n\t\u0001\u001Fé€𝄞/"}"#,
            "string | \"a\\\"b\\\\c\\n\\t\\u{1}\\u{1f}é€𝄞/\"",
        ),
        (
            r#"{"schema":{"type":"bytes","optional":false},"payload":"AQID/w=="}"#,
            "bytes | 0x010203ff",
        ),
        (
            r#"{"schema":{"type":"bytes","optional":false},"payload":""}"#,
            "bytes | 0x",
        ),
        // An optional schema with a null payload.
        (
            r#"{"schema":{"type":"string","optional":true},"payload":null}"#,
            "string? | null",
        ),
        // Name, version, doc and parameters of a schema that is not logical.
        (
            r#"{"schema":{"type":"string","optional":false,"name":"com.example.Code","version":3,"doc":"A code","parameters":{"length":"4","charset":"ascii"}},"payload":"AB12"}"#,
            "string(com.example.Code v3 doc=\"A code\" length=4 charset=ascii) | \"AB12\"",
        ),
    ] {
        round_trip(&mut json, fixture, expected);
    }
}

#[test]
fn json_nested_structs_arrays_and_maps_round_trip() {
    let mut json = converter("json", &[]);
    let fixture = concat!(
        r#"{"schema":{"type":"struct","fields":["#,
        r#"{"type":"int64","optional":false,"field":"id"},"#,
        r#"{"type":"string","optional":true,"field":"name"},"#,
        r#"{"type":"struct","fields":[{"type":"string","optional":false,"field":"city"},"#,
        r#"{"type":"int32","optional":true,"default":8000,"field":"zip"}],"#,
        r#""optional":false,"name":"com.example.Address","field":"address"},"#,
        r#"{"type":"array","items":{"type":"string","optional":false},"optional":false,"field":"tags"},"#,
        r#"{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"double","optional":false},"optional":false,"field":"scores"},"#,
        r#"{"type":"map","keys":{"type":"int32","optional":false},"values":{"type":"boolean","optional":true},"optional":false,"field":"flags"},"#,
        r#"{"type":"array","items":{"type":"struct","fields":[{"type":"int16","optional":false,"field":"n"}],"optional":true},"optional":true,"field":"parts"},"#,
        r#"{"type":"bytes","optional":false,"field":"blob"}"#,
        r#"],"optional":false,"name":"com.example.Person","version":2,"doc":"A person"},"#,
        r#""payload":{"id":7,"name":null,"address":{"city":"Zürich","zip":8001},"tags":["a","b"],"#,
        r#""scores":{"math":1.5,"art":1.0E10},"flags":[[1,true],[2,null]],"parts":[{"n":1},null],"blob":"AQID"}}"#,
    );
    let expected = concat!(
        "struct(com.example.Person v2 doc=\"A person\"){id: int64, name: string?, ",
        "address: struct(com.example.Address){city: string, zip: int32? = 8000i32}, ",
        "tags: array<string>, scores: map<string, float64>, flags: map<int32, boolean?>, ",
        "parts: array<struct{n: int16}?>?, blob: bytes} | ",
        "{id: 7i64, name: null, address: {city: \"Zürich\", zip: 8001i32}, tags: [\"a\", \"b\"], ",
        "scores: {\"math\" => 1.5f64, \"art\" => 10000000000.0f64}, flags: {1i32 => true, 2i32 => null}, ",
        "parts: [{n: 1i16}, null], blob: 0x010203}",
    );
    round_trip(&mut json, fixture, expected);
}

#[test]
fn json_logical_types_round_trip() {
    let logical = concat!(
        r#"{"schema":{"type":"struct","fields":["#,
        r#"{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"},"field":"price"},"#,
        r#"{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"},"field":"discount"},"#,
        r#"{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Date","version":1,"field":"day"},"#,
        r#"{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Time","version":1,"field":"at"},"#,
        r#"{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"field":"ts"}"#,
        r#"],"optional":false},"payload":{"price":PRICE,"discount":DISCOUNT,"day":19000,"at":45296789,"ts":1641600000000}}"#,
    );
    let expected = concat!(
        "struct{price: bytes(Decimal v1 scale=2), discount: bytes(Decimal v1 scale=2)?, ",
        "day: int32(Date v1), at: int32(Time v1), ts: int64(Timestamp v1)} | ",
        "{price: 0x3039, discount: 0xce, day: 19000i32, at: 45296789i32, ts: 1641600000000i64}",
    );
    // 123.45 is 12345 (0x3039) at scale 2; -0.50 is -50 (0xce).
    let base64 = logical
        .replace("PRICE", r#""MDk=""#)
        .replace("DISCOUNT", r#""zg==""#);
    let numeric = logical
        .replace("PRICE", "123.45")
        .replace("DISCOUNT", "-0.50");
    round_trip(&mut converter("json", &[]), &base64, expected);
    round_trip(
        &mut converter("json", &[("decimal.format", "NUMERIC")]),
        &numeric,
        expected,
    );
    // Either form reads whatever decimal.format says; it only decides writing.
    let mut as_base64 = converter("json", &[("decimal.format", "base64")]);
    let data = read_ok(&mut as_base64, &numeric);
    assert_eq!(describe(&data), expected);
    assert_eq!(
        write_ok(&mut as_base64, data).as_deref(),
        Some(base64.as_str())
    );
    // A number with fewer fraction digits than the scale reads at the scale.
    let short = logical.replace("PRICE", "123.4").replace("DISCOUNT", "-1");
    let data = read_ok(&mut as_base64, &short);
    assert_contains(&describe(&data), "price: 0x3034, discount: 0x9c");
}

#[test]
fn json_decimals_print_as_big_decimal_does() {
    let mut numeric = converter("json", &[("decimal.format", "NUMERIC")]);
    for (scale, payload) in [
        ("0", "12345678901234567890123"),
        ("3", "0.001"),
        ("10", "0.0000012345"),
        ("11", "1.2345E-7"),
        ("-2", "1.2345E+6"),
        ("2", "0.00"),
    ] {
        let fixture = format!(
            r#"{{"schema":{{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{{"scale":"{scale}"}}}},"payload":{payload}}}"#
        );
        let data = read_ok(&mut numeric, &fixture);
        assert_eq!(
            write_ok(&mut numeric, data).as_deref(),
            Some(fixture.as_str())
        );
    }
}

#[test]
fn json_floats_and_doubles_print_as_java_does() {
    let mut json = converter("json", &[]);
    round_trip(
        &mut json,
        r#"{"schema":{"type":"array","items":{"type":"double","optional":false},"optional":false},"payload":[1.0,-2.5,1.0E10,1.5E-4,0.001,100.0,1234567.0,1.0E7,-0.0,0.30000000000000004,4.9E-324,1.7976931348623157E308,"NaN","Infinity","-Infinity"]}"#,
        "array<float64> | [1.0f64, -2.5f64, 10000000000.0f64, 0.00015f64, 0.001f64, 100.0f64, 1234567.0f64, 10000000.0f64, -0.0f64, 0.30000000000000004f64, 5e-324f64, 1.7976931348623157e308f64, NaNf64, inff64, -inff64]",
    );
    round_trip(
        &mut json,
        r#"{"schema":{"type":"array","items":{"type":"float","optional":false},"optional":false},"payload":[1.1,0.1,3.4028235E38,1.0E-5,123456.79,1.4E-45,"NaN"]}"#,
        "array<float32> | [1.1f32, 0.1f32, 3.4028235e38f32, 1e-5f32, 123456.79f32, 1e-45f32, NaNf32]",
    );
}

/// A batch in which schemas are listed once: each item converts to what it
/// would alone, whatever its neighbours, and the JsonConverter renders a
/// listed schema with its defaults as when it travelled with the value.
#[test]
fn json_batch_with_listed_schemas_converts_each_item_as_alone() {
    let with_defaults = |zip: &str, tag: &str| {
        format!(
            concat!(
                r#"{{"schema":{{"type":"struct","fields":["#,
                r#"{{"type":"int32","optional":true,"default":8000,"field":"zip"}},"#,
                r#"{{"type":"string","optional":false,"default":"none","field":"tag"}}"#,
                r#"],"optional":false,"name":"com.example.Tagged"}},"payload":{{"zip":{},"tag":{}}}}}"#,
            ),
            zip, tag
        )
    };
    let number =
        |n: i64| format!(r#"{{"schema":{{"type":"int64","optional":false}},"payload":{n}}}"#);
    let fixtures = [
        with_defaults("1", r#""a""#),
        number(5),
        with_defaults("null", r#""b""#),
        r#"{"schema":null,"payload":{"free":[1,2]}}"#.to_string(),
        number(-6),
        with_defaults("3", "null"),
    ];
    let mut json = converter("json", &[]);
    let mut data: Vec<Option<Data>> = fixtures
        .iter()
        .map(|f| Some(read_ok(&mut json, f)))
        .collect();
    data.insert(2, None);
    data.push(Some(Data::Raw(b"raw".to_vec())));
    let alone: Vec<_> = data.iter().map(|d| write(&mut json, d.clone())).collect();

    let mut schemas = Vec::new();
    let items: Vec<_> = data
        .into_iter()
        .map(|d| d.map(|d| shared::share(d, &mut schemas).expect("well-formed")))
        .collect();
    assert_eq!(
        schemas.len(),
        2,
        "the struct and the int64 schema, once each"
    );
    assert_eq!(schemas[0].defaults.len(), 2, "the struct's two defaults");
    let together = json
        .from_batch("t", &schemas, &items)
        .expect("the converter trapped");
    assert_eq!(together, alone);
    assert_eq!(
        String::from_utf8(together[0].clone().unwrap().unwrap()).unwrap(),
        fixtures[0]
    );
    assert_eq!(
        String::from_utf8(together[3].clone().unwrap().unwrap()).unwrap(),
        with_defaults("8000", r#""b""#)
    );

    // An item that refers to a schema the batch does not list is that
    // item's error; the others convert.
    let mut broken = items.clone();
    if let Some(BatchData::Structured(s)) = &mut broken[1] {
        s.schema = Some(7);
    }
    let results = json
        .from_batch("t", &schemas, &broken)
        .expect("the converter trapped");
    assert_contains(
        results[1].as_ref().unwrap_err(),
        "refers to schema 7 of a batch that lists 2",
    );
    assert_eq!(results[0], alone[0]);
    assert_eq!(results[4], alone[4]);
}

#[test]
fn json_defaults_replace_nulls_unless_told_otherwise() {
    let fixture = concat!(
        r#"{"schema":{"type":"struct","fields":["#,
        r#"{"type":"int32","optional":true,"default":8000,"field":"zip"},"#,
        r#"{"type":"string","optional":false,"default":"none","field":"tag"},"#,
        r#"{"type":"array","items":{"type":"int8","optional":false},"optional":true,"default":[1,2],"field":"list"}"#,
        r#"],"optional":false},"payload":{"zip":null,"tag":null,"list":null}}"#,
    );
    let mut replacing = converter("json", &[]);
    let data = read_ok(&mut replacing, fixture);
    assert_eq!(
        describe(&data),
        "struct{zip: int32? = 8000i32, tag: string = \"none\", list: array<int8>? = [1i8, 2i8]} | \
         {zip: 8000i32, tag: \"none\", list: [1i8, 2i8]}"
    );
    let written = fixture.replace(
        r#"{"zip":null,"tag":null,"list":null}"#,
        r#"{"zip":8000,"tag":"none","list":[1,2]}"#,
    );
    assert_eq!(
        write_ok(&mut replacing, data).as_deref(),
        Some(written.as_str())
    );
    // A missing field is a null too.
    let missing = fixture.replace(r#"{"zip":null,"tag":null,"list":null}"#, "{}");
    let data = read_ok(&mut replacing, &missing);
    assert_contains(
        &describe(&data),
        "{zip: 8000i32, tag: \"none\", list: [1i8, 2i8]}",
    );

    // Without replacement, an optional field stays null; a required one
    // without its value cannot be read.
    let mut keeping = converter("json", &[("replace.null.with.default", "false")]);
    let optional_only = fixture.replace(r#""tag":null"#, r#""tag":"x""#);
    round_trip(
        &mut keeping,
        &optional_only,
        "struct{zip: int32? = 8000i32, tag: string = \"none\", list: array<int8>? = [1i8, 2i8]} | \
         {zip: null, tag: \"x\", list: null}",
    );
    assert_eq!(
        read_error(&mut keeping, fixture),
        "Invalid null value for required STRING field"
    );
}

#[test]
fn json_nulls_and_tombstones() {
    let mut json = converter("json", &[]);
    // A tombstone stays a tombstone both ways.
    assert_eq!(shown(read(&mut json, None)), Ok("null".into()));
    assert_eq!(write(&mut json, None), Ok(None));
    // No schema and a null payload is a null.
    assert_eq!(
        shown(read(&mut json, Some(br#"{"schema":null,"payload":null}"#))),
        Ok("null".into())
    );
    assert_eq!(
        write(&mut json, Some(flat(vec![], vec![ValueNode::Null]))),
        Ok(None)
    );
    // An optional struct that is null keeps its schema.
    round_trip(
        &mut json,
        r#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"a"}],"optional":true},"payload":null}"#,
        "struct{a: int32}? | null",
    );
    // Data without a schema in an envelope.
    round_trip(
        &mut json,
        r#"{"schema":null,"payload":{"a":1,"b":[true,null,"x"],"c":{"d":1.5}}}"#,
        "schemaless | {\"a\" => 1i64, \"b\" => [true, null, \"x\"], \"c\" => {\"d\" => 1.5f64}}",
    );
    // Without envelopes, an optional null is written as JSON null.
    let mut plain = converter("json", &[("schemas.enable", "false")]);
    let mut null_string = schema_node(SchemaType::String);
    null_string.optional = true;
    assert_eq!(
        write_ok(&mut plain, flat(vec![null_string], vec![ValueNode::Null])).as_deref(),
        Some("null")
    );
    assert_eq!(shown(read(&mut plain, Some(b"null"))), Ok("null".into()));
    assert_eq!(shown(read(&mut plain, Some(b""))), Ok("null".into()));
}

#[test]
fn json_without_schemas_round_trips() {
    let mut plain = converter("json", &[("schemas.enable", "false")]);
    for (fixture, expected) in [
        (
            r#"{"id":1,"name":"a","tags":["x","y"],"nested":{"ok":true,"n":null},"ratio":0.25}"#,
            "schemaless | {\"id\" => 1i64, \"name\" => \"a\", \"tags\" => [\"x\", \"y\"], \
             \"nested\" => {\"ok\" => true, \"n\" => null}, \"ratio\" => 0.25f64}",
        ),
        (
            "[1,-2,3.5,1.0E20]",
            "schemaless | [1i64, -2i64, 3.5f64, 1e20f64]",
        ),
        (r#""just a string""#, "schemaless | \"just a string\""),
        ("false", "schemaless | false"),
        ("9223372036854775807", "schemaless | 9223372036854775807i64"),
    ] {
        round_trip(&mut plain, fixture, expected);
    }
    // Whitespace is not kept: Kafka writes compact JSON.
    let data = read_ok(&mut plain, "{ \"a\" : [ 1 , 2 ] }");
    assert_eq!(
        write_ok(&mut plain, data).as_deref(),
        Some(r#"{"a":[1,2]}"#)
    );
    // Schemaless maps with other keys than strings are arrays of pairs.
    let map = flat(
        vec![],
        vec![
            ValueNode::Map(vec![(1, 2)]),
            ValueNode::Int32(1),
            ValueNode::String("one".into()),
        ],
    );
    assert_eq!(write_ok(&mut plain, map).as_deref(), Some(r#"[[1,"one"]]"#));
}

#[test]
fn json_refuses_bad_input_with_kafkas_messages() {
    let mut json = converter("json", &[]);
    let malformed = read_error(&mut json, r#"{"schema":"#);
    assert!(
        malformed.starts_with(
            "Converting byte[] to Kafka Connect data failed due to serialization error: "
        ),
        "{malformed}"
    );
    assert_contains(
        &read_error(&mut json, "{\"a\":tru}"),
        "Unrecognized token 'tru'",
    );
    for not_an_envelope in [
        r#"{"a":1}"#,
        r#"{"schema":null,"payload":1,"x":2}"#,
        "[1]",
        "5",
        "",
    ] {
        assert_eq!(
            read_error(&mut json, not_an_envelope),
            "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may \
             not contain additional fields. If you are trying to deserialize plain JSON data, set \
             schemas.enable=false in your converter configuration."
        );
    }
    let one_field = |type_: &str| {
        format!(
            r#"{{"schema":{{"type":"struct","fields":[{{"type":"{type_}","optional":false,"field":"a"}}],"optional":false}},"payload":PAYLOAD}}"#
        )
    };
    for (fixture, message) in [
        (one_field("int32").replace("PAYLOAD", "[1]"), "Structs should be encoded as JSON objects, but found ARRAY"),
        (one_field("int32").replace("PAYLOAD", r#"{"a":"1"}"#), "INT32 values should be encoded as JSON integers, but found STRING"),
        (one_field("int8").replace("PAYLOAD", r#"{"a":300}"#), "Numeric value (300) out of range of INT8"),
        (one_field("int32").replace("PAYLOAD", r#"{"a":1.5}"#), "INT32 values should be encoded as JSON integers, but found 1.5"),
        (one_field("string").replace("PAYLOAD", r#"{"a":1}"#), "STRING values should be encoded as JSON strings, but found NUMBER"),
        (one_field("boolean").replace("PAYLOAD", r#"{"a":"true"}"#), "BOOLEAN values should be encoded as JSON booleans, but found STRING"),
        (one_field("bytes").replace("PAYLOAD", r#"{"a":"not base64!"}"#), "Invalid bytes field"),
        (one_field("int64").replace("PAYLOAD", "{}"), "Invalid null value for required INT64 field"),
        (one_field("nope").replace("PAYLOAD", "{}"), "Unknown schema type: nope"),
        (r#"{"schema":{"optional":true},"payload":1}"#.into(), "Schema must contain 'type' field"),
        (r#"{"schema":{"type":"array","optional":true},"payload":[]}"#.into(), "Array schema did not specify the element type"),
        (
            r#"{"schema":{"type":"map","keys":{"type":"int32","optional":false},"values":{"type":"int32","optional":false},"optional":false},"payload":{"1":2}}"#.into(),
            "Maps with non-string fields should be encoded as JSON array of tuples, but found OBJECT",
        ),
        (
            r#"{"schema":{"type":"map","keys":{"type":"int32","optional":false},"values":{"type":"int32","optional":false},"optional":false},"payload":[[1,2,3]]}"#.into(),
            "Found invalid map entry, expected length 2 but found :3",
        ),
        (
            r#"{"schema":{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Date"},"payload":"2020-01-01"}"#.into(),
            "Invalid type for Date, underlying representation should be integer but was STRING",
        ),
        (
            r#"{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"1"}},"payload":1.25}"#.into(),
            "BigDecimal has mismatching scale value for given Decimal schema",
        ),
        (
            r#"{"schema":{"type":"string","optional":false,"parameters":{"a":1}},"payload":"x"}"#.into(),
            "Schema parameters must have string values.",
        ),
    ] {
        assert_contains(&read_error(&mut json, &fixture), message);
    }
    let mut plain = converter("json", &[("schemas.enable", "false")]);
    assert_contains(
        &read_error(&mut plain, "[1,]"),
        "Unexpected character (']' (code 93))",
    );
    assert_contains(
        &read_error(&mut plain, "{} {}"),
        "failed due to serialization error",
    );
}

#[test]
fn json_refuses_to_write_data_its_schema_does_not_allow() {
    let mut json = converter("json", &[]);
    // A required struct field that is null and has no default.
    let mut root = schema_node(SchemaType::Struct);
    root.fields = vec![sluice::runtime::bindings::types::SchemaField {
        name: "a".into(),
        schema: 1,
    }];
    let required = flat(
        vec![root, schema_node(SchemaType::Int32)],
        vec![ValueNode::Struct(vec![("a".into(), 1)]), ValueNode::Null],
    );
    assert_eq!(
        write(&mut json, Some(required)),
        Err(
            "Conversion error: null value for field that is required and has no default value"
                .into()
        )
    );
    // A value of another type than its schema's.
    let mismatched = flat(
        vec![schema_node(SchemaType::Int32)],
        vec![ValueNode::String("1".into())],
    );
    assert_eq!(
        write(&mut json, Some(mismatched)),
        Err("Invalid type for INT32: string".into())
    );
}

#[test]
fn json_refuses_bad_configuration() {
    for (config, message) in [
        (
            ("decimal.format", "HEX"),
            "Invalid value HEX for configuration decimal.format: String must be one of (case insensitive): BASE64, NUMERIC",
        ),
        (
            ("schemas.enable", "maybe"),
            "Invalid value maybe for configuration schemas.enable: Expected value to be either true or false",
        ),
        (
            ("schemas.cache.size", "many"),
            "Invalid value many for configuration schemas.cache.size: Not a number of type INT",
        ),
    ] {
        match components().try_converter("json", &[config], false) {
            Ok(_) => panic!("json accepted {config:?}"),
            Err(e) => assert_contains(&format!("{e:#}"), message),
        }
    }
    components()
        .try_converter(
            "JsonConverter",
            &[("schemas.cache.size", "10"), ("schemas.enable", "FALSE")],
            true,
        )
        .expect("a valid configuration");
}

// --- string --------------------------------------------------------------

#[test]
fn string_converter_reads_text_and_writes_java_strings() {
    let mut string = converter("string", &[]);
    let data = read_ok(&mut string, "héllo");
    assert_eq!(describe(&data), "string? | \"héllo\"");
    assert_eq!(write_ok(&mut string, data).as_deref(), Some("héllo"));
    assert_eq!(shown(read(&mut string, None)), Ok("null".into()));
    assert_eq!(write(&mut string, None), Ok(None));
    assert_contains(
        &read(&mut string, Some(&[0x66, 0xff])).unwrap_err(),
        "not valid UTF-8",
    );

    // Other values as Java's toString() prints them.
    let mut with_schema = converter("json", &[]);
    for (fixture, text) in [
        (
            r#"{"schema":{"type":"int32","optional":false},"payload":42}"#,
            "42",
        ),
        (
            r#"{"schema":{"type":"double","optional":false},"payload":1.0E10}"#,
            "1.0E10",
        ),
        (
            r#"{"schema":{"type":"float","optional":false},"payload":0.1}"#,
            "0.1",
        ),
        (
            r#"{"schema":{"type":"boolean","optional":false},"payload":true}"#,
            "true",
        ),
        (
            r#"{"schema":{"type":"array","items":{"type":"int64","optional":true},"optional":false},"payload":[1,null,3]}"#,
            "[1, null, 3]",
        ),
        (
            r#"{"schema":{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"int32","optional":false},"optional":false},"payload":{"a":1,"b":2}}"#,
            "{a=1, b=2}",
        ),
        (
            r#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"a"},{"type":"string","optional":true,"field":"b"},{"type":"string","optional":true,"field":"c"}],"optional":false},"payload":{"a":1,"b":"x","c":null}}"#,
            "Struct{a=1,b=x}",
        ),
        (
            r#"{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2"}},"payload":"MDk="}"#,
            "123.45",
        ),
        (
            r#"{"schema":{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp"},"payload":1641600000000}"#,
            "Sat Jan 08 00:00:00 UTC 2022",
        ),
    ] {
        let data = read_ok(&mut with_schema, fixture);
        assert_eq!(
            write_ok(&mut string, data).as_deref(),
            Some(text),
            "{fixture}"
        );
    }
}

#[test]
fn string_converter_speaks_other_encodings() {
    let mut utf16 = converter("string", &[("converter.encoding", "UTF-16")]);
    let encoded = write(&mut utf16, Some(text("hé"))).unwrap().unwrap();
    assert_eq!(encoded, [0xFE, 0xFF, 0x00, b'h', 0x00, 0xE9]);
    assert_eq!(
        describe(&read(&mut utf16, Some(&encoded)).unwrap().unwrap()),
        "string? | \"hé\""
    );
    let mut latin1 = converter("string", &[("converter.encoding", "ISO-8859-1")]);
    assert_eq!(
        write(&mut latin1, Some(text("hé€"))).unwrap().unwrap(),
        b"h\xE9?"
    );
    match components().try_converter("string", &[("converter.encoding", "EBCDIC")], false) {
        Ok(_) => panic!("an unknown encoding was accepted"),
        Err(e) => assert_contains(&format!("{e:#}"), "Unsupported encoding \"EBCDIC\""),
    }
}

// --- bytearray -----------------------------------------------------------

#[test]
fn bytearray_converter_passes_bytes_and_refuses_the_rest() {
    let mut bytes = converter("bytearray", &[]);
    let data = read(&mut bytes, Some(&[0, 1, 0xff])).unwrap().unwrap();
    assert_eq!(describe(&data), "bytes? | 0x0001ff");
    assert_eq!(write(&mut bytes, Some(data)), Ok(Some(vec![0, 1, 0xff])));
    assert_eq!(shown(read(&mut bytes, None)), Ok("null".into()));
    assert_eq!(
        write(&mut bytes, Some(Data::Raw(b"raw".to_vec()))),
        Ok(Some(b"raw".to_vec()))
    );
    assert_eq!(
        write(&mut bytes, Some(schemaless(r#""text""#))),
        Err(
            "ByteArrayConverter is not compatible with objects of type class java.lang.String"
                .into()
        )
    );
    assert_eq!(
        write(&mut bytes, Some(text("x"))),
        Err("Invalid schema type for ByteArrayConverter: STRING".into())
    );
}

// --- simple-header -------------------------------------------------------

#[test]
fn simple_header_converter_infers_schemas_and_writes_them_back() {
    let mut header = converter("simple-header", &[]);
    for (text, expected) in [
        ("42", "int8 | 42i8"),
        ("-1000", "int16 | -1000i16"),
        ("100000", "int32 | 100000i32"),
        ("10000000000", "int64 | 10000000000i64"),
        ("1.5", "float32 | 1.5f32"),
        ("true", "boolean | true"),
        ("hello world", "string | \"hello world\""),
        ("", "string | \"\""),
        ("[1,2,300]", "array<int16> | [1i16, 2i16, 300i16]"),
        (
            r#"{"a":1,"b":2}"#,
            "map<string, int8> | {\"a\" => 1i8, \"b\" => 2i8}",
        ),
        (r#"["a","b"]"#, "array<string> | [\"a\", \"b\"]"),
        ("2021-03-04", "int32(Date v1) | 18690i32"),
        ("12:34:56.789Z", "int32(Time v1) | 45296789i32"),
        (
            "2021-03-04T05:06:07.089Z",
            "int64(Timestamp v1) | 1614834367089i64",
        ),
        (
            "99999999999999999999",
            "bytes(Decimal v1 scale=0) | 0x056bc75e2d630fffff",
        ),
    ] {
        round_trip(&mut header, text, expected);
    }
    // What does not parse as a whole is a string.
    for text in ["[a,b]", "1,2", "true}", "{\"a\":}"] {
        assert_eq!(
            describe(&read_ok(&mut header, text)),
            format!("string | {text:?}")
        );
    }
    assert_eq!(shown(read(&mut header, Some(b"null"))), Ok("null".into()));
    // Text that is not UTF-8 stays bytes.
    assert_eq!(
        describe(&read(&mut header, Some(&[0xff, 0xfe])).unwrap().unwrap()),
        "bytes | 0xfffe"
    );
}

#[test]
fn simple_header_converter_writes_values_as_kafkas_values_class_does() {
    let mut header = converter("simple-header", &[]);
    let mut with_schema = converter("json", &[]);
    for (fixture, text) in [
        (
            r#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"a"},{"type":"string","optional":true,"field":"b"},{"type":"string","optional":true,"field":"c"}],"optional":false},"payload":{"a":1,"b":"x\"y","c":null}}"#,
            r#"{"a":1,"b":"x\"y","c":null}"#,
        ),
        (
            r#"{"schema":{"type":"array","items":{"type":"double","optional":false},"optional":false},"payload":[1.0,1.0E10]}"#,
            "[1.0,1.0E10]",
        ),
        (
            r#"{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2"}},"payload":"MDk="}"#,
            "123.45",
        ),
        (
            r#"{"schema":{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Date"},"payload":18690}"#,
            "2021-03-04",
        ),
        (
            r#"{"schema":{"type":"bytes","optional":false},"payload":"AQID"}"#,
            "AQID",
        ),
        (
            r#"{"schema":{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"bytes","optional":false},"optional":false},"payload":{"k":"AQID"}}"#,
            r#"{"k":"AQID"}"#,
        ),
    ] {
        let data = read_ok(&mut with_schema, fixture);
        assert_eq!(
            write_ok(&mut header, data).as_deref(),
            Some(text),
            "{fixture}"
        );
    }
    assert_eq!(write(&mut header, None), Ok(None));
}

#[test]
fn json_reads_deep_nesting_up_to_jacksons_limit() {
    let mut plain = converter("json", &[("schemas.enable", "false")]);
    let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
    let data = read_ok(&mut plain, &deep);
    assert_eq!(write_ok(&mut plain, data).as_deref(), Some(deep.as_str()));
    let deeper = format!("{}{}", "[".repeat(1001), "]".repeat(1001));
    assert_contains(
        &read_error(&mut plain, &deeper),
        "Document nesting depth (1001) exceeds the maximum allowed (1000)",
    );
}

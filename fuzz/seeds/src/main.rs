//! Writes the seeds of the `wire_decoder` corpus with the encoder the host
//! and the SDK use: batches as transforms and predicates receive them, and
//! a transform's results. Run from the repository's root:
//! `cargo run --manifest-path fuzz/Cargo.toml -p sluice-fuzz-seeds`.

use std::path::Path;

use sluice_sdk::data::{Schema, SchemaType, Value, logical};
use sluice_sdk::wit::{ConnectRecord, Data, Header};
use sluice_wire::ResultsWriter;

fn record(topic: &str, key: Option<Data>, value: Option<Data>) -> ConnectRecord {
    ConnectRecord {
        topic: topic.into(),
        partition: Some(0),
        offset: Some(42),
        key,
        value,
        headers: Vec::new(),
        timestamp: Some(1_700_000_000_000),
    }
}

/// A struct with a nested struct, an array, a map, a decimal with a default
/// and every primitive type, as a JDBC source or the JSON converter makes.
fn structured() -> Data {
    let mut address = Schema::of(SchemaType::Struct);
    address.fields = vec![
        ("city".into(), Schema::of(SchemaType::String)),
        ("zip".into(), Schema::of(SchemaType::Int32)),
    ];
    address.optional = true;
    let mut tags = Schema::of(SchemaType::Array);
    tags.value = Some(Box::new(Schema::of(SchemaType::String)));
    let mut counts = Schema::of(SchemaType::Map);
    counts.key = Some(Box::new(Schema::of(SchemaType::String)));
    counts.value = Some(Box::new(Schema::of(SchemaType::Int64)));
    let mut amount = Schema::of(SchemaType::Bytes);
    amount.name = Some(logical::DECIMAL.into());
    amount.version = Some(1);
    amount.parameters = vec![(logical::DECIMAL_SCALE.into(), "2".into())];
    amount.optional = true;
    amount.default = Some(Box::new(Value::Bytes(vec![0x01, 0x00])));
    let mut root = Schema::of(SchemaType::Struct);
    root.name = Some("orders.Value".into());
    root.doc = Some("An order".into());
    root.fields = vec![
        ("id".into(), Schema::of(SchemaType::Int64)),
        ("flag".into(), Schema::of(SchemaType::Boolean)),
        ("small".into(), Schema::of(SchemaType::Int8)),
        ("short".into(), Schema::of(SchemaType::Int16)),
        ("ratio".into(), Schema::of(SchemaType::Float32)),
        ("price".into(), Schema::of(SchemaType::Float64)),
        ("blob".into(), Schema::of(SchemaType::Bytes)),
        ("address".into(), address),
        ("tags".into(), tags),
        ("counts".into(), counts),
        ("amount".into(), amount),
    ];
    let value = Value::Struct(vec![
        ("id".into(), Value::Int64(7)),
        ("flag".into(), Value::Boolean(true)),
        ("small".into(), Value::Int8(-1)),
        ("short".into(), Value::Int16(300)),
        ("ratio".into(), Value::Float32(0.5)),
        ("price".into(), Value::Float64(-12.25)),
        ("blob".into(), Value::Bytes(vec![0, 255])),
        (
            "address".into(),
            Value::Struct(vec![
                ("city".into(), Value::String("Zürich".into())),
                ("zip".into(), Value::Int32(8001)),
            ]),
        ),
        (
            "tags".into(),
            Value::Array(vec![Value::String("a".into()), Value::String("b".into())]),
        ),
        (
            "counts".into(),
            Value::Map(vec![(Value::String("x".into()), Value::Int64(1))]),
        ),
        ("amount".into(), Value::Null),
    ]);
    Data::structured(Some(root), value)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap_or_else(|e| panic!("writing {name}: {e}"));
}

fn main() {
    let dir = Path::new("fuzz/corpus/wire_decoder");
    std::fs::create_dir_all(dir).expect("the corpus directory");

    let line = record("lines", None, Some(Data::Raw(b"hello world".to_vec())));
    write(
        dir,
        "raw-line",
        &sluice_wire::encode_batch(std::slice::from_ref(&line)),
    );

    let mut keyed = record(
        "orders",
        Some(Data::Raw(b"{\"id\":7}".to_vec())),
        Some(structured()),
    );
    keyed.headers = vec![
        Header {
            key: "trace".into(),
            value: Some(Data::Raw(b"abc".to_vec())),
        },
        Header {
            key: "empty".into(),
            value: None,
        },
    ];
    let schemaless = record(
        "events",
        None,
        Some(Data::structured(
            None,
            Value::Map(vec![
                (Value::String("n".into()), Value::Int64(-3)),
                (Value::String("f".into()), Value::Float64(f64::NAN)),
                (Value::String("l".into()), Value::Array(vec![Value::Null])),
            ]),
        )),
    );
    let mut tombstone = record("orders", Some(Data::Raw(b"7".to_vec())), None);
    tombstone.partition = None;
    tombstone.offset = None;
    tombstone.timestamp = None;
    write(
        dir,
        "mixed-batch",
        &sluice_wire::encode_batch(&[keyed.clone(), schemaless.clone(), tombstone.clone()]),
    );
    write(
        dir,
        "empty-batch",
        &sluice_wire::encode_batch::<ConnectRecord>(&[]),
    );

    // One record on its own, as a transform's result holds it.
    let mut single = Vec::new();
    sluice_wire::Wire::write(&keyed, &mut single);
    write(dir, "structured-record", &single);

    let mut results = ResultsWriter::with_capacity(0);
    results.record(&line);
    results.dropped();
    results.failed("no field \"id\"");
    results.record(&schemaless);
    write(dir, "transform-results", &results.finish());
}

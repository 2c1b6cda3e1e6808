//! A sink task's work over any [`Session`]: a put read into rows, checked
//! against its tables, and written, with the errors the host acts on.

use sluice_sdk::prelude::*;
use sluice_sdk::sql::SqlError;

use crate::batch::{Batch, Entry, Op};
use crate::config::{InsertMode, SinkConfig};
use crate::dialect::Sql;
use crate::session::Session;
use crate::shape::Shapes;
use crate::tables::{Problem, Tables};
use crate::writer::{WriteError, Writer};

pub struct Sink<S> {
    conn: S,
    sql: Sql,
    insert_mode: InsertMode,
    batch_size: usize,
    shapes: Shapes,
    tables: Tables,
}

impl<S: Session> Sink<S> {
    pub fn new(conn: S, sql: Sql, config: &SinkConfig) -> Sink<S> {
        Sink {
            conn,
            sql,
            insert_mode: config.insert_mode,
            batch_size: config.batch_size,
            shapes: Shapes::new(config, sql),
            tables: Tables::new(config, sql),
        }
    }

    /// Writes `records` in one transaction, or, when one cannot be
    /// written, the records before it, and names it in the error.
    pub fn put(&mut self, mut records: Vec<SinkRecord>) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        if self.shapes.trim() {
            self.tables.forget_shapes();
        }
        let (mut batch, mut rejected) = self.read(&mut records);
        if let Some((index, problem)) = self.resolve(&mut batch)? {
            rejected = Some((index, problem));
        }
        let writer = Writer {
            conn: &self.conn,
            sql: self.sql,
            tables: &self.tables,
            shapes: &self.shapes,
            batch_size: self.batch_size,
        };
        let end = batch.len();
        match writer.write(&mut batch, end) {
            Ok(None) => {}
            Ok(Some(refusal)) => {
                let message = format!(
                    "record {}: table {} refused it: {}",
                    coordinates(&records[refusal.record]),
                    self.tables.name(refusal.table),
                    database_error(&refusal.error)
                );
                self.forget_table_after(&refusal.error, Some(refusal.table));
                return Err(ConnectError::fatal(message).for_record(refusal.record));
            }
            Err(WriteError::Retriable(error)) => {
                return Err(ConnectError::retriable(format!(
                    "writing {end} records failed, and nothing of them was written; the put will \
                     be retried: {}",
                    database_error(&error)
                )));
            }
            Err(WriteError::Unlocated { error, table }) => {
                let table_name = table.map(|t| format!(" to table {}", self.tables.name(t)));
                self.forget_table_after(&error, table);
                return Err(ConnectError::fatal(format!(
                    "writing {end} records{} failed, and the record at fault could not be \
                     found; nothing of them was written: {}",
                    table_name.unwrap_or_default(),
                    database_error(&error)
                )));
            }
        }
        match rejected {
            None => Ok(()),
            Some((index, problem)) => Err(ConnectError::fatal(format!(
                "record {}: {problem}",
                coordinates(&records[index])
            ))
            .for_record(index)),
        }
    }

    /// Reads records into rows, up to the first that cannot be read, which
    /// is returned with its problem. [`Self::resolve`] then sets each
    /// entry's layout and operation.
    fn read(&mut self, records: &mut [SinkRecord]) -> (Batch, Option<(usize, String)>) {
        let mut batch = Batch::with_capacity(records.len());
        for (index, record) in records.iter_mut().enumerate() {
            match self.shapes.read(record) {
                Ok(row) => {
                    let table = self.tables.for_topic(&record.topic);
                    let entry = Entry {
                        table,
                        shape: row.shape,
                        layout: 0,
                        op: Op::Skip,
                    };
                    batch.push(entry, row.values);
                }
                Err(problem) => return (batch, Some((index, problem))),
            }
        }
        (batch, None)
    }

    /// Checks each record's table against its columns (creating or
    /// altering it as configured), binds Timestamps as instants where the
    /// column holds them, and sets each entry's layout and operation. A
    /// record that does not fit its table ends the batch there and is
    /// returned with its problem.
    fn resolve(&mut self, batch: &mut Batch) -> Result<Option<(usize, String)>> {
        let write_op = match self.insert_mode {
            InsertMode::Insert => Op::Insert,
            InsertMode::Upsert => Op::Upsert,
            InsertMode::Update => Op::Update,
        };
        let mut current: Option<(usize, usize, Vec<usize>, Op)> = None;
        for index in 0..batch.len() {
            let Entry {
                table,
                shape: shape_id,
                ..
            } = batch.entries[index];
            let known = matches!(&current, Some((t, s, ..)) if *t == table && *s == shape_id);
            if !known {
                let shape = self.shapes.get(shape_id);
                match self.tables.resolve(&self.conn, table, shape_id, shape) {
                    Ok(resolution) => {
                        let op = if resolution.skip {
                            Op::Skip
                        } else if shape.is_delete() {
                            Op::Delete
                        } else {
                            write_op
                        };
                        current = Some((table, shape_id, resolution.instants, op));
                    }
                    Err(Problem::Record(problem)) => {
                        batch.truncate(index);
                        return Ok(Some((index, problem)));
                    }
                    Err(Problem::Sql { error, doing }) => {
                        let message = format!("{doing}: {}", database_error(&error));
                        return Err(if error.is_retriable() {
                            ConnectError::retriable(message)
                        } else {
                            ConnectError::fatal(message)
                        });
                    }
                }
            }
            let Some((_, _, instants, op)) = &current else {
                unreachable!("resolved above")
            };
            let row = &mut batch.rows[index];
            for &position in instants {
                if let SqlValue::Timestamp(micros) = row[position] {
                    row[position] = SqlValue::Timestamptz(micros);
                }
            }
            let entry = &mut batch.entries[index];
            entry.layout = self.shapes.get(shape_id).layout;
            entry.op = *op;
        }
        Ok(None)
    }

    /// A statement error may come from a table changed behind the sink's
    /// back: read its columns again next time.
    fn forget_table_after(&mut self, error: &SqlError, table: Option<usize>) {
        if let (sql::SqlErrorKind::Statement, Some(table)) = (error.kind, table) {
            self.tables.forget_columns(table);
        }
    }
}

/// `topic-partition@offset`, as the host and Kafka name a record.
fn coordinates(record: &SinkRecord) -> String {
    format!("{}-{}@{}", record.topic, record.partition, record.offset)
}

/// The database's message with its SQLSTATE.
fn database_error(error: &SqlError) -> String {
    match &error.sqlstate {
        Some(state) => format!("{} (SQLSTATE {state})", error.message),
        None => error.message.clone(),
    }
}

#[cfg(test)]
mod tests {
    use sluice_sdk::data::{Schema, Value};
    use sluice_sdk::sql::Dialect;

    use super::*;
    use crate::session::fake::FakeDb;
    use crate::shape::tests::{config, id_key, order, order_schema, record};

    fn sink(db: FakeDb, pairs: &[(&str, &str)]) -> Sink<FakeDb> {
        let config = config(pairs);
        Sink::new(db, Sql::new(Dialect::Postgresql).unwrap(), &config)
    }

    /// Records of topic `orders`, partition 2, offsets 40, 41, ...
    fn batch(parts: Vec<(Option<Data>, Option<Data>)>) -> Vec<SinkRecord> {
        parts
            .into_iter()
            .enumerate()
            .map(|(i, (key, value))| {
                let mut r = record(key, value);
                r.offset = 40 + i as i64;
                r
            })
            .collect()
    }

    fn orders(names: &[&str]) -> Vec<SinkRecord> {
        batch(
            names
                .iter()
                .enumerate()
                .map(|(i, n)| (Some(id_key(i as i64)), Some(order(i as i64, Some(n)))))
                .collect(),
        )
    }

    const ORDERS: &[(&str, &str)] = &[
        ("id", "bigint"),
        ("name", "text"),
        ("amount", "numeric"),
        ("at", "timestamp without time zone"),
    ];

    #[test]
    fn auto_create_makes_the_table_from_the_schema() {
        let mut s = sink(
            FakeDb::default(),
            &[
                ("pk.mode", "record_key"),
                ("insert.mode", "upsert"),
                ("auto.create", "true"),
            ],
        );
        s.put(orders(&["a", "b"])).unwrap();
        let statements = s.conn.statements();
        assert_eq!(
            statements[0],
            "CREATE TABLE IF NOT EXISTS \"orders\" (\n\"id\" BIGINT NOT NULL,\n\"name\" TEXT \
             NULL,\n\"amount\" NUMERIC NULL,\n\"at\" TIMESTAMP NOT NULL,\nPRIMARY KEY(\"id\"))"
        );
        assert!(
            statements[1].ends_with(
                "ON CONFLICT (\"id\") DO UPDATE SET \"name\"=EXCLUDED.\"name\",\
                 \"amount\"=EXCLUDED.\"amount\",\"at\"=EXCLUDED.\"at\""
            ),
            "{}",
            statements[1]
        );
        assert_eq!(s.conn.committed(), ["a", "b"]);
        assert_eq!(
            s.conn.calls(),
            ["create table", "begin", "insert 8 params", "commit"]
        );
        // The table is known now: the next put reads no catalog, runs no DDL.
        s.put(orders(&["c"])).unwrap();
        assert_eq!(s.conn.calls().len(), 7);
    }

    #[test]
    fn a_missing_table_without_auto_create_is_the_records_error() {
        let mut s = sink(FakeDb::default(), &[]);
        let err = s.put(orders(&["a"])).unwrap_err();
        assert_eq!(err.record, Some(0));
        assert_eq!(err.kind, ErrorKind::Fatal);
        assert!(
            err.message
                .starts_with("record orders-2@40: table orders does not exist")
                && err.message.contains("auto.create"),
            "{}",
            err.message
        );
        assert!(s.conn.calls().is_empty());
    }

    #[test]
    fn a_record_that_cannot_be_read_ends_the_batch_after_the_others_are_written() {
        let mut s = sink(FakeDb::default().with_table("orders", ORDERS), &[]);
        let mut records = orders(&["a", "b", "c"]);
        records[2].value = Some(Data::structured(
            Some(order_schema()),
            Value::Struct(vec![
                ("id".into(), Value::String("two".into())),
                ("name".into(), Value::Null),
                ("amount".into(), Value::Null),
                ("at".into(), Value::Int64(0)),
            ]),
        ));
        let err = s.put(records).unwrap_err();
        assert_eq!(err.record, Some(2));
        assert!(
            err.message
                .starts_with("record orders-2@42: field \"id\": it holds a string"),
            "{}",
            err.message
        );
        assert_eq!(s.conn.committed(), ["a", "b"]);
    }

    #[test]
    fn a_tombstone_without_deletes_is_an_error() {
        let mut s = sink(FakeDb::default().with_table("orders", ORDERS), &[]);
        let mut records = orders(&["a", "b"]);
        records[1].value = None;
        let err = s.put(records).unwrap_err();
        assert_eq!(err.record, Some(1));
        assert!(err.message.contains("delete.enabled"), "{}", err.message);
        assert_eq!(s.conn.committed(), ["a"]);
    }

    #[test]
    fn auto_evolve_adds_the_missing_columns() {
        let columns = [ORDERS[0], ORDERS[1], ORDERS[3]];
        let mut s = sink(
            FakeDb::default().with_table("orders", &columns),
            &[("auto.evolve", "true")],
        );
        s.put(orders(&["a"])).unwrap();
        assert_eq!(
            s.conn.statements()[0],
            "ALTER TABLE \"orders\"\nADD COLUMN \"amount\" NUMERIC NULL"
        );
        assert_eq!(s.conn.columns("orders"), ["id", "name", "at", "amount"]);
        assert_eq!(s.conn.committed(), ["a"]);
        // "at" is not optional and has no default: it cannot be added.
        let mut s = sink(
            FakeDb::default().with_table("orders", &ORDERS[..3]),
            &[("auto.evolve", "true")],
        );
        let err = s.put(orders(&["b"])).unwrap_err();
        assert_eq!(err.record, Some(0));
        assert!(
            err.message
                .contains("Cannot ALTER TABLE orders to add missing field \"at\" (Timestamp)"),
            "{}",
            err.message
        );
        assert!(s.conn.calls().is_empty());
    }

    #[test]
    fn a_missing_column_without_auto_evolve_is_named() {
        let db = FakeDb::default().with_table("orders", &ORDERS[..3]);
        let mut s = sink(db, &[]);
        let err = s.put(orders(&["a"])).unwrap_err();
        assert_eq!(err.record, Some(0));
        assert!(
            err.message.contains("table orders has no column \"at\"")
                && err.message.contains("auto.evolve is false"),
            "{}",
            err.message
        );
    }

    #[test]
    fn timestamps_go_into_columns_of_instants_as_instants() {
        let mut columns = ORDERS.to_vec();
        columns[3] = ("at", "timestamp with time zone");
        let db = FakeDb::default().with_table("orders", &columns);
        let mut s = sink(db, &[]);
        s.put(orders(&["a"])).unwrap();
        let copy = &s.conn.statements()[0];
        assert!(copy.contains("Timestamptz(1000000)"), "{copy}");
        assert!(
            copy.starts_with("COPY \"orders\" (\"id\",\"name\",\"amount\",\"at\")"),
            "{copy}"
        );
    }

    #[test]
    fn kafka_coordinates_key_the_rows() {
        let mut s = sink(
            FakeDb::default(),
            &[
                ("pk.mode", "kafka"),
                ("auto.create", "true"),
                ("fields.whitelist", "name"),
                ("table.name.format", "archive.kafka_${topic}"),
            ],
        );
        s.put(orders(&["a"])).unwrap();
        let statements = s.conn.statements();
        assert_eq!(
            statements[0],
            "CREATE TABLE IF NOT EXISTS \"archive\".\"kafka_orders\" (\n\
             \"__connect_topic\" TEXT NOT NULL,\n\"__connect_partition\" INT NOT NULL,\n\
             \"__connect_offset\" BIGINT NOT NULL,\n\"name\" TEXT NULL,\n\
             PRIMARY KEY(\"__connect_topic\",\"__connect_partition\",\"__connect_offset\"))"
        );
        assert!(
            statements[1].ends_with("[[Text(\"a\"), Text(\"orders\"), Int(2), Int(40)]]"),
            "{}",
            statements[1]
        );
    }

    #[test]
    fn deletes_from_a_missing_table_do_nothing() {
        let mut s = sink(
            FakeDb::default(),
            &[("pk.mode", "record_key"), ("delete.enabled", "true")],
        );
        s.put(batch(vec![(Some(id_key(1)), None)])).unwrap();
        assert!(s.conn.statements().is_empty());
    }

    #[test]
    fn a_refused_record_is_named_with_the_database_error() {
        let db = FakeDb::default().with_table("orders", ORDERS);
        let mut s = sink(db, &[]);
        let err = s.put(orders(&["a", "bad", "c"])).unwrap_err();
        assert_eq!(err.record, Some(1));
        assert_eq!(
            err.message,
            "record orders-2@41: table orders refused it: bad value (SQLSTATE 23514)"
        );
        assert_eq!(s.conn.committed(), ["a"]);
    }

    #[test]
    fn a_retriable_failure_asks_for_the_put_again() {
        let db = FakeDb::default().with_table("orders", ORDERS);
        db.state.borrow_mut().retriable = true;
        let mut s = sink(db, &[]);
        let err = s.put(orders(&["a", "bad"])).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Retriable);
        assert_eq!(err.record, None);
        assert!(s.conn.committed().is_empty());
    }

    #[test]
    fn upserts_cast_text_to_the_columns_type() {
        let db = FakeDb::default().with_table(
            "docs",
            &[("id", "uuid"), ("body", "jsonb"), ("n", "integer")],
        );
        let mut s = sink(
            db,
            &[
                ("pk.mode", "record_value"),
                ("pk.fields", "id"),
                ("insert.mode", "upsert"),
            ],
        );
        let schema = Schema::structure(vec![
            ("id".into(), Schema::of(SchemaType::String)),
            ("body".into(), Schema::of(SchemaType::String)),
            ("n".into(), Schema::of(SchemaType::Int32)),
        ]);
        let value = Data::structured(
            Some(schema),
            Value::Struct(vec![
                (
                    "id".into(),
                    Value::String("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".into()),
                ),
                ("body".into(), Value::String("{}".into())),
                ("n".into(), Value::Int32(1)),
            ]),
        );
        let mut records = batch(vec![(None, Some(value))]);
        records[0].topic = "docs".into();
        s.put(records).unwrap();
        assert_eq!(
            s.conn.statements()[0],
            "INSERT INTO \"docs\" (\"body\",\"n\",\"id\") VALUES \
             ($1::\"pg_catalog\".\"jsonb\",$2,$3::\"pg_catalog\".\"uuid\") ON CONFLICT (\"id\") \
             DO UPDATE SET \"body\"=EXCLUDED.\"body\",\"n\"=EXCLUDED.\"n\""
        );
    }

    #[test]
    fn a_primitive_value_asks_for_a_struct() {
        let db = FakeDb::default().with_table("orders", ORDERS);
        let mut s = sink(db, &[]);
        let value = Data::structured(
            Some(Schema::of(SchemaType::String)),
            Value::String("x".into()),
        );
        let err = s.put(batch(vec![(None, Some(value))])).unwrap_err();
        assert!(
            err.message.contains("STRING, not a STRUCT"),
            "{}",
            err.message
        );
    }
}

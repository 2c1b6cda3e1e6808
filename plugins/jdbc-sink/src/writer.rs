//! Writing a batch: all of it in one transaction, so a table never holds
//! part of a put. When the database refuses a statement the transaction is
//! rolled back, the refused record is found (from the row the database
//! names, or by running the failed statement's rows one by one in a
//! transaction that is then rolled back), and the records before it are
//! written again on their own, so the host can hand the refused one to its
//! error policy and put the rest again.

use sluice_sdk::sql::{SqlError, SqlValue};

use crate::batch::{self, Batch, Chunk, Op, Rows, Run};
use crate::dialect::{Columns, Sql};
use crate::session::Session;
use crate::shape::Shapes;
use crate::tables::Tables;
use crate::values::FieldType;

/// A record the database refused, after the records before it were
/// written and committed.
#[derive(Debug)]
pub struct Refusal {
    pub record: usize,
    pub table: usize,
    pub error: SqlError,
}

/// Why nothing of the batch was written.
#[derive(Debug)]
pub enum WriteError {
    /// Retrying the whole put may succeed (a lost connection, a timeout, a
    /// conflict with another transaction).
    Retriable(SqlError),
    /// The database refused the batch and the record it refused could not
    /// be told (a failed commit, a failure that did not happen again).
    Unlocated {
        error: SqlError,
        table: Option<usize>,
    },
}

/// A statement that failed in a transaction.
struct Failed {
    error: SqlError,
    /// The chunk that failed; `None` for `begin` or `commit`.
    chunk: Option<usize>,
}

/// Everything a write needs besides the batch.
pub struct Writer<'a, S: Session> {
    pub conn: &'a S,
    pub sql: Sql,
    pub tables: &'a Tables,
    pub shapes: &'a Shapes,
    pub batch_size: usize,
}

impl<S: Session> Writer<'_, S> {
    /// Writes the first `end` records of `batch` in one transaction. If the
    /// database refuses record `r`, the records before `r` are written and
    /// committed (again in one transaction) and `r` is returned.
    pub fn write(&self, batch: &mut Batch, end: usize) -> Result<Option<Refusal>, WriteError> {
        let mut end = end;
        let mut refusal = None;
        // Each pass ends earlier than the last, so this ends.
        while end > 0 {
            let runs = batch::runs(&batch.entries[..end]);
            let chunks = batch::chunks(
                &runs,
                &batch.rows,
                |layout| self.shapes.layout(layout).key_count,
                self.batch_size,
            );
            if chunks.is_empty() {
                // Only deletes from tables that do not exist.
                break;
            }
            let failed = match self.transaction(batch, &runs, &chunks, None) {
                Ok(()) => break,
                Err(failed) => failed,
            };
            if failed.error.is_retriable() {
                return Err(WriteError::Retriable(failed.error));
            }
            let Some(k) = failed.chunk else {
                return Err(WriteError::Unlocated {
                    error: failed.error,
                    table: None,
                });
            };
            let located = match named_record(&failed.error, &chunks[k]) {
                Some(record) => Ok((record, k, failed.error)),
                None => self.locate(batch, &runs, &chunks, k)?.ok_or(failed.error),
            };
            match located {
                Ok((record, chunk, error)) => {
                    end = record;
                    refusal = Some(Refusal {
                        record,
                        table: runs[chunks[chunk].run].table,
                        error,
                    });
                }
                Err(error) => {
                    return Err(WriteError::Unlocated {
                        error,
                        table: Some(runs[chunks[k].run].table),
                    });
                }
            }
        }
        Ok(refusal)
    }

    /// Finds the record chunk `failed` failed on: in a transaction, runs
    /// the chunks before it as they ran, then its rows one statement each
    /// (the host names the row that fails), and rolls back. `None` if no
    /// record fails that way; else the record, its chunk and the error.
    fn locate(
        &self,
        batch: &mut Batch,
        runs: &[Run],
        chunks: &[Chunk],
        failed: usize,
    ) -> Result<Option<(usize, usize, SqlError)>, WriteError> {
        match self.transaction(batch, runs, &chunks[..=failed], Some(failed)) {
            // Nothing failed this time; the transaction was rolled back.
            Ok(()) => Ok(None),
            Err(Failed { error, .. }) if error.is_retriable() => Err(WriteError::Retriable(error)),
            Err(Failed {
                error,
                chunk: Some(k),
            }) => Ok(named_record(&error, &chunks[k]).map(|record| (record, k, error))),
            Err(Failed { chunk: None, .. }) => Ok(None),
        }
    }

    /// Runs `chunks` in one transaction and commits it, or, with
    /// `one_by_one`, runs that chunk's rows one statement each and rolls
    /// the transaction back whatever happens.
    fn transaction(
        &self,
        batch: &mut Batch,
        runs: &[Run],
        chunks: &[Chunk],
        one_by_one: Option<usize>,
    ) -> Result<(), Failed> {
        let failed = |chunk| move |error| Failed { error, chunk };
        let casts: Vec<Vec<Option<String>>> =
            runs.iter().map(|run| self.casts(batch, run)).collect();
        self.conn.begin().map_err(failed(None))?;
        for (k, chunk) in chunks.iter().enumerate() {
            let run = &runs[chunk.run];
            let one_by_one = one_by_one == Some(k);
            let casts = &casts[chunk.run];
            if let Err(error) = self.execute(&mut batch.rows, run, casts, &chunk.rows, one_by_one) {
                // The statement's error says more than a failed rollback.
                let _ = self.conn.rollback();
                return Err(failed(Some(k))(error));
            }
        }
        if one_by_one.is_some() {
            let _ = self.conn.rollback();
            return Ok(());
        }
        self.conn.commit().map_err(failed(None))
    }

    /// Runs one chunk: a bulk load, a multi-row statement, or (for
    /// `one_by_one`, and always for updates) one statement per row.
    fn execute(
        &self,
        rows: &mut [Vec<SqlValue>],
        run: &Run,
        casts: &[Option<String>],
        chunk: &Rows,
        one_by_one: bool,
    ) -> Result<(), SqlError> {
        let table = self.tables.sql_name(run.table);
        let layout = self.shapes.layout(run.layout);
        let columns = Columns {
            names: &layout.quoted,
            key_count: layout.key_count,
            casts,
        };
        let columns = &columns;
        let sql = self.sql;
        if one_by_one {
            let statement = match run.op {
                Op::Skip => return Ok(()),
                Op::Insert => sql.insert(table, columns, 1),
                Op::Upsert => sql.upsert(table, columns, 1),
                Op::Delete => sql.delete(table, columns, 1),
                Op::Update => match sql.update(table, columns) {
                    Some(statement) => statement,
                    None => return Ok(()),
                },
            };
            return match chunk {
                Rows::Range(range) => self.conn.execute_batch(&statement, &rows[range.clone()]),
                Rows::Picked(picked) => {
                    let picked: Vec<Vec<SqlValue>> =
                        picked.iter().map(|&i| rows[i].clone()).collect();
                    self.conn.execute_batch(&statement, &picked)
                }
            }
            .map(drop);
        }
        match (run.op, chunk) {
            (Op::Skip, _) => Ok(()),
            // COPY reads every value as text of the column's type: no casts.
            (Op::Insert, Rows::Range(range)) => {
                let columns: Vec<&str> = layout.quoted.iter().map(String::as_str).collect();
                self.conn
                    .copy_in(table, &columns, &rows[range.clone()])
                    .map(drop)
            }
            (Op::Update, Rows::Range(range)) => match sql.update(table, columns) {
                Some(statement) => self
                    .conn
                    .execute_batch(&statement, &rows[range.clone()])
                    .map(drop),
                // Every column is a key column: there is nothing to set.
                None => Ok(()),
            },
            (Op::Upsert, _) => {
                let statement = sql.upsert(table, columns, chunk.len());
                self.with_params(rows, chunk, |params| self.conn.execute(&statement, params))
            }
            (Op::Delete, _) => {
                let statement = sql.delete(table, columns, chunk.len());
                self.with_params(rows, chunk, |params| self.conn.execute(&statement, params))
            }
            (Op::Insert | Op::Update, Rows::Picked(_)) => {
                unreachable!("inserts and updates are cut into ranges")
            }
        }
    }

    /// The casts of a run's placeholders (see [`Sql::cast`]).
    fn casts(&self, batch: &Batch, run: &Run) -> Vec<Option<String>> {
        let layout = self.shapes.layout(run.layout);
        // The run's shapes: usually one, whose columns all runs of
        // records share.
        let mut shapes: Vec<usize> = Vec::new();
        for entry in &batch.entries[run.records.clone()] {
            if !shapes.contains(&entry.shape) {
                shapes.push(entry.shape);
            }
        }
        let text = |column: usize| {
            shapes
                .iter()
                .any(|&s| self.shapes.get(s).columns[column].ty == FieldType::String)
        };
        self.tables.casts(run.table, &layout.names, text)
    }

    /// Runs `statement` with the rows of `chunk` as one list of parameters.
    /// The values move into the list and back, rather than being copied:
    /// the batch keeps them in case it must be written again.
    fn with_params(
        &self,
        rows: &mut [Vec<SqlValue>],
        chunk: &Rows,
        statement: impl FnOnce(&[SqlValue]) -> Result<u64, SqlError>,
    ) -> Result<(), SqlError> {
        let width = chunk.records().next().map_or(0, |r| rows[r].len());
        let mut params = Vec::with_capacity(width * chunk.len());
        for record in chunk.records() {
            params.extend(
                rows[record]
                    .iter_mut()
                    .map(|v| std::mem::replace(v, SqlValue::Null)),
            );
        }
        let result = statement(&params);
        let mut params = params.into_iter();
        for record in chunk.records() {
            for (slot, value) in rows[record].iter_mut().zip(&mut params) {
                *slot = value;
            }
        }
        result.map(drop)
    }
}

/// The record a failed statement names: the row the database named, or
/// the only row of the statement.
fn named_record(error: &SqlError, chunk: &Chunk) -> Option<usize> {
    match error.row {
        Some(row) => chunk.rows.record(row as usize),
        None if chunk.rows.len() == 1 => chunk.rows.record(0),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use sluice_sdk::data::{Schema, Value};
    use sluice_sdk::prelude::*;
    use sluice_sdk::sql::Dialect;

    use super::*;
    use crate::batch::Entry;
    use crate::session::fake::FakeDb;
    use crate::shape::tests::{config, id_key, record};

    /// A record keyed by `id` whose value has the one field `name`; a
    /// `None` name makes a tombstone.
    fn named(id: i64, name: Option<&str>) -> SinkRecord {
        let value = name.map(|n| {
            Data::structured(
                Some(Schema::structure(vec![(
                    "name".into(),
                    Schema::of(SchemaType::String),
                )])),
                Value::Struct(vec![("name".into(), Value::String(n.into()))]),
            )
        });
        record(Some(id_key(id)), value)
    }

    struct Setup {
        shapes: Shapes,
        tables: Tables,
        batch: Batch,
    }

    fn setup(op: Op, records: Vec<SinkRecord>) -> Setup {
        let config = config(&[("pk.mode", "record_key"), ("delete.enabled", "true")]);
        let sql = Sql::new(Dialect::Postgresql).unwrap();
        let mut shapes = Shapes::new(&config, sql);
        let mut tables = Tables::new(&config, sql);
        let mut batch = Batch::default();
        for mut record in records {
            let row = shapes.read(&mut record).unwrap();
            let shape = shapes.get(row.shape);
            let entry = Entry {
                table: tables.for_topic(&record.topic),
                shape: row.shape,
                layout: shape.layout,
                op: if shape.is_delete() { Op::Delete } else { op },
            };
            batch.push(entry, row.values);
        }
        Setup {
            shapes,
            tables,
            batch,
        }
    }

    fn write(
        db: &FakeDb,
        setup: &mut Setup,
        batch_size: usize,
    ) -> Result<Option<Refusal>, WriteError> {
        let writer = Writer {
            conn: db,
            sql: Sql::new(Dialect::Postgresql).unwrap(),
            tables: &setup.tables,
            shapes: &setup.shapes,
            batch_size,
        };
        let end = setup.batch.len();
        writer.write(&mut setup.batch, end)
    }

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn a_batch_is_written_in_one_transaction() {
        let db = FakeDb::default();
        let records = (0..5).map(|i| named(i, Some(&format!("r{i}")))).collect();
        let mut s = setup(Op::Insert, records);
        assert!(write(&db, &mut s, 2).unwrap().is_none());
        assert_eq!(db.committed(), names(&["r0", "r1", "r2", "r3", "r4"]));
        assert_eq!(
            db.calls(),
            ["begin", "copy 2", "copy 2", "copy 1", "commit"]
        );
    }

    #[test]
    fn a_refused_bulk_load_commits_the_records_before_the_named_row() {
        let db = FakeDb::default();
        let records = vec![
            named(0, Some("r0")),
            named(1, Some("r1")),
            named(2, Some("bad")),
            named(3, Some("r3")),
        ];
        let mut s = setup(Op::Insert, records);
        let refusal = write(&db, &mut s, 10).unwrap().unwrap();
        assert_eq!(refusal.record, 2);
        assert_eq!(refusal.error.sqlstate.as_deref(), Some("23514"));
        assert_eq!(db.committed(), names(&["r0", "r1"]));
        assert_eq!(
            db.calls(),
            ["begin", "copy 4", "rollback", "begin", "copy 2", "commit"]
        );
    }

    #[test]
    fn a_refused_upsert_is_found_row_by_row_then_the_rest_committed() {
        let db = FakeDb::default();
        let records = vec![
            named(0, Some("r0")),
            named(1, Some("r1")),
            named(2, Some("r2")),
            named(3, Some("bad")),
            named(4, Some("r4")),
        ];
        let mut s = setup(Op::Upsert, records);
        let refusal = write(&db, &mut s, 2).unwrap().unwrap();
        assert_eq!(refusal.record, 3);
        assert_eq!(db.committed(), names(&["r0", "r1", "r2"]));
        assert_eq!(
            db.calls(),
            [
                // The batch: the second statement fails.
                "begin",
                "insert 4 params",
                "insert 4 params",
                "rollback",
                // The search: the first statement as it ran, the second row by row.
                "begin",
                "insert 4 params",
                "insert each of 2",
                "rollback",
                // The records before the refused one.
                "begin",
                "insert 4 params",
                "insert 2 params",
                "commit",
            ]
        );
        // The values moved back into the batch after each statement.
        assert!(s.batch.rows[4].iter().all(|v| !matches!(v, SqlValue::Null)));
    }

    #[test]
    fn an_upsert_writes_the_last_record_of_a_key() {
        let db = FakeDb::default();
        let records = vec![
            named(1, Some("first")),
            named(2, Some("other")),
            named(1, Some("last")),
        ];
        let mut s = setup(Op::Upsert, records);
        assert!(write(&db, &mut s, 100).unwrap().is_none());
        assert_eq!(db.committed(), names(&["other", "last"]));
    }

    #[test]
    fn deletes_keep_their_place_between_upserts() {
        let db = FakeDb::default();
        let records = vec![named(1, Some("a")), named(1, None), named(1, Some("b"))];
        let mut s = setup(Op::Upsert, records);
        assert!(write(&db, &mut s, 100).unwrap().is_none());
        assert_eq!(
            db.calls(),
            [
                "begin",
                "insert 2 params",
                "delete 1 params",
                "insert 2 params",
                "commit"
            ]
        );
    }

    #[test]
    fn a_retriable_failure_writes_nothing() {
        let db = FakeDb::default();
        db.state.borrow_mut().retriable = true;
        let records = vec![named(0, Some("r0")), named(1, Some("bad"))];
        let mut s = setup(Op::Upsert, records);
        assert!(matches!(
            write(&db, &mut s, 10),
            Err(WriteError::Retriable(_))
        ));
        assert!(db.committed().is_empty());
    }

    #[test]
    fn a_failure_that_does_not_happen_again_fails_without_a_record() {
        let db = FakeDb::default();
        db.state.borrow_mut().flaky = Some(1);
        let records = vec![named(0, Some("r0")), named(1, Some("bad"))];
        let mut s = setup(Op::Upsert, records);
        match write(&db, &mut s, 10) {
            Err(WriteError::Unlocated { table: Some(0), .. }) => {}
            other => panic!("{other:?}"),
        }
        assert!(db.committed().is_empty());
    }

    #[test]
    fn a_failed_commit_fails_without_a_record() {
        let db = FakeDb::default();
        db.state.borrow_mut().fail_commit = true;
        let mut s = setup(Op::Insert, vec![named(0, Some("r0"))]);
        assert!(matches!(
            write(&db, &mut s, 10),
            Err(WriteError::Unlocated { table: None, .. })
        ));
        assert!(db.committed().is_empty());
    }

    #[test]
    fn an_update_names_its_row() {
        let db = FakeDb::default();
        let records = vec![
            named(0, Some("r0")),
            named(1, Some("bad")),
            named(2, Some("r2")),
        ];
        let mut s = setup(Op::Update, records);
        let refusal = write(&db, &mut s, 10).unwrap().unwrap();
        assert_eq!(refusal.record, 1);
        assert_eq!(db.committed(), names(&["r0"]));
        assert_eq!(
            db.calls(),
            [
                "begin",
                "update each of 3",
                "rollback",
                "begin",
                "update each of 1",
                "commit"
            ]
        );
    }

    #[test]
    fn the_first_record_refused_ends_the_batch_before_it() {
        let db = FakeDb::default();
        let mut s = setup(
            Op::Insert,
            vec![named(0, Some("bad")), named(1, Some("r1"))],
        );
        let refusal = write(&db, &mut s, 10).unwrap().unwrap();
        assert_eq!(refusal.record, 0);
        assert!(db.committed().is_empty());
        assert_eq!(db.calls(), ["begin", "copy 2", "rollback"]);
    }
}

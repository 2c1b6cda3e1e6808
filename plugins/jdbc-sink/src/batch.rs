//! A put's records as rows ready to write, and how they are cut into
//! statements: consecutive records with the same table, operation and
//! columns form a run (so a key's upserts and deletes keep their order),
//! an upsert run keeps only the last record of each key, and runs are cut
//! into chunks of at most `batch.size` rows, the parameter limit and a few
//! MiB. Pure, so that every cut is unit-tested.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::ops::Range;

use sluice_sdk::sql::SqlValue;

use crate::dialect::Sql;

/// About how many bytes of values one statement carries at most: under
/// MySQL's default `max_allowed_packet` (16 MiB), as the host's own bulk
/// loads.
const MAX_STATEMENT_BYTES: usize = 4 << 20;

/// What a record does to its table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Insert,
    Upsert,
    Update,
    Delete,
    /// A delete from a table that does not exist: nothing to do.
    Skip,
}

/// Where a record goes and what it does there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub table: usize,
    /// The record's shape (its schemas), which decides its layout.
    pub shape: usize,
    /// The columns it writes.
    pub layout: usize,
    pub op: Op,
}

/// A put's records read and resolved: entry `i` and row `i` are record `i`.
#[derive(Debug, Default)]
pub struct Batch {
    pub entries: Vec<Entry>,
    /// Each record's values in its layout's column order.
    pub rows: Vec<Vec<SqlValue>>,
}

impl Batch {
    pub fn with_capacity(n: usize) -> Batch {
        Batch {
            entries: Vec::with_capacity(n),
            rows: Vec::with_capacity(n),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn push(&mut self, entry: Entry, row: Vec<SqlValue>) {
        self.entries.push(entry);
        self.rows.push(row);
    }

    /// Keeps the first `n` records.
    pub fn truncate(&mut self, n: usize) {
        self.entries.truncate(n);
        self.rows.truncate(n);
    }
}

/// Consecutive records with the same table, layout and operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub table: usize,
    pub layout: usize,
    pub op: Op,
    pub records: Range<usize>,
}

/// The runs of `entries`.
pub fn runs(entries: &[Entry]) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        match runs.last_mut() {
            Some(run)
                if run.table == entry.table && run.layout == entry.layout && run.op == entry.op =>
            {
                run.records.end = i + 1;
            }
            _ => runs.push(Run {
                table: entry.table,
                layout: entry.layout,
                op: entry.op,
                records: i..i + 1,
            }),
        }
    }
    runs
}

/// The records one statement writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rows {
    /// Consecutive records: their rows are a slice of the batch's.
    Range(Range<usize>),
    /// Records picked out of a run (an upsert's last record per key), in
    /// order.
    Picked(Vec<usize>),
}

impl Rows {
    pub fn len(&self) -> usize {
        match self {
            Rows::Range(range) => range.len(),
            Rows::Picked(picked) => picked.len(),
        }
    }

    /// The record of the statement's row `row`.
    pub fn record(&self, row: usize) -> Option<usize> {
        match self {
            Rows::Range(range) => (row < range.len()).then(|| range.start + row),
            Rows::Picked(picked) => picked.get(row).copied(),
        }
    }

    /// The records, in order.
    pub fn records(&self) -> impl Iterator<Item = usize> + '_ {
        let (range, picked) = match self {
            Rows::Range(range) => (range.clone(), &[][..]),
            Rows::Picked(picked) => (0..0, picked.as_slice()),
        };
        range.chain(picked.iter().copied())
    }
}

/// One statement's share of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// Index into the runs.
    pub run: usize,
    pub rows: Rows,
}

/// Cuts `runs` into statements.
pub fn chunks(
    runs: &[Run],
    rows: &[Vec<SqlValue>],
    key_counts: impl Fn(usize) -> usize,
    batch_size: usize,
) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    for (index, run) in runs.iter().enumerate() {
        let range = run.records.clone();
        let width = rows[range.start].len();
        match run.op {
            Op::Skip => {}
            // A bulk load and per-row updates have no parameter limit of
            // their own (the host cuts bulk loads to the database's).
            Op::Insert | Op::Update => {
                let mut start = range.start;
                while start < range.end {
                    let end = range.end.min(start + batch_size);
                    chunks.push(Chunk {
                        run: index,
                        rows: Rows::Range(start..end),
                    });
                    start = end;
                }
            }
            Op::Delete => {
                let limit = Sql::rows_per_statement(width, batch_size);
                let first = range.start;
                for piece in cut(range.len(), limit, |i| row_bytes(&rows[first + i])) {
                    chunks.push(Chunk {
                        run: index,
                        rows: Rows::Range(first + piece.start..first + piece.end),
                    });
                }
            }
            Op::Upsert => {
                let limit = Sql::rows_per_statement(width, batch_size);
                let kept = last_per_key(rows, range, key_counts(run.layout));
                for piece in cut(kept.len(), limit, |i| row_bytes(&rows[kept[i]])) {
                    chunks.push(Chunk {
                        run: index,
                        rows: Rows::Picked(kept[piece].to_vec()),
                    });
                }
            }
        }
    }
    chunks
}

/// Cuts `n` rows into pieces of at most `limit` rows and about
/// [`MAX_STATEMENT_BYTES`] (`bytes` tells a row's size).
fn cut(n: usize, limit: usize, bytes: impl Fn(usize) -> usize) -> Vec<Range<usize>> {
    let mut pieces = Vec::new();
    let mut start = 0;
    while start < n {
        let mut end = start;
        let mut size = 0;
        while end < n && end - start < limit && size < MAX_STATEMENT_BYTES {
            size += bytes(end);
            end += 1;
        }
        pieces.push(start..end);
        start = end;
    }
    pieces
}

/// About how many bytes a row's values take on the wire.
fn row_bytes(row: &[SqlValue]) -> usize {
    row.iter()
        .map(|value| match value {
            SqlValue::Numeric(s) | SqlValue::Text(s) => s.len() + 4,
            SqlValue::Bytes(b) => b.len() + 4,
            _ => 9,
        })
        .sum()
}

/// The records of `range` that are the last of their key (the last
/// `key_count` values of a row), in order. PostgreSQL refuses an upsert
/// that touches one row twice, and only the last write of a key counts
/// anyway: the records of a run write the same columns.
pub fn last_per_key(rows: &[Vec<SqlValue>], range: Range<usize>, key_count: usize) -> Vec<usize> {
    let key = |i: usize| {
        let row = &rows[i];
        Key(&row[row.len() - key_count..])
    };
    let mut last: HashMap<Key<'_>, usize> = HashMap::with_capacity(range.len());
    for i in range.clone() {
        last.insert(key(i), i);
    }
    if last.len() == range.len() {
        return range.collect();
    }
    range.filter(|&i| last[&key(i)] == i).collect()
}

/// A row's key values, hashed and compared as the database compares them
/// (near enough: floats by value, with 0.0 and -0.0 the same).
struct Key<'a>(&'a [SqlValue]);

impl Hash for Key<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for value in self.0 {
            match value {
                SqlValue::Null => state.write_u8(0),
                SqlValue::Boolean(b) => b.hash(state),
                SqlValue::Int(i) => i.hash(state),
                SqlValue::Float(f) => float_bits(*f).hash(state),
                SqlValue::Numeric(s) | SqlValue::Text(s) => s.hash(state),
                SqlValue::Bytes(b) => b.hash(state),
                SqlValue::Date(d) => d.hash(state),
                SqlValue::Time(t) | SqlValue::Timestamp(t) | SqlValue::Timestamptz(t) => {
                    t.hash(state)
                }
            }
        }
    }
}

impl PartialEq for Key<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len() && self.0.iter().zip(other.0).all(|(a, b)| same(a, b))
    }
}

impl Eq for Key<'_> {}

fn float_bits(f: f64) -> u64 {
    if f == 0.0 { 0 } else { f.to_bits() }
}

fn same(a: &SqlValue, b: &SqlValue) -> bool {
    use SqlValue as V;
    match (a, b) {
        (V::Null, V::Null) => true,
        (V::Boolean(a), V::Boolean(b)) => a == b,
        (V::Int(a), V::Int(b)) => a == b,
        (V::Float(a), V::Float(b)) => float_bits(*a) == float_bits(*b),
        (V::Numeric(a), V::Numeric(b)) | (V::Text(a), V::Text(b)) => a == b,
        (V::Bytes(a), V::Bytes(b)) => a == b,
        (V::Date(a), V::Date(b)) => a == b,
        (V::Time(a), V::Time(b))
        | (V::Timestamp(a), V::Timestamp(b))
        | (V::Timestamptz(a), V::Timestamptz(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(table: usize, layout: usize, op: Op) -> Entry {
        Entry {
            table,
            shape: layout,
            layout,
            op,
        }
    }

    #[test]
    fn runs_split_where_table_op_or_columns_change() {
        let entries = [
            entry(0, 0, Op::Upsert),
            entry(0, 0, Op::Upsert),
            entry(0, 1, Op::Delete),
            entry(0, 0, Op::Upsert),
            entry(1, 0, Op::Upsert),
            entry(1, 0, Op::Upsert),
            entry(1, 2, Op::Upsert),
        ];
        let ranges: Vec<(Op, Range<usize>)> = runs(&entries)
            .into_iter()
            .map(|r| (r.op, r.records))
            .collect();
        assert_eq!(
            ranges,
            [
                (Op::Upsert, 0..2),
                (Op::Delete, 2..3),
                (Op::Upsert, 3..4),
                (Op::Upsert, 4..6),
                (Op::Upsert, 6..7)
            ]
        );
        assert!(runs(&[]).is_empty());
    }

    fn row(key: i64, value: &str) -> Vec<SqlValue> {
        vec![SqlValue::Text(value.into()), SqlValue::Int(key)]
    }

    #[test]
    fn upserts_keep_the_last_record_of_each_key_in_order() {
        let rows = vec![
            row(1, "a"),
            row(2, "b"),
            row(1, "c"),
            row(3, "d"),
            row(2, "e"),
        ];
        assert_eq!(last_per_key(&rows, 0..5, 1), [2, 3, 4]);
        assert_eq!(last_per_key(&rows, 1..4, 1), [1, 2, 3]);
        // Composite keys compare every part.
        let pairs = vec![
            vec![SqlValue::Int(1), SqlValue::Text("x".into())],
            vec![SqlValue::Int(1), SqlValue::Text("y".into())],
            vec![SqlValue::Int(1), SqlValue::Text("x".into())],
        ];
        assert_eq!(last_per_key(&pairs, 0..3, 2), [1, 2]);
        let floats = vec![vec![SqlValue::Float(0.0)], vec![SqlValue::Float(-0.0)]];
        assert_eq!(last_per_key(&floats, 0..2, 1), [1]);
    }

    #[test]
    fn chunks_respect_batch_size_and_the_parameter_limit() {
        let rows: Vec<Vec<SqlValue>> = (0..10).map(|i| row(i % 4, "v")).collect();
        let runs = vec![
            Run {
                table: 0,
                layout: 0,
                op: Op::Insert,
                records: 0..5,
            },
            Run {
                table: 0,
                layout: 0,
                op: Op::Upsert,
                records: 5..10,
            },
        ];
        let chunks = chunks(&runs, &rows, |_| 1, 2);
        let cuts: Vec<(usize, Rows)> = chunks.into_iter().map(|c| (c.run, c.rows)).collect();
        assert_eq!(
            cuts,
            [
                (0, Rows::Range(0..2)),
                (0, Rows::Range(2..4)),
                (0, Rows::Range(4..5)),
                // Records 5..10 have keys 1, 2, 3, 0, 1: record 5 gives way to 9.
                (1, Rows::Picked(vec![6, 7])),
                (1, Rows::Picked(vec![8, 9])),
            ]
        );
    }

    #[test]
    fn deletes_are_cut_by_the_parameter_limit() {
        let width = 40_000;
        let rows: Vec<Vec<SqlValue>> = (0..3).map(|_| vec![SqlValue::Int(1); width]).collect();
        let runs = vec![Run {
            table: 0,
            layout: 0,
            op: Op::Delete,
            records: 0..3,
        }];
        let cuts: Vec<Rows> = chunks(&runs, &rows, |_| width, 100)
            .into_iter()
            .map(|c| c.rows)
            .collect();
        assert_eq!(
            cuts,
            [Rows::Range(0..1), Rows::Range(1..2), Rows::Range(2..3)]
        );
    }

    #[test]
    fn big_values_make_smaller_statements() {
        let big = "x".repeat(1 << 20);
        let rows: Vec<Vec<SqlValue>> = (0..10).map(|i| row(i, &big)).collect();
        let runs = vec![Run {
            table: 0,
            layout: 0,
            op: Op::Upsert,
            records: 0..10,
        }];
        let sizes: Vec<usize> = chunks(&runs, &rows, |_| 1, 3000)
            .iter()
            .map(|c| c.rows.len())
            .collect();
        assert_eq!(sizes, [4, 4, 2]);
    }

    #[test]
    fn statement_rows_map_back_to_records() {
        let picked = Rows::Picked(vec![3, 7]);
        assert_eq!(picked.record(1), Some(7));
        assert_eq!(picked.record(2), None);
        let range = Rows::Range(4..6);
        assert_eq!(range.record(1), Some(5));
        assert_eq!(range.record(2), None);
        assert_eq!(range.records().collect::<Vec<_>>(), [4, 5]);
        assert_eq!(picked.records().collect::<Vec<_>>(), [3, 7]);
    }
}

//! The SQL text the sink sends, per dialect: quoted identifiers and
//! placeholders, multi-row upserts, updates and deletes, CREATE and ALTER
//! TABLE from a record's schema, and the catalog query that reads a
//! table's columns. Pure string building, so every statement is unit-tested.

use std::fmt::Write;

use sluice_sdk::sql::{Dialect, SqlValue};

use crate::column::ColumnSpec;
use crate::values::FieldType;

/// The most placeholders one statement may carry on PostgreSQL and MySQL
/// (their wire protocols count parameters in 16 bits).
pub const MAX_PARAMETERS: usize = u16::MAX as usize;

/// A table as the configuration names it: everything before the first
/// dot is the schema (a MySQL database), the rest the table.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TableId {
    pub schema: Option<String>,
    pub name: String,
}

impl TableId {
    pub fn parse(full: &str) -> TableId {
        match full.split_once('.') {
            Some((schema, name)) => TableId {
                schema: Some(schema.to_string()),
                name: name.to_string(),
            },
            None => TableId {
                schema: None,
                name: full.to_string(),
            },
        }
    }
}

impl std::fmt::Display for TableId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.schema {
            Some(schema) => write!(f, "{schema}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// The columns of a statement: their quoted names in row order, the last
/// `key_count` of them the key, and the casts their placeholders need
/// (empty when none does).
#[derive(Clone, Copy, Debug)]
pub struct Columns<'a> {
    pub names: &'a [String],
    pub key_count: usize,
    pub casts: &'a [Option<String>],
}

impl Columns<'_> {
    fn cast(&self, column: usize) -> Option<&str> {
        self.casts.get(column).and_then(|c| c.as_deref())
    }

    /// The value columns and the key columns.
    fn split(&self) -> (&[String], &[String]) {
        self.names.split_at(self.names.len() - self.key_count)
    }
}

/// The SQL of one database: the connection's dialect, fixed for the task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sql {
    dialect: Dialect,
}

impl Sql {
    /// The sink speaks PostgreSQL and MySQL/MariaDB; `None` for others.
    pub fn new(dialect: Dialect) -> Option<Sql> {
        match dialect {
            Dialect::Postgresql | Dialect::Mysql => Some(Sql { dialect }),
            Dialect::Sqlite => None,
        }
    }

    /// The database's name, for messages.
    pub fn name(self) -> &'static str {
        if self.is_postgres() {
            "PostgreSQL"
        } else {
            "MySQL/MariaDB"
        }
    }

    fn is_postgres(self) -> bool {
        self.dialect == Dialect::Postgresql
    }

    /// An identifier quoted, its quote characters doubled: `"x"` on
    /// PostgreSQL, `` `x` `` on MySQL.
    pub fn quote(self, identifier: &str) -> String {
        let q = if self.is_postgres() { '"' } else { '`' };
        let mut out = String::with_capacity(identifier.len() + 2);
        out.push(q);
        for c in identifier.chars() {
            if c == q {
                out.push(q);
            }
            out.push(c);
        }
        out.push(q);
        out
    }

    /// A table's name as SQL, each part quoted.
    pub fn table(self, id: &TableId) -> String {
        match &id.schema {
            Some(schema) => format!("{}.{}", self.quote(schema), self.quote(&id.name)),
            None => self.quote(&id.name),
        }
    }

    /// Appends placeholder `n` (1-based), with its cast if it has one.
    fn placeholder(self, out: &mut String, n: usize, cast: Option<&str>) {
        if self.is_postgres() {
            write!(out, "${n}").expect("writing to a String");
        } else {
            out.push('?');
        }
        if let Some(cast) = cast {
            write!(out, "::{cast}").expect("writing to a String");
        }
    }

    /// Appends `rows` tuples of placeholders for `columns`, numbered from
    /// 1: `($1,$2),($3,$4)`.
    fn tuples(self, out: &mut String, columns: &Columns<'_>, rows: usize) {
        let mut n = 0;
        for row in 0..rows {
            if row > 0 {
                out.push(',');
            }
            out.push('(');
            for column in 0..columns.names.len() {
                if column > 0 {
                    out.push(',');
                }
                n += 1;
                self.placeholder(out, n, columns.cast(column));
            }
            out.push(')');
        }
    }

    /// How many rows of `width` values one statement may carry.
    pub fn rows_per_statement(width: usize, batch_size: usize) -> usize {
        (MAX_PARAMETERS / width.max(1)).clamp(1, batch_size.max(1))
    }

    /// `INSERT INTO t (c, ...) VALUES (..), ...` of `rows` rows.
    pub fn insert(self, table: &str, columns: &Columns<'_>, rows: usize) -> String {
        let mut out = String::with_capacity(64 + rows * columns.names.len() * 6);
        write!(
            out,
            "INSERT INTO {table} ({}) VALUES ",
            columns.names.join(",")
        )
        .expect("String");
        self.tuples(&mut out, columns, rows);
        out
    }

    /// A multi-row upsert: PostgreSQL's `ON CONFLICT (key) DO UPDATE SET
    /// c = EXCLUDED.c`, MySQL's `ON DUPLICATE KEY UPDATE c = VALUES(c)`.
    /// When every column is a key column there is nothing to update: `DO
    /// NOTHING`, or `k = k` on MySQL.
    pub fn upsert(self, table: &str, columns: &Columns<'_>, rows: usize) -> String {
        let mut out = self.insert(table, columns, rows);
        let (values, keys) = columns.split();
        if self.is_postgres() {
            write!(out, " ON CONFLICT ({}) DO ", keys.join(",")).expect("String");
            if values.is_empty() {
                out.push_str("NOTHING");
            } else {
                out.push_str("UPDATE SET ");
                for (i, c) in values.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write!(out, "{c}=EXCLUDED.{c}").expect("String");
                }
            }
        } else {
            out.push_str(" ON DUPLICATE KEY UPDATE ");
            if values.is_empty() {
                write!(out, "{k}={k}", k = keys[0]).expect("String");
            } else {
                for (i, c) in values.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write!(out, "{c}=VALUES({c})").expect("String");
                }
            }
        }
        out
    }

    /// `UPDATE t SET a = $1, ... WHERE k = $n AND ...` for one row in row
    /// order (the values, then the key). `None` when every column is a key
    /// column: there is nothing to set.
    pub fn update(self, table: &str, columns: &Columns<'_>) -> Option<String> {
        let (values, _) = columns.split();
        if values.is_empty() {
            return None;
        }
        let mut out = format!("UPDATE {table} SET ");
        for (i, c) in values.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            write!(out, "{c} = ").expect("String");
            self.placeholder(&mut out, i + 1, columns.cast(i));
        }
        out.push_str(" WHERE ");
        self.key_equals(&mut out, columns, values.len());
        Some(out)
    }

    /// `k1 = $n+1 AND k2 = $n+2` for the key columns, which start at
    /// column `first`.
    fn key_equals(self, out: &mut String, columns: &Columns<'_>, first: usize) {
        for (i, k) in columns.names[first..].iter().enumerate() {
            if i > 0 {
                out.push_str(" AND ");
            }
            write!(out, "{k} = ").expect("String");
            self.placeholder(out, first + i + 1, columns.cast(first + i));
        }
    }

    /// Deletes the rows of `rows` keys (every column is a key column):
    /// `WHERE k IN ($1, ...)`, or `WHERE (a, b) IN (($1, $2), ...)` for a
    /// composite key; one row by plain equalities.
    pub fn delete(self, table: &str, keys: &Columns<'_>, rows: usize) -> String {
        let mut out = format!("DELETE FROM {table} WHERE ");
        if rows == 1 {
            self.key_equals(&mut out, keys, 0);
        } else if keys.names.len() == 1 {
            write!(out, "{} IN (", keys.names[0]).expect("String");
            for n in 1..=rows {
                if n > 1 {
                    out.push(',');
                }
                self.placeholder(&mut out, n, keys.cast(0));
            }
            out.push(')');
        } else {
            write!(out, "({}) IN (", keys.names.join(",")).expect("String");
            self.tuples(&mut out, keys, rows);
            out.push(')');
        }
        out
    }

    /// The cast a PostgreSQL placeholder needs to go into a column of type
    /// `udt_schema.udt_name`; `text` when some value for it is text. The
    /// host binds each value with its own type, which PostgreSQL assigns
    /// to a column of a like type (an int8 to an integer column) but not
    /// text to an integer, a uuid, a json or an enum column. Casting to
    /// the column's type reads the text as that type, as COPY reads it for
    /// inserts, and changes nothing for other values (an explicit cast
    /// allows what an assignment does). MySQL converts strings by itself.
    pub fn cast(self, udt_schema: &str, udt_name: &str, text: bool) -> Option<String> {
        const TEXT: &[&str] = &["text", "varchar", "bpchar", "name"];
        const BOUND: &[&str] = &[
            "bool",
            "int2",
            "int4",
            "int8",
            "float4",
            "float8",
            "numeric",
            "bytea",
            "date",
            "time",
            "timestamp",
            "timestamptz",
        ];
        let builtin = udt_schema == "pg_catalog";
        let needed = if builtin && TEXT.contains(&udt_name) {
            false
        } else if builtin && BOUND.contains(&udt_name) {
            text
        } else {
            true
        };
        (self.is_postgres() && needed)
            .then(|| format!("{}.{}", self.quote(udt_schema), self.quote(udt_name)))
    }

    /// The query of a table's columns, in order, from
    /// `information_schema.columns`: name and data type, and on PostgreSQL
    /// the type's schema and name for casts. Its parameters are the
    /// schema, when the name has one, and the table name. PostgreSQL's
    /// catalog columns are domains over `name`: cast to text for the host.
    pub fn columns_query(self, qualified: bool) -> &'static str {
        match (self.is_postgres(), qualified) {
            (true, false) => {
                "SELECT column_name::text, data_type::text, udt_schema::text, udt_name::text \
                 FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 \
                 ORDER BY ordinal_position"
            }
            (true, true) => {
                "SELECT column_name::text, data_type::text, udt_schema::text, udt_name::text \
                 FROM information_schema.columns \
                 WHERE table_schema = $1 AND table_name = $2 \
                 ORDER BY ordinal_position"
            }
            (false, false) => {
                "SELECT column_name, data_type \
                 FROM information_schema.columns \
                 WHERE table_schema = DATABASE() AND table_name = ? \
                 ORDER BY ordinal_position"
            }
            (false, true) => {
                "SELECT column_name, data_type \
                 FROM information_schema.columns \
                 WHERE table_schema = ? AND table_name = ? \
                 ORDER BY ordinal_position"
            }
        }
    }

    /// Whether a column of `data_type` (as `information_schema` writes it)
    /// holds instants, so a Timestamp is bound as one: PostgreSQL's
    /// `timestamp with time zone`, MySQL's `timestamp` (a `datetime` is a
    /// wall clock).
    pub fn holds_instants(self, data_type: &str) -> bool {
        if self.is_postgres() {
            data_type.eq_ignore_ascii_case("timestamp with time zone")
        } else {
            data_type.eq_ignore_ascii_case("timestamp")
        }
    }

    /// Whether two column names are the same column: PostgreSQL's quoted
    /// names are exact, MySQL's column names ignore case.
    pub fn same_column(self, a: &str, b: &str) -> bool {
        if self.is_postgres() {
            a == b
        } else {
            a.eq_ignore_ascii_case(b)
        }
    }

    /// The column type for `ty`; `in_key` for a primary key column, which
    /// MySQL cannot index as TEXT or BLOB.
    pub fn column_type(self, ty: FieldType, in_key: bool) -> String {
        let fixed = match (self.is_postgres(), ty) {
            (true, FieldType::Int8 | FieldType::Int16) => "SMALLINT",
            (true, FieldType::Int32) => "INT",
            (true, FieldType::Int64) => "BIGINT",
            (true, FieldType::Float32) => "REAL",
            (true, FieldType::Float64) => "DOUBLE PRECISION",
            (true, FieldType::Boolean) => "BOOLEAN",
            (true, FieldType::String) => "TEXT",
            (true, FieldType::Bytes) => "BYTEA",
            (true, FieldType::Decimal(_)) => "NUMERIC",
            (true, FieldType::Date) => "DATE",
            (true, FieldType::Time) => "TIME",
            (true, FieldType::Timestamp) => "TIMESTAMP",
            (false, FieldType::Int8) => "TINYINT",
            (false, FieldType::Int16) => "SMALLINT",
            (false, FieldType::Int32) => "INT",
            (false, FieldType::Int64) => "BIGINT",
            (false, FieldType::Float32) => "FLOAT",
            (false, FieldType::Float64) => "DOUBLE",
            (false, FieldType::Boolean) => "TINYINT(1)",
            (false, FieldType::String) if in_key => "VARCHAR(256)",
            (false, FieldType::String) => "TEXT",
            (false, FieldType::Bytes) if in_key => "VARBINARY(255)",
            (false, FieldType::Bytes) => "BLOB",
            // MySQL's DECIMAL takes a scale of 0 to 30.
            (false, FieldType::Decimal(scale)) => {
                return format!("DECIMAL(65,{})", scale.clamp(0, 30));
            }
            (false, FieldType::Date) => "DATE",
            (false, FieldType::Time) => "TIME(3)",
            (false, FieldType::Timestamp) => "DATETIME(3)",
        };
        fixed.to_string()
    }

    /// `"name" TYPE [DEFAULT v] NULL|NOT NULL`. Key columns are never null.
    fn column_definition(self, out: &mut String, column: &ColumnSpec) {
        let ty = self.column_type(column.ty, column.key);
        write!(out, "{} {ty}", self.quote(&column.name)).expect("String");
        if let Some(literal) = column.default.as_ref().and_then(|v| self.literal(v)) {
            write!(out, " DEFAULT {literal}").expect("String");
        }
        out.push_str(if column.optional && !column.key {
            " NULL"
        } else {
            " NOT NULL"
        });
    }

    /// `CREATE TABLE IF NOT EXISTS` with the key columns first, then the
    /// others, and the key as the primary key. `IF NOT EXISTS` because
    /// another task may create the same table at the same time.
    pub fn create_table(self, table: &str, columns: &[ColumnSpec]) -> String {
        let mut out = format!("CREATE TABLE IF NOT EXISTS {table} (");
        let ordered = columns
            .iter()
            .filter(|c| c.key)
            .chain(columns.iter().filter(|c| !c.key));
        for (i, column) in ordered.enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('\n');
            self.column_definition(&mut out, column);
        }
        let keys: Vec<String> = columns
            .iter()
            .filter(|c| c.key)
            .map(|c| self.quote(&c.name))
            .collect();
        if !keys.is_empty() {
            write!(out, ",\nPRIMARY KEY({})", keys.join(",")).expect("String");
        }
        out.push(')');
        out
    }

    /// One `ALTER TABLE` that adds every column of `columns`.
    pub fn add_columns(self, table: &str, columns: &[&ColumnSpec]) -> String {
        let mut out = format!("ALTER TABLE {table}");
        for (i, column) in columns.iter().enumerate() {
            out.push_str(if i > 0 { ",\n" } else { "\n" });
            out.push_str("ADD COLUMN ");
            self.column_definition(&mut out, column);
        }
        out
    }

    /// A default value as a SQL literal, or `None` for a value that has
    /// none (a NaN, a date beyond year 9999).
    pub fn literal(self, value: &SqlValue) -> Option<String> {
        let pg = self.is_postgres();
        Some(match value {
            SqlValue::Null => "NULL".into(),
            SqlValue::Boolean(b) => match (pg, b) {
                (true, true) => "TRUE".into(),
                (true, false) => "FALSE".into(),
                (false, b) => u8::from(*b).to_string(),
            },
            SqlValue::Int(i) => i.to_string(),
            SqlValue::Float(f) if f.is_finite() => format!("{f:?}"),
            SqlValue::Float(_) => return None,
            SqlValue::Numeric(text) => text.clone(),
            // MySQL wants TEXT and BLOB defaults as expressions, in
            // parentheses; PostgreSQL takes standard strings (backslashes
            // are plain characters).
            SqlValue::Text(text) if pg => quote_string(text),
            SqlValue::Text(text) if !text.contains('\\') => format!("({})", quote_string(text)),
            // A MySQL string with a backslash, as bytes: how a backslash
            // reads depends on the session's NO_BACKSLASH_ESCAPES.
            SqlValue::Text(text) => format!("(CONVERT(X'{}' USING utf8mb4))", hex(text.as_bytes())),
            SqlValue::Bytes(bytes) if pg => format!("'\\x{}'::bytea", hex(bytes)),
            SqlValue::Bytes(bytes) => format!("(X'{}')", hex(bytes)),
            SqlValue::Date(days) => format!("'{}'", date_text(i64::from(*days))?),
            SqlValue::Time(micros) => format!("'{}'", time_text(*micros)?),
            SqlValue::Timestamp(micros) | SqlValue::Timestamptz(micros) => {
                let days = micros.div_euclid(MICROS_PER_DAY);
                let of_day = micros.rem_euclid(MICROS_PER_DAY);
                format!("'{} {}'", date_text(days)?, time_text(of_day)?)
            }
        })
    }
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

fn quote_string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        write!(out, "{b:02x}").expect("String");
    }
    out
}

/// `YYYY-MM-DD` of days since the epoch, for years 0 to 9999.
fn date_text(days: i64) -> Option<String> {
    let (year, month, day) = java_text::time::civil_from_days(days);
    (0..=9999)
        .contains(&year)
        .then(|| format!("{year:04}-{month:02}-{day:02}"))
}

/// `HH:MM:SS.ffffff` of microseconds since midnight, within a day.
fn time_text(micros: i64) -> Option<String> {
    if !(0..MICROS_PER_DAY).contains(&micros) {
        return None;
    }
    let seconds = micros / 1_000_000;
    Some(format!(
        "{:02}:{:02}:{:02}.{:06}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        micros % 1_000_000
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PG: Sql = Sql {
        dialect: Dialect::Postgresql,
    };
    const MY: Sql = Sql {
        dialect: Dialect::Mysql,
    };

    fn names(sql: Sql, names: &[&str]) -> Vec<String> {
        names.iter().map(|n| sql.quote(n)).collect()
    }

    fn column(name: &str, ty: FieldType, optional: bool, key: bool) -> ColumnSpec {
        ColumnSpec {
            name: name.into(),
            ty,
            optional,
            default: None,
            key,
        }
    }

    #[test]
    fn identifiers_are_quoted_per_dialect() {
        assert_eq!(PG.quote("a\"b"), "\"a\"\"b\"");
        assert_eq!(MY.quote("a`b"), "`a``b`");
        let id = TableId::parse("sales.order.lines");
        assert_eq!(id.schema.as_deref(), Some("sales"));
        assert_eq!(PG.table(&id), "\"sales\".\"order.lines\"");
        assert_eq!(MY.table(&TableId::parse("orders")), "`orders`");
        assert_eq!(id.to_string(), "sales.order.lines");
        assert!(Sql::new(Dialect::Sqlite).is_none());
    }

    fn columns<'a>(names: &'a [String], key_count: usize) -> Columns<'a> {
        Columns {
            names,
            key_count,
            casts: &[],
        }
    }

    #[test]
    fn inserts_have_a_tuple_per_row() {
        let cols = names(PG, &["a", "b"]);
        assert_eq!(
            PG.insert("\"t\"", &columns(&cols, 0), 2),
            "INSERT INTO \"t\" (\"a\",\"b\") VALUES ($1,$2),($3,$4)"
        );
        let cols = names(MY, &["a", "b"]);
        assert_eq!(
            MY.insert("`t`", &columns(&cols, 0), 1),
            "INSERT INTO `t` (`a`,`b`) VALUES (?,?)"
        );
    }

    #[test]
    fn upserts_update_the_values_on_a_key_conflict() {
        let cols = names(PG, &["a", "b", "k1", "k2"]);
        assert_eq!(
            PG.upsert("\"t\"", &columns(&cols, 2), 2),
            "INSERT INTO \"t\" (\"a\",\"b\",\"k1\",\"k2\") VALUES ($1,$2,$3,$4),($5,$6,$7,$8) \
             ON CONFLICT (\"k1\",\"k2\") DO UPDATE SET \"a\"=EXCLUDED.\"a\",\"b\"=EXCLUDED.\"b\""
        );
        let cols = names(MY, &["a", "k"]);
        assert_eq!(
            MY.upsert("`t`", &columns(&cols, 1), 2),
            "INSERT INTO `t` (`a`,`k`) VALUES (?,?),(?,?) ON DUPLICATE KEY UPDATE `a`=VALUES(`a`)"
        );
    }

    #[test]
    fn upserts_of_only_key_columns_change_nothing() {
        let cols = names(PG, &["k"]);
        assert_eq!(
            PG.upsert("\"t\"", &columns(&cols, 1), 1),
            "INSERT INTO \"t\" (\"k\") VALUES ($1) ON CONFLICT (\"k\") DO NOTHING"
        );
        let cols = names(MY, &["k1", "k2"]);
        assert_eq!(
            MY.upsert("`t`", &columns(&cols, 2), 1),
            "INSERT INTO `t` (`k1`,`k2`) VALUES (?,?) ON DUPLICATE KEY UPDATE `k1`=`k1`"
        );
    }

    #[test]
    fn updates_set_values_where_the_key_matches() {
        let cols = names(PG, &["a", "b", "k1", "k2"]);
        assert_eq!(
            PG.update("\"t\"", &columns(&cols, 2)).unwrap(),
            "UPDATE \"t\" SET \"a\" = $1, \"b\" = $2 WHERE \"k1\" = $3 AND \"k2\" = $4"
        );
        let cols = names(MY, &["a", "k"]);
        assert_eq!(
            MY.update("`t`", &columns(&cols, 1)).unwrap(),
            "UPDATE `t` SET `a` = ? WHERE `k` = ?"
        );
        let only_key = names(PG, &["k"]);
        assert!(PG.update("\"t\"", &columns(&only_key, 1)).is_none());
    }

    #[test]
    fn deletes_list_the_keys() {
        let k = names(PG, &["k"]);
        assert_eq!(
            PG.delete("\"t\"", &columns(&k, 1), 3),
            "DELETE FROM \"t\" WHERE \"k\" IN ($1,$2,$3)"
        );
        assert_eq!(
            PG.delete("\"t\"", &columns(&k, 1), 1),
            "DELETE FROM \"t\" WHERE \"k\" = $1"
        );
        let k = names(MY, &["a", "b"]);
        assert_eq!(
            MY.delete("`t`", &columns(&k, 2), 2),
            "DELETE FROM `t` WHERE (`a`,`b`) IN ((?,?),(?,?))"
        );
        assert_eq!(
            MY.delete("`t`", &columns(&k, 2), 1),
            "DELETE FROM `t` WHERE `a` = ? AND `b` = ?"
        );
    }

    #[test]
    fn placeholders_carry_their_casts() {
        let cols = names(PG, &["doc", "n", "id"]);
        let uuid = PG.cast("pg_catalog", "uuid", true);
        let casts = [PG.cast("pg_catalog", "jsonb", true), None, uuid];
        let with = Columns {
            names: &cols,
            key_count: 1,
            casts: &casts,
        };
        assert_eq!(
            PG.upsert("\"t\"", &with, 2),
            "INSERT INTO \"t\" (\"doc\",\"n\",\"id\") VALUES \
             ($1::\"pg_catalog\".\"jsonb\",$2,$3::\"pg_catalog\".\"uuid\"),\
             ($4::\"pg_catalog\".\"jsonb\",$5,$6::\"pg_catalog\".\"uuid\") \
             ON CONFLICT (\"id\") DO UPDATE SET \"doc\"=EXCLUDED.\"doc\",\"n\"=EXCLUDED.\"n\""
        );
        assert_eq!(
            PG.update("\"t\"", &with).unwrap(),
            "UPDATE \"t\" SET \"doc\" = $1::\"pg_catalog\".\"jsonb\", \"n\" = $2 \
             WHERE \"id\" = $3::\"pg_catalog\".\"uuid\""
        );
        let key = &cols[2..];
        let keys = Columns {
            names: key,
            key_count: 1,
            casts: &casts[2..],
        };
        assert_eq!(
            PG.delete("\"t\"", &keys, 2),
            "DELETE FROM \"t\" WHERE \"id\" IN ($1::\"pg_catalog\".\"uuid\",$2::\"pg_catalog\".\"uuid\")"
        );
    }

    #[test]
    fn casts_are_for_text_into_other_types_and_types_bound_by_none() {
        // Text into text needs none; into an integer it does; an integer
        // into an integer does not.
        assert_eq!(PG.cast("pg_catalog", "varchar", true), None);
        assert_eq!(
            PG.cast("pg_catalog", "int4", true).as_deref(),
            Some("\"pg_catalog\".\"int4\"")
        );
        assert_eq!(PG.cast("pg_catalog", "int4", false), None);
        // Enums, uuids, json: always.
        assert_eq!(
            PG.cast("public", "mood", false).as_deref(),
            Some("\"public\".\"mood\"")
        );
        assert!(PG.cast("pg_catalog", "uuid", false).is_some());
        assert_eq!(MY.cast("pg_catalog", "uuid", true), None);
    }

    #[test]
    fn statements_stay_under_the_parameter_limit() {
        assert_eq!(Sql::rows_per_statement(10, 3000), 3000);
        assert_eq!(Sql::rows_per_statement(100, 3000), 655);
        assert_eq!(Sql::rows_per_statement(70_000, 3000), 1);
        assert_eq!(Sql::rows_per_statement(0, 5), 5);
    }

    #[test]
    fn tables_are_created_from_the_columns() {
        let mut amount = column("amount", FieldType::Decimal(2), true, false);
        amount.default = Some(SqlValue::Numeric("1.50".into()));
        let columns = [
            column("name", FieldType::String, false, false),
            amount,
            column("at", FieldType::Timestamp, true, false),
            column("id", FieldType::String, false, true),
            column("seq", FieldType::Int32, false, true),
        ];
        assert_eq!(
            PG.create_table("\"s\".\"t\"", &columns),
            "CREATE TABLE IF NOT EXISTS \"s\".\"t\" (\n\
             \"id\" TEXT NOT NULL,\n\
             \"seq\" INT NOT NULL,\n\
             \"name\" TEXT NOT NULL,\n\
             \"amount\" NUMERIC DEFAULT 1.50 NULL,\n\
             \"at\" TIMESTAMP NULL,\n\
             PRIMARY KEY(\"id\",\"seq\"))"
        );
        assert_eq!(
            MY.create_table("`t`", &columns),
            "CREATE TABLE IF NOT EXISTS `t` (\n\
             `id` VARCHAR(256) NOT NULL,\n\
             `seq` INT NOT NULL,\n\
             `name` TEXT NOT NULL,\n\
             `amount` DECIMAL(65,2) DEFAULT 1.50 NULL,\n\
             `at` DATETIME(3) NULL,\n\
             PRIMARY KEY(`id`,`seq`))"
        );
        let keyless = [column("v", FieldType::Boolean, true, false)];
        assert_eq!(
            PG.create_table("\"t\"", &keyless),
            "CREATE TABLE IF NOT EXISTS \"t\" (\n\"v\" BOOLEAN NULL)"
        );
    }

    #[test]
    fn columns_are_added_in_one_alter() {
        let mut flag = column("flag", FieldType::Boolean, false, false);
        flag.default = Some(SqlValue::Boolean(true));
        let note = column("note", FieldType::Bytes, true, false);
        assert_eq!(
            PG.add_columns("\"t\"", &[&flag, &note]),
            "ALTER TABLE \"t\"\nADD COLUMN \"flag\" BOOLEAN DEFAULT TRUE NOT NULL,\n\
             ADD COLUMN \"note\" BYTEA NULL"
        );
        assert_eq!(
            MY.add_columns("`t`", &[&flag]),
            "ALTER TABLE `t`\nADD COLUMN `flag` TINYINT(1) DEFAULT 1 NOT NULL"
        );
    }

    #[test]
    fn every_type_has_a_column_type() {
        use FieldType as F;
        let all = [
            F::Int8,
            F::Int16,
            F::Int32,
            F::Int64,
            F::Float32,
            F::Float64,
            F::Boolean,
            F::String,
            F::Bytes,
            F::Decimal(40),
            F::Date,
            F::Time,
            F::Timestamp,
        ];
        let pg: Vec<String> = all.iter().map(|t| PG.column_type(*t, false)).collect();
        assert_eq!(
            pg,
            [
                "SMALLINT",
                "SMALLINT",
                "INT",
                "BIGINT",
                "REAL",
                "DOUBLE PRECISION",
                "BOOLEAN",
                "TEXT",
                "BYTEA",
                "NUMERIC",
                "DATE",
                "TIME",
                "TIMESTAMP"
            ]
        );
        let my: Vec<String> = all.iter().map(|t| MY.column_type(*t, false)).collect();
        assert_eq!(
            my,
            [
                "TINYINT",
                "SMALLINT",
                "INT",
                "BIGINT",
                "FLOAT",
                "DOUBLE",
                "TINYINT(1)",
                "TEXT",
                "BLOB",
                "DECIMAL(65,30)",
                "DATE",
                "TIME(3)",
                "DATETIME(3)"
            ]
        );
        assert_eq!(MY.column_type(F::Bytes, true), "VARBINARY(255)");
        assert_eq!(PG.column_type(F::String, true), "TEXT");
    }

    #[test]
    fn defaults_are_literals() {
        assert_eq!(
            PG.literal(&SqlValue::Text("it's".into())).unwrap(),
            "'it''s'"
        );
        assert_eq!(
            MY.literal(&SqlValue::Text("it's".into())).unwrap(),
            "('it''s')"
        );
        assert_eq!(
            MY.literal(&SqlValue::Text("a\\b".into())).unwrap(),
            "(CONVERT(X'615c62' USING utf8mb4))"
        );
        assert_eq!(
            PG.literal(&SqlValue::Bytes(vec![1, 255])).unwrap(),
            "'\\x01ff'::bytea"
        );
        assert_eq!(MY.literal(&SqlValue::Bytes(vec![1])).unwrap(), "(X'01')");
        assert_eq!(PG.literal(&SqlValue::Float(1.5)).unwrap(), "1.5");
        assert!(PG.literal(&SqlValue::Float(f64::NAN)).is_none());
        assert_eq!(PG.literal(&SqlValue::Date(-1)).unwrap(), "'1969-12-31'");
        assert_eq!(
            MY.literal(&SqlValue::Time(3_723_000_001)).unwrap(),
            "'01:02:03.000001'"
        );
        assert_eq!(
            PG.literal(&SqlValue::Timestamp(-1)).unwrap(),
            "'1969-12-31 23:59:59.999999'"
        );
        assert!(PG.literal(&SqlValue::Date(3_000_000)).is_none());
    }

    #[test]
    fn instants_and_names_follow_the_dialect() {
        assert!(PG.holds_instants("timestamp with time zone"));
        assert!(!PG.holds_instants("timestamp without time zone"));
        assert!(MY.holds_instants("timestamp"));
        assert!(!MY.holds_instants("datetime"));
        assert!(MY.same_column("Id", "ID"));
        assert!(!PG.same_column("Id", "ID"));
        assert!(PG.columns_query(false).contains("current_schema()"));
        assert!(MY.columns_query(true).contains("table_schema = ?"));
    }
}

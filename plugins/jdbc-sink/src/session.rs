//! The database calls the sink makes, as a trait: the SDK's connection in
//! the plugin, and a fake database in the unit tests, so that the
//! transactions, DDL and the search for a refused record are tested
//! without a host.

use sluice_sdk::sql::{Connection, SqlError, SqlValue};

pub trait Session {
    fn begin(&self) -> Result<(), SqlError>;
    fn commit(&self) -> Result<(), SqlError>;
    fn rollback(&self) -> Result<(), SqlError>;
    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<u64, SqlError>;
    fn execute_batch(&self, sql: &str, rows: &[Vec<SqlValue>]) -> Result<u64, SqlError>;
    fn copy_in(
        &self,
        table: &str,
        columns: &[&str],
        rows: &[Vec<SqlValue>],
    ) -> Result<u64, SqlError>;
    /// Every row of a small query (the catalog's).
    fn query_all(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>, SqlError>;
}

impl Session for Connection {
    fn begin(&self) -> Result<(), SqlError> {
        Connection::begin(self)
    }

    fn commit(&self) -> Result<(), SqlError> {
        Connection::commit(self)
    }

    fn rollback(&self) -> Result<(), SqlError> {
        Connection::rollback(self)
    }

    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<u64, SqlError> {
        Connection::execute(self, sql, params)
    }

    fn execute_batch(&self, sql: &str, rows: &[Vec<SqlValue>]) -> Result<u64, SqlError> {
        Connection::execute_batch(self, sql, rows)
    }

    fn copy_in(
        &self,
        table: &str,
        columns: &[&str],
        rows: &[Vec<SqlValue>],
    ) -> Result<u64, SqlError> {
        Connection::copy_in(self, table, columns, rows)
    }

    fn query_all(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>, SqlError> {
        let mut out = Vec::new();
        for batch in self.query(sql, params)?.batches(1000) {
            out.extend(batch?.rows().map(<[SqlValue]>::to_vec));
        }
        Ok(out)
    }
}

/// A fake database for the unit tests.
#[cfg(test)]
pub mod fake {
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    use sluice_sdk::sql::SqlErrorKind;

    use super::*;

    /// A database that keeps a catalog of tables (changed by the sink's
    /// CREATE and ALTER TABLE) and the text values of the rows it was
    /// given, committed with their transaction. It refuses every statement
    /// that carries the text `bad`.
    #[derive(Default)]
    pub struct FakeDb {
        pub state: RefCell<FakeState>,
    }

    #[derive(Default)]
    pub struct FakeState {
        /// Tables by unquoted name: their columns and data types.
        pub tables: BTreeMap<String, Vec<(String, String)>>,
        pub committed: Vec<String>,
        pending: Option<Vec<String>>,
        /// Every call in short, in order: `begin`, `copy 3`,
        /// `insert 4 params`, `update each of 2`, `create table`, ...
        pub calls: Vec<String>,
        /// The text of every statement, and each bulk load's values.
        pub statements: Vec<String>,
        /// Refusals are retriable (as a lost connection).
        pub retriable: bool,
        /// Statements with `bad` fail only this many times.
        pub flaky: Option<usize>,
        pub fail_commit: bool,
    }

    impl FakeDb {
        pub fn with_table(self, name: &str, columns: &[(&str, &str)]) -> Self {
            self.state.borrow_mut().tables.insert(
                name.into(),
                columns
                    .iter()
                    .map(|(c, t)| (c.to_string(), t.to_string()))
                    .collect(),
            );
            self
        }

        pub fn committed(&self) -> Vec<String> {
            self.state.borrow().committed.clone()
        }

        pub fn calls(&self) -> Vec<String> {
            self.state.borrow().calls.clone()
        }

        pub fn statements(&self) -> Vec<String> {
            self.state.borrow().statements.clone()
        }

        pub fn columns(&self, table: &str) -> Vec<String> {
            self.state.borrow().tables[table]
                .iter()
                .map(|(c, _)| c.clone())
                .collect()
        }

        fn refuse(&self, row: Option<usize>) -> SqlError {
            let state = self.state.borrow();
            SqlError {
                kind: if state.retriable {
                    SqlErrorKind::Connection
                } else {
                    SqlErrorKind::Constraint
                },
                message: "bad value".into(),
                sqlstate: Some("23514".into()),
                row: row.map(|r| r as u32),
            }
        }

        /// Takes a statement's rows: refused if one holds `bad`, else kept.
        fn take(
            &self,
            call: String,
            rows: &[&[SqlValue]],
            names_row: bool,
        ) -> Result<u64, SqlError> {
            self.state.borrow_mut().calls.push(call);
            let bad = rows.iter().position(|r| {
                r.iter()
                    .any(|v| matches!(v, SqlValue::Text(t) if t == "bad"))
            });
            if let Some(row) = bad {
                let fails = match &mut self.state.borrow_mut().flaky {
                    None => true,
                    Some(0) => false,
                    Some(n) => {
                        *n -= 1;
                        true
                    }
                };
                if fails {
                    return Err(self.refuse(names_row.then_some(row)));
                }
            }
            let mut state = self.state.borrow_mut();
            let pending = state
                .pending
                .as_mut()
                .expect("writes happen in transactions");
            for row in rows {
                for value in *row {
                    if let SqlValue::Text(t) = value {
                        pending.push(t.clone());
                    }
                }
            }
            Ok(rows.len() as u64)
        }

        /// Applies a CREATE or ALTER TABLE to the catalog.
        fn ddl(&self, sql: &str) -> Result<u64, SqlError> {
            let mut state = self.state.borrow_mut();
            assert!(
                state.pending.is_none(),
                "DDL runs outside the batch's transaction"
            );
            let unquote = |s: &str| s.split('"').nth(1).unwrap_or_default().to_string();
            let mut lines = sql.lines();
            let head = lines.next().unwrap_or_default();
            let table = unquote(head.rsplit('.').next().unwrap_or(head));
            let definitions = lines
                .map(|l| l.trim_start_matches("ADD COLUMN "))
                .filter(|l| l.starts_with('"'))
                .map(|l| {
                    let ty = l.split('"').nth(2).unwrap_or_default().trim();
                    let ty = ty.split(" NULL").next().unwrap_or_default();
                    let ty = ty.split(" NOT").next().unwrap_or_default();
                    let ty = ty.split(" DEFAULT").next().unwrap_or_default();
                    (unquote(l), ty.to_lowercase())
                });
            if head.starts_with("CREATE TABLE") {
                state.calls.push("create table".into());
                let columns = definitions.collect();
                state.tables.entry(table).or_insert(columns);
            } else {
                state.calls.push("alter table".into());
                let columns: Vec<(String, String)> = definitions.collect();
                state
                    .tables
                    .get_mut(&table)
                    .expect("ALTER of a table that exists")
                    .extend(columns);
            }
            Ok(0)
        }
    }

    impl Session for FakeDb {
        fn begin(&self) -> Result<(), SqlError> {
            let mut state = self.state.borrow_mut();
            assert!(state.pending.is_none(), "begin inside a transaction");
            state.pending = Some(Vec::new());
            state.calls.push("begin".into());
            Ok(())
        }

        fn commit(&self) -> Result<(), SqlError> {
            let mut state = self.state.borrow_mut();
            let pending = state.pending.take().expect("commit outside a transaction");
            state.calls.push("commit".into());
            if state.fail_commit {
                drop(state);
                return Err(self.refuse(None));
            }
            state.committed.extend(pending);
            Ok(())
        }

        fn rollback(&self) -> Result<(), SqlError> {
            let mut state = self.state.borrow_mut();
            state
                .pending
                .take()
                .expect("rollback outside a transaction");
            state.calls.push("rollback".into());
            Ok(())
        }

        fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<u64, SqlError> {
            self.state.borrow_mut().statements.push(sql.to_string());
            if sql.starts_with("CREATE TABLE") || sql.starts_with("ALTER TABLE") {
                return self.ddl(sql);
            }
            let verb = sql.split(' ').next().unwrap_or_default().to_lowercase();
            // A multi-row statement names no row.
            self.take(format!("{verb} {} params", params.len()), &[params], false)
        }

        fn execute_batch(&self, sql: &str, rows: &[Vec<SqlValue>]) -> Result<u64, SqlError> {
            self.state.borrow_mut().statements.push(sql.to_string());
            let verb = sql.split(' ').next().unwrap_or_default().to_lowercase();
            let rows: Vec<&[SqlValue]> = rows.iter().map(Vec::as_slice).collect();
            self.take(format!("{verb} each of {}", rows.len()), &rows, true)
        }

        fn copy_in(
            &self,
            table: &str,
            columns: &[&str],
            rows: &[Vec<SqlValue>],
        ) -> Result<u64, SqlError> {
            self.state.borrow_mut().statements.push(format!(
                "COPY {table} ({}) {}",
                columns.join(","),
                format!("{rows:?}").replace("SqlValue::", "")
            ));
            let rows: Vec<&[SqlValue]> = rows.iter().map(Vec::as_slice).collect();
            self.take(format!("copy {}", rows.len()), &rows, true)
        }

        fn query_all(
            &self,
            sql: &str,
            params: &[SqlValue],
        ) -> Result<Vec<Vec<SqlValue>>, SqlError> {
            assert!(sql.contains("information_schema.columns"), "{sql}");
            let Some(SqlValue::Text(table)) = params.last() else {
                panic!("the table name is the last parameter: {params:?}");
            };
            let state = self.state.borrow();
            Ok(state
                .tables
                .get(table)
                .map(|columns| {
                    columns
                        .iter()
                        .map(|(c, t)| {
                            // PostgreSQL's internal name of the type.
                            let udt = match t.as_str() {
                                "bigint" => "int8",
                                "integer" | "int" => "int4",
                                "boolean" => "bool",
                                "timestamp without time zone" => "timestamp",
                                "timestamp with time zone" => "timestamptz",
                                other => other,
                            };
                            vec![
                                SqlValue::Text(c.clone()),
                                SqlValue::Text(t.clone()),
                                SqlValue::Text("pg_catalog".into()),
                                SqlValue::Text(udt.into()),
                            ]
                        })
                        .collect()
                })
                .unwrap_or_default())
        }
    }
}

//! The tables the sink writes: which table a topic goes to, each table's
//! columns as `information_schema.columns` lists them (cached, read again
//! after DDL or when a record needs a column the cache lacks), and the
//! CREATE and ALTER TABLE of auto.create and auto.evolve. DDL runs on its
//! own, before the batch's transaction: MySQL commits at every DDL
//! statement, and a table or column without rows is no partial write.

use std::collections::HashMap;

use sluice_sdk::prelude::*;
use sluice_sdk::sql::SqlError;

use crate::column::ColumnSpec;
use crate::config::SinkConfig;
use crate::dialect::{Sql, TableId};
use crate::session::Session;
use crate::shape::Shape;
use crate::values::FieldType;

/// A column as the catalog describes it.
#[derive(Clone, Debug)]
pub struct DbColumn {
    pub name: String,
    pub data_type: String,
    /// PostgreSQL's schema and name of the type, for casts.
    pub udt: Option<(String, String)>,
}

struct Table {
    id: TableId,
    /// The name as SQL, quoted.
    sql_name: String,
    /// `None` until read; empty when the table does not exist.
    columns: Option<Vec<DbColumn>>,
}

/// How records of one shape go into one table.
#[derive(Clone, Debug, Default)]
pub struct Resolution {
    /// Row positions of Timestamps whose column holds instants: their
    /// values are bound as `timestamptz`.
    pub instants: Vec<usize>,
    /// A delete from a table that does not exist: there is no row to
    /// delete.
    pub skip: bool,
}

/// Why records of a shape cannot go into a table.
#[derive(Debug)]
pub enum Problem {
    /// The record does not fit the table (a missing table or column the
    /// sink may not create): the record's error.
    Record(String),
    /// The database failed reading the catalog or running DDL.
    Sql { error: SqlError, doing: String },
}

pub struct Tables {
    sql: Sql,
    config: SinkConfig,
    tables: Vec<Table>,
    by_name: HashMap<String, usize>,
    by_topic: HashMap<String, usize>,
    last_topic: Option<(String, usize)>,
    resolved: HashMap<(usize, usize), Resolution>,
}

impl Tables {
    pub fn new(config: &SinkConfig, sql: Sql) -> Tables {
        Tables {
            sql,
            config: config.clone(),
            tables: Vec::new(),
            by_name: HashMap::new(),
            by_topic: HashMap::new(),
            last_topic: None,
            resolved: HashMap::new(),
        }
    }

    /// The table records of `topic` go to.
    pub fn for_topic(&mut self, topic: &str) -> usize {
        if let Some((last, table)) = &self.last_topic
            && last == topic
        {
            return *table;
        }
        let table = match self.by_topic.get(topic) {
            Some(&table) => table,
            None => {
                let name = self.config.table_name(topic);
                let table = match self.by_name.get(&name) {
                    Some(&table) => table,
                    None => {
                        let id = TableId::parse(&name);
                        self.tables.push(Table {
                            sql_name: self.sql.table(&id),
                            id,
                            columns: None,
                        });
                        self.by_name.insert(name, self.tables.len() - 1);
                        self.tables.len() - 1
                    }
                };
                self.by_topic.insert(topic.to_string(), table);
                table
            }
        };
        self.last_topic = Some((topic.to_string(), table));
        table
    }

    /// The table's name as SQL.
    pub fn sql_name(&self, table: usize) -> &str {
        &self.tables[table].sql_name
    }

    /// The table's name for messages.
    pub fn name(&self, table: usize) -> String {
        self.tables[table].id.to_string()
    }

    /// Forgets a table's columns, to read them again when next needed.
    pub fn forget_columns(&mut self, table: usize) {
        self.tables[table].columns = None;
        self.resolved.retain(|(t, _), _| *t != table);
    }

    /// Forgets what shapes were resolved to, when the shapes are forgotten.
    pub fn forget_shapes(&mut self) {
        self.resolved.clear();
    }

    /// How records of `shape` (index `shape_id`) go into `table`, creating
    /// the table or adding columns as configured.
    pub fn resolve(
        &mut self,
        conn: &impl Session,
        table: usize,
        shape_id: usize,
        shape: &Shape,
    ) -> Result<Resolution, Problem> {
        if let Some(resolution) = self.resolved.get(&(table, shape_id)) {
            return Ok(resolution.clone());
        }
        let resolution = self.work_out(conn, table, shape)?;
        // A table that is missing now may be created by someone else: look
        // again next time rather than skip its deletes for good.
        if !resolution.skip {
            self.resolved.insert((table, shape_id), resolution.clone());
        }
        Ok(resolution)
    }

    fn work_out(
        &mut self,
        conn: &impl Session,
        table: usize,
        shape: &Shape,
    ) -> Result<Resolution, Problem> {
        let mut fresh = false;
        if self.tables[table].columns.is_none() {
            self.refresh(conn, table)?;
            fresh = true;
        }
        // The cache may be behind another task's DDL: read it again before
        // deciding that something is missing.
        let mut missing = self.missing(table, &shape.columns);
        if !missing.is_empty() && !fresh {
            self.refresh(conn, table)?;
            missing = self.missing(table, &shape.columns);
        }
        let name = self.name(table);
        let exists = !self.columns(table).is_empty();

        if shape.is_delete() {
            if !exists {
                return Ok(Resolution {
                    skip: true,
                    ..Resolution::default()
                });
            }
            if !missing.is_empty() {
                return Err(Problem::Record(format!(
                    "table {name} has no column {} for the key of the delete",
                    list(&missing)
                )));
            }
        } else if !exists {
            if !self.config.auto_create {
                return Err(Problem::Record(format!(
                    "table {name} does not exist, and auto.create is false: create it, or set \
                     auto.create=true to have the sink create it from the record's schema"
                )));
            }
            let ddl = self.sql.create_table(self.sql_name(table), &shape.columns);
            self.run_ddl(conn, table, &ddl, &shape.columns)?;
        } else if !missing.is_empty() {
            if !self.config.auto_evolve {
                return Err(Problem::Record(format!(
                    "table {name} has no column {} for the record's fields, and auto.evolve \
                     is false: add the columns, or set auto.evolve=true to have the sink add them",
                    list(&missing)
                )));
            }
            if let Some(field) = missing.iter().find(|c| !c.optional && c.default.is_none()) {
                return Err(Problem::Record(format!(
                    "Cannot ALTER TABLE {name} to add missing field \"{}\" ({}), as it is not \
                     optional and does not have a default value",
                    field.name,
                    field.ty.describe()
                )));
            }
            let ddl = self.sql.add_columns(self.sql_name(table), &missing);
            self.run_ddl(conn, table, &ddl, &shape.columns)?;
        }

        let columns = self.columns(table);
        let instants = shape
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.ty == FieldType::Timestamp)
            .filter(|(_, c)| {
                columns.iter().any(|db| {
                    self.sql.same_column(&db.name, &c.name)
                        && self.sql.holds_instants(&db.data_type)
                })
            })
            .map(|(i, _)| i)
            .collect();
        Ok(Resolution {
            instants,
            skip: false,
        })
    }

    /// Runs a CREATE or ALTER TABLE, then reads the table again; it must
    /// now have every column of `wanted`. A failed DDL is forgiven when
    /// the columns are there anyway (another task added them first).
    fn run_ddl(
        &mut self,
        conn: &impl Session,
        table: usize,
        ddl: &str,
        wanted: &[ColumnSpec],
    ) -> Result<(), Problem> {
        crate::log_info(&format!("changing table {}: {ddl}", self.name(table)));
        let outcome = conn.execute(ddl, &[]);
        // Whatever happened, what the table is now is what counts.
        self.refresh(conn, table)?;
        let missing = self.missing(table, wanted);
        match outcome {
            _ if missing.is_empty() => Ok(()),
            Err(error) => Err(Problem::Sql {
                error,
                doing: ddl.to_string(),
            }),
            Ok(_) => Err(Problem::Record(format!(
                "table {} still lacks column {} after {ddl}",
                self.name(table),
                list(&missing)
            ))),
        }
    }

    /// The casts the placeholders of columns `names` (in row order) need
    /// in `table`; `text(i)` tells whether a value of column `i` is text.
    /// Empty when none needs one.
    pub fn casts(
        &self,
        table: usize,
        names: &[String],
        text: impl Fn(usize) -> bool,
    ) -> Vec<Option<String>> {
        let columns = self.columns(table);
        let casts: Vec<Option<String>> = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let column = columns
                    .iter()
                    .find(|c| self.sql.same_column(&c.name, name))?;
                let (schema, udt) = column.udt.as_ref()?;
                self.sql.cast(schema, udt, text(i))
            })
            .collect();
        if casts.iter().all(Option::is_none) {
            return Vec::new();
        }
        casts
    }

    fn columns(&self, table: usize) -> &[DbColumn] {
        self.tables[table].columns.as_deref().unwrap_or(&[])
    }

    /// The columns of `wanted` the table lacks.
    fn missing<'a>(&self, table: usize, wanted: &'a [ColumnSpec]) -> Vec<&'a ColumnSpec> {
        let have = self.columns(table);
        wanted
            .iter()
            .filter(|c| {
                !have
                    .iter()
                    .any(|db| self.sql.same_column(&db.name, &c.name))
            })
            .collect()
    }

    /// Reads the table's columns from the catalog; what was resolved
    /// against the old columns is worked out again.
    fn refresh(&mut self, conn: &impl Session, table: usize) -> Result<(), Problem> {
        let id = &self.tables[table].id;
        let query = self.sql.columns_query(id.schema.is_some());
        let mut params = Vec::with_capacity(2);
        if let Some(schema) = &id.schema {
            params.push(SqlValue::Text(schema.clone()));
        }
        params.push(SqlValue::Text(id.name.clone()));
        let failed = |error: SqlError| Problem::Sql {
            error,
            doing: format!("reading the columns of table {id}"),
        };
        let columns = conn
            .query_all(query, &params)
            .map_err(failed)?
            .iter()
            .filter_map(|row| match row.as_slice() {
                [name, data_type, rest @ ..] => Some(DbColumn {
                    name: text(name),
                    data_type: text(data_type),
                    udt: match rest {
                        [schema, name] => Some((text(schema), text(name))),
                        _ => None,
                    },
                }),
                _ => None,
            })
            .collect();
        self.tables[table].columns = Some(columns);
        self.resolved.retain(|(t, _), _| *t != table);
        Ok(())
    }
}

/// A catalog value as text: MySQL may send catalog strings as binary.
fn text(value: &SqlValue) -> String {
    match value {
        SqlValue::Text(s) => s.clone(),
        SqlValue::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        other => format!("{other:?}"),
    }
}

fn list(columns: &[&ColumnSpec]) -> String {
    let names: Vec<String> = columns.iter().map(|c| format!("\"{}\"", c.name)).collect();
    names.join(", ")
}

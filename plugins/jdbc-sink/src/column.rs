//! A column a record writes, as both sides need it: `shape` reads it from
//! a record's schema, `dialect` writes it into CREATE and ALTER TABLE.

use sluice_sdk::sql::SqlValue;

use crate::values::FieldType;

/// A column a record writes, with what auto.create and auto.evolve need.
#[derive(Clone, Debug)]
pub struct ColumnSpec {
    pub name: String,
    pub ty: FieldType,
    pub optional: bool,
    /// The schema's default, already a SQL value.
    pub default: Option<SqlValue>,
    /// Part of the primary key.
    pub key: bool,
}

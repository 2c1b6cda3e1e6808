//! What differs between PostgreSQL and MySQL/MariaDB for the source: how
//! identifiers are quoted, how parameters are written, and where the
//! catalogue says which tables and columns exist.

use sluice_sdk::sql::Dialect;

/// The SQL a connection speaks, with the pieces the queries are built of:
/// PostgreSQL's, or MySQL's (the connector refuses SQLite when it opens the
/// datasource).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sql(pub Dialect);

impl Sql {
    /// `name` as a quoted identifier; a `schema.table` name is quoted part
    /// by part.
    pub fn quote(self, name: &str) -> String {
        name.split('.')
            .map(|part| match self.0 {
                Dialect::Mysql => format!("`{}`", part.replace('`', "``")),
                _ => format!("\"{}\"", part.replace('"', "\"\"")),
            })
            .collect::<Vec<_>>()
            .join(".")
    }

    /// A placeholder for parameter `n` (from 1) of a statement.
    pub fn placeholder(self, n: usize) -> String {
        match self.0 {
            Dialect::Postgresql => format!("${n}"),
            _ => "?".into(),
        }
    }

    /// The database's current time as an instant, read once per poll so
    /// that `timestamp.delay.interval.ms` is measured on the database's
    /// clock, the one that wrote the timestamps.
    pub fn now_query(self) -> &'static str {
        match self.0 {
            Dialect::Mysql => "SELECT UTC_TIMESTAMP(6)",
            _ => "SELECT CURRENT_TIMESTAMP",
        }
    }

    /// The base tables of the connection's current schema (PostgreSQL) or
    /// database (MySQL), in name order.
    pub fn tables_query(self) -> &'static str {
        match self.0 {
            Dialect::Mysql => {
                "SELECT table_name FROM information_schema.tables \
                 WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name"
            }
            _ => {
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
                 ORDER BY table_name"
            }
        }
    }

    /// A table's columns with their nullability, precision and scale, which
    /// a result's column description does not carry. The parameters are
    /// the schema (null for the current one) and the table.
    pub fn columns_query(self) -> String {
        let (current, cast) = match self.0 {
            Dialect::Mysql => ("DATABASE()", ""),
            _ => ("current_schema()", "::text"),
        };
        format!(
            "SELECT column_name{cast}, is_nullable{cast}, numeric_precision, numeric_scale \
             FROM information_schema.columns \
             WHERE table_schema = COALESCE({}, {current}) AND table_name = {} \
             ORDER BY ordinal_position",
            self.placeholder(1),
            self.placeholder(2)
        )
    }
}

/// `schema.table` split into its schema (if any) and table.
pub fn split_qualified(name: &str) -> (Option<&str>, &str) {
    match name.rsplit_once('.') {
        Some((schema, table)) => (Some(schema), table),
        None => (None, name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_per_dialect_and_part() {
        let pg = Sql(Dialect::Postgresql);
        let my = Sql(Dialect::Mysql);
        assert_eq!(pg.quote("orders"), "\"orders\"");
        assert_eq!(pg.quote("shop.Orders"), "\"shop\".\"Orders\"");
        assert_eq!(pg.quote("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(my.quote("shop.orders"), "`shop`.`orders`");
        assert_eq!(my.quote("we`ird"), "`we``ird`");
        assert_eq!(pg.placeholder(3), "$3");
        assert_eq!(my.placeholder(3), "?");
    }

    #[test]
    fn qualified_names_split_at_the_last_dot() {
        assert_eq!(split_qualified("orders"), (None, "orders"));
        assert_eq!(split_qualified("shop.orders"), (Some("shop"), "orders"));
    }
}

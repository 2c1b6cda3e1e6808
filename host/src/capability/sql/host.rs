//! The `sql` host implementation.

use wasmtime::component::Resource;

use super::{SqlConnection, SqlFailure, SqlRows, SqlView};
use crate::capability::sql::bindings::sql::{
    Column, Dialect, Host, HostConnection, HostRows, SqlError, SqlValue,
};

impl Host for SqlView<'_> {
    fn open(&mut self, datasource: String) -> Result<Resource<SqlConnection>, SqlFailure> {
        let connection = self.state.open(&datasource)?;
        Ok(self.table.push(connection)?)
    }

    fn convert_sql_error(&mut self, failure: SqlFailure) -> wasmtime::Result<SqlError> {
        match failure {
            SqlFailure::Sql(error) => Ok(error),
            SqlFailure::Trap(trap) => Err(trap),
        }
    }
}

impl HostConnection for SqlView<'_> {
    fn dialect(&mut self, connection: Resource<SqlConnection>) -> wasmtime::Result<Dialect> {
        Ok(self.table.get(&connection)?.dialect())
    }

    fn read_only(&mut self, connection: Resource<SqlConnection>) -> wasmtime::Result<bool> {
        Ok(self.table.get(&connection)?.read_only())
    }

    fn query(
        &mut self,
        connection: Resource<SqlConnection>,
        statement: String,
        params: Vec<SqlValue>,
    ) -> Result<Resource<SqlRows>, SqlFailure> {
        let rows = self
            .table
            .get_mut(&connection)?
            .query(&statement, &params)?;
        Ok(self.table.push(rows)?)
    }

    fn execute(
        &mut self,
        connection: Resource<SqlConnection>,
        statement: String,
        params: Vec<SqlValue>,
    ) -> Result<u64, SqlFailure> {
        Ok(self
            .table
            .get_mut(&connection)?
            .execute(&statement, &params)?)
    }

    fn execute_batch(
        &mut self,
        connection: Resource<SqlConnection>,
        statement: String,
        params: Vec<Vec<SqlValue>>,
    ) -> Result<u64, SqlFailure> {
        Ok(self
            .table
            .get_mut(&connection)?
            .execute_batch(&statement, &params)?)
    }

    fn copy_in(
        &mut self,
        connection: Resource<SqlConnection>,
        table: String,
        columns: Vec<String>,
        rows: Vec<Vec<SqlValue>>,
    ) -> Result<u64, SqlFailure> {
        Ok(self
            .table
            .get_mut(&connection)?
            .copy_in(&table, &columns, &rows)?)
    }

    fn begin(&mut self, connection: Resource<SqlConnection>) -> Result<(), SqlFailure> {
        Ok(self.table.get_mut(&connection)?.begin()?)
    }

    fn commit(&mut self, connection: Resource<SqlConnection>) -> Result<(), SqlFailure> {
        Ok(self.table.get_mut(&connection)?.commit()?)
    }

    fn rollback(&mut self, connection: Resource<SqlConnection>) -> Result<(), SqlFailure> {
        Ok(self.table.get_mut(&connection)?.rollback()?)
    }

    fn drop(&mut self, connection: Resource<SqlConnection>) -> wasmtime::Result<()> {
        // Dropping it rolls back an open transaction and returns the
        // session to the pool.
        self.table.delete(connection)?;
        Ok(())
    }
}

impl HostRows for SqlView<'_> {
    fn columns(&mut self, rows: Resource<SqlRows>) -> wasmtime::Result<Vec<Column>> {
        Ok(self.table.get(&rows)?.columns().to_vec())
    }

    fn next_batch(
        &mut self,
        rows: Resource<SqlRows>,
        max_rows: u32,
    ) -> Result<Vec<SqlValue>, SqlFailure> {
        Ok(self.table.get_mut(&rows)?.next_batch(max_rows)?)
    }

    fn drop(&mut self, rows: Resource<SqlRows>) -> wasmtime::Result<()> {
        self.table.delete(rows)?;
        Ok(())
    }
}

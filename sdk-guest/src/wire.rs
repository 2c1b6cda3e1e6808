//! The record-batch byte form on the guest's side: the WIT record types
//! read and written with `sluice-wire`, and the records of a batch the host
//! sent.

use crate::wit::{
    ConnectRecord, Data, Header, SchemaField, SchemaNode, SchemaType, Structured, ValueNode,
};

sluice_wire::wit_record_codec!();

/// The records of a batch, read one at a time as the adapter walks them.
///
/// The host built the batch and checked every record a plugin handed it,
/// so a malformed one is a host bug: the call traps with what is wrong
/// rather than guess.
pub(crate) fn records(batch: &[u8]) -> impl Iterator<Item = ConnectRecord> + '_ {
    let items = sluice_wire::read_batch(batch)
        .unwrap_or_else(|e| panic!("the host sent a malformed batch: {e}"));
    items.into_iter().map(|item| {
        sluice_wire::read_exact(item)
            .unwrap_or_else(|e| panic!("the host sent a malformed record: {e}"))
    })
}

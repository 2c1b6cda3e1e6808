//! The record-batch byte form (`sluice-wire`): a batch as a plugin reads
//! it, one record, and a transform's results as the host reads them from
//! a plugin. Whatever decodes must encode to the same bytes, the checking
//! reader (`check_exact`) must agree with the building one (`read_exact`),
//! and structured data must keep its tree through the flat node lists and
//! the batch form whose schemas are listed once.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_sdk::Data;
use sluice_sdk::data::{inline, share};
use sluice_sdk::wit::ConnectRecord;
use sluice_wire::{Transformed, Wire};

fuzz_target!(|bytes: &[u8]| {
    if let Ok(items) = sluice_wire::read_batch(bytes) {
        assert_eq!(
            sluice_wire::write_batch(items.iter().copied()),
            bytes,
            "a batch read and written again changed"
        );
        items.into_iter().for_each(record);
    }
    record(bytes);
    if let Ok(results) = sluice_wire::read_results(bytes) {
        for result in results {
            if let Transformed::Record(range) = result {
                record(&bytes[range]);
            }
        }
        let _ = sluice_wire::decode_results::<ConnectRecord>(bytes);
    }
});

/// `bytes` as one encoded record.
fn record(bytes: &[u8]) {
    let read = sluice_wire::read_exact::<ConnectRecord>(bytes);
    let checked = sluice_wire::check_exact::<ConnectRecord>(bytes);
    // The two may refuse with different reasons (a list's count is
    // checked before its elements only when reading), never differently.
    assert_eq!(
        read.is_ok(),
        checked.is_ok(),
        "read_exact and check_exact disagree: {:?} and {checked:?}",
        read.as_ref().err()
    );
    let Ok(record) = read else { return };
    let mut written = Vec::new();
    record.write(&mut written);
    assert_eq!(written, bytes, "a record read and written again changed");
    let headers = record.headers.into_iter().filter_map(|h| h.value);
    for data in record.key.into_iter().chain(record.value).chain(headers) {
        structured(data);
    }
}

/// Structured data as a plugin reads it into a tree, flattened again, and
/// moved to the batch form and back.
fn structured(data: Data) {
    let Ok(tree) = data.to_tree() else { return };
    let flat = Data::structured(tree.schema.clone(), tree.value.clone());
    let again = flat.to_tree().expect("a flattened tree reads back");
    assert_eq!(
        format!("{tree:?}"),
        format!("{again:?}"),
        "flattening changed the tree"
    );
    // A schema node that no path reaches may hold a default the tree
    // never reads, which sharing refuses: only a shared schema is checked.
    let mut schemas = Vec::new();
    if let Ok(shared) = share(data, &mut schemas) {
        let inlined = inline(shared, &schemas).expect("shared data inlines");
        let again = inlined.to_tree().expect("inlined data reads back");
        assert_eq!(
            format!("{tree:?}"),
            format!("{again:?}"),
            "sharing changed the tree"
        );
    }
}

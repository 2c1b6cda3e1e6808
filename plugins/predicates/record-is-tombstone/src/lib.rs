//! `record-is-tombstone`: Kafka's `RecordIsTombstone` predicate, true for a
//! record whose value is null (a tombstone, which deletes its key in a
//! compacted topic).

use sluice_sdk::prelude::*;

pub struct RecordIsTombstone;

impl Predicate for RecordIsTombstone {
    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "record-is-tombstone",
            env!("CARGO_PKG_VERSION"),
            "A predicate which is true for records which are tombstones (i.e. have null value)",
        )
        .alias("org.apache.kafka.connect.transforms.predicates.RecordIsTombstone")
        .alias("RecordIsTombstone")
    }

    fn config_keys() -> Vec<ConfigKey> {
        Vec::new()
    }

    fn create(_config: Config) -> Result<Self> {
        Ok(RecordIsTombstone)
    }

    fn test(&mut self, record: &ConnectRecord) -> bool {
        record.value.is_none()
    }
}

sluice_sdk::export_predicate!(RecordIsTombstone);

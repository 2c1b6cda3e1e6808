//! `filter`: Kafka's `Filter` transform. It drops every record it sees, so
//! it is meant to run behind a predicate (`transforms.<alias>.predicate`),
//! which the host evaluates: only the records the predicate selects reach
//! this transform.

use sluice_sdk::prelude::*;

pub struct Filter;

impl Transform for Filter {
    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "filter",
            env!("CARGO_PKG_VERSION"),
            "Drops all records, filtering them from subsequent transformations in the chain; \
             meant to be used with a predicate",
        )
        .alias("org.apache.kafka.connect.transforms.Filter")
        .alias("Filter")
    }

    fn config_keys() -> Vec<ConfigKey> {
        Vec::new()
    }

    fn create(_config: Config, part: Option<RecordPart>) -> Result<Self> {
        if part.is_some() {
            return Err(ConnectError::fatal(
                "Filter has no $Key or $Value variant: use Filter",
            ));
        }
        Ok(Filter)
    }

    fn apply(&mut self, _record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        Ok(None)
    }
}

sluice_sdk::export_transform!(Filter);

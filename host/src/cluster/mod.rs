//! Distributed mode's engine, all of it Kafka: the broker's group
//! coordinator for membership (`membership`), the leader's division of
//! connectors and tasks among the members (`assignor`), and the three
//! internal topics, created and checked by `internal_topics`, each read
//! whole as a log (`kafka_log`) in Kafka Connect's own record formats
//! (`records`): connectors (`config_log`), source offsets (`offset_log`)
//! and statuses (`status_log`).

pub mod assignor;
pub mod config_log;
pub mod internal_topics;
pub mod kafka_log;
pub mod membership;
pub mod offset_log;
pub mod records;
pub mod secure_link;
pub mod status_log;

//! The records the worker moves between Kafka and the pipeline: as consumed
//! from Kafka (what a sink's dead letters carry unchanged), and serialized
//! for the producer.

/// A record consumed from Kafka, as it was on the wire.
#[derive(Clone, Debug)]
pub struct Consumed {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: Option<i64>,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// A record converted for the producer.
#[derive(Clone, Debug)]
pub struct Serialized {
    pub topic: String,
    pub partition: Option<i32>,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub timestamp: Option<i64>,
}

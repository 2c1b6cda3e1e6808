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

/// The most a record takes on the wire in a v2 record batch besides its
/// key, value and headers (length, attributes, timestamp and offset
/// deltas, key and value lengths, header count: varints at their widest),
/// and what each header adds besides its name and value.
const RECORD_OVERHEAD: usize = 40;
const HEADER_OVERHEAD: usize = 10;

/// A record's size as the producer checks it against `message.max.bytes`:
/// key, value and headers with their widest framing, so that a record
/// this says fits is never refused by the client.
pub fn wire_size(
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[(String, Option<Vec<u8>>)],
) -> usize {
    RECORD_OVERHEAD
        + key.map_or(0, <[u8]>::len)
        + value.map_or(0, <[u8]>::len)
        + headers
            .iter()
            .map(|(name, value)| HEADER_OVERHEAD + name.len() + value.as_ref().map_or(0, Vec::len))
            .sum::<usize>()
}

impl Serialized {
    pub fn wire_size(&self) -> usize {
        wire_size(self.key.as_deref(), self.value.as_deref(), &self.headers)
    }
}

//! `file-source`: Sluice's equivalent of Kafka's FileStreamSourceConnector.
//! It tails a text file and produces one record per line, remembering its
//! byte position in the file as the source offset, so a restarted task
//! resumes after the last line Kafka acknowledged.
//!
//! As in Kafka, a line's value has the STRING schema, so the worker's
//! converter decides its bytes: without one (or with the StringConverter)
//! the line as it is, with the JsonConverter a JSON string. A line that is
//! not UTF-8 (where Kafka would substitute U+FFFD) is a BYTES value holding
//! the line unchanged.
//!
//! The file must lie under a directory granted to the connector
//! (`grant.files=inbox:ro` makes the worker's `files.root.inbox` visible as
//! `/inbox`); nothing else exists for this plugin.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};

use serde_json::json;
use sluice_sdk::prelude::*;

const FILE: &str = "file";
const TOPIC: &str = "topic";
const BATCH_SIZE: &str = "batch.size";
const DEFAULT_BATCH_SIZE: u32 = 2000;

pub struct FileSource;

impl SourceConnector for FileSource {
    type Task = FileSourceTask;

    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "file-source",
            env!("CARGO_PKG_VERSION"),
            "Tails a text file and produces each line as a record",
        )
        .alias("org.apache.kafka.connect.file.FileStreamSourceConnector")
        .alias("FileStreamSourceConnector")
        .alias("FileStreamSource")
    }

    fn config_keys() -> Vec<ConfigKey> {
        vec![
            ConfigKey::new(
                FILE,
                ConfigType::String,
                Importance::High,
                "The file to read, under a granted directory (for example /inbox/input.txt).",
            )
            .required(),
            ConfigKey::new(
                TOPIC,
                ConfigType::String,
                Importance::High,
                "The topic to publish lines to.",
            )
            .required(),
            ConfigKey::new(
                BATCH_SIZE,
                ConfigType::Int,
                Importance::Low,
                "The largest number of lines one poll returns.",
            )
            .default_value(DEFAULT_BATCH_SIZE),
        ]
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        let mut issues = Vec::new();
        if let Some(topic) = config.get(TOPIC)
            && topic.contains(',')
        {
            issues.push(ConfigIssue {
                key: TOPIC.into(),
                message: "file-source publishes to one topic; a list was given".into(),
            });
        }
        match config.parse_or(BATCH_SIZE, DEFAULT_BATCH_SIZE) {
            Ok(0) => issues.push(ConfigIssue {
                key: BATCH_SIZE.into(),
                message: "must be at least 1".into(),
            }),
            Ok(_) => {}
            Err(e) => issues.push(ConfigIssue {
                key: BATCH_SIZE.into(),
                message: e.message,
            }),
        }
        issues
    }
}

pub struct FileSourceTask {
    path: String,
    topic: String,
    batch_size: u32,
    reader: BufReader<File>,
    /// Byte position just after the last complete line returned.
    position: u64,
    /// The start of a line whose newline has not been written yet.
    partial: Vec<u8>,
}

impl SourceTask for FileSourceTask {
    fn start(config: Config, offsets: Offsets) -> Result<Self> {
        let path = config.require(FILE)?.to_string();
        let topic = config.require(TOPIC)?.to_string();
        let batch_size = config.parse_or(BATCH_SIZE, DEFAULT_BATCH_SIZE)?;
        let mut file = File::open(&path).map_err(|e| {
            ConnectError::fatal(format!(
                "cannot open file \"{path}\": {e} (a connector reaches only the directories \
                 granted to it with grant.files, each seen as /<root name>)"
            ))
        })?;
        let position = match offsets.get(&json!({ "filename": path })) {
            Some(offset) => offset["position"].as_u64().ok_or_else(|| {
                ConnectError::fatal(format!(
                    "stored offset for \"{path}\" has no position: {offset}"
                ))
            })?,
            None => 0,
        };
        file.seek(SeekFrom::Start(position)).map_err(|e| {
            ConnectError::fatal(format!("cannot seek to {position} in \"{path}\": {e}"))
        })?;
        sluice_sdk::log::info(&format!("reading {path} from byte {position}"));
        Ok(FileSourceTask {
            path,
            topic,
            batch_size,
            reader: BufReader::with_capacity(256 * 1024, file),
            position,
            partial: Vec::new(),
        })
    }

    fn poll(&mut self, max_records: u32) -> Result<SourceBatch> {
        let mut batch = SourceBatch::new();
        let partition = batch.partition(&json!({ "filename": self.path }));
        let limit = self.batch_size.min(max_records.max(1));
        while (batch.len() as u32) < limit {
            let read = self
                .reader
                .read_until(b'\n', &mut self.partial)
                .map_err(|e| ConnectError::retriable(format!("reading \"{}\": {e}", self.path)))?;
            if read == 0 || self.partial.last() != Some(&b'\n') {
                // End of the file for now; a partial line waits for its
                // newline. Seeking re-arms the read: under WASI a file's read
                // stream that reached the end stays at the end, and would
                // never see what is appended later.
                let cursor = self.position + self.partial.len() as u64;
                self.reader.seek(SeekFrom::Start(cursor)).map_err(|e| {
                    ConnectError::retriable(format!("seeking in \"{}\": {e}", self.path))
                })?;
                break;
            }
            self.position += self.partial.len() as u64;
            let mut line = std::mem::take(&mut self.partial);
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let value = batch.data(line_value(line))?;
            batch.push(
                SourceRecord::new(&self.topic, value)
                    .at(partition, &json!({ "position": self.position })),
            );
        }
        Ok(batch)
    }
}

/// A line as Kafka's FileStreamSource holds it: a STRING.
fn line_value(line: Vec<u8>) -> Data {
    match String::from_utf8(line) {
        Ok(text) => Data::structured(Some(Schema::of(SchemaType::String)), Value::String(text)),
        Err(e) => Data::structured(
            Some(Schema::of(SchemaType::Bytes)),
            Value::Bytes(e.into_bytes()),
        ),
    }
}

sluice_sdk::export_source_connector!(FileSource);

//! `file-sink`: Sluice's equivalent of Kafka's FileStreamSinkConnector. It
//! appends the value of every record to a file, one per line.
//!
//! The file must lie under a directory granted read-write to the connector
//! (`grant.files=outbox:rw` makes the worker's `files.root.outbox` visible
//! as `/outbox`).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};

use sluice_sdk::data::StructuredValue;
use sluice_sdk::prelude::*;

const FILE: &str = "file";

pub struct FileSink;

impl SinkConnector for FileSink {
    type Task = FileSinkTask;

    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "file-sink",
            env!("CARGO_PKG_VERSION"),
            "Appends the value of each record to a file, one per line",
        )
        .alias("org.apache.kafka.connect.file.FileStreamSinkConnector")
        .alias("FileStreamSinkConnector")
        .alias("FileStreamSink")
    }

    fn config_keys() -> Vec<ConfigKey> {
        vec![
            ConfigKey::new(
                FILE,
                ConfigType::String,
                Importance::High,
                "The file to append to, under a directory granted read-write (for example /outbox/output.txt).",
            )
            .required(),
        ]
    }

    /// One file cannot take appends from several tasks without interleaving
    /// their lines, so the sink always runs a single task.
    fn task_configs(config: &Config, _max_tasks: u32) -> Result<Vec<Config>> {
        Ok(vec![config.clone()])
    }
}

pub struct FileSinkTask {
    path: String,
    writer: BufWriter<File>,
}

impl SinkTask for FileSinkTask {
    fn start(config: Config) -> Result<Self> {
        let path = config.require(FILE)?.to_string();
        remove_torn_last_line(&path)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| {
                ConnectError::fatal(format!(
                    "cannot open file \"{path}\" for appending: {e} (a connector reaches only \
                     the directories granted to it with grant.files, and writes only to those \
                     granted :rw)"
                ))
            })?;
        Ok(FileSinkTask {
            path,
            writer: BufWriter::with_capacity(1 << 20, file),
        })
    }

    fn open(&mut self, partitions: Vec<TopicPartition>) -> Result<()> {
        sluice_sdk::log::info(&format!(
            "writing {} to \"{}\"",
            describe(&partitions),
            self.path
        ));
        Ok(())
    }

    /// Everything put is flushed before the host revokes partitions, so
    /// there is nothing buffered to drop.
    fn close(&mut self, partitions: Vec<TopicPartition>) -> Result<()> {
        sluice_sdk::log::info(&format!("no longer writing {}", describe(&partitions)));
        Ok(())
    }

    fn put(&mut self, records: Vec<SinkRecord>) -> Result<()> {
        for (index, record) in records.into_iter().enumerate() {
            let written = match record.value {
                Some(Data::Raw(bytes)) => self.writer.write_all(&bytes),
                // Kafka's FileStreamSink prints a null value as "null".
                None => self.writer.write_all(b"null"),
                Some(Data::Structured(flat)) => {
                    let tree = StructuredValue::try_from(&flat)
                        .map_err(|e| ConnectError::fatal(e.to_string()).for_record(index))?;
                    match tree.value {
                        Value::String(s) => self.writer.write_all(s.as_bytes()),
                        // Kafka's FileStreamSink prints Java's toString of
                        // other values; JSON says the same and can be read
                        // back.
                        other => self
                            .writer
                            .write_all(to_json(&other).to_string().as_bytes()),
                    }
                }
            };
            written
                .and_then(|()| self.writer.write_all(b"\n"))
                .map_err(|e| ConnectError::fatal(format!("writing \"{}\": {e}", self.path)))?;
        }
        Ok(())
    }

    /// Hands everything buffered to the operating system, which keeps it
    /// even if the worker process is killed.
    fn flush(&mut self) -> Result<()> {
        self.writer
            .flush()
            .map_err(|e| ConnectError::retriable(format!("flushing \"{}\": {e}", self.path)))
    }

    fn stop(&mut self) -> Result<()> {
        self.flush()
    }
}

/// A value as schemaless JSON: structs and string-keyed maps as objects,
/// other maps as arrays of pairs, bytes as arrays of numbers.
fn to_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::Null => J::Null,
        Value::Boolean(b) => J::Bool(*b),
        Value::Int8(v) => J::from(*v),
        Value::Int16(v) => J::from(*v),
        Value::Int32(v) => J::from(*v),
        Value::Int64(v) => J::from(*v),
        Value::Float32(v) => J::from(*v as f64),
        Value::Float64(v) => J::from(*v),
        Value::String(s) => J::String(s.clone()),
        Value::Bytes(b) => J::from(b.clone()),
        Value::Array(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Struct(fields) => J::Object(
            fields
                .iter()
                .map(|(name, v)| (name.clone(), to_json(v)))
                .collect(),
        ),
        Value::Map(entries) if entries.iter().all(|(k, _)| matches!(k, Value::String(_))) => {
            J::Object(
                entries
                    .iter()
                    .map(|(k, v)| match k {
                        Value::String(k) => (k.clone(), to_json(v)),
                        _ => unreachable!("checked: every key is a string"),
                    })
                    .collect(),
            )
        }
        Value::Map(entries) => J::Array(
            entries
                .iter()
                .map(|(k, v)| J::Array(vec![to_json(k), to_json(v)]))
                .collect(),
        ),
    }
}

fn describe(partitions: &[TopicPartition]) -> String {
    let names: Vec<String> = partitions.iter().map(ToString::to_string).collect();
    names.join(", ")
}

/// A worker killed while writing can leave the last line without its
/// newline. That line belongs to a batch whose offsets were never committed
/// (offsets are committed only after a flush completes), so it will be
/// delivered again: remove the torn part rather than glue the redelivered
/// line onto it.
fn remove_torn_last_line(path: &str) -> Result<()> {
    let io = |what: &str, e: std::io::Error| ConnectError::fatal(format!("{what} \"{path}\": {e}"));
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io("cannot open", e)),
    };
    let len = file.metadata().map_err(|e| io("cannot stat", e))?.len();
    let mut end = len;
    let mut chunk = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let part = &mut chunk[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))
            .and_then(|_| file.read_exact(part))
            .map_err(|e| io("cannot read", e))?;
        if let Some(newline) = part.iter().rposition(|&b| b == b'\n') {
            end = start + newline as u64 + 1;
            break;
        }
        end = start;
    }
    if end < len {
        sluice_sdk::log::warn(&format!(
            "removing {} bytes of a torn last line from \"{path}\"; it will be written again",
            len - end
        ));
        OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|f| f.set_len(end))
            .map_err(|e| io("cannot truncate", e))?;
    }
    Ok(())
}

sluice_sdk::export_sink_connector!(FileSink);

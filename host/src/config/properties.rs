//! Java `.properties` files, as Kafka Connect reads its worker and connector
//! configurations: `key=value`, `key: value` or `key value`, `#`/`!`
//! comments, backslash line continuations and escapes. The reading is the
//! java-properties crate's; the text is UTF-8, as Java 9 and later read
//! properties resources (Kafka's `Properties.load` of a stream reads
//! ISO-8859-1, where any non-ASCII byte of a UTF-8 file turns into two
//! characters: a password with an accent would not match).

use std::collections::BTreeMap;

/// Parses the text of a `.properties` file. Later keys replace earlier ones,
/// as in `java.util.Properties`. A malformed `\uXXXX` escape is an error
/// naming its line.
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    java_properties::PropertiesIter::new_with_encoding(text.as_bytes(), encoding_rs::UTF_8)
        .read_into(|key, value| {
            out.insert(key, value);
        })
        .map_err(|e| {
            // The crate's text ends "(line_number = 3)"; name the line as
            // the rest of Sluice's messages do.
            let text = e.to_string();
            let what = text
                .rsplit_once(" (line_number")
                .map_or(text.as_str(), |(w, _)| w);
            match e.line_number() {
                Some(line) => format!("line {line}: {what}"),
                None => what.to_string(),
            }
        })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_comments_and_continuations() {
        let props = parse(
            "# comment\n! also\nname=local-file-source\nconnector.class : FileStreamSource\n\
             tasks.max 1\nfile=/inbox/a\\\n   b.txt\nempty=\nkey\\=with\\:seps=v\n",
        )
        .unwrap();
        assert_eq!(props["name"], "local-file-source");
        assert_eq!(props["connector.class"], "FileStreamSource");
        assert_eq!(props["tasks.max"], "1");
        assert_eq!(props["file"], "/inbox/ab.txt");
        assert_eq!(props["empty"], "");
        assert_eq!(props["key=with:seps"], "v");
        assert_eq!(props.len(), 6);
    }

    #[test]
    fn unicode_escape() {
        assert_eq!(parse("k=caf\\u00e9").unwrap()["k"], "café");
        assert_eq!(parse("k=café").unwrap()["k"], "café");
        assert!(parse("k=\\u00zz").unwrap_err().contains("line 1"));
    }

    /// The keys of Kafka's own sample files (config/connect-standalone.properties
    /// and config/connect-file-source.properties), the last line without a
    /// newline as in the source tree.
    #[test]
    fn kafkas_sample_files_read_as_kafka_reads_them() {
        let worker = parse(
            "# A worker file as Kafka ships it.\n\nbootstrap.servers=localhost:9092\n\n\
             key.converter=org.apache.kafka.connect.json.JsonConverter\n\
             value.converter=org.apache.kafka.connect.json.JsonConverter\n\
             # Converter settings under the converter's prefix\n\
             # it to\n\
             key.converter.schemas.enable=true\nvalue.converter.schemas.enable=true\n\n\
             offset.storage.file.filename=/tmp/connect.offsets\n\
             # Flush much faster than normal\noffset.flush.interval.ms=10000\n\
             #plugin.path=\n",
        )
        .unwrap();
        assert_eq!(worker.len(), 7, "{worker:?}");
        assert_eq!(worker["bootstrap.servers"], "localhost:9092");
        assert_eq!(worker["key.converter.schemas.enable"], "true");
        assert_eq!(worker["offset.flush.interval.ms"], "10000");
        let connector = parse(
            "name=local-file-source\n\
             connector.class=org.apache.kafka.connect.file.FileStreamSourceConnector\n\
             tasks.max=1\nfile=test.txt\ntopic=test",
        )
        .unwrap();
        assert_eq!(connector.len(), 5);
        assert_eq!(connector["topic"], "test");
        assert_eq!(
            connector["connector.class"],
            "org.apache.kafka.connect.file.FileStreamSourceConnector"
        );
    }
}

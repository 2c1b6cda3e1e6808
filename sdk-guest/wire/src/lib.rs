//! The record-batch byte form: how a batch of records crosses between the
//! host and a transform or predicate as one `list<u8>`.
//!
//! Lowering a `list<connect-record>` through the canonical ABI costs a call
//! into the guest's allocator for every string and list of every record,
//! and lifting it back allocates each of them again on the other side: a
//! transform that leaves a record alone cost about 1 µs per record that
//! way. A byte buffer crosses as one copy. The host also passes a
//! transform's output to the next transform of the chain as it is, checked
//! but not rebuilt.
//!
//! # The format
//!
//! All integers are little-endian. It is the WIT types of
//! `wit/sluice.wit` written field by field, in their declared order:
//!
//! - `bool`, `u8`, `s8`: one byte (a bool is 0 or 1). `s16`, `s32`, `u32`,
//!   `s64`: 2, 4, 4 and 8 bytes. `f32`, `f64`: their IEEE bits, 4 and 8
//!   bytes.
//! - `string`: a `u32` byte length, then that many bytes of UTF-8.
//!   `list<T>`: a `u32` element count, then the elements (a `list<u8>` is
//!   its bytes). `option<T>`: a byte 0 (none) or 1 followed by the `T`.
//!   `tuple<A, B>`: `A` then `B`. A record: its fields in order.
//! - A variant: a byte holding the case's index in declaration order, then
//!   its payload if it has one. An enum: the case's index as one byte.
//!
//! A **batch** (what `apply` and `test` receive) is a `u32` record count,
//! then each record as a `u32` byte length followed by a `connect-record`
//! of exactly that length.
//!
//! A transform's **results** (what `apply` returns) are a `u32` count, one
//! per record of the batch and in its order, each a tag byte: 0 followed by
//! a `u32` byte length and the transformed `connect-record`; 1 for a record
//! the transform dropped; 2 followed by a `string` saying why the record
//! could not be transformed.
//!
//! A guest or host reads the Rust types that its bindings generate from
//! the WIT: [`wit_record_codec!`] implements [`Wire`] for them where they
//! are defined. [`shared`] moves structured data between its inline form
//! and the batch form whose schemas are listed once per batch.

use std::fmt;
use std::ops::Range;

pub mod shared;

/// Why bytes are not a well-formed batch, record or result list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireError(pub String);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed record batch: {}", self.0)
    }
}

impl std::error::Error for WireError {}

/// Reads the byte form from a buffer, refusing to go past its end.
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    /// Where the next read starts, from the start of the buffer.
    pub fn position(&self) -> usize {
        self.at
    }

    /// The next `len` bytes.
    #[inline]
    pub fn take(&mut self, len: usize) -> Result<&'a [u8], WireError> {
        match self.bytes.get(self.at..self.at.saturating_add(len)) {
            Some(bytes) => {
                self.at += len;
                Ok(bytes)
            }
            None => Err(self.short(len)),
        }
    }

    // Error paths stay out of line, so that the reads every record makes
    // inline into their callers.
    #[cold]
    #[inline(never)]
    fn short(&self, len: usize) -> WireError {
        WireError(format!(
            "{len} bytes wanted at byte {}, {} left",
            self.at,
            self.remaining()
        ))
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        match self.bytes.get(self.at..self.at + N) {
            Some(bytes) => {
                self.at += N;
                Ok(bytes.try_into().expect("N bytes"))
            }
            None => Err(self.short(N)),
        }
    }

    #[inline]
    pub fn u8(&mut self) -> Result<u8, WireError> {
        match self.bytes.get(self.at) {
            Some(&byte) => {
                self.at += 1;
                Ok(byte)
            }
            None => Err(self.short(1)),
        }
    }

    /// A `u32` length or count.
    #[inline]
    pub fn length(&mut self) -> Result<usize, WireError> {
        Ok(u32::from_le_bytes(self.array()?) as usize)
    }

    /// Fails unless every byte was read: trailing bytes mean the writer and
    /// the reader disagree about the format.
    pub fn finish(self) -> Result<(), WireError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(WireError(format!(
                "{n} bytes left over at byte {}",
                self.at
            ))),
        }
    }
}

/// A type with a byte form: written, read, or checked without building it.
pub trait Wire: Sized {
    fn write(&self, out: &mut Vec<u8>);

    fn read(r: &mut Reader<'_>) -> Result<Self, WireError>;

    /// Reads past one value, checking it as [`Wire::read`] would, without
    /// allocating: what the host does to a transform's output before it
    /// hands the output on.
    fn skip(r: &mut Reader<'_>) -> Result<(), WireError>;

    /// Writes the elements of a list (bytes override it with one copy).
    fn write_all(items: &[Self], out: &mut Vec<u8>) {
        for item in items {
            item.write(out);
        }
    }

    /// Reads the `count` elements of a list.
    fn read_all(r: &mut Reader<'_>, count: usize) -> Result<Vec<Self>, WireError> {
        // Every element takes at least a byte: a count larger than what is
        // left cannot be right, and must not reserve memory for it.
        if count > r.remaining() {
            return Err(WireError(format!(
                "a list of {count} elements with {} bytes left",
                r.remaining()
            )));
        }
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(Self::read(r)?);
        }
        Ok(items)
    }

    fn skip_all(r: &mut Reader<'_>, count: usize) -> Result<(), WireError> {
        for _ in 0..count {
            Self::skip(r)?;
        }
        Ok(())
    }
}

/// Fixed-size numbers: their little-endian bytes.
macro_rules! wire_number {
    ($($ty:ty),*) => {$(
        impl Wire for $ty {
            #[inline]
            fn write(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            #[inline]
            fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
                Ok(<$ty>::from_le_bytes(r.array()?))
            }
            #[inline]
            fn skip(r: &mut Reader<'_>) -> Result<(), WireError> {
                r.take(size_of::<$ty>()).map(drop)
            }
        }
    )*};
}

wire_number!(i8, i16, i32, i64, u32, f32, f64);

impl Wire for u8 {
    #[inline]
    fn write(&self, out: &mut Vec<u8>) {
        out.push(*self);
    }
    #[inline]
    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        r.u8()
    }
    #[inline]
    fn skip(r: &mut Reader<'_>) -> Result<(), WireError> {
        r.u8().map(drop)
    }
    #[inline]
    fn write_all(items: &[Self], out: &mut Vec<u8>) {
        out.extend_from_slice(items);
    }
    #[inline]
    fn read_all(r: &mut Reader<'_>, count: usize) -> Result<Vec<Self>, WireError> {
        Ok(r.take(count)?.to_vec())
    }
    #[inline]
    fn skip_all(r: &mut Reader<'_>, count: usize) -> Result<(), WireError> {
        r.take(count).map(drop)
    }
}

impl Wire for bool {
    #[inline]
    fn write(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
    #[inline]
    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        match r.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(bad_tag(other, "bool")),
        }
    }
    #[inline]
    fn skip(r: &mut Reader<'_>) -> Result<(), WireError> {
        Self::read(r).map(drop)
    }
}

/// The error for a tag byte that is none of `what`'s.
#[doc(hidden)]
#[cold]
#[inline(never)]
pub fn bad_tag(tag: u8, what: &str) -> WireError {
    WireError(format!("{tag} is not a tag of {what}"))
}

/// Writes a `u32` length or count.
#[inline]
pub fn write_len(len: usize, out: &mut Vec<u8>) {
    let len = u32::try_from(len).expect("a length beyond 4 GiB cannot cross the boundary");
    out.extend_from_slice(&len.to_le_bytes());
}

#[inline]
fn utf8(bytes: &[u8]) -> Result<&str, WireError> {
    std::str::from_utf8(bytes).map_err(not_utf8)
}

#[cold]
#[inline(never)]
fn not_utf8(e: std::str::Utf8Error) -> WireError {
    WireError(format!("a string is not UTF-8: {e}"))
}

impl Wire for String {
    #[inline]
    fn write(&self, out: &mut Vec<u8>) {
        write_len(self.len(), out);
        out.extend_from_slice(self.as_bytes());
    }
    #[inline]
    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let len = r.length()?;
        Ok(utf8(r.take(len)?)?.to_owned())
    }
    #[inline]
    fn skip(r: &mut Reader<'_>) -> Result<(), WireError> {
        let len = r.length()?;
        utf8(r.take(len)?).map(drop)
    }
}

impl<T: Wire> Wire for Vec<T> {
    #[inline]
    fn write(&self, out: &mut Vec<u8>) {
        write_len(self.len(), out);
        T::write_all(self, out);
    }
    #[inline]
    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let count = r.length()?;
        T::read_all(r, count)
    }
    #[inline]
    fn skip(r: &mut Reader<'_>) -> Result<(), WireError> {
        let count = r.length()?;
        T::skip_all(r, count)
    }
}

impl<T: Wire> Wire for Option<T> {
    #[inline]
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(value) => {
                out.push(1);
                value.write(out);
            }
        }
    }
    #[inline]
    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        match r.u8()? {
            0 => Ok(None),
            1 => Ok(Some(T::read(r)?)),
            other => Err(bad_tag(other, "option")),
        }
    }
    #[inline]
    fn skip(r: &mut Reader<'_>) -> Result<(), WireError> {
        match r.u8()? {
            0 => Ok(()),
            1 => T::skip(r),
            other => Err(bad_tag(other, "option")),
        }
    }
}

impl<A: Wire, B: Wire> Wire for (A, B) {
    #[inline]
    fn write(&self, out: &mut Vec<u8>) {
        self.0.write(out);
        self.1.write(out);
    }
    #[inline]
    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok((A::read(r)?, B::read(r)?))
    }
    #[inline]
    fn skip(r: &mut Reader<'_>) -> Result<(), WireError> {
        A::skip(r)?;
        B::skip(r)
    }
}

/// Reads one value that must fill `bytes` exactly.
pub fn read_exact<T: Wire>(bytes: &[u8]) -> Result<T, WireError> {
    let mut r = Reader::new(bytes);
    let value = T::read(&mut r)?;
    r.finish()?;
    Ok(value)
}

/// Checks that `bytes` hold exactly one well-formed value.
pub fn check_exact<T: Wire>(bytes: &[u8]) -> Result<(), WireError> {
    let mut r = Reader::new(bytes);
    T::skip(&mut r)?;
    r.finish()
}

/// Appends a `u32` byte length and what `body` writes after it.
pub fn write_sized(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    body(out);
    let len = u32::try_from(out.len() - at - 4).expect("a record beyond 4 GiB");
    out[at..at + 4].copy_from_slice(&len.to_le_bytes());
}

/// A batch of the encoded records `items`, in order.
pub fn write_batch<'a>(items: impl Iterator<Item = &'a [u8]> + Clone) -> Vec<u8> {
    let (count, bytes) = items
        .clone()
        .fold((0, 0), |(n, b), item| (n + 1, b + 4 + item.len()));
    let mut out = Vec::with_capacity(4 + bytes);
    write_len(count, &mut out);
    for item in items {
        write_len(item.len(), &mut out);
        out.extend_from_slice(item);
    }
    out
}

/// The encoded records of a batch, in order.
pub fn read_batch(batch: &[u8]) -> Result<Vec<&[u8]>, WireError> {
    let mut r = Reader::new(batch);
    let count = r.length()?;
    if count > r.remaining() / 4 {
        return Err(WireError(format!(
            "{count} records announced in {} bytes",
            batch.len()
        )));
    }
    let mut items = Vec::with_capacity(count);
    for _ in 0..count {
        let len = r.length()?;
        items.push(r.take(len)?);
    }
    r.finish()?;
    Ok(items)
}

/// A batch of `records`, in order.
pub fn encode_batch<T: Wire>(records: &[T]) -> Vec<u8> {
    let mut out = Vec::new();
    write_len(records.len(), &mut out);
    for record in records {
        write_sized(&mut out, |out| record.write(out));
    }
    out
}

/// A transform's results read into records: the new record, `None` for a
/// dropped one, or why the record could not be transformed.
#[allow(clippy::type_complexity)]
pub fn decode_results<T: Wire>(
    results: &[u8],
) -> Result<Vec<Result<Option<T>, String>>, WireError> {
    read_results(results)?
        .into_iter()
        .map(|result| match result {
            Transformed::Record(range) => Ok(Ok(Some(read_exact(&results[range])?))),
            Transformed::Dropped => Ok(Ok(None)),
            Transformed::Failed(message) => Ok(Err(message)),
        })
        .collect()
}

/// What a transform made of one record, as its results say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transformed {
    /// The new record: where its encoding lies in the results.
    Record(Range<usize>),
    Dropped,
    Failed(String),
}

const RECORD: u8 = 0;
const DROPPED: u8 = 1;
const FAILED: u8 = 2;

/// Reads a transform's results (the records' encodings are not checked
/// here: see [`check_exact`]).
pub fn read_results(results: &[u8]) -> Result<Vec<Transformed>, WireError> {
    let mut r = Reader::new(results);
    let count = r.length()?;
    if count > r.remaining() {
        return Err(WireError(format!(
            "{count} results announced in {} bytes",
            results.len()
        )));
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        out.push(match r.u8()? {
            RECORD => {
                let len = r.length()?;
                let start = r.position();
                r.take(len)?;
                Transformed::Record(start..start + len)
            }
            DROPPED => Transformed::Dropped,
            FAILED => Transformed::Failed(String::read(&mut r)?),
            tag => return Err(bad_tag(tag, "result")),
        });
    }
    r.finish()?;
    Ok(out)
}

/// Writes a transform's results, one per record in order.
pub struct ResultsWriter {
    out: Vec<u8>,
    count: usize,
}

impl ResultsWriter {
    /// `capacity`: the bytes to reserve, about the size of the input.
    pub fn with_capacity(capacity: usize) -> Self {
        let mut out = Vec::with_capacity(capacity);
        out.extend_from_slice(&[0; 4]);
        ResultsWriter { out, count: 0 }
    }

    pub fn record(&mut self, record: &impl Wire) {
        self.count += 1;
        self.out.push(RECORD);
        write_sized(&mut self.out, |out| record.write(out));
    }

    pub fn dropped(&mut self) {
        self.count += 1;
        self.out.push(DROPPED);
    }

    pub fn failed(&mut self, message: &str) {
        self.count += 1;
        self.out.push(FAILED);
        write_len(message.len(), &mut self.out);
        self.out.extend_from_slice(message.as_bytes());
    }

    pub fn finish(mut self) -> Vec<u8> {
        let count = u32::try_from(self.count).expect("more results than a u32 counts");
        self.out[..4].copy_from_slice(&count.to_le_bytes());
        self.out
    }
}

/// Implements [`Wire`] for a struct, field by field in the order given
/// (which must be the WIT's).
#[doc(hidden)]
#[macro_export]
macro_rules! wire_struct {
    ($name:ident { $($field:ident: $ty:ty),* $(,)? }) => {
        impl $crate::Wire for $name {
            #[inline]
            fn write(&self, out: &mut Vec<u8>) {
                $( <$ty as $crate::Wire>::write(&self.$field, out); )*
            }
            #[inline]
            fn read(r: &mut $crate::Reader<'_>) -> Result<Self, $crate::WireError> {
                Ok($name { $( $field: <$ty as $crate::Wire>::read(r)?, )* })
            }
            fn skip(r: &mut $crate::Reader<'_>) -> Result<(), $crate::WireError> {
                $( <$ty as $crate::Wire>::skip(r)?; )*
                Ok(())
            }
        }
    };
}

/// Implements [`Wire`] for a variant or enum: a tag byte (the case's index
/// in the WIT) and the payload of the cases that have one.
#[doc(hidden)]
#[macro_export]
macro_rules! wire_variant {
    ($name:ident {
        units: [$($unit_tag:literal => $unit:ident),* $(,)?],
        cases: [$($tag:literal => $case:ident($ty:ty)),* $(,)?] $(,)?
    }) => {
        impl $crate::Wire for $name {
            fn write(&self, out: &mut Vec<u8>) {
                match self {
                    $( $name::$unit => out.push($unit_tag), )*
                    $( $name::$case(payload) => {
                        out.push($tag);
                        <$ty as $crate::Wire>::write(payload, out);
                    } )*
                }
            }
            fn read(r: &mut $crate::Reader<'_>) -> Result<Self, $crate::WireError> {
                Ok(match r.u8()? {
                    $( $unit_tag => $name::$unit, )*
                    $( $tag => $name::$case(<$ty as $crate::Wire>::read(r)?), )*
                    tag => return Err($crate::bad_tag(tag, stringify!($name))),
                })
            }
            fn skip(r: &mut $crate::Reader<'_>) -> Result<(), $crate::WireError> {
                match r.u8()? {
                    $( $unit_tag => Ok(()), )*
                    $( $tag => <$ty as $crate::Wire>::skip(r), )*
                    tag => Err($crate::bad_tag(tag, stringify!($name))),
                }
            }
        }
    };
}

/// Implements [`Wire`] for the record types that bindings generated from
/// `wit/sluice.wit` (`ConnectRecord` and what it holds). Invoke it where
/// those types are in scope, in the crate that generated them.
#[macro_export]
macro_rules! wit_record_codec {
    () => {
        $crate::wire_variant!(SchemaType {
            units: [
                0 => Int8,
                1 => Int16,
                2 => Int32,
                3 => Int64,
                4 => Float32,
                5 => Float64,
                6 => Boolean,
                7 => String,
                8 => Bytes,
                9 => Array,
                10 => Map,
                11 => Struct,
            ],
            cases: [],
        });
        $crate::wire_struct!(SchemaField {
            name: String,
            schema: u32,
        });
        $crate::wire_struct!(SchemaNode {
            type_: SchemaType,
            optional: bool,
            name: Option<String>,
            version: Option<i32>,
            doc: Option<String>,
            parameters: Vec<(String, String)>,
            default_value: Option<u32>,
            fields: Vec<SchemaField>,
            key_schema: Option<u32>,
            value_schema: Option<u32>,
        });
        $crate::wire_variant!(ValueNode {
            units: [0 => Null],
            cases: [
            1 => Boolean(bool),
            2 => Int8(i8),
            3 => Int16(i16),
            4 => Int32(i32),
            5 => Int64(i64),
            6 => Float32(f32),
            7 => Float64(f64),
            8 => String(String),
            9 => Bytes(Vec<u8>),
            10 => Array(Vec<u32>),
            11 => Map(Vec<(u32, u32)>),
            12 => Struct(Vec<(String, u32)>),
            ],
        });
        $crate::wire_struct!(Structured {
            schema: Vec<SchemaNode>,
            values: Vec<ValueNode>,
        });
        $crate::wire_variant!(Data {
            units: [],
            cases: [0 => Raw(Vec<u8>), 1 => Structured(Structured)],
        });
        $crate::wire_struct!(Header {
            key: String,
            value: Option<Data>,
        });
        $crate::wire_struct!(ConnectRecord {
            topic: String,
            partition: Option<i32>,
            offset: Option<i64>,
            key: Option<Data>,
            value: Option<Data>,
            headers: Vec<Header>,
            timestamp: Option<i64>,
        });
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_strings_lists_and_options_round_trip() {
        let value: (Vec<(String, Option<i64>)>, Vec<u8>) = (
            vec![("zürich".into(), Some(-5)), (String::new(), None)],
            vec![0, 1, 255],
        );
        let mut out = Vec::new();
        value.write(&mut out);
        assert_eq!(
            read_exact::<(Vec<(String, Option<i64>)>, Vec<u8>)>(&out),
            Ok(value)
        );
        check_exact::<(Vec<(String, Option<i64>)>, Vec<u8>)>(&out).unwrap();
    }

    #[test]
    fn truncated_and_malformed_input_is_refused_with_a_reason() {
        let mut out = Vec::new();
        "abc".to_string().write(&mut out);
        let err = read_exact::<String>(&out[..5]).unwrap_err();
        assert!(
            err.to_string().contains("3 bytes wanted at byte 4, 1 left"),
            "{err}"
        );
        let err = check_exact::<String>(&[2, 0, 0, 0, 0xff, 0xfe]).unwrap_err();
        assert!(err.to_string().contains("not UTF-8"), "{err}");
        let err = read_exact::<Option<u32>>(&[7]).unwrap_err();
        assert!(
            err.to_string().contains("7 is not a tag of option"),
            "{err}"
        );
        let err = read_exact::<bool>(&[1, 0]).unwrap_err();
        assert!(err.to_string().contains("1 bytes left over"), "{err}");
        // A huge count in a short buffer is refused before memory is
        // reserved for it.
        let err = read_exact::<Vec<u32>>(&[0xff, 0xff, 0xff, 0x7f]).unwrap_err();
        assert!(err.to_string().contains("a list of"), "{err}");
    }

    #[test]
    fn a_batch_holds_its_records_in_order() {
        let records: [&[u8]; 3] = [b"one", b"", b"three"];
        let batch = write_batch(records.iter().copied());
        assert_eq!(read_batch(&batch).unwrap(), records);
        let err = read_batch(&batch[..batch.len() - 1]).unwrap_err();
        assert!(err.0.contains("wanted"), "{err}");
    }

    #[test]
    fn results_say_what_became_of_each_record() {
        let mut writer = ResultsWriter::with_capacity(0);
        writer.record(&"new".to_string());
        writer.dropped();
        writer.failed("no field \"id\"");
        let results = writer.finish();
        let read = read_results(&results).unwrap();
        let Transformed::Record(range) = &read[0] else {
            panic!("{read:?}")
        };
        assert_eq!(
            read_exact::<String>(&results[range.clone()]).unwrap(),
            "new"
        );
        assert_eq!(
            read[1..],
            [
                Transformed::Dropped,
                Transformed::Failed("no field \"id\"".into())
            ]
        );
        let mut bad = results.clone();
        bad[4] = 9;
        assert!(
            read_results(&bad)
                .unwrap_err()
                .0
                .contains("9 is not a tag of result")
        );
    }
}

//! The Thrift compact protocol, the encoding of Parquet's footer and page headers: a writer
//! for the few structures [`super`] emits and a reader that parses any compact struct into a
//! tree, so unknown fields (statistics, newer format additions) are skipped, not misread.

/// Compact protocol type ids.
pub const TRUE: u8 = 1;
pub const FALSE: u8 = 2;
pub const BYTE: u8 = 3;
pub const I16: u8 = 4;
pub const I32: u8 = 5;
pub const I64: u8 = 6;
pub const DOUBLE: u8 = 7;
pub const BINARY: u8 = 8;
pub const LIST: u8 = 9;
pub const SET: u8 = 10;
pub const MAP: u8 = 11;
pub const STRUCT: u8 = 12;

/// Writes one compact-protocol struct; nested structs open with [`begin_struct`](Self::begin_struct).
pub struct Writer {
    out: Vec<u8>,
    /// The last field id written in each open struct (field ids are delta-coded).
    last_ids: Vec<i16>,
}

impl Default for Writer {
    fn default() -> Self {
        Self::new()
    }
}

impl Writer {
    pub fn new() -> Self {
        Writer {
            out: Vec::with_capacity(256),
            last_ids: vec![0],
        }
    }

    /// Closes the top-level struct and returns its bytes.
    pub fn finish(mut self) -> Vec<u8> {
        debug_assert_eq!(self.last_ids.len(), 1, "a nested struct was left open");
        self.out.push(0);
        self.out
    }

    fn field(&mut self, id: i16, kind: u8) {
        let last = self.last_ids.last_mut().expect("a struct is open");
        let delta = id - *last;
        *last = id;
        if (1..=15).contains(&delta) {
            self.out.push(((delta as u8) << 4) | kind);
        } else {
            self.out.push(kind);
            self.varint(zigzag(id as i64));
        }
    }

    fn varint(&mut self, v: u64) {
        push_varint(&mut self.out, v);
    }

    pub fn i32(&mut self, id: i16, v: i32) {
        self.field(id, I32);
        self.varint(zigzag(v as i64));
    }

    pub fn i64(&mut self, id: i16, v: i64) {
        self.field(id, I64);
        self.varint(zigzag(v));
    }

    pub fn binary(&mut self, id: i16, v: &[u8]) {
        self.field(id, BINARY);
        self.varint(v.len() as u64);
        self.out.extend_from_slice(v);
    }

    pub fn begin_struct(&mut self, id: i16) {
        self.field(id, STRUCT);
        self.last_ids.push(0);
    }

    pub fn end_struct(&mut self) {
        self.out.push(0);
        self.last_ids.pop();
        debug_assert!(!self.last_ids.is_empty(), "more structs closed than opened");
    }

    /// A list of `len` elements of `kind`, to be followed by exactly that many elements.
    pub fn begin_list(&mut self, id: i16, kind: u8, len: usize) {
        self.field(id, LIST);
        if len < 15 {
            self.out.push(((len as u8) << 4) | kind);
        } else {
            self.out.push(0xF0 | kind);
            self.varint(len as u64);
        }
    }

    /// A list element that is a struct: fields follow, then [`end_struct`](Self::end_struct).
    pub fn begin_list_struct(&mut self) {
        self.last_ids.push(0);
    }

    pub fn list_i32(&mut self, v: i32) {
        self.varint(zigzag(v as i64));
    }

    pub fn list_binary(&mut self, v: &[u8]) {
        self.varint(v.len() as u64);
        self.out.extend_from_slice(v);
    }
}

/// An unsigned LEB128 varint, as Thrift's compact protocol and Parquet's RLE run headers use.
pub fn push_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// A parsed compact-protocol value. Integers of every width are widened to `i64`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Double(f64),
    Binary(Vec<u8>),
    List(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Struct(Vec<(i16, Value)>),
}

impl Value {
    /// The field `id` of a struct.
    pub fn field(&self, id: i16) -> Option<&Value> {
        match self {
            Value::Struct(fields) => fields.iter().find(|(i, _)| *i == id).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn int(&self, id: i16) -> Option<i64> {
        match self.field(id)? {
            Value::Int(v) => Some(*v),
            _ => None,
        }
    }

    pub fn binary(&self, id: i16) -> Option<&[u8]> {
        match self.field(id)? {
            Value::Binary(v) => Some(v),
            _ => None,
        }
    }

    pub fn list(&self, id: i16) -> Option<&[Value]> {
        match self.field(id)? {
            Value::List(v) => Some(v),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("malformed Thrift at byte {at}: {problem}")]
pub struct ThriftError {
    pub at: usize,
    pub problem: &'static str,
}

/// Deeper nesting than Parquet's metadata ever has is refused rather than recursed into.
const MAX_DEPTH: usize = 32;

/// Parses one struct starting at `bytes[0]`; returns it and the number of bytes it took.
pub fn read_struct(bytes: &[u8]) -> Result<(Value, usize), ThriftError> {
    let mut reader = Reader { bytes, at: 0 };
    let value = reader.structure(0)?;
    Ok((value, reader.at))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn fail<T>(&self, problem: &'static str) -> Result<T, ThriftError> {
        Err(ThriftError {
            at: self.at,
            problem,
        })
    }

    fn byte(&mut self) -> Result<u8, ThriftError> {
        let Some(&b) = self.bytes.get(self.at) else {
            return self.fail("unexpected end");
        };
        self.at += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, ThriftError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        self.fail("varint longer than 64 bits")
    }

    fn take(&mut self, len: u64) -> Result<&[u8], ThriftError> {
        let remaining = (self.bytes.len() - self.at) as u64;
        if len > remaining {
            return self.fail("length past the end");
        }
        let start = self.at;
        self.at += len as usize;
        Ok(&self.bytes[start..self.at])
    }

    fn structure(&mut self, depth: usize) -> Result<Value, ThriftError> {
        if depth > MAX_DEPTH {
            return self.fail("nested too deeply");
        }
        let mut fields = Vec::new();
        let mut last_id = 0i16;
        loop {
            let header = self.byte()?;
            if header == 0 {
                return Ok(Value::Struct(fields));
            }
            let kind = header & 0x0F;
            let delta = header >> 4;
            let id = if delta == 0 {
                i16::try_from(unzigzag(self.varint()?)).or_else(|_| self.fail("bad field id"))?
            } else {
                last_id.wrapping_add(i16::from(delta))
            };
            last_id = id;
            let value = match kind {
                TRUE => Value::Bool(true),
                FALSE => Value::Bool(false),
                _ => self.value(kind, depth)?,
            };
            fields.push((id, value));
        }
    }

    fn value(&mut self, kind: u8, depth: usize) -> Result<Value, ThriftError> {
        Ok(match kind {
            // Booleans inside lists and maps take one byte each.
            TRUE | FALSE => Value::Bool(self.byte()? == TRUE),
            BYTE => Value::Int(i64::from(self.byte()? as i8)),
            I16 | I32 | I64 => Value::Int(unzigzag(self.varint()?)),
            DOUBLE => {
                let raw = self.take(8)?;
                Value::Double(f64::from_le_bytes(raw.try_into().expect("8 bytes")))
            }
            BINARY => {
                let len = self.varint()?;
                Value::Binary(self.take(len)?.to_vec())
            }
            LIST | SET => {
                let header = self.byte()?;
                let elem = header & 0x0F;
                let len = match header >> 4 {
                    15 => self.varint()?,
                    n => u64::from(n),
                };
                // Every element takes at least one byte: a longer list cannot be in the input.
                if len > (self.bytes.len() - self.at) as u64 {
                    return self.fail("list longer than the input");
                }
                let mut items = Vec::with_capacity(len as usize);
                for _ in 0..len {
                    items.push(self.value(elem, depth + 1)?);
                }
                Value::List(items)
            }
            MAP => {
                let len = self.varint()?;
                if len > (self.bytes.len() - self.at) as u64 {
                    return self.fail("map longer than the input");
                }
                let mut entries = Vec::with_capacity(len as usize);
                if len > 0 {
                    let kinds = self.byte()?;
                    for _ in 0..len {
                        let key = self.value(kinds >> 4, depth + 1)?;
                        let value = self.value(kinds & 0x0F, depth + 1)?;
                        entries.push((key, value));
                    }
                }
                Value::Map(entries)
            }
            STRUCT => self.structure(depth + 1)?,
            _ => return self.fail("unknown type id"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_writer_writes_the_reader_reads() {
        let mut w = Writer::new();
        w.i32(1, -7);
        w.i64(3, 1 << 40);
        w.binary(4, b"close");
        w.begin_list(20, I32, 2); // a field id jump of more than 15
        w.list_i32(0);
        w.list_i32(3);
        w.begin_struct(21);
        w.begin_list(1, STRUCT, 16); // a long list
        for i in 0..16 {
            w.begin_list_struct();
            w.i64(1, i);
            w.end_struct();
        }
        w.end_struct();
        let bytes = w.finish();
        let (value, used) = read_struct(&bytes).unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(value.int(1), Some(-7));
        assert_eq!(value.int(3), Some(1 << 40));
        assert_eq!(value.binary(4), Some(&b"close"[..]));
        assert_eq!(value.list(20).unwrap(), &[Value::Int(0), Value::Int(3)][..]);
        let inner = value.field(21).unwrap().list(1).unwrap();
        assert_eq!(inner.len(), 16);
        assert_eq!(inner[15].int(1), Some(15));
    }

    #[test]
    fn known_bytes_decode_as_the_compact_spec_says() {
        // Field 1 i32 = 150 (zigzag 300 = 0xAC 0x02), field 2 true, stop.
        let (value, used) = read_struct(&[0x15, 0xAC, 0x02, 0x11, 0x00]).unwrap();
        assert_eq!(used, 5);
        assert_eq!(value.int(1), Some(150));
        assert_eq!(value.field(2), Some(&Value::Bool(true)));
    }

    #[test]
    fn truncated_and_hostile_input_is_an_error_not_a_panic() {
        let mut w = Writer::new();
        w.binary(1, b"symbol");
        w.i64(2, 123_456_789);
        let bytes = w.finish();
        for cut in 0..bytes.len() {
            assert!(read_struct(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        // A list claiming 2^60 elements.
        assert!(
            read_struct(&[
                0x19, 0xF5, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10
            ])
            .is_err()
        );
        // Structs nested past the limit.
        let deep: Vec<u8> = std::iter::repeat_n(0x1C, 100).collect();
        assert_eq!(read_struct(&deep).unwrap_err().problem, "nested too deeply");
    }
}

//! A walker over the top-level fields of a protobuf message. The push receivers decode
//! each repeated element (a remote_write `TimeSeries`, an OTLP `ResourceMetrics`) on its
//! own, so a bad element is rejected alone and an error names the byte offset where the
//! body stops making sense. Pure.

/// The value of one field on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    /// A length-delimited payload (message, string, bytes, packed repeated).
    Bytes(&'a [u8]),
}

/// One top-level field and the byte offset of its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field<'a> {
    pub number: u32,
    pub offset: usize,
    pub value: Value<'a>,
}

/// The body is not a protobuf message from `offset` on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireError {
    pub offset: usize,
    pub message: String,
}

/// Iterates over the fields of `buf`; after the first error it ends.
pub fn fields(buf: &[u8]) -> Fields<'_> {
    Fields {
        buf,
        pos: 0,
        failed: false,
    }
}

/// See [`fields`].
pub struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Field<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let r = self.field();
        if r.is_err() {
            self.failed = true;
        }
        Some(r)
    }
}

impl<'a> Fields<'a> {
    fn field(&mut self) -> Result<Field<'a>, WireError> {
        let offset = self.pos;
        let key = self.varint()?;
        let number = key >> 3;
        if number == 0 || number > u64::from(u32::MAX >> 3) {
            return Err(self.error(offset, format!("invalid field number {number}")));
        }
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => Value::Fixed64(u64::from_le_bytes(
                self.take(8, offset)?.try_into().unwrap_or_default(),
            )),
            5 => Value::Fixed32(u32::from_le_bytes(
                self.take(4, offset)?.try_into().unwrap_or_default(),
            )),
            2 => {
                let len = self.varint()?;
                let len = usize::try_from(len).unwrap_or(usize::MAX);
                Value::Bytes(self.take(len, offset)?)
            }
            t => {
                return Err(self.error(
                    offset,
                    format!("unsupported wire type {t} of field {number}"),
                ));
            }
        };
        Ok(Field {
            number: number as u32,
            offset,
            value,
        })
    }

    fn varint(&mut self) -> Result<u64, WireError> {
        let start = self.pos;
        let mut v: u64 = 0;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(self.error(start, "truncated varint".into()));
            };
            self.pos += 1;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.error(start, "varint longer than 10 bytes".into()))
    }

    fn take(&mut self, n: usize, field_offset: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let Some(end) = end else {
            return Err(self.error(
                field_offset,
                format!(
                    "field needs {n} bytes but only {} are left",
                    self.buf.len() - self.pos
                ),
            ));
        };
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn error(&self, offset: usize, message: String) -> WireError {
        WireError { offset, message }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn walks_fields_with_offsets() {
        // field 1 varint 150, field 2 bytes "hi", field 3 fixed32, field 4 fixed64
        let buf = [
            0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i', 0x1d, 1, 0, 0, 0, 0x21, 2, 0, 0, 0, 0, 0, 0,
            0,
        ];
        let got: Vec<Field> = fields(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].value, Value::Varint(150));
        assert_eq!((got[1].number, got[1].offset), (2, 3));
        assert_eq!(got[1].value, Value::Bytes(b"hi"));
        assert_eq!(got[2].value, Value::Fixed32(1));
        assert_eq!(got[3].value, Value::Fixed64(2));
    }

    #[test]
    fn errors_name_the_offset_and_stop() {
        let buf = [0x12, 0x01, b'a', 0x12, 0x05, b'b'];
        let got: Vec<_> = fields(&buf).collect();
        assert_eq!(got.len(), 2);
        let e = got[1].clone().unwrap_err();
        assert_eq!(e.offset, 3);
        assert!(e.message.contains("needs 5 bytes"), "{e:?}");
        let e = fields(&[0x0b]).next().unwrap().unwrap_err();
        assert!(e.message.contains("wire type 3"));
        let e = fields(&[0x08, 0xff]).next().unwrap().unwrap_err();
        assert_eq!(e.message, "truncated varint");
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            for f in fields(&bytes).flatten() {
                prop_assert!(f.offset < bytes.len());
            }
        }
    }
}

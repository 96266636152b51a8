//! A zero-copy protobuf wire-format reader for MEXC's spot WebSocket frames.
//!
//! Why by hand: the frames are a handful of small messages whose numeric fields are all
//! decimal strings; reading the wire format directly hands out borrowed slices of the
//! frame, allocates nothing, and skips fields it does not know (MEXC adds fields without
//! notice: the 2026 field set is already on the wire). The simulated venue encodes with
//! prost from the official field numbers, which cross-checks this reader in the tests.

/// Why bytes are not the protobuf we expect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtoError {
    Truncated,
    BadVarint,
    BadWireType,
    WrongWireType,
}

/// A protobuf wire type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    Varint,
    Fixed64,
    Len,
    Fixed32,
}

/// A cursor over one protobuf message.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

type R<T> = Result<T, ProtoError>;

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// The next field's number and wire type; `None` at the end of the message.
    #[inline]
    pub fn field(&mut self) -> R<Option<(u32, Wire)>> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number = u32::try_from(key >> 3).map_err(|_| ProtoError::BadVarint)?;
        if number == 0 {
            return Err(ProtoError::BadVarint);
        }
        let wire = match key & 7 {
            0 => Wire::Varint,
            1 => Wire::Fixed64,
            2 => Wire::Len,
            5 => Wire::Fixed32,
            _ => return Err(ProtoError::BadWireType),
        };
        Ok(Some((number, wire)))
    }

    #[inline]
    pub fn varint(&mut self) -> R<u64> {
        // Keys and short lengths are one byte.
        match self.buf.get(self.pos) {
            Some(&b) if b < 0x80 => {
                self.pos += 1;
                Ok(u64::from(b))
            }
            _ => self.varint_long(),
        }
    }

    #[inline(never)]
    fn varint_long(&mut self) -> R<u64> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = *self.buf.get(self.pos).ok_or(ProtoError::Truncated)?;
            self.pos += 1;
            if i == 9 && b > 1 {
                return Err(ProtoError::BadVarint);
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(ProtoError::BadVarint)
    }

    /// A length-delimited field's bytes.
    #[inline]
    pub fn bytes(&mut self) -> R<&'a [u8]> {
        let len = usize::try_from(self.varint()?).map_err(|_| ProtoError::Truncated)?;
        let end = self.pos.checked_add(len).ok_or(ProtoError::Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(ProtoError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    /// The value of a field of wire type `wire` as bytes (length-delimited only).
    #[inline]
    pub fn len_field(&mut self, wire: Wire) -> R<&'a [u8]> {
        if wire != Wire::Len {
            return Err(ProtoError::WrongWireType);
        }
        self.bytes()
    }

    /// The value of a varint field.
    #[inline]
    pub fn varint_field(&mut self, wire: Wire) -> R<u64> {
        if wire != Wire::Varint {
            return Err(ProtoError::WrongWireType);
        }
        self.varint()
    }

    /// Skips a field's value.
    #[inline]
    pub fn skip(&mut self, wire: Wire) -> R<()> {
        let n = match wire {
            Wire::Varint => return self.varint().map(|_| ()),
            Wire::Len => return self.bytes().map(|_| ()),
            Wire::Fixed64 => 8,
            Wire::Fixed32 => 4,
        };
        let end = self.pos.checked_add(n).ok_or(ProtoError::Truncated)?;
        if end > self.buf.len() {
            return Err(ProtoError::Truncated);
        }
        self.pos = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_fields_and_skips_unknown_ones() {
        // field 1 varint 150, field 2 "hi", field 9 fixed32, field 3 varint 1
        let msg = [0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i', 0x4d, 1, 2, 3, 4, 0x18, 0x01];
        let mut r = Reader::new(&msg);
        assert_eq!(r.field(), Ok(Some((1, Wire::Varint))));
        assert_eq!(r.varint(), Ok(150));
        assert_eq!(r.field(), Ok(Some((2, Wire::Len))));
        assert_eq!(r.bytes(), Ok(&b"hi"[..]));
        assert_eq!(r.field(), Ok(Some((9, Wire::Fixed32))));
        r.skip(Wire::Fixed32).unwrap();
        assert_eq!(r.field(), Ok(Some((3, Wire::Varint))));
        assert_eq!(r.varint(), Ok(1));
        assert_eq!(r.field(), Ok(None));
    }

    #[test]
    fn refuses_broken_input() {
        assert_eq!(
            Reader::new(&[0x12, 0x05, b'a']).field().and_then(|_| Reader::new(&[0x05]).bytes()),
            Err(ProtoError::Truncated)
        );
        assert_eq!(Reader::new(&[0x0b]).field(), Err(ProtoError::BadWireType));
        assert_eq!(Reader::new(&[0xff; 11]).varint(), Err(ProtoError::BadVarint));
        assert_eq!(Reader::new(&[0x00]).field(), Err(ProtoError::BadVarint), "field number 0");
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let mut r = Reader::new(&bytes);
            while let Ok(Some((_, w))) = r.field() {
                if r.skip(w).is_err() {
                    break;
                }
            }
        }
    }
}

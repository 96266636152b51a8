//! Reading a journal file: verify every frame, stop cleanly at a torn tail, report
//! corruption anywhere else.
//!
//! A crash mid-write leaves a prefix of the last frame, sometimes followed by zeros (a
//! file system that extended the file before the data landed). So a frame that fails to
//! verify is a *torn tail* when nothing valid can follow it: it runs past the end of the
//! file, it ends exactly at the end, or only zeros follow it. A frame that fails anywhere
//! else, a sequence number out of order, or a record this build cannot decode is
//! *corruption*: reading stops there and the caller decides (the writer refuses to
//! append, replay refuses to trade, `inspect` says where).

use std::fmt;
use std::path::{Path, PathBuf};

use super::codec::{FILE_HEADER, FORMAT_VERSION, FRAME_HEADER, JournalKind, MAGIC, MAX_PAYLOAD, Record};
use super::error::JournalError;

/// One verified record and where it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub offset: u64,
    pub record: Record,
}

/// Why a frame is corrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Damage {
    /// The checksum does not match and more data follows.
    Checksum,
    /// The length field is impossible and more data follows.
    Length,
    /// A valid frame whose sequence number is not the previous one plus one.
    Sequence { expected: u64, found: u64 },
    /// A valid frame whose record type or version this build cannot decode.
    Undecodable { kind: u8, version: u8 },
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Damage::Checksum => f.write_str("checksum mismatch"),
            Damage::Length => f.write_str("impossible frame length"),
            Damage::Sequence { expected, found } => {
                write!(f, "sequence {found} where {expected} was expected")
            }
            Damage::Undecodable { kind, version } => {
                write!(f, "record type {kind} version {version} cannot be decoded")
            }
        }
    }
}

/// How a journal file ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tail {
    /// Every byte belongs to a verified frame.
    Clean,
    /// The last `bytes` bytes, from `offset`, are an incomplete write: safe to drop.
    Torn { offset: u64, bytes: u64 },
    /// A damaged frame at `offset`; records after it were not read.
    Corrupt { offset: u64, damage: Damage },
}

impl Tail {
    pub fn is_corrupt(&self) -> bool {
        matches!(self, Tail::Corrupt { .. })
    }
}

impl fmt::Display for Tail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tail::Clean => f.write_str("clean"),
            Tail::Torn { offset, bytes } => {
                write!(f, "torn tail of {bytes} bytes at offset {offset} (tolerated)")
            }
            Tail::Corrupt { offset, damage } => write!(f, "CORRUPT at offset {offset}: {damage}"),
        }
    }
}

/// A journal file read and verified.
#[derive(Clone, Debug)]
pub struct JournalFile {
    pub path: PathBuf,
    pub kind: JournalKind,
    pub entries: Vec<Entry>,
    pub tail: Tail,
    /// Bytes in the file.
    pub len: u64,
    /// Bytes up to the end of the last verified frame.
    pub valid_len: u64,
}

impl JournalFile {
    pub fn last_seq(&self) -> u64 {
        self.entries.last().map_or(0, |e| e.seq)
    }

    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.entries.iter().map(|e| &e.record)
    }
}

/// Reads and verifies the journal at `path`.
pub fn read_file(path: &Path) -> Result<JournalFile, JournalError> {
    let bytes = std::fs::read(path).map_err(|e| JournalError::Io(e.kind()))?;
    parse(path, &bytes)
}

/// Verifies journal bytes (the contents of the file at `path`).
pub fn parse(path: &Path, bytes: &[u8]) -> Result<JournalFile, JournalError> {
    if bytes.len() < FILE_HEADER {
        return Err(JournalError::BadHeader);
    }
    if bytes[..8] != MAGIC || u16::from_le_bytes([bytes[8], bytes[9]]) != FORMAT_VERSION {
        return Err(JournalError::BadHeader);
    }
    let kind = JournalKind::from_u8(bytes[10]).ok_or(JournalError::BadHeader)?;
    let mut entries = Vec::new();
    let mut pos = FILE_HEADER;
    let mut expected = 1u64;
    let end = bytes.len();
    let tail = loop {
        if pos == end {
            break Tail::Clean;
        }
        let rest = &bytes[pos..];
        let torn = Tail::Torn { offset: pos as u64, bytes: (end - pos) as u64 };
        let zeros_only = rest.iter().all(|&b| b == 0);
        if rest.len() < FRAME_HEADER {
            break torn;
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len > MAX_PAYLOAD {
            break if zeros_only {
                torn
            } else {
                Tail::Corrupt { offset: pos as u64, damage: Damage::Length }
            };
        }
        let frame_end = FRAME_HEADER + len;
        if frame_end > rest.len() {
            break torn;
        }
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        if crc32fast::hash(&rest[8..frame_end]) != crc || zeros_only {
            let at_end = frame_end == rest.len() || rest[frame_end..].iter().all(|&b| b == 0);
            break if at_end { torn } else { Tail::Corrupt { offset: pos as u64, damage: Damage::Checksum } };
        }
        let seq = u64::from_le_bytes(rest[8..16].try_into().unwrap_or([0; 8]));
        if seq != expected {
            break Tail::Corrupt { offset: pos as u64, damage: Damage::Sequence { expected, found: seq } };
        }
        let (k, v) = (rest[16], rest[17]);
        let Some(record) = Record::decode(k, v, &rest[FRAME_HEADER..frame_end]) else {
            break Tail::Corrupt { offset: pos as u64, damage: Damage::Undecodable { kind: k, version: v } };
        };
        entries.push(Entry { seq, offset: pos as u64, record });
        expected += 1;
        pos += frame_end;
    };
    let valid_len = match tail {
        Tail::Clean => end as u64,
        Tail::Torn { offset, .. } | Tail::Corrupt { offset, .. } => offset,
    };
    Ok(JournalFile { path: path.to_path_buf(), kind, entries, tail, len: end as u64, valid_len })
}

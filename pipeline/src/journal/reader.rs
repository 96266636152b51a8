//! Reading a journal file: verify every frame, stop cleanly at a torn tail, report
//! corruption anywhere else.
//!
//! A crash mid-write leaves a prefix of the last write: its last frame runs past the end
//! of the file. Some file systems extend the file before the data lands, so the missing
//! part may read as zeros instead; data lands in whole sectors, so such a gap starts at a
//! 512-byte boundary and runs to the end of the file. A frame is therefore a *torn tail*
//! only when its header or body runs past the end of the file, when nothing but zeros is
//! left, or when it fails its checksum and everything from a 512-byte boundary inside it
//! to the end of the file is zero. Anything else that fails is *corruption*, wherever it
//! is, the last complete record included: a checksum that does not match, an impossible
//! length, a sequence number out of order, a record this build cannot decode. [`parse`]
//! stops at the first problem and the caller decides (the writer refuses to append,
//! replay refuses to trade); [`verify`] reads on past corruption to name every problem
//! (`arb journal DIR --verify`).
//!
//! A flipped bit in a record's length field that makes the last record claim more bytes
//! than the file holds reads as a torn tail: it is indistinguishable from one.

use std::fmt;
use std::path::{Path, PathBuf};

use super::codec::{FILE_HEADER, FORMAT_VERSION, FRAME_HEADER, JournalKind, MAGIC, MAX_PAYLOAD, Record};
use super::error::JournalError;

/// The granularity in which a write reaches the disk: a gap of zeros left by a write that
/// did not land starts at a multiple of this.
pub const SECTOR: usize = 512;

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
    /// A complete frame whose checksum does not match.
    Checksum,
    /// The length field is impossible.
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
    /// The last `bytes` bytes, from `offset`, are an incomplete write of record number
    /// `record` (1-based, its sequence number): safe to drop.
    Torn { offset: u64, record: u64, bytes: u64 },
    /// Record number `record`, at `offset`, is damaged; records after it were not read.
    Corrupt { offset: u64, record: u64, damage: Damage },
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
            Tail::Torn { offset, record, bytes } => {
                write!(f, "torn tail of {bytes} bytes at offset {offset}, record {record} (tolerated)")
            }
            Tail::Corrupt { offset, record, damage } => {
                write!(f, "CORRUPT at offset {offset}, record {record}: {damage}")
            }
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

/// What the bytes at one offset hold.
enum Frame {
    /// The end of the file.
    End,
    /// An incomplete write: nothing valid can follow.
    Torn,
    /// A frame that fails to verify.
    Damaged(Damage),
    /// A frame whose checksum verifies, ending at `end`.
    Sound { seq: u64, kind: u8, version: u8, end: usize },
}

/// True when everything from a sector boundary in `from..to` to the end of `bytes` is
/// zero: a write whose last sectors never landed.
fn unwritten_from(bytes: &[u8], from: usize, to: usize) -> bool {
    let data_end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let boundary = data_end.max(from).div_ceil(SECTOR) * SECTOR;
    boundary < to
}

fn frame_at(bytes: &[u8], pos: usize) -> Frame {
    let end = bytes.len();
    if pos >= end {
        return Frame::End;
    }
    let rest = &bytes[pos..];
    if rest.iter().all(|&b| b == 0) || rest.len() < FRAME_HEADER {
        return Frame::Torn;
    }
    let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    if len > MAX_PAYLOAD {
        return Frame::Damaged(Damage::Length);
    }
    let frame_end = FRAME_HEADER + len;
    if frame_end > rest.len() {
        return Frame::Torn;
    }
    let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
    if crc32fast::hash(&rest[8..frame_end]) != crc {
        return if unwritten_from(bytes, pos, pos + frame_end) {
            Frame::Torn
        } else {
            Frame::Damaged(Damage::Checksum)
        };
    }
    let seq = u64::from_le_bytes(rest[8..16].try_into().unwrap_or([0; 8]));
    Frame::Sound { seq, kind: rest[16], version: rest[17], end: pos + frame_end }
}

fn header_kind(path: &Path, bytes: &[u8]) -> Result<JournalKind, JournalError> {
    let bad = JournalError::BadHeader { file: JournalKind::of_path(path) };
    if bytes.len() < FILE_HEADER
        || bytes[..8] != MAGIC
        || u16::from_le_bytes([bytes[8], bytes[9]]) != FORMAT_VERSION
    {
        return Err(bad);
    }
    JournalKind::from_u8(bytes[10]).ok_or(bad)
}

/// Verifies journal bytes (the contents of the file at `path`), stopping at the first
/// problem.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<JournalFile, JournalError> {
    let kind = header_kind(path, bytes)?;
    let mut entries = Vec::new();
    let mut pos = FILE_HEADER;
    let mut expected = 1u64;
    let end = bytes.len();
    let tail = loop {
        let (offset, record) = (pos as u64, expected);
        let corrupt = |damage| Tail::Corrupt { offset, record, damage };
        match frame_at(bytes, pos) {
            Frame::End => break Tail::Clean,
            Frame::Torn => break Tail::Torn { offset, record, bytes: (end - pos) as u64 },
            Frame::Damaged(damage) => break corrupt(damage),
            Frame::Sound { seq, kind, version, end: frame_end } => {
                if seq != expected {
                    break corrupt(Damage::Sequence { expected, found: seq });
                }
                let Some(record) = Record::decode(kind, version, &bytes[pos + FRAME_HEADER..frame_end])
                else {
                    break corrupt(Damage::Undecodable { kind, version });
                };
                entries.push(Entry { seq, offset, record });
                expected += 1;
                pos = frame_end;
            }
        }
    };
    let valid_len = match tail {
        Tail::Clean => end as u64,
        Tail::Torn { offset, .. } | Tail::Corrupt { offset, .. } => offset,
    };
    Ok(JournalFile { path: path.to_path_buf(), kind, entries, tail, len: end as u64, valid_len })
}

/// One problem a full verification found in a journal file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finding {
    /// An incomplete last write of `bytes` bytes at `offset`, record number `record`.
    Torn { offset: u64, record: u64, bytes: u64 },
    /// Damage at `offset` where record number `record` was expected, `bytes` long up to
    /// the next frame that verifies, whose sequence number is `resumed` (`None`: nothing
    /// after the damage verifies).
    Corrupt { offset: u64, record: u64, damage: Damage, bytes: u64, resumed: Option<u64> },
}

impl Finding {
    pub fn is_corrupt(&self) -> bool {
        matches!(self, Finding::Corrupt { .. })
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Finding::Torn { offset, record, bytes } => write!(
                f,
                "torn tail at byte offset {offset}, record {record}: an unfinished write of {bytes} bytes \
                 (cut off on the next start)"
            ),
            Finding::Corrupt { offset, record, damage, bytes, resumed } => {
                write!(f, "CORRUPT at byte offset {offset}, record {record}: {damage}")?;
                match (damage, resumed) {
                    (Damage::Sequence { .. } | Damage::Undecodable { .. }, _) => Ok(()),
                    (_, Some(next)) if next > record + 1 => {
                        write!(f, "; records {record} to {} lost, {bytes} bytes", next - 1)
                    }
                    (_, Some(_)) => write!(f, "; {bytes} bytes"),
                    (_, None) => write!(f, "; nothing after it verifies ({bytes} bytes)"),
                }
            }
        }
    }
}

/// The first frame at or after `from` that verifies and decodes, trying `hint` first.
fn resync(bytes: &[u8], from: usize, hint: Option<usize>) -> Option<(usize, u64)> {
    let sound = |at: usize| match frame_at(bytes, at) {
        Frame::Sound { seq, kind, version, end } => {
            Record::decode(kind, version, &bytes[at + FRAME_HEADER..end]).map(|_| (at, seq))
        }
        _ => None,
    };
    hint.and_then(sound).or_else(|| (from..bytes.len()).find_map(sound))
}

/// Verifies every frame of journal bytes, reading on past damage (from the next frame
/// that verifies) so that every problem is named. Fails only on a bad file header.
pub fn verify(bytes: &[u8]) -> Result<Vec<Finding>, JournalError> {
    header_kind(Path::new(""), bytes)?;
    let mut found = Vec::new();
    let mut pos = FILE_HEADER;
    let mut expected = 1u64;
    loop {
        let (offset, record) = (pos as u64, expected);
        match frame_at(bytes, pos) {
            Frame::End => break,
            Frame::Torn => {
                found.push(Finding::Torn { offset, record, bytes: (bytes.len() - pos) as u64 });
                break;
            }
            Frame::Damaged(damage) => {
                let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap_or([0; 4])) as usize;
                let hint = (len <= MAX_PAYLOAD).then_some(pos + FRAME_HEADER + len);
                let next = resync(bytes, pos + 1, hint);
                let stop = next.map_or(bytes.len(), |(at, _)| at);
                let resumed = next.map(|(_, seq)| seq);
                found.push(Finding::Corrupt { offset, record, damage, bytes: (stop - pos) as u64, resumed });
                match next {
                    Some((at, seq)) => {
                        pos = at;
                        expected = seq;
                    }
                    None => break,
                }
            }
            Frame::Sound { seq, kind, version, end } => {
                let frame = (end - pos) as u64;
                if seq != expected {
                    let damage = Damage::Sequence { expected, found: seq };
                    found.push(Finding::Corrupt { offset, record, damage, bytes: frame, resumed: Some(seq) });
                }
                if Record::decode(kind, version, &bytes[pos + FRAME_HEADER..end]).is_none() {
                    let damage = Damage::Undecodable { kind, version };
                    found.push(Finding::Corrupt {
                        offset,
                        record: seq,
                        damage,
                        bytes: frame,
                        resumed: Some(seq + 1),
                    });
                }
                expected = seq + 1;
                pos = end;
            }
        }
    }
    Ok(found)
}

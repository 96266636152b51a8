//! Captures of raw venue messages: what `arb record` writes and `arb book` /
//! `arb replay` read.
//!
//! JSON Lines, optionally gzip-compressed (`.gz`), one venue message per line, in
//! arrival order:
//!
//! ```text
//! {"recv_ns": <u64 ns since the Unix epoch>, "venue": "gateio"|"mexc",
//!  "market": "spot"|"futures", "source": "ws"|"rest",
//!  "path": "<REST path and query, rest only>", "text": "<the frame or body>"}
//! ```
//!
//! with `"b64": "<base64>"` instead of `"text"` for a binary frame (MEXC spot protobuf).

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use pipeline::types::{Market, Venue};
use serde::{Deserialize, Serialize};

/// Where a captured message came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Ws,
    Rest,
}

/// One captured message, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Line {
    pub recv_ns: u64,
    pub venue: Venue,
    pub market: Market,
    pub source: Source,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b64: Option<String>,
}

/// One captured message, decoded from its line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub recv_ns: u64,
    pub venue: Venue,
    pub market: Market,
    pub source: Source,
    pub path: Option<String>,
    pub payload: Vec<u8>,
    pub binary: bool,
}

impl Record {
    pub fn to_line(&self) -> Line {
        let (text, b64) = match (self.binary, std::str::from_utf8(&self.payload)) {
            (false, Ok(t)) => (Some(t.to_owned()), None),
            _ => (None, Some(base64::engine::general_purpose::STANDARD.encode(&self.payload))),
        };
        Line {
            recv_ns: self.recv_ns,
            venue: self.venue,
            market: self.market,
            source: self.source,
            path: self.path.clone(),
            text,
            b64,
        }
    }
}

/// A capture that cannot be read, with the file and line.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The cause is in the message, not a `source` as well: shown as a chain, the reason
    /// would be printed twice.
    #[error("{file}: {cause}")]
    Io { file: PathBuf, cause: io::Error },
    #[error("{file}:{line}: {message}")]
    BadLine { file: PathBuf, line: usize, message: String },
    /// A file with no record: nothing to replay (a recording stopped before the feed
    /// delivered anything, or the wrong file).
    #[error("{file}: the capture holds no venue messages")]
    Empty { file: PathBuf },
}

impl TryFrom<Line> for Record {
    type Error = String;
    fn try_from(l: Line) -> Result<Self, String> {
        let (payload, binary) = match (l.text, l.b64) {
            (Some(t), None) => (t.into_bytes(), false),
            (None, Some(b)) => (
                base64::engine::general_purpose::STANDARD
                    .decode(b.as_bytes())
                    .map_err(|e| format!("bad b64: {e}"))?,
                true,
            ),
            _ => return Err("exactly one of `text` and `b64` is required".into()),
        };
        if l.source == Source::Rest && l.path.is_none() {
            return Err("a rest line needs `path`".into());
        }
        Ok(Record {
            recv_ns: l.recv_ns,
            venue: l.venue,
            market: l.market,
            source: l.source,
            path: l.path,
            payload,
            binary,
        })
    }
}

fn is_gzip(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "gz")
}

/// Reads every record of a capture file (plain or `.gz`).
/// Reads every record of the capture at `path`; a file without one is an error.
pub fn read_file(path: &Path) -> Result<Vec<Record>, CaptureError> {
    let file = File::open(path).map_err(|cause| CaptureError::Io { file: path.to_owned(), cause })?;
    let records = read_from(file, is_gzip(path), path)?;
    if records.is_empty() {
        return Err(CaptureError::Empty { file: path.to_owned() });
    }
    Ok(records)
}

/// Reads every record of a capture from `reader` (gzip-compressed with `gzip`); `file`
/// names it in errors.
pub fn read_from(reader: impl Read, gzip: bool, file: &Path) -> Result<Vec<Record>, CaptureError> {
    if gzip {
        read_lines(BufReader::new(flate2::read::GzDecoder::new(reader)), file)
    } else {
        read_lines(BufReader::new(reader), file)
    }
}

fn read_lines(reader: impl BufRead, file: &Path) -> Result<Vec<Record>, CaptureError> {
    let mut out = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|cause| CaptureError::Io { file: file.to_owned(), cause })?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |message: String| CaptureError::BadLine { file: file.to_owned(), line: i + 1, message };
        let parsed: Line = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
        out.push(Record::try_from(parsed).map_err(bad)?);
    }
    Ok(out)
}

/// Reads several captures and merges them by receive time (stable: equal times keep
/// file order).
pub fn read_files(paths: &[PathBuf]) -> Result<Vec<Record>, CaptureError> {
    let mut all = Vec::new();
    for p in paths {
        all.extend(read_file(p)?);
    }
    all.sort_by_key(|r| r.recv_ns);
    Ok(all)
}

/// Writes records to a capture file, gzip-compressed when the name ends in `.gz`.
pub struct Writer {
    out: Box<dyn Write + Send>,
    path: PathBuf,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("path", &self.path).finish()
    }
}

impl Writer {
    pub fn create(path: &Path) -> Result<Self, CaptureError> {
        let file = File::create(path).map_err(|cause| CaptureError::Io { file: path.to_owned(), cause })?;
        let out: Box<dyn Write + Send> = if is_gzip(path) {
            Box::new(flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::default()))
        } else {
            Box::new(BufWriter::new(file))
        };
        Ok(Self { out, path: path.to_owned() })
    }

    pub fn write(&mut self, r: &Record) -> Result<(), CaptureError> {
        let io_err = |cause| CaptureError::Io { file: self.path.clone(), cause };
        let text = serde_json::to_string(&r.to_line()).map_err(|e| io_err(io::Error::other(e)))?;
        self.out.write_all(text.as_bytes()).map_err(io_err)?;
        self.out.write_all(b"\n").map_err(io_err)
    }

    /// Flushes and, for gzip, writes the trailer.
    pub fn finish(mut self) -> Result<(), CaptureError> {
        let path = self.path.clone();
        self.out.flush().map_err(|cause| CaptureError::Io { file: path, cause })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_named_with_its_reason_once() {
        let e = read_file(Path::new("/nonexistent/capture.jsonl")).unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("/nonexistent/capture.jsonl: "), "{text}");
        // A chain printer (anyhow's `{:#}`) adds each source: there is none to repeat it.
        assert!(std::error::Error::source(&e).is_none(), "{text}");
    }

    #[test]
    fn a_capture_without_a_message_is_refused_naming_its_file() {
        let dir = std::env::temp_dir().join(format!("arb-capture-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["e.jsonl", "e.jsonl.gz"] {
            let path = dir.join(name);
            Writer::create(&path).unwrap().finish().unwrap();
            let e = read_files(std::slice::from_ref(&path)).unwrap_err();
            assert_eq!(e.to_string(), format!("{}: the capture holds no venue messages", path.display()));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn sample() -> Vec<Record> {
        vec![
            Record {
                recv_ns: 2,
                venue: Venue::GateIo,
                market: Market::Spot,
                source: Source::Rest,
                path: Some("/api/v4/spot/order_book?currency_pair=BTC_USDT&with_id=true".into()),
                payload: br#"{"id":1,"asks":[],"bids":[]}"#.to_vec(),
                binary: false,
            },
            Record {
                recv_ns: 1,
                venue: Venue::Mexc,
                market: Market::Spot,
                source: Source::Ws,
                path: None,
                payload: vec![0x0a, 0x00, 0xff, 0x80],
                binary: true,
            },
        ]
    }

    #[test]
    fn plain_and_gzip_round_trip_and_merge_by_time() {
        let dir = std::env::temp_dir().join(format!("arb-capture-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["c.jsonl", "c.jsonl.gz"] {
            let path = dir.join(name);
            let mut w = Writer::create(&path).unwrap();
            for r in sample() {
                w.write(&r).unwrap();
            }
            drop(w);
            assert_eq!(read_file(&path).unwrap(), sample(), "{name}");
        }
        let merged = read_files(&[dir.join("c.jsonl"), dir.join("c.jsonl.gz")]).unwrap();
        assert_eq!(merged.iter().map(|r| r.recv_ns).collect::<Vec<_>>(), [1, 1, 2, 2]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_shared_corpus_reads_in_the_capture_format() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/gateio/corpus-2021/capture.jsonl");
        let recs = read_file(&path).unwrap();
        assert_eq!(recs.len(), 249);
        assert_eq!(recs.iter().filter(|r| r.source == Source::Rest).count(), 10);
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let dir = std::env::temp_dir().join(format!("arb-capture-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.jsonl");
        std::fs::write(&path, "{\"recv_ns\":1,\"venue\":\"gateio\",\"market\":\"spot\",\"source\":\"ws\",\"text\":\"{}\"}\n{\"recv_ns\":1}\n").unwrap();
        let e = read_file(&path).unwrap_err().to_string();
        assert!(e.contains("bad.jsonl:2:"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! Appending to a journal file.
//!
//! Records are encoded into a buffer reserved at open (no allocation afterwards) and
//! reach the file in one `write` per [`JournalWriter::commit`], so a writer that appends
//! every leg of an operation and then commits makes one system call for all of them.
//! A write survives a crash of the process (the data is in the page cache). The writer
//! never makes it durable on its own thread: the journal's sync thread
//! ([`super::JournalSync`]) group-commits with `fdatasync` off the hot path, as the
//! [`FsyncPolicy`] says, and the writer publishes how far it has written for that thread
//! (two relaxed-cost atomic stores per commit). A failed `fdatasync` breaks the writer as
//! a failed write does: its next commit fails, so no further order goes out unjournaled.
//!
//! Opening an existing file verifies it: a torn tail (a crash mid-write) is cut off and
//! appending continues after the last good record with the next sequence number; a
//! corrupt file is refused, because appending after damage would hide it.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use super::codec::{FILE_HEADER, FRAME_HEADER, JournalKind, MAX_PAYLOAD, Record, encode_frame, file_header};
use super::error::JournalError;
use super::reader::{Tail, parse};
use super::sync::{SyncHandle, Written};

/// Bytes the writer buffers before it must write.
const BUFFER: usize = 64 * 1024;

/// The single writer of one journal file.
#[derive(Debug)]
pub struct JournalWriter {
    file: File,
    path: PathBuf,
    kind: JournalKind,
    next_seq: u64,
    buf: Vec<u8>,
    /// How far the file is written and synced, shared with the sync thread.
    written: Arc<Written>,
    failed: Option<JournalError>,
    /// The I/O error behind `failed`, for a cold thread to report.
    cause: Arc<OnceLock<std::io::Error>>,
    bytes: u64,
}

/// What opening found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opened {
    /// Records already in the file.
    pub records: u64,
    /// Bytes of a torn tail that were cut off (0 when the file ended cleanly).
    pub truncated: u64,
}

impl JournalWriter {
    /// Opens (creating if needed) the journal of `kind` in `dir`. What the file holds is
    /// made durable before this returns.
    pub fn open(dir: &Path, kind: JournalKind) -> Result<(Self, Opened), JournalError> {
        std::fs::create_dir_all(dir).map_err(|e| JournalError::Io(e.kind()))?;
        let path = dir.join(kind.file_name());
        let io = |e: std::io::Error| JournalError::Io(e.kind());
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        // A new journal is readable by its owner only.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&path).map_err(io)?;
        let existing = file.metadata().map_err(io)?.len();
        let mut opened = Opened { records: 0, truncated: 0 };
        let mut next_seq = 1;
        let mut end = existing;
        if existing == 0 {
            file.write_all(&file_header(kind)).map_err(io)?;
            file.sync_all().map_err(io)?;
            end = FILE_HEADER as u64;
        } else {
            let bytes = std::fs::read(&path).map_err(io)?;
            let j = parse(&path, &bytes)?;
            if j.kind != kind {
                return Err(JournalError::WrongFile);
            }
            match j.tail {
                Tail::Clean => {}
                Tail::Torn { offset, bytes, .. } => {
                    file.set_len(offset).map_err(io)?;
                    file.sync_all().map_err(io)?;
                    opened.truncated = bytes;
                    end = offset;
                }
                Tail::Corrupt { offset, .. } => return Err(JournalError::Corrupt { file: kind, offset }),
            }
            opened.records = j.entries.len() as u64;
            next_seq = j.last_seq() + 1;
            // Written by a process that may have died before its sync thread ran.
            file.sync_data().map_err(io)?;
        }
        file.seek(SeekFrom::Start(end)).map_err(io)?;
        let w = Self {
            file,
            path,
            kind,
            next_seq,
            buf: Vec::with_capacity(BUFFER),
            written: Arc::new(Written::new(end, next_seq - 1)),
            failed: None,
            cause: Arc::default(),
            bytes: end,
        };
        Ok((w, opened))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn kind(&self) -> JournalKind {
        self.kind
    }

    /// The sequence number the next record gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Bytes in the file after the last commit.
    pub fn len(&self) -> u64 {
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.next_seq == 1
    }

    /// The error that broke this writer, if any: after a failed write nothing more is
    /// accepted, because the file's end is no longer known.
    pub fn failure(&self) -> Option<JournalError> {
        self.failed
    }

    /// The operating system's error that broke this writer, once there is one, for a
    /// cold thread to report while the writer itself lives on its stage's thread.
    pub fn failure_cause(&self) -> Arc<OnceLock<std::io::Error>> {
        self.cause.clone()
    }

    /// What the journal's sync thread needs to make this file durable: its own handle
    /// on the file and the shared progress. The sync thread records a failed sync in
    /// [`JournalWriter::failure_cause`] and this writer's next commit fails.
    pub fn sync_handle(&self) -> Result<SyncHandle, JournalError> {
        let file = self.file.try_clone().map_err(|e| JournalError::Io(e.kind()))?;
        Ok(SyncHandle::new(self.kind, file, self.written.clone(), self.cause.clone()))
    }

    /// Bytes of the file known to be durable: at open, or as far as the last sync by
    /// this writer or its sync thread.
    pub fn synced_len(&self) -> u64 {
        self.written.synced()
    }

    /// Encodes `rec` into the buffer and returns its sequence number. Nothing reaches the
    /// file before [`JournalWriter::commit`] (or a full buffer).
    pub fn append(&mut self, rec: &Record) -> Result<u64, JournalError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if rec.kind().journal() != self.kind {
            return Err(JournalError::WrongFile);
        }
        if self.buf.len() + FRAME_HEADER + MAX_PAYLOAD > self.buf.capacity() {
            self.write_out()?;
        }
        let mut frame = [0u8; FRAME_HEADER + MAX_PAYLOAD];
        let n = encode_frame(self.next_seq, rec, &mut frame).ok_or(JournalError::TooLarge)?;
        self.buf.extend_from_slice(&frame[..n]);
        let seq = self.next_seq;
        self.next_seq += 1;
        Ok(seq)
    }

    /// Writes the buffered records in one system call (page cache, no fsync: the sync
    /// thread makes them durable). Fails once a write or a sync has failed.
    pub fn commit(&mut self) -> Result<(), JournalError> {
        if self.failed.is_none() && self.written.is_broken() {
            // The sync thread's fdatasync failed; its error is the cause.
            let kind = self.cause.get().map_or(std::io::ErrorKind::Other, std::io::Error::kind);
            self.failed = Some(JournalError::Io(kind));
        }
        self.write_out()
    }

    /// Appends `rec` and commits.
    pub fn write(&mut self, rec: &Record) -> Result<u64, JournalError> {
        let seq = self.append(rec)?;
        self.commit()?;
        Ok(seq)
    }

    /// Writes what is buffered and fsyncs on the calling thread (on stop, and for
    /// tools that write a journal without a sync thread).
    pub fn sync(&mut self) -> Result<(), JournalError> {
        self.write_out()?;
        let end = self.bytes;
        if self.written.synced() >= end {
            return Ok(());
        }
        if let Err(e) = self.file.sync_data() {
            return Err(self.fail(e));
        }
        self.written.mark_synced(end);
        Ok(())
    }

    fn write_out(&mut self) -> Result<(), JournalError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if self.buf.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.file.write_all(&self.buf) {
            return Err(self.fail(e));
        }
        self.bytes += self.buf.len() as u64;
        self.buf.clear();
        self.written.publish(self.bytes, self.next_seq - 1);
        Ok(())
    }

    /// Marks the file as if the sync thread's fdatasync had failed (tests).
    #[cfg(test)]
    pub(crate) fn break_sync_for_test(&self) {
        let _ = self.cause.set(std::io::Error::from(std::io::ErrorKind::StorageFull));
        self.written.break_it();
    }

    /// Makes every later write fail, as a full disk would (tests of the callers).
    #[cfg(test)]
    pub(crate) fn break_for_test(&mut self) {
        self.failed = Some(JournalError::Io(std::io::ErrorKind::StorageFull));
    }

    #[cold]
    fn fail(&mut self, e: std::io::Error) -> JournalError {
        let failed = JournalError::Io(e.kind());
        self.failed = Some(failed);
        let _ = self.cause.set(e);
        self.written.break_it();
        failed
    }
}

//! `arb journal DIR --verify` on damaged journals: each kind of damage is named with its
//! file, byte offset and record number, and gets the exit status the README documents
//! (0 for an intact journal and for a torn tail, which the next start cuts off; 1 for a
//! missing log or corruption, wherever it is).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pipeline::journal::{JournalKind, JournalWriter, OpPhase, Record, read_file};

const RECORDS: u64 = 12;

/// A journal directory with both logs, `RECORDS` records each.
fn journal(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("arb-journal-verify-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (mut d, _) = JournalWriter::open(&dir, JournalKind::Dispatch).unwrap();
    let (mut s, _) = JournalWriter::open(&dir, JournalKind::State).unwrap();
    for i in 0..RECORDS {
        d.append(&Record::CancelAll { ts_ns: 1_000 + i }).unwrap();
        s.append(&Record::OpPhase { op: i + 1, phase: OpPhase::Recovering, ts_ns: 2_000 + i }).unwrap();
    }
    d.sync().unwrap();
    s.sync().unwrap();
    dir
}

fn verify(dir: &Path) -> (Option<i32>, String) {
    let Output { status, stdout, stderr } = Command::new(env!("CARGO_BIN_EXE_arb"))
        .arg("journal")
        .arg(dir)
        .arg("--verify")
        .env("NO_COLOR", "1")
        .output()
        .expect("arb runs");
    let text = format!("{}{}", String::from_utf8_lossy(&stdout), String::from_utf8_lossy(&stderr));
    (status.code(), text)
}

/// Byte offset of record `n` (1-based) of `file`, read from the intact file.
fn offset(file: &Path, n: u64) -> u64 {
    read_file(file).unwrap().entries[(n - 1) as usize].offset
}

fn flip(file: &Path, at: u64) {
    let mut bytes = std::fs::read(file).unwrap();
    bytes[at as usize] ^= 0x40;
    std::fs::write(file, bytes).unwrap();
}

#[test]
fn an_intact_journal_passes() {
    let dir = journal("intact");
    let (code, text) = verify(&dir);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("verdict: Intact"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_log_is_named_and_fails() {
    for kind in [JournalKind::Dispatch, JournalKind::State] {
        let dir = journal("missing");
        let file = dir.join(kind.file_name());
        std::fs::remove_file(&file).unwrap();
        let (code, text) = verify(&dir);
        assert_eq!(code, Some(1), "{kind:?} missing:\n{text}");
        assert!(text.contains(&format!("{}: MISSING", file.display())), "{text}");
        assert!(!text.contains("INTACT"), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }
    // No journal at all.
    let dir = journal("none");
    for kind in [JournalKind::Dispatch, JournalKind::State] {
        std::fs::remove_file(dir.join(kind.file_name())).unwrap();
    }
    let (code, text) = verify(&dir);
    assert_eq!(code, Some(1), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_flipped_byte_in_a_middle_record_is_corruption() {
    let dir = journal("middle");
    let file = dir.join("state.journal");
    let at = offset(&file, 6);
    flip(&file, at + 20);
    let (code, text) = verify(&dir);
    assert_eq!(code, Some(1), "{text}");
    let named = format!("{}: CORRUPT at byte offset {at}, record 6: checksum mismatch", file.display());
    assert!(text.contains(&named), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_flipped_byte_in_the_last_complete_record_is_corruption_not_a_torn_tail() {
    let dir = journal("last");
    let file = dir.join("dispatch.journal");
    let at = offset(&file, RECORDS);
    let len = std::fs::metadata(&file).unwrap().len();
    flip(&file, len - 2);
    let (code, text) = verify(&dir);
    assert_eq!(code, Some(1), "{text}");
    let named =
        format!("{}: CORRUPT at byte offset {at}, record {RECORDS}: checksum mismatch", file.display());
    assert!(text.contains(&named), "{text}");
    assert!(!text.contains("torn"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_truncated_last_record_is_a_torn_tail_that_passes() {
    let dir = journal("torn");
    let file = dir.join("state.journal");
    let at = offset(&file, RECORDS);
    let len = std::fs::metadata(&file).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&file).unwrap().set_len(len - 5).unwrap();
    let (code, text) = verify(&dir);
    assert_eq!(code, Some(0), "{text}");
    let torn = len - 5 - at;
    let named = format!(
        "{}: torn tail at byte offset {at}, record {RECORDS}: an unfinished write of {torn} bytes",
        file.display()
    );
    assert!(text.contains(&named), "{text}");
    assert!(text.contains("exit status is 0"), "{text}");
    assert!(!text.contains("CORRUPT"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_damaged_stretch_is_named() {
    let dir = journal("several");
    let state = dir.join("state.journal");
    let dispatch = dir.join("dispatch.journal");
    let (s3, s9, d4) = (offset(&state, 3), offset(&state, 9), offset(&dispatch, 4));
    flip(&state, s3 + 19);
    flip(&state, s9 + 19);
    flip(&dispatch, d4 + 19);
    let (code, text) = verify(&dir);
    assert_eq!(code, Some(1), "{text}");
    for (file, at, record) in [(&state, s3, 3), (&state, s9, 9), (&dispatch, d4, 4)] {
        let named = format!("{}: CORRUPT at byte offset {at}, record {record}", file.display());
        assert!(text.contains(&named), "{named}\n{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

//! What can go wrong with a journal, as one small `Copy` error every part of it returns.

/// A journal failure. `Copy`, so the hot path can hold and report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    #[error("journal I/O error: {0}")]
    Io(std::io::ErrorKind),
    #[error(
        "{} does not begin with this engine's journal header (another program's file, or a \
         damaged one)",
        file.map_or("the journal file", |f| f.file_name())
    )]
    BadHeader { file: Option<super::JournalKind> },
    #[error("the journal file belongs to the other writer")]
    WrongFile,
    #[error(
        "the journal file {} is corrupt at byte offset {offset}; inspect it with `arb journal DIR --verify`",
        file.file_name()
    )]
    Corrupt { file: super::JournalKind, offset: u64 },
    #[error("record too large to encode")]
    TooLarge,
}

//! Where the engine's cold-side log lines go: stderr, or a file while the full-screen
//! dashboard owns the terminal (a line written over the screen would corrupt it until
//! the next full redraw).
//!
//! Only the monitor thread and the dashboard touch it; the hot stages hand their records
//! to the monitor through rings (`pipeline::log`) and never see this lock.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The destination of log lines.
#[derive(Debug, Default)]
pub struct LogOut {
    file: Mutex<Option<(PathBuf, File)>>,
}

impl LogOut {
    /// Writes one line (a JSON object) to the current destination.
    pub fn line(&self, line: &str) {
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        match file.as_mut() {
            Some((_, f)) => {
                let _ = writeln!(f, "{line}");
            }
            None => eprintln!("{line}"),
        }
    }

    /// Appends lines to `path` (created readable by its owner only) from now on.
    pub fn redirect(&self, path: &Path) -> std::io::Result<()> {
        let f = OpenOptions::new().create(true).append(true).mode(0o600).open(path)?;
        *self.file.lock().unwrap_or_else(|p| p.into_inner()) = Some((path.to_owned(), f));
        Ok(())
    }

    /// Back to stderr; returns the file lines went to, if any.
    pub fn restore(&self) -> Option<PathBuf> {
        self.file.lock().unwrap_or_else(|p| p.into_inner()).take().map(|(p, _)| p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirected_lines_land_in_the_file_in_order() {
        let path = std::env::temp_dir().join(format!("arb-logout-{}.log", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let out = LogOut::default();
        out.redirect(&path).unwrap();
        out.line(r#"{"n":1}"#);
        out.line(r#"{"n":2}"#);
        assert_eq!(out.restore(), Some(path.clone()));
        out.line("to stderr");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"n\":1}\n{\"n\":2}\n");
        assert_eq!(out.restore(), None);
        let _ = std::fs::remove_file(&path);
    }
}

//! The instrument table a journal was written with, kept beside it.
//!
//! Journal records name instruments by their small integer ids, which follow the
//! instrument table's order. A restart with a different table would map positions to
//! the wrong instruments, so the table is saved in the journal directory on the first
//! start and every later start must list the same instruments under the same ids
//! (appending new ones at the end is fine).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, Result, bail};
use pipeline::types::{InstrumentSpec, Instruments, Market};

/// The file beside the journals.
pub const FILE: &str = "instruments.json";

/// Saves `specs` in `dir`, or checks them against what is saved there.
pub fn bind(dir: &Path, specs: &[InstrumentSpec]) -> Result<()> {
    let path = dir.join(FILE);
    if path.exists() {
        let saved = read(dir)?;
        for (i, s) in saved.iter().enumerate() {
            match specs.get(i) {
                Some(now) if (now.venue, now.market, &now.symbol) == (s.venue, s.market, &s.symbol) => {}
                Some(now) => bail!(
                    "{}: instrument #{i} is {} {} {} in the journal but {} {} {} now; \
                     the journal's positions would be misread (use a new journal directory, or \
                     list the instruments in the same order)",
                    path.display(),
                    s.venue,
                    s.market,
                    s.symbol,
                    now.venue,
                    now.market,
                    now.symbol
                ),
                None => bail!(
                    "{}: the journal knows {} {} {} (#{i}), which is no longer configured; \
                     its positions would be lost",
                    path.display(),
                    s.venue,
                    s.market,
                    s.symbol
                ),
            }
        }
        if saved.len() == specs.len() {
            return Ok(());
        }
    }
    let text = serde_json::to_string_pretty(specs)?;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Appends `spec` to the table saved in `dir` (an instrument added while running: the
/// next id), before any stage knows it, so that a restart loads it under the same id.
/// Written to a temporary file and renamed, so a crash leaves the old table or the new.
pub fn append(dir: &Path, spec: &InstrumentSpec) -> Result<()> {
    let path = dir.join(FILE);
    let mut specs = if path.exists() { read(dir)? } else { Vec::new() };
    if specs.iter().any(|s| (s.venue, s.market, &s.symbol) == (spec.venue, spec.market, &spec.symbol)) {
        return Ok(());
    }
    specs.push(spec.clone());
    let text = serde_json::to_string_pretty(&specs)?;
    let fresh = dir.join(format!(".{FILE}.new"));
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&fresh)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&fresh, &path))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The instrument specs saved in `dir`.
pub fn read(dir: &Path) -> Result<Vec<InstrumentSpec>> {
    let path = dir.join(FILE);
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not an instrument list", path.display()))
}

/// The pairs (`BASE/QUOTE`) the journal in `dir` has instruments of, with their market;
/// none without a journal.
pub fn pairs(dir: &Path) -> Vec<(Market, String)> {
    let mut out: Vec<(Market, String)> = Vec::new();
    for s in read(dir).unwrap_or_default() {
        let p = (s.market, format!("{}/{}", s.base.to_ascii_uppercase(), s.quote.to_ascii_uppercase()));
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// `specs` with the instruments the journal in `dir` knows first, in the order of their
/// ids, then the others in their own order: a start whose universe grew (rules that
/// select more, a pair added to the lists) appends the new instruments after every id
/// the journal wrote, which [`bind`] accepts.
pub fn in_journal_order(dir: &Path, mut specs: Vec<InstrumentSpec>) -> Vec<InstrumentSpec> {
    let saved = read(dir).unwrap_or_default();
    let mut out = Vec::with_capacity(specs.len());
    for s in &saved {
        if let Some(i) =
            specs.iter().position(|n| (n.venue, n.market, &n.symbol) == (s.venue, s.market, &s.symbol))
        {
            out.push(specs.remove(i));
        }
    }
    out.extend(specs);
    out
}

/// `specs` with the instruments the journal in `dir` added while running (`arb ctl
/// add-symbol`, removed since or not) that the configuration does not load, as their
/// specifications were saved when they were added: a restart loads every journaled
/// instrument under its id, whatever the configured lists say.
pub fn with_listed(dir: &Path, mut specs: Vec<InstrumentSpec>) -> Vec<InstrumentSpec> {
    let Ok(replay) = pipeline::journal::replay(dir) else { return specs };
    let saved = read(dir).unwrap_or_default();
    for (id, _) in &replay.listed {
        let Some(s) = saved.get(id.index()) else { continue };
        if !specs.iter().any(|n| (n.venue, n.market, &n.symbol) == (s.venue, s.market, &s.symbol)) {
            specs.push(s.clone());
        }
    }
    specs
}

/// The instrument table saved in `dir`, if any.
pub fn table(dir: &Path) -> Option<Instruments> {
    read(dir).ok().and_then(|s| Instruments::from_specs(&s).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::types::Venue;

    fn spec(symbol: &str) -> InstrumentSpec {
        InstrumentSpec {
            venue: Venue::GateIo,
            market: Market::Spot,
            symbol: symbol.into(),
            base: "X".into(),
            quote: "USDT".into(),
            tick: "0.01".into(),
            lot: "0.01".into(),
            min_qty: None,
            max_qty: None,
            min_notional: None,
            contract_size: "1".into(),
            taker_fee: None,
            maker_fee: None,
            trading_enabled: true,
        }
    }

    #[test]
    fn a_journal_refuses_a_reordered_table_and_accepts_an_extended_one() {
        let dir = std::env::temp_dir().join(format!("arb-jmeta-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let _ = std::fs::remove_file(dir.join(FILE));
        bind(&dir, &[spec("A_USDT"), spec("B_USDT")]).unwrap();
        bind(&dir, &[spec("A_USDT"), spec("B_USDT")]).unwrap();
        let e = bind(&dir, &[spec("B_USDT"), spec("A_USDT")]).unwrap_err().to_string();
        assert!(
            e.contains("instrument #0 is gateio spot A_USDT in the journal but gateio spot B_USDT now"),
            "{e}"
        );
        assert!(bind(&dir, &[spec("A_USDT")]).unwrap_err().to_string().contains("no longer configured"));
        bind(&dir, &[spec("A_USDT"), spec("B_USDT"), spec("C_USDT")]).unwrap();
        assert_eq!(read(&dir).unwrap().len(), 3);
        // A universe that grew in the middle of its lists is put in the journal's order.
        let grown = vec![spec("A_USDT"), spec("N_USDT"), spec("C_USDT"), spec("B_USDT")];
        let ordered = in_journal_order(&dir, grown);
        let names: Vec<&str> = ordered.iter().map(|s| s.symbol.as_str()).collect();
        assert_eq!(names, ["A_USDT", "B_USDT", "C_USDT", "N_USDT"]);
        bind(&dir, &ordered).unwrap();
        assert_eq!(pairs(&dir), [(Market::Spot, "X/USDT".to_owned())]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn instruments_added_while_running_are_saved_and_loaded_again_under_their_ids() {
        use pipeline::journal::{JournalKind, JournalWriter, Record};
        use pipeline::types::InstrumentId;
        let dir = std::env::temp_dir().join(format!("arb-jmeta-listed-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        bind(&dir, &[spec("A_USDT"), spec("B_USDT")]).unwrap();
        append(&dir, &spec("N_USDT")).unwrap();
        append(&dir, &spec("N_USDT")).unwrap();
        let saved: Vec<String> = read(&dir).unwrap().into_iter().map(|s| s.symbol).collect();
        assert_eq!(saved, ["A_USDT", "B_USDT", "N_USDT"], "appended once");
        // Without its listing in the journal, a configuration without N_USDT is refused.
        assert_eq!(with_listed(&dir, vec![spec("A_USDT"), spec("B_USDT")]).len(), 2);
        let (mut w, _) = JournalWriter::open(&dir, JournalKind::State).unwrap();
        w.append(&Record::InstrumentListed { inst: InstrumentId(2), added: false, wall_ms: 1 }).unwrap();
        w.commit().unwrap();
        drop(w);
        // With it (removed since or not), a restart loads it under its id.
        let specs = in_journal_order(&dir, with_listed(&dir, vec![spec("B_USDT"), spec("A_USDT")]));
        let names: Vec<&str> = specs.iter().map(|s| s.symbol.as_str()).collect();
        assert_eq!(names, ["A_USDT", "B_USDT", "N_USDT"]);
        bind(&dir, &specs).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

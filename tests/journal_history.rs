//! The trade history of a real run: `arb run` trades the simulated venues with real
//! orders for a few seconds (partial fills and rejections injected, so some operations
//! recover or fail), stops, and prints its report. `arb journal DIR --operations |
//! --fills | --daily` then reads that journal in every format: the CSV and JSON Lines
//! P&L and fees are exact decimal strings that add up to the engine's own figures (the
//! report's realized P&L and counts, the journal's booked fees per asset), the daily
//! summary adds up, and tables are coloured only when asked and never under `NO_COLOR`.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use pipeline::journal::inspect;
use pipeline::state::Accounting;
use pipeline::types::{Amount, Instruments};
use serde_json::Value;
use sim::{Faults, Sim, SimConfig};

/// `arb run` for `secs`: its JSON report, and its log lines (standard error).
fn arb_run(config: &Path, journal: &Path, secs: u64, sim: &Sim) -> (Value, String) {
    let e = sim.endpoints();
    let out = Command::new(env!("CARGO_BIN_EXE_arb"))
        .args(["run", "--no-tui", "--report", "json", "--duration", &secs.to_string()])
        .arg("--config")
        .arg(config)
        .arg("--journal")
        .arg(journal)
        .env("GATEIO_API_KEY", &e.gateio.api_key)
        .env("GATEIO_API_SECRET", e.gateio.api_secret.expose())
        .env("MEXC_API_KEY", &e.mexc.api_key)
        .env("MEXC_API_SECRET", e.mexc.api_secret.expose())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("arb runs");
    assert!(out.status.success(), "the run stops cleanly");
    let text = String::from_utf8(out.stdout).unwrap();
    let report =
        serde_json::from_str(text.lines().last().expect("a report line")).expect("the report is JSON");
    (report, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `arb journal DIR ARGS...` with `env`; stdout, and the exit status.
fn journal(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_arb"));
    cmd.arg("journal").arg(dir).args(args).env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("arb journal runs");
    assert!(out.status.success(), "arb journal {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// An exact decimal string: parses without rounding and prints back the same.
fn exact(s: &str) -> Amount {
    let a = Amount::parse(s).unwrap_or_else(|e| panic!("{s:?} is not an exact decimal: {e:?}"));
    assert_eq!(a.to_string(), s, "{s:?} is the canonical exact form");
    a
}

fn csv(text: &str) -> Vec<BTreeMap<String, String>> {
    // The fields checked here hold no commas; `legs` (which may) is not among them.
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().expect("a header").split(',').collect();
    lines
        .map(|l| {
            let cells = l.split(',');
            head.iter().map(|h| (*h).to_owned()).zip(cells.map(str::to_owned)).collect()
        })
        .collect()
}

fn jsonl(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect()
}

/// `a` rounded half away from zero to cents, as tables print it.
fn cents(a: Amount) -> String {
    let unit = 10i128.pow(16);
    let c = a.0.signum() * ((a.0.abs() + unit / 2) / unit);
    format!("{}{}.{:02}", if c < 0 { "-" } else { "" }, c.abs() / 100, c.abs() % 100)
}

fn add(map: &mut BTreeMap<String, Amount>, asset: &str, a: Amount) {
    *map.entry(asset.to_owned()).or_insert(Amount::ZERO) += a;
}

#[test]
fn the_history_of_a_run_adds_up_to_the_engines_report() {
    let sim = Sim::start(SimConfig {
        seed: 11,
        faults: Faults::parse("partial=0.3,reject=0.3").unwrap(),
        ..SimConfig::default()
    })
    .expect("sim starts");
    let dir = std::env::temp_dir().join(format!("arb-journal-history-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("engine.toml");
    std::fs::write(&config, arb::cmd::sim::engine_config_toml(&sim)).unwrap();
    let jdir = dir.join("journal");
    let (report, log) = arb_run(&config, &jdir, 8, &sim);
    support::assert_books_agree(&sim, &jdir);
    // The venues' refusals reach the log with their reasons, one line each.
    let notices: Vec<&str> = log.lines().filter(|l| l.contains(r#""event":"venue_notice""#)).collect();
    assert!(!notices.is_empty(), "refused orders are logged:\n{log}");
    assert!(notices.iter().all(|l| l.contains(r#""source":"dispatch""#)), "{notices:?}");

    // Operations, as JSON Lines and as CSV: the same operations, exact P&L and fees.
    let ops = jsonl(&journal(&jdir, &["--operations", "--format", "jsonl"], &[]));
    assert!(!ops.is_empty(), "the run traded: {report}");
    let ops_csv = csv(&journal(&jdir, &["--operations", "--format", "csv"], &[]));
    assert_eq!(ops.len(), ops_csv.len());
    let mut pnl = Amount::ZERO;
    let mut fees: BTreeMap<String, Amount> = BTreeMap::new();
    let mut count: BTreeMap<String, u64> = BTreeMap::new();
    let mut recovered = 0;
    for (j, c) in ops.iter().zip(&ops_csv) {
        assert_eq!(j["op"].to_string(), c["op"]);
        assert!(j["opened"].as_str().unwrap().ends_with('Z'), "opened in UTC: {j}");
        assert_eq!(j["realized_pnl"].as_str().unwrap_or(""), c["realized_pnl"], "CSV and JSON agree: {j}");
        if let Some(p) = j["realized_pnl"].as_str() {
            assert!(j["closed"].as_str().unwrap().ends_with('Z'), "closed in UTC: {j}");
            pnl += exact(p);
        }
        for (asset, fee) in j["fees"].as_object().unwrap() {
            let fee = fee.as_str().unwrap();
            assert_eq!(fee, c[&format!("fees_{asset}")]);
            add(&mut fees, asset, exact(fee));
        }
        *count.entry(j["outcome"].as_str().unwrap().to_owned()).or_default() += 1;
        recovered += u64::from(j["recoveries"].as_u64().unwrap() > 0);
    }
    // The engine's own report, to the last digit: each operation books its realized P&L
    // less its fees, so the history adds up to the report's realized less its fees. An
    // operation the stop left open (its drain timed out) has no P&L in the history yet,
    // but its fills are in the report: its share is taken from the journal's valued
    // fills, and each closed operation's P&L must be exactly what its own fills booked.
    let table = Instruments::from_specs(&arb::journal_meta::read(&jdir).unwrap()).unwrap();
    let replay = inspect(&jdir).unwrap().replay;
    let mut usd = vec![false; table.asset_capacity()];
    table.flag_assets(&["USDT".to_owned()], &mut usd);
    let by_op = Accounting::new(&table, &usd).replay(&table, &replay.fills, &replay.funding);
    let booked_by = |op: u64| by_op.get(&op).map_or(Amount::ZERO, |m| m.realized - m.fees);
    let mut open_share = Amount::ZERO;
    for j in &ops {
        let op = j["op"].as_u64().unwrap();
        match j["realized_pnl"].as_str() {
            Some(p) => assert_eq!(exact(p), booked_by(op), "operation {op}'s P&L is what its fills booked"),
            None => open_share += booked_by(op),
        }
    }
    let net =
        exact(report["realized_pnl_usd"].as_str().unwrap()) - exact(report["fees_usd"].as_str().unwrap());
    assert_eq!(pnl + open_share, net, "{report}");
    for (outcome, key) in [
        ("completed", "operations_completed"),
        ("failed", "operations_failed"),
        ("missed", "operations_missed"),
    ] {
        assert_eq!(
            count.get(outcome).copied().unwrap_or(0),
            report[key].as_u64().unwrap(),
            "{outcome}: {report}"
        );
    }
    assert_eq!(recovered, report["recoveries"].as_u64().unwrap(), "{report}");
    // Fees: what the engine booked, per quote asset, as its replayed positions hold them.
    let mut booked: BTreeMap<String, Amount> = BTreeMap::new();
    for p in &replay.positions {
        add(&mut booked, table.asset_name(table.get(p.inst).quote), p.fees);
    }
    booked.retain(|_, a| !a.is_zero());
    assert_eq!(fees, booked, "the operations' fees are the fees the engine booked");

    // Fills: exact amounts; their booked fees are the operations' fees.
    let fills = jsonl(&journal(&jdir, &["--fills", "--format", "jsonl"], &[]));
    let fills_csv = csv(&journal(&jdir, &["--fills", "--format", "csv"], &[]));
    assert_eq!(fills.len(), fills_csv.len());
    // Under the rejects some operations fill nothing; every one that paid a fee has a fill.
    assert!(!fills.is_empty());
    for j in &ops {
        if j["fees"].as_object().unwrap().values().any(|f| !exact(f.as_str().unwrap()).is_zero()) {
            let op = j["op"].to_string();
            assert!(fills_csv.iter().any(|c| c["op"] == op), "operation {op} paid fees but lists no fill");
        }
    }
    let mut fill_fees: BTreeMap<String, Amount> = BTreeMap::new();
    for (j, c) in fills.iter().zip(&fills_csv) {
        for key in ["price", "qty", "fee", "fee_quote"] {
            assert_eq!(j[key].as_str().unwrap(), c[key]);
            exact(&c[key]);
        }
        assert!(!c["venue_order_id"].is_empty(), "{c:?}");
        assert_eq!(c["client_order_id"].split('-').next().unwrap(), c["op"]);
        let inst = table
            .iter()
            .find(|i| {
                (i.venue.name(), i.market.to_string(), &i.symbol)
                    == (&c["venue"], c["market"].clone(), &c["symbol"])
            })
            .expect("a known instrument");
        let quote = table.asset_name(inst.quote);
        add(&mut fill_fees, quote, exact(&c["fee_quote"]));
    }
    fill_fees.retain(|_, a| !a.is_zero());
    assert_eq!(fill_fees, fees);

    // The daily summary adds up, in both exact formats.
    let days = jsonl(&journal(&jdir, &["--daily", "--format", "jsonl"], &[]));
    let days_csv = csv(&journal(&jdir, &["--daily", "--format", "csv"], &[]));
    assert_eq!(days.len(), days_csv.len());
    let (mut n, mut day_pnl, mut day_fees) = (0, Amount::ZERO, BTreeMap::new());
    for (j, c) in days.iter().zip(&days_csv) {
        assert_eq!(j["day"].as_str().unwrap(), c["day"]);
        assert_eq!(j["realized_pnl"].as_str().unwrap(), c["realized_pnl"]);
        n += j["operations"].as_u64().unwrap();
        let parts: u64 =
            ["completed", "failed", "missed", "open"].iter().map(|k| j[*k].as_u64().unwrap()).sum();
        assert_eq!(parts, j["operations"].as_u64().unwrap(), "{j}");
        day_pnl += exact(j["realized_pnl"].as_str().unwrap());
        for (asset, fee) in j["fees"].as_object().unwrap() {
            add(&mut day_fees, asset, exact(fee.as_str().unwrap()));
        }
    }
    assert_eq!(n, ops.len() as u64);
    assert_eq!(day_pnl, pnl);
    assert_eq!(day_fees, fees);

    // Tables: P&L in cents, the daily summary at the end; colour only when forced, never
    // under NO_COLOR, never in CSV or JSON.
    let table_text = journal(&jdir, &["--operations"], &[]);
    assert!(table_text.contains("daily summary:"), "{table_text}");
    assert!(table_text.contains("P&L (USD)"), "{table_text}");
    let daily_text = journal(&jdir, &["--daily"], &[]);
    let total = if days.len() > 1 { "total" } else { days_csv[0]["day"].as_str() };
    let row = daily_text.lines().find(|l| l.starts_with(total)).expect("a total row");
    assert!(row.split_whitespace().any(|cell| cell == cents(pnl)), "{} in cents in: {row}", pnl);
    assert!(!table_text.contains('\x1b'), "no colour when stdout is not a terminal");
    let forced = journal(&jdir, &["--operations"], &[("CLICOLOR_FORCE", "1")]);
    assert!(forced.contains("\x1b["), "CLICOLOR_FORCE colours the table");
    for args in [&["--operations"][..], &["--fills"], &["--daily"], &["--verify"]] {
        let text = journal(&jdir, args, &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]);
        assert!(!text.contains('\x1b'), "NO_COLOR: no escapes in {args:?}");
    }
    for args in [&["--fills", "--format", "csv"][..], &["--daily", "--format", "jsonl"]] {
        assert!(!journal(&jdir, args, &[("CLICOLOR_FORCE", "1")]).contains('\x1b'), "{args:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

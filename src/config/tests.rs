//! The configuration loader's tests: shipped files, range checks, environment overrides.

use super::*;

#[test]
fn every_shipped_config_parses_and_its_layout_places_every_stage() {
    for entry in std::fs::read_dir(examples_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let c = Config::load(Some(&path)).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
            let all: Vec<usize> = (0..1024).collect();
            c.layout.validate(&pipeline::STAGES, &all).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}

#[test]
fn the_built_in_default_is_the_shipped_file() {
    let shipped = std::fs::read_to_string(examples_dir().join("default.toml")).unwrap();
    assert_eq!(shipped, DEFAULT_TOML);
}

/// config/paper.toml with `key` (a dotted path; `name[i]` indexes an array of tables)
/// set to `value` (TOML text).
fn paper_with(key: &str, value: &str) -> String {
    let text = std::fs::read_to_string(examples_dir().join("paper.toml")).unwrap();
    let mut table: toml::Table = toml::from_str(&text).unwrap();
    let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {value}")).unwrap()["v"].clone();
    let parts: Vec<&str> = key.split('.').collect();
    let mut t = &mut table;
    for p in &parts[..parts.len() - 1] {
        let next = match p.split_once('[') {
            Some((name, i)) => {
                let i: usize = i.trim_end_matches(']').parse().unwrap();
                &mut t.get_mut(name).unwrap().as_array_mut().unwrap()[i]
            }
            None => t.entry(p.to_string()).or_insert_with(|| toml::Value::Table(Default::default())),
        };
        t = next.as_table_mut().unwrap();
    }
    t.insert(parts[parts.len() - 1].to_owned(), value);
    toml::to_string(&table).unwrap()
}

#[test]
fn the_paper_config_passes_unchanged_through_the_test_helper() {
    Config::parse(&paper_with("dry_run", "true"), "paper.toml").unwrap();
}

#[test]
fn dangerous_values_are_refused_naming_the_file_the_key_and_the_value() {
    let cases: &[(&str, &str, &str)] = &[
        ("risk.min_profit_margin_bps", "-500", "-500"),
        ("risk.min_profit_margin_bps", "0", "0"),
        ("risk.min_profit_margin_bps", "50000", "50000"),
        ("detect.min_profit_bps", "-1", "-1"),
        ("risk.max_position_size_usd", "-100", "-100"),
        ("risk.max_total_exposure_usd", "0", "0"),
        ("risk.max_daily_loss_usd", "\"-5\"", "-5"),
        ("detect.max_notional_usd", "-1000", "-1000"),
        ("risk.max_slippage_bps", "-1", "-1"),
        ("risk.futures_margin_bps", "0", "0"),
        ("risk.max_ops_in_flight", "0", "0"),
        ("risk.entry_share_pct", "101", "101"),
        ("risk.max_execution_time_ms", "0", "0"),
        ("risk.breakers.reset_after_ms", "0", "0"),
        ("risk.breakers.max_error_rate_pct", "0", "0"),
        ("state.max_recovery_attempts", "9", "9"),
        ("state.ack_timeout_ms", "0", "0"),
        ("state.reconcile_interval_ms", "0", "0"),
        ("state.unwind_slippage_bps", "-3", "-3"),
        ("journal.fsync", "{ every_n = 0 }", "0"),
        ("journal.fsync", "{ interval_ms = 0 }", "0"),
        ("book.resync_retry_ms", "0", "0"),
        ("feed.stale_after_ms", "0", "0"),
        ("feed.snapshot_limit", "0", "0"),
        ("rings.md_events", "0", "0"),
        ("rings.md_events", "4611686018427387904", "4611686018427387904"),
        ("rings.control", "4194305", "4194305"),
        ("paper.futures_margin_bps", "-1", "-1"),
        ("orders.request_timeout_ms", "0", "0"),
        ("metrics.addr", "\"localhost\"", "\"localhost\""),
        ("venues[0].rest", "\"ftp://api.gateio.ws\"", "\"ftp://api.gateio.ws\""),
        ("venues[0].rest", "\"not a url\"", "\"not a url\""),
        ("venues[1].rest_futures", "\"ws://contract.mexc.com\"", "\"ws://contract.mexc.com\""),
        ("venues[0].ws_spot", "\"https://api.gateio.ws/ws/v4/\"", "\"https://api.gateio.ws/ws/v4/\""),
        ("venues[1].ws_futures", "\"ftp://\"", "\"ftp://\""),
        ("tls.webpki_roots", "false", "false"),
    ];
    for (key, value, shown) in cases {
        let text = paper_with(key, value);
        let e = format!("{:#}", Config::parse(&text, "bad.toml").unwrap_err());
        let want_key = match *key {
            "journal.fsync" if value.contains("every_n") => "journal.fsync.every_n",
            "journal.fsync" => "journal.fsync.interval_ms",
            k => k,
        };
        let want = format!("bad.toml: key `{want_key}` = {shown}: ");
        assert!(e.contains(&want), "{key} = {value}: expected {want:?} in\n{e}");
    }
}

#[test]
fn a_core_id_no_cpu_can_have_is_refused_as_such() {
    let text = DEFAULT_TOML.replacen("name = \"md\"", "name = \"md\"\ncore = 4294967296", 1);
    let e = format!("{:#}", Config::parse(&text, "c.toml").unwrap_err());
    assert!(
        e.contains("c.toml: key `layout.threads[0].core` = 4294967296: is not a CPU id (0 to 4095)"),
        "{e}"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = paper_with("risk.min_profit_margin_bps", "-500")
        .replace("[journal]", "[risk.breakers]\nreset_after_ms = 0\n\n[journal]");
    let e = format!("{:#}", Config::parse(&text, "two.toml").unwrap_err());
    assert_eq!(e.lines().count(), 2, "{e}");
    assert!(e.contains("risk.min_profit_margin_bps") && e.contains("risk.breakers.reset_after_ms"), "{e}");
}

#[test]
fn errors_name_the_file_and_the_key() {
    let base = DEFAULT_TOML.to_owned();
    let e = Config::parse(&base.replace("max_daily_loss_usd", "max_position_usd"), "x.toml").unwrap_err();
    assert!(format!("{e:#}").contains("x.toml") && format!("{e:#}").contains("max_position_usd"), "{e:#}");
    let bad_pair = base.replace("\"BTC/USDT\"", "\"BTCUSDT\"");
    let e = Config::parse(&bad_pair, "y.toml").unwrap_err();
    assert!(
        format!("{e:#}").contains("y.toml: key `market.pairs` = \"BTCUSDT\": is not BASE/QUOTE"),
        "{e:#}"
    );
    // A pair twice (in any spelling) or an asset against itself: refused here, not by the
    // instrument table at start.
    let twice = base.replace("\"BTC/USDT\"", "\"BTC/USDT\", \"btc/usdt\", \"ETH/ETH\"");
    let e = format!("{:#}", Config::parse(&twice, "w.toml").unwrap_err());
    assert!(e.contains("key `market.pairs` = \"btc/usdt\": is listed twice (as BTC/USDT)"), "{e}");
    assert!(e.contains("key `market.pairs` = \"ETH/ETH\": trades an asset against itself"), "{e}");
    let standby = |list: &str| base.replace("futures = [", &format!("standby = [{list}]\nfutures = ["));
    assert_eq!(Config::parse(&standby("\"eth/btc\""), "z.toml").unwrap().market.standby, ["eth/btc"]);
    let e = Config::parse(&standby("\"SOL/USDT\""), "z.toml").unwrap_err();
    assert!(format!("{e:#}").contains("z.toml: key `market.standby` = \"SOL/USDT\""), "{e:#}");
    let e = Config::parse(
        &paper_with("market.venues", "[\"gateio\"]").replace("venue = \"mexc\"", "venue = \"gateio\""),
        "d.toml",
    )
    .unwrap_err();
    assert!(
        format!("{e:#}").contains("d.toml: key `venues[1].venue` = \"gateio\": is listed twice"),
        "{e:#}"
    );
}

fn os(v: &str) -> Option<std::ffi::OsString> {
    Some(v.into())
}

#[test]
fn environment_overrides_set_their_keys_and_name_bad_values() {
    let mut c = Config::load(None).unwrap();
    let env = |k: &str| match k {
        "ARB_MAX_POSITION_SIZE_USD" => os("1234.5"),
        "ARB_MIN_PROFIT_MARGIN_BPS" => os("7.5"),
        "ARB_ENABLE_RECOVERY_MODE" => os("false"),
        "ARB_BALANCE_REFRESH_INTERVAL_MS" => os("2500"),
        _ => None,
    };
    let applied = apply_env(&mut c, env).unwrap();
    assert_eq!(applied.len(), 4);
    assert_eq!(c.risk.max_position_size_usd.amount(), pipeline::types::Amount::parse("1234.5").unwrap());
    assert_eq!(c.detect.min_profit_bps.rate(), pipeline::types::Rate::parse_bps("7.5").unwrap());
    assert_eq!(c.state.max_recovery_attempts, 0);
    assert_eq!(c.state.reconcile_interval_ms, 2500);
    let e = apply_env(&mut c, |k| (k == "ARB_MAX_DAILY_LOSS_USD").then(|| "lots".into())).unwrap_err();
    assert!(e.to_string().contains("ARB_MAX_DAILY_LOSS_USD = \"lots\""), "{e}");
    let e = apply_env(&mut c, |k| (k == "ARB_ENABLE_RISK_CHECKS").then(|| "maybe".into())).unwrap_err();
    assert!(e.to_string().contains("expected true or false"), "{e}");
}

#[test]
fn out_of_range_environment_values_are_refused_naming_the_variable_and_the_key() {
    let cases = [
        ("ARB_MIN_PROFIT_MARGIN_BPS", "-100000", "risk.min_profit_margin_bps"),
        ("ARB_MAX_POSITION_SIZE_USD", "-1", "risk.max_position_size_usd"),
        ("ARB_MAX_TOTAL_EXPOSURE_USD", "0", "risk.max_total_exposure_usd"),
        ("ARB_MAX_DAILY_LOSS_USD", "-500", "risk.max_daily_loss_usd"),
        ("ARB_TARGET_EXECUTION_TIME_MS", "0", "risk.max_execution_time_ms"),
        ("ARB_BALANCE_REFRESH_INTERVAL_MS", "0", "state.reconcile_interval_ms"),
    ];
    for (var, value, key) in cases {
        let mut c = Config::load(None).unwrap();
        let e = apply_env(&mut c, |k| (k == var).then(|| value.into())).unwrap_err().to_string();
        let want = format!("environment variable {var} = \"{value}\" sets it: key `{key}` = {value}: ");
        assert!(e.contains(&want), "expected {want:?} in\n{e}");
    }
}

#[test]
fn a_non_utf8_environment_value_is_refused_not_ignored() {
    use std::os::unix::ffi::OsStringExt;
    let mut c = Config::load(None).unwrap();
    let bad = std::ffi::OsString::from_vec(vec![b'5', 0xff, b'0']);
    let e = apply_env(&mut c, |k| (k == "ARB_MAX_DAILY_LOSS_USD").then(|| bad.clone())).unwrap_err();
    assert_eq!(
        e.to_string(),
        "environment variable ARB_MAX_DAILY_LOSS_USD = \"5\u{fffd}0\": not valid UTF-8 text"
    );
}

#[test]
fn switched_off_checks_are_not_range_checked_and_are_known_as_off() {
    let mut c = Config::load(None).unwrap();
    let env = |k: &str| k.starts_with("ARB_ENABLE_").then(|| "false".into());
    assert_eq!(apply_env(&mut c, env).unwrap().len(), 3);
    assert!(c.validate().is_empty(), "{:?}", c.validate());
    assert_eq!(c.off.by("risk.max_daily_loss_usd"), Some("ARB_ENABLE_RISK_CHECKS"));
    assert_eq!(c.off.by("risk.breakers.stale_trip_count"), Some("ARB_ENABLE_CIRCUIT_BREAKERS"));
    assert_eq!(c.off.by("state.max_recovery_attempts"), Some("ARB_ENABLE_RECOVERY_MODE"));
    assert_eq!(c.off.by("risk.max_slippage_bps"), None);
}

#[test]
fn pairs_split_and_normalize() {
    assert_eq!(pair_parts("btc/usdt"), Some(("BTC".into(), "USDT".into())));
    assert_eq!(pair_parts("BTC"), None);
    assert_eq!(pair_parts("BTC/US-DT"), None);
}

/// Where a probe goes: a key of a table, or the one element of an array of tables.
#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Element,
}

/// `base` with `leaf` put at `path` (arrays of tables get one element).
fn put(base: &toml::Table, path: &[Step], leaf: toml::Value) -> toml::Table {
    fn go(v: &mut toml::Value, path: &[Step], leaf: toml::Value) {
        match path.split_first() {
            None => *v = leaf,
            Some((Step::Key(k), rest)) => {
                if !v.is_table() {
                    *v = toml::Value::Table(Default::default());
                }
                let t = v.as_table_mut().unwrap();
                let slot = t.entry(k.clone()).or_insert(toml::Value::Table(Default::default()));
                go(slot, rest, leaf);
            }
            Some((Step::Element, rest)) => {
                let mut first = v
                    .as_array()
                    .and_then(|a| a.first().cloned())
                    .unwrap_or(toml::Value::Table(Default::default()));
                go(&mut first, rest, leaf);
                *v = toml::Value::Array(vec![first]);
            }
        }
    }
    let mut v = toml::Value::Table(base.clone());
    go(&mut v, path, leaf);
    v.as_table().unwrap().clone()
}

/// The field names serde lists when `zz_probe` is refused at `path`, or `None` when
/// `path` is not a table of named fields (a leaf value, an enum).
fn fields_at(base: &toml::Table, path: &[Step]) -> Option<Vec<String>> {
    let mut probe = toml::Table::new();
    probe.insert("zz_probe".into(), toml::Value::Integer(0));
    let t = put(base, path, toml::Value::Table(probe));
    let e = toml::Value::Table(t).try_into::<Config>().err()?.to_string();
    let (_, rest) = e.split_once("unknown field `zz_probe`, expected ")?;
    let list = rest.lines().next().unwrap_or("");
    Some(list.split('`').skip(1).step_by(2).map(str::to_owned).collect())
}

/// Every key the configuration types accept, as docs/CONFIG.md names them
/// (`risk.breakers.reset_after_ms`, `venues[].rest`), found by asking serde itself: a
/// probe key at each table is refused with the list of the fields that table takes.
fn accepted_keys() -> Vec<String> {
    let base: toml::Table = toml::from_str(DEFAULT_TOML).unwrap();
    let mut out = Vec::new();
    let mut todo: Vec<(Vec<Step>, String)> = vec![(Vec::new(), String::new())];
    while let Some((path, name)) = todo.pop() {
        let fields = fields_at(&base, &path).unwrap_or_else(|| panic!("`{name}` takes no probe"));
        for f in fields {
            let key = if name.is_empty() { f.clone() } else { format!("{name}.{f}") };
            let mut p = path.clone();
            p.push(Step::Key(f));
            if fields_at(&base, &p).is_some() {
                todo.push((p, key));
                continue;
            }
            let mut arr = p.clone();
            arr.push(Step::Element);
            if fields_at(&base, &arr).is_some() {
                todo.push((arr, format!("{key}[]")));
                continue;
            }
            out.push(key);
        }
    }
    out.sort();
    out
}

/// The rows of docs/CONFIG.md's key tables: key and default column.
fn documented() -> Vec<(String, String)> {
    let doc = std::fs::read_to_string(examples_dir().join("../docs/CONFIG.md")).unwrap();
    doc.lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let key = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((key.to_owned(), cells.get(2)?.to_string()))
        })
        .collect()
}

#[test]
fn every_key_the_configuration_accepts_is_documented() {
    let keys = accepted_keys();
    assert!(keys.len() > 100 && keys.contains(&"risk.breakers.reset_after_ms".to_owned()), "{keys:?}");
    assert!(
        keys.contains(&"venues[].rest".to_owned()) && keys.contains(&"orders.mexc.recv_window_ms".to_owned())
    );
    let doc = documented();
    let missing: Vec<&String> = keys.iter().filter(|k| !doc.iter().any(|(d, _)| d == *k)).collect();
    assert!(missing.is_empty(), "docs/CONFIG.md has no entry for {missing:?}");
    let unknown: Vec<&String> =
        doc.iter().map(|(d, _)| d).filter(|d| !d.starts_with("ARB_") && !keys.contains(d)).collect();
    assert!(unknown.is_empty(), "docs/CONFIG.md documents keys the configuration refuses: {unknown:?}");
    for var in ENV_OVERRIDES {
        let row = doc.iter().find(|(d, _)| d == var.name);
        assert!(row.is_some(), "docs/CONFIG.md has no entry for {}", var.name);
        for key in var.keys {
            assert!(row.unwrap().1.contains(&format!("`{key}`")), "{} sets `{key}`", var.name);
        }
    }
}

#[test]
fn the_documented_defaults_are_the_defaults() {
    let min = "[market]\npairs = [\"BTC/USDT\"]\n[[layout.threads]]\nname = \"all\"\n\
               stages = [\"md\", \"book\", \"detect\", \"risk\", \"dispatch\", \"state\"]\n";
    let c = Config::parse(min, "minimal.toml").unwrap();
    let mut table = toml::Table::try_from(&c).unwrap();
    // The venues' order-entry sections are absent unless given; their own defaults apply.
    let orders = table["orders"].as_table_mut().unwrap();
    let gate = adapters::venues::gateio::orders::GateEntryConfig::default();
    let mexc = adapters::venues::mexc::orders::MexcEntryConfig::default();
    for (name, mut section) in
        [("gateio", toml::Table::try_from(gate).unwrap()), ("mexc", toml::Table::try_from(mexc).unwrap())]
    {
        // Their URLs come from [[venues]].
        section.retain(|k, _| !k.ends_with("_url"));
        orders.insert(name.into(), toml::Value::Table(section));
    }
    // Every value the minimal configuration holds is a default (but its pairs); each
    // must be documented as exactly that.
    fn leaves(prefix: &str, t: &toml::Table, out: &mut Vec<(String, toml::Value)>) {
        for (k, v) in t {
            let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
            match v {
                toml::Value::Table(inner) => leaves(&key, inner, out),
                toml::Value::Array(a) if a.iter().any(toml::Value::is_table) => {}
                v => out.push((key, v.clone())),
            }
        }
    }
    let mut values = Vec::new();
    leaves("", &table, &mut values);
    let doc = documented();
    let mut checked = 0;
    for (key, value) in values {
        let Some((_, default)) = doc.iter().find(|(d, _)| *d == key) else {
            // An empty array of tables (`venues = []`) is documented by its fields.
            let fields = format!("{key}[].");
            assert!(doc.iter().any(|(d, _)| d.starts_with(&fields)), "`{key}` is not documented");
            continue;
        };
        // What the minimal configuration trades is its own, not a default.
        if default == "*required*" || key == "market.pairs" {
            continue;
        }
        let literal = default.strip_prefix('`').and_then(|d| d.strip_suffix('`'));
        let literal = literal
            .filter(|l| !l.contains('`'))
            .unwrap_or_else(|| panic!("docs/CONFIG.md gives `{key}` no default literal (it is {value})"));
        let want: toml::Value =
            toml::from_str::<toml::Table>(&format!("v = {literal}")).unwrap()["v"].clone();
        assert_eq!(value, want, "docs/CONFIG.md says `{key}` defaults to {literal}");
        checked += 1;
    }
    assert!(checked > 80, "only {checked} defaults compared");
}

#[test]
fn gate_order_entry_over_the_trading_api_is_one_key_with_the_endpoints_from_venues() {
    let c = Config::parse(&paper_with("orders.gateio.order_entry", "\"ws\""), "ws.toml").unwrap();
    let g = c.order_entry().gateio.expect("Gate.io order entry");
    assert_eq!(g.order_entry, adapters::venues::gateio::ws_api::OrderEntry::Ws);
    let v = c.venue(Venue::GateIo).unwrap();
    assert_eq!(g.rest_url, format!("{}/api/v4", v.rest.trim_end_matches('/')));
    assert_eq!(
        (g.ws_spot_url.as_str(), g.ws_futures_url.as_str()),
        (v.ws_spot.as_str(), v.ws_futures.as_str())
    );
    // A value it does not know is refused, naming the key.
    let e = format!(
        "{:#}",
        Config::parse(&paper_with("orders.gateio.order_entry", "\"fix\""), "bad.toml").unwrap_err()
    );
    assert!(e.contains("order_entry") && e.contains("bad.toml"), "{e}");
}

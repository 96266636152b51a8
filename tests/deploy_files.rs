//! The deployment files agree with the engine: every metric the Grafana dashboard and
//! the alert rules query is one `deploy/METRICS.md` lists, with labels it has; every
//! listed metric is on the dashboard; the YAML parses; the compose file, Prometheus,
//! Grafana provisioning, the Kubernetes manifest and the Dockerfile name the same port,
//! command, paths and secret variables; the configurations they ship load.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use arb::config::Config;
use arb::secrets::{ENCRYPTION_KEY_VAR, EnvNames};
use pipeline::types::Venue;
use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn yaml(rel: &str) -> Vec<Yaml> {
    YamlLoader::load_from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn s(y: &Yaml) -> &str {
    y.as_str().unwrap_or_else(|| panic!("not a string: {y:?}"))
}

fn strings(y: &Yaml) -> Vec<&str> {
    y.as_vec().unwrap_or_else(|| panic!("not a list: {y:?}")).iter().map(s).collect()
}

/// A metric of `deploy/METRICS.md`.
#[derive(Debug)]
struct Metric {
    kind: String,
    labels: BTreeSet<String>,
}

/// The table of `deploy/METRICS.md`: name, type, and the backquoted label names.
fn documented() -> BTreeMap<String, Metric> {
    let mut out = BTreeMap::new();
    for line in read("deploy/METRICS.md").lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 5 || !cells[1].starts_with("`arb_") {
            continue;
        }
        let name = cells[1].trim_matches('`').to_owned();
        let labels = cells[3]
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
            .map(str::to_owned)
            .collect();
        out.insert(name, Metric { kind: cells[2].to_owned(), labels });
    }
    assert!(out.len() > 20, "METRICS.md table not found");
    out
}

/// What one PromQL expression uses.
#[derive(Debug, Default)]
struct Query {
    /// Series names as written (with `_bucket` and the like).
    series: Vec<String>,
    /// Labels in `by (...)` / `without (...)` clauses.
    grouping: BTreeSet<String>,
    /// Labels in `{...}` matchers.
    matchers: BTreeSet<String>,
}

/// A small PromQL scanner: identifiers outside strings, `by`/`without` lists, matchers.
fn scan(expr: &str) -> Query {
    let mut q = Query::default();
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    let mut idents: Vec<String> = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c == '[' {
            // Range selectors: [5m], [$__rate_interval].
            while i < chars.len() && chars[i] != ']' {
                i += 1;
            }
        } else if c == '{' {
            // Matchers: name op "value", comma separated; values may hold anything.
            i += 1;
            while i < chars.len() && chars[i] != '}' {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                if !name.is_empty() {
                    q.matchers.insert(name);
                }
                while i < chars.len() && !matches!(chars[i], '"' | '\'' | ',' | '}') {
                    i += 1;
                }
                if i < chars.len() && matches!(chars[i], '"' | '\'') {
                    let quote = chars[i];
                    i += 1;
                    while i < chars.len() && chars[i] != quote {
                        i += if chars[i] == '\\' { 2 } else { 1 };
                    }
                    i += 1;
                }
                while i < chars.len() && matches!(chars[i], ',' | ' ') {
                    i += 1;
                }
            }
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if word == "by" || word == "without" {
                let open = chars[i..].iter().position(|&c| c == '(').map(|p| i + p).unwrap();
                let close = chars[open..].iter().position(|&c| c == ')').map(|p| open + p).unwrap();
                let list: String = chars[open + 1..close].iter().collect();
                q.grouping.extend(list.split(',').map(|l| l.trim().to_owned()).filter(|l| !l.is_empty()));
                i = close + 1;
            } else {
                idents.push(word);
            }
        } else {
            i += 1;
        }
    }
    q.series = idents.into_iter().filter(|w| w.starts_with("arb_")).collect();
    q
}

/// Checks one expression against the documented metrics; returns the base names used.
fn check_expr(
    expr: &str,
    metrics: &BTreeMap<String, Metric>,
    legend: Option<&str>,
    ctx: &str,
) -> Vec<String> {
    let q = scan(expr);
    assert!(!q.series.is_empty() || expr.contains("up{"), "{ctx}: no arb_ metric in `{expr}`");
    let mut used = Vec::new();
    let mut labels = BTreeSet::new();
    for name in &q.series {
        let (base, metric) = match metrics.get(name) {
            Some(m) => (name.clone(), m),
            None => {
                let base = ["_bucket", "_sum", "_count"].iter().find_map(|sfx| name.strip_suffix(sfx));
                let m = base.and_then(|b| metrics.get(b)).filter(|m| m.kind == "histogram");
                match (base, m) {
                    (Some(b), Some(m)) => (b.to_owned(), m),
                    _ => panic!("{ctx}: `{name}` is not in deploy/METRICS.md (in `{expr}`)"),
                }
            }
        };
        if metric.kind == "histogram" {
            assert!(name != &base, "{ctx}: histogram `{name}` used without _bucket/_sum/_count");
            labels.insert("le".to_owned());
        }
        if metric.kind == "counter" {
            assert!(expr.contains("rate(") || expr.contains("increase("), "{ctx}: counter `{name}` read raw");
        }
        labels.extend(metric.labels.iter().cloned());
        used.push(base);
    }
    for l in q.grouping.iter().chain(&q.matchers) {
        if l == "job" && expr.contains("up{") {
            continue;
        }
        assert!(labels.contains(l), "{ctx}: label `{l}` is not on {:?} (`{expr}`)", q.series);
    }
    if let Some(legend) = legend {
        let available = if q.grouping.is_empty() { labels } else { q.grouping.clone() };
        for part in legend.split("{{").skip(1) {
            let l = part.split("}}").next().unwrap().trim();
            assert!(available.contains(l), "{ctx}: legend `{{{{{l}}}}}` is not a label of `{expr}`");
        }
    }
    used
}

fn panels(dash: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in dash["panels"].as_array().unwrap() {
        out.push(p);
        if let Some(inner) = p["panels"].as_array() {
            out.extend(inner);
        }
    }
    out
}

fn datasource_uid() -> String {
    let docs = yaml("deploy/grafana/provisioning/datasources/prometheus.yml");
    let ds = &docs[0]["datasources"][0];
    assert_eq!(s(&ds["type"]), "prometheus");
    s(&ds["uid"]).to_owned()
}

#[test]
fn dashboard_queries_only_documented_metrics_and_shows_them_all() {
    let metrics = documented();
    let dash: Value = serde_json::from_str(&read("deploy/grafana/dashboards/arb.json")).unwrap();
    let uid = datasource_uid();
    let mut used = BTreeSet::new();
    let mut ids = BTreeSet::new();
    let mut cells: Vec<(String, [i64; 4])> = Vec::new();
    for p in panels(&dash) {
        let title = p["title"].as_str().unwrap();
        assert!(ids.insert(p["id"].as_i64().unwrap()), "duplicate panel id in {title}");
        let g = &p["gridPos"];
        let rect = ["x", "y", "w", "h"].map(|k| g[k].as_i64().unwrap());
        assert!(rect[0] + rect[2] <= 24, "{title} is wider than the grid");
        for (other, r) in &cells {
            let overlap = rect[0] < r[0] + r[2]
                && r[0] < rect[0] + rect[2]
                && rect[1] < r[1] + r[3]
                && r[1] < rect[1] + rect[3];
            assert!(!overlap, "{title} overlaps {other}");
        }
        cells.push((title.to_owned(), rect));
        if p["type"] == "row" {
            continue;
        }
        assert_eq!(p["datasource"]["uid"], uid.as_str(), "{title}");
        let targets = p["targets"].as_array().unwrap_or_else(|| panic!("{title} has no targets"));
        assert!(!targets.is_empty(), "{title}");
        for t in targets {
            assert_eq!(t["datasource"]["uid"], uid.as_str(), "{title}");
            let expr = t["expr"].as_str().unwrap();
            used.extend(check_expr(expr, &metrics, t["legendFormat"].as_str(), title));
        }
    }
    let missing: Vec<&String> = metrics.keys().filter(|m| !used.contains(*m)).collect();
    assert!(missing.is_empty(), "on no dashboard panel: {missing:?}");

    // The panels the operator needs, by what they query.
    let exprs: Vec<&str> = panels(&dash)
        .iter()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .filter_map(|t| t["expr"].as_str())
        .collect();
    for stage_or_hop in ["stage", "hop"] {
        for q in ["0.5", "0.99", "0.999"] {
            assert!(
                exprs.iter().any(|e| e.starts_with(&format!("histogram_quantile({q},"))
                    && e.contains(&format!("arb_{stage_or_hop}_latency_seconds_bucket"))),
                "no {stage_or_hop} p{q}"
            );
        }
    }
    for q in ["0.5", "0.99", "0.999"] {
        let want = format!("histogram_quantile({q}, sum by (le) (rate(arb_tick_to_trade_seconds_bucket");
        assert!(exprs.iter().any(|e| e.starts_with(&want)), "no tick-to-trade p{q}");
    }
}

#[test]
fn alert_rules_query_documented_metrics() {
    let metrics = documented();
    let docs = yaml("deploy/alerts.yml");
    let mut n = 0;
    for group in docs[0]["groups"].as_vec().unwrap() {
        for rule in group["rules"].as_vec().unwrap() {
            let name = s(&rule["alert"]);
            check_expr(s(&rule["expr"]), &metrics, None, name);
            n += 1;
        }
    }
    assert!(n >= 5);
}

#[test]
fn the_scanner_sees_names_labels_and_skips_strings() {
    let q =
        scan(r#"sum by (le, stage) (rate(arb_x_bucket{venue="arb_not", market!~"a,b"}[$__rate_interval]))"#);
    assert_eq!(q.series, ["arb_x_bucket"]);
    assert_eq!(q.grouping, ["le", "stage"].map(String::from).into());
    assert_eq!(q.matchers, ["market", "venue"].map(String::from).into());
}

#[test]
#[should_panic(expected = "is not in deploy/METRICS.md")]
fn an_undocumented_metric_is_caught() {
    check_expr("rate(arb_made_up_total[1m])", &documented(), None, "test");
}

#[test]
#[should_panic(expected = "label `symbol` is not on")]
fn a_missing_label_is_caught() {
    check_expr("sum by (symbol) (rate(arb_risk_rejected_total[1m]))", &documented(), None, "test");
}

#[test]
#[should_panic(expected = "is not a label of")]
fn a_legend_label_outside_the_grouping_is_caught() {
    check_expr(
        "sum by (kind) (rate(arb_operations_failed_total[1m]))",
        &documented(),
        Some("{{phase}}"),
        "test",
    );
}

/// Every YAML file under deploy/ parses.
#[test]
fn every_yaml_file_parses() {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "yml" || x == "yaml") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root().join("deploy"), &mut files);
    assert!(files.len() >= 6, "{files:?}");
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(!docs.is_empty(), "{}", f.display());
        assert!(!text.contains('\t'), "{}: tabs in YAML", f.display());
    }
}

fn secret_vars() -> BTreeSet<String> {
    let mut vars: BTreeSet<String> = Venue::ALL
        .iter()
        .flat_map(|&v| {
            let n = EnvNames::of(v);
            [n.api_key, n.api_secret, n.api_key_encrypted, n.api_secret_encrypted]
        })
        .collect();
    vars.insert(ENCRYPTION_KEY_VAR.to_owned());
    vars
}

const RUN_ARGS: [&str; 6] =
    ["run", "--config", "/etc/arb/config.toml", "--metrics", "0.0.0.0:9100", "--no-tui"];

#[test]
fn the_dockerfile_builds_and_runs_the_engine() {
    let text = read("deploy/Dockerfile");
    assert_eq!(text.lines().filter(|l| l.starts_with("FROM ")).count(), 2, "multi-stage");
    assert!(text.contains("cargo build --release --locked"));
    let cmd = text.lines().find(|l| l.starts_with("CMD [")).unwrap();
    let args: Vec<String> = serde_json::from_str(cmd.trim_start_matches("CMD ")).unwrap();
    assert_eq!(args, RUN_ARGS);
    // The default configuration it copies in loads.
    assert!(text.contains("COPY config/paper.toml /etc/arb/config.toml"));
    Config::load(Some(&root().join("config/paper.toml"))).unwrap();
}

#[test]
fn compose_prometheus_and_grafana_agree() {
    let compose = &yaml("deploy/docker-compose.yml")[0];
    let services = &compose["services"];
    for name in ["arb", "prometheus", "grafana"] {
        assert!(!services[name].is_badvalue(), "no service {name}");
    }
    let arb = &services["arb"];
    assert_eq!(strings(&arb["command"]), RUN_ARGS);
    assert_eq!(
        strings(&arb["environment"]).into_iter().map(String::from).collect::<BTreeSet<_>>(),
        secret_vars()
    );
    assert!(strings(&arb["ports"]).iter().any(|p| p.ends_with(":9100:9100")));

    let prom = &yaml("deploy/prometheus.yml")[0];
    let job = &prom["scrape_configs"][0];
    assert_eq!(s(&job["metrics_path"]), "/metrics");
    assert_eq!(strings(&job["static_configs"][0]["targets"]), ["arb:9100"]);
    let mounts = strings(&services["prometheus"]["volumes"]);
    for rule_file in strings(&prom["rule_files"]) {
        assert!(mounts.iter().any(|m| m.ends_with(&format!(":{rule_file}:ro"))), "{rule_file} not mounted");
    }

    let ds = &yaml("deploy/grafana/provisioning/datasources/prometheus.yml")[0]["datasources"][0];
    assert_eq!(s(&ds["url"]), "http://prometheus:9090");
    let provider = &yaml("deploy/grafana/provisioning/dashboards/arb.yml")[0]["providers"][0];
    let path = s(&provider["options"]["path"]);
    let mounts = strings(&services["grafana"]["volumes"]);
    assert!(mounts.contains(&format!("./grafana/dashboards:{path}:ro").as_str()), "{mounts:?}");
    assert!(mounts.contains(&"./grafana/provisioning:/etc/grafana/provisioning:ro"));
}

#[test]
fn the_kubernetes_manifest_is_one_guarded_replica() {
    let docs = yaml("deploy/k8s/arb.yaml");
    let by_kind = |kind: &str| -> &Yaml {
        docs.iter().find(|d| d["kind"].as_str() == Some(kind)).unwrap_or_else(|| panic!("no {kind}"))
    };
    let deploy = by_kind("Deployment");
    assert_eq!(deploy["spec"]["replicas"].as_i64(), Some(1));
    assert_eq!(s(&deploy["spec"]["strategy"]["type"]), "Recreate");
    let pod = &deploy["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(strings(&c["args"]), RUN_ARGS);
    assert_eq!(c["ports"][0]["containerPort"].as_i64(), Some(9100));
    assert_eq!(s(&c["readinessProbe"]["httpGet"]["path"]), "/health");
    // /health is 503 while halted: liveness must not restart a halted engine.
    assert!(c["livenessProbe"]["httpGet"].is_badvalue(), "liveness on /health would restart a halted engine");
    assert_eq!(s(&c["livenessProbe"]["tcpSocket"]["port"]), "metrics");
    assert_eq!(c["resources"]["requests"], c["resources"]["limits"], "Guaranteed QoS");
    let env: BTreeSet<String> = c["env"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|e| {
            let r = &e["valueFrom"]["secretKeyRef"];
            assert_eq!(s(&r["key"]), s(&e["name"]));
            s(&e["name"]).to_owned()
        })
        .collect();
    assert_eq!(env, secret_vars());

    let claim = s(&by_kind("PersistentVolumeClaim")["metadata"]["name"]);
    let config_map = by_kind("ConfigMap");
    let volumes = pod["volumes"].as_vec().unwrap();
    assert!(volumes.iter().any(|v| v["persistentVolumeClaim"]["claimName"].as_str() == Some(claim)));
    assert!(
        volumes.iter().any(|v| v["configMap"]["name"].as_str() == config_map["metadata"]["name"].as_str())
    );
    let mounts = c["volumeMounts"].as_vec().unwrap();
    assert!(mounts.iter().any(|m| m["mountPath"].as_str() == Some("/etc/arb")));
    assert!(mounts.iter().any(|m| m["mountPath"].as_str() == Some("/var/lib/arb")));

    // The configuration it ships loads, and keeps its journal on the volume.
    let cfg = Config::parse(s(&config_map["data"]["config.toml"]), "deploy/k8s/arb.yaml").unwrap();
    assert!(cfg.journal.dir.starts_with("/var/lib/arb"), "{:?}", cfg.journal.dir);
    assert!(cfg.dry_run);
}

//! Books built from the recorded Gate.io corpus by `arb book` (the live decoders and
//! book code) against an independent, straightforward implementation of Gate's
//! documented sync procedure written here with serde_json and string decimals.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use arb::cmd::book::{BookArgs, run};
use serde_json::Value;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("adapters/test_data/gateio/corpus-2021/capture.jsonl")
}

/// A canonical positive decimal string ordered by value.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Dec(String);

impl Dec {
    fn new(s: &str) -> Self {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let int = int.trim_start_matches('0');
        let frac = frac.trim_end_matches('0');
        let int = if int.is_empty() { "0" } else { int };
        Dec(if frac.is_empty() { int.to_owned() } else { format!("{int}.{frac}") })
    }
    fn is_zero(&self) -> bool {
        self.0 == "0"
    }
}

impl Ord for Dec {
    fn cmp(&self, o: &Self) -> Ordering {
        let (ai, af) = self.0.split_once('.').unwrap_or((&self.0, ""));
        let (bi, bf) = o.0.split_once('.').unwrap_or((&o.0, ""));
        ai.len().cmp(&bi.len()).then(ai.cmp(bi)).then_with(|| {
            let w = af.len().max(bf.len());
            format!("{af:0<w$}").cmp(&format!("{bf:0<w$}"))
        })
    }
}

impl PartialOrd for Dec {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

#[derive(Default)]
struct RefBook {
    bids: BTreeMap<Dec, Dec>,
    asks: BTreeMap<Dec, Dec>,
    id: Option<u64>,
    buffered: Vec<Value>,
    broken: bool,
}

impl RefBook {
    fn apply(&mut self, r: &Value) {
        for (key, side) in [("b", &mut self.bids), ("a", &mut self.asks)] {
            for lv in r[key].as_array().unwrap() {
                let (p, q) = (Dec::new(lv[0].as_str().unwrap()), Dec::new(lv[1].as_str().unwrap()));
                if q.is_zero() {
                    side.remove(&p);
                } else {
                    side.insert(p, q);
                }
            }
        }
    }

    /// Gate's steps 4-6: skip u < id+1, the first applied must have U <= id+1, then chain.
    fn delta(&mut self, r: &Value) {
        let (first, last) = (r["U"].as_u64().unwrap(), r["u"].as_u64().unwrap());
        match self.id {
            None => self.buffered.push(r.clone()),
            Some(id) if last < id + 1 => {}
            Some(id) if first > id + 1 => self.broken = true,
            Some(_) => {
                self.apply(r);
                self.id = Some(last);
            }
        }
    }

    fn snapshot(&mut self, s: &Value) {
        self.bids.clear();
        self.asks.clear();
        for (key, side) in [("bids", &mut self.bids), ("asks", &mut self.asks)] {
            for lv in s[key].as_array().unwrap() {
                side.insert(Dec::new(lv[0].as_str().unwrap()), Dec::new(lv[1].as_str().unwrap()));
            }
        }
        self.id = Some(s["id"].as_u64().unwrap());
        for r in std::mem::take(&mut self.buffered) {
            self.delta(&r);
        }
    }
}

fn reference() -> HashMap<String, RefBook> {
    let mut books: HashMap<String, RefBook> = HashMap::new();
    let text = std::fs::read_to_string(corpus()).unwrap();
    let mut lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    lines.sort_by_key(|l| l["recv_ns"].as_u64().unwrap());
    for l in lines {
        let msg: Value = serde_json::from_str(l["text"].as_str().unwrap()).unwrap();
        if l["source"] == "rest" {
            let path = l["path"].as_str().unwrap();
            let pair = path.split("currency_pair=").nth(1).unwrap().split('&').next().unwrap();
            books.entry(pair.to_owned()).or_default().snapshot(&msg);
        } else if msg["channel"] == "spot.order_book_update" && msg["event"] == "update" {
            let r = &msg["result"];
            books.entry(r["s"].as_str().unwrap().to_owned()).or_default().delta(r);
        }
    }
    books
}

#[test]
fn every_corpus_book_matches_the_reference_at_every_level() {
    let ours =
        run(BookArgs { files: vec![corpus()], depth: 100_000, json: true, instruments: None }).unwrap();
    let reference = reference();
    let mut compared = 0;
    for line in ours.lines() {
        let b: Value = serde_json::from_str(line).unwrap();
        let symbol = b["symbol"].as_str().unwrap();
        let r = &reference[symbol];
        assert!(!r.broken, "{symbol}: the reference saw a gap");
        assert_eq!(b["synced"], true, "{symbol}");
        assert_eq!(b["last_update_id"].as_u64(), r.id, "{symbol}");
        let side = |v: &Value| -> Vec<(String, String)> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|l| (l[0].as_str().unwrap().to_owned(), l[1].as_str().unwrap().to_owned()))
                .collect()
        };
        let want_bids: Vec<(String, String)> =
            r.bids.iter().rev().map(|(p, q)| (p.0.clone(), q.0.clone())).collect();
        let want_asks: Vec<(String, String)> =
            r.asks.iter().map(|(p, q)| (p.0.clone(), q.0.clone())).collect();
        assert_eq!(side(&b["bids"]), want_bids, "{symbol} bids");
        assert_eq!(side(&b["asks"]), want_asks, "{symbol} asks");
        assert_eq!(b["gaps"], 0);
        compared += 1;
    }
    assert_eq!(compared, 10, "every book in the corpus");
}

#[test]
fn a_gap_in_the_corpus_is_detected_and_the_book_refuses_to_publish() {
    // Drop one delta of OMG_USDT after its snapshot: the book must notice the gap.
    let text = std::fs::read_to_string(corpus()).unwrap();
    let mut seen_snapshot = false;
    let mut dropped = false;
    let mut kept = Vec::new();
    for l in text.lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        let t = v["text"].as_str().unwrap();
        if v["source"] == "rest" && v["path"].as_str().unwrap().contains("OMG_USDT") {
            seen_snapshot = true;
        }
        if seen_snapshot
            && !dropped
            && t.contains("\"s\":\"OMG_USDT\"")
            && t.contains("order_book_update")
            && t.contains("update\",\"result")
        {
            dropped = true;
            continue;
        }
        kept.push(l);
    }
    assert!(dropped);
    let dir = std::env::temp_dir().join(format!("arb-gap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("gap.jsonl");
    std::fs::write(&file, kept.join("\n")).unwrap();
    let ours = run(BookArgs { files: vec![file], depth: 5, json: true, instruments: None }).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let omg: Value = ours
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|b| b["symbol"] == "OMG_USDT")
        .unwrap();
    assert_eq!(omg["synced"], false);
    assert_eq!(omg["gaps"], 1);
    assert_eq!(omg["bids"].as_array().unwrap().len(), 0, "an unsynced book shows no levels");
}

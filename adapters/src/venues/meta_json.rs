//! Instrument metadata from the venues' REST responses, turned into
//! [`InstrumentSpec`]s. Cold path: serde_json with exact number text
//! (`arbitrary_precision`), since MEXC futures sends tick and contract sizes as JSON
//! numbers.

use pipeline::types::InstrumentSpec;
use serde_json::Value;

/// A metadata response that cannot be understood.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct MetaError {
    pub source_name: &'static str,
    pub message: String,
}

pub(crate) fn err(source_name: &'static str, message: impl Into<String>) -> MetaError {
    MetaError { source_name, message: message.into() }
}

/// A decimal field given as a string or a JSON number, as exact text.
pub(crate) fn dec(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(crate) fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(crate) fn int(v: &Value, key: &str) -> Option<i64> {
    match v.get(key)? {
        Value::Number(n) => n.to_string().parse().ok(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// `10^-n` as decimal text.
pub(crate) fn pow10_neg(n: i64) -> String {
    match n {
        i64::MIN..=0 => "1".to_owned(),
        _ => format!("0.{}1", "0".repeat((n - 1) as usize)),
    }
}

/// A percentage as a rate (`"0.2"` percent -> `"0.002"`), exactly.
pub(crate) fn percent_to_rate(p: &str) -> Option<String> {
    let v = pipeline::types::Amount::parse(p).ok()?;
    let r = v.div(pipeline::types::Amount::from_int(100), pipeline::types::Rounding::Exact)?;
    Some(r.to_string())
}

/// Parses a body into JSON, naming the source in errors.
pub(crate) fn parse(source_name: &'static str, body: &str) -> Result<Value, MetaError> {
    serde_json::from_str(body).map_err(|e| err(source_name, format!("not JSON: {e}")))
}

/// The items of a list response, or the single object of a one-item response.
pub(crate) fn items(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![v],
        _ => vec![],
    }
}

/// One market's 24 h traded value from a venue's ticker list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Volume24h {
    /// The venue's symbol.
    pub symbol: String,
    /// Traded value over 24 h in the quote currency (USDT for perpetuals), exact decimal text.
    pub quote: String,
}

/// The volumes of a ticker list: `symbol_key` names each item's symbol and `volume_key`
/// its quote volume; items without either are left out (a venue lists some markets
/// with no trades as `null`).
pub(crate) fn volumes(
    source_name: &'static str,
    list: &Value,
    symbol_key: &str,
    volume_key: &str,
) -> Result<Vec<Volume24h>, MetaError> {
    if !list.is_array() {
        return Err(err(source_name, "not a list of tickers"));
    }
    Ok(items(list)
        .into_iter()
        .filter_map(|t| Some(Volume24h { symbol: text(t, symbol_key)?, quote: dec(t, volume_key)? }))
        .collect())
}

/// Keeps only the specs whose symbol is in `wanted` (all when `wanted` is empty).
pub fn select(specs: Vec<InstrumentSpec>, wanted: &[&str]) -> Vec<InstrumentSpec> {
    if wanted.is_empty() {
        return specs;
    }
    specs.into_iter().filter(|s| wanted.contains(&s.symbol.as_str())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_keep_numbers_exact() {
        let v: Value = serde_json::from_str(r#"{"a":0.0001,"b":"0.1","c":12}"#).unwrap();
        assert_eq!(dec(&v, "a").as_deref(), Some("0.0001"));
        assert_eq!(dec(&v, "b").as_deref(), Some("0.1"));
        assert_eq!(int(&v, "c"), Some(12));
        assert_eq!(pow10_neg(3), "0.001");
        assert_eq!(pow10_neg(0), "1");
        assert_eq!(percent_to_rate("0.2").as_deref(), Some("0.002"));
    }
}

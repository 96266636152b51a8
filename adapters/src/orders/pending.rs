//! Requests in flight on one venue client and the reusable request-target buffer: what
//! every venue's order entry needs to remember between sending a request and reading its
//! answer.

use pipeline::journal::ClientPrefix;
use pipeline::msg::ClientOrderId;
use pipeline::types::{InstrumentId, Market};

use super::wire;
use crate::net::http::RequestId;

/// What a pending request is about.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pending {
    /// The tracker slot, or `u32::MAX`.
    pub slot: u32,
    /// The instrument (for requests about one), for diagnostics.
    #[allow(dead_code)]
    pub inst: InstrumentId,
    pub market: Market,
}

impl Pending {
    pub fn none() -> Self {
        Pending { slot: u32::MAX, inst: InstrumentId(0), market: Market::Spot }
    }
}

/// Requests in flight on one client: id, purpose and what they are about.
#[derive(Debug)]
pub(crate) struct PendingTable<K> {
    items: Vec<(RequestId, K, Pending)>,
}

impl<K: Copy> PendingTable<K> {
    pub fn new() -> Self {
        PendingTable { items: Vec::with_capacity(512) }
    }

    /// Keeps a request the client accepted; false when it refused to send it.
    pub fn track<E>(&mut self, submitted: Result<RequestId, E>, kind: K, meta: Pending) -> bool {
        submitted.map(|id| self.items.push((id, kind, meta))).is_ok()
    }

    pub fn take(&mut self, id: RequestId) -> Option<(K, Pending)> {
        let i = self.items.iter().position(|e| e.0 == id)?;
        let (_, k, m) = self.items.swap_remove(i);
        Some((k, m))
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }
}

/// A request target (`/path?query`) built in a reusable buffer, remembering where the
/// query starts (signatures need path and query apart).
#[derive(Debug)]
pub(crate) struct RestTarget {
    buf: String,
    query_at: Option<usize>,
}

impl RestTarget {
    pub fn new() -> Self {
        RestTarget { buf: String::with_capacity(1024), query_at: None }
    }

    pub fn begin(&mut self, prefix: &str) {
        self.buf.clear();
        self.buf.push_str(prefix);
        self.query_at = None;
    }

    pub fn set(&mut self, prefix: &str, path: &str, query: &str) {
        self.begin(prefix);
        self.buf.push_str(path);
        if !query.is_empty() {
            self.query_start();
            self.buf.push_str(query);
        }
    }

    pub fn push(&mut self, s: &str) {
        self.buf.push_str(s);
    }

    pub fn push_client_id(&mut self, prefix: ClientPrefix, c: ClientOrderId) {
        wire::push_client_id(&mut self.buf, prefix, c);
    }

    pub fn buf_mut(&mut self) -> &mut String {
        &mut self.buf
    }

    /// Starts the query (`?`), if not started.
    pub fn query_start(&mut self) {
        if self.query_at.is_none() {
            self.buf.push('?');
            self.query_at = Some(self.buf.len());
        }
    }

    pub fn as_str(&self) -> &str {
        &self.buf
    }

    pub fn path(&self) -> &str {
        match self.query_at {
            Some(q) => &self.buf[..q - 1],
            None => &self.buf,
        }
    }

    pub fn query(&self) -> &str {
        match self.query_at {
            Some(q) => &self.buf[q..],
            None => "",
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_keep_path_and_query_apart() {
        let mut t = RestTarget::new();
        t.set("/api/v4", "/spot/orders", "currency_pair=BTC_USDT");
        assert_eq!(t.as_str(), "/api/v4/spot/orders?currency_pair=BTC_USDT");
        assert_eq!(t.path(), "/api/v4/spot/orders");
        assert_eq!(t.query(), "currency_pair=BTC_USDT");
        t.set("", "/api/v3/order", "");
        assert_eq!((t.path(), t.query()), ("/api/v3/order", ""));
    }
}

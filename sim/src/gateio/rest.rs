//! Gate.io's REST v4 server: a router that matches method and path (after `/api/v4`)
//! and calls one function per route, public routes first, then the signature check
//! (`KEY`, `Timestamp`, `SIGN`) and the private routes; every answer carries Gate's
//! timing and rate-limit headers.

use serde_json::{Value, json};

use super::orders::GateErr;
use super::{account, market, trading};
use crate::auth::verify_gate_rest;
use crate::engine::now_ms;
use crate::server::{Request, Response};
use crate::venue::VenueCtx;

/// One routed request: the venue, the request, its path segments after `/api/v4`, and
/// (private routes) its JSON body.
pub(super) struct Call<'a> {
    pub ctx: &'a VenueCtx,
    pub req: &'a Request,
    pub parts: &'a [&'a str],
    pub body: Value,
}

impl Call<'_> {
    /// A query (or form) parameter.
    pub fn q(&self, name: &str) -> Option<String> {
        self.req.param(name)
    }

    /// True on a `/futures/usdt/...` route.
    pub fn futures(&self) -> bool {
        self.parts[0] == "futures"
    }

    /// The path segment at `i` (a symbol or an order id).
    pub fn part(&self, i: usize) -> &str {
        self.parts.get(i).copied().unwrap_or("")
    }
}

type Route = fn(&Call) -> Response;

pub(super) fn err(status: u16, label: &str, message: &str) -> Response {
    Response::json(status, json!({"label": label, "message": message}).to_string())
}

pub(super) fn ok(v: Value) -> Response {
    Response::json(200, v.to_string())
}

pub(super) fn gate_err(e: GateErr) -> Response {
    err(e.0, e.1, &e.2)
}

fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The Gate REST server for one request, with Gate's timing and rate-limit headers.
pub fn rest(ctx: &VenueCtx, req: &Request) -> Response {
    let in_us = now_us();
    let mut r = route(ctx, req);
    let trace = format!("{:032x}", u128::from(in_us).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    r.headers.extend([
        ("X-In-Time".to_owned(), in_us.to_string()),
        ("X-Out-Time".to_owned(), now_us().to_string()),
        ("X-Gate-Trace-ID".to_owned(), trace),
        ("X-Gate-RateLimit-Requests-Remain".to_owned(), "199".to_owned()),
        ("X-Gate-RateLimit-Limit".to_owned(), "200".to_owned()),
        ("X-Gate-RateLimit-Reset-Timestamp".to_owned(), (in_us / 1000 + 1000).to_string()),
    ]);
    r
}

fn route(ctx: &VenueCtx, req: &Request) -> Response {
    ctx.delay();
    let Some(path) = req.path.strip_prefix("/api/v4") else {
        return err(404, "NOT_FOUND", "not found");
    };
    let method = req.method.as_str();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut call = Call { ctx, req, parts: &parts, body: Value::Null };
    if let Some(public) = public_route(method, &parts) {
        return public(&call);
    }
    if let Err(e) = verify_gate_rest(
        &ctx.creds,
        method,
        &req.path,
        &req.query,
        &req.body,
        req.header("KEY"),
        req.header("Timestamp"),
        req.header("SIGN"),
        now_ms(),
    ) {
        let (label, message) = e.label();
        return err(401, label, message);
    }
    if !req.body.is_empty() {
        match serde_json::from_slice(&req.body) {
            Ok(v) => call.body = v,
            Err(_) => return err(400, "INVALID_REQUEST_BODY", "request body is not valid JSON"),
        }
    }
    match private_route(method, &parts) {
        Some(private) => private(&call),
        None => err(404, "NOT_FOUND", &format!("{method} {} not found", req.path)),
    }
}

fn public_route(method: &str, parts: &[&str]) -> Option<Route> {
    let route: Route = match (method, parts) {
        ("GET", ["spot", "time"]) => market::server_time,
        ("GET", ["spot", "currency_pairs"]) => market::currency_pairs,
        ("GET", ["spot", "currency_pairs", _]) => market::currency_pair,
        ("GET", ["spot", "order_book"]) | ("GET", ["futures", "usdt", "order_book"]) => market::order_book,
        ("GET", ["spot", "tickers"]) | ("GET", ["futures", "usdt", "tickers"]) => market::tickers,
        ("GET", ["spot", "currencies"]) => market::currencies,
        ("GET", ["margin", "currency_pairs"])
        | ("GET", ["futures", "btc", "contracts"])
        | ("GET", ["delivery", _, "contracts"])
        | ("GET", ["options", "underlyings"]) => market::unlisted,
        ("GET", ["futures", "usdt", "contracts"]) => market::contracts,
        ("GET", ["futures", "usdt", "contracts", _]) => market::contract,
        _ => return None,
    };
    Some(route)
}

fn private_route(method: &str, parts: &[&str]) -> Option<Route> {
    let route: Route = match (method, parts) {
        ("GET", ["spot", "accounts"]) => account::spot_accounts,
        ("GET", ["account", "detail"]) => account::detail,
        ("GET", ["spot", "fee"]) => account::spot_fee,
        ("POST", ["spot", "orders"]) | ("POST", ["futures", "usdt", "orders"]) => trading::place_order,
        ("GET", ["spot", "orders"]) | ("GET", ["futures", "usdt", "orders"]) => trading::list_orders,
        ("GET", ["spot", "open_orders"]) => trading::open_orders,
        ("DELETE", ["spot", "orders"]) | ("DELETE", ["futures", "usdt", "orders"]) => trading::cancel_orders,
        ("GET" | "DELETE", ["spot", "orders", _]) | ("GET" | "DELETE", ["futures", "usdt", "orders", _]) => {
            trading::order
        }
        ("GET", ["futures", "usdt", "accounts"]) => account::futures_account,
        ("GET", ["futures", "usdt", "positions"]) => account::positions,
        ("GET", ["futures", "usdt", "positions", _])
        | ("POST", ["futures", "usdt", "positions", _, "leverage"]) => account::position,
        ("GET", ["futures", "usdt", "fee"]) => account::futures_fee,
        ("GET", ["futures", "usdt", "account_book"]) => account::account_book,
        _ => return None,
    };
    Some(route)
}

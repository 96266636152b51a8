//! MEXC's REST server on one origin: spot v3 (`/api/v3/...`, signed with `timestamp` and
//! `signature` parameters and `X-MEXC-APIKEY`) and futures (`/api/v1/contract/...`
//! public, `/api/v1/private/...` signed with `ApiKey`, `Request-Time`, `Signature`). Two
//! small routers match method and path and call one function per route.

use serde_json::{Value, json};

use super::{account, market, trading};
use crate::auth::{verify_mexc_futures, verify_mexc_spot};
use crate::engine::now_ms;
use crate::server::{Request, Response, parse_pairs};
use crate::venue::VenueCtx;

/// One routed request: the venue, the request, its parameters, the path segments after
/// `/api/v1/` (futures) and the JSON body (futures private routes).
pub(super) struct Call<'a> {
    pub ctx: &'a VenueCtx,
    pub req: &'a Request,
    pub params: Vec<(String, String)>,
    pub parts: Vec<&'a str>,
    pub body: Value,
}

impl Call<'_> {
    /// A parameter by name.
    pub fn get(&self, name: &str) -> Option<String> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    }

    /// The path segment at `i` (after `/api/v1/`).
    pub fn part(&self, i: usize) -> &str {
        self.parts.get(i).copied().unwrap_or("")
    }
}

type Route = fn(&Call) -> Response;

pub(super) fn spot_err(code: i64, msg: &str) -> Response {
    Response::json(400, json!({"code": code, "msg": msg}).to_string())
}

pub(super) fn ok(v: Value) -> Response {
    Response::json(200, v.to_string())
}

pub(super) fn fut_ok(data: Value) -> Response {
    ok(json!({"success": true, "code": 0, "data": data}))
}

pub(super) fn fut_err(code: i64, message: &str) -> Response {
    ok(json!({"success": false, "code": code, "message": message}))
}

fn not_found() -> Response {
    Response::json(404, r#"{"code":404,"msg":"Not Found"}"#)
}

/// The MEXC REST server (spot `/api/v3`, futures `/api/v1`) for one request.
pub fn rest(ctx: &VenueCtx, req: &Request) -> Response {
    ctx.delay();
    if req.path.starts_with("/api/v1/") {
        return futures(ctx, req);
    }
    let call = Call { ctx, req, params: req.params(), parts: Vec::new(), body: Value::Null };
    let (method, path) = (req.method.as_str(), req.path.as_str());
    if let Some(public) = spot_public(method, path) {
        return public(&call);
    }
    if !path.starts_with("/api/v3/") {
        return not_found();
    }
    if let Err(e) =
        verify_mexc_spot(&ctx.creds, &req.query, req.body_text(), req.header("X-MEXC-APIKEY"), now_ms())
    {
        let (code, msg) = e.spot();
        return spot_err(code, msg);
    }
    match spot_private(method, path) {
        Some(private) => private(&call),
        None => not_found(),
    }
}

fn spot_public(method: &str, path: &str) -> Option<Route> {
    let route: Route = match (method, path) {
        ("GET", "/api/v3/ping") => market::ping,
        ("GET", "/api/v3/time") => market::time,
        ("GET", "/api/v3/defaultSymbols") => market::default_symbols,
        ("GET", "/api/v3/exchangeInfo") => market::exchange_info,
        ("GET", "/api/v3/depth") => market::depth,
        ("GET", "/api/v3/ticker/bookTicker" | "/api/v3/ticker/24hr" | "/api/v3/ticker/price") => {
            market::tickers
        }
        _ => return None,
    };
    Some(route)
}

fn spot_private(method: &str, path: &str) -> Option<Route> {
    let route: Route = match (method, path) {
        ("GET", "/api/v3/account") => account::spot_account,
        ("GET", "/api/v3/capital/config/getall") => account::coins,
        ("GET", "/api/v3/tradeFee") => account::trade_fee,
        ("POST", "/api/v3/order" | "/api/v3/order/test") => trading::spot_place,
        ("GET" | "DELETE", "/api/v3/order") => trading::spot_order,
        ("GET" | "DELETE", "/api/v3/openOrders") | ("GET", "/api/v3/allOrders") => trading::spot_orders,
        (_, "/api/v3/userDataStream") => account::listen_keys,
        _ => return None,
    };
    Some(route)
}

/// MEXC futures REST (`/api/v1/contract/...` public, `/api/v1/private/...` signed).
fn futures(ctx: &VenueCtx, req: &Request) -> Response {
    let parts: Vec<&str> = req.path.trim_matches('/').split('/').skip(2).collect();
    let method = req.method.as_str();
    let mut call = Call { ctx, req, params: parse_pairs(&req.query), parts, body: Value::Null };
    if let Some(public) = futures_public(method, &call.parts) {
        return public(&call);
    }
    if call.parts.first() != Some(&"private") {
        return fut_err(404, "Not Found");
    }
    if let Err(e) = verify_mexc_futures(
        &ctx.creds,
        method,
        &req.query,
        req.body_text(),
        req.header("ApiKey"),
        req.header("Request-Time"),
        req.header("Signature"),
        req.header("Recv-Window"),
        now_ms(),
    ) {
        let (code, message) = e.futures();
        return fut_err(code, message);
    }
    call.body = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    match futures_private(method, &call.parts[1..]) {
        Some(private) => private(&call),
        None => fut_err(404, "Not Found"),
    }
}

fn futures_public(method: &str, parts: &[&str]) -> Option<Route> {
    let route: Route = match (method, parts) {
        ("GET", ["contract", "ping"]) => market::futures_ping,
        ("GET", ["contract", "detail"]) => market::contract_detail,
        ("GET", ["contract", "depth", _]) => market::futures_depth,
        ("GET", ["contract", "ticker"]) => market::futures_tickers,
        ("GET", ["contract", "funding_rate", _]) => market::funding_rate,
        _ => return None,
    };
    Some(route)
}

/// Private futures routes, matched on the path after `private/`.
fn futures_private(method: &str, parts: &[&str]) -> Option<Route> {
    let route: Route = match (method, parts) {
        ("GET", ["account", "assets"]) => account::assets,
        ("GET", ["account", "asset", _]) => account::asset,
        ("GET", ["position", "open_positions"]) => account::open_positions,
        ("GET", ["position", "funding_records"]) => account::funding_records,
        ("POST", ["order", "submit" | "create"]) => trading::futures_place,
        ("POST", ["order", "cancel"]) => trading::futures_cancel,
        ("POST", ["order", "cancel_all"]) => trading::futures_cancel_all,
        ("GET", ["order", "get", _]) => trading::futures_order,
        ("GET", ["order", "external", _, _]) => trading::futures_order_by_external,
        ("POST", ["order", "cancel_with_external"]) => trading::futures_cancel_by_external,
        ("GET", ["order", "list", "open_orders", ..]) => trading::futures_open_orders,
        ("GET", ["order", "list", "history_orders"]) => trading::futures_history_orders,
        _ => return None,
    };
    Some(route)
}

//! Gate.io's WebSocket trading API on the same connections as the channels: `login`
//! (or a signature on each request), `order_place` (an ack first, then the result),
//! `order_cancel` and `order_status`, answered in Gate's `header`/`data` envelope.

use serde_json::{Value, json};
use tungstenite::Message;

use super::json::{futures_order_json, spot_order_json};
use super::orders::place;
use super::ws::GateSession;
use crate::auth::verify_gate_api;
use crate::engine::{USER, now_ms, take_answer_hold};
use crate::server::Outbox;
use crate::venue::text_of;

/// One trading API request: its channel, `req_id` and payload.
struct ApiCall {
    channel: String,
    req_id: Value,
    payload: Value,
}

impl GateSession {
    fn api_header(&self, channel: &str, status: &str) -> Value {
        let now = now_ms();
        json!({"response_time": now.to_string(), "status": status, "channel": channel, "event": "api",
               "client_id": format!("127.0.0.1-0x{}", self.conn_id), "conn_id": self.conn_id,
               "trace_id": format!("{:032x}", now as u128 * 0x1000_0003),
               "x_in_time": now * 1000, "x_out_time": now * 1000 + 90,
               "x_gate_ratelimit_requests_remain": 99, "x_gate_ratelimit_limit": 100,
               "x_gat_ratelimit_reset_timestamp": now + 1000})
    }

    fn api_error(&self, out: &mut Outbox, call: &ApiCall, status: &str, label: &str, message: &str) {
        let v = json!({"request_id": call.req_id, "ack": false, "header": self.api_header(&call.channel, status),
                       "data": {"errs": {"label": label, "message": message}}});
        out.text(v.to_string());
    }

    fn api_result(&self, call: &ApiCall, result: Value) -> Value {
        json!({"request_id": call.req_id, "header": self.api_header(&call.channel, "200"),
               "data": {"result": result}})
    }

    /// The WebSocket trading API: login, order_place, order_cancel, order_status.
    pub(super) fn api(&mut self, req: &Value, out: &mut Outbox) {
        let channel = req.get("channel").and_then(Value::as_str).unwrap_or("").to_owned();
        let payload = req.get("payload").cloned().unwrap_or(Value::Null);
        let req_id = payload.get("req_id").cloned().unwrap_or(json!(""));
        let call = ApiCall { channel, req_id, payload };
        let Some(op) = call.channel.strip_prefix(self.prefix).and_then(|c| c.strip_prefix('.')) else {
            let message = format!("Unknown channel {}", call.channel);
            return self.api_error(out, &call, "400", "INVALID_ARGUMENT", &message);
        };
        if op == "login" {
            return self.api_login(&call, out);
        }
        let key = call.payload.get("api_key").and_then(Value::as_str).unwrap_or("");
        let sig = call.payload.get("signature").and_then(Value::as_str).unwrap_or("");
        let ts = call.payload.get("timestamp").and_then(text_of).unwrap_or_default();
        let param = call.payload.get("req_param").cloned().unwrap_or(Value::Null);
        // A request may carry its own signature instead of a login.
        let signed = !sig.is_empty()
            && verify_gate_api(&self.ctx.creds, &call.channel, &param.to_string(), &ts, key, sig);
        if !self.logged_in && !signed {
            return self.api_error(out, &call, "401", "INVALID_KEY", "Invalid key provided");
        }
        match op {
            "order_place" => self.api_place(&call, param, out),
            "order_cancel" | "order_status" => self.api_order(&call, op == "order_cancel", &param, out),
            _ => {
                let message = format!("Unknown channel {}", call.channel);
                self.api_error(out, &call, "400", "INVALID_ARGUMENT", &message)
            }
        }
    }

    fn api_login(&mut self, call: &ApiCall, out: &mut Outbox) {
        let key = call.payload.get("api_key").and_then(Value::as_str).unwrap_or("");
        let sig = call.payload.get("signature").and_then(Value::as_str).unwrap_or("");
        let ts = call.payload.get("timestamp").and_then(text_of).unwrap_or_default();
        // The documented form signs an empty req_param; clients that send one (`{}`,
        // `null`, `""`) sign what they send.
        let sent = call.payload.get("req_param").map(Value::to_string);
        let creds = &self.ctx.creds;
        let ok = verify_gate_api(creds, &call.channel, "", &ts, key, sig)
            || sent.is_some_and(|p| verify_gate_api(creds, &call.channel, &p, &ts, key, sig));
        let fresh = ts.parse::<i64>().is_ok_and(|t| (t - (now_ms() / 1000) as i64).abs() <= 60);
        if !ok {
            let label = if key != creds.api_key { "INVALID_KEY" } else { "INVALID_SIGNATURE" };
            let msg = if label == "INVALID_KEY" { "Invalid key provided" } else { "Signature mismatch" };
            return self.api_error(out, call, "401", label, msg);
        }
        if !fresh {
            let msg = "gap between request Timestamp and server time exceeds 60";
            return self.api_error(out, call, "401", "REQUEST_EXPIRED", msg);
        }
        self.logged_in = true;
        let v = self.api_result(call, json!({"api_key": key, "uid": self.ctx.uid.to_string()}));
        out.text(v.to_string());
    }

    /// Acks at once, then answers with the order after the slow-ack fault's delay (or a
    /// scripted silent order's hold).
    fn api_place(&self, call: &ApiCall, param: Value, out: &mut Outbox) {
        let ack = json!({"request_id": call.req_id, "ack": true, "header": self.api_header(&call.channel, "200"),
                         "data": {"result": {"req_id": call.req_id, "req_header": null, "req_param": param}}});
        out.text(ack.to_string());
        let delay = self.ctx.faults.delay_ms;
        match place(&self.ctx, self.market, &param) {
            Ok(v) => {
                let delay = delay.max(take_answer_hold().unwrap_or(0));
                let r = json!({"request_id": call.req_id, "ack": false, "header": self.api_header(&call.channel, "200"),
                               "data": {"result": v}});
                out.send_after(delay, Message::text(r.to_string()));
            }
            Err((status, label, message)) => self.api_error(out, call, &status.to_string(), label, &message),
        }
    }

    fn api_order(&self, call: &ApiCall, cancel: bool, param: &Value, out: &mut Outbox) {
        let id = param.get("order_id").and_then(text_of).and_then(|s| s.parse::<u64>().ok());
        let mut x = self.ctx.lock();
        let found = id.and_then(|id| x.order(id).cloned()).filter(|o| o.account == USER);
        let o = match found {
            Some(o) if cancel => x.cancel(USER, o.id),
            found => found,
        };
        let Some(o) = o else {
            drop(x);
            return self.api_error(out, call, "400", "ORDER_NOT_FOUND", "Order not found");
        };
        let si = &x.instruments[o.inst];
        let v = match self.market {
            pipeline::types::Market::Futures => futures_order_json(si, &o, self.ctx.uid, false),
            pipeline::types::Market::Spot => spot_order_json(si, &o),
        };
        drop(x);
        out.text(self.api_result(call, v).to_string());
    }
}

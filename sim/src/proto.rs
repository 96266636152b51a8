//! MEXC spot WebSocket protobuf messages, written by hand with `prost` derives from the
//! official `.proto` files (`adapters/test_data/mexc/proto/`, 2026 field set where it
//! exists): same field numbers and types, no `protoc`. Only the bodies the simulated
//! venue sends are here.

/// `PushDataV3ApiWrapper`: the channel, one body, and header fields.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PushDataV3ApiWrapper {
    #[prost(string, tag = "1")]
    pub channel: String,
    #[prost(oneof = "Body", tags = "303, 304, 306, 307, 313, 314, 315")]
    pub body: Option<Body>,
    #[prost(string, optional, tag = "3")]
    pub symbol: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub symbol_id: Option<String>,
    #[prost(int64, optional, tag = "5")]
    pub create_time: Option<i64>,
    #[prost(int64, optional, tag = "6")]
    pub send_time: Option<i64>,
}

/// The wrapper's `body` oneof (the members the sim sends).
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Body {
    #[prost(message, tag = "303")]
    PublicLimitDepths(PublicLimitDepthsV3Api),
    #[prost(message, tag = "304")]
    PrivateOrders(PrivateOrdersV3Api),
    #[prost(message, tag = "306")]
    PrivateDeals(PrivateDealsV3Api),
    #[prost(message, tag = "307")]
    PrivateAccount(PrivateAccountV3Api),
    #[prost(message, tag = "313")]
    PublicAggreDepths(PublicAggreDepthsV3Api),
    #[prost(message, tag = "314")]
    PublicAggreDeals(PublicAggreDealsV3Api),
    #[prost(message, tag = "315")]
    PublicAggreBookTicker(PublicAggreBookTickerV3Api),
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PublicAggreDepthsV3Api {
    #[prost(message, repeated, tag = "1")]
    pub asks: Vec<PublicAggreDepthV3ApiItem>,
    #[prost(message, repeated, tag = "2")]
    pub bids: Vec<PublicAggreDepthV3ApiItem>,
    #[prost(string, tag = "3")]
    pub event_type: String,
    #[prost(string, tag = "4")]
    pub from_version: String,
    #[prost(string, tag = "5")]
    pub to_version: String,
    #[prost(int64, tag = "6")]
    pub last_order_create_time: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PublicAggreDepthV3ApiItem {
    #[prost(string, tag = "1")]
    pub price: String,
    #[prost(string, tag = "2")]
    pub quantity: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PublicAggreBookTickerV3Api {
    #[prost(string, tag = "1")]
    pub bid_price: String,
    #[prost(string, tag = "2")]
    pub bid_quantity: String,
    #[prost(string, tag = "3")]
    pub ask_price: String,
    #[prost(string, tag = "4")]
    pub ask_quantity: String,
    #[prost(string, tag = "5")]
    pub version: String,
    #[prost(int64, tag = "6")]
    pub last_order_create_time: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PublicAggreDealsV3Api {
    #[prost(message, repeated, tag = "1")]
    pub deals: Vec<PublicAggreDealsV3ApiItem>,
    #[prost(string, tag = "2")]
    pub event_type: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PublicAggreDealsV3ApiItem {
    #[prost(string, tag = "1")]
    pub price: String,
    #[prost(string, tag = "2")]
    pub quantity: String,
    /// 1 buy, 2 sell.
    #[prost(int32, tag = "3")]
    pub trade_type: i32,
    #[prost(int64, tag = "4")]
    pub time: i64,
    #[prost(string, tag = "5")]
    pub trade_id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PublicLimitDepthsV3Api {
    #[prost(message, repeated, tag = "1")]
    pub asks: Vec<PublicAggreDepthV3ApiItem>,
    #[prost(message, repeated, tag = "2")]
    pub bids: Vec<PublicAggreDepthV3ApiItem>,
    #[prost(string, tag = "3")]
    pub event_type: String,
    #[prost(string, tag = "4")]
    pub version: String,
    #[prost(int64, tag = "5")]
    pub last_order_create_time: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PrivateOrdersV3Api {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(string, tag = "2")]
    pub client_id: String,
    #[prost(string, tag = "3")]
    pub price: String,
    #[prost(string, tag = "4")]
    pub quantity: String,
    #[prost(string, tag = "5")]
    pub amount: String,
    #[prost(string, tag = "6")]
    pub avg_price: String,
    /// 1 limit, 2 post only, 3 IOC, 4 FOK, 5 market.
    #[prost(int32, tag = "7")]
    pub order_type: i32,
    /// 1 buy, 2 sell.
    #[prost(int32, tag = "8")]
    pub trade_type: i32,
    #[prost(bool, tag = "9")]
    pub is_maker: bool,
    #[prost(string, tag = "10")]
    pub remain_amount: String,
    #[prost(string, tag = "11")]
    pub remain_quantity: String,
    #[prost(string, optional, tag = "12")]
    pub last_deal_quantity: Option<String>,
    #[prost(string, tag = "13")]
    pub cumulative_quantity: String,
    #[prost(string, tag = "14")]
    pub cumulative_amount: String,
    /// 1 new, 2 filled, 3 partially filled, 4 canceled, 5 partially canceled.
    #[prost(int32, tag = "15")]
    pub status: i32,
    #[prost(int64, tag = "16")]
    pub create_time: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PrivateDealsV3Api {
    #[prost(string, tag = "1")]
    pub price: String,
    #[prost(string, tag = "2")]
    pub quantity: String,
    #[prost(string, tag = "3")]
    pub amount: String,
    #[prost(int32, tag = "4")]
    pub trade_type: i32,
    #[prost(bool, tag = "5")]
    pub is_maker: bool,
    #[prost(bool, tag = "6")]
    pub is_self_trade: bool,
    #[prost(string, tag = "7")]
    pub trade_id: String,
    #[prost(string, tag = "8")]
    pub client_order_id: String,
    #[prost(string, tag = "9")]
    pub order_id: String,
    #[prost(string, tag = "10")]
    pub fee_amount: String,
    #[prost(string, tag = "11")]
    pub fee_currency: String,
    #[prost(int64, tag = "12")]
    pub time: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PrivateAccountV3Api {
    #[prost(string, tag = "1")]
    pub vcoin_name: String,
    #[prost(string, tag = "2")]
    pub coin_id: String,
    #[prost(string, tag = "3")]
    pub balance_amount: String,
    #[prost(string, tag = "4")]
    pub balance_amount_change: String,
    #[prost(string, tag = "5")]
    pub frozen_amount: String,
    #[prost(string, tag = "6")]
    pub frozen_amount_change: String,
    #[prost(string, tag = "7")]
    pub r#type: String,
    #[prost(int64, tag = "8")]
    pub time: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn recorded_frames_decode_with_these_messages() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../adapters/test_data/mexc/");
        let bt = std::fs::read_to_string(format!("{dir}spot_ws_aggre_book_ticker.hex")).unwrap();
        let w = PushDataV3ApiWrapper::decode(unhex(bt.lines().next().unwrap().trim()).as_slice()).unwrap();
        assert_eq!(w.symbol.as_deref(), Some("BTCUSDT"));
        assert_eq!(w.send_time, Some(1_790_281_243_450));
        let Some(Body::PublicAggreBookTicker(t)) = w.body else { panic!("not a book ticker") };
        assert_eq!(
            (t.bid_price.as_str(), t.ask_quantity.as_str(), t.version.as_str()),
            ("84270", "5.42169969", "82164153436")
        );
        let deals = std::fs::read_to_string(format!("{dir}spot_ws_aggre_deals.hex")).unwrap();
        let w = PushDataV3ApiWrapper::decode(unhex(deals.trim()).as_slice()).unwrap();
        let Some(Body::PublicAggreDeals(d)) = w.body else { panic!("not deals") };
        assert_eq!(d.deals.len(), 2);
        assert_eq!(d.deals[0].trade_type, 2);
        assert_eq!(d.deals[0].trade_id, "731901896985399296X0_731901896985399297X0");
        let depth = std::fs::read_to_string(format!("{dir}spot_ws_limit_depth.hex")).unwrap();
        let w = PushDataV3ApiWrapper::decode(unhex(depth.trim()).as_slice()).unwrap();
        let Some(Body::PublicLimitDepths(d)) = w.body else { panic!("not limit depth") };
        assert_eq!(
            (d.asks.len(), d.bids[0].price.as_str(), d.version.as_str()),
            (5, "84270.00", "82164155643")
        );
        // Re-encoding what we decoded gives the venue's bytes back.
        assert_eq!(
            PushDataV3ApiWrapper { body: Some(Body::PublicLimitDepths(d)), ..w }.encode_to_vec(),
            unhex(depth.trim())
        );
    }

    #[test]
    fn protocols_md_golden_depth_decodes() {
        // protocols.md A.4 synthetic golden bytes of the ccxt aggre.depth capture.
        let hex = "0a2f73706f74407075626c69632e61676772652e64657074682e76332e6170692e7062403130306d7340425443555344541a074254435553445430a8e3eef58833ca136c0a0e0a093131373134352e343912013012170a093131373035332e3431120a312e38363833373237311a2773706f74407075626c69632e61676772652e64657074682e76332e6170692e7062403130306d73220b34333239363336333233362a0b3433323936333633323535";
        let w = PushDataV3ApiWrapper::decode(unhex(hex).as_slice()).unwrap();
        let Some(Body::PublicAggreDepths(d)) = w.body else { panic!("not aggre depth") };
        assert_eq!((d.from_version.as_str(), d.to_version.as_str()), ("43296363236", "43296363255"));
        assert_eq!(d.asks[0].quantity, "0");
    }
}

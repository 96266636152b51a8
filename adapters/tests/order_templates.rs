//! Orders built from the per-instrument templates, byte for byte as each venue's
//! documented request reads, for both sides and both times in force, and for an
//! instrument whose template was not prepared in advance (listed while running).

use adapters::orders::templates::Templates;
use adapters::venues::gateio::orders::{order_body as gate_body, templates as gate_templates};
use adapters::venues::mexc::orders::MexcOpenType;
use adapters::venues::mexc::orders::futures::{
    order_body as mexc_futures_body, templates as mexc_futures_templates,
};
use adapters::venues::mexc::orders::spot::{
    order_params as mexc_spot_params, templates as mexc_spot_templates,
};
use pipeline::dispatch::OrderRequest;
use pipeline::journal::{ClientPrefix, TimeInForce};
use pipeline::msg::ClientOrderId;
use pipeline::types::{Instrument, InstrumentSpec, Instruments, Market, Price, Qty, Side, Venue};

fn spec(venue: Venue, market: Market, symbol: &str, lot: &str, contract: &str) -> InstrumentSpec {
    InstrumentSpec {
        venue,
        market,
        symbol: symbol.into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        tick: "0.1".into(),
        lot: lot.into(),
        min_qty: None,
        max_qty: None,
        min_notional: None,
        contract_size: contract.into(),
        taker_fee: None,
        maker_fee: None,
        trading_enabled: true,
    }
}

fn request(inst: &Instrument, side: Side, tif: TimeInForce, qty: &str) -> OrderRequest {
    OrderRequest {
        client: ClientOrderId { op: 42, leg: 1, attempt: 3 },
        inst: inst.id,
        venue: inst.venue,
        market: inst.market,
        side,
        price: Price::parse("65000.1", inst.price_scale).unwrap(),
        qty: Qty::parse(qty, inst.qty_scale).unwrap(),
        tif,
        ts_ns: 0,
    }
}

#[test]
fn templated_orders_read_as_each_venue_documents_them() {
    let t = Instruments::from_specs(&[
        spec(Venue::GateIo, Market::Spot, "BTC_USDT", "0.0001", "1"),
        spec(Venue::GateIo, Market::Futures, "BTC_USDT", "1", "0.0001"),
        spec(Venue::Mexc, Market::Spot, "BTCUSDT", "0.000001", "1"),
        spec(Venue::Mexc, Market::Futures, "BTC_USDT", "1", "0.0001"),
    ])
    .unwrap();
    let find = |v, m, s| t.get(t.find(v, m, s).unwrap());
    let prefix = ClientPrefix::new("kqzvme").unwrap();
    let mut b = String::new();
    let mut gate = gate_templates();
    // Only the spot instrument prepared: the futures one is built on its first order.
    gate.prepare([find(Venue::GateIo, Market::Spot, "BTC_USDT")]);

    let spot = find(Venue::GateIo, Market::Spot, "BTC_USDT");
    gate_body(&mut b, &mut gate, &request(spot, Side::Buy, TimeInForce::Ioc, "0.0012"), spot, prefix);
    assert_eq!(
        b,
        r#"{"text":"t-kqzvme42-1-3","currency_pair":"BTC_USDT","type":"limit","account":"spot","side":"buy","amount":"0.0012","price":"65000.1","time_in_force":"ioc"}"#
    );
    gate_body(&mut b, &mut gate, &request(spot, Side::Sell, TimeInForce::Fok, "0.5"), spot, prefix);
    assert_eq!(
        b,
        r#"{"text":"t-kqzvme42-1-3","currency_pair":"BTC_USDT","type":"limit","account":"spot","side":"sell","amount":"0.5","price":"65000.1","time_in_force":"fok"}"#
    );
    let perp = find(Venue::GateIo, Market::Futures, "BTC_USDT");
    gate_body(&mut b, &mut gate, &request(perp, Side::Sell, TimeInForce::Ioc, "12"), perp, prefix);
    assert_eq!(
        b,
        r#"{"contract":"BTC_USDT","size":-12,"price":"65000.1","tif":"ioc","text":"t-kqzvme42-1-3"}"#
    );
    gate_body(&mut b, &mut gate, &request(perp, Side::Buy, TimeInForce::Fok, "3"), perp, prefix);
    assert_eq!(
        b,
        r#"{"contract":"BTC_USDT","size":3,"price":"65000.1","tif":"fok","text":"t-kqzvme42-1-3"}"#
    );

    let mexc = find(Venue::Mexc, Market::Spot, "BTCUSDT");
    let mut spot_t = mexc_spot_templates();
    b.clear();
    mexc_spot_params(
        &mut b,
        &mut spot_t,
        &request(mexc, Side::Buy, TimeInForce::Ioc, "0.0012"),
        mexc,
        prefix,
    );
    assert_eq!(
        b,
        "symbol=BTCUSDT&side=BUY&type=IMMEDIATE_OR_CANCEL&quantity=0.0012&price=65000.1&newClientOrderId=kqzvme42-1-3"
    );
    b.clear();
    mexc_spot_params(&mut b, &mut spot_t, &request(mexc, Side::Sell, TimeInForce::Fok, "1"), mexc, prefix);
    assert_eq!(
        b,
        "symbol=BTCUSDT&side=SELL&type=FILL_OR_KILL&quantity=1&price=65000.1&newClientOrderId=kqzvme42-1-3"
    );

    let mperp = find(Venue::Mexc, Market::Futures, "BTC_USDT");
    let mut fut_t: Templates = mexc_futures_templates(5, MexcOpenType::Isolated);
    mexc_futures_body(&mut b, &mut fut_t, &request(mperp, Side::Buy, TimeInForce::Ioc, "7"), mperp, prefix);
    assert_eq!(
        b,
        r#"{"symbol":"BTC_USDT","price":65000.1,"vol":7,"leverage":5,"side":1,"type":3,"openType":1,"positionMode":2,"externalOid":"kqzvme42-1-3"}"#
    );
    mexc_futures_body(&mut b, &mut fut_t, &request(mperp, Side::Sell, TimeInForce::Fok, "7"), mperp, prefix);
    assert_eq!(
        b,
        r#"{"symbol":"BTC_USDT","price":65000.1,"vol":7,"leverage":5,"side":3,"type":4,"openType":1,"positionMode":2,"externalOid":"kqzvme42-1-3"}"#
    );
}

#!/usr/bin/env python3
"""Independent-client acceptance check of the simulated venues with ccxt (unchanged
except for its base URLs).

Reads the sim's handshake line (the JSON object `arb sim` prints first, also what
`sim::endpoints_json` builds) from the first argument or stdin, then, against
plain http:// endpoints, with ccxt's own request signing:

  Gate.io spot:    load_markets, fetch_order_book, fetch_balance, create/fetch/cancel a
                   resting limit order, an IOC order that fills, fetch_open_orders
  Gate.io swap:    fetch_order_book, fetch_balance(type=swap), an IOC order, fetch_positions
  MEXC spot:       load_markets, fetch_order_book, fetch_balance, create/fetch/cancel a
                   resting limit order, an IOC order that fills, a market order
  MEXC swap:       fetch_order_book, fetch_balance(type=swap), create_order, fetch_order,
                   fetch_positions (should a ccxt version refuse MEXC swap orders itself,
                   the refusal is reported, not failed)

and over WebSocket with ccxt.pro (ccxt's own book sync and protobuf decoding):

  both venues:     watch_order_book and watch_trades on spot and swap
  Gate.io:         watch_orders, watch_balance, create_order_ws / cancel_order_ws (the
                   WebSocket trading API)
  MEXC:            watch_orders on spot (listen key, protobuf) and swap (login)

Prints one line per check and exits non-zero on the first failure. Run it through
scripts/check-sim-with-ccxt.sh, which installs ccxt (and the protobuf runtime ccxt needs
for MEXC) in a virtual environment and starts the sim.
"""

import asyncio
import json
import sys
import traceback

import ccxt
import ccxt.pro as ccxtpro

PASSED = []


def check(name, cond, detail=""):
    if not cond:
        print(f"FAIL {name} {detail}", flush=True)
        sys.exit(1)
    PASSED.append(name)
    print(f"ok   {name} {detail}".rstrip(), flush=True)


def gate_client(e, module=ccxt):
    g = module.gate({"apiKey": e["api_key"], "secret": e["api_secret"], "timeout": 10000})
    for access in ("public", "private"):
        for k in list(g.urls["api"][access].keys()):
            g.urls["api"][access][k] = e["rest"]
    if module is ccxtpro:
        g.urls["api"]["spot"] = e["ws_spot"]
        g.urls["api"]["swap"] = {"usdt": e["ws_futures"], "btc": e["ws_futures"]}
    return g


def mexc_client(e, module=ccxt):
    m = module.mexc({"apiKey": e["api_key"], "secret": e["api_secret"], "timeout": 10000})
    m.urls["api"]["spot"] = {"public": e["rest"], "private": e["rest"]}
    m.urls["api"]["contract"] = {
        "public": e["rest"] + "/api/v1/contract",
        "private": e["rest"] + "/api/v1/private",
    }
    if module is ccxtpro:
        m.urls["api"]["ws"] = {"spot": e["ws_spot"], "swap": e["ws_futures"]}
    return m


async def ws_feeds(ex, venue):
    await ex.load_markets()
    for sym in ("BTC/USDT", "BTC/USDT:USDT"):
        for _ in range(8):
            ob = await ex.watch_order_book(sym)
        bid, ask = ob["bids"][0][0], ob["asks"][0][0]
        check(f"{venue} watch_order_book {sym}", bid < ask and len(ob["bids"]) >= 5,
              f"nonce={ob['nonce']} bid={bid} ask={ask}")
        trades = await ex.watch_trades(sym)
        check(f"{venue} watch_trades {sym}", len(trades) > 0 and trades[0]["price"] > 0, f"n={len(trades)}")


async def watch_new_order(ex, venue, symbol, side_price):
    w = asyncio.ensure_future(ex.watch_orders(symbol))
    await asyncio.sleep(0.5)
    ob = await ex.fetch_order_book(symbol)
    amount, price = side_price(ob)
    o = await ex.create_order(symbol, "limit", "buy", amount, price)
    orders = await asyncio.wait_for(w, 10)
    check(f"{venue} watch_orders {symbol}", any(x["id"] == o["id"] for x in orders),
          str([(x["id"], x["status"]) for x in orders]))
    return o


async def ws_checks(ep):
    g = gate_client(ep["gateio"], ccxtpro)
    m = mexc_client(ep["mexc"], ccxtpro)
    try:
        await ws_feeds(g, "gateio")
        await ws_feeds(m, "mexc")
        below = lambda ob: (0.2, round(ob["bids"][0][0] * 0.9, 2))
        o = await watch_new_order(g, "gateio", "ETH/USDT", below)
        wb = asyncio.ensure_future(g.watch_balance())
        await asyncio.sleep(0.5)
        await g.cancel_order(o["id"], "ETH/USDT")
        b = await asyncio.wait_for(wb, 10)
        check("gateio watch_balance", b["USDT"]["total"] > 0, f"USDT={b['USDT']}")
        ob = await g.fetch_order_book("ETH/USDT")
        o = await g.create_order_ws("ETH/USDT", "limit", "buy", 0.2, round(ob["bids"][0][0] * 0.9, 2))
        check("gateio create_order_ws", o["status"] == "open", f"id={o['id']}")
        c = await g.cancel_order_ws(o["id"], "ETH/USDT")
        check("gateio cancel_order_ws", c["status"] == "canceled", f"id={c['id']}")
        await watch_new_order(m, "mexc", "ETH/USDT", below)
        await watch_new_order(m, "mexc", "ETH/USDT:USDT", lambda ob: (1, round(ob["asks"][0][0] * 1.01, 2)))
    finally:
        await g.close()
        await m.close()


def book_checks(ex, venue, symbol):
    ob = ex.fetch_order_book(symbol, 10)
    bid, ask = ob["bids"][0][0], ob["asks"][0][0]
    check(f"{venue} fetch_order_book {symbol}", len(ob["bids"]) > 0 and len(ob["asks"]) > 0 and bid < ask,
          f"bid={bid} ask={ask}")
    return bid, ask


def spot_order_cycle(ex, venue, symbol, amount, price_decimals):
    bid, ask = book_checks(ex, venue, symbol)
    low = round(bid * 0.9, price_decimals)
    o = ex.create_order(symbol, "limit", "buy", amount, low)
    check(f"{venue} create_order limit {symbol}", o.get("id") is not None, f"id={o.get('id')}")
    f = ex.fetch_order(o["id"], symbol)
    check(f"{venue} fetch_order open", f["status"] == "open", f"status={f['status']} remaining={f.get('remaining')}")
    oo = ex.fetch_open_orders(symbol)
    check(f"{venue} fetch_open_orders", any(x["id"] == o["id"] for x in oo), f"n={len(oo)}")
    ex.cancel_order(o["id"], symbol)
    f = ex.fetch_order(o["id"], symbol)
    check(f"{venue} cancel_order", f["status"] == "canceled", f"status={f['status']}")
    high = round(ask * 1.01, price_decimals)
    o = ex.create_order(symbol, "limit", "buy", amount, high, {"timeInForce": "IOC"})
    f = ex.fetch_order(o["id"], symbol)
    check(f"{venue} IOC fill", f["status"] == "closed" and abs(f["filled"] - amount) < 1e-12,
          f"status={f['status']} filled={f['filled']} average={f.get('average')}")


def main():
    raw = sys.argv[1] if len(sys.argv) > 1 else sys.stdin.readline()
    ep = json.loads(raw)
    print(f"ccxt {ccxt.__version__}", flush=True)

    # Gate.io
    g = gate_client(ep["gateio"])
    markets = g.load_markets()
    check("gateio load_markets", all(s in markets for s in ("BTC/USDT", "ETH/BTC", "BTC/USDT:USDT")),
          f"{len(markets)} markets")
    bal = g.fetch_balance()
    check("gateio fetch_balance", bal["USDT"]["free"] > 0, f"USDT free={bal['USDT']['free']}")
    spot_order_cycle(g, "gateio", "ETH/USDT", 0.1, 2)
    _, ask = book_checks(g, "gateio", "BTC/USDT:USDT")
    sbal = g.fetch_balance({"type": "swap"})
    check("gateio fetch_balance swap", sbal["USDT"]["total"] > 0, f"USDT total={sbal['USDT']['total']}")
    o = g.create_order("BTC/USDT:USDT", "limit", "buy", 3, round(ask * 1.01, 1), {"timeInForce": "IOC"})
    f = g.fetch_order(o["id"], "BTC/USDT:USDT")
    check("gateio swap IOC fill", f["status"] == "closed" and f["filled"] == 3, f"status={f['status']} filled={f['filled']}")
    pos = g.fetch_positions(["BTC/USDT:USDT"])
    size = sum(p["contracts"] or 0 for p in pos if p["symbol"] == "BTC/USDT:USDT")
    check("gateio fetch_positions", size == 3, f"contracts={size}")

    # MEXC
    m = mexc_client(ep["mexc"])
    markets = m.load_markets()
    check("mexc load_markets", all(s in markets for s in ("BTC/USDT", "ETH/BTC", "BTC/USDT:USDT")),
          f"{len(markets)} markets")
    bal = m.fetch_balance()
    check("mexc fetch_balance", bal["USDT"]["free"] > 0, f"USDT free={bal['USDT']['free']}")
    spot_order_cycle(m, "mexc", "ETH/USDT", 0.1, 2)
    o = m.create_order("SOL/USDT", "market", "sell", 1.5)
    f = m.fetch_order(o["id"], "SOL/USDT")
    check("mexc market sell", f["status"] == "closed" and abs(f["filled"] - 1.5) < 1e-12, f"filled={f['filled']}")
    _, ask = book_checks(m, "mexc", "ETH/USDT:USDT")
    sbal = m.fetch_balance({"type": "swap"})
    check("mexc fetch_balance swap", sbal["USDT"]["total"] > 0, f"USDT total={sbal['USDT']['total']}")
    try:
        o = m.create_order("ETH/USDT:USDT", "limit", "buy", 2, round(ask * 1.01, 2), {"timeInForce": "IOC"})
        check("mexc swap create_order", o.get("id") is not None, f"id={o.get('id')}")
        f = m.fetch_order(o["id"], "ETH/USDT:USDT")
        check("mexc swap fetch_order", f["status"] == "closed" and f["filled"] == 2, f"status={f['status']} filled={f['filled']}")
        pos = m.fetch_positions(["ETH/USDT:USDT"])
        size = sum(p["contracts"] or 0 for p in pos if p["symbol"] == "ETH/USDT:USDT")
        check("mexc fetch_positions", size == 2, f"contracts={size}")
    except ccxt.NotSupported as e:
        print(f"note mexc swap create_order refused by ccxt itself: {e}", flush=True)

    asyncio.run(asyncio.wait_for(ws_checks(ep), 60))
    print(f"{len(PASSED)} passed, 0 failed", flush=True)


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except Exception:
        traceback.print_exc()
        print(f"{len(PASSED)} passed, 1 failed", flush=True)
        sys.exit(1)

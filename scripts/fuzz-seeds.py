#!/usr/bin/env python3
"""Seeds the cargo-fuzz corpora (fuzz/corpus/<target>/seed-*) from the recorded venue
frames in adapters/test_data, the configs in config/, and the small journals kept in
fuzz/seeds/. Run by scripts/fuzz.sh; safe to run again (seeds are overwritten, what
the fuzzer found is kept).

The stateful targets (gate_private, mexc_private) read a sequence of messages, each
`[kind][arg][length: u16 LE][payload]`; the kinds are those of
adapters/src/venues/<venue>/fuzz.rs and are named below.
"""

import glob
import gzip
import json
import os
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DATA = os.path.join(ROOT, "adapters", "test_data")
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def lines(path):
    with open(os.path.join(DATA, path), "rb") as f:
        return [l.rstrip(b"\n") for l in f if l.strip()]


def hex_lines(path):
    return [bytes.fromhex(l.decode()) for l in lines(path)]


def write(target, seeds):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    for i, s in enumerate(seeds):
        with open(os.path.join(d, f"seed-{i}"), "wb") as f:
            f.write(s)
    return len(seeds)


def msgs(*items):
    out = b""
    for kind, arg, payload in items:
        out += bytes([kind, arg]) + struct.pack("<H", len(payload)) + payload
    return out


# Protobuf, enough to write MEXC's private spot pushes.
def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(number, value):
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    if isinstance(value, str):
        value = value.encode()
    return varint(number << 3 | 2) + varint(len(value)) + value


def pb(*fields):
    return b"".join(field(n, v) for n, v in fields)


def glob_data(pattern):
    return sorted(glob.glob(os.path.join(DATA, pattern)))


# Gate kinds: 0 spot push, 1 futures push, 2.. REST answers in the order of
# adapters/src/venues/gateio/fuzz.rs (KINDS); arg: bit 0 stream up, bit 1 futures,
# bits 2-3 the order (0..2, 3 none), bits 4-7 the outcome (0: 200 ... see Outcome).
G_CREATE, G_CANCEL, G_QUERY, G_LIST, G_CANCEL_ALL, G_SPOT_ACCOUNTS, G_FUTURES_ACCOUNT, G_POSITIONS = (
    2 + 2, 2 + 3, 2 + 4, 2 + 8, 2 + 12, 2 + 13, 2 + 14, 2 + 15)
# MEXC kinds: 0 spot protobuf push, 1 spot text frame, 2 futures push, 3.. REST answers
# (spot kinds then futures kinds, adapters/src/venues/mexc/fuzz.rs).
M_S_CREATE, M_S_QUERY, M_S_CANCEL_ALL, M_S_ACCOUNT = 3 + 3, 3 + 5, 3 + 7, 3 + 8
M_F_CREATE, M_F_QUERY, M_F_ASSETS, M_F_POSITIONS = 3 + 10 + 1, 3 + 10 + 3, 3 + 10 + 6, 3 + 10 + 7


def gate_private():
    def ours(line, client):
        v = json.loads(line)
        for item in v.get("result", []) if isinstance(v.get("result"), list) else []:
            if "text" in item:
                item["text"] = client
            for k in ("currency_pair", "contract"):
                if k in item:
                    item[k] = "BTC_USDT"
        return json.dumps(v).encode()

    spot = [ours(l, "t-1-0-0") for f in ("spot_ws_orders.jsonl", "spot_ws_usertrades.jsonl") for l in lines("gateio/" + f)]
    spot += lines("gateio/spot_ws_control.jsonl")
    spot.append(b'{"channel":"spot.balances","event":"update","result":' + lines("gateio/spot_ws_balances_result_only.jsonl")[0] + b"}")
    fut = [ours(l, "t-2-0-0") for f in ("futures_ws_orders.jsonl", "futures_ws_usertrades.jsonl", "futures_ws_balances.jsonl", "futures_ws_positions.jsonl") for l in lines("gateio/" + f)]
    created = [ours(json.dumps({"result": [json.loads(l)]}), "t-2-0-0") for l in lines("gateio/futures_rest_orders_create.jsonl")]
    created = [json.dumps(json.loads(c)["result"][0]).encode() for c in created]
    errors = lines("gateio/rest_errors.jsonl")
    seeds = [msgs((0, 1, s)) for s in spot] + [msgs((1, 1, s)) for s in fut]
    seeds.append(msgs(*[(0, 1, s) for s in spot], (255, 51, b""), *[(1, 0, s) for s in fut]))
    seeds += [msgs((G_CREATE, 2 | 1 << 2, c), (G_QUERY, 2 | 1 << 2, c)) for c in created]
    seeds += [msgs((G_CREATE, 2 << 4, e), (G_QUERY, 3 << 4, e)) for e in errors]
    seeds.append(msgs((G_FUTURES_ACCOUNT, 2, lines("gateio/futures_rest_accounts.jsonl")[0])))
    seeds.append(msgs((G_LIST, 0, b"[" + b",".join(created) + b"]"), (G_CANCEL_ALL, 2, b"[" + created[0] + b"]")))
    seeds.append(msgs((G_SPOT_ACCOUNTS, 0, b'[{"currency":"USDT","available":"100.5","locked":"1"}]'),
                      (G_POSITIONS, 2, b'[{"contract":"BTC_USDT","size":-3}]')))
    return seeds


def mexc_private():
    def order_push(client, status, cum_qty, cum_amount):
        body = pb((1, "C02__1"), (2, client), (7, 1), (8, 1), (13, cum_qty), (14, cum_amount), (15, status))
        return pb((1, "spot@private.orders.v3.api.pb"), (3, "BTCUSDT"), (304, body))

    def deal_push(client, tid, price, qty):
        body = pb((1, price), (2, qty), (4, 1), (7, tid), (8, client), (9, "C02__1"), (10, "0.0001"), (11, "BTC"))
        return pb((1, "spot@private.deals.v3.api.pb"), (3, "BTCUSDT"), (306, body))

    account = pb((1, "spot@private.account.v3.api.pb"), (307, pb((1, "USDT"), (3, "100.25"), (5, "1.5"))))
    query = lines("mexc/spot_rest_order_query.jsonl")[0].replace(b"ZANOUSDT", b"BTCUSDT").replace(b'"11"', b'"3-0-0"')
    cancel = lines("mexc/spot_rest_open_orders_cancel.jsonl")[0].replace(b"PLSUSDT", b"BTCUSDT")
    new = lines("mexc/spot_rest_order_new.jsonl")[0].replace(b"PLSUSDT", b"BTCUSDT")
    f_push = json.dumps({"channel": "push.personal.order.deal", "data": {
        "symbol": "BTC_USDT", "externalOid": "4-0-0", "orderId": "7", "id": "9", "price": 60000.5, "vol": 2,
        "side": 1, "fee": 0.01, "feeCurrency": "USDT", "isTaker": True}}).encode()
    f_order = json.dumps({"channel": "push.personal.order", "data": {
        "symbol": "BTC_USDT", "externalOid": "4-0-0", "orderId": "7", "vol": 2, "dealVol": 2, "dealAvgPrice": 60000.5,
        "state": 3, "side": 1, "takerFee": 0.01}}).encode()
    seeds = [msgs((0, 1, order_push("3-0-0", 2, "0.5", "30000.25"))),
             msgs((0, 1, deal_push("3-0-0", "77", "60000.5", "0.5")), (0, 1, order_push("3-0-0", 2, "0.5", "30000.25"))),
             msgs((0, 0, account))]
    seeds += [msgs((1, 0, l)) for l in lines("mexc/spot_ws_control.jsonl")]
    seeds += [msgs((2, 1, l)) for l in lines("mexc/futures_ws_control.jsonl")]
    seeds.append(msgs((2, 1, b'{"channel":"rs.login","data":"success"}'), (2, 1, f_push), (2, 1, f_order)))
    seeds.append(msgs((M_S_CREATE, 2 << 2, new), (M_S_QUERY, 2 << 2, query), (M_S_CANCEL_ALL, 0, cancel)))
    seeds += [msgs((M_S_CREATE, 2 << 4, e)) for e in lines("mexc/spot_rest_errors.jsonl")]
    seeds.append(msgs((M_S_ACCOUNT, 0, b'{"balances":[{"asset":"USDT","free":"10.5","locked":"0"}]}')))
    seeds += [msgs((M_F_CREATE, 3 << 2, l)) for l in lines("mexc/futures_rest_order_create.jsonl") + lines("mexc/futures_rest_errors.jsonl")]
    seeds.append(msgs((M_F_QUERY, 3 << 2, b'{"success":true,"code":0,"data":{"symbol":"BTC_USDT","externalOid":"4-0-0","orderId":"7","vol":2,"dealVol":1,"dealAvgPrice":60000,"state":2,"side":1}}')))
    seeds.append(msgs((M_F_ASSETS, 0, b'{"success":true,"code":0,"data":[{"currency":"USDT","cashBalance":1000.5,"availableBalance":900}]}'),
                      (M_F_POSITIONS, 0, b'{"success":true,"code":0,"data":[{"symbol":"BTC_USDT","holdVol":3,"positionType":2,"state":1}]}')))
    return seeds


def capture_seeds():
    all_lines = lines("gateio/corpus-2021/capture.jsonl")
    chunks = [b"\n".join(all_lines[i:i + 4]) + b"\n" for i in range(0, len(all_lines), 25)]
    return [b"\x00" + c for c in chunks] + [b"\x01" + gzip.compress(c, mtime=0) for c in chunks[:3]]


def http_seeds():
    bodies = [lines("gateio/spot_rest_order_book.jsonl")[0], lines("gateio/rest_errors.jsonl")[0]]
    out = []
    for i, b in enumerate(bodies):
        out.append(b"\x00HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Gate-RateLimit-Limit: 10\r\n\r\n%s" % (len(b), b))
        out.append(b"\x05HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x;ext=1\r\n%s\r\n0\r\nX-T: 1\r\n\r\n" % (len(b), b))
    out.append(b"\x03HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    out.append(b"\x81HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n")
    out.append(b"\x07HTTP/1.0 200 OK\r\n\r\nuntil eof")
    return out


def tls_seeds():
    # tls_records' first byte: bit 0 TLS 1.2, bit 1 ChaCha20, bit 2 sealed messages, bits 3-7 the step.
    def msgs(*ms):
        return b"".join(bytes([k, 0]) + len(p).to_bytes(2, "little") + p for k, p in ms)
    ticket = bytes([4, 0, 0, 6]) + b"ticket"
    flow = msgs((22, ticket[:3]), (22, ticket[3:]), (23, b'{"channel":"spot.book_ticker"}'), (21, bytes([1, 0])))
    out = []
    for how in (0x04, 0x06, 0x05, 0x07, 0x0C, 0x3C):
        out.append(bytes([how]) + flow)
    out.append(bytes([0x04]) + msgs((22, bytes([24, 0, 0, 1, 1]))))
    out.append(bytes([0x05]) + msgs((22, bytes([0, 0, 0, 0])), (21, bytes([1, 90])), (23, b"x" * 300)))
    out.append(bytes([0x00]) + bytes([23, 3, 3, 0, 20]) + b"\x00" * 20)
    return out


def meta_seeds():
    # venue_meta's first byte picks the market: 0 Gate spot, 1 Gate futures, 2 MEXC spot, 3 MEXC futures.
    out = [b"\x00" + l for l in lines("gateio/spot_rest_currency_pair.jsonl")]
    out += [b"\x01" + l for l in lines("gateio/futures_rest_contracts_item.jsonl")]
    out += [b"\x02" + l for l in lines("mexc/spot_rest_exchange_info.jsonl")]
    out += [b"\x03" + l for l in lines("mexc/futures_rest_contract_detail.jsonl") + lines("mexc/futures_rest_contract_detail_items.jsonl")]
    return [s for s in out if len(s) < 60000]


def main():
    counts = {}
    counts["decimal"] = write("decimal", [b"\x08" + t for t in (b"60000.25", b"0.00000001", b"-1.5e3", b"123456789012345678901", b"1.")])
    gate_md = [l for p in glob_data("gateio/*_ws_*.jsonl") if not p.endswith("docs.jsonl") for l in lines(os.path.relpath(p, DATA))]
    gate_md += lines("gateio/spot_rest_order_book.jsonl") + lines("gateio/futures_rest_order_book.jsonl")
    counts["gate_md"] = write("gate_md", gate_md)
    mexc_spot = [l for p in glob_data("mexc/spot_ws_*.hex") for l in hex_lines(os.path.relpath(p, DATA))]
    counts["mexc_spot_md"] = write("mexc_spot_md", mexc_spot + lines("mexc/spot_ws_control.jsonl") + lines("mexc/spot_rest_depth.jsonl"))
    mexc_fut = [l for p in glob_data("mexc/futures_ws_*.jsonl") if not p.endswith("docs.jsonl") for l in lines(os.path.relpath(p, DATA))]
    counts["mexc_futures_md"] = write("mexc_futures_md", mexc_fut + lines("mexc/futures_rest_depth.jsonl"))
    counts["gate_private"] = write("gate_private", gate_private())
    counts["mexc_private"] = write("mexc_private", mexc_private())
    counts["venue_meta"] = write("venue_meta", meta_seeds())
    counts["http_response"] = write("http_response", http_seeds())
    counts["tls_records"] = write("tls_records", tls_seeds())
    journals = sorted(glob.glob(os.path.join(ROOT, "fuzz", "seeds", "journal", "*")))
    counts["journal"] = write("journal", [open(p, "rb").read() for p in journals])
    counts["capture"] = write("capture", capture_seeds())
    counts["proto"] = write("proto", mexc_spot[:20])
    configs = sorted(glob.glob(os.path.join(ROOT, "config", "*.toml")))
    counts["config"] = write("config", [open(p, "rb").read() for p in configs])
    ctl = [b"status\n", b"pause gateio:spot:BTC_USDT\n", b"resume BTC/USDT\n", b"approve 17\n", b"kill", b"add-symbol mexc:futures:ETH_USDT\n"]
    counts["ctl_request"] = write("ctl_request", [b"\x01" + c for c in ctl])
    for t, n in counts.items():
        print(f"seeded {t}: {n}", file=sys.stderr)


if __name__ == "__main__":
    main()

//! MEXC: spot v3 (protobuf WebSocket) and USDT perpetual futures (contract API).

//! MEXC private streams: the spot listen-key stream (protobuf) and the futures stream
//! (JSON, login per session), and the readers of the account state they and the REST
//! answers carry.

pub mod futures;
pub mod spot;

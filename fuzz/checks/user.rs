//! What an operator types: the configuration file and the control socket's request line.

use arb::config::Config;
use arb::ctl;

/// TOML text into the engine's configuration (parsing and the checks at load).
pub fn config(data: &[u8]) -> String {
    let Ok(text) = std::str::from_utf8(data) else { return "refused: not UTF-8".into() };
    match Config::parse(text, "fuzz.toml") {
        Ok(_) => "accepted".into(),
        Err(e) => {
            let message = format!("{e:#}");
            assert!(message.starts_with("fuzz.toml"), "an error that does not name the file: {message}");
            "refused".into()
        }
    }
}

/// What a control-socket client sent so far (the first byte: whether it has finished
/// sending), read as a request against the fuzz instrument table.
pub fn ctl_request(data: &[u8]) -> String {
    let [eof, received @ ..] = data else { return "refused: empty".into() };
    let t = super::table();
    match ctl::read_request(received, eof % 2 == 1, &t) {
        None => "incomplete".into(),
        Some(Ok(request)) => {
            for id in request.instruments() {
                assert!(id.index() < t.len(), "{request:?}");
            }
            format!("accepted: {request:?}")
        }
        Some(Err(e)) => format!("refused: {e:#}"),
    }
}

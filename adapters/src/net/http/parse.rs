//! Incremental HTTP/1.1 response parsing over a connection's receive buffer: the head with
//! httparse, then the body by `Content-Length`, by chunked transfer coding, or until the
//! server closes. Content-length bodies are never copied (they are a slice of the receive
//! buffer); chunked bodies are copied once, into the connection's body buffer.
//!
//! Every byte of a response (head, framing, body) counts against the response-size limit;
//! a `Content-Length` over the limit fails as soon as the head is parsed.

use std::time::Duration;

/// Most headers a response may have.
const MAX_HEADERS: usize = 64;

/// Offsets of one header's name and value in the receive buffer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HeaderSpan {
    name: (usize, usize),
    value: (usize, usize),
}

impl HeaderSpan {
    pub(crate) fn name<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.name.0..self.name.1]
    }
    pub(crate) fn value<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.value.0..self.value.1]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(usize),
    Chunked(Chunk),
    UntilEof,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
}

/// Why a response could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("response over the {limit}-byte limit")]
    TooLarge { limit: usize },
    #[error("malformed response: {0}")]
    Malformed(&'static str),
}

/// The parsed head of a response.
#[derive(Debug, Default)]
pub(crate) struct Head {
    pub(crate) status: u16,
    pub(crate) head_len: usize,
    pub(crate) headers: Vec<HeaderSpan>,
    /// The connection may carry another request after this response.
    pub(crate) keep_alive: bool,
    pub(crate) retry_after: Option<Duration>,
}

/// Parses one response at a time; reset between requests (keeps its allocations).
#[derive(Debug)]
pub(crate) struct ResponseParser {
    limit: usize,
    head_request: bool,
    head: Option<Head>,
    spare: Head,
    framing: Framing,
    /// Bytes of the receive buffer consumed by the chunked decoder.
    pos: usize,
}

/// Where parsing stands after new bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    NeedMore,
    Done,
}

impl ResponseParser {
    pub(crate) fn new(limit: usize) -> Self {
        ResponseParser {
            limit,
            head_request: false,
            head: None,
            spare: Head::default(),
            framing: Framing::Empty,
            pos: 0,
        }
    }

    /// Prepares for the response to a new request.
    pub(crate) fn reset(&mut self, head_request: bool) {
        if let Some(head) = self.head.take() {
            self.spare = head;
        }
        self.head_request = head_request;
        self.framing = Framing::Empty;
        self.pos = 0;
    }

    pub(crate) fn head(&self) -> Option<&Head> {
        self.head.as_ref()
    }

    /// True once any byte of a response arrived.
    pub(crate) fn started(&self, buf: &[u8]) -> bool {
        self.head.is_some() || !buf.is_empty()
    }

    /// Parses what `buf` holds; chunked body data is appended to `body`.
    pub(crate) fn advance(&mut self, buf: &mut Vec<u8>, body: &mut Vec<u8>) -> Result<Progress, ParseError> {
        // The limit counts every byte of the response: head, framing and body.
        if buf.len() > self.limit {
            return Err(ParseError::TooLarge { limit: self.limit });
        }
        if self.head.is_none() && !self.parse_head(buf)? {
            return Ok(Progress::NeedMore);
        }
        let head_len = self.head.as_ref().map_or(0, |h| h.head_len);
        match self.framing {
            Framing::Empty => Ok(Progress::Done),
            Framing::Length(n) => {
                Ok(if buf.len() >= head_len + n { Progress::Done } else { Progress::NeedMore })
            }
            Framing::UntilEof => Ok(Progress::NeedMore),
            Framing::Chunked(_) => self.advance_chunked(buf, body),
        }
    }

    /// The server closed the connection: fine for a close-delimited body.
    pub(crate) fn at_eof(&self) -> bool {
        self.head.is_some() && self.framing == Framing::UntilEof
    }

    /// The body of a complete response.
    pub(crate) fn body<'a>(&self, buf: &'a [u8], decoded: &'a [u8]) -> &'a [u8] {
        let head_len = self.head.as_ref().map_or(0, |h| h.head_len);
        match self.framing {
            Framing::Empty => &[],
            Framing::Length(n) => &buf[head_len..head_len + n],
            Framing::UntilEof => &buf[head_len..],
            Framing::Chunked(_) => decoded,
        }
    }

    /// Bytes after the end of the response (a server that sent more than one).
    pub(crate) fn has_trailing_bytes(&self, buf: &[u8]) -> bool {
        let head_len = self.head.as_ref().map_or(0, |h| h.head_len);
        match self.framing {
            Framing::Empty => buf.len() > head_len,
            Framing::Length(n) => buf.len() > head_len + n,
            Framing::UntilEof => false,
            Framing::Chunked(_) => buf.len() > self.pos,
        }
    }

    fn parse_head(&mut self, buf: &mut Vec<u8>) -> Result<bool, ParseError> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut response = httparse::Response::new(&mut headers);
            let head_len = match response.parse(buf) {
                Ok(httparse::Status::Complete(n)) => n,
                Ok(httparse::Status::Partial) => return Ok(false),
                Err(httparse::Error::TooManyHeaders) => {
                    return Err(ParseError::Malformed("too many headers"));
                }
                Err(_) => return Err(ParseError::Malformed("bad status line or header")),
            };
            let status = response.code.unwrap_or(0);
            if (100..200).contains(&status) {
                // An interim response (100 Continue, 103 Early Hints): the real one follows.
                buf.drain(..head_len);
                continue;
            }
            let mut head = std::mem::take(&mut self.spare);
            head.status = status;
            head.head_len = head_len;
            head.headers.clear();
            head.retry_after = None;
            let base = buf.as_ptr() as usize;
            let mut content_length = None;
            let mut chunked = false;
            let mut close = response.version != Some(1);
            for h in response.headers.iter() {
                let name = h.name.as_ptr() as usize - base;
                let value = h.value.as_ptr() as usize - base;
                head.headers.push(HeaderSpan {
                    name: (name, name + h.name.len()),
                    value: (value, value + h.value.len()),
                });
                let text = std::str::from_utf8(h.value).unwrap_or("").trim();
                if h.name.eq_ignore_ascii_case("content-length") {
                    let n: usize = text.parse().map_err(|_| ParseError::Malformed("bad Content-Length"))?;
                    if content_length.is_some_and(|m| m != n) {
                        return Err(ParseError::Malformed("conflicting Content-Length"));
                    }
                    content_length = Some(n);
                } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                    chunked |=
                        text.rsplit(',').next().is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked"));
                } else if h.name.eq_ignore_ascii_case("connection") {
                    let has = |token: &str| text.split(',').any(|t| t.trim().eq_ignore_ascii_case(token));
                    if has("close") {
                        close = true;
                    } else if has("keep-alive") {
                        close = false;
                    }
                } else if h.name.eq_ignore_ascii_case("retry-after") {
                    // Delta-seconds only; an HTTP-date leaves it unset.
                    head.retry_after = text.parse::<u64>().ok().map(Duration::from_secs);
                }
            }
            self.framing = if self.head_request || status == 204 || status == 304 {
                Framing::Empty
            } else if chunked {
                self.pos = head_len;
                Framing::Chunked(Chunk::Size)
            } else if let Some(n) = content_length {
                if head_len.saturating_add(n) > self.limit {
                    return Err(ParseError::TooLarge { limit: self.limit });
                }
                Framing::Length(n)
            } else {
                close = true;
                Framing::UntilEof
            };
            head.keep_alive = !close;
            self.head = Some(head);
            return Ok(true);
        }
    }

    fn advance_chunked(&mut self, buf: &[u8], body: &mut Vec<u8>) -> Result<Progress, ParseError> {
        let Framing::Chunked(mut state) = self.framing else { return Ok(Progress::Done) };
        let result = loop {
            let rest = &buf[self.pos..];
            match state {
                Chunk::Size => match httparse::parse_chunk_size(rest) {
                    Ok(httparse::Status::Complete((used, 0))) => {
                        self.pos += used;
                        state = Chunk::Trailers;
                    }
                    Ok(httparse::Status::Complete((used, size))) => {
                        if (body.len() as u64).saturating_add(size) > self.limit as u64 {
                            break Err(ParseError::TooLarge { limit: self.limit });
                        }
                        self.pos += used;
                        state = Chunk::Data(size);
                    }
                    Ok(httparse::Status::Partial) => break Ok(Progress::NeedMore),
                    Err(_) => break Err(ParseError::Malformed("bad chunk size")),
                },
                Chunk::Data(left) => {
                    if rest.is_empty() {
                        break Ok(Progress::NeedMore);
                    }
                    let take = rest.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    body.extend_from_slice(&rest[..take]);
                    self.pos += take;
                    let left = left - take as u64;
                    state = if left == 0 { Chunk::DataEnd } else { Chunk::Data(left) };
                }
                Chunk::DataEnd => {
                    if rest.len() < 2 {
                        break Ok(Progress::NeedMore);
                    }
                    if &rest[..2] != b"\r\n" {
                        break Err(ParseError::Malformed("chunk not followed by CRLF"));
                    }
                    self.pos += 2;
                    state = Chunk::Size;
                }
                Chunk::Trailers => match rest.windows(2).position(|w| w == b"\r\n") {
                    Some(0) => {
                        self.pos += 2;
                        self.framing = Framing::Chunked(state);
                        return Ok(Progress::Done);
                    }
                    Some(line) => self.pos += line + 2,
                    None => break Ok(Progress::NeedMore),
                },
            }
        };
        self.framing = Framing::Chunked(state);
        result
    }
}

/// A response read by [`parse_response`].
#[cfg(feature = "fuzzing")]
#[derive(Debug)]
pub struct ParsedResponse {
    pub status: u16,
    pub body: Vec<u8>,
    pub keep_alive: bool,
    pub retry_after: Option<Duration>,
}

/// For fuzzing and tests (feature `fuzzing`): reads `wire` as the response to one request
/// (to a `HEAD` with `head_request`) the way a connection does, `step` bytes per read,
/// then the end of the stream. `Ok(None)`: the bytes end before the response does.
#[cfg(feature = "fuzzing")]
pub fn parse_response(
    wire: &[u8],
    step: usize,
    limit: usize,
    head_request: bool,
) -> Result<Option<ParsedResponse>, ParseError> {
    let mut parser = ResponseParser::new(limit);
    parser.reset(head_request);
    let (mut buf, mut body) = (Vec::new(), Vec::new());
    let read = |p: &ResponseParser, buf: &[u8], body: &[u8]| {
        let head = p.head();
        ParsedResponse {
            status: head.map_or(0, |h| h.status),
            body: p.body(buf, body).to_vec(),
            keep_alive: head.is_some_and(|h| h.keep_alive),
            retry_after: head.and_then(|h| h.retry_after),
        }
    };
    for piece in wire.chunks(step.max(1)) {
        buf.extend_from_slice(piece);
        if parser.advance(&mut buf, &mut body)? == Progress::Done {
            return Ok(Some(read(&parser, &buf, &body)));
        }
    }
    Ok(parser.at_eof().then(|| read(&parser, &buf, &body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(
        parser: &mut ResponseParser,
        wire: &[u8],
        step: usize,
    ) -> Result<(u16, Vec<u8>), ParseError> {
        let mut buf = Vec::new();
        let mut body = Vec::new();
        for piece in wire.chunks(step) {
            buf.extend_from_slice(piece);
            if parser.advance(&mut buf, &mut body)? == Progress::Done {
                let status = parser.head().map_or(0, |h| h.status);
                return Ok((status, parser.body(&buf, &body).to_vec()));
            }
        }
        if parser.at_eof() {
            return Ok((parser.head().map_or(0, |h| h.status), parser.body(&buf, &body).to_vec()));
        }
        Err(ParseError::Malformed("incomplete"))
    }

    #[test]
    fn content_length_in_any_split() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Gate-RateLimit-Limit: 10\r\n\r\nhello";
        for step in 1..wire.len() {
            let mut p = ResponseParser::new(1 << 20);
            assert_eq!(parse_all(&mut p, wire, step).unwrap(), (200, b"hello".to_vec()));
            assert!(p.head().unwrap().keep_alive);
        }
    }

    #[test]
    fn chunked_with_extensions_and_trailers_in_any_split() {
        let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                     5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n";
        for step in 1..wire.len() {
            let mut p = ResponseParser::new(1 << 20);
            assert_eq!(parse_all(&mut p, wire, step).unwrap(), (200, b"hello world".to_vec()), "step {step}");
        }
    }

    #[test]
    fn interim_responses_are_skipped() {
        let wire = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
        let mut p = ResponseParser::new(1 << 20);
        assert_eq!(parse_all(&mut p, wire, wire.len()).unwrap(), (201, b"ok".to_vec()));
    }

    #[test]
    fn close_delimited_and_bodiless() {
        let mut p = ResponseParser::new(1 << 20);
        assert_eq!(
            parse_all(&mut p, b"HTTP/1.1 200 OK\r\n\r\nuntil eof", 4).unwrap(),
            (200, b"until eof".to_vec())
        );
        assert!(!p.head().unwrap().keep_alive);
        let mut p = ResponseParser::new(1 << 20);
        assert_eq!(parse_all(&mut p, b"HTTP/1.1 204 No Content\r\n\r\n", 100).unwrap(), (204, vec![]));
        let mut p = ResponseParser::new(1 << 20);
        p.reset(true);
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n";
        assert_eq!(parse_all(&mut p, wire, 100).unwrap(), (200, vec![]));
    }

    #[test]
    fn retry_after_and_connection_close() {
        let mut p = ResponseParser::new(1 << 20);
        let wire = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(parse_all(&mut p, wire, 7).unwrap().0, 429);
        let head = p.head().unwrap();
        assert_eq!(head.retry_after, Some(Duration::from_secs(3)));
        assert!(!head.keep_alive);
    }

    #[test]
    fn limits_and_malformed_input() {
        let mut p = ResponseParser::new(100);
        let err = parse_all(&mut p, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 5);
        assert_eq!(err, Err(ParseError::TooLarge { limit: 100 }));
        let mut p = ResponseParser::new(100);
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nff\r\n";
        assert_eq!(parse_all(&mut p, chunked, 5), Err(ParseError::TooLarge { limit: 100 }));
        let mut p = ResponseParser::new(100);
        let endless = [b"HTTP/1.1 200 OK\r\n\r\n".as_slice(), &[b'x'; 200]].concat();
        assert_eq!(parse_all(&mut p, &endless, 10), Err(ParseError::TooLarge { limit: 100 }));
        for garbage in [
            b"\x16\x03\x01\x02\x00garbage\r\n\r\n".as_slice(),
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
        ] {
            let mut p = ResponseParser::new(1 << 20);
            assert!(matches!(parse_all(&mut p, garbage, 64), Err(ParseError::Malformed(_))), "{garbage:?}");
        }
    }
}

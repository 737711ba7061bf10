//! HTTP/1 on the wire, for tests: a recording test server that answers a
//! script, and a raw client that sends bytes as written and parses what
//! comes back. Both parse leniently on purpose: they must report what the
//! proxy sent, not judge it, so a bare LF, an odd header or a missing
//! length is recorded as seen rather than refused.
//!
//! Every wait has a deadline ([`DEADLINE`]); the only sleeps are the ones a
//! script asks for (a client pausing between two pieces, a server
//! answering late), which are the behaviour under test, not a wait for an
//! event.
// The recorder's script is shared by the connection threads behind a lock:
// test code, not the data path the lint guards.
#![allow(clippy::disallowed_types)]

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::DEADLINE;

// ---------------------------------------------------------------------------
// Reading with a deadline.
// ---------------------------------------------------------------------------

/// A connection read through a buffer, each read bounded by one deadline.
struct Wire {
    s: TcpStream,
    buf: Vec<u8>,
    end: Instant,
    /// The peer's FIN (or a reset) was seen.
    eof: bool,
    timed_out: bool,
}

impl Wire {
    fn new(s: TcpStream, end: Instant) -> Wire {
        Wire {
            s,
            buf: Vec::new(),
            end,
            eof: false,
            timed_out: false,
        }
    }

    /// Read once more into the buffer; false at EOF, a reset or the deadline.
    fn fill(&mut self) -> bool {
        if self.eof || self.timed_out {
            return false;
        }
        let mut chunk = [0u8; 16384];
        loop {
            let left = self.end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.timed_out = true;
                return false;
            }
            self.s.set_read_timeout(Some(left)).unwrap();
            match self.s.read(&mut chunk) {
                Ok(0) => {
                    self.eof = true;
                    return false;
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return true;
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    self.eof = true;
                    return false;
                }
            }
        }
    }

    /// A line ending in LF (CRLF or bare LF), without its end; None when
    /// the connection ends first.
    fn line(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let mut l: Vec<u8> = self.buf.drain(..=i).collect();
                l.pop();
                if l.last() == Some(&b'\r') {
                    l.pop();
                }
                return Some(l);
            }
            if !self.fill() {
                return None;
            }
        }
    }

    /// Exactly `n` bytes; what there was when the connection ended first.
    fn take(&mut self, n: usize) -> Result<Vec<u8>, Vec<u8>> {
        while self.buf.len() < n {
            if !self.fill() {
                return Err(std::mem::take(&mut self.buf));
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// Everything until the peer closes (or the deadline).
    fn rest(&mut self) -> Vec<u8> {
        while self.fill() {}
        std::mem::take(&mut self.buf)
    }

    /// A head: its lines up to the empty one (empty lines before the
    /// first are skipped, RFC 9112 section 2.2), and its raw bytes. None
    /// when the connection ends first; what had come stays buffered.
    fn head(&mut self) -> Option<(Vec<Vec<u8>>, Vec<u8>)> {
        loop {
            let mut lines = Vec::new();
            let mut start = 0;
            let mut end = None;
            while let Some(off) = self.buf[start..].iter().position(|&b| b == b'\n') {
                let mut l = &self.buf[start..start + off];
                if l.last() == Some(&b'\r') {
                    l = &l[..l.len() - 1];
                }
                start += off + 1;
                if !l.is_empty() {
                    lines.push(l.to_vec());
                } else if !lines.is_empty() {
                    end = Some(start);
                    break;
                }
            }
            if let Some(end) = end {
                let raw = self.buf.drain(..end).collect();
                return Some((lines, raw));
            }
            if !self.fill() {
                return None;
            }
        }
    }
}

/// Header fields from head lines: name as written, value without the
/// optional white space around it. A line without a colon keeps it all as
/// the name (with an empty value) so it still shows up.
fn fields(lines: &[Vec<u8>]) -> Vec<(String, String)> {
    lines
        .iter()
        .map(|l| {
            let l = String::from_utf8_lossy(l);
            match l.split_once(':') {
                Some((n, v)) => (n.to_owned(), v.trim_matches([' ', '\t']).to_owned()),
                None => (l.into_owned(), String::new()),
            }
        })
        .collect()
}

/// The last value of `name` (case-insensitive).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .rev()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn is_chunked(headers: &[(String, String)]) -> bool {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"))
        .flat_map(|(_, v)| v.split(','))
        .last()
        .is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked"))
}

fn content_length(headers: &[(String, String)]) -> Option<usize> {
    header(headers, "content-length").and_then(|v| v.trim().parse().ok())
}

/// A body as the framing says, decoded, with its raw bytes and trailers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Body {
    pub data: Vec<u8>,
    pub raw: Vec<u8>,
    pub trailers: Vec<(String, String)>,
    /// Chunk extensions as seen (`;name=value` after each size).
    pub extensions: Vec<String>,
    /// The connection ended (or the deadline passed) before the body did.
    pub truncated: bool,
}

/// A chunked body; the caller has read the head.
fn chunked(w: &mut Wire) -> Body {
    let mut b = Body::default();
    loop {
        let Some(size_line) = w.line() else {
            b.truncated = true;
            return b;
        };
        b.raw.extend_from_slice(&size_line);
        b.raw.extend_from_slice(b"\r\n");
        let text = String::from_utf8_lossy(&size_line).into_owned();
        let (size, ext) = match text.split_once(';') {
            Some((s, e)) => (s.to_owned(), Some(e.to_owned())),
            None => (text.clone(), None),
        };
        if let Some(e) = ext {
            b.extensions.push(e);
        }
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            b.truncated = true;
            return b;
        };
        if n == 0 {
            break;
        }
        match w.take(n + 2) {
            Ok(d) => {
                b.data.extend_from_slice(&d[..n]);
                b.raw.extend_from_slice(&d);
            }
            Err(d) => {
                b.raw.extend_from_slice(&d);
                b.truncated = true;
                return b;
            }
        }
    }
    loop {
        let Some(l) = w.line() else {
            b.truncated = true;
            return b;
        };
        b.raw.extend_from_slice(&l);
        b.raw.extend_from_slice(b"\r\n");
        if l.is_empty() {
            return b;
        }
        b.trailers.extend(fields(&[l]));
    }
}

fn sized(w: &mut Wire, n: usize) -> Body {
    match w.take(n) {
        Ok(d) => Body {
            raw: d.clone(),
            data: d,
            ..Body::default()
        },
        Err(d) => Body {
            raw: d.clone(),
            data: d,
            truncated: true,
            ..Body::default()
        },
    }
}

// ---------------------------------------------------------------------------
// The test server.
// ---------------------------------------------------------------------------

/// One request as the server received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenRequest {
    /// Which accepted connection (0, 1, ... in accept order).
    pub conn: usize,
    /// The request line as written.
    pub line: String,
    /// Header fields in order, names as written.
    pub headers: Vec<(String, String)>,
    pub body: Body,
    /// The head's bytes as received (line ends kept).
    pub raw_head: Vec<u8>,
}

impl SeenRequest {
    pub fn method(&self) -> &str {
        self.line.split(' ').next().unwrap_or("")
    }
}

/// What happened on the server side, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerEvent {
    Accepted(usize),
    /// A request head arrived (its body may follow): connection, line.
    Head(usize, String),
    Request(SeenRequest),
    /// Bytes that did not make a head before the connection ended.
    Leftover(usize, Vec<u8>),
    Closed(usize),
}

/// How the body of a scripted answer is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length`.
    Length,
    /// `Transfer-Encoding: chunked`, the body in two chunks.
    Chunked,
    /// No length: the body ends when the server closes.
    UntilClose,
    /// No framing header and no body (1xx, 204, 304 answers).
    None,
}

/// A well-formed answer of the script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scripted {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub framing: Framing,
    /// Send `Connection: close` and close after the answer.
    pub close: bool,
    /// Send `100 Continue` before reading the body when the request
    /// carries `Expect: 100-continue`.
    pub continue_first: bool,
}

/// What the server does with one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Reply(Scripted),
    /// Close the connection without a byte.
    Close,
    /// Write these bytes as they are (a garbage or malformed response),
    /// then close.
    Raw(Vec<u8>),
}

/// A scripted answer, possibly late.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub answer: Answer,
    /// Wait this long after the request before answering.
    pub delay: Duration,
}

impl Reply {
    pub fn status(status: u16, reason: &str, body: &[u8]) -> Reply {
        let framing = if matches!(status, 100..=199 | 204 | 304) {
            Framing::None
        } else {
            Framing::Length
        };
        Reply {
            answer: Answer::Reply(Scripted {
                status,
                reason: reason.to_owned(),
                headers: Vec::new(),
                body: body.to_vec(),
                framing,
                close: false,
                continue_first: false,
            }),
            delay: Duration::ZERO,
        }
    }

    pub fn ok(body: &[u8]) -> Reply {
        Reply::status(200, "OK", body)
    }

    pub fn close_silently() -> Reply {
        Reply {
            answer: Answer::Close,
            delay: Duration::ZERO,
        }
    }

    pub fn raw(bytes: &[u8]) -> Reply {
        Reply {
            answer: Answer::Raw(bytes.to_vec()),
            delay: Duration::ZERO,
        }
    }

    /// Change a well-formed answer (a no-op on the others).
    fn with(mut self, f: impl FnOnce(&mut Scripted)) -> Reply {
        if let Answer::Reply(r) = &mut self.answer {
            f(r);
        }
        self
    }

    pub fn header(self, name: &str, value: &str) -> Reply {
        self.with(|r| r.headers.push((name.to_owned(), value.to_owned())))
    }

    pub fn chunked(self) -> Reply {
        self.with(|r| r.framing = Framing::Chunked)
    }

    /// No length: the body ends with the connection.
    pub fn until_close(self) -> Reply {
        self.with(|r| {
            r.framing = Framing::UntilClose;
            r.close = true;
        })
    }

    pub fn close(self) -> Reply {
        self.with(|r| r.close = true)
    }

    pub fn continue_first(self) -> Reply {
        self.with(|r| r.continue_first = true)
    }

    pub fn delayed(mut self, d: Duration) -> Reply {
        self.delay = d;
        self
    }

    /// The bytes of a `Reply` answer, for a request of `method`.
    fn render(&self, method: &str) -> Vec<u8> {
        let Answer::Reply(Scripted {
            status,
            reason,
            headers,
            body,
            framing,
            close,
            ..
        }) = &self.answer
        else {
            return Vec::new();
        };
        let mut out = format!("HTTP/1.1 {status} {reason}\r\n").into_bytes();
        for (n, v) in headers {
            out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
        }
        match framing {
            Framing::Length => {
                out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
            }
            Framing::Chunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
            Framing::UntilClose | Framing::None => {}
        }
        if *close {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if method == "HEAD" || *framing == Framing::None {
            return out;
        }
        match framing {
            Framing::Chunked => {
                let (a, b) = body.split_at(body.len() / 2);
                for part in [a, b] {
                    if !part.is_empty() {
                        out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
                        out.extend_from_slice(part);
                        out.extend_from_slice(b"\r\n");
                    }
                }
                out.extend_from_slice(b"0\r\n\r\n");
            }
            _ => out.extend_from_slice(body),
        }
        out
    }
}

/// An HTTP/1 server on 127.0.0.1:0 answering requests with a script (in
/// the order they arrive, over all its connections; a plain `200` with
/// body `default` once the script is spent) and recording what it saw.
pub struct HttpServer {
    pub addr: SocketAddr,
    pub events: mpsc::Receiver<ServerEvent>,
    stop: Arc<AtomicBool>,
}

impl Drop for HttpServer {
    /// The accept loop's way out: the flag, then a connection that wakes
    /// its `accept` to see it; the listener closes with the loop.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, DEADLINE);
    }
}

impl HttpServer {
    pub fn start(script: Vec<Reply>) -> HttpServer {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let (tx, events) = mpsc::channel();
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        thread::spawn(move || {
            for (id, (s, _)) in super::accepted(&l).enumerate() {
                if stopped.load(Ordering::SeqCst) || tx.send(ServerEvent::Accepted(id)).is_err() {
                    break;
                }
                let tx = tx.clone();
                let script = Arc::clone(&script);
                thread::spawn(move || serve(id, s, &script, &tx));
            }
        });
        HttpServer { addr, events, stop }
    }

    /// The next event, within [`DEADLINE`] (None after it).
    pub fn next_event(&self) -> Option<ServerEvent> {
        self.events.recv_timeout(DEADLINE).ok()
    }

    /// `seen` (events the caller already took) and every further event
    /// until each accepted connection has closed, within [`DEADLINE`]:
    /// call it once the proxy is gone (its connections end, so the record
    /// is complete). Panics on the deadline.
    pub fn events_until_all_closed(&self, seen: Vec<ServerEvent>) -> Vec<ServerEvent> {
        let end = Instant::now() + DEADLINE;
        let open = |got: &[ServerEvent]| {
            let count = |f: fn(&ServerEvent) -> bool| got.iter().filter(|e| f(e)).count();
            count(|e| matches!(e, ServerEvent::Accepted(_)))
                > count(|e| matches!(e, ServerEvent::Closed(_)))
        };
        let mut got = seen;
        got.extend(self.events.try_iter());
        while open(&got) {
            let left = end.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(e) => got.push(e),
                Err(_) => panic!("server connections still open after {DEADLINE:?}: {got:?}"),
            }
        }
        got
    }
}

fn serve(id: usize, s: TcpStream, script: &Mutex<VecDeque<Reply>>, tx: &mpsc::Sender<ServerEvent>) {
    s.set_write_timeout(Some(DEADLINE)).unwrap();
    let mut w = Wire::new(s, Instant::now() + DEADLINE * 3);
    loop {
        let Some((lines, raw_head)) = w.head() else {
            let left = std::mem::take(&mut w.buf);
            if !left.is_empty() {
                let _ = tx.send(ServerEvent::Leftover(id, left));
            }
            break;
        };
        let (line, rest) = match lines.split_first() {
            Some((l, r)) => (String::from_utf8_lossy(l).into_owned(), r),
            None => (String::new(), &lines[..]),
        };
        let headers = fields(rest);
        let _ = tx.send(ServerEvent::Head(id, line.clone()));
        let reply = script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| Reply::ok(b"default"));
        let expects =
            header(&headers, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
        if matches!(&reply.answer, Answer::Reply(r) if r.continue_first) && expects {
            let _ = w.s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        let body = if is_chunked(&headers) {
            chunked(&mut w)
        } else {
            match content_length(&headers) {
                Some(n) => sized(&mut w, n),
                None => Body::default(),
            }
        };
        let method = line.split(' ').next().unwrap_or("").to_owned();
        let _ = tx.send(ServerEvent::Request(SeenRequest {
            conn: id,
            line,
            headers,
            body,
            raw_head,
        }));
        if !reply.delay.is_zero() {
            // The scripted late answer itself, not a wait for an event.
            thread::sleep(reply.delay);
        }
        match &reply.answer {
            Answer::Close => break,
            Answer::Raw(b) => {
                let _ = w.s.write_all(b);
                break;
            }
            Answer::Reply(r) => {
                if w.s.write_all(&reply.render(&method)).is_err() || r.close {
                    break;
                }
            }
        }
    }
    let _ = w.s.shutdown(Shutdown::Write);
    // Drain what the proxy still sends, so the close is a FIN, not a reset
    // that could destroy the answer in flight.
    w.end = Instant::now() + DEADLINE;
    let left = w.rest();
    if !left.is_empty() {
        let _ = tx.send(ServerEvent::Leftover(id, left));
    }
    let _ = tx.send(ServerEvent::Closed(id));
}

// ---------------------------------------------------------------------------
// The raw client.
// ---------------------------------------------------------------------------

/// One step of a scripted client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Send(Vec<u8>),
    /// A pause between two pieces (the behaviour under test: a request
    /// split across reads).
    Pause(Duration),
    /// Wait (with the deadline) for an interim `1xx` answer before going on.
    Interim,
    /// Read one final answer to a request of this method before going on
    /// (keep-alive: the next request is sent after the answer).
    Await(&'static str),
    /// Half-close: the client has nothing more to send.
    Shutdown,
    /// Wait until the server has a request head (the caller's `server`
    /// hook of [`exchange`] says when).
    ServerHasHead,
}

/// One response as the client parsed it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    pub status_line: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

/// What a client saw on its connection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientSaw {
    /// Interim `1xx` answers, in order.
    pub interim: Vec<Response>,
    /// Final answers, in order.
    pub responses: Vec<Response>,
    /// Bytes after the last answer that did not parse as one.
    pub trailing: Vec<u8>,
    /// The proxy closed the connection (FIN or reset) before the deadline.
    pub closed: bool,
    pub timed_out: bool,
}

impl ClientSaw {
    pub fn statuses(&self) -> Vec<u16> {
        self.responses.iter().map(|r| r.status).collect()
    }
}

/// One answer from `w`: interim ones go to `saw.interim` (and the next is
/// read), a final one is returned; None at the end of the connection (the
/// unparsed bytes stay in the buffer).
fn response(
    w: &mut Wire,
    method: &str,
    saw: &mut ClientSaw,
    stop_at_interim: bool,
) -> Option<Response> {
    loop {
        let (lines, raw) = w.head()?;
        let Some((first, rest)) = lines.split_first() else {
            continue;
        };
        let status_line = String::from_utf8_lossy(first).into_owned();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok());
        let Some(status) = status.filter(|_| status_line.starts_with("HTTP/")) else {
            // Not a response: keep the bytes for the report.
            let mut b = raw;
            b.append(&mut w.buf);
            w.buf = b;
            return None;
        };
        let headers = fields(rest);
        let mut r = Response {
            status_line,
            status,
            headers,
            body: Body::default(),
        };
        if (100..200).contains(&status) && status != 101 {
            saw.interim.push(r);
            if stop_at_interim {
                return None;
            }
            continue;
        }
        r.body = if method == "HEAD" || matches!(status, 204 | 304) {
            Body::default()
        } else if is_chunked(&r.headers) {
            chunked(w)
        } else if let Some(n) = content_length(&r.headers) {
            sized(w, n)
        } else {
            let d = w.rest();
            Body {
                raw: d.clone(),
                data: d,
                truncated: !w.eof,
                ..Body::default()
            }
        };
        return Some(r);
    }
}

/// Run `steps` on `s`, then read one final answer per entry of `methods`
/// (the method each answer is for: `HEAD` answers have no body). With
/// `to_close`, keep reading until the proxy closes. Everything within
/// [`DEADLINE`]; `server_has_head` returns once the server has a head.
pub fn exchange(
    s: TcpStream,
    steps: &[Step],
    methods: &[&str],
    to_close: bool,
    server_has_head: &mut dyn FnMut(),
) -> ClientSaw {
    s.set_write_timeout(Some(DEADLINE)).unwrap();
    let mut w = Wire::new(s, Instant::now() + DEADLINE);
    let mut saw = ClientSaw::default();
    for step in steps {
        match step {
            // A write may fail once the proxy has answered and closed
            // (an early 400): what it answered is still read below.
            Step::Send(b) => {
                let _ = w.s.write_all(b);
            }
            Step::Pause(d) => thread::sleep(*d),
            Step::Interim => {
                let before = saw.interim.len();
                let _ = response(&mut w, "", &mut saw, true);
                if saw.interim.len() == before {
                    // No interim answer: the rest is read as finals.
                    break;
                }
            }
            Step::Await(m) => match response(&mut w, m, &mut saw, false) {
                Some(r) => saw.responses.push(r),
                None => break,
            },
            Step::Shutdown => {
                let _ = w.s.shutdown(Shutdown::Write);
            }
            Step::ServerHasHead => server_has_head(),
        }
    }
    for m in methods {
        match response(&mut w, m, &mut saw, false) {
            Some(r) => {
                saw.responses.push(r);
                if w.eof && w.buf.is_empty() {
                    break;
                }
            }
            None => break,
        }
    }
    if to_close && !w.eof && !w.timed_out {
        let rest = w.rest();
        w.buf = rest;
    }
    saw.trailing = std::mem::take(&mut w.buf);
    saw.closed = w.eof;
    saw.timed_out = w.timed_out;
    saw
}

/// Connect to `addr` with the deadline.
pub fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    TcpStream::connect_timeout(&addr, DEADLINE)
}

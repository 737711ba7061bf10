//! A recording HTTP/1 test server and a raw client, small on purpose:
//! the server reads each request (head, then a Content-Length or chunked
//! body, decoded), records it, and answers with what the scenario's
//! `answer` function returns for it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::DEADLINE;

/// A request as the server received it.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    /// Which accepted connection (0, 1, ...) it came on.
    pub conn: usize,
    pub line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the server does with a request.
pub enum Answer {
    /// Raw bytes to send, then keep reading requests.
    Send(Vec<u8>),
    /// Raw bytes, then close the connection.
    SendClose(Vec<u8>),
    /// Close without answering.
    Close,
    /// Never answer (keep the connection open).
    Hang,
    /// Take the connection over (a tunnel: echo everything after this
    /// answer until EOF).
    Echo(Vec<u8>),
}

/// A plain 200 with `body` and a Content-Length.
pub fn ok(body: &str) -> Answer {
    Answer::Send(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

pub struct Server {
    pub addr: SocketAddr,
    seen: mpsc::Receiver<Seen>,
    conns: mpsc::Receiver<usize>,
}

impl Server {
    /// A server answering each request with `answer(&request)`.
    pub fn start(answer: fn(&Seen) -> Answer) -> Server {
        Server::start_on("127.0.0.1:0", answer)
    }

    /// A server listening on `addr` (another loopback address, a port).
    pub fn start_on(addr: &str, answer: fn(&Seen) -> Answer) -> Server {
        let l = TcpListener::bind(addr).unwrap();
        let addr = l.local_addr().unwrap();
        let (tx, seen) = mpsc::channel();
        let (ctx, conns) = mpsc::channel();
        thread::spawn(move || {
            for (n, (s, _)) in crate::harness::accepted(&l).enumerate() {
                let _ = ctx.send(n);
                let tx = tx.clone();
                thread::spawn(move || serve(s, n, answer, &tx));
            }
        });
        Server { addr, seen, conns }
    }

    /// The next request the server received, within the deadline.
    pub fn next(&self) -> Seen {
        self.seen
            .recv_timeout(DEADLINE)
            .expect("the server received no request")
    }

    /// No request arrives within `d`.
    pub fn nothing_within(&self, d: Duration) -> bool {
        self.seen.recv_timeout(d).is_err()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.conns.try_iter().count()
    }
}

fn serve(s: TcpStream, n: usize, answer: fn(&Seen) -> Answer, tx: &mpsc::Sender<Seen>) {
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    loop {
        let Some(seen) = read_request(&mut r, n) else {
            return;
        };
        let a = answer(&seen);
        let _ = tx.send(seen);
        match a {
            Answer::Send(b) => {
                if w.write_all(&b).is_err() {
                    return;
                }
            }
            Answer::SendClose(b) => {
                let _ = w.write_all(&b);
                let _ = w.shutdown(Shutdown::Both);
                return;
            }
            Answer::Close => {
                let _ = w.shutdown(Shutdown::Both);
                return;
            }
            Answer::Hang => {
                let mut sink = Vec::new();
                let _ = r.read_to_end(&mut sink);
                return;
            }
            Answer::Echo(b) => {
                let _ = w.write_all(&b);
                let mut buf = [0u8; 4096];
                loop {
                    match r.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(k) => {
                            if w.write_all(&buf[..k]).is_err() {
                                break;
                            }
                        }
                    }
                }
                let _ = w.shutdown(Shutdown::Write);
                return;
            }
        }
    }
}

fn read_line(r: &mut impl BufRead) -> Option<String> {
    let mut line = String::new();
    match r.read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_string()),
    }
}

fn read_request(r: &mut BufReader<TcpStream>, conn: usize) -> Option<Seen> {
    let line = read_line(r)?;
    let mut seen = Seen {
        conn,
        line,
        ..Seen::default()
    };
    loop {
        let l = read_line(r)?;
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':')?;
        seen.headers.push((n.to_string(), v.trim().to_string()));
    }
    if seen
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let size = read_line(r)?;
            let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
            if size == 0 {
                // Trailers, then the empty line.
                while !read_line(r)?.is_empty() {}
                break;
            }
            let mut chunk = vec![0u8; size];
            r.read_exact(&mut chunk).ok()?;
            seen.body.extend_from_slice(&chunk);
            read_line(r)?;
        }
    } else if let Some(n) = seen.header("content-length") {
        let mut body = vec![0u8; n.parse().ok()?];
        r.read_exact(&mut body).ok()?;
        seen.body = body;
    }
    Some(seen)
}

/// A response as the client received it.
#[derive(Clone, Debug, Default)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A client connection reading responses one by one.
pub struct Client {
    pub w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let s = TcpStream::connect_timeout(&addr, DEADLINE).unwrap();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s.set_write_timeout(Some(DEADLINE)).unwrap();
        Client {
            w: s.try_clone().unwrap(),
            r: BufReader::new(s),
        }
    }

    /// A client over a connection opened elsewhere (from a chosen
    /// source address, for instance).
    pub fn from_stream(s: TcpStream) -> Client {
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s.set_write_timeout(Some(DEADLINE)).unwrap();
        Client {
            w: s.try_clone().unwrap(),
            r: BufReader::new(s),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).unwrap();
    }

    /// The next response (`head_request`: it answers a HEAD, no body).
    pub fn response(&mut self, head_request: bool) -> Response {
        self.try_response(head_request)
            .expect("no complete response within the deadline")
    }

    pub fn try_response(&mut self, head_request: bool) -> Option<Response> {
        let line = read_line(&mut self.r)?;
        let status = line.split(' ').nth(1)?.parse().ok()?;
        let mut res = Response {
            status,
            ..Response::default()
        };
        loop {
            let l = read_line(&mut self.r)?;
            if l.is_empty() {
                break;
            }
            let (n, v) = l.split_once(':')?;
            res.headers.push((n.to_string(), v.trim().to_string()));
        }
        if head_request || status == 204 || status == 304 || (100..200).contains(&status) {
            return Some(res);
        }
        if res
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            loop {
                let size = read_line(&mut self.r)?;
                let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
                if size == 0 {
                    while !read_line(&mut self.r)?.is_empty() {}
                    break;
                }
                let mut chunk = vec![0u8; size];
                self.r.read_exact(&mut chunk).ok()?;
                res.body.extend_from_slice(&chunk);
                read_line(&mut self.r)?;
            }
        } else if let Some(n) = res.header("content-length") {
            let mut body = vec![0u8; n.parse().ok()?];
            self.r.read_exact(&mut body).ok()?;
            res.body = body;
        } else {
            self.r.read_to_end(&mut res.body).ok()?;
        }
        Some(res)
    }

    /// The proxy closes the connection (EOF) within the deadline, with
    /// nothing more sent.
    pub fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        self.r.read_to_end(&mut rest).is_ok() && rest.is_empty()
    }
}

/// An HTTP-mode configuration: `log stdout` with httplog, the frontend on
/// `fd@3`, one backend `be` with servers `servers` (`server ...` lines
/// without the keyword), `extra` lines in defaults.
pub fn config(servers: &[String], extra: &str) -> String {
    let mut cfg = String::from(
        "global\n    log stdout format raw local0\n\
         defaults\n    mode http\n    log global\n    option httplog\n    \
         timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n",
    );
    for l in extra.lines().filter(|l| !l.trim().is_empty()) {
        cfg.push_str("    ");
        cfg.push_str(l.trim());
        cfg.push('\n');
    }
    cfg.push_str("frontend fe\n    bind fd@3\n    default_backend be\nbackend be\n");
    for s in servers {
        cfg.push_str("    server ");
        cfg.push_str(s);
        cfg.push('\n');
    }
    cfg
}

/// One httplog line, split on spaces (the request line is the rest).
#[derive(Debug)]
pub struct HttpLog {
    pub backend_server: String,
    pub status: String,
    pub termination: String,
    pub request: String,
}

impl HttpLog {
    pub fn parse(line: &str) -> HttpLog {
        // %ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc
        // %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r (no captures here)
        let f: Vec<&str> = line.splitn(13, ' ').collect();
        assert!(f.len() == 13, "not an httplog line: {line:?}");
        HttpLog {
            backend_server: f[3].to_string(),
            status: f[5].to_string(),
            termination: f[9].to_string(),
            request: f[12].to_string(),
        }
    }
}

/// The next log line that is an httplog line (others, such as start-up
/// notices, skipped), within the deadline.
pub fn next_http_log(p: &crate::harness::Proxy) -> HttpLog {
    let end = Instant::now() + DEADLINE;
    while Instant::now() < end {
        let l = p.next_log();
        if l.contains(" [") && l.contains('/') && l.ends_with('"') {
            return HttpLog::parse(&l);
        }
    }
    panic!("no httplog line within {DEADLINE:?}");
}

/// Columns `cols` of `show stat`'s row `px,sv`, once no stream is current.
pub fn settled_stat(sock: &str, row: &str, cols: &[&str]) -> Vec<u64> {
    let end = Instant::now() + DEADLINE;
    loop {
        let csv = crate::harness::cli_ask(sock, "show stat");
        let mut lines = csv.lines();
        let head: Vec<&str> = lines
            .next()
            .unwrap()
            .trim_start_matches("# ")
            .split(',')
            .collect();
        let col = |n: &str| head.iter().position(|h| *h == n).unwrap();
        let r: Vec<&str> = lines
            .find(|l| l.starts_with(&format!("{row},")))
            .unwrap()
            .split(',')
            .collect();
        let v = |n: &str| r[col(n)].parse::<u64>().unwrap_or(0);
        if v("scur") == 0 {
            return cols.iter().map(|c| v(c)).collect();
        }
        assert!(Instant::now() < end, "{row}: a stream is still current");
        std::thread::sleep(Duration::from_millis(20));
    }
}

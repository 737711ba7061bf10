//! One HTTP case, run on one program: the configuration, the server's
//! script, the client's bytes, what each side saw and the log lines; and
//! the comparison of two runs.
//!
//! What is compared between two programs (see [`differences`]):
//! - the client: the status of every interim and final answer, the
//!   header fields of each final answer (names case-insensitively, values
//!   and order kept), its decoded body, whether the proxy closed the
//!   connection (only where the case waits for the close);
//! - the server: which requests arrived on which of its connections (by
//!   accept order), each request line, header fields (names
//!   case-insensitively, values and order kept), decoded body, chunk
//!   trailers; bytes that arrived without forming a request. The raw
//!   chunk framing is not compared: a proxy may re-chunk a body;
//! - the `option httplog` lines, masked by [`mask_httplog`].

use std::path::Path;
use std::time::{Duration, Instant};

use crate::harness::http::{self, ClientSaw, Reply, SeenRequest, ServerEvent, Step};
use crate::harness::{Proxy, DEADLINE};

/// A checker of what haproxy did beyond the statuses (a plain fn, so a
/// case stays a value).
pub type Check = fn(&Outcome);

/// One case: a configuration, a server script, a client script, and what
/// HAProxy is documented to do with it.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: &'static str,
    /// Extra lines for the frontend and the backend.
    pub frontend: Vec<String>,
    pub backend: Vec<String>,
    pub steps: Vec<Step>,
    /// The method of each final answer the client waits for.
    pub methods: Vec<&'static str>,
    /// Read until the proxy closes after the last answer.
    pub wait_close: bool,
    pub replies: Vec<Reply>,
    /// The final statuses the client must get from HAProxy.
    pub statuses: Vec<u16>,
    /// How many requests the server must see (None: not asserted).
    pub forwarded: Option<usize>,
    /// The termination state (`%tsc`) of each log line, where asserted.
    pub termination: Option<&'static str>,
    pub check: Option<Check>,
}

impl Case {
    pub fn new(name: &'static str) -> Case {
        Case {
            name,
            frontend: Vec::new(),
            backend: Vec::new(),
            steps: Vec::new(),
            methods: Vec::new(),
            wait_close: false,
            replies: Vec::new(),
            statuses: Vec::new(),
            forwarded: None,
            termination: None,
            check: None,
        }
    }

    pub fn send(mut self, bytes: impl AsRef<[u8]>) -> Case {
        self.steps.push(Step::Send(bytes.as_ref().to_vec()));
        self
    }

    /// Wait until the server has the request head before the next step.
    pub fn server_has_head(mut self) -> Case {
        self.steps.push(Step::ServerHasHead);
        self
    }

    pub fn pause(mut self, ms: u64) -> Case {
        self.steps.push(Step::Pause(Duration::from_millis(ms)));
        self
    }

    /// Wait for an interim answer (`100 Continue`) before the next step.
    pub fn interim(mut self) -> Case {
        self.steps.push(Step::Interim);
        self
    }

    /// Read one final answer (to a `method` request) before the next step.
    pub fn answer(mut self, method: &'static str) -> Case {
        self.steps.push(Step::Await(method));
        self
    }

    pub fn reply(mut self, r: Reply) -> Case {
        self.replies.push(r);
        self
    }

    pub fn frontend(mut self, line: &str) -> Case {
        self.frontend.push(line.to_owned());
        self
    }

    pub fn backend(mut self, line: &str) -> Case {
        self.backend.push(line.to_owned());
        self
    }

    /// The final statuses HAProxy answers; after the steps, one `GET`
    /// answer is read per status not read by a step, unless
    /// [`Case::methods`] said otherwise. A 4xx makes the client read until
    /// the proxy closes (haproxy closes after a 400; after a 502 it keeps
    /// the client connection, so waiting for its close would only wait
    /// for `timeout http-keep-alive`).
    pub fn expect(mut self, statuses: &[u16]) -> Case {
        self.statuses = statuses.to_vec();
        let awaited = self
            .steps
            .iter()
            .filter(|s| matches!(s, Step::Await(_)))
            .count();
        if self.methods.is_empty() {
            self.methods = vec!["GET"; statuses.len().saturating_sub(awaited)];
        }
        self.wait_close |= statuses.iter().any(|s| (400..500).contains(s));
        self
    }

    pub fn methods(mut self, m: &[&'static str]) -> Case {
        self.methods = m.to_vec();
        self
    }

    pub fn wait_close(mut self) -> Case {
        self.wait_close = true;
        self
    }

    pub fn forwarded(mut self, n: usize) -> Case {
        self.forwarded = Some(n);
        self
    }

    pub fn termination(mut self, t: &'static str) -> Case {
        self.termination = Some(t);
        self
    }

    pub fn check(mut self, c: Check) -> Case {
        self.check = Some(c);
        self
    }
}

/// A request HAProxy must refuse with a 400 before anything reaches the
/// server, then close.
pub fn bad_request(name: &'static str, raw: impl AsRef<[u8]>) -> Case {
    Case::new(name)
        .send(raw)
        .expect(&[400])
        .forwarded(0)
        .termination("PR--")
}

/// A server answer HAProxy must replace with a 502 (the server saw the
/// request; the client gets no byte of the bad answer).
pub fn bad_response(name: &'static str, raw: &str) -> Case {
    Case::new(name)
        .send("GET /r HTTP/1.1\r\nHost: h\r\n\r\n")
        .reply(Reply::raw(raw.as_bytes()))
        .expect(&[502])
        .forwarded(1)
        .termination("PH--")
}

/// The configuration of a case: logs on stdout in `option httplog`
/// format, one `fd@3` frontend `fe`, one backend `be` with server `s1`.
pub fn config(case: &Case, server: std::net::SocketAddr) -> String {
    let lines = |v: &[String]| -> String { v.iter().map(|l| format!("    {l}\n")).collect() };
    format!(
        "global\n    log stdout format raw local0\n    tune.bufsize 16384\n    tune.maxrewrite 1024\n\
         defaults\n    mode http\n    log global\n    option httplog\n\
         \x20   timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n    timeout http-request 5s\n\
         frontend fe\n    bind fd@3\n{}    default_backend be\n\
         backend be\n{}    server s1 {server}\n",
        lines(&case.frontend),
        lines(&case.backend),
    )
}

/// What one run of a case saw.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub program: String,
    /// The client's own port, which the log line must show.
    pub client_port: Option<u16>,
    pub client: ClientSaw,
    /// Requests the server saw, by connection (accept order), then arrival.
    pub server: Vec<SeenRequest>,
    pub server_conns: usize,
    /// Bytes a server connection got that formed no request.
    pub leftovers: Vec<(usize, Vec<u8>)>,
    /// Every line the proxy wrote to stdout.
    pub logs: Vec<String>,
}

impl Outcome {
    pub fn httplogs(&self) -> Vec<HttpLog> {
        self.logs.iter().filter_map(|l| HttpLog::parse(l)).collect()
    }
}

/// Run `case` on `program` (haproxy or ringlb, same arguments): start the
/// server and the proxy, play the client, wait for one log line per final
/// answer, stop the proxy, and collect the rest once everything closed.
pub fn run_case(program: &Path, case: &Case) -> Outcome {
    let server = http::HttpServer::start(case.replies.clone());
    let cfg = config(case, server.addr);
    let mut proxy = Proxy::start_with(program, &cfg, &["-db"]);
    // Events taken early (waiting for a head) go back in the record.
    let mut early = Vec::new();
    let mut server_has_head = || loop {
        let Some(e) = server.next_event() else {
            panic!(
                "{}: no request head reached the server within {DEADLINE:?}",
                case.name
            );
        };
        let head = matches!(e, ServerEvent::Head(..));
        early.push(e);
        if head {
            break;
        }
    };
    let (client_port, client) = match http::connect(proxy.addr) {
        Ok(conn) => (
            conn.local_addr().ok().map(|a| a.port()),
            http::exchange(
                conn,
                &case.steps,
                &case.methods,
                case.wait_close,
                &mut server_has_head,
            ),
        ),
        Err(e) => exited(&mut proxy, case, program, &format!(" (connect: {e})")),
    };
    // A proxy that refused the configuration: say so rather than report
    // an empty exchange. A process that dies closes its sockets before it
    // can be reaped: a client left without an answer gives it a moment.
    let gone = if client.responses.is_empty() {
        reaped(&mut proxy, Duration::from_secs(2))
    } else {
        proxy.child.try_wait().unwrap().is_some()
    };
    if gone {
        exited(&mut proxy, case, program, "");
    }
    let mut logs: Vec<String> = Vec::new();
    let want = client.responses.len();
    let end = Instant::now() + DEADLINE;
    while logs.iter().filter(|l| HttpLog::parse(l).is_some()).count() < want {
        let left = end.saturating_duration_since(Instant::now());
        match proxy.stdout.recv_timeout(left) {
            Ok(l) => logs.push(l),
            Err(_) => break,
        }
    }
    let _ = proxy.child.kill();
    let _ = proxy.child.wait();
    // The stdout reader ends at the pipe's EOF: every line is in.
    while let Ok(l) = proxy.stdout.recv_timeout(DEADLINE) {
        logs.push(l);
    }
    let mut out = Outcome {
        program: program.display().to_string(),
        client_port,
        client,
        logs,
        ..Outcome::default()
    };
    for e in server.events_until_all_closed(early) {
        match e {
            ServerEvent::Accepted(_) => out.server_conns += 1,
            ServerEvent::Request(r) => out.server.push(r),
            ServerEvent::Leftover(c, b) => out.leftovers.push((c, b)),
            ServerEvent::Head(..) | ServerEvent::Closed(_) => {}
        }
    }
    // Events of different connections interleave; each keeps its order.
    out.server.sort_by_key(|r| r.conn);
    out.leftovers.sort_by_key(|l| l.0);
    out
}

/// Whether the proxy exits within `within` (polled, as the harness's
/// `wait_signal_ready`: a child's exit has no channel to wait on).
fn reaped(proxy: &mut Proxy, within: Duration) -> bool {
    let end = Instant::now() + within;
    loop {
        if proxy.child.try_wait().unwrap().is_some() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Fail for a proxy that exited instead of serving, with its stderr.
fn exited(proxy: &mut Proxy, case: &Case, program: &Path, why: &str) -> ! {
    let st = if reaped(proxy, DEADLINE) {
        proxy.child.try_wait().unwrap()
    } else {
        None
    };
    // The stderr reader ends at the pipe's EOF, when the process is gone.
    let mut err = Vec::new();
    while let Ok(l) = proxy.stderr.recv_timeout(DEADLINE) {
        err.push(l);
    }
    panic!(
        "{}: {} exited ({st:?}) instead of serving{why}: {}",
        case.name,
        program.display(),
        err.join("\n")
    );
}

/// One `option httplog` line, split into HAProxy's fields:
/// `%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc
/// %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r` (no captures here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpLog {
    pub client: String,
    pub date: String,
    pub frontend: String,
    pub backend_server: String,
    pub timers: Vec<String>,
    pub status: String,
    pub bytes: String,
    pub cookies: String,
    pub termination: String,
    pub counters: String,
    pub queues: String,
    pub request: String,
}

impl HttpLog {
    pub fn parse(line: &str) -> Option<HttpLog> {
        let f: Vec<&str> = line.splitn(13, ' ').collect();
        if f.len() != 13 || !f[1].starts_with('[') || !f[1].ends_with(']') {
            return None;
        }
        let timers: Vec<String> = f[4].split('/').map(str::to_owned).collect();
        if timers.len() != 5 || !f[12].starts_with('"') {
            return None;
        }
        Some(HttpLog {
            client: f[0].to_owned(),
            date: f[1].to_owned(),
            frontend: f[2].to_owned(),
            backend_server: f[3].to_owned(),
            timers,
            status: f[5].to_owned(),
            bytes: f[6].to_owned(),
            cookies: format!("{} {}", f[7], f[8]),
            termination: f[9].to_owned(),
            counters: f[10].to_owned(),
            queues: f[11].to_owned(),
            request: f[12].to_owned(),
        })
    }
}

/// The log line with what legitimately differs between two runs masked:
/// - the client port (ephemeral; it must be `client_port`, the one the
///   client had, or it shows as `OTHER(port)`) and the date (its shape is
///   checked);
/// - each timer becomes `N` or, where the phase never ended, `-1`: the
///   values are durations of this run, whether a phase happened is not;
/// - `%ac/%fc` (process and frontend connections) become `A/F`: haproxy
///   counts a connection in both before accept(2) and takes it back when
///   accept finds nothing (listener_accept), so with two threads woken by
///   one connection a log line now and then says `2/2` for one client
///   (about one haproxy run in 150 here; not once in 1500 with
///   `nbthread 1`).
///
/// Kept: the client address, frontend, backend/server, status, bytes sent
/// to the client (they depend only on the bytes the proxy wrote, which a
/// drop-in must reproduce, error pages included), cookies, termination
/// state, `%bc/%sc/%rc` (backend and server connections, retries: only the
/// test's client makes them), queues, and the request line.
pub fn mask_httplog(l: &HttpLog, client_port: Option<u16>) -> String {
    let (ip, port) = l.client.rsplit_once(':').unwrap_or(("?", "?"));
    let port = match client_port {
        Some(p) if p.to_string() != port => format!("OTHER({port})"),
        _ => "PORT".to_owned(),
    };
    let d = l.date.trim_start_matches('[').trim_end_matches(']');
    let shape: String = d
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    let date = if shape.len() == 24 && shape.ends_with("/9999:99:99:99.999") {
        "[DATE]".to_owned()
    } else {
        format!("[BAD DATE {d}]")
    };
    let timers: Vec<&str> = l
        .timers
        .iter()
        .map(|t| match t.parse::<i64>() {
            Ok(-1) => "-1",
            Ok(v) if v >= 0 => "N",
            _ => "BAD",
        })
        .collect();
    let counters = match l.counters.splitn(3, '/').nth(2) {
        Some(rest) => format!("A/F/{rest}"),
        None => format!("BAD {}", l.counters),
    };
    format!(
        "{ip}:{port} {date} {} {} {} {} {} {} {} {counters} {} {}",
        l.frontend,
        l.backend_server,
        timers.join("/"),
        l.status,
        l.bytes,
        l.cookies,
        l.termination,
        l.queues,
        l.request
    )
}

fn lower(h: &[(String, String)]) -> Vec<(String, String)> {
    h.iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        .collect()
}

fn client_view(c: &ClientSaw, to_close: bool) -> Vec<String> {
    let mut v: Vec<String> = c
        .interim
        .iter()
        .map(|r| format!("interim {}", r.status))
        .collect();
    for (i, r) in c.responses.iter().enumerate() {
        v.push(format!("answer {i}: status {}", r.status));
        v.push(format!("answer {i}: headers {:?}", lower(&r.headers)));
        v.push(format!(
            "answer {i}: body {:?}{}",
            String::from_utf8_lossy(&r.body.data),
            if r.body.truncated { " (cut short)" } else { "" }
        ));
    }
    if !c.trailing.is_empty() {
        v.push(format!(
            "bytes after the answers: {:?}",
            String::from_utf8_lossy(&c.trailing)
        ));
    }
    if to_close {
        v.push(format!("closed by the proxy: {}", c.closed));
    }
    v
}

fn server_view(o: &Outcome) -> Vec<String> {
    let mut v = vec![format!("server connections: {}", o.server_conns)];
    for (i, r) in o.server.iter().enumerate() {
        v.push(format!(
            "request {i}: on connection {}: {:?}",
            r.conn, r.line
        ));
        v.push(format!("request {i}: headers {:?}", lower(&r.headers)));
        v.push(format!(
            "request {i}: body {:?}{}",
            String::from_utf8_lossy(&r.body.data),
            if r.body.truncated { " (cut short)" } else { "" }
        ));
        if !r.body.trailers.is_empty() {
            v.push(format!(
                "request {i}: trailers {:?}",
                lower(&r.body.trailers)
            ));
        }
    }
    for (c, b) in &o.leftovers {
        v.push(format!(
            "connection {c}: unparsed {:?}",
            String::from_utf8_lossy(b)
        ));
    }
    v
}

/// Everything of an outcome that two programs must agree on, as lines.
pub fn view(o: &Outcome, case: &Case) -> Vec<String> {
    let mut v: Vec<String> = client_view(&o.client, case.wait_close)
        .into_iter()
        .map(|l| format!("client: {l}"))
        .collect();
    v.extend(server_view(o).into_iter().map(|l| format!("server: {l}")));
    v.extend(o.logs.iter().map(|l| match HttpLog::parse(l) {
        Some(h) => format!("log: {}", mask_httplog(&h, o.client_port)),
        None => format!("log (not httplog): {l}"),
    }));
    v
}

/// The differences between two runs of `case`, one line each (empty when
/// they agree).
pub fn differences(case: &Case, a: &Outcome, b: &Outcome) -> Vec<String> {
    let (va, vb) = (view(a, case), view(b, case));
    let mut d = Vec::new();
    for i in 0..va.len().max(vb.len()) {
        let (x, y) = (va.get(i), vb.get(i));
        if x != y {
            d.push(format!(
                "{}:\n    {}: {}\n    {}: {}",
                case.name,
                a.program,
                x.map_or("(nothing)", String::as_str),
                b.program,
                y.map_or("(nothing)", String::as_str)
            ));
        }
    }
    d
}

/// Run `f`; a panic becomes its message.
pub fn caught<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default()
    })
}

/// [`run_case`], a failed run (a deadline, a proxy that exited) becoming
/// its message, so that one case does not hide the others.
pub fn try_run_case(program: &Path, case: &Case) -> Result<Outcome, String> {
    caught(|| run_case(program, case))
}

/// Every case on both programs; the differences of all cases (a run that
/// failed is one). A program that exits instead of serving stops the
/// loop: every further case would only say so again.
pub fn run_pair(program_a: &Path, program_b: &Path, cases: &[Case]) -> Vec<String> {
    let mut d = Vec::new();
    for case in cases {
        let (a, b) = (try_run_case(program_a, case), try_run_case(program_b, case));
        match (a, b) {
            (Ok(a), Ok(b)) => d.extend(differences(case, &a, &b)),
            (a, b) => {
                let mut stop = false;
                for (p, r) in [(program_a, a), (program_b, b)] {
                    if let Err(e) = r {
                        stop |= e.contains("instead of serving");
                        d.push(format!(
                            "{}: the run on {} failed: {e}",
                            case.name,
                            p.display()
                        ));
                    }
                }
                if stop {
                    break;
                }
            }
        }
    }
    d
}

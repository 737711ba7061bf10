//! `http-request use-service prometheus-exporter`: the same config and
//! traffic through haproxy 2.6 (built with promex) and ringlb, then
//! `/metrics` from both: the same `# HELP`/`# TYPE` lines, the same metric
//! names and label sets, the same values for what both count; the scope
//! filters and `no-maint` answer alike. Beyond HAProxy, ringlb's latency
//! histograms count every stream once over every core. Then the tools:
//! Debian's `prometheus-haproxy-exporter` reads ringlb through the stats
//! socket and the stats page's CSV, and Debian's `prometheus` scrapes the
//! native endpoint and answers a `histogram_quantile` over it.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{start, TempDir, DEADLINE};
use crate::server::{ok, Answer, Client, Response, Seen, Server};

fn answer(s: &Seen) -> Answer {
    if s.line.starts_with("GET /nf") {
        return Answer::Send(b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nnf".to_vec());
    }
    if s.line.starts_with("GET /err") {
        return Answer::Send(b"HTTP/1.1 500 Oops\r\nContent-Length: 1\r\n\r\ne".to_vec());
    }
    if s.line.starts_with("GET /slow") {
        // The server's own think time, for the response histograms.
        std::thread::sleep(Duration::from_millis(40));
    }
    ok("hello")
}

/// One frontend with the exporter, a backend with an active, a backup and
/// a disabled server, a backend whose server refuses (checked), a TCP
/// backend (the HTTP-only metrics skip it).
fn cfg(srv: &Server, dead: u16, global: &str) -> String {
    cfg_mon(srv, dead, global, None)
}

/// [`cfg`] with a second frontend `mon` on `mon`'s port that only serves
/// the exporter: scrapes there leave `fe`'s counters to the traffic.
fn cfg_mon(srv: &Server, dead: u16, global: &str, mon: Option<u16>) -> String {
    let mon = mon.map_or(String::new(), |port| {
        format!(
            "frontend mon\n    bind 127.0.0.1:{port}\n    http-request use-service prometheus-exporter\n"
        )
    });
    format!(
        "global\n    log stdout format raw local0\n{global}\
         defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind fd@3\n    \
         http-request use-service prometheus-exporter if {{ path_beg /metrics }}\n    \
         http-request deny if {{ path /deny }}\n    use_backend dead if {{ path /dead }}\n    default_backend be\n\
         backend be\n    server s1 {0}\n    server s2 {0} backup\n    server s3 {0} disabled\n\
         backend dead\n    retries 1\n    server d1 127.0.0.1:{dead} check inter 100ms\n\
         backend tb\n    mode tcp\n    server t1 {0}\n{mon}",
        srv.addr
    )
}

fn get(addr: SocketAddr, path: &str) -> Response {
    let mut c = Client::connect(addr);
    c.send(format!("GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").as_bytes());
    let r = c.response(false);
    // The stream is over (and counted) once the proxy closes.
    assert!(c.closed(), "{path}");
    r
}

fn text(r: &Response) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

/// A scrape: the `# ` lines in order, and `name{labels}` -> value.
struct Scrape {
    comments: Vec<String>,
    samples: BTreeMap<String, String>,
}

fn parse(body: &str, prefix: &str) -> Scrape {
    let mut comments = Vec::new();
    let mut samples = BTreeMap::new();
    for l in body.lines() {
        if let Some(c) = l.strip_prefix("# ") {
            if c.split(' ').nth(1).is_some_and(|n| n.starts_with(prefix)) {
                comments.push(l.to_string());
            }
            continue;
        }
        if !l.starts_with(prefix) {
            continue;
        }
        let (key, value) = l.rsplit_once(' ').unwrap();
        // The build's version is each program's own.
        let key = if key.starts_with("haproxy_process_build_info{") {
            "haproxy_process_build_info".to_string()
        } else {
            key.to_string()
        };
        assert!(samples.insert(key, value.to_string()).is_none(), "{l}");
    }
    Scrape { comments, samples }
}

/// The metrics both count, compared as the traffic's difference.
const COUNTED: &[&str] = &[
    "haproxy_frontend_sessions_total",
    "haproxy_frontend_connections_total",
    "haproxy_frontend_http_requests_total",
    "haproxy_frontend_http_responses_total",
    "haproxy_frontend_requests_denied_total",
    "haproxy_frontend_request_errors_total",
    "haproxy_frontend_intercepted_requests_total",
    "haproxy_backend_sessions_total",
    "haproxy_backend_http_requests_total",
    "haproxy_backend_http_responses_total",
    "haproxy_backend_loadbalanced_total",
    "haproxy_backend_connection_errors_total",
    "haproxy_backend_retry_warnings_total",
    "haproxy_backend_response_errors_total",
    "haproxy_server_sessions_total",
    "haproxy_server_http_responses_total",
    "haproxy_server_loadbalanced_total",
    "haproxy_server_connection_errors_total",
    "haproxy_server_retry_warnings_total",
];

/// The states and configured values both show, compared as they are (not
/// the current sessions: haproxy frees a session a little after its client
/// saw the close, so the next scrape may still count it).
const SAME: &[&str] = &[
    "haproxy_process_nbproc",
    "haproxy_process_relative_process_id",
    "haproxy_process_stopping",
    "haproxy_frontend_status",
    "haproxy_frontend_limit_session_rate",
    "haproxy_backend_status",
    "haproxy_backend_current_queue",
    "haproxy_backend_weight",
    "haproxy_backend_active_servers",
    "haproxy_backend_backup_servers",
    "haproxy_backend_agg_server_status",
    "haproxy_backend_agg_server_check_status",
    "haproxy_backend_agg_check_status",
    "haproxy_server_status",
    "haproxy_server_current_queue",
    "haproxy_server_limit_sessions",
    "haproxy_server_weight",
    "haproxy_server_uweight",
    "haproxy_server_check_status",
    "haproxy_server_check_code",
];

fn name_of(key: &str) -> &str {
    key.split(['{', ' ']).next().unwrap()
}

struct Run {
    /// Before and after the traffic.
    before: Scrape,
    after: Scrape,
    /// Other queries: (path, status, the metric names in order).
    queries: Vec<(String, u16, Vec<String>)>,
    /// Two scrapes on one connection, the second one's status.
    keepalive: u16,
    /// A HEAD's status and body length.
    head: (u16, usize),
}

fn names(body: &str) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for l in body
        .lines()
        .filter(|l| !l.starts_with('#') && l.starts_with("haproxy_"))
    {
        let n = name_of(l).to_string();
        if v.last() != Some(&n) {
            v.push(n);
        }
    }
    v
}

fn traffic(program: &std::path::Path, name: &str) -> Run {
    let srv = Server::start(answer);
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let (_hold, mon_port) = crate::harness::held_port();
    let mon: SocketAddr = ([127, 0, 0, 1], mon_port).into();
    let p = start(name, program, &cfg_mon(&srv, port, "", Some(mon_port)));
    // `mon` listens once the proxy is up (fe's socket is the harness's).
    let end = Instant::now() + DEADLINE;
    while TcpStream::connect(mon).is_err() {
        assert!(Instant::now() < end, "{name}: mon never listened");
        std::thread::sleep(Duration::from_millis(10));
    }
    // The check of d1 has run (its duration shows only after one).
    while !text(&get(mon, "/metrics?scope=server"))
        .contains("haproxy_server_check_duration_seconds{proxy=\"dead\",server=\"d1\"}")
    {
        assert!(Instant::now() < end, "{name}: d1 was never checked");
        std::thread::sleep(Duration::from_millis(20));
    }
    let before = parse(&text(&get(mon, "/metrics")), "haproxy_");
    for path in ["/", "/", "/nf", "/err"] {
        get(p.addr, path);
    }
    assert_eq!(get(p.addr, "/deny").status, 403, "{name}");
    assert_eq!(get(p.addr, "/dead").status, 503, "{name}");
    // haproxy may account a transaction a little after its client saw the
    // close: wait until the backend counted its four.
    let counted = |s: &Scrape| {
        let k = "haproxy_backend_http_requests_total{proxy=\"be\"}";
        s.samples.get(k).map_or(0, |v| v.parse::<i64>().unwrap())
    };
    let want = counted(&before) + 4;
    let after = loop {
        let r = get(mon, "/metrics");
        assert_eq!(r.status, 200, "{name}");
        assert_eq!(
            r.header("content-type"),
            Some("text/plain; version=0.0.4"),
            "{name}"
        );
        assert_eq!(r.header("cache-control"), Some("no-cache"), "{name}");
        let after = parse(&text(&r), "haproxy_");
        if counted(&after) >= want {
            break after;
        }
        assert!(
            Instant::now() < end + DEADLINE,
            "{name}: be never counted 4"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut queries = Vec::new();
    for q in [
        "/metrics?scope=global",
        "/metrics?scope=frontend",
        "/metrics?scope=backend&scope=server&no-maint",
        "/metrics?scope=server&scope=",
        "/metrics?scope=*&no-maint",
        "/metrics?scope=bogus",
        "/metrics?scope",
    ] {
        let r = get(p.addr, q);
        queries.push((q.to_string(), r.status, names(&text(&r))));
    }
    let mut c = Client::connect(p.addr);
    c.send(b"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.response(false).status, 200, "{name}");
    c.send(b"GET /metrics?scope=global HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    let keepalive = c.response(false).status;
    let mut c = Client::connect(p.addr);
    c.send(b"HEAD /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    let r = c.response(true);
    Run {
        before,
        after,
        queries,
        keepalive,
        head: (r.status, r.body.len()),
    }
}

#[test]
fn exporter_prints_haproxys_metrics() {
    let Some(h) = crate::harness::haproxy("exporter_prints_haproxys_metrics") else {
        return;
    };
    let theirs = traffic(&h, "haproxy");
    let ours = traffic(&crate::harness::ringlb(), "ringlb");
    assert_eq!(
        ours.after.comments, theirs.after.comments,
        "HELP and TYPE lines"
    );
    let keys = |s: &Scrape| s.samples.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&ours.after), keys(&theirs.after), "names and labels");
    let mut diffs = Vec::new();
    for (k, v) in &theirs.after.samples {
        let n = name_of(k);
        let ov = &ours.after.samples[k];
        // haproxy's frontend counts the scrape's own 200 when its response
        // analysers see the headers before the dump reaches that line,
        // which depends on its buffers and scheduling: left out.
        if k == "haproxy_frontend_http_responses_total{proxy=\"fe\",code=\"2xx\"}" {
            continue;
        }
        // The scrapes' own frontend: polled as long as each needs.
        if k.contains("proxy=\"mon\"") && COUNTED.contains(&n) {
            continue;
        }
        if COUNTED.contains(&n) {
            let delta = |s: &Scrape, v: &str| {
                v.parse::<i64>().unwrap() - s.samples.get(k).map_or(0, |b| b.parse().unwrap())
            };
            let (a, b) = (delta(&theirs.before, v), delta(&ours.before, ov));
            if a != b {
                diffs.push(format!("{k}: haproxy +{a} ringlb +{b}"));
            }
        } else if SAME.contains(&n) && v != ov {
            diffs.push(format!("{k}: haproxy {v} ringlb {ov}"));
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    for ((q, ts, tn), (_, os, on)) in theirs.queries.iter().zip(&ours.queries) {
        assert_eq!(os, ts, "{q}: status");
        assert_eq!(on, tn, "{q}: metric names");
    }
    assert!(theirs.queries[2]
        .2
        .iter()
        .all(|n| n.starts_with("haproxy_backend_") || n.starts_with("haproxy_server_")));
    assert_eq!((ours.keepalive, theirs.keepalive), (200, 200), "keep-alive");
    assert_eq!(ours.head, theirs.head, "HEAD");
    assert_eq!(ours.head, (200, 0));
}

/// `no-maint` leaves the disabled server out of the server metrics only.
#[test]
fn no_maint_hides_servers_in_maintenance() {
    let srv = Server::start(answer);
    let p = start("ringlb", &crate::harness::ringlb(), &cfg(&srv, 1, ""));
    let all = text(&get(p.addr, "/metrics?scope=server"));
    assert!(all.contains("haproxy_server_status{proxy=\"be\",server=\"s3\",state=\"MAINT\"} 1"));
    let r = text(&get(p.addr, "/metrics?scope=server&no-maint"));
    assert!(!r.contains("server=\"s3\""), "{r}");
    assert!(r.contains("server=\"s2\""));
    assert!(r.contains("ringlb_server_total_time_seconds_count{proxy=\"be\",server=\"s1\"}"));
}

/// A histogram's samples: `name_bucket{labels,le}` values in order, its
/// sum and count, for the object with `labels`.
fn histogram(body: &str, name: &str, labels: &str) -> (Vec<(f64, u64)>, f64, u64) {
    let mut buckets = Vec::new();
    let (mut sum, mut count) = (f64::NAN, u64::MAX);
    let bucket = format!("{name}_bucket{{{labels},le=\"");
    for l in body.lines() {
        if let Some(rest) = l.strip_prefix(&bucket) {
            let (le, v) = rest.split_once("\"} ").unwrap();
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            buckets.push((le, v.parse().unwrap()));
        } else if let Some(v) = l.strip_prefix(&format!("{name}_sum{{{labels}}} ")) {
            sum = v.parse().unwrap();
        } else if let Some(v) = l.strip_prefix(&format!("{name}_count{{{labels}}} ")) {
            count = v.parse().unwrap();
        }
    }
    (buckets, sum, count)
}

/// Streams spread over two cores each count once in the histograms of
/// their frontend, backend and server, in the bucket of their time.
#[test]
fn histograms_merge_every_core() {
    let srv = Server::start(answer);
    let p = start(
        "ringlb",
        &crate::harness::ringlb(),
        &cfg(&srv, 1, "    nbthread 2\n"),
    );
    const N: u64 = 12;
    for _ in 0..N {
        assert_eq!(get(p.addr, "/slow").status, 200);
    }
    let r = text(&get(p.addr, "/metrics"));
    for (name, labels) in [
        ("ringlb_frontend_total_time_seconds", "proxy=\"fe\""),
        ("ringlb_backend_response_time_seconds", "proxy=\"be\""),
        ("ringlb_backend_connect_time_seconds", "proxy=\"be\""),
        ("ringlb_backend_queue_time_seconds", "proxy=\"be\""),
        (
            "ringlb_server_response_time_seconds",
            "proxy=\"be\",server=\"s1\"",
        ),
        (
            "ringlb_server_total_time_seconds",
            "proxy=\"be\",server=\"s1\"",
        ),
    ] {
        assert!(r.contains(&format!("# TYPE {name} histogram\n")), "{name}");
        let (b, sum, count) = histogram(&r, name, labels);
        assert_eq!(b.len(), 28, "{name}: 27 bounds and +Inf");
        assert_eq!(count, N, "{name}: each stream once");
        assert_eq!(b.last().unwrap(), &(f64::INFINITY, N), "{name}");
        assert!(
            b.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
            "{name}"
        );
        if name.contains("response") || name.contains("total") {
            // 40 ms of think time: nothing at or below 32.768 ms.
            let below = b.iter().find(|(le, _)| *le == 0.032768).unwrap().1;
            assert_eq!(below, 0, "{name}");
            assert!(sum >= 0.040 * N as f64 && sum < 5.0, "{name}: sum {sum}");
        }
    }
    // Both cores served some: each core's block is merged into one count.
    let cores = r
        .lines()
        .find(|l| l.starts_with("haproxy_process_nbthread "))
        .unwrap();
    assert_eq!(cores, "haproxy_process_nbthread 2");
    // The dead backend saw no stream: its histograms are there, empty.
    let (_, sum, count) = histogram(&r, "ringlb_backend_total_time_seconds", "proxy=\"dead\"");
    assert_eq!((sum, count), (0.0, 0));
}

/// A use-service in a backend's rules is not counted as intercepted by
/// the frontend (process_use_service: only when `fe == be`); one in the
/// frontend's is, before the exporter prints (it counts itself).
#[test]
fn a_backend_service_is_not_intercepted_by_the_frontend() {
    let srv = Server::start(answer);
    let config = format!(
        "defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind fd@3\n    http-request use-service prometheus-exporter if {{ path /fm }}\n    default_backend be\n\
         backend be\n    http-request use-service prometheus-exporter if {{ path /metrics }}\n    server s1 {}\n",
        srv.addr
    );
    for (name, program) in crate::harness::programs("a_backend_service_is_not_intercepted") {
        let p = start(name, &program, &config);
        get(p.addr, "/metrics");
        let r = text(&get(p.addr, "/metrics?scope=frontend"));
        assert!(
            r.contains("haproxy_frontend_intercepted_requests_total{proxy=\"fe\"} 0"),
            "{name}: {r}"
        );
        assert!(srv.nothing_within(Duration::from_millis(1)), "{name}");
        // The frontend's own: counted, the scrape itself included.
        get(p.addr, "/fm");
        let r = text(&get(p.addr, "/fm"));
        assert!(
            r.contains("haproxy_frontend_intercepted_requests_total{proxy=\"fe\"} 2"),
            "{name}: {r}"
        );
    }
}

// --- The tools: Debian's exporter and Prometheus server. ---

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// A Debian tool at `path`: a failure under CI without it (ci/test
/// installs it), a loud note elsewhere.
fn tool(test: &str, path: &str, package: &str) -> Option<PathBuf> {
    let p = PathBuf::from(path);
    if p.is_file() {
        return Some(p);
    }
    if ci() {
        panic!("{test}: {path} is missing: CI must install Debian's '{package}' (ci/test does)");
    }
    let _ = writeln!(
        std::io::stderr().lock(),
        "\n## NOTE: {path} is missing: {test} did NOT run (apt-get install {package}). ##\n"
    );
    None
}

/// A free loopback port for a program that binds it itself (a Go server
/// binds without SO_REUSEPORT, so the port cannot be held for it).
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A child process killed and reaped on drop.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// GET `path` on 127.0.0.1:`port` with a plain HTTP/1.0 exchange: the
/// body, or None while nothing answers.
fn http_get(port: u16, path: &str) -> Option<String> {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(DEADLINE)).ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let out = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = out.split_once("\r\n\r\n")?;
    (head.split(' ').nth(1) == Some("200")).then(|| body.to_string())
}

/// Poll `path` until `f` finds what it wants in the body, within `within`.
fn poll<T>(port: u16, path: &str, within: Duration, f: impl Fn(&str) -> Option<T>) -> Option<T> {
    let end = Instant::now() + within;
    loop {
        if let Some(v) = http_get(port, path).as_deref().and_then(&f) {
            return Some(v);
        }
        if Instant::now() > end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `prometheus-haproxy-exporter` reads ringlb as it reads haproxy: through
/// the stats socket and through the stats page's CSV, `haproxy_up 1` and
/// the server metrics with ringlb's counts.
#[test]
fn debian_haproxy_exporter_reads_ringlb() {
    let test = "debian_haproxy_exporter_reads_ringlb";
    let Some(exporter) = tool(
        test,
        "/usr/bin/prometheus-haproxy-exporter",
        "prometheus-haproxy-exporter",
    ) else {
        return;
    };
    let srv = Server::start(answer);
    let dir = TempDir::new("promex-exporter");
    let sock = dir.0.join("stats.sock");
    let config = format!(
        "global\n    stats socket {1} mode 600 level admin\n\
         defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind fd@3\n    stats enable\n    stats uri /st\n    default_backend be\n\
         backend be\n    server s1 {0}\n    server s2 {0}\n",
        srv.addr,
        sock.display(),
    );
    let p = start("ringlb", &crate::harness::ringlb(), &config);
    for _ in 0..4 {
        assert_eq!(get(p.addr, "/").status, 200);
    }
    for uri in [
        format!("unix:{}", sock.display()),
        format!("http://{}/st;csv", p.addr),
    ] {
        let port = free_port();
        let child = Command::new(&exporter)
            .arg(format!("--haproxy.scrape-uri={uri}"))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let _child = Reaped(child);
        let metrics = poll(port, "/metrics", DEADLINE, |b| {
            b.contains("haproxy_up ").then(|| b.to_string())
        })
        .unwrap_or_else(|| panic!("{uri}: the exporter never answered"));
        assert!(
            metrics.lines().any(|l| l == "haproxy_up 1"),
            "{uri}: {metrics}"
        );
        for s in ["s1", "s2"] {
            let want = format!(
                "haproxy_server_http_responses_total{{backend=\"be\",code=\"2xx\",server=\"{s}\"}} 2"
            );
            assert!(
                metrics.lines().any(|l| l == want),
                "{uri}: {want}\n{metrics}"
            );
        }
        assert!(
            metrics
                .lines()
                .any(|l| l == "haproxy_server_up{backend=\"be\",server=\"s1\"} 1"),
            "{uri}"
        );
    }
}

/// Debian's Prometheus server scrapes ringlb's exporter and its query API
/// answers a quantile of the backend's response time histogram.
#[test]
fn prometheus_server_scrapes_the_histograms() {
    let test = "prometheus_server_scrapes_the_histograms";
    let Some(prometheus) = tool(test, "/usr/bin/prometheus", "prometheus") else {
        return;
    };
    let srv = Server::start(answer);
    let p = start("ringlb", &crate::harness::ringlb(), &cfg(&srv, 1, ""));
    let dir = TempDir::new("promex-prometheus");
    let yml = dir.0.join("prometheus.yml");
    std::fs::write(
        &yml,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: ringlb\n    metrics_path: /metrics\n    \
             static_configs:\n      - targets: ['{}']\n",
            p.addr
        ),
    )
    .unwrap();
    let port = free_port();
    let child = Command::new(&prometheus)
        .arg(format!("--config.file={}", yml.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.0.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _child = Reaped(child);
    // Traffic between the scrapes, until the quantile has two samples to
    // rate over (bounded: 300 requests at most, 30 s at most).
    let query = "/api/v1/query?query=histogram_quantile(0.9,%20rate(ringlb_backend_response_time_seconds_bucket%7Bproxy%3D%22be%22%7D%5B5s%5D))";
    let end = Instant::now() + Duration::from_secs(30);
    let mut answer = None;
    for _ in 0..300 {
        assert_eq!(get(p.addr, "/slow").status, 200);
        if let Some(body) = http_get(port, query) {
            if let Some(v) = quantile(&body) {
                answer = Some(v);
                break;
            }
        }
        assert!(Instant::now() < end, "no quantile within 30 s");
    }
    let v = answer.expect("a quantile");
    // 40 ms of think time: the 0.9 quantile lies past the 32.768 ms bound
    // (in the next bucket on a quiet machine, later under load).
    assert!(v > 0.032 && v < 2.0, "quantile {v}");
}

/// The first value of a Prometheus instant-vector answer, when it is a
/// number (`"result":[{"metric":{..},"value":[<t>,"<v>"]}]`).
fn quantile(body: &str) -> Option<f64> {
    if !body.contains("\"status\":\"success\"") {
        return None;
    }
    let at = body.find("\"value\":[")?;
    let rest = body.get(at + 9..)?;
    let v = rest.split(',').nth(1)?;
    let v = v.trim_start_matches('"').split('"').next()?;
    v.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// The exporter's stream logs as HAProxy's applet does: `fe/<PROMEX>`, no
/// server wait (`0/0/0` for Tw/Tc/Tr), `LR`; a bad query string is a 400.
#[test]
fn the_log_names_the_exporter() {
    let srv = Server::start(answer);
    let config = format!(
        "global\n    log stdout format raw local0\n\
         defaults\n    mode http\n    log global\n    option httplog\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind fd@3\n    http-request use-service prometheus-exporter if {{ path_beg /metrics }}\n    default_backend be\n\
         backend be\n    server s1 {}\n",
        srv.addr
    );
    for (name, program) in crate::harness::programs("the_log_names_the_exporter") {
        let p = start(name, &program, &config);
        for (path, status) in [("/metrics", "200"), ("/metrics?scope=nope", "400")] {
            assert_eq!(get(p.addr, path).status.to_string(), status, "{name}");
            let line = p.next_log();
            let l = crate::server::HttpLog::parse(&line);
            assert_eq!(l.backend_server, "fe/<PROMEX>", "{name}: {line}");
            assert_eq!(l.status, status, "{name}: {line}");
            assert_eq!(l.termination, "LR--", "{name}: {line}");
            let timers: Vec<&str> = line.split(' ').nth(4).unwrap().split('/').collect();
            assert_eq!(
                timers.get(1..4),
                Some(&["0", "0", "0"][..]),
                "{name}: {line}"
            );
        }
    }
}

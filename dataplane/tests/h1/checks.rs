//! Health checks in HTTP mode: a server marked DOWN gets no request, and a
//! backend with no usable server answers HAProxy's 503 (SC, <NOSRV>).

use std::path::Path;
use std::time::Instant;

use crate::harness::{refused_addr, start, Proxy, DEADLINE};
use crate::server::{config, next_http_log, ok, Answer, Client, Seen, Server};

fn fine(_: &Seen) -> Answer {
    ok("fine")
}

/// Wait for the state-change line naming `server` DOWN.
fn wait_down(p: &Proxy, server: &str) {
    let end = Instant::now() + DEADLINE;
    let want = format!("Server be/{server} is DOWN, reason: Layer4 connection problem, info: \"Connection refused\"");
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        if let Ok(l) = p.stdout.recv_timeout(left) {
            if l.starts_with(&want) {
                return;
            }
        }
    }
    panic!("{server} never went DOWN");
}

fn down_servers_get_no_request(name: &str, program: &Path) {
    let srv = Server::start(fine);
    let p = start(
        name,
        program,
        &config(
            &[
                format!("s1 {} check inter 100", srv.addr),
                format!("s2 {} check inter 100 fall 1", refused_addr()),
            ],
            "option httpchk GET /health\nretries 1",
        ),
    );
    wait_down(&p, "s2");
    for i in 0..6 {
        let mut c = Client::connect(p.addr);
        c.send(format!("GET /r{i} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
        assert_eq!(c.response(false).status, 200, "{name}: request {i}");
        let l = next_http_log(&p);
        assert_eq!(
            (l.backend_server.as_str(), l.termination.as_str()),
            ("be/s1", "----"),
            "{name}: request {i}"
        );
    }
    drop(p);

    // Nothing left: the proxy answers 503 itself.
    let p = start(
        name,
        program,
        &config(
            &[format!("s1 {} check inter 100 fall 1", refused_addr())],
            "option httpchk",
        ),
    );
    wait_down(&p, "s1");
    let mut c = Client::connect(p.addr);
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let r = c.response(false);
    assert_eq!(r.status, 503, "{name}");
    let l = next_http_log(&p);
    assert_eq!(
        (
            l.backend_server.as_str(),
            l.status.as_str(),
            l.termination.as_str()
        ),
        ("be/<NOSRV>", "503", "SC--"),
        "{name}"
    );
}
on_both!(
    down_servers_get_no_request,
    down_servers_get_no_request_on_haproxy,
    down_servers_get_no_request_on_ringlb
);

/// A stub HTTP server recording each request head; it answers `/a` with
/// an `x-ok` header of several values and `/b` with a `tag` header whose
/// whole value is "a, b" while `ok` holds.
fn recording_http(
    ok: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> (
    crate::harness::Backend,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    use std::io::{Read, Write};
    let got: std::sync::Arc<std::sync::Mutex<Vec<String>>> = std::sync::Arc::default();
    let g = std::sync::Arc::clone(&got);
    let b = crate::harness::Backend::spawn_with(move |mut s| {
        let mut seen = Vec::new();
        let mut buf = [0u8; 1024];
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
        let head = String::from_utf8_lossy(&seen).into_owned();
        let tag = if ok.load(std::sync::atomic::Ordering::Relaxed) {
            "a, b"
        } else {
            "a"
        };
        let extra = if head.starts_with("GET /a") {
            "x-ok: nope, yes-sir\r\n".to_string()
        } else {
            format!("tag: {tag}\r\n")
        };
        g.lock().unwrap().push(head);
        let _ = write!(
            s,
            "HTTP/1.1 200 OK\r\n{extra}content-length: 0\r\nconnection: close\r\n\r\n"
        );
    });
    (b, got)
}

/// A two-step http-check: uri-lf and a log-format header value, expect hdr
/// over the comma-separated values, a second connect and send with
/// send-state, expect fhdr over the whole value with on-error words and a
/// comment. The state-change lines are haproxy's; the requests the server
/// got are checked.
fn multi_step_http_check(name: &str, program: &Path) {
    let ok = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (srv, got) = recording_http(std::sync::Arc::clone(&ok));
    let p = start(
        name,
        program,
        &crate::harness::config(
            "",
            "    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n",
            &format!(
                "    option httpchk\n    http-check send-state\n    http-check connect\n    http-check send meth GET uri-lf /a/%[srv_name] ver HTTP/1.1 hdr Host www hdr X-Srv %[srv_name]\n    http-check expect hdr name -m beg x-o value -m beg yes\n    http-check connect\n    http-check send uri /b\n    http-check expect fhdr name tag value \"a, b\" on-error \"no tag on %[srv_name]\" comment \"want both\"\n    server s1 {} check inter 100 rise 1 fall 1\n",
                srv.addr
            ),
        ),
    );
    let line = |p: &Proxy| {
        let end = Instant::now() + DEADLINE;
        let mut all = Vec::new();
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            if let Ok(l) = p.stdout.recv_timeout(left) {
                all.push(l.clone());
                if l.starts_with("Server ") {
                    let i = l.find("check duration: ").unwrap();
                    let j = l[i..].find("ms").unwrap();
                    return format!("{}N{}", &l[..i + 16], &l[i + j..]);
                }
            }
        }
        panic!("no state change: {all:?} {:?}", got.lock().unwrap());
    };
    assert_eq!(
        line(&p),
        "Server be/s1 is DOWN, reason: Layer7 wrong status, code: 200, info: \"no tag on s1 comment: want both\", check duration: Nms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.",
        "{name}"
    );
    let reqs = got.lock().unwrap().clone();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let state = format!(
        "x-haproxy-server-state: UP; address=127.0.0.1; port={}; name=be/s1; node={}; weight=1/1; scur=0/0; qcur=0\r\n",
        srv.addr.port(),
        host.trim()
    );
    assert_eq!(
        reqs[0],
        format!("GET /a/s1 HTTP/1.1\r\nhost: www\r\nx-srv: s1\r\n{state}connection: close\r\n\r\n"),
        "{name}"
    );
    assert_eq!(
        reqs[1],
        format!("OPTIONS /b HTTP/1.0\r\n{state}\r\n"),
        "{name}"
    );
    ok.store(true, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        line(&p),
        "Server be/s1 is UP, reason: Layer7 check passed, code: 200, check duration: Nms. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.",
        "{name}"
    );
}
on_both!(
    multi_step_http_check,
    multi_step_http_check_on_haproxy,
    multi_step_http_check_on_ringlb
);

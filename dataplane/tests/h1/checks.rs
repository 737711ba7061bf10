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

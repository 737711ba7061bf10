//! `monitor fail`: a `monitor-uri` request answered 503 instead of 200
//! when a condition holds, by the proxy, unlogged.

use std::path::Path;
use std::time::Duration;

use crate::harness::start;
use crate::server::{config, ok, Client, Server};

fn monitor_fail(name: &str, program: &Path) {
    let srv = Server::start(|_| ok("origin"));
    let cfg = config(&[format!("s1 {}", srv.addr)], "").replace(
        "frontend fe\n",
        "frontend fe\n    monitor-uri /healthz\n    \
         acl down nbsrv(be) lt 1\n    \
         monitor fail if down\n    \
         monitor fail if { req.hdr(x-fail) -m found }\n    \
         monitor fail unless { src 127.0.0.0/8 }\n",
    );
    let p = start(name, program, &cfg);
    for (extra, status) in [("", 200), ("X-Fail: 1\r\n", 503)] {
        let mut c = Client::connect(p.addr);
        c.send(format!("GET /healthz HTTP/1.1\r\nHost: a\r\n{extra}\r\n").as_bytes());
        let r = c.response(false);
        assert_eq!(r.status, status, "{name}: {extra:?}");
    }
    assert!(srv.nothing_within(Duration::from_millis(100)), "{name}");
    // Neither was logged: the next line is the next request's.
    let mut c = Client::connect(p.addr);
    c.send(b"GET /other HTTP/1.1\r\nHost: a\r\nX-Fail: 1\r\n\r\n");
    assert_eq!(c.response(false).body, b"origin", "{name}");
    let line = p.next_log();
    assert!(line.ends_with("\"GET /other HTTP/1.1\""), "{name}: {line}");
}
on_both!(
    monitor_fail,
    monitor_fail_on_haproxy,
    monitor_fail_on_ringlb
);

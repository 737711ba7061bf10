//! Frontend options the proxy answers by itself: `monitor fail` (a
//! `monitor-uri` request answered 503 instead of 200 when a condition
//! holds, unlogged) and `option http-use-proxy-header` (proxy
//! authentication for proxied requests).

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

/// `option http-use-proxy-header`: a proxied request (an absolute URI) is
/// asked for proxy credentials (407, Proxy-Authenticate) and checked
/// against Proxy-Authorization; an origin-form one keeps 401 and
/// Authorization.
fn use_proxy_header(name: &str, program: &Path) {
    let srv = Server::start(|_| ok("origin"));
    let cfg = format!(
        "userlist users\n    user user insecure-password pass\n{}",
        config(&[format!("s1 {}", srv.addr)], "").replace(
            "frontend fe\n",
            "frontend fe\n    option http-use-proxy-header\n    \
             http-request auth realm inside unless { http_auth(users) }\n",
        )
    );
    let p = start(name, program, &cfg);
    // "user:pass"
    let creds = "Basic dXNlcjpwYXNz";
    for (target, header, status, challenge) in [
        ("http://a/x", "", 407, Some("proxy-authenticate")),
        (
            "http://a/x",
            "Authorization",
            407,
            Some("proxy-authenticate"),
        ),
        ("http://a/x", "Proxy-Authorization", 200, None),
        ("/x", "", 401, Some("www-authenticate")),
        ("/x", "Proxy-Authorization", 401, Some("www-authenticate")),
        ("/x", "Authorization", 200, None),
    ] {
        let mut c = Client::connect(p.addr);
        let h = if header.is_empty() {
            String::new()
        } else {
            format!("{header}: {creds}\r\n")
        };
        c.send(format!("GET {target} HTTP/1.1\r\nHost: a\r\n{h}\r\n").as_bytes());
        let r = c.response(false);
        let what = format!("{name}: {target} with {header:?}");
        assert_eq!(r.status, status, "{what}");
        if let Some(ch) = challenge {
            assert_eq!(r.header(ch), Some("Basic realm=\"inside\""), "{what}");
        }
        let _ = p.next_log();
    }
}
on_both!(
    use_proxy_header,
    use_proxy_header_on_haproxy,
    use_proxy_header_on_ringlb
);

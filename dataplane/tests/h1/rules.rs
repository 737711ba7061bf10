//! The rule language end to end through the proxy: the same requests
//! through the same rules on haproxy and ringlb, and what the client and
//! the server saw compared (the rule engine's own differential test runs
//! the rules in-process; this one runs them in the stream, in HAProxy's
//! order: frontend http-request, use_backend, backend http-request,
//! http-response, http-after-response).

use std::path::Path;

use crate::harness::{start, TempDir};
use crate::server::{config, Answer, Client, Seen, Server};

fn show(s: &Seen) -> Answer {
    let mut hdrs: Vec<String> = s
        .headers
        .iter()
        .filter(|(n, _)| n.to_ascii_lowercase().starts_with("x-"))
        .map(|(n, v)| format!("{}={v}", n.to_ascii_lowercase()))
        .collect();
    hdrs.sort();
    let body = format!("{} {}", s.line, hdrs.join(","));
    Answer::Send(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nX-Secret: s\r\nServer: origin\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

fn other(s: &Seen) -> Answer {
    let body = format!("other {}", s.line);
    Answer::Send(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

const REQUESTS: [&str; 10] = [
    "GET /a?x=1 HTTP/1.1\r\nHost: www.example.org\r\nX-Drop: 1\r\n\r\n",
    "GET /old/page HTTP/1.1\r\nHost: www.example.org\r\n\r\n",
    "GET /admin HTTP/1.1\r\nHost: www.example.org\r\n\r\n",
    "GET /ping HTTP/1.1\r\nHost: www.example.org\r\n\r\n",
    "GET /b HTTP/1.1\r\nHost: API.example.org\r\n\r\n",
    "GET /b HTTP/1.1\r\nHost: unknown.example.org\r\n\r\n",
    "GET /v1/users/42 HTTP/1.1\r\nHost: www.example.org\r\nX-Forwarded-Proto: http\r\n\r\n",
    "POST /form HTTP/1.1\r\nHost: www.example.org\r\nContent-Length: 3\r\n\r\nabc",
    "GET /private HTTP/1.1\r\nHost: www.example.org\r\nAuthorization: Basic dXNlcjpwYXNz\r\n\r\n",
    "GET /private HTTP/1.1\r\nHost: www.example.org\r\n\r\n",
];

/// (status, the headers the rules touch, body) per request.
fn run(name: &str, program: &Path) -> Vec<String> {
    let (a, b) = (Server::start(show), Server::start(other));
    let dir = TempDir::new("rules");
    let map = dir.0.join("hosts.map");
    std::fs::write(&map, "api.example.org other\nwww.example.org be\n").unwrap();
    let cfg = config(&[format!("s1 {}", a.addr)], "")
        .replace(
            "frontend fe\n",
            &format!(
                "userlist users\n    user user insecure-password pass\n\
                 frontend fe\n\
                 \x20   acl is_admin path_beg /admin\n\
                 \x20   http-request del-header X-Drop\n\
                 \x20   http-request set-header X-Path %[path]\n\
                 \x20   http-request set-var(txn.host) req.hdr(host),lower\n\
                 \x20   http-request redirect prefix /new code 301 if {{ path_beg /old }}\n\
                 \x20   http-request deny deny_status 403 if is_admin\n\
                 \x20   http-request return status 200 content-type text/plain string pong if {{ path /ping }}\n\
                 \x20   http-request auth realm private if {{ path /private }} !{{ http_auth(users) }}\n\
                 \x20   http-request replace-path /v1/(.*) /api/\\1\n\
                 \x20   http-request set-header X-Method %[method] if METH_POST\n\
                 \x20   http-response del-header X-Secret\n\
                 \x20   http-response set-header X-Host %[var(txn.host)]\n\
                 \x20   http-after-response set-header X-After yes\n\
                 \x20   use_backend %[req.hdr(host),lower,map({},be)]\n",
                map.display()
            ),
        )
        .replace(
            "\nbackend be\n",
            &format!(
                "\nbackend other\n    http-request set-header X-Backend other\n    server s2 {}\nbackend be\n",
                b.addr
            ),
        );
    let p = start(name, program, &cfg);
    REQUESTS
        .iter()
        .map(|r| {
            let mut c = Client::connect(p.addr);
            c.send(r.as_bytes());
            let res = c.response(false);
            let mut h: Vec<String> = res
                .headers
                .iter()
                .filter(|(n, _)| {
                    let n = n.to_ascii_lowercase();
                    n.starts_with("x-")
                        || n == "location"
                        || n == "www-authenticate"
                        || n == "server"
                })
                .map(|(n, v)| format!("{}={v}", n.to_ascii_lowercase()))
                .collect();
            h.sort();
            format!(
                "{} => {} {:?} {}",
                r.lines().next().unwrap_or(""),
                res.status,
                h,
                String::from_utf8_lossy(&res.body)
                    .lines()
                    .next()
                    .unwrap_or("")
            )
        })
        .collect()
}

#[test]
fn rules_run_in_the_stream_as_on_haproxy() {
    let Some(h) = crate::harness::haproxy("rules_run_in_the_stream_as_on_haproxy") else {
        return;
    };
    let want = run("haproxy", &h);
    // The requests do reach each rule (not vacuously equal answers).
    for (i, part) in [
        (1, " => 301 "),
        (2, " => 403 "),
        (3, "pong"),
        (4, "other GET /b"),
        (6, "GET /api/users/42"),
        (7, "x-method=POST"),
        (8, "GET /private HTTP/1.1 x-path"),
        (9, " => 401 "),
    ] {
        assert!(want[i].contains(part), "haproxy: {}", want[i]);
    }
    let got = run("ringlb", &crate::harness::ringlb());
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(g, w);
    }
}

/// `redirect` directives: after a proxy's http-request rules (an `allow`
/// included, and a rule written after them), frontend then backend.
fn redirects(name: &str, program: &Path) -> Vec<String> {
    let a = Server::start(show);
    let cfg = config(&[format!("s1 {}", a.addr)], "")
        .replace(
            "frontend fe\n",
            "frontend fe\n\
             \x20   http-request allow if { path /allowed }\n\
             \x20   redirect location /moved code 301 if { path /allowed }\n\
             \x20   redirect prefix /p drop-query if { path_beg /q }\n\
             \x20   redirect scheme https code 308 if { path /s }\n\
             \x20   http-request return status 200 content-type text/plain string first if { path /s }\n",
        )
        .replace(
            "\nbackend be\n",
            "\nbackend be\n    redirect location /from-backend set-cookie SEEN=1 if { path /be }\n",
        );
    let p = start(name, program, &cfg);
    [
        "GET /allowed HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /q/x?a=1 HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /s HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /be HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /other HTTP/1.1\r\nHost: h\r\n\r\n",
    ]
    .iter()
    .map(|r| {
        let mut c = Client::connect(p.addr);
        c.send(r.as_bytes());
        let res = c.response(false);
        let mut h: Vec<String> = res
            .headers
            .iter()
            .filter(|(n, _)| {
                let n = n.to_ascii_lowercase();
                n == "location" || n == "set-cookie"
            })
            .map(|(n, v)| format!("{}={v}", n.to_ascii_lowercase()))
            .collect();
        h.sort();
        let body = String::from_utf8_lossy(&res.body);
        format!(
            "{} => {} {:?} {}",
            r.lines().next().unwrap_or(""),
            res.status,
            h,
            if res.status == 200 {
                body.lines().next().unwrap_or("")
            } else {
                ""
            }
        )
    })
    .collect()
}

#[test]
fn redirect_directives_run_as_on_haproxy() {
    let Some(h) = crate::harness::haproxy("redirect_directives_run_as_on_haproxy") else {
        return;
    };
    let want = redirects("haproxy", &h);
    for (i, part) in [
        (0, " => 301 [\"location=/moved\"]"),
        (1, " => 302 [\"location=/p/q/x\"]"),
        (2, " => 200 [] first"),
        (3, "location=/from-backend"),
        (4, " => 200 [] GET /other"),
    ] {
        assert!(want[i].contains(part), "haproxy: {}", want[i]);
    }
    let got = redirects("ringlb", &crate::harness::ringlb());
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(g, w);
    }
}

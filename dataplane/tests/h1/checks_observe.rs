//! `observe layer7`: HTTP responses judge the server between its checks.
//! 5xx but 501 and 505 count as errors, as do a server that closes or
//! says nothing before `timeout server`; `error-limit` of them in a row
//! take it DOWN (`on-error mark-down`). The checks (`/health`) pass all
//! along. Each scenario runs on haproxy first; the state-change lines are
//! compared with haproxy's. Then `on-marked-down shutdown-sessions` in
//! HTTP mode: a request waiting for its response gets a 502 (DH), one
//! whose response is under way is cut (DD).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::harness::{start, Proxy, DEADLINE};
use crate::server::{config, next_http_log, ok, Answer, Client, HttpLog, Seen, Server};

/// `/health` passes; `/eNNN` answers NNN; `/close` closes without an
/// answer; `/hang` never answers; anything else is 200.
fn answer(s: &Seen) -> Answer {
    let path = s.line.split(' ').nth(1).unwrap_or("/");
    if let Some(code) = path.strip_prefix("/e") {
        return Answer::Send(
            format!("HTTP/1.1 {code} Oops\r\nContent-Length: 4\r\n\r\noops").into_bytes(),
        );
    }
    match path {
        // A head and the start of a long body, then nothing.
        "/body" => Answer::Send(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\nabc".to_vec()),
        "/close" => Answer::Close,
        "/hang" => Answer::Hang,
        _ => ok("fine"),
    }
}

fn is_check_line(l: &str) -> bool {
    l.starts_with("Server ") || l.contains(" has no server available!")
}

/// A state-change line with its check duration and `sessions active`
/// masked: HAProxy counts the stream whose response tripped the limit
/// while it is still being forwarded, ringlb whatever is left when its
/// check task acts (and with shutdown-sessions haproxy's threads race
/// its count).
fn masked(l: String) -> String {
    let l = match l.find("check duration: ") {
        Some(i) => {
            let after = &l[i + "check duration: ".len()..];
            let digits = after.chars().take_while(char::is_ascii_digit).count();
            format!("{}check duration: N{}", &l[..i], &after[digits..])
        }
        None => l,
    };
    match l.find(" sessions active") {
        Some(e) => {
            let s = l[..e].rfind(' ').map_or(0, |i| i + 1);
            format!("{}N{}", &l[..s], &l[e..])
        }
        None => l,
    }
}

/// The next state-change line, masked.
fn next_check_line(p: &Proxy, what: &str) -> String {
    let end = Instant::now() + DEADLINE;
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        match p.stdout.recv_timeout(left) {
            Ok(l) if is_check_line(&l) => return masked(l),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    panic!("{what}: no state-change line within {DEADLINE:?}");
}

fn no_check_line(p: &Proxy, d: Duration, what: &str) {
    let end = Instant::now() + d;
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        if let Ok(l) = p.stdout.recv_timeout(left) {
            assert!(!is_check_line(&l), "{what}: unexpected {l}");
        }
    }
}

fn get(p: &Proxy, path: &str) -> u16 {
    let mut c = Client::connect(p.addr);
    c.send(format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
    c.response(false).status
}

/// A proxy in front of `srv` observing layer 7, its first check passed (a
/// passed check ends a run of errors; nothing shows when its result is
/// applied: a short settle after the server saw it).
fn observed(name: &str, program: &Path, srv: &Server, extra: &str, limit: u32) -> Proxy {
    let p = start(
        name,
        program,
        &config(
            &[format!(
                "s1 {} check inter 20s observe layer7 error-limit {limit} on-error mark-down",
                srv.addr
            )],
            &format!("option httpchk GET /health\nretries 0\n{extra}"),
        ),
    );
    // The server saw this proxy's first check (after what it saw before).
    while !srv.next().line.starts_with("GET /health") {}
    std::thread::sleep(Duration::from_millis(100));
    p
}

fn down_line(last: &str) -> String {
    format!(
        "Server be/s1 is DOWN, reason: Health analyze, info: \"Detected 3 consecutive errors, last one was: {last}\". 0 active and 0 backup servers left. N sessions active, 0 requeued, 0 remaining in queue."
    )
}

/// 500s in a row take the server down; a 501 (or 505), which a request
/// provokes, ends a run.
fn wrong_statuses_mark_the_server_down(name: &str, program: &Path) {
    let srv = Server::start(answer);
    let p = observed(name, program, &srv, "", 3);
    for path in [
        "/e500", "/e502", "/e501", "/e503", "/e505", "/ok", "/e500", "/e500",
    ] {
        let want = path.strip_prefix("/e").map_or(200, |c| c.parse().unwrap());
        assert_eq!(get(&p, path), want, "{name}: {path}");
    }
    no_check_line(&p, Duration::from_millis(300), name);
    assert_eq!(get(&p, "/e504"), 504, "{name}");
    assert_eq!(
        next_check_line(&p, name),
        down_line("Wrong http response"),
        "{name}"
    );
    assert_eq!(
        next_check_line(&p, name),
        "backend be has no server available!",
        "{name}"
    );
    assert_eq!(get(&p, "/ok"), 503, "{name}: no server left");
}
on_both!(
    wrong_statuses_mark_the_server_down,
    wrong_statuses_mark_the_server_down_on_haproxy,
    wrong_statuses_mark_the_server_down_on_ringlb
);

/// A server that closes before answering, or says nothing before
/// `timeout server`, counts too; the line names the last error.
fn silent_servers_mark_the_server_down(name: &str, program: &Path) {
    let srv = Server::start(answer);
    let p = observed(name, program, &srv, "timeout server 300ms", 3);
    assert_eq!(get(&p, "/close"), 502, "{name}");
    assert_eq!(get(&p, "/hang"), 504, "{name}");
    no_check_line(&p, Duration::from_millis(200), name);
    assert_eq!(get(&p, "/hang"), 504, "{name}");
    assert_eq!(
        next_check_line(&p, name),
        down_line("Read timeout (http)"),
        "{name}"
    );
    let p = observed(name, program, &srv, "timeout server 300ms", 3);
    assert_eq!(get(&p, "/hang"), 504, "{name}");
    assert_eq!(get(&p, "/close"), 502, "{name}");
    assert_eq!(get(&p, "/close"), 502, "{name}");
    assert_eq!(
        next_check_line(&p, name),
        down_line("Close from server (http)"),
        "{name}"
    );
}
on_both!(
    silent_servers_mark_the_server_down,
    silent_servers_mark_the_server_down_on_haproxy,
    silent_servers_mark_the_server_down_on_ringlb
);

/// `on-marked-down shutdown-sessions` in HTTP mode: the server's check
/// port closes, it goes DOWN, and its two live requests end: the one
/// waiting for its response head with a 502 (`DH--`), the one whose body
/// was under way cut short (`DD--`).
fn shutdown_sessions_in_http_mode(name: &str, program: &Path) {
    let srv = Server::start(answer);
    let checks = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let check_port = checks.local_addr().unwrap().port();
    let check_sock = socket2::Socket::from(checks.try_clone().unwrap());
    std::thread::spawn(move || for _ in checks.incoming().map_while(Result::ok) {});
    let p = start(
        name,
        program,
        &config(
            &[format!(
                "s1 {} check port {check_port} inter 100 fall 1 on-marked-down shutdown-sessions",
                srv.addr
            )],
            "",
        ),
    );
    let send = |path: &str| {
        let mut c = TcpStream::connect(p.addr).unwrap();
        c.set_read_timeout(Some(DEADLINE)).unwrap();
        c.write_all(format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes())
            .unwrap();
        c
    };
    let mut hang = Client::connect(p.addr);
    hang.send(b"GET /hang HTTP/1.1\r\nHost: a\r\n\r\n");
    let mut body = send("/body");
    let mut head = [0u8; 12];
    body.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200", "{name}");
    // Both requests reached the server before its checks fail.
    for _ in 0..2 {
        srv.next();
    }
    let _ = check_sock.shutdown(Shutdown::Both);
    // The DOWN line and the two killed requests' lines, in any order
    // (haproxy's other thread may log first).
    let mut down = None;
    let mut logs = Vec::new();
    let end = Instant::now() + DEADLINE;
    while down.is_none() || logs.len() < 2 {
        let left = end.saturating_duration_since(Instant::now());
        let l = p.stdout.recv_timeout(left).unwrap_or_else(|_| {
            panic!("{name}: DOWN {down:?}, killed {logs:?} after {DEADLINE:?}")
        });
        if l.starts_with("Server ") {
            down = Some(masked(l));
        } else if l.contains(" [") && l.ends_with('"') {
            let l = HttpLog::parse(&l);
            logs.push((l.request, l.status, l.termination));
        }
    }
    assert_eq!(
        down.unwrap(),
        "Server be/s1 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: Nms. 0 active and 0 backup servers left. N sessions active, 0 requeued, 0 remaining in queue.",
        "{name}"
    );
    logs.sort();
    let row =
        |r: &str, s: &str, t: &str| (format!("\"{r} HTTP/1.1\""), s.to_string(), t.to_string());
    assert_eq!(
        logs,
        [
            row("GET /body", "200", "DD--"),
            row("GET /hang", "502", "DH--")
        ],
        "{name}"
    );
    assert_eq!(hang.response(false).status, 502, "{name}");
    // The request had gone out whole: the client connection goes on.
    hang.send(b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(hang.response(false).status, 503, "{name}: no server left");
    let l = next_http_log(&p);
    assert_eq!(
        (l.status.as_str(), l.termination.as_str()),
        ("503", "SC--"),
        "{name}"
    );
    let mut rest = Vec::new();
    let _ = body.read_to_end(&mut rest);
    assert!(rest.len() < 100_000, "{name}: the body was cut short");
}
on_both!(
    shutdown_sessions_in_http_mode,
    shutdown_sessions_in_http_mode_on_haproxy,
    shutdown_sessions_in_http_mode_on_ringlb
);

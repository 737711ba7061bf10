//! `observe layer7`: HTTP responses judge the server between its checks.
//! 5xx but 501 and 505 count as errors, as do a server that closes or
//! says nothing before `timeout server`; `error-limit` of them in a row
//! take it DOWN (`on-error mark-down`). The checks (`/health`) pass all
//! along. Each scenario runs on haproxy first; the state-change lines are
//! compared with haproxy's.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::harness::{start, Proxy, DEADLINE};
use crate::server::{config, ok, Answer, Client, Seen, Server};

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
        "/close" => Answer::Close,
        "/hang" => Answer::Hang,
        _ => ok("fine"),
    }
}

fn is_check_line(l: &str) -> bool {
    l.starts_with("Server ") || l.contains(" has no server available!")
}

/// The next state-change line; `sessions active` masked: HAProxy counts
/// the stream whose response tripped the limit while it is still being
/// forwarded, ringlb whatever is left when its check task acts.
fn next_check_line(p: &Proxy, what: &str) -> String {
    let end = Instant::now() + DEADLINE;
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        match p.stdout.recv_timeout(left) {
            Ok(l) if is_check_line(&l) => {
                return match l.find(" sessions active") {
                    Some(e) => {
                        let s = l[..e].rfind(' ').map_or(0, |i| i + 1);
                        format!("{}N{}", &l[..s], &l[e..])
                    }
                    None => l,
                };
            }
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

//! Persistence cookie options on haproxy and ringlb: dates (`maxidle`,
//! `maxlife`: the inserted value `SRV|LAST|FIRST`, HAProxy's s30tob64 of
//! 4-second periods; a cookie idle too long (`E`) or too old (`O`)
//! ignored, a valid one refreshed once its last date is past (`U`)),
//! `dynamic` server values and several `domain`s.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::harness::start;
use crate::server::{config, Answer, Client, Seen, Server};

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// A date as the cookie carries it (`date >> 2` in five characters).
fn enc(secs: u64) -> String {
    let v = (secs >> 2) as u32;
    (0..5)
        .map(|i| char::from(B64[((v >> (24 - 6 * i)) & 0x3f) as usize]))
        .collect()
}

fn dec(s: &str) -> u64 {
    let v = s.bytes().fold(0u64, |v, c| {
        (v << 6) | B64.iter().position(|b| *b == c).unwrap() as u64
    });
    v << 2
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn who(name: &'static str) -> fn(&Seen) -> Answer {
    fn a1(_: &Seen) -> Answer {
        crate::server::ok("a1")
    }
    fn b2(_: &Seen) -> Answer {
        crate::server::ok("b2")
    }
    if name == "a1" {
        a1
    } else {
        b2
    }
}

fn dates(name: &str, program: &Path) {
    let (a, b) = (Server::start(who("a1")), Server::start(who("b2")));
    let cfg = config(
        &[
            format!("s1 {} cookie a1", a.addr),
            format!("s2 {} cookie b2", b.addr),
        ],
        "",
    )
    .replace("    option httplog\n", "")
    .replace("frontend fe\n", "frontend fe\n    log-format \"%tsc %s\"\n")
    .replace(
        "backend be\n",
        "backend be\n    cookie SRV insert maxidle 60s maxlife 1h\n",
    );
    let p = start(name, program, &cfg);
    let t = now();
    // (Cookie sent, %tsc, whether a Set-Cookie comes, the FIRST it keeps)
    let cases: Vec<(Option<String>, &str, bool, Option<String>)> = vec![
        (None, "NI", true, None),
        // Valid and not due: nothing set.
        (
            Some(format!("a1|{}|{}", enc(t + 100), enc(t - 10))),
            "VN",
            false,
            None,
        ),
        // Idle too long, then dated more than a day ahead: expired.
        (
            Some(format!("a1|{}|{}", enc(t - 1000), enc(t - 1000))),
            "EI",
            true,
            None,
        ),
        (
            Some(format!("a1|{}|{}", enc(t + 100_000), enc(t - 10))),
            "EI",
            true,
            None,
        ),
        // Older than maxlife.
        (
            Some(format!("a1|{}|{}", enc(t - 20), enc(t - 10_000))),
            "OI",
            true,
            None,
        ),
        // Valid, its last date past: refreshed, its first date kept.
        (
            Some(format!("a1|{}|{}", enc(t - 20), enc(t - 30))),
            "VU",
            true,
            Some(enc(t - 30)),
        ),
        // Valid without a first date: maxlife adds one.
        (Some(format!("a1|{}", enc(t + 100))), "VU", true, None),
    ];
    for (cookie, tsc, set, first) in cases {
        let mut c = Client::connect(p.addr);
        let hdr = cookie
            .as_ref()
            .map(|v| format!("Cookie: SRV={v}\r\n"))
            .unwrap_or_default();
        c.send(format!("GET / HTTP/1.1\r\nHost: a\r\n{hdr}\r\n").as_bytes());
        let r = c.response(false);
        let srv = String::from_utf8(r.body.clone()).unwrap();
        let line = p.next_log();
        let what = format!("{name}: cookie {cookie:?}: {line}");
        let expected_srv = if srv == "a1" { "s1" } else { "s2" };
        assert_eq!(line, format!("--{tsc} {expected_srv}"), "{what}");
        if tsc.starts_with('V') {
            assert_eq!(srv, "a1", "{what}");
        }
        let set_cookie = r.header("set-cookie");
        assert_eq!(set_cookie.is_some(), set, "{what}: {set_cookie:?}");
        let Some(v) = set_cookie else { continue };
        let v = v
            .strip_prefix(&format!("SRV={srv}|"))
            .and_then(|v| v.strip_suffix("; path=/"))
            .unwrap_or_else(|| panic!("{what}: {v}"));
        let (last, f) = v.split_once('|').unwrap_or_else(|| panic!("{what}: {v}"));
        let near = |d: u64| d + 8 >= t && d <= now() + 8;
        assert!(near(dec(last)), "{what}: last {last} ({})", dec(last));
        match &first {
            Some(kept) => assert_eq!(f, kept, "{what}"),
            None => assert!(near(dec(f)), "{what}: first {f}"),
        }
    }
}
on_both!(dates, dates_on_haproxy, dates_on_ringlb);

/// Without maxidle nor maxlife, a dated cookie still names its server
/// (the dates are cut off) and is set again without them.
fn dates_dropped(name: &str, program: &Path) {
    let a = Server::start(who("a1"));
    let cfg = config(&[format!("s1 {} cookie a1", a.addr)], "")
        .replace("    option httplog\n", "")
        .replace("frontend fe\n", "frontend fe\n    log-format \"%tsc %s\"\n")
        .replace("backend be\n", "backend be\n    cookie SRV insert\n");
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    let t = now();
    c.send(
        format!(
            "GET / HTTP/1.1\r\nHost: a\r\nCookie: SRV=a1|{}|{}\r\n\r\n",
            enc(t - 20),
            enc(t - 30)
        )
        .as_bytes(),
    );
    let r = c.response(false);
    assert_eq!(r.header("set-cookie"), Some("SRV=a1; path=/"), "{name}");
    assert_eq!(p.next_log(), "--VU s1", "{name}");
}
on_both!(
    dates_dropped,
    dates_dropped_on_haproxy,
    dates_dropped_on_ringlb
);

/// `dynamic` with `dynamic-cookie-key`: a server without a `cookie` value
/// gets the XXH64 of the key, its address and its port (HAProxy's
/// srv_set_dyncookie); the value sent back sticks to it. Several domains
/// are all set.
fn dynamic(name: &str, program: &Path) {
    let (a, b) = (Server::start(who("a1")), Server::start(who("b2")));
    let cfg = config(
        &[format!("s1 {}", a.addr), format!("s2 {} cookie b2", b.addr)],
        "",
    )
    .replace("    option httplog\n", "")
    .replace("frontend fe\n", "frontend fe\n    log-format \"%tsc %s\"\n")
    .replace(
        "backend be\n",
        "backend be\n    dynamic-cookie-key s3cr3t\n    \
         cookie SRV insert dynamic domain .a.example domain .b.example\n",
    );
    let p = start(name, program, &cfg);
    let mut key = b"s3cr3t".to_vec();
    key.extend_from_slice(&[127, 0, 0, 1]);
    key.extend_from_slice(&u32::from(a.addr.port()).to_be_bytes());
    let dyn_a1 = format!("{:016x}", xxhash_rust::xxh64::xxh64(&key, 0));
    let mut seen = Vec::new();
    for _ in 0..2 {
        let mut c = Client::connect(p.addr);
        c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        let r = c.response(false);
        let srv = String::from_utf8(r.body.clone()).unwrap();
        let value = if srv == "a1" { dyn_a1.as_str() } else { "b2" };
        assert_eq!(
            r.header("set-cookie"),
            Some(format!("SRV={value}; path=/; domain=.a.example; domain=.b.example").as_str()),
            "{name}"
        );
        assert!(p.next_log().starts_with("--NI "), "{name}");
        seen.push(srv);
    }
    seen.sort();
    assert_eq!(seen, ["a1", "b2"], "{name}");
    for _ in 0..2 {
        let mut c = Client::connect(p.addr);
        c.send(format!("GET / HTTP/1.1\r\nHost: a\r\nCookie: SRV={dyn_a1}\r\n\r\n").as_bytes());
        let r = c.response(false);
        assert_eq!(r.body, b"a1", "{name}");
        assert_eq!(p.next_log(), "--VN s1", "{name}");
    }
}
on_both!(dynamic, dynamic_on_haproxy, dynamic_on_ringlb);

//! Balancing on the request: `balance uri`, `url_param`, `hdr` and `hash
//! <expr>` hash what HAProxy hashes, so for the same requests haproxy and ringlb pick
//! the same servers (the map-based and consistent hash placements are
//! HAProxy's).

use std::path::Path;

use crate::harness::start;
use crate::server::{config, ok, Answer, Client, Seen, Server};

fn one(_: &Seen) -> Answer {
    ok("s1")
}
fn two(_: &Seen) -> Answer {
    ok("s2")
}
fn three(_: &Seen) -> Answer {
    ok("s3")
}

/// Which server answered each of `requests` (one connection each).
fn picks(name: &str, program: &Path, balance: &str) -> Vec<String> {
    let (a, b, c) = (Server::start(one), Server::start(two), Server::start(three));
    let cfg = config(
        &[
            format!("s1 {}", a.addr),
            format!("s2 {} weight 2", b.addr),
            format!("s3 {}", c.addr),
        ],
        balance,
    );
    let p = start(name, program, &cfg);
    (0..24)
        .map(|i| {
            let mut cl = Client::connect(p.addr);
            cl.send(
                format!(
                    "GET /dir{}/page{}?x=1&user=u{} HTTP/1.1\r\nHost: a\r\nX-Tenant: t{}, other\r\n\r\n",
                    i % 5,
                    i,
                    i % 7,
                    i % 6
                )
                .as_bytes(),
            );
            String::from_utf8(cl.response(false).body).unwrap()
        })
        .collect()
}

const BALANCES: [&str; 9] = [
    "balance hash path",
    "balance hash req.fhdr(x-tenant)\nhash-type consistent",
    // An integer sample: hashed as its 8 big-endian bytes.
    "balance hash path,crc32",
    "balance uri",
    "balance uri depth 1",
    "balance uri whole\nhash-type consistent",
    "balance url_param user",
    "balance hdr(X-Tenant)",
    "balance uri path-only len 6",
];

/// ringlb picks what haproxy picks, request for request.
#[test]
fn request_hashing_picks_haproxys_servers() {
    let Some(h) = crate::harness::haproxy("request_hashing_picks_haproxys_servers") else {
        return;
    };
    for b in BALANCES {
        let want = picks("haproxy", &h, b);
        let got = picks("ringlb", &crate::harness::ringlb(), b);
        assert_eq!(got, want, "{b}");
        let distinct: std::collections::HashSet<_> = want.iter().collect();
        assert!(distinct.len() > 1, "{b}: the requests all hashed alike");
    }
}

/// `balance url_param`: a POST whose query string lacks the parameter is
/// balanced on its body's (haproxy 2.6 waits for the body and searches
/// it with or without `check_post`): the same servers as haproxy for
/// bodies sent with the head, after it, and chunked.
#[test]
fn post_bodies_pick_haproxys_servers() {
    let Some(h) = crate::harness::haproxy("post_bodies_pick_haproxys_servers") else {
        return;
    };
    fn posts(name: &str, program: &Path, balance: &str) -> Vec<String> {
        let (a, b, c) = (Server::start(one), Server::start(two), Server::start(three));
        let cfg = config(
            &[
                format!("s1 {}", a.addr),
                format!("s2 {} weight 2", b.addr),
                format!("s3 {}", c.addr),
            ],
            balance,
        );
        let p = start(name, program, &cfg);
        (0..18)
            .map(|i| {
                let mut cl = Client::connect(p.addr);
                let body = format!("a=1&user=u{}&z=2", i % 7);
                match i % 3 {
                    0 => cl.send(
                        format!(
                            "POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    ),
                    1 => {
                        cl.send(
                            format!(
                                "POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n",
                                body.len()
                            )
                            .as_bytes(),
                        );
                        std::thread::sleep(std::time::Duration::from_millis(30));
                        cl.send(body.as_bytes());
                    }
                    _ => cl.send(
                        format!(
                            "POST /form HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
                            body.len()
                        )
                        .as_bytes(),
                    ),
                }
                String::from_utf8(cl.response(false).body).unwrap()
            })
            .collect()
    }
    for b in [
        "balance url_param user",
        "balance url_param user check_post\nhash-type consistent",
    ] {
        let want = posts("haproxy", &h, b);
        let got = posts("ringlb", &crate::harness::ringlb(), b);
        assert_eq!(got, want, "{b}");
        let distinct: std::collections::HashSet<_> = want.iter().collect();
        assert!(distinct.len() > 1, "{b}: the requests all hashed alike");
    }
}

/// `balance hash <expr>` in TCP mode, over the client's address: clients
/// from 127.0.0.2 ... 127.0.0.25 land where haproxy sends them.
#[test]
fn tcp_hash_picks_haproxys_servers() {
    let Some(h) = crate::harness::haproxy("tcp_hash_picks_haproxys_servers") else {
        return;
    };
    fn picks(name: &str, program: &Path, balance: &str) -> Vec<String> {
        let (a, b, c) = (Server::start(one), Server::start(two), Server::start(three));
        let cfg = format!(
            "global\n    log stdout format raw local0\n\
             defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n\
             frontend fe\n    bind fd@3\n    default_backend be\n\
             backend be\n    {}\n    server s1 {}\n    server s2 {} weight 2\n    server s3 {}\n",
            balance.replace('\n', "\n    "),
            a.addr,
            b.addr,
            c.addr
        );
        let p = start(name, program, &cfg);
        (2..26u8)
            .map(|i| {
                let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                    .unwrap();
                let from: std::net::SocketAddr = (std::net::Ipv4Addr::new(127, 0, 0, i), 0).into();
                s.bind(&from.into()).unwrap();
                s.connect(&p.addr.into()).unwrap();
                let mut cl = Client::from_stream(s.into());
                cl.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
                String::from_utf8(cl.response(false).body).unwrap()
            })
            .collect()
    }
    for b in [
        "balance hash src",
        "balance hash src\nhash-type consistent",
        "balance hash src,crc32",
    ] {
        let want = picks("haproxy", &h, b);
        let got = picks("ringlb", &crate::harness::ringlb(), b);
        assert_eq!(got, want, "{b}");
        let distinct: std::collections::HashSet<_> = want.iter().collect();
        assert!(distinct.len() > 1, "{b}: the clients all hashed alike");
    }
}

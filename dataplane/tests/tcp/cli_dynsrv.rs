//! Servers that change at run time: `set server addr`, `add server`, `del
//! server`, `wait srv-removable`; their answers compared with haproxy
//! 2.6's on the same config, and their effect on the traffic.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::harness::{held_port, programs, start, Backend, Proxy, TempDir};

/// Send one request line (UNIX path or TCP address), read the answer
/// until the proxy closes.
fn ask(sock: &str, line: &str) -> String {
    crate::harness::cli_ask(sock, line)
}

/// Until the admin socket at `path` takes a connection.
fn wait_for(path: &str) {
    crate::harness::probe::until(&format!("{path} never answered"), || {
        std::os::unix::net::UnixStream::connect(path).is_ok()
    });
}

fn cfg(dir: &TempDir, tcp_port: u16, servers: &str, extra: &str) -> String {
    let d = dir.0.display();
    format!(
        "global\n    stats socket {d}/admin.sock level admin\n    stats socket ipv4@127.0.0.1:{tcp_port} level admin\n\
         defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
         frontend fe\n    bind fd@3\n    default_backend be\n\
         backend be\n    balance roundrobin\n{servers}{extra}"
    )
}

/// `show servers state` with the seconds-since-last-change column masked.
fn mask_state(s: &str) -> String {
    s.lines()
        .map(|l| {
            if l.starts_with('#') || !l.contains(' ') {
                return l.to_string();
            }
            let mut w: Vec<&str> = l.split(' ').collect();
            if let Some(x) = w.get_mut(9) {
                *x = "T";
            }
            w.join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `show stat`'s pxname, svname, status, weight and addr for backend `be`.
fn stat_rows(sock: &str, be: &str) -> Vec<String> {
    let out = ask(sock, "show stat");
    let head: Vec<&str> = out
        .lines()
        .next()
        .unwrap_or("")
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let col = |n: &str| head.iter().position(|h| *h == n).unwrap();
    let (px, sv, st, w, addr) = (
        col("pxname"),
        col("svname"),
        col("status"),
        col("weight"),
        col("addr"),
    );
    out.lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f.get(px) == Some(&be))
        .map(|f| {
            [px, sv, st, w, addr]
                .iter()
                .map(|&i| f.get(i).copied().unwrap_or(""))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect()
}

#[test]
fn dynsrv_answers_match_haproxy() {
    let s1 = Backend::echo();
    let s2 = Backend::echo();
    let s3 = Backend::echo();
    let mut answers = Vec::new();
    for (name, program) in programs("dynsrv_answers_match_haproxy") {
        let dir = TempDir::new("dynsrv");
        let (hold, port) = held_port();
        drop(hold);
        let servers = format!(
            "    use-server s2 if {{ always_false }}\n    server s1 {}\n    server s2 {}\n",
            s1.addr, s2.addr
        );
        let extra = format!(
            "backend st\n    balance static-rr\n    server a {}\n",
            s1.addr
        );
        let _p = start(name, &program, &cfg(&dir, port, &servers, &extra));
        let admin = format!("{}/admin.sock", dir.0.display());
        wait_for(&admin);
        let tcp = format!("127.0.0.1:{port}");
        let (p1, a3) = (s1.addr.port(), s3.addr);
        let got = vec![
            ask(&admin, "set server be/s1 addr 127.0.0.2"),
            ask(&tcp, &format!("set server be/s1 addr 127.0.0.1 port {p1}")),
            ask(&admin, "set server be/s1 addr 127.0.0.1 port 9000"),
            ask(
                &admin,
                &format!("set server be/s1 addr 127.0.0.1 port {p1}"),
            ),
            ask(
                &admin,
                &format!("set server be/s1 addr 127.0.0.1 port {p1}"),
            ),
            ask(&admin, "set server be/s1 addr foo"),
            ask(&admin, "set server be/s1 addr"),
            ask(&admin, "set server be/s1 port 1"),
            ask(&admin, "set server be/s1 fqdn x.example"),
            ask(&admin, "set server be/s1 addr 127.0.0.1 port +5"),
            ask(&admin, "set server be/nope addr 127.0.0.2"),
            ask(&admin, &format!("add server be/s3 {a3}")),
            ask(&tcp, &format!("add server be/s3 {a3}")),
            ask(&admin, &format!("add server st/x {a3}")),
            ask(&admin, "add server be/s4"),
            ask(&admin, &format!("add server be/s5 {a3} bogus")),
            ask(&admin, &format!("add server be/s6 {a3} cookie c")),
            ask(&admin, &format!("add server nope/x {a3}")),
            ask(&admin, "add server be"),
            ask(&admin, &format!("add server be/s7 {a3} disabled")),
            ask(
                &admin,
                &format!("add server be/s8 {a3} id 50 weight 2 maxconn 3"),
            ),
            ask(&admin, &format!("add server be/e1 {a3} weight 300")),
            ask(&admin, &format!("add server be/e2 {a3} weight -1")),
            ask(&admin, &format!("add server be/e3 {a3} id 0")),
            ask(&admin, &format!("add server be/e4 {a3} id")),
            ask(&admin, &format!("add server be/e5 {a3} id 50")),
            ask(&admin, &format!("add server be/e6 {a3} id 1")),
            ask(&admin, "add server be/e7 127.0.0.1:1-5"),
            ask(&admin, &format!("add server be/e8 {a3} no-check")),
            ask(&admin, &format!("add server be/e9 {a3} tcp-ut 5")),
            ask(&admin, &format!("add server be/e$10 {a3}")),
            ask(&admin, &format!("add server be/e11 {a3} no-backup no-tfo")),
            ask(&admin, "add server be/e12 unix@/nonexistent/sock"),
            ask(&admin, "set server be/s1 addr 127.0.0.5 port 70000"),
            ask(
                &admin,
                &format!("set server be/s1 addr 127.0.0.1 port {p1}"),
            ),
            mask_state(&ask(&admin, "show servers state be")),
            stat_rows(&admin, "be").join("\n"),
            ask(&admin, "del server be/s3"),
            ask(&admin, "del server be/s3"),
            ask(&admin, "del server be/s1"),
            ask(&admin, "disable server be/s1"),
            ask(&tcp, "del server be/s1"),
            ask(&admin, "disable server be/s2"),
            ask(&admin, "del server be/s2"),
            ask(&admin, "del server nope/x"),
            ask(&admin, "del server be"),
            mask_state(&ask(&admin, "show servers state be")),
            stat_rows(&admin, "be").join("\n"),
        ];
        // The config file's temporary directory differs between runs.
        let got: Vec<String> = got
            .into_iter()
            .map(|a| match (a.find("/tmp/"), a.find("/test.cfg")) {
                (Some(i), Some(j)) if i < j => format!("{}CFG{}", &a[..i], &a[j + 9..]),
                _ => a,
            })
            .collect();
        answers.push((name, got));
    }
    let Some((_, ours)) = answers.iter().find(|a| a.0 == "ringlb") else {
        panic!("ringlb did not run");
    };
    assert_eq!(
        ours[0],
        "IP changed from '127.0.0.1' to '127.0.0.2' by 'stats socket command'\n\n"
    );
    assert_eq!(ours[11], "New server registered.\n\n");
    assert_eq!(ours[37], "Server deleted.\n");
    if let Some((_, theirs)) = answers.iter().find(|a| a.0 == "haproxy") {
        for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
            assert_eq!(a, b, "answer {i} differs");
        }
    }
}

fn spread(p: &Proxy, n: usize) {
    for _ in 0..n {
        let mut c = p.connect();
        c.write_all(b"x").unwrap();
        let mut b = [0u8; 1];
        c.read_exact(&mut b).unwrap();
    }
}

/// An added server takes its share once enabled; `set server addr` moves
/// the new connections to the new address, which the stats show.
#[test]
fn dynsrv_added_server_takes_traffic_and_addr_moves_it() {
    let s1 = Backend::echo();
    let s2 = Backend::echo();
    let s3 = Backend::echo();
    let dir = TempDir::new("dynsrv-fx");
    let (hold, port) = held_port();
    drop(hold);
    let servers = format!("    server s1 {}\n", s1.addr);
    let p = Proxy::start(&cfg(&dir, port, &servers, ""));
    let admin = format!("{}/admin.sock", dir.0.display());
    wait_for(&admin);
    assert_eq!(
        ask(&admin, &format!("add server be/s2 {}", s2.addr)),
        "New server registered.\n\n"
    );
    // Created in maintenance, as haproxy 2.6 does: no traffic yet.
    spread(&p, 4);
    assert_eq!((s1.count(), s2.count()), (4, 0));
    assert_eq!(ask(&admin, "enable server be/s2"), "\n");
    spread(&p, 8);
    assert_eq!((s1.count(), s2.count()), (4, 4), "an even split");
    let rows = stat_rows(&admin, "be");
    assert!(
        rows.contains(&format!("be,s2,no check,1,{}", s2.addr)),
        "{rows:?}"
    );
    // s2 moves to s3's address: new connections go there.
    let answer = ask(
        &admin,
        &format!("set server be/s2 addr 127.0.0.1 port {}", s3.addr.port()),
    );
    assert_eq!(
        answer,
        format!(
            "no need to change the addr, port changed from '{}' to '{}' by 'stats socket command'\n\n",
            s2.addr.port(),
            s3.addr.port()
        )
    );
    spread(&p, 8);
    assert_eq!((s1.count(), s2.count(), s3.count()), (4, 0, 4));
    let rows = stat_rows(&admin, "be");
    assert!(
        rows.contains(&format!("be,s2,no check,1,{}", s3.addr)),
        "{rows:?}"
    );
    let state = ask(&admin, "show servers state be");
    assert!(
        state.contains(" s2 127.0.0.1 2 0 1 1 ")
            && state.contains(&format!(" - {} - ", s3.addr.port())),
        "{state}"
    );
    // `enabled`: up and in the balance at once.
    let s4 = Backend::echo();
    assert_eq!(
        ask(&admin, &format!("add server be/s4 {} enabled", s4.addr)),
        "New server registered.\n\n"
    );
    spread(&p, 12);
    let got = (s1.count(), s3.count(), s4.count());
    // Each core's round robin takes the newcomer in where its cycle is.
    assert!(got.2 >= 3 && got.0 + got.1 + got.2 == 12, "{got:?}");
}

/// `del server` refuses a server with connections and takes it once they
/// are gone; `wait srv-removable` returns as soon as it is removable.
#[test]
fn dynsrv_del_server_waits_for_the_connections_to_drain() {
    let s1 = Backend::echo();
    let s2 = Backend::echo();
    let dir = TempDir::new("dynsrv-del");
    let (hold, port) = held_port();
    drop(hold);
    let servers = format!("    server s1 {}\n", s1.addr);
    let p = Proxy::start(&cfg(&dir, port, &servers, ""));
    let admin = format!("{}/admin.sock", dir.0.display());
    wait_for(&admin);
    assert_eq!(
        ask(
            &admin,
            &format!(
                "add server be/s2 {}; enable server be/s2; disable server be/s1",
                s2.addr
            )
        ),
        "New server registered.\n\n\n\n"
    );
    // One connection held open on s2.
    let mut held = p.connect();
    held.write_all(b"x").unwrap();
    let mut b = [0u8; 1];
    held.read_exact(&mut b).unwrap();
    assert_eq!(s2.count(), 1);
    assert_eq!(
        ask(&admin, "del server be/s2"),
        "Only servers in maintenance mode can be deleted.\n"
    );
    // Waiting cannot bring a server into maintenance (HAProxy 3.x fails).
    assert_eq!(
        ask(&admin, "wait 1s srv-removable be/s2"),
        "Failed. Only servers in maintenance mode can be deleted.\n\n"
    );
    assert_eq!(
        ask(&admin, "enable server be/s1; disable server be/s2"),
        "\n\n"
    );
    assert_eq!(
        ask(&admin, "del server be/s2"),
        "Server still has connections attached to it, cannot remove it.\n"
    );
    assert_eq!(
        ask(&admin, "wait 200ms srv-removable be/s2"),
        "Wait delay expired. Server still has connections attached to it, cannot remove it.\n\n"
    );
    // The wait is sent before the connection goes (an event, not a sleep):
    // its answer comes when the last connection closes.
    let (sent_tx, sent) = std::sync::mpsc::channel();
    let waiter = {
        let admin = admin.clone();
        std::thread::spawn(move || {
            let t = Instant::now();
            let mut c = std::os::unix::net::UnixStream::connect(&admin).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            c.write_all(b"wait 5s srv-removable be/s2\n").unwrap();
            sent_tx.send(()).unwrap();
            let mut out = String::new();
            c.read_to_string(&mut out).unwrap();
            (out, t.elapsed())
        })
    };
    sent.recv_timeout(Duration::from_secs(10)).unwrap();
    drop(held);
    let (answer, took) = waiter.join().unwrap();
    assert_eq!(answer, "Done.\n\n");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(ask(&admin, "del server be/s2"), "Server deleted.\n");
    assert!(stat_rows(&admin, "be").iter().all(|r| !r.contains(",s2,")));
    assert!(!ask(&admin, "show servers state be").contains(" s2 "));
    // Traffic goes on to s1 alone; the name can be added again.
    spread(&p, 2);
    assert_eq!((s1.count(), s2.count()), (2, 0));
    assert_eq!(
        ask(&admin, &format!("add server be/s2 {}", s2.addr)),
        "New server registered.\n\n"
    );
}

/// A slot emptied by `del server` (which needs maintenance) serves again
/// when the next server added there is enabled: it starts from no admin
/// flag, not from its last server's maintenance. Found by an operator
/// drive: every add after the first in a slot got no traffic.
#[test]
fn dynsrv_a_reused_slot_serves_again() {
    let s1 = Backend::echo();
    let s2 = Backend::echo();
    let dir = TempDir::new("dynsrv-reuse");
    let (hold, port) = held_port();
    drop(hold);
    let servers = format!("    server s1 {}\n", s1.addr);
    let p = Proxy::start(&cfg(&dir, port, &servers, ""));
    let admin = format!("{}/admin.sock", dir.0.display());
    wait_for(&admin);
    for round in 0..3 {
        let how = if round == 1 { "" } else { " enabled" };
        assert_eq!(
            ask(&admin, &format!("add server be/d0 {}{how}", s2.addr)),
            "New server registered.\n\n"
        );
        if how.is_empty() {
            assert_eq!(ask(&admin, "enable server be/d0"), "\n");
        }
        let state = ask(&admin, "show servers state be");
        assert!(
            state.contains(" d0 127.0.0.1 2 0 1 1 "),
            "round {round}: {state}"
        );
        let (a, b) = (s1.count(), s2.count());
        spread(&p, 8);
        let got = (s1.count() - a, s2.count() - b);
        assert!(got.1 >= 2 && got.0 + got.1 == 8, "round {round}: {got:?}");
        assert_eq!(ask(&admin, "set server be/d0 state maint"), "\n");
        assert_eq!(ask(&admin, "wait 2s srv-removable be/d0"), "Done.\n\n");
        assert_eq!(ask(&admin, "del server be/d0"), "Server deleted.\n");
    }
}

/// A server's health check follows `set server addr` unless it has its
/// own `port`, on both proxies (haproxy's tcpcheck_eval_connect reads the
/// server's address at each connect).
#[test]
fn dynsrv_check_follows_the_new_address() {
    for (name, program) in programs("dynsrv_check_follows_the_new_address") {
        let (a, b, c) = (Counting::new(), Counting::new(), Counting::new());
        let dir = TempDir::new("dynsrv-chk");
        let (hold, port) = held_port();
        drop(hold);
        let servers = format!(
            // A check that sends something: a plain connect check resets
            // before the handshake ends, unseen by the server.
            "    option tcp-check\n    tcp-check send x\n    server s1 {} check inter 100\n    server s2 {} check inter 100 port {}\n",
            a.addr,
            a.addr,
            c.addr.port()
        );
        let _p = start(name, &program, &cfg(&dir, port, &servers, ""));
        let admin = format!("{}/admin.sock", dir.0.display());
        wait_for(&admin);
        // Both checks run: s1's on a, s2's on its own port (c).
        assert!(
            a.accepted.recv_timeout(Duration::from_secs(3)).is_ok(),
            "{name}"
        );
        assert!(
            c.accepted.recv_timeout(Duration::from_secs(3)).is_ok(),
            "{name}"
        );
        for s in ["s1", "s2"] {
            ask(
                &admin,
                &format!("set server be/{s} addr 127.0.0.1 port {}", b.addr.port()),
            );
        }
        // s1's check moves to b; s2's stays on c.
        assert!(
            b.accepted.recv_timeout(Duration::from_secs(3)).is_ok(),
            "{name}: s1's check did not move"
        );
        let _ = a.count();
        let _ = c.count();
        // Three more of s1's checks on b: none of them went to a.
        for _ in 0..3 {
            assert!(
                b.accepted.recv_timeout(Duration::from_secs(3)).is_ok(),
                "{name}: s1's checks stopped"
            );
        }
        assert_eq!(a.count(), 0, "{name}: a check still on the old address");
        assert!(c.count() > 0, "{name}: s2's check left its own port");
    }
}

/// A listener that counts its connections and reads each until it
/// closes (checks reset theirs: the harness's echo backend is not made
/// for that).
struct Counting {
    addr: std::net::SocketAddr,
    accepted: std::sync::mpsc::Receiver<()>,
}

impl Counting {
    fn new() -> Counting {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let (tx, accepted) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                if tx.send(()).is_err() {
                    break;
                }
                std::thread::spawn(move || {
                    let mut buf = [0u8; 512];
                    while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
                });
            }
        });
        Counting { addr, accepted }
    }

    fn count(&self) -> usize {
        self.accepted.try_iter().count()
    }
}

/// An added server shows on the stats page and in the Prometheus
/// exporter; once deleted it shows nowhere.
#[test]
fn dynsrv_page_and_prometheus_follow() {
    let s1 = Backend::echo();
    let dir = TempDir::new("dynsrv-page");
    let d = dir.0.display();
    let cfg = format!(
        "global\n    stats socket {d}/admin.sock level admin\n\
         defaults\n    mode http\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
         frontend fe\n    bind fd@3\n    http-request use-service prometheus-exporter if {{ path /metrics }}\n    stats enable\n    stats uri /stats\n    default_backend be\n\
         backend be\n    balance roundrobin\n    server s1 {}\n",
        s1.addr
    );
    let p = Proxy::start(&cfg);
    let admin = format!("{d}/admin.sock");
    wait_for(&admin);
    let get = |path: &str| {
        let mut c = p.connect();
        c.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
            .unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        out
    };
    assert_eq!(
        ask(&admin, "add server be/dyn1 127.0.0.1:9 weight 3"),
        "New server registered.\n\n"
    );
    let metrics = get("/metrics");
    assert!(
        metrics.contains("haproxy_server_status{proxy=\"be\",server=\"dyn1\",state=\"MAINT\"} 1"),
        "{metrics}"
    );
    let csv = get("/stats;csv");
    assert!(csv.contains("\nbe,dyn1,"), "{csv}");
    assert!(get("/stats").contains(">dyn1<"));
    assert_eq!(
        ask(&admin, "disable server be/dyn1; del server be/dyn1"),
        "\nServer deleted.\n"
    );
    assert!(!get("/metrics").contains("dyn1"));
    assert!(!get("/stats;csv").contains("dyn1"));
    assert!(!get("/stats").contains("dyn1"));
}

/// Every dynamic algorithm takes an added server into its choice.
#[test]
fn dynsrv_added_server_joins_every_dynamic_algorithm() {
    for algo in [
        "leastconn",
        "random",
        "first",
        "source\n    hash-type consistent",
    ] {
        let s1 = Backend::echo();
        let s2 = Backend::echo();
        let dir = TempDir::new("dynsrv-algo");
        let (hold, port) = held_port();
        drop(hold);
        let cfg =
            cfg(&dir, port, "", "").replace("balance roundrobin\n", &format!("balance {algo}\n"));
        // `first` fills s1 up to its maxconn before s2.
        let cfg = format!("{cfg}    server s1 {} maxconn 1\n", s1.addr);
        let p = Proxy::start(&cfg);
        let admin = format!("{}/admin.sock", dir.0.display());
        wait_for(&admin);
        assert_eq!(
            ask(
                &admin,
                &format!("add server be/s2 {}; enable server be/s2", s2.addr)
            ),
            "New server registered.\n\n\n",
            "{algo}"
        );
        if algo.starts_with("source") {
            // One client address: every connection hashes to one server;
            // with s1 in maintenance it must be s2.
            assert_eq!(ask(&admin, "disable server be/s1"), "\n");
            spread(&p, 3);
            assert_eq!((s1.count(), s2.count()), (0, 3), "{algo}");
            continue;
        }
        // One connection held on a server, then more: with s1 at its
        // maxconn (first) or busier (leastconn) or by chance (random), s2
        // serves some.
        let mut held = p.connect();
        held.write_all(b"x").unwrap();
        let mut b = [0u8; 1];
        held.read_exact(&mut b).unwrap();
        spread(&p, 20);
        assert!(s2.count() > 0, "{algo}: the added server got nothing");
        drop(held);
    }
}

/// An HTTP/1.1 server answering every request of a connection with its
/// tag, until the client closes; it counts its connections.
fn tagged_http(tag: &'static str) -> Counting {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, accepted) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            if tx.send(()).is_err() {
                break;
            }
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                loop {
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        let rsp = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{tag}",
                            tag.len()
                        );
                        if s.write_all(rsp.as_bytes()).is_err() {
                            return;
                        }
                    }
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    Counting { addr, accepted }
}

/// After `set server addr`, a request is not sent on an idle connection
/// to the old address (HAProxy's srv_cleanup_connections), on both
/// proxies; entering maintenance closes them too.
#[test]
fn dynsrv_idle_connections_do_not_outlive_the_address() {
    for (name, program) in programs("dynsrv_idle_connections_do_not_outlive_the_address") {
        let a = tagged_http("A");
        let b = tagged_http("B");
        let dir = TempDir::new("dynsrv-idle");
        let (hold, port) = held_port();
        drop(hold);
        let d = dir.0.display();
        let cfg = format!(
            "global\n    nbthread 1\n    stats socket {d}/admin.sock level admin\n    stats socket ipv4@127.0.0.1:{port} level admin\n\
             defaults\n    mode http\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n    http-reuse always\n\
             frontend fe\n    bind fd@3\n    default_backend be\n\
             backend be\n    server s1 {}\n",
            a.addr
        );
        let p = start(name, &program, &cfg);
        let admin = format!("{d}/admin.sock");
        wait_for(&admin);
        let get = || {
            let mut c = p.connect();
            c.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                .unwrap();
            let mut out = String::new();
            c.read_to_string(&mut out).unwrap();
            out.rsplit("\r\n\r\n").next().unwrap_or("").to_string()
        };
        assert_eq!(get(), "A", "{name}");
        assert_eq!(get(), "A", "{name}");
        assert_eq!(
            a.count(),
            1,
            "{name}: the second request reused the first connection"
        );
        ask(
            &admin,
            &format!("set server be/s1 addr 127.0.0.1 port {}", b.addr.port()),
        );
        assert_eq!(get(), "B", "{name}: a request went to the old address");
        assert_eq!(b.count(), 1, "{name}");
        // Maintenance closes the idle connections: `wait srv-removable`
        // is not held by them (ringlb; haproxy 2.6 has no `wait`).
        if name == "ringlb" {
            assert_eq!(
                ask(&admin, "disable server be/s1; wait 2s srv-removable be/s1"),
                "\nDone.\n\n",
                "{name}"
            );
        }
    }
}

/// `add server` with `pool-max-conn`, `pool-purge-delay`, `pool-low-conn`
/// and `tfo`: haproxy 2.6's refusals word for word, and the effect on
/// reuse on both proxies: an added server with `pool-max-conn 0` keeps no
/// idle connection (each request opens one), one with `pool-max-conn -1`
/// reuses its connection; `show servers conn` shows what was given.
#[test]
fn dynsrv_pool_keywords_on_an_added_server() {
    let mut seen = Vec::new();
    for (name, program) in programs("dynsrv_pool_keywords_on_an_added_server") {
        let a = tagged_http("A");
        let k = tagged_http("K");
        let r = tagged_http("R");
        let dir = TempDir::new("dynsrv-pool");
        let d = dir.0.display();
        let cfg = format!(
            "global\n    nbthread 1\n    stats socket {d}/admin.sock level admin\n\
             defaults\n    mode http\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n    http-reuse always\n\
             frontend fe\n    bind fd@3\n    default_backend be\n\
             backend be\n    server s1 {}\n",
            a.addr
        );
        let p = start(name, &program, &cfg);
        let admin = format!("{d}/admin.sock");
        wait_for(&admin);
        let x = a.addr;
        let mut got: Vec<String> = [
            format!("add server be/e {x} pool-max-conn"),
            format!("add server be/e {x} pool-max-conn -2"),
            format!("add server be/e {x} pool-purge-delay"),
            format!("add server be/e {x} pool-purge-delay x"),
            format!("add server be/e {x} pool-purge-delay 99999999999"),
            format!("add server be/e {x} pool-low-conn"),
            format!("add server be/k {} pool-max-conn 0 tfo", k.addr),
            format!(
                "add server be/r {} pool-max-conn -1 pool-purge-delay 4s pool-low-conn 2 no-tfo",
                r.addr
            ),
            "enable server be/k; disable server be/s1".to_string(),
        ]
        .iter()
        .map(|c| ask(&admin, c))
        .collect();
        let get = || {
            let mut c = p.connect();
            c.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                .unwrap();
            let mut out = String::new();
            c.read_to_string(&mut out).unwrap();
            out.rsplit("\r\n\r\n").next().unwrap_or("").to_string()
        };
        assert_eq!((get(), get()), ("K".into(), "K".into()), "{name}");
        assert_eq!(k.count(), 2, "{name}: pool-max-conn 0 kept a connection");
        ask(&admin, "enable server be/r; disable server be/k");
        assert_eq!((get(), get()), ("R".into(), "R".into()), "{name}");
        assert_eq!(r.count(), 1, "{name}: pool-max-conn -1 did not reuse");
        // be/r's purge_delay and idle_lim columns.
        let conn = ask(&admin, "show servers conn be");
        let row: Vec<&str> = conn
            .lines()
            .find(|l| l.starts_with("be/r "))
            .unwrap_or("")
            .split(' ')
            .collect();
        got.push(format!("{:?} {:?}", row.get(5), row.get(11)));
        seen.push((name, got));
    }
    let Some((_, ours)) = seen.iter().find(|s| s.0 == "ringlb") else {
        panic!("ringlb did not run");
    };
    assert_eq!(ours[8], "\n\n");
    assert_eq!(ours[9], "Some(\"4000\") Some(\"-1\")");
    if let Some((_, theirs)) = seen.iter().find(|s| s.0 == "haproxy") {
        for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
            assert_eq!(a, b, "answer {i} differs");
        }
    }
}

/// `add server` and `del server` print haproxy 2.6's notices on stderr
/// (`CLI : 'server be/x' : New server registered.`, `CLI : Server
/// deleted.`), on both proxies. haproxy heads a line with `CLI : ` only
/// when the thread writing it last ran a CLI command: the test takes the
/// line without it.
#[test]
fn dynsrv_add_and_del_notices_on_stderr() {
    for (name, program) in programs("dynsrv_add_and_del_notices_on_stderr") {
        let be = Backend::echo();
        let dir = TempDir::new("dynsrv-notice");
        let d = dir.0.display();
        let cfg = format!(
            "global\n    stats socket {d}/admin.sock level admin\n\
             defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
             frontend fe\n    bind fd@3\n    default_backend be\n\
             backend be\n    server s1 {}\n",
            be.addr
        );
        let p = start(name, &program, &cfg);
        let admin = format!("{d}/admin.sock");
        wait_for(&admin);
        ask(&admin, &format!("add server be/x {}", be.addr));
        ask(&admin, "del server be/x");
        let want = ["'server be/x' : New server registered.", "Server deleted."];
        let mut seen = Vec::new();
        let end = Instant::now() + Duration::from_secs(5);
        while seen.len() < want.len() {
            assert!(Instant::now() < end, "{name}: notices {seen:?}");
            for l in p.stderr_so_far() {
                if l.starts_with("[NOTICE]") && (l.contains("New server") || l.contains("deleted"))
                {
                    let text = l.split_once(") : ").map_or(l.as_str(), |x| x.1);
                    seen.push(text.trim_start_matches("CLI : ").to_string());
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(seen, want, "{name}");
    }
}

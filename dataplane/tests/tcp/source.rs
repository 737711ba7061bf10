//! Server-side source addresses: `source`, `usesrc` and `interface`.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};

use crate::harness::{config, programs, start, tcp_config, Backend, Proxy, DEADLINE};

#[test]
fn server_source_binds_the_local_address() {
    // The backend reports the address it saw the proxy connect from.
    let be = Backend::spawn(|mut s| {
        let peer = s.peer_addr().unwrap().ip().to_string();
        let _ = s.write_all(peer.as_bytes());
        let _ = s.shutdown(Shutdown::Write);
    });
    let p = Proxy::start(&tcp_config(
        &format!("    server s1 {} source 127.0.0.2\n", be.addr),
        "",
    ));
    let mut c = p.connect();
    let mut got = String::new();
    c.read_to_string(&mut got).unwrap();
    assert_eq!(
        got, "127.0.0.2",
        "the server saw the configured source address"
    );
}

/// A client connecting from `from` (port 0: any), with SO_REUSEADDR so a
/// proxy presenting its exact address and port (`usesrc client`) may bind
/// it too.
fn connect_from(p: &Proxy, from: std::net::SocketAddr) -> TcpStream {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.set_reuse_address(true).unwrap();
    s.bind(&from.into()).unwrap();
    s.connect_timeout(&p.addr.into(), DEADLINE).unwrap();
    let c: TcpStream = s.into();
    c.set_read_timeout(Some(DEADLINE)).unwrap();
    c
}

/// `usesrc` presents another address to the server (IP_TRANSPARENT, so
/// root or CAP_NET_ADMIN): `clientip` the client's address, `client` its
/// address and port, `<addr>` a fixed one. Loopback addresses are local,
/// so no TPROXY routing is needed to see it.
#[test]
fn usesrc_presents_the_client_address_to_the_server() {
    if !nix::unistd::geteuid().is_root() {
        assert!(
            std::env::var_os("CI").is_none(),
            "usesrc needs root (IP_TRANSPARENT); CI runs as root"
        );
        eprintln!("skipped: usesrc needs root");
        return;
    }
    let be = Backend::spawn(|mut s| {
        let peer = s.peer_addr().unwrap().to_string();
        let _ = s.write_all(peer.as_bytes());
        let _ = s.shutdown(Shutdown::Write);
    });
    for (usesrc, from, expect) in [
        ("clientip", "127.0.0.3:0", None),
        ("client", "127.0.0.4:0", None),
        ("127.0.0.9", "127.0.0.5:0", Some("127.0.0.9")),
    ] {
        let cfg = config(
            "",
            "    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n",
            &format!("    server s1 {} source 0.0.0.0 usesrc {usesrc}\n", be.addr),
        );
        for (name, prog) in programs("usesrc") {
            let p = start(name, &prog, &cfg);
            let mut c = connect_from(&p, from.parse().unwrap());
            c.shutdown(Shutdown::Write).unwrap();
            let me = c.local_addr().unwrap();
            let mut seen = String::new();
            c.read_to_string(&mut seen).unwrap();
            let seen: std::net::SocketAddr = seen
                .parse()
                .unwrap_or_else(|e| panic!("{name} usesrc {usesrc}: {seen:?}: {e}"));
            match (usesrc, expect) {
                ("clientip", _) => {
                    assert_eq!(seen.ip(), me.ip(), "{name} usesrc {usesrc}");
                    assert_ne!(seen.port(), me.port(), "{name}: clientip picks a port");
                }
                ("client", _) => assert_eq!(seen, me, "{name} usesrc {usesrc}"),
                (_, Some(ip)) => assert_eq!(seen.ip().to_string(), ip, "{name} usesrc {usesrc}"),
                _ => unreachable!(),
            }
            let log = p.next_tcplog();
            assert_eq!(log.termination, "--", "{name} usesrc {usesrc}: {log:?}");
        }
    }
}

/// `source ... interface <name>` binds server connections to a device
/// (SO_BINDTODEVICE): through `lo` they reach a loopback server, through
/// another device they cannot (the connect times out: sC). HAProxy ignores
/// a failing SO_BINDTODEVICE (a device that does not exist), so ringlb
/// does too.
#[test]
fn source_interface_binds_the_server_connection_to_a_device() {
    if !nix::unistd::geteuid().is_root() {
        assert!(
            std::env::var_os("CI").is_none(),
            "interface needs root; CI runs as root"
        );
        eprintln!("skipped: interface needs root");
        return;
    }
    let other = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n != "lo")
        .min();
    let be = Backend::echo();
    let mut cases = vec![("lo", "--"), ("nosuchdev0", "--")];
    if let Some(dev) = &other {
        cases.push((dev.as_str(), "sC"));
    }
    for (dev, termination) in cases {
        let cfg = config(
            "",
            "    timeout connect 300ms
    retries 0
    timeout client 10s
    timeout server 10s
",
            &format!("    server s1 {} source 0.0.0.0 interface {dev}\n", be.addr),
        );
        for (name, prog) in programs("interface") {
            let p = start(name, &prog, &cfg);
            let mut c = p.connect();
            let _ = c.write_all(b"ping");
            let _ = c.shutdown(Shutdown::Write);
            let mut got = Vec::new();
            let _ = c.read_to_end(&mut got);
            let log = p.next_tcplog();
            assert_eq!(log.termination, termination, "{name} via {dev}: {log:?}");
            let expect: &[u8] = if termination == "--" { b"ping" } else { b"" };
            assert_eq!(got, expect, "{name} via {dev}");
        }
    }
}

//! Upgrades: a WebSocket handshake answered 101 turns both connections
//! into a tunnel; bytes flow both ways untouched until a side closes.

use std::io::{Read, Write};
use std::path::Path;

use crate::harness::start;
use crate::server::{config, Answer, Client, Seen, Server};

fn upgrade(_: &Seen) -> Answer {
    Answer::Echo(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
            .to_vec(),
    )
}

fn websocket(name: &str, program: &Path) {
    let srv = Server::start(upgrade);
    let p = start(name, program, &config(&[format!("s1 {}", srv.addr)], ""));
    let mut c = Client::connect(p.addr);
    c.send(b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    let r = c.response(false);
    assert_eq!(r.status, 101, "{name}");
    let seen = srv.next();
    assert_eq!(seen.header("upgrade"), Some("websocket"), "{name}");
    assert!(
        seen.header("connection")
            .is_some_and(|v| v.to_ascii_lowercase().contains("upgrade")),
        "{name}: {:?}",
        seen.headers
    );
    for round in 0..3u8 {
        let frame = [0x81, 0x03, b'a' + round, b'b', b'c'];
        c.w.write_all(&frame).unwrap();
        let mut back = [0u8; 5];
        c.w.try_clone().unwrap().read_exact(&mut back).unwrap();
        assert_eq!(back, frame, "{name}: round {round}");
    }
    c.w.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(c.closed(), "{name}: the close went through the tunnel");
}
on_both!(websocket, websocket_on_haproxy, websocket_on_ringlb);

fn no_accept(_: &Seen) -> Answer {
    Answer::SendClose(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
            .to_vec(),
    )
}

/// A WebSocket upgrade without its key is refused (400, the server sees
/// nothing); a 101 without Sec-WebSocket-Accept is a bad response (502).
fn websocket_handshake_checked(name: &str, program: &Path) {
    let srv = Server::start(no_accept);
    let p = start(name, program, &config(&[format!("s1 {}", srv.addr)], ""));
    let mut c = Client::connect(p.addr);
    c.send(b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    assert_eq!(c.response(false).status, 400, "{name}: no key");
    assert!(
        srv.nothing_within(std::time::Duration::from_millis(100)),
        "{name}"
    );
    let mut c = Client::connect(p.addr);
    c.send(b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    assert_eq!(c.response(false).status, 502, "{name}: no accept");
}
on_both!(
    websocket_handshake_checked,
    websocket_handshake_checked_on_haproxy,
    websocket_handshake_checked_on_ringlb
);

fn established(_: &Seen) -> Answer {
    Answer::Echo(b"HTTP/1.1 200 Connection established\r\n\r\n".to_vec())
}

/// CONNECT: the server's 2xx turns both connections into a tunnel.
fn connect_method(name: &str, program: &Path) {
    let srv = Server::start(established);
    let p = start(name, program, &config(&[format!("s1 {}", srv.addr)], ""));
    let mut c = Client::connect(p.addr);
    c.send(b"CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n");
    let r = c.response(true);
    assert_eq!(r.status, 200, "{name}");
    assert_eq!(
        srv.next().line,
        "CONNECT example.org:443 HTTP/1.1",
        "{name}"
    );
    c.w.write_all(b"\x16\x03\x01 opaque bytes").unwrap();
    let mut back = [0u8; 16];
    c.w.try_clone().unwrap().read_exact(&mut back).unwrap();
    assert_eq!(&back, b"\x16\x03\x01 opaque bytes", "{name}");
}
on_both!(
    connect_method,
    connect_method_on_haproxy,
    connect_method_on_ringlb
);

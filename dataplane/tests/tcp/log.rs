//! Log lines for clients that go away early.

use std::net::TcpStream;
use std::time::Duration;

use crate::harness::{HeldBackend, Proxy, DEADLINE};

/// A client that resets while it waits in the accept queue is logged with
/// its address, as accept(2) returned it (getpeername on a reset socket
/// fails, and the line used to say `unix:1`).
#[test]
fn a_client_that_resets_before_it_is_served_is_logged_with_its_address() {
    let be = HeldBackend::new();
    let p = Proxy::start(&format!(
        "global\n    maxconn 1\n    nbthread 1\n    log stdout format raw local0\n\
         defaults\n    mode tcp\n    log global\n    option tcplog\n\
         \x20   timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
         frontend fe\n    bind fd@3\n    default_backend be\n\
         backend be\n    server s1 {}\n",
        be.be.addr
    ));
    // The one slot is held.
    let mut first = p.connect();
    std::io::Write::write_all(&mut first, &[1]).unwrap();
    assert_eq!(be.arrived.recv_timeout(DEADLINE).unwrap(), 1);
    // The second client waits in the accept queue, then resets.
    let second = TcpStream::connect_timeout(&p.addr, DEADLINE).unwrap();
    let local = second.local_addr().unwrap();
    socket2::SockRef::from(&second)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(second);
    be.release.send(()).unwrap();
    first.shutdown(std::net::Shutdown::Write).unwrap();
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut first, &mut got).unwrap();
    assert_eq!(got, [b'k', 1]);
    let mut lines = vec![p.next_tcplog(), p.next_tcplog()];
    lines.sort_by_key(|l| l.client.clone());
    let reset = lines
        .iter()
        .find(|l| l.client != first.local_addr().unwrap().to_string())
        .unwrap_or_else(|| panic!("no line for the reset client: {lines:?}"));
    assert_eq!(reset.client, local.to_string(), "{lines:?}");
}

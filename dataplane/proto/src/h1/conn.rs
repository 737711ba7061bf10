//! What becomes of an HTTP/1 connection after each message, and the
//! Connection header the proxy writes, as HAProxy's mux_h1 decides them
//! (`h1_set_cli_conn_mode`, `h1_set_srv_conn_mode`,
//! `h1_update_req_conn_value`, `h1_update_res_conn_value`).
//!
//! Each side starts wanting keep-alive; a message can only move it to
//! close (or to a tunnel, after CONNECT's 2xx or a 101). The proxy's
//! `option http-keep-alive | http-server-close | httpclose` weigh in on
//! the side they concern. When the proxy emits a head, the `keep-alive` and
//! `close` words of the received Connection headers are dropped (other
//! words such as `upgrade` stay) and the proxy adds its own
//! `Connection: close` or `keep-alive` only where the version would
//! otherwise imply the opposite.

use crate::msg::{flags, Body, Head, Method};

/// A proxy's `option http-keep-alive` (the default), `http-server-close`
/// or `httpclose`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HttpMode {
    #[default]
    KeepAlive,
    ServerClose,
    Close,
}

/// What a side of the stream wants for its connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Want {
    #[default]
    KeepAlive,
    Close,
    /// CONNECT accepted or protocol switched: bytes flow both ways
    /// untouched from now on.
    Tunnel,
}

fn tunnel(request: Method, status: u16) -> bool {
    (request == Method::Connect && (200..300).contains(&status)) || status == 101
}

/// The client side, once the request head is read: an HTTP/1.0 request
/// without `keep-alive`, or any `close`, closes after the response; so
/// does a stopping frontend.
pub fn client_after_request(req: &Head, want: Want, stopping: bool) -> Want {
    let mut want = want;
    if !req.has(flags::VER_11 | flags::CONN_KEEPALIVE) || req.has(flags::CONN_CLOSE) {
        want = Want::Close;
    }
    stop(want, stopping)
}

/// The client side, as the response head goes out: a tunnel after
/// CONNECT's 2xx or a 101; else a response without a known length
/// closes, and under `option httpclose` one without an explicit
/// `keep-alive` closes too.
pub fn client_for_response(
    res: &Head,
    request: Method,
    want: Want,
    fe_mode: HttpMode,
    stopping: bool,
) -> Want {
    // The server's own `close` does not reach the client side: HAProxy's
    // parser drops the header, and the client keeps its connection (a
    // new server connection serves its next request).
    let want = if tunnel(request, res.status) {
        Want::Tunnel
    } else if want == Want::KeepAlive
        && (res.body == Body::UntilClose
            || (!res.has(flags::CONN_KEEPALIVE) && fe_mode == HttpMode::Close))
    {
        Want::Close
    } else {
        want
    };
    stop(want, stopping)
}

/// The server side, as the request head goes out: `http-server-close` or
/// `httpclose` on either proxy closes unless the client asked for
/// keep-alive explicitly; so does a stopping backend.
pub fn server_for_request(
    req: &Head,
    want: Want,
    fe_mode: HttpMode,
    be_mode: HttpMode,
    stopping: bool,
) -> Want {
    // The client's own `close` (or an HTTP/1.0 request) does not reach
    // the server side: HAProxy's parser drops the header and the server
    // connection stays for reuse.
    let closing = |m| matches!(m, HttpMode::ServerClose | HttpMode::Close);
    let forced = !req.has(flags::CONN_KEEPALIVE) && (closing(fe_mode) || closing(be_mode));
    // Except a chunked HTTP/1.0 request: it goes out as it came, closing.
    let chunked_10 = !req.has(flags::VER_11) && req.has(flags::XFER_ENC);
    let want = if forced || chunked_10 {
        Want::Close
    } else {
        want
    };
    stop(want, stopping)
}

/// The server side, once the response head is read: a tunnel, or close
/// when the length is unknown, on `close`, or on HTTP/1.0 without
/// `keep-alive`.
pub fn server_after_response(res: &Head, request: Method, want: Want) -> Want {
    if tunnel(request, res.status) {
        return Want::Tunnel;
    }
    if want == Want::KeepAlive
        && (res.body == Body::UntilClose
            || res.has(flags::CONN_CLOSE)
            || !res.has(flags::VER_11 | flags::CONN_KEEPALIVE))
    {
        return Want::Close;
    }
    want
}

fn stop(want: Want, stopping: bool) -> Want {
    if want == Want::KeepAlive && stopping {
        Want::Close
    } else {
        want
    }
}

/// The Connection value the proxy adds to a request it sends (none in a
/// tunnel or an upgrade): `keep-alive` to an HTTP/1.0 request kept alive,
/// `close` to an HTTP/1.1 request that closes. `fake_keepalive`:
/// `option http-pretend-keepalive`.
pub fn request_connection(req: &Head, want: Want, fake_keepalive: bool) -> Option<&'static str> {
    if want == Want::Tunnel || req.has(flags::CONN_UPGRADE) {
        return None;
    }
    if want == Want::KeepAlive || fake_keepalive {
        (!req.has(flags::VER_11)).then_some("keep-alive")
    } else {
        req.has(flags::VER_11).then_some("close")
    }
}

/// The Connection value the proxy adds to a response it sends:
/// `keep-alive` when the response or the request was HTTP/1.0 and the
/// connection stays, `close` to an HTTP/1.1 response that closes.
pub fn response_connection(res: &Head, req: &Head, want: Want) -> Option<&'static str> {
    if want == Want::Tunnel || res.has(flags::CONN_UPGRADE) {
        return None;
    }
    match want {
        Want::KeepAlive => {
            (!(res.has(flags::VER_11) && req.has(flags::VER_11))).then_some("keep-alive")
        }
        _ => res.has(flags::VER_11).then_some("close"),
    }
}

/// A Connection value as the proxy forwards it: without its `keep-alive`
/// and `close` words (the proxy states its own), or None when nothing is
/// left.
pub fn clean_connection(value: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for w in super::fields::values(value)
        .map(super::chars::trim_lws)
        .filter(|w| !w.is_empty())
    {
        if w.eq_ignore_ascii_case(b"keep-alive") || w.eq_ignore_ascii_case(b"close") {
            continue;
        }
        if !out.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(w);
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1::head::{HeadParser, Kind, Options, Progress};

    fn head(kind: Kind, raw: &[u8]) -> Head {
        let mut buf = raw.to_vec();
        let mut h = Head::new();
        let done = HeadParser::new(kind, Options::default()).parse(&mut buf, &mut h);
        assert!(matches!(done, Ok(Progress::Done(_))), "{done:?}");
        h
    }

    fn req(raw: &str) -> Head {
        head(Kind::Request, raw.as_bytes())
    }

    fn res(raw: &str) -> Head {
        head(Kind::Response(Method::Get), raw.as_bytes())
    }

    /// One side's `close` stays on its side (haproxy 2.6, seen by the
    /// HTTP differential test).
    #[test]
    fn a_close_stays_on_its_side() {
        let k = Want::KeepAlive;
        let m = HttpMode::KeepAlive;
        let r = req("GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert_eq!(server_for_request(&r, k, m, m, false), k);
        let r10 = req("GET / HTTP/1.0\r\n\r\n");
        assert_eq!(server_for_request(&r10, k, m, m, false), k);
        let close = res("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        assert_eq!(client_for_response(&close, Method::Get, k, m, false), k);
        assert_eq!(server_after_response(&close, Method::Get, k), Want::Close);
    }

    #[test]
    fn the_client_side_follows_the_request() {
        let k = Want::KeepAlive;
        assert_eq!(
            client_after_request(&req("GET / HTTP/1.1\r\n\r\n"), k, false),
            k
        );
        assert_eq!(
            client_after_request(&req("GET / HTTP/1.0\r\n\r\n"), k, false),
            Want::Close
        );
        let ka10 = req("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert_eq!(client_after_request(&ka10, k, false), k);
        assert_eq!(
            client_after_request(&ka10, k, true),
            Want::Close,
            "stopping"
        );
        let close = req("GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert_eq!(client_after_request(&close, k, false), Want::Close);
    }

    #[test]
    fn the_response_may_close_or_tunnel() {
        let k = Want::KeepAlive;
        let sized = res("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n");
        assert_eq!(
            client_for_response(&sized, Method::Get, k, HttpMode::KeepAlive, false),
            k
        );
        assert_eq!(
            client_for_response(&sized, Method::Get, k, HttpMode::Close, false),
            Want::Close,
            "httpclose without an explicit keep-alive"
        );
        let unsized_ = res("HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(
            client_for_response(&unsized_, Method::Get, k, HttpMode::KeepAlive, false),
            Want::Close
        );
        let ok = head(Kind::Response(Method::Connect), b"HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(
            client_for_response(&ok, Method::Connect, k, HttpMode::KeepAlive, false),
            Want::Tunnel
        );
        assert_eq!(server_after_response(&ok, Method::Connect, k), Want::Tunnel);
        let r10 = res("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n");
        assert_eq!(
            server_after_response(&r10, Method::Get, k),
            Want::Close,
            "1.0 server"
        );
    }

    #[test]
    fn the_server_side_follows_the_modes() {
        let k = Want::KeepAlive;
        let r = req("GET / HTTP/1.1\r\n\r\n");
        assert_eq!(
            server_for_request(&r, k, HttpMode::KeepAlive, HttpMode::KeepAlive, false),
            k
        );
        assert_eq!(
            server_for_request(&r, k, HttpMode::KeepAlive, HttpMode::ServerClose, false),
            Want::Close
        );
        let ka = req("GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n");
        assert_eq!(
            server_for_request(&ka, k, HttpMode::Close, HttpMode::Close, false),
            k
        );
    }

    #[test]
    fn the_connection_header_the_proxy_adds() {
        let r11 = req("GET / HTTP/1.1\r\n\r\n");
        let r10 = req("GET / HTTP/1.0\r\n\r\n");
        assert_eq!(request_connection(&r11, Want::KeepAlive, false), None);
        assert_eq!(
            request_connection(&r10, Want::KeepAlive, false),
            Some("keep-alive")
        );
        assert_eq!(request_connection(&r11, Want::Close, false), Some("close"));
        assert_eq!(request_connection(&r10, Want::Close, false), None);
        assert_eq!(
            request_connection(&r11, Want::Close, true),
            None,
            "pretend-keepalive"
        );
        let s11 = res("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(response_connection(&s11, &r11, Want::KeepAlive), None);
        assert_eq!(
            response_connection(&s11, &r10, Want::KeepAlive),
            Some("keep-alive")
        );
        assert_eq!(response_connection(&s11, &r11, Want::Close), Some("close"));
        let up = req("GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\n");
        assert_eq!(request_connection(&up, Want::Close, false), None);
    }

    #[test]
    fn forwarded_connection_values_lose_keep_alive_and_close() {
        assert_eq!(clean_connection(b"keep-alive"), None);
        assert_eq!(
            clean_connection(b"Keep-Alive, Upgrade"),
            Some(b"Upgrade".to_vec())
        );
        assert_eq!(
            clean_connection(b" close ,x-a , x-b"),
            Some(b"x-a,x-b".to_vec())
        );
    }
}

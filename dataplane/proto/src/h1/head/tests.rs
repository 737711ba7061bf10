use super::*;

fn opts(accept_invalid: bool) -> Options {
    Options {
        accept_invalid,
        ..Options::default()
    }
}

/// Parse a whole request at once.
fn req(raw: &[u8]) -> Result<(Head, usize), Error> {
    req_with(raw, opts(false))
}

fn req_with(raw: &[u8], o: Options) -> Result<(Head, usize), Error> {
    let mut buf = raw.to_vec();
    let mut h = Head::new();
    let mut p = HeadParser::new(Kind::Request, o);
    match p.parse(&mut buf, &mut h)? {
        Progress::Done(n) => Ok((h, n)),
        Progress::Partial => Err(err(ErrorKind::TooLarge, usize::MAX)),
    }
}

fn res(raw: &[u8], to: Method) -> Result<Head, Error> {
    let mut buf = raw.to_vec();
    let mut h = Head::new();
    let mut p = HeadParser::new(Kind::Response(to), opts(false));
    match p.parse(&mut buf, &mut h)? {
        Progress::Done(_) => Ok(h),
        Progress::Partial => Err(err(ErrorKind::TooLarge, usize::MAX)),
    }
}

fn kind(raw: &[u8]) -> ErrorKind {
    match req(raw) {
        Err(e) => e.kind,
        Ok(_) => panic!("accepted: {:?}", String::from_utf8_lossy(raw)),
    }
}

fn fields(h: &Head) -> Vec<(String, String)> {
    h.fields()
        .map(|(n, v)| {
            (
                String::from_utf8_lossy(n).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect()
}

#[test]
fn a_plain_request() {
    let raw = b"\r\n\nGET /x HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\nbody";
    let (h, n) = req(raw).unwrap();
    assert_eq!(n, raw.len() - 4, "the body starts after the empty line");
    assert_eq!(h.line_parts(), [&b"GET"[..], b"/x", b"HTTP/1.1"]);
    assert_eq!(h.method, Method::Get);
    assert!(h.has(flags::VER_11));
    assert_eq!(
        fields(&h),
        [("Host".into(), "a".into()), ("X".into(), "1".into())]
    );
    assert_eq!(h.body, Body::None);
}

#[test]
fn any_split_gives_the_same_head() {
    let raw = b"POST /p HTTP/1.1\r\nHost: a\r\nFold: x\r\n\ty\r\nContent-Length: 3\r\n\r\nabc";
    let (whole, n) = req(raw).unwrap();
    for cut in 1..raw.len() {
        let mut buf = raw[..cut].to_vec();
        let mut h = Head::new();
        let mut p = HeadParser::new(Kind::Request, opts(false));
        let first = p.parse(&mut buf, &mut h).unwrap();
        buf.extend_from_slice(&raw[cut..]);
        let done = match first {
            Progress::Done(n) => n,
            Progress::Partial => match p.parse(&mut buf, &mut h).unwrap() {
                Progress::Done(n) => n,
                Progress::Partial => panic!("incomplete at cut {cut}"),
            },
        };
        assert_eq!(done, n, "cut {cut}");
        assert_eq!(fields(&h), fields(&whole), "cut {cut}");
        assert_eq!(h.body, Body::Length(3));
    }
}

#[test]
fn blanks_between_the_words_of_the_request_line() {
    let (h, _) = req(b"GET \t /x  HTTP/1.0\n\n").unwrap();
    assert_eq!(h.line_parts(), [&b"GET"[..], b"/x", b"HTTP/1.0"]);
    assert!(!h.has(flags::VER_11));
    // A blank after the version is not a version byte.
    assert_eq!(kind(b"GET /x HTTP/1.1 \r\n\r\n"), ErrorKind::StartLine);
}

#[test]
fn uri_bytes() {
    assert_eq!(kind(b"GET /a#b HTTP/1.1\r\n\r\n"), ErrorKind::Uri);
    assert_eq!(kind(b"GET /\xc3\xa9 HTTP/1.1\r\n\r\n"), ErrorKind::Uri);
    assert_eq!(kind(b"GET /a\x01 HTTP/1.1\r\n\r\n"), ErrorKind::Uri);
    assert_eq!(kind(b"GET /a\x7f HTTP/1.1\r\n\r\n"), ErrorKind::Uri);
    // Accepted under accept-invalid-http-request, the first one noted.
    let mut buf = b"GET /a#\xff HTTP/1.1\r\n\r\n".to_vec();
    let mut p = HeadParser::new(Kind::Request, opts(true));
    let mut h = Head::new();
    assert_eq!(p.parse(&mut buf, &mut h), Ok(Progress::Done(buf.len())));
    assert_eq!(p.first_invalid, Some(6));
    // Control bytes stay refused.
    assert!(req_with(b"GET /\x01 HTTP/1.1\r\n\r\n", opts(true)).is_err());
}

#[test]
fn versions() {
    for bad in [
        &b"HTTP/1"[..],
        b"HTTP/1.10",
        b"HTTQ/1.1",
        b"HTTP/A.1",
        b"HTTP/1/1",
    ] {
        let mut raw = b"GET / ".to_vec();
        raw.extend_from_slice(bad);
        raw.extend_from_slice(b"\r\n\r\n");
        assert_eq!(
            kind(&raw),
            ErrorKind::Version,
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    let (h, _) = req(b"GET / HTTP/2.0\r\n\r\n").unwrap();
    assert!(h.has(flags::VER_11), "2.0 counts as 1.1 or later");
    let (h, _) = req_with(b"GET / HTTP/1\r\n\r\n", opts(true)).unwrap();
    assert!(!h.has(flags::VER_11));
}

#[test]
fn http_09() {
    // Refused by default, whether or not a blank follows the URI.
    assert_eq!(kind(b"GET /\r\n"), ErrorKind::Version);
    assert_eq!(kind(b"GET / \r\n"), ErrorKind::Version);
    // Accepted as HTTP/1.0 for a GET with a URI; the line is the head.
    let (h, n) = req_with(b"GET /x\r\nrest", opts(true)).unwrap();
    assert_eq!(n, 8);
    assert_eq!(h.line_parts(), [&b"GET"[..], b"/x", b"HTTP/1.0"]);
    assert!(h.has(flags::HTTP09));
    assert!(req_with(b"POST /x\r\n", opts(true)).is_err());
    assert!(req_with(b"GET\r\n", opts(true)).is_err());
}

#[test]
fn header_names() {
    assert_eq!(
        kind(b"GET / HTTP/1.1\r\nX : 1\r\n\r\n"),
        ErrorKind::HeaderName
    );
    assert_eq!(
        kind(b"GET / HTTP/1.1\r\n: 1\r\n\r\n"),
        ErrorKind::HeaderName
    );
    assert_eq!(
        kind(b"GET / HTTP/1.1\r\nNoColon\r\n\r\n"),
        ErrorKind::HeaderName
    );
    assert_eq!(
        kind(b"GET / HTTP/1.1\r\nX\x01Y: 1\r\n\r\n"),
        ErrorKind::HeaderName
    );
    let (h, _) = req_with(b"GET / HTTP/1.1\r\nX Y: 1\r\n\r\n", opts(true)).unwrap();
    assert_eq!(fields(&h), [("X Y".into(), "1".into())]);
}

#[test]
fn line_ends() {
    assert_eq!(
        kind(b"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n"),
        ErrorKind::LineEnd
    );
    assert_eq!(kind(b"GET / HTTP/1.1\rX: 1\r\n\r\n"), ErrorKind::LineEnd);
    let (h, _) = req(b"GET / HTTP/1.1\nX: 1\n\n").unwrap();
    assert_eq!(fields(&h), [("X".into(), "1".into())]);
}

#[test]
fn folded_lines_join_the_value() {
    let (h, _) = req(b"GET / HTTP/1.1\r\nA:\r\n  x\r\nB: y\r\n\tz \r\n\r\n").unwrap();
    assert_eq!(
        fields(&h),
        [("A".into(), "x".into()), ("B".into(), "y  \tz".into())]
    );
    assert_eq!(kind(b"GET / HTTP/1.1\r\n x: 1\r\n\r\n"), ErrorKind::Fold);
}

#[test]
fn content_length_and_transfer_encoding() {
    let (h, _) = req(b"POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n").unwrap();
    assert_eq!(
        fields(&h),
        [("Content-Length".into(), "5".into())],
        "the repeat is dropped"
    );
    assert_eq!(h.body, Body::Length(5));
    assert_eq!(
        kind(b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
        ErrorKind::ContentLength
    );
    assert_eq!(
        kind(b"POST / HTTP/1.1\r\nContent-Length: +4\r\n\r\n"),
        ErrorKind::ContentLength
    );
    assert_eq!(
        kind(b"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n"),
        ErrorKind::ContentLength
    );
    // Both: Content-Length goes, the connection will close.
    let (h, _) =
        req(b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
    assert_eq!(fields(&h), [("Transfer-Encoding".into(), "chunked".into())]);
    assert_eq!(h.body, Body::Chunked);
    assert!(h.has(flags::CONN_CLOSE));
    assert_eq!(
        kind(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
        ErrorKind::TransferEncoding
    );
    assert_eq!(
        kind(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
        ErrorKind::TransferEncoding
    );
    let (h, _) = req(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
    assert!(h.has(flags::CONN_CLOSE), "chunked on 1.0 closes");
    let (h, _) = req(b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").unwrap();
    assert_eq!(h.body, Body::None);
}

#[test]
fn host_and_authority() {
    let (h, _) = req(b"GET / HTTP/1.1\r\nHost: a\r\nhost: A\r\n\r\n").unwrap();
    assert_eq!(fields(&h), [("Host".into(), "a".into())]);
    assert_eq!(
        kind(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
        ErrorKind::Host
    );
    assert!(req(b"GET http://a:80/ HTTP/1.1\r\nHost: a\r\n\r\n").is_ok());
    assert!(req(b"GET http://a/ HTTP/1.1\r\nHost: A:80\r\n\r\n").is_ok());
    assert_eq!(
        kind(b"GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n"),
        ErrorKind::Authority
    );
    assert!(req_with(b"GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n", opts(true)).is_ok());
    assert_eq!(kind(b"CONNECT a HTTP/1.1\r\n\r\n"), ErrorKind::Authority);
    let (h, _) = req(b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n").unwrap();
    assert_eq!(
        fields(&h),
        [("Host".into(), "a".into())],
        "default port dropped"
    );
    assert_eq!(h.body, Body::None);
}

#[test]
fn upgrade_with_a_body_is_dropped() {
    let (h, _) =
        req(b"GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\n").unwrap();
    assert!(h.has(flags::CONN_UPGRADE) && h.has(flags::UPGRADE_WEBSOCKET));
    let (h, _) = req(
        b"POST / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\nContent-Length: 1\r\n\r\n",
    )
    .unwrap();
    assert!(!h.has(flags::CONN_UPGRADE));
    assert_eq!(h.first(b"upgrade"), None);
}

#[test]
fn too_many_headers_and_too_large() {
    let mut raw = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..100 {
        raw.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    let mut ok = raw.clone();
    ok.extend_from_slice(b"\r\n");
    assert!(
        req(&ok).is_ok(),
        "100 fields pass with maxhdr 101 (haproxy 2.6)"
    );
    raw.extend_from_slice(b"X-100: v\r\n\r\n");
    assert_eq!(kind(&raw), ErrorKind::TooManyHeaders);
    let mut p = HeadParser::new(
        Kind::Request,
        Options {
            max_head: 16,
            ..Options::default()
        },
    );
    let mut buf = b"GET /aaaaaaaaaaaaaaaaaaaa".to_vec();
    assert_eq!(
        p.parse(&mut buf, &mut Head::new()).map_err(|e| e.kind),
        Err(ErrorKind::TooLarge)
    );
}

#[test]
fn responses() {
    let h = res(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", Method::Get).unwrap();
    assert_eq!(h.status, 200);
    assert_eq!(h.body, Body::Length(2));
    assert_eq!(
        res(b"HTTP/1.1 200 OK\r\n\r\n", Method::Get).unwrap().body,
        Body::UntilClose
    );
    assert_eq!(
        res(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n",
            Method::Head
        )
        .unwrap()
        .body,
        Body::None
    );
    for code in ["100", "204", "304"] {
        let raw = format!("HTTP/1.1 {code} X\r\nContent-Length: 9\r\n\r\n");
        assert_eq!(
            res(raw.as_bytes(), Method::Get).unwrap().body,
            Body::None,
            "{code}"
        );
    }
    assert_eq!(
        res(b"HTTP/1.1 101 S\r\n\r\n", Method::Get).unwrap().body,
        Body::Tunnel
    );
    assert_eq!(
        res(b"HTTP/1.1 200 OK\r\n\r\n", Method::Connect)
            .unwrap()
            .body,
        Body::Tunnel
    );
    // haproxy 2.6 answers 502 to a response whose last coding is not
    // chunked ("gzip" and "chunked, gzip" alike, checked with curl).
    for te in ["gzip", "chunked, gzip"] {
        let raw = format!("HTTP/1.1 200\r\nTransfer-Encoding: {te}\r\n\r\n");
        assert!(res(raw.as_bytes(), Method::Get).is_err(), "{te}");
    }
    let h = res(b"HTTP/1.1  404   Not  Found \r\n\r\n", Method::Get).unwrap();
    assert_eq!(h.line_parts(), [&b"HTTP/1.1"[..], b"404", b"Not  Found "]);
    // Only the slash and the digits are checked in a response version.
    assert!(res(b"XTTP/1.1 200 OK\r\n\r\n", Method::Get).is_ok());
    for bad in [
        &b"HTTP/1.1\r\n\r\n"[..],
        b"HTTP/1.1 2x OK\r\n\r\n",
        b"HTTP/11 200 OK\r\n\r\n",
        b"http/1.1 200 OK\r\n\r\n",
    ] {
        assert!(
            res(bad, Method::Get).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    // A Host header in a response is nobody's business.
    assert!(res(
        b"HTTP/1.1 200 OK\r\nHost: a\r\nHost: b\r\n\r\n",
        Method::Get
    )
    .is_ok());
}

/// HAProxy's scheme-based normalisation drops a default or empty port
/// from an absolute target and gives every Host its host; an authority
/// ending in two colons keeps one (found by the h1_head fuzz target: the
/// emitted head normalises once more, as it would through a second
/// HAProxy).
#[test]
fn scheme_based_normalisation() {
    let (h, _) = req(b"GET http://a:80/x HTTP/1.1\r\nHost: a:80\r\n\r\n").unwrap();
    assert_eq!(h.line_parts()[1], b"http://a/x");
    assert_eq!(fields(&h), [("Host".into(), "a".into())]);
    let (h, _) = req(b"GET http://a::/ HTTP/1.1\r\nHost: a::\r\n\r\n").unwrap();
    assert_eq!(h.line_parts()[1], b"http://a:/");
    assert_eq!(fields(&h), [("Host".into(), "a:".into())]);
    let (h, _) = req(b"GET http://a:8080/ HTTP/1.1\r\nHost: a:8080\r\n\r\n").unwrap();
    assert_eq!(h.line_parts()[1], b"http://a:8080/", "not a default port");
}

/// Connection headers lose their keep-alive and close words (the flags
/// keep them), as HAProxy parses with H1_MF_CLEAN_CONN_HDR: rules and the
/// server never see them.
#[test]
fn connection_values_are_cleaned() {
    let (h, _) = req(b"GET / HTTP/1.1\r\nConnection: close\r\nX: 1\r\n\r\n").unwrap();
    assert_eq!(fields(&h), [("X".into(), "1".into())]);
    assert!(h.has(flags::CONN_CLOSE));
    let (h, _) =
        req(b"GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\n")
            .unwrap();
    assert_eq!(h.first(b"connection"), Some(&b"Upgrade"[..]));
    assert!(h.has(flags::CONN_KEEPALIVE | flags::CONN_UPGRADE));
    let (h, _) = req(b"GET / HTTP/1.1\r\nConnection: x-a , x-b\r\n\r\n").unwrap();
    assert_eq!(
        h.first(b"connection"),
        Some(&b"x-a , x-b"[..]),
        "untouched without them"
    );
}

/// An upgrade to websocket needs its key (a request) or its accept (a
/// response): HAProxy's reg-test websocket.vtc refuses both.
#[test]
fn a_websocket_upgrade_needs_its_key() {
    assert!(req(b"GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n").is_err());
    assert!(req(b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n").is_ok());
    let res = |raw: &[u8]| {
        let mut buf = raw.to_vec();
        let mut h = Head::new();
        HeadParser::new(Kind::Response(Method::Get), Options::default()).parse(&mut buf, &mut h)
    };
    assert!(
        res(b"HTTP/1.1 101 Switching\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n")
            .is_err()
    );
    assert!(res(b"HTTP/1.1 101 Switching\r\nConnection: upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: x\r\n\r\n").is_ok());
}

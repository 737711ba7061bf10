//! The case table: one entry per case. Each says what the client sends,
//! what the server answers, and what HAProxy is known to do with it (the
//! 3.2 manual where it says, haproxy 2.6 as run where it does not; every
//! place where the two could differ carries a comment).
//!
//! Adding a case is one entry in one of the lists below: `Case::new(name)`,
//! the client's bytes (`send`, `pause`, `answer`, `interim`,
//! `server_has_head`), the server's script (`reply`), config lines
//! (`frontend`, `backend`), then what haproxy does (`expect` statuses,
//! `forwarded`, `termination`, `check`). To see what haproxy does first:
//! `HTTP_CASES_SHOW=<name> cargo test -p ringlb --test http -- every_case
//! --nocapture`.

use std::time::Duration;

use crate::case::{bad_request, bad_response, Case, Outcome};
use crate::harness::http::{header, Reply};

const GET: &str = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";

/// The requests the server saw, as `(line, body)`.
fn seen(o: &Outcome) -> Vec<(String, Vec<u8>)> {
    o.server
        .iter()
        .map(|r| (r.line.clone(), r.body.data.clone()))
        .collect()
}

fn body(o: &Outcome, i: usize) -> String {
    String::from_utf8_lossy(&o.client.responses[i].body.data).into_owned()
}

/// A head of exactly `n` bytes: a request line, `Host` and `X-Big`, which
/// carries the bulk.
fn big_head(n: usize) -> String {
    let bare = "GET /big HTTP/1.1\r\nHost: h\r\nX-Big: \r\n\r\n".len();
    format!(
        "GET /big HTTP/1.1\r\nHost: h\r\nX-Big: {}\r\n\r\n",
        "a".repeat(n - bare)
    )
}

/// A request with `n` header fields (`Host` and `n - 1` others).
fn many_fields(n: usize) -> String {
    let mut r = String::from("GET /many HTTP/1.1\r\nHost: h\r\n");
    for i in 1..n {
        r.push_str(&format!("X-{i}: a\r\n"));
    }
    r + "\r\n"
}

pub fn all() -> Vec<Case> {
    let mut v = good();
    v.extend(bad_requests());
    v.extend(bad_responses());
    v
}

/// Well-formed exchanges.
fn good() -> Vec<Case> {
    vec![
        Case::new("get_keep_alive_two_requests")
            .send(GET)
            .answer("GET")
            .send("GET /b HTTP/1.1\r\nHost: h\r\n\r\n")
            .reply(Reply::ok(b"one"))
            .reply(Reply::ok(b"two"))
            .expect(&[200, 200])
            .forwarded(2)
            .termination("----")
            .check(|o| {
                assert_eq!(body(o, 0), "one");
                assert_eq!(body(o, 1), "two");
                // Both on one server connection (http-reuse keeps it to
                // the session that opened it).
                assert_eq!(o.server_conns, 1, "{:?}", o.server);
                assert_eq!(o.server[1].line, "GET /b HTTP/1.1");
            }),
        Case::new("get_in_pieces")
            .send("GET /p HTTP/1.1\r\nHo")
            .pause(50)
            .send("st: h\r\n\r\n")
            .reply(Reply::ok(b"x"))
            .expect(&[200])
            .forwarded(1),
        Case::new("http10_get")
            .send("GET /old HTTP/1.0\r\n\r\n")
            .reply(Reply::ok(b"old"))
            .expect(&[200])
            .wait_close()
            .forwarded(1)
            .check(|o| {
                assert_eq!(o.server[0].line, "GET /old HTTP/1.0");
                assert!(
                    o.client.closed,
                    "an HTTP/1.0 client without keep-alive is closed"
                );
            }),
        // h1_format_htx_reqline / _stline: 1.1 and later leave as HTTP/1.1.
        Case::new("req_version_2_0_leaves_as_1_1")
            .send("GET /v HTTP/2.0\r\nHost: h\r\n\r\n")
            .reply(Reply::ok(b"v"))
            .expect(&[200])
            .forwarded(1)
            .check(|o| assert_eq!(o.server[0].line, "GET /v HTTP/1.1")),
        Case::new("req_version_1_2_leaves_as_1_1")
            .send("GET /v HTTP/1.2\r\nHost: h\r\n\r\n")
            .reply(Reply::ok(b"v"))
            .expect(&[200])
            .forwarded(1)
            .check(|o| assert_eq!(o.server[0].line, "GET /v HTTP/1.1")),
        Case::new("res_version_1_2_leaves_as_1_1")
            .send(GET)
            .reply(Reply::raw(
                b"HTTP/1.2 200 OK\r\nContent-Length: 2\r\n\r\nok",
            ))
            .expect(&[200])
            .forwarded(1)
            .check(|o| assert_eq!(o.client.responses[0].status_line, "HTTP/1.1 200 OK")),
        Case::new("http10_keep_alive")
            .send("GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .answer("GET")
            .send("GET /again HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .reply(Reply::ok(b"old"))
            .reply(Reply::ok(b"again"))
            .expect(&[200, 200])
            .forwarded(2),
        Case::new("post_content_length")
            .send("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello")
            .reply(Reply::ok(b"posted"))
            .expect(&[200])
            .forwarded(1)
            .check(|o| {
                assert_eq!(
                    seen(o),
                    [("POST /p HTTP/1.1".to_owned(), b"hello".to_vec())]
                );
                assert_eq!(header(&o.server[0].headers, "content-length"), Some("5"));
            }),
        Case::new("post_content_length_ows")
            .send("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length:   5  \r\n\r\nhello")
            .expect(&[200])
            .forwarded(1)
            .check(|o| assert_eq!(o.server[0].body.data, b"hello")),
        Case::new("post_chunked_extensions_trailers")
            .send(
                "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\
                 5;ext=1\r\nhello\r\n6;a;b=\"q\"\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
            )
            .reply(Reply::ok(b"got it"))
            .expect(&[200])
            .forwarded(1)
            .check(|o| {
                let r = &o.server[0];
                assert_eq!(r.body.data, b"hello world");
                assert_eq!(header(&r.headers, "transfer-encoding"), Some("chunked"));
                assert_eq!(r.body.trailers.len(), 1, "{:?}", r.body);
                assert!(r.body.trailers[0].0.eq_ignore_ascii_case("x-trailer"));
            }),
        Case::new("pipelined_three")
            .send(
                "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n\
                 POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc\
                 GET /3 HTTP/1.1\r\nHost: h\r\n\r\n",
            )
            .reply(Reply::ok(b"r1"))
            .reply(Reply::ok(b"r2").chunked())
            .reply(Reply::ok(b"r3"))
            .expect(&[200, 200, 200])
            .forwarded(3)
            .check(|o| {
                let lines: Vec<_> = o.server.iter().map(|r| r.line.as_str()).collect();
                assert_eq!(
                    lines,
                    ["GET /1 HTTP/1.1", "POST /2 HTTP/1.1", "GET /3 HTTP/1.1"]
                );
                assert_eq!(
                    (body(o, 0), body(o, 1), body(o, 2)),
                    ("r1".into(), "r2".into(), "r3".into())
                );
            }),
        Case::new("head_then_get")
            .send("HEAD /h HTTP/1.1\r\nHost: h\r\n\r\nGET /g HTTP/1.1\r\nHost: h\r\n\r\n")
            .reply(Reply::ok(b"twelve bytes"))
            .reply(Reply::ok(b"after head"))
            .methods(&["HEAD", "GET"])
            .expect(&[200, 200])
            .forwarded(2)
            .check(|o| {
                let r = &o.client.responses[0];
                assert_eq!(header(&r.headers, "content-length"), Some("12"));
                assert!(r.body.data.is_empty());
                assert_eq!(body(o, 1), "after head");
            }),
        Case::new("status_204_then_get")
            .send(GET)
            .answer("GET")
            .send(GET)
            .reply(Reply::status(204, "No Content", b""))
            .reply(Reply::ok(b"after"))
            .expect(&[204, 200])
            .forwarded(2)
            .check(|o| assert_eq!(body(o, 1), "after")),
        Case::new("status_304_then_get")
            .send("GET /c HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"x\"\r\n\r\n")
            .answer("GET")
            .send(GET)
            .reply(Reply::status(304, "Not Modified", b"").header("ETag", "\"x\""))
            .reply(Reply::ok(b"after"))
            .expect(&[304, 200])
            .forwarded(2)
            .check(|o| assert_eq!(body(o, 1), "after")),
        Case::new("expect_100_continue")
            .send(
                "POST /e HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
            )
            .interim()
            .send("data")
            .reply(Reply::ok(b"continued").continue_first())
            .expect(&[200])
            .forwarded(1)
            .check(|o| {
                assert_eq!(o.client.interim.len(), 1, "{:?}", o.client);
                assert_eq!(o.client.interim[0].status, 100);
                assert_eq!(o.server[0].body.data, b"data");
            }),
        // With http-buffer-request haproxy answers the 100 itself, waits
        // for the body, and the server sees the whole request at once,
        // without the Expect (%B counts the interim answer, as above).
        Case::new("expect_100_continue_buffered_by_haproxy")
            .frontend("option http-buffer-request")
            .send(
                "POST /e HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
            )
            .interim()
            .send("data")
            .reply(Reply::ok(b"buffered"))
            .expect(&[200])
            .forwarded(1)
            .check(|o| {
                assert_eq!(o.client.interim.len(), 1, "{:?}", o.client);
                assert_eq!(o.server[0].body.data, b"data");
                assert_eq!(header(&o.server[0].headers, "expect"), None);
            }),
        Case::new("response_until_close")
            .send(GET)
            .reply(Reply::ok(b"streamed to the end").until_close())
            .expect(&[200])
            .wait_close()
            .forwarded(1)
            .check(|o| {
                assert_eq!(body(o, 0), "streamed to the end");
                assert!(o.client.closed);
            }),
        Case::new("response_chunked_then_get")
            .send(GET)
            .answer("GET")
            .send(GET)
            .reply(Reply::ok(b"abcdefgh").chunked())
            .reply(Reply::ok(b"next"))
            .expect(&[200, 200])
            .forwarded(2)
            .check(|o| {
                assert_eq!(body(o, 0), "abcdefgh");
                assert_eq!(body(o, 1), "next");
            }),
        Case::new("response_delayed")
            .send(GET)
            .reply(Reply::ok(b"late").delayed(Duration::from_millis(150)))
            .expect(&[200])
            .forwarded(1)
            .check(|o| {
                let t = &o.httplogs()[0].timers;
                assert!(t[3].parse::<u64>().unwrap() >= 140, "Tr {t:?}");
            }),
        Case::new("req_connection_close")
            .send("GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            .expect(&[200])
            .wait_close()
            .forwarded(1)
            .check(|o| assert!(o.client.closed)),
        // The server closes after its answer; the next request of the same
        // client goes on a new server connection.
        Case::new("res_connection_close_then_get")
            .send(GET)
            .answer("GET")
            .send(GET)
            .reply(Reply::ok(b"bye").close())
            .reply(Reply::ok(b"again"))
            .expect(&[200, 200])
            .forwarded(2)
            .check(|o| assert_eq!(o.server_conns, 2)),
        Case::new("server_closes_without_answer")
            .send(GET)
            .reply(Reply::close_silently())
            .expect(&[502])
            .forwarded(1)
            .termination("SH--"),
        // After a 502 the client connection stays open for the next request.
        Case::new("server_closes_without_answer_then_get")
            .send(GET)
            .answer("GET")
            .send(GET)
            .reply(Reply::close_silently())
            .reply(Reply::ok(b"second"))
            .expect(&[502, 200])
            .forwarded(2)
            .check(|o| assert_eq!(body(o, 1), "second")),
    ]
}

/// Requests HAProxy refuses (400, nothing forwarded), and their relaxed
/// twins under `option accept-invalid-http-request` (the 3.2 manual calls
/// it `accept-unsafe-violations-in-http-request`; 2.6 knows only the old
/// name, which 3.2 still takes).
fn bad_requests() -> Vec<Case> {
    const RELAX: &str = "option accept-invalid-http-request";
    let post =
        |te_cl: &str, body: &str| format!("POST /b HTTP/1.1\r\nHost: h\r\n{te_cl}\r\n\r\n{body}");
    vec![
        // RFC 9112 6.3: Transfer-Encoding overrides Content-Length; haproxy
        // 2.6 drops the Content-Length and forwards the chunked body.
        Case::new("req_content_length_and_transfer_encoding")
            .send(post(
                "Content-Length: 20\r\nTransfer-Encoding: chunked",
                "3\r\nabc\r\n0\r\n\r\n",
            ))
            .expect(&[200])
            .forwarded(1)
            .check(|o| {
                let r = &o.server[0];
                assert_eq!(r.body.data, b"abc");
                assert_eq!(
                    header(&r.headers, "content-length"),
                    None,
                    "{:?}",
                    r.headers
                );
            }),
        // Identical duplicates are one length (RFC 9112 6.3).
        Case::new("req_duplicate_content_length_same")
            .send(post("Content-Length: 4\r\nContent-Length: 4", "abcd"))
            .expect(&[200])
            .forwarded(1)
            .check(|o| assert_eq!(o.server[0].body.data, b"abcd")),
        Case::new("req_content_length_list_same")
            .send(post("Content-Length: 4, 4", "abcd"))
            .expect(&[200])
            .forwarded(1)
            .check(|o| assert_eq!(o.server[0].body.data, b"abcd")),
        // The whole request in one read: haproxy parses the bad chunk size
        // before it connects, and the server sees nothing.
        bad_request(
            "req_chunked_bad_size",
            post("Transfer-Encoding: chunked", "zz\r\nabc\r\n0\r\n\r\n"),
        ),
        // The head first: it is forwarded, then the bad chunk size ends
        // the stream.
        // %B counts the error page here (206), not in an early 400 (0).
        Case::new("req_chunked_bad_size_after_the_head")
            .send(post("Transfer-Encoding: chunked", ""))
            .server_has_head()
            .send("zz\r\nabc\r\n0\r\n\r\n")
            .expect(&[400])
            .forwarded(1)
            .termination("PH--"),
        Case::new("req_http10_chunked")
            .send("POST /c HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
            .expect(&[200])
            .wait_close()
            .forwarded(1)
            .check(|o| assert_eq!(o.server[0].body.data, b"abc")),
        bad_request(
            "req_duplicate_content_length_differs",
            post("Content-Length: 3\r\nContent-Length: 4", "abcd"),
        ),
        bad_request(
            "req_transfer_encoding_last_not_chunked",
            post("Transfer-Encoding: chunked, gzip", "3\r\nabc\r\n0\r\n\r\n"),
        ),
        bad_request(
            "req_content_length_plus",
            post("Content-Length: +4", "abcd"),
        ),
        bad_request(
            "req_content_length_inner_space",
            post("Content-Length: 4 4", "abcd"),
        ),
        bad_request(
            "req_content_length_overflow",
            post("Content-Length: 99999999999999999999999", "abcd"),
        ),
        bad_request(
            "req_space_before_colon",
            "GET / HTTP/1.1\r\nHost : h\r\n\r\n",
        ),
        bad_request(
            "req_method_invalid_char",
            "GE(T / HTTP/1.1\r\nHost: h\r\n\r\n",
        ),
        // A fragment is refused unless relaxed (both manuals).
        bad_request(
            "req_uri_fragment",
            "GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n",
        ),
        Case::new("req_uri_fragment_relaxed")
            .frontend(RELAX)
            .send("GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n")
            .expect(&[200])
            .forwarded(1)
            .check(|o| assert_eq!(o.server[0].line, "GET /a#frag HTTP/1.1")),
        // Both manuals list '"' (and < > \\ ^ ` { | }, bytes over 127) as
        // refused unless relaxed; haproxy 2.6 forwards them as they are
        // (its log shows '"' as #22). A drop-in does what haproxy does.
        Case::new("req_uri_quote_braces_forwarded_by_haproxy_2_6")
            .send("GET /a\"b{c} HTTP/1.1\r\nHost: h\r\n\r\n")
            .expect(&[200])
            .forwarded(1)
            .check(|o| assert_eq!(o.server[0].line, "GET /a\"b{c} HTTP/1.1")),
        // DEL is refused "always" by the manuals; haproxy 2.6 refuses it
        // only as the last byte of the URI, and forwards it inside.
        Case::new("req_uri_del_inside_forwarded_by_haproxy_2_6")
            .send("GET /a\x7fb HTTP/1.1\r\nHost: h\r\n\r\n")
            .expect(&[200])
            .forwarded(1)
            .check(|o| assert_eq!(o.server[0].line, "GET /a\u{7f}b HTTP/1.1")),
        bad_request("req_uri_del_last", "GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n"),
        // Other control characters are refused even relaxed.
        bad_request(
            "req_uri_control_char",
            "GET /a\x01b HTTP/1.1\r\nHost: h\r\n\r\n",
        ),
        Case::new("req_uri_control_char_relaxed_still_refused")
            .frontend(RELAX)
            .send("GET /a\x01b HTTP/1.1\r\nHost: h\r\n\r\n")
            .expect(&[400])
            .forwarded(0)
            .termination("PR--"),
        bad_request(
            "req_header_name_invalid_char",
            "GET / HTTP/1.1\r\nHost: h\r\nX(y): 1\r\n\r\n",
        ),
        Case::new("req_header_name_invalid_char_relaxed")
            .frontend(RELAX)
            .send("GET / HTTP/1.1\r\nHost: h\r\nX(y): 1\r\n\r\n")
            .expect(&[200])
            .forwarded(1),
        // The 3.2 manual accepts a NUL in a header value only relaxed;
        // haproxy 2.6 forwards it either way.
        Case::new("req_header_value_nul")
            .send("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\0b\r\n\r\n")
            .expect(&[200])
            .forwarded(1)
            .check(|o| assert_eq!(header(&o.server[0].headers, "x-a"), Some("a\0b"))),
        Case::new("req_header_value_nul_relaxed")
            .frontend(RELAX)
            .send("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\0b\r\n\r\n")
            .expect(&[200])
            .forwarded(1),
        Case::new("req_header_value_control_char")
            .send("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x01b\r\n\r\n")
            .expect(&[200])
            .forwarded(1),
        bad_request(
            "req_header_value_bare_cr",
            "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n",
        ),
        // Methods are case-sensitive tokens: "get" is another method.
        Case::new("req_lowercase_method")
            .send("get /l HTTP/1.1\r\nHost: h\r\n\r\n")
            .expect(&[200])
            .forwarded(1)
            .check(|o| assert_eq!(o.server[0].line, "get /l HTTP/1.1")),
        // RFC 9112 5.2: a proxy may replace obs-fold with spaces (haproxy
        // turns the CR LF into two more, "a   b").
        Case::new("req_obs_fold")
            .send("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n")
            .expect(&[200])
            .forwarded(1)
            .check(|o| {
                let v = header(&o.server[0].headers, "x-a").unwrap();
                assert!(v.starts_with('a') && v.ends_with('b'), "{v:?}");
                assert!(v[1..v.len() - 1].bytes().all(|b| b == b' '), "{v:?}");
            }),
        // tune.bufsize 16384 - tune.maxrewrite 1024 leaves 15360 bytes for
        // the head as haproxy stores it (HTX: blocks with their own
        // overhead, no CR LF, no ": "), which for this three-line head is
        // 15273 bytes on the wire at most (found by bisection on 2.6).
        Case::new("req_head_at_the_limit")
            .send(big_head(15_273))
            .expect(&[200])
            .forwarded(1),
        bad_request("req_head_one_byte_over_the_limit", big_head(15_274)),
        bad_request("req_head_far_over_the_limit", big_head(15_400)),
        // tune.http.maxhdr (101 by default, the manual) counts the request
        // line: 100 header fields pass, 101 are refused.
        Case::new("req_100_header_fields")
            .send(many_fields(100))
            .expect(&[200])
            .forwarded(1)
            .check(|o| assert_eq!(o.server[0].headers.len(), 100)),
        bad_request("req_101_header_fields", many_fields(101)),
        bad_request(
            "req_absolute_uri_host_disagrees",
            "GET http://a.example/x HTTP/1.1\r\nHost: b.example\r\n\r\n",
        ),
        Case::new("req_absolute_uri_host_disagrees_relaxed")
            .frontend(RELAX)
            .send("GET http://a.example/x HTTP/1.1\r\nHost: b.example\r\n\r\n")
            .expect(&[200])
            .forwarded(1),
        Case::new("req_absolute_uri_host_agrees")
            .send("GET http://a.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n")
            .expect(&[200])
            .forwarded(1),
        // PRI is reserved for the HTTP/2 preface (http_wait_for_request);
        // the request line is logged (the parser took it).
        bad_request("req_pri_method", "PRI / HTTP/1.1\r\nHost: h\r\n\r\n"),
        bad_request("req_pri_lower_case", "pri * HTTP/1.1\r\nHost: h\r\n\r\n"),
        bad_request("req_http09", "GET /\r\n"),
        Case::new("req_http09_relaxed")
            .frontend(RELAX)
            .send("GET /\r\n")
            .expect(&[200])
            .wait_close(),
        bad_request(
            "req_version_two_digits",
            "GET / HTTP/1.10\r\nHost: h\r\n\r\n",
        ),
        Case::new("req_bare_lf")
            .send("GET /lf HTTP/1.1\nHost: h\n\n")
            .expect(&[200])
            .forwarded(1),
        bad_request(
            "req_garbage",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        ),
    ]
}

/// Server answers HAProxy refuses (502 to the client, nothing of the bad
/// answer forwarded), and their relaxed twins.
fn bad_responses() -> Vec<Case> {
    const RELAX: &str = "option accept-invalid-http-response";
    vec![
        Case::new("res_content_length_and_transfer_encoding")
            .send(GET)
            .reply(Reply::raw(
                b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            ))
            .expect(&[200])
            .forwarded(1)
            .check(|o| assert_eq!(body(o, 0), "abc")),
        bad_response(
            "res_duplicate_content_length_differs",
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        ),
        // RFC 9112 6.3 delimits a response whose last coding is not
        // chunked by the close; haproxy 2.6 refuses it as it refuses such
        // a request.
        bad_response(
            "res_transfer_encoding_last_not_chunked",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzz",
        ),
        bad_response("res_content_length_plus", "HTTP/1.1 200 OK\r\nContent-Length: +4\r\n\r\nabcd"),
        bad_response(
            "res_content_length_overflow",
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\nabcd",
        ),
        bad_response("res_space_before_colon", "HTTP/1.1 200 OK\r\nContent-Length : 4\r\n\r\nabcd"),
        bad_response(
            "res_header_name_invalid_char",
            "HTTP/1.1 200 OK\r\nX(y): 1\r\nContent-Length: 4\r\n\r\nabcd",
        ),
        Case::new("res_header_name_invalid_char_relaxed")
            .backend(RELAX)
            .send(GET)
            .reply(Reply::raw(b"HTTP/1.1 200 OK\r\nX(y): 1\r\nContent-Length: 4\r\n\r\nabcd"))
            .expect(&[200])
            .forwarded(1),
        bad_response(
            "res_content_length_inner_space",
            "HTTP/1.1 200 OK\r\nContent-Length: 4 4\r\n\r\nabcd",
        ),
        Case::new("res_duplicate_content_length_same")
            .send(GET)
            .reply(Reply::raw(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok"))
            .expect(&[200])
            .forwarded(1),
        // As in requests, haproxy 2.6 forwards a NUL in a header value.
        Case::new("res_header_value_nul")
            .send(GET)
            .reply(Reply::raw(b"HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 2\r\n\r\nok"))
            .expect(&[200])
            .forwarded(1),
        Case::new("res_101_header_fields")
            .send(GET)
            .reply(Reply::raw(
                format!(
                    "HTTP/1.1 200 OK\r\n{}Content-Length: 2\r\n\r\nok",
                    (1..101).map(|i| format!("X-{i}: a\r\n")).collect::<String>()
                )
                .as_bytes(),
            ))
            .expect(&[502])
            .forwarded(1),
        // The server closes 7 bytes short: the client gets the head and
        // what there was, the log says the server ended the data phase.
        Case::new("res_body_shorter_than_length")
            .send(GET)
            .reply(Reply::raw(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"))
            .expect(&[200])
            .forwarded(1)
            .termination("SD--")
            .check(|o| {
                let b = &o.client.responses[0].body;
                assert!(b.truncated && b.data == b"abc", "{b:?}");
            }),
        bad_response(
            "res_header_value_bare_cr",
            "HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 2\r\n\r\nok",
        ),
        bad_response("res_garbage", "hello there\r\n\r\n"),
        bad_response("res_http09_body_only", "just a body, no head"),
        bad_response("res_status_not_numeric", "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n"),
        Case::new("res_bare_lf")
            .send(GET)
            .reply(Reply::raw(b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok"))
            .expect(&[200])
            .forwarded(1),
        Case::new("res_obs_fold")
            .send(GET)
            .reply(Reply::raw(b"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok"))
            .expect(&[200])
            .forwarded(1),
    ]
}

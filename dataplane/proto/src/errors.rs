//! HAProxy's default error messages (`http_err_msgs`, HAProxy 2.6): what a
//! client gets when ringlb answers for a server — a refused request (400),
//! a timeout (408, 504), a deny (403), no server (503), a bad response
//! (502) — byte for byte, so that tools and tests written against HAProxy
//! see the same thing.
//!
//! HAProxy sends them two ways, and a client can tell: when the HTTP/1
//! parser refuses a request, the message goes out as written
//! ([`raw`]: `Content-length`, `Connection: close` on 400 and 408); when
//! the stream answers (deny, 503, 504...), it goes through HTX, which
//! lower-cases the field names and drops `Connection` ([`to_head`]).
//! `errorfile` and `http-errors` replace them per proxy (the HTTP issue).

use crate::msg::{Head, StartLine};

/// One default message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message {
    pub status: u16,
    pub reason: &'static str,
    /// The sentence after the `<h1>` line.
    pub text: &'static str,
    /// Sent with `Connection: close` when raw.
    pub close: bool,
}

const fn m(status: u16, reason: &'static str, text: &'static str, close: bool) -> Message {
    Message {
        status,
        reason,
        text,
        close,
    }
}

/// Every status HAProxy has a default message for.
pub const MESSAGES: &[Message] = &[
    m(200, "OK", "Service ready.", false),
    m(
        400,
        "Bad request",
        "Your browser sent an invalid request.",
        true,
    ),
    m(
        401,
        "Unauthorized",
        "You need a valid user and password to access this content.",
        false,
    ),
    m(
        403,
        "Forbidden",
        "Request forbidden by administrative rules.",
        false,
    ),
    m(404, "Not Found", "The resource could not be found.", false),
    m(
        405,
        "Method Not Allowed",
        "A request was made of a resource using a request method not supported by that resource",
        false,
    ),
    m(
        407,
        "Unauthorized",
        "You need a valid user and password to access this content.",
        false,
    ),
    m(
        408,
        "Request Time-out",
        "Your browser didn't send a complete request in time.",
        true,
    ),
    m(
        410,
        "Gone",
        "The resource is no longer available and will not be available again.",
        false,
    ),
    m(
        413,
        "Payload Too Large",
        "The request entity exceeds the maximum allowed.",
        false,
    ),
    m(
        421,
        "Misdirected Request",
        "Request sent to a non-authoritative server.",
        false,
    ),
    m(
        422,
        "Unprocessable Content",
        "The server cannot process the contained instructions.",
        false,
    ),
    m(425, "Too Early", "Your browser sent early data.", false),
    m(
        429,
        "Too Many Requests",
        "You have sent too many requests in a given amount of time.",
        false,
    ),
    m(
        500,
        "Internal Server Error",
        "An internal server error occurred.",
        false,
    ),
    m(
        501,
        "Not Implemented",
        ".The server does not support the functionality required to fulfill the request.",
        false,
    ),
    m(
        502,
        "Bad Gateway",
        "The server returned an invalid or incomplete response.",
        false,
    ),
    m(
        503,
        "Service Unavailable",
        "No server is available to handle this request.",
        false,
    ),
    m(
        504,
        "Gateway Time-out",
        "The server didn't respond in time.",
        false,
    ),
];

/// The default message for `status`, if HAProxy has one.
pub fn message(status: u16) -> Option<&'static Message> {
    MESSAGES.iter().find(|e| e.status == status)
}

impl Message {
    /// The HTML body.
    pub fn body(&self) -> String {
        format!(
            "<html><body><h1>{} {}</h1>\n{}\n</body></html>\n",
            self.status, self.reason, self.text
        )
    }
}

/// The whole response as HAProxy's parser-error path sends it.
pub fn raw(status: u16) -> Option<Vec<u8>> {
    let e = message(status)?;
    let body = e.body();
    let close = if e.close { "Connection: close\r\n" } else { "" };
    Some(
        format!(
            "HTTP/1.1 {} {}\r\nContent-length: {}\r\nCache-Control: no-cache\r\n{close}Content-Type: text/html\r\n\r\n{body}",
            e.status,
            e.reason,
            body.len()
        )
        .into_bytes(),
    )
}

/// The message as a response head (HTX's lower-case names, no
/// Connection) and its body, for the stream to send as any response.
pub fn to_head(status: u16, head: &mut Head) -> Option<String> {
    let e = message(status)?;
    let body = e.body();
    head.clear();
    let version = head.append_bytes(b"HTTP/1.1");
    let code = head.append_bytes(e.status.to_string().as_bytes());
    let reason = head.append_bytes(e.reason.as_bytes());
    head.line = StartLine::Response {
        version,
        status: code,
        reason,
    };
    head.status = e.status;
    head.flags |= crate::msg::flags::VER_11;
    head.push(b"content-length", body.len().to_string().as_bytes());
    head.push(b"cache-control", b"no-cache");
    head.push(b"content-type", b"text/html");
    head.body = crate::msg::Body::Length(body.len() as u64);
    Some(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lengths HAProxy's table hard-codes, which the bodies built here
    /// must match.
    #[test]
    fn content_lengths_are_haproxys() {
        let haproxy = [
            (200, 58),
            (400, 90),
            (401, 112),
            (403, 93),
            (404, 83),
            (405, 146),
            (407, 112),
            (408, 110),
            (410, 114),
            (413, 106),
            (421, 104),
            (422, 116),
            (425, 80),
            (429, 117),
            (500, 97),
            (501, 136),
            (502, 107),
            (503, 107),
            (504, 92),
        ];
        assert_eq!(haproxy.len(), MESSAGES.len());
        for (status, len) in haproxy {
            assert_eq!(message(status).unwrap().body().len(), len, "{status}");
        }
    }

    #[test]
    fn the_parser_error_page_byte_for_byte() {
        assert_eq!(
            raw(400).unwrap(),
            b"HTTP/1.1 400 Bad request\r\nContent-length: 90\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<html><body><h1>400 Bad request</h1>\nYour browser sent an invalid request.\n</body></html>\n"
        );
        assert_eq!(raw(418), None);
    }

    #[test]
    fn a_stream_answer_is_an_ordinary_head() {
        let mut h = Head::new();
        let body = to_head(403, &mut h).unwrap();
        let mut out = Vec::new();
        crate::h1::emit::head(&h, &mut out);
        out.extend_from_slice(body.as_bytes());
        assert_eq!(
            out,
            b"HTTP/1.1 403 Forbidden\r\ncontent-length: 93\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n\r\n<html><body><h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.\n</body></html>\n"
        );
    }
}

//! Log formats rendered over a stream for the rules' arguments
//! (`set-header` values, `set-path`, `lf-string`, redirect locations,
//! `set-var-fmt`, dynamic `use_backend`), as HAProxy's `build_logline`
//! renders them mid-stream: literals, `%[sample]` items, and the aliases
//! whose value the stream already knows.
//!
//! HTTP arguments (HAProxy's `LOG_OPT_HTTP`: header values, paths, replies,
//! redirects) print a sample with its control characters %-encoded and
//! no quoting; other formats (`set-var-fmt`, `use_backend`) honour `Q`,
//! `E` and `M` as a log line does.

use ringlb_config::logformat::{Alias, LogFlags, LogFormat, LogItem};

use super::expr::Expr;
use super::fetch::Ctx;
use super::pattern::CompileError;
use super::sample::Smp;

#[derive(Debug)]
enum Item {
    Text(Vec<u8>),
    Alias(Alias, LogFlags),
    Sample(Expr, LogFlags),
}

/// A compiled log format.
#[derive(Debug)]
pub struct Fmt {
    items: Vec<Item>,
    /// HAProxy's `LOG_OPT_HTTP`.
    http: bool,
}

impl Fmt {
    pub fn compile(f: &LogFormat, http: bool) -> Result<Fmt, CompileError> {
        let mut items = Vec::with_capacity(f.items.len());
        for it in &f.items {
            items.push(match it {
                LogItem::Text(t) => Item::Text(t.as_bytes().to_vec()),
                LogItem::Alias { alias, flags } => Item::Alias(*alias, flags.clone()),
                LogItem::Sample { expr, flags } => {
                    Item::Sample(Expr::compile(expr)?, flags.clone())
                }
            });
        }
        Ok(Fmt { items, http })
    }

    /// A format of literal text.
    pub fn literal(text: &str) -> Fmt {
        Fmt {
            items: vec![Item::Text(text.as_bytes().to_vec())],
            http: true,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The format rendered over `cx`.
    pub fn render(&self, cx: &Ctx<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        self.render_into(cx, &mut out);
        out
    }

    pub fn render_into(&self, cx: &Ctx<'_>, out: &mut Vec<u8>) {
        for it in &self.items {
            match it {
                Item::Text(t) => out.extend_from_slice(t),
                Item::Sample(e, flags) => {
                    let v = e.eval(cx).and_then(|v| {
                        match v.cast(ringlb_config::keywords::SmpType::Str) {
                            Some(Smp::Str(s)) => Some(s),
                            _ => None,
                        }
                    });
                    if self.http {
                        http_encode(out, v.as_deref().unwrap_or_default(), flags);
                    } else {
                        text(out, v.as_deref(), flags);
                    }
                }
                Item::Alias(a, flags) => alias(out, *a, flags, cx),
            }
        }
    }
}

/// HAProxy's `lf_encode_chunk` with the HTTP map: bytes 0x00-0x08,
/// 0x0a-0x1f and 0x7f as `%XX`; `E` escapes `"`, `\` and `]` too.
fn http_encode(out: &mut Vec<u8>, s: &[u8], flags: &LogFlags) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &c in s {
        if c <= 0x08 || (0x0a..=0x1f).contains(&c) || c == 0x7f {
            out.push(b'%');
            let hex = |n: u8| HEX.get(usize::from(n)).copied().unwrap_or(b'0');
            out.push(hex(c >> 4));
            out.push(hex(c & 15));
        } else if flags.escape && matches!(c, b'"' | b'\\' | b']') {
            out.push(b'\\');
            out.push(c);
        } else {
            out.push(c);
        }
    }
}

/// HAProxy's `lf_text_len`: the text up to a NUL, quoted with `Q`,
/// escaped with `E`; nothing (`-` with `M`) when absent or empty.
fn text(out: &mut Vec<u8>, s: Option<&[u8]>, flags: &LogFlags) {
    if flags.quote {
        out.push(b'"');
    }
    match s.filter(|s| !s.is_empty()) {
        Some(s) => {
            let s = s.split(|c| *c == 0).next().unwrap_or_default();
            for &c in s {
                if flags.escape && matches!(c, b'"' | b'\\' | b']') {
                    out.push(b'\\');
                }
                out.push(c);
            }
        }
        None if flags.mandatory && !flags.quote => out.push(b'-'),
        None => {}
    }
    if flags.quote {
        out.push(b'"');
    }
}

fn alias(out: &mut Vec<u8>, a: Alias, flags: &LogFlags, cx: &Ctx<'_>) {
    use std::io::Write;
    let env = cx.env;
    let [method, uri, version] = cx.req.line_parts();
    // `+X` (HAProxy's `lf_ip`, `lf_port`, `%04X` counters) prints numbers
    // in upper-case hexadecimal, unquoted.
    let hex = flags.hex;
    let addr_ip = |s: Option<std::net::SocketAddr>| {
        s.map(|a| {
            if hex {
                let octets: Vec<u8> = match a.ip() {
                    std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
                    std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
                };
                octets.iter().fold(Vec::new(), |mut v, b| {
                    let _ = write!(v, "{b:02X}");
                    v
                })
            } else {
                a.ip().to_string().into_bytes()
            }
        })
    };
    let addr_port = |s: Option<std::net::SocketAddr>| {
        s.map(|a| {
            if hex {
                format!("{:04X}", a.port()).into_bytes()
            } else {
                a.port().to_string().into_bytes()
            }
        })
    };
    let counter = |v: u64| {
        if hex {
            format!("{v:04X}").into_bytes()
        } else {
            v.to_string().into_bytes()
        }
    };
    let unix =
        |d: std::time::SystemTime| d.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let owned: Option<Vec<u8>> = match a {
        Alias::ClientIp => addr_ip(env.src()),
        Alias::ClientPort => addr_port(env.src()),
        Alias::FrontendIp => addr_ip(env.dst()),
        Alias::FrontendPort => addr_port(env.dst()),
        Alias::FrontendName | Alias::FrontendNameTransport => {
            Some(env.frontend().as_bytes().to_vec())
        }
        Alias::BackendName => Some(
            env.backend()
                .unwrap_or_else(|| env.frontend())
                .as_bytes()
                .to_vec(),
        ),
        Alias::ServerName => Some(
            env.server()
                .as_deref()
                .unwrap_or("<NOSRV>")
                .as_bytes()
                .to_vec(),
        ),
        Alias::UniqueId => env.unique_id(cx).map(|s| s.as_bytes().to_vec()),
        Alias::Pid => Some(counter(u64::from(std::process::id()))),
        // HAProxy's stream counter; `0` where the engine keeps none.
        Alias::RequestCounter => Some(counter(u64::from(env.stream_id().unwrap_or(0)))),
        // `%Ts`: `%04X` of the seconds as an unsigned int (truncation
        // intended, as HAProxy casts), else decimal.
        Alias::AcceptTimestamp => env.accept_date().map(|d| {
            let secs = unix(d).as_secs();
            if hex {
                format!("{:04X}", secs as u32).into_bytes()
            } else {
                secs.to_string().into_bytes()
            }
        }),
        Alias::AcceptMillis => env.accept_date().map(|d| {
            let ms = unix(d).subsec_millis();
            if hex {
                format!("{ms:02X}").into_bytes()
            } else {
                format!("{ms:03}").into_bytes()
            }
        }),
        Alias::HttpMethod => Some(method.to_vec()),
        Alias::HttpUri => Some(uri.to_vec()),
        Alias::HttpPath => Some(super::fetch::cut_query(uri).to_vec()),
        Alias::HttpPathOnly => super::fetch::path(uri).map(|p| super::fetch::cut_query(p).to_vec()),
        Alias::HttpQuery => Some(
            memchr::memchr(b'?', uri)
                .and_then(|q| uri.get(q..))
                .unwrap_or_default()
                .to_vec(),
        ),
        Alias::HttpVersion => Some(version.to_vec()),
        Alias::HttpRequest => {
            let mut r = method.to_vec();
            r.push(b' ');
            r.extend_from_slice(uri);
            r.push(b' ');
            r.extend_from_slice(version);
            Some(r)
        }
        // txn->status: -1 until there is a response.
        Alias::StatusCode => Some(
            cx.res
                .map_or(-1, |r| i32::from(r.status))
                .to_string()
                .into_bytes(),
        ),
        // Timers, counters, byte counts, captures and dates are the
        // logger's: mid-stream they print "-", marking what the rules
        // cannot know yet (HAProxy would print a partial value).
        _ => {
            out.push(b'-');
            return;
        }
    };
    text(out, owned.as_deref(), flags);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rules::env::Conn;
    use ringlb_config::logformat::parse_log_format;
    use ringlb_proto::h1::head::{HeadParser, Kind, Options, Progress};
    use ringlb_proto::msg::Head;

    fn head(raw: &str) -> Head {
        let mut buf = raw.as_bytes().to_vec();
        let mut h = Head::new();
        let r = HeadParser::new(Kind::Request, Options::default()).parse(&mut buf, &mut h);
        assert!(matches!(r, Ok(Progress::Done(_))), "{r:?}");
        h
    }

    fn render(f: &str, http: bool) -> String {
        let mut req = head("GET /p/a?q=1 HTTP/1.1\r\nHost: h\r\n\r\n");
        req.push(b"X-C", b"a\x01b");
        let env = Conn {
            src: Some("10.0.0.1:1234".parse().expect("addr")),
            dst: Some("10.0.0.2:80".parse().expect("addr")),
            frontend: "fe",
        };
        let fmt = Fmt::compile(&parse_log_format(f).expect("format"), http).expect("compile");
        String::from_utf8(fmt.render(&Ctx::new(&req, &env))).expect("utf8")
    }

    #[test]
    fn aliases_known_mid_stream() {
        assert_eq!(
            render("%ci:%cp %fi:%fp %f %b %s", true),
            "10.0.0.1:1234 10.0.0.2:80 fe fe <NOSRV>"
        );
        assert_eq!(
            render("%HM %HU %HP %HQ %HV", true),
            "GET /p/a?q=1 /p/a ?q=1 HTTP/1.1"
        );
        assert_eq!(render("%ST %Tw", true), "-1 -");
        assert_eq!(render("[%ID]", true), "[]");
        assert_eq!(render("[%{+M}ID]", true), "[-]");
    }

    #[test]
    fn samples_in_http_and_plain_formats() {
        assert_eq!(render("<%[req.hdr(host)]>", true), "<h>");
        assert_eq!(render("<%[req.hdr(x-none)]>", true), "<>");
        assert_eq!(
            render("<%{+Q}[req.hdr(host)]>", true),
            "<h>",
            "no quotes in HTTP"
        );
        assert_eq!(render("<%{+Q}[req.hdr(host)]>", false), "<\"h\">");
        assert_eq!(render("<%[req.hdr(x-c)]>", true), "<a%01b>");
        assert_eq!(render("<%{+M}[req.hdr(x-none)]>", false), "<->");
    }
}

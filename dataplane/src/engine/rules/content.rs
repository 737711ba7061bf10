//! The content fetches of a TCP stream's channels (HAProxy's
//! `payload.c`): `req.len`, `req.payload`, `req.payload_lv`,
//! `req.ssl_sni`, `req.ssl_ver`, `req.ssl_hello_type`, `req.proto_http`,
//! `req.rdp_cookie`, `req.rdp_cookie_cnt`
//! and their `res.*` forms, over the bytes received so far. A fetch whose
//! answer more bytes could change says so ([`Env::may_change`]), so that
//! a `tcp-request content` condition waits for them.

use ringlb_config::sample::{Arg, FetchCall};
use ringlb_proto::h1::head::{HeadParser, Kind, Options, Progress};
use ringlb_proto::msg::Head;
use ringlb_proto::rdp;
use ringlb_proto::tls::{self, Sniff};

use super::env::Env;
use super::fetch_stream::count;
use super::sample::Smp;

/// The channel `name` reads, when the engine has it (TCP mode).
pub(super) fn channel<'e>(name: &str, env: &'e dyn Env) -> Option<&'e [u8]> {
    if name.starts_with("res") || name.starts_with("rep") {
        env.res_payload()
    } else {
        env.req_payload()
    }
}

fn str_arg(args: &[Arg]) -> &[u8] {
    match args.first() {
        Some(Arg::Str(s)) => s.as_bytes(),
        _ => b"",
    }
}

fn int(args: &[Arg], i: usize) -> Option<usize> {
    match args.get(i) {
        Some(Arg::Int(n)) => usize::try_from(*n).ok(),
        _ => None,
    }
}

/// A sniffed answer as a sample: more bytes may change NeedMore.
fn sniffed<T>(s: Sniff<T>, env: &dyn Env, f: impl FnOnce(T) -> Smp) -> Option<Smp> {
    match s {
        Sniff::Found(t) => Some(f(t)),
        Sniff::NeedMore => {
            env.may_change();
            None
        }
        Sniff::No => None,
    }
}

/// A content fetch over its channel (Some: [`channel`] has it).
pub(super) fn fetch(call: &FetchCall, env: &dyn Env) -> Option<Smp> {
    let name = call.def.name;
    let data = channel(name, env)?;
    let args = &call.args;
    let max = env.bufsize();
    match name {
        // HAProxy counts what is there, always subject to change.
        "req.len" | "req_len" | "res.len" => {
            env.may_change();
            Some(count(data.len()))
        }
        "req.payload" | "payload" | "res.payload" => {
            let (off, len) = (int(args, 0)?, int(args, 1)?);
            if len > max || off.saturating_add(len) > max {
                return None;
            }
            let end = if len == 0 { data.len() } else { off + len };
            let Some(bytes) = data.get(off..end) else {
                env.may_change();
                return None;
            };
            // A length of 0: all that is there, and more may come.
            if len == 0 {
                env.may_change();
            }
            Some(Smp::Bin(bytes.to_vec()))
        }
        "req.payload_lv" | "payload_lv" | "res.payload_lv" => {
            let (loff, lsize) = (int(args, 0)?, int(args, 1)?);
            let Some(len_bytes) = data.get(loff..loff.saturating_add(lsize)) else {
                env.may_change();
                return None;
            };
            let size = len_bytes
                .iter()
                .fold(0usize, |n, b| n.wrapping_shl(8) | usize::from(*b));
            let base = loff + lsize;
            let off = match args.get(2) {
                Some(Arg::Str(s)) => buf_offset(s, base)?,
                _ => base,
            };
            if size == 0 || size > max || off.saturating_add(size) > max {
                return None;
            }
            let Some(bytes) = data.get(off..off + size) else {
                env.may_change();
                return None;
            };
            Some(Smp::Bin(bytes.to_vec()))
        }
        "req.rdp_cookie" | "rdp_cookie" => {
            let name = str_arg(args);
            sniffed(rdp::cookie(data, name), env, |r| {
                Smp::Str(data.get(r).unwrap_or_default().to_vec())
            })
        }
        // HAProxy's count is 0 or 1, none while more bytes may change it.
        "req.rdp_cookie_cnt" | "rdp_cookie_cnt" => match rdp::cookie(data, str_arg(args)) {
            Sniff::Found(_) => Some(Smp::Int(1)),
            Sniff::No => Some(Smp::Int(0)),
            Sniff::NeedMore => {
                env.may_change();
                None
            }
        },
        "req.ssl_sni" | "req_ssl_sni" => sniffed(tls::sni(data), env, |r| {
            Smp::Str(data.get(r).unwrap_or_default().to_vec())
        }),
        "req.ssl_ver" | "req_ssl_ver" => sniffed(tls::client_version(data, max), env, |v| {
            Smp::Int(i64::from(v))
        }),
        "req.ssl_hello_type" | "req_ssl_hello_type" | "res.ssl_hello_type"
        | "rep_ssl_hello_type" => sniffed(tls::hello_type(data), env, |t| Smp::Int(i64::from(t))),
        _ => None,
    }
}

/// `payload_lv`'s third argument: `+n` / `-n` relative to the end of the
/// length field, a plain number absolute (HAProxy's val_payload_lv).
fn buf_offset(s: &str, base: usize) -> Option<usize> {
    if let Some(n) = s.strip_prefix('+') {
        base.checked_add(n.parse().ok()?)
    } else if let Some(n) = s.strip_prefix('-') {
        base.checked_sub(n.parse().ok()?)
    } else {
        s.parse().ok()
    }
}

/// `req.proto_http` in TCP mode: the bytes start a valid HTTP/1 request
/// head (None: not a request, or not yet one).
pub(super) fn proto_http(data: &[u8], env: &dyn Env) -> Option<bool> {
    let mut buf = data.to_vec();
    let mut head = Head::new();
    let parser = HeadParser::new(Kind::Request, Options::default());
    let mut parser = parser;
    match parser.parse(&mut buf, &mut head) {
        Ok(Progress::Done(_)) => Some(true),
        Ok(_) if data.len() < env.bufsize() => {
            env.may_change();
            None
        }
        _ => None,
    }
}

//! The fetches beyond the request head: the response's (`res.*`,
//! `status`), the stream's facts through [`super::env::Env`] (`be_name`,
//! `nbsrv` ...), variables (`var`), captures, and the constants and
//! clocks (`date`, `rand`, `uuid`, `env`). HAProxy's `http_fetch.c`,
//! `backend.c`, `vars.c`, `sample.c`.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

use ringlb_config::sample::{Arg, FetchCall};
use ringlb_proto::h1::fields::values;

use super::auth::{credentials, Credentials};
use super::fetch::{
    cookies, cut_query, header_ip, header_values, occurrence, path, strl2ic, url_param, Ctx,
};
use super::sample::Smp;

pub(super) fn count(n: usize) -> Smp {
    Smp::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

fn text(s: &str) -> Smp {
    Smp::Str(s.as_bytes().to_vec())
}

/// The fetches [`super::fetch::fetch`] leaves to this module.
pub fn fetch(call: &FetchCall, cx: &Ctx<'_>) -> Option<Smp> {
    let args = &call.args;
    let str_arg = |i: usize| match args.get(i) {
        Some(Arg::Str(s)) => Some(s.as_bytes()),
        _ => None,
    };
    let int_arg = |i: usize| match args.get(i) {
        Some(Arg::Int(n)) => Some(*n),
        _ => None,
    };
    let proxy_arg = || match args.first() {
        Some(Arg::Proxy(p) | Arg::Str(p)) if !p.is_empty() => Some(p.as_str()),
        _ => None,
    };
    let env = cx.env;
    Some(match call.def.name {
        "always_true" => Smp::Bool(true),
        "always_false" => Smp::Bool(false),
        "str" => Smp::Str(str_arg(0)?.to_vec()),
        "int" => Smp::Int(int_arg(0)?),
        // `bool(true)`: its argument is text, as HAProxy's
        // smp_check_const_bool reads it (true/1, false/0, any case).
        "bool" => match str_arg(0)? {
            a if a.eq_ignore_ascii_case(b"true") || a == b"1" => Smp::Bool(true),
            a if a.eq_ignore_ascii_case(b"false") || a == b"0" => Smp::Bool(false),
            _ => return None,
        },
        // An HTTP stream's request is HTTP; a TCP stream's when its
        // bytes start a valid request head.
        "req.proto_http" | "req_proto_http" => match env.req_payload() {
            None => Smp::Bool(true),
            Some(p) => Smp::Bool(super::content::proto_http(p, env)?),
        },
        "req.len" | "req_len" | "res.len" | "req.payload" | "payload" | "res.payload"
        | "req.payload_lv" | "payload_lv" | "res.payload_lv" | "req.ssl_sni" | "req_ssl_sni"
        | "req.ssl_ver" | "req_ssl_ver" | "req.ssl_hello_type" | "req_ssl_hello_type"
        | "res.ssl_hello_type" | "rep_ssl_hello_type" | "req.rdp_cookie" | "rdp_cookie"
        | "req.rdp_cookie_cnt" | "rdp_cookie_cnt"
            if super::content::channel(call.def.name, env).is_some() =>
        {
            return super::content::fetch(call, env);
        }
        "status" => Smp::Int(i64::from(cx.res?.status)),
        "res.ver" | "resp_ver" => {
            let v = cx.res?.line_parts()[0];
            if v.len() < 6 || !v.starts_with(b"HTTP/") {
                return None;
            }
            Smp::Str(v.get(5..).unwrap_or_default().to_vec())
        }
        "res.hdr" | "shdr" | "res.fhdr" => {
            let full = call.def.name == "res.fhdr";
            let v = occurrence(
                header_values(cx.res?, str_arg(0)?, full),
                int_arg(1).unwrap_or(0),
            )?;
            Smp::Str(v.to_vec())
        }
        "res.hdr_ip" | "shdr_ip" => header_ip(occurrence(
            header_values(cx.res?, str_arg(0)?, false),
            int_arg(1).unwrap_or(0),
        )?)?,
        "res.hdr_val" | "shdr_val" => Smp::Int(i64::from(strl2ic(occurrence(
            header_values(cx.res?, str_arg(0)?, false),
            int_arg(1).unwrap_or(0),
        )?))),
        "res.hdr_cnt" | "shdr_cnt" | "res.fhdr_cnt" => {
            let res = cx.res?;
            let full = call.def.name == "res.fhdr_cnt";
            count(match str_arg(0) {
                Some(name) => header_values(res, name, full).count(),
                None if full => res.fields().count(),
                None => res.fields().map(|(_, v)| values(v).count()).sum(),
            })
        }
        "res.cook" | "scook" => {
            let name = str_arg(0).unwrap_or_default();
            let mut all = cookies(cx.res?, name, false);
            let v = if name.is_empty() {
                all.next()
            } else {
                all.last()
            };
            Smp::Str(v?.to_vec())
        }
        "res.cook_cnt" | "scook_cnt" => {
            count(cookies(cx.res?, str_arg(0).unwrap_or_default(), false).count())
        }
        "req.cook_val" | "cook_val" | "res.cook_val" | "scook_val" => {
            let (head, list) = if call.def.name.starts_with("res") || call.def.name.starts_with('s')
            {
                (cx.res?, false)
            } else {
                (cx.req_head()?, true)
            };
            let name = str_arg(0).unwrap_or_default();
            let mut all = cookies(head, name, list);
            let v = if name.is_empty() {
                all.next()
            } else {
                all.last()
            };
            Smp::Int(i64::from(strl2ic(v?)))
        }
        "urlp_val" => {
            let uri = cx.req_head()?.line_parts()[1];
            let delim = str_arg(1).and_then(|d| d.first().copied()).unwrap_or(b'?');
            let v = url_param(uri, str_arg(0).unwrap_or_default(), delim)?;
            Smp::Int(i64::from(strl2ic(v)))
        }
        "base32" | "url32" | "base32+src" | "url32+src" => {
            let req = cx.req_head()?;
            let name = call.def.name;
            let uri = req.line_parts()[1];
            // C's `char` is signed: a byte over 0x7f counts negative.
            let sdbm = |h: u32, bytes: &[u8]| {
                bytes.iter().fold(h, |h, c| {
                    (i32::from(*c as i8) as u32)
                        .wrapping_add(h << 6)
                        .wrapping_add(h << 16)
                        .wrapping_sub(h)
                })
            };
            let host = if name.starts_with("base") {
                header_values(req, b"host", false).next()
            } else {
                req.first(b"host")
            };
            let mut h = sdbm(0, host.unwrap_or_default());
            let p = path(uri).unwrap_or_default();
            let p = if name.starts_with("base") {
                cut_query(p)
            } else {
                p
            };
            if p.first() == Some(&b'/') {
                h = sdbm(h, p);
            }
            let h = crate::balance::full_hash(h);
            if !name.ends_with("+src") {
                Smp::Int(i64::from(h))
            } else {
                let mut out = h.to_be_bytes().to_vec();
                match env.src()?.ip() {
                    std::net::IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
                    std::net::IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
                }
                Smp::Bin(out)
            }
        }
        "req.hdrs" => {
            // The header block as HTTP/1 text, the empty line included.
            let mut out = Vec::new();
            for (n, v) in cx.req_head()?.fields() {
                out.extend_from_slice(n);
                out.extend_from_slice(b": ");
                out.extend_from_slice(v);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"\r\n");
            Smp::Str(out)
        }
        "req.body" => Smp::Bin(env.req_body()?.to_vec()),
        "req.len" | "req_len" => count(env.req_body()?.len()),
        "var" => {
            let Some(Arg::Var { scope, name }) = args.first() else {
                return None;
            };
            match cx.vars.and_then(|v| v.get(*scope, name)) {
                Some(v) => v,
                None => Smp::Str(str_arg(1)?.to_vec()),
            }
        }
        "fe_id" => Smp::Int(env.frontend_id()?),
        // Before use_backend, the stream's backend is its frontend.
        "be_name" => text(env.backend().unwrap_or_else(|| env.frontend())),
        "be_id" => Smp::Int(env.backend_id().or_else(|| env.frontend_id())?),
        "srv_name" => text(&env.server()?),
        "srv_id" => Smp::Int(env.server_id()?),
        "nbsrv" => Smp::Int(env.nbsrv(proxy_arg())?),
        "be_conn" => Smp::Int(env.be_conn(proxy_arg())?),
        "connslots" => Smp::Int(env.connslots(proxy_arg())?),
        "fe_conn" => Smp::Int(env.fe_conn()?),
        "srv_is_up" => {
            let Some(Arg::Server { backend, server }) = args.first() else {
                return None;
            };
            let be = match backend {
                Some(b) => b.as_str(),
                None => env.backend().unwrap_or_else(|| env.frontend()),
            };
            Smp::Bool(env.srv_is_up(be, server)?)
        }
        "unique-id" => text(env.unique_id(cx)?),
        "http_auth" | "http_auth_group" => {
            let Some(Arg::Userlist(list) | Arg::Str(list)) = args.first() else {
                return None;
            };
            let Credentials::Basic { user, pass } =
                credentials(cx.req_head()?, super::auth::proxied(cx.req, env))?
            else {
                return None;
            };
            let ok = cx.users.is_some_and(|u| u.check(list, &user, &pass));
            if call.def.name == "http_auth" {
                Smp::Bool(ok)
            } else if ok {
                // The user, for an ACL to look up in its groups.
                Smp::Str(user)
            } else {
                return None;
            }
        }
        "http_auth_type" => text(
            match credentials(cx.req_head()?, super::auth::proxied(cx.req, env))? {
                Credentials::Basic { .. } => "Basic",
                Credentials::Bearer(_) => "Bearer",
            },
        ),
        "http_auth_user" | "http_auth_pass" => {
            match credentials(cx.req_head()?, super::auth::proxied(cx.req, env))? {
                Credentials::Basic { user, pass } => {
                    Smp::Str(if call.def.name == "http_auth_user" {
                        user
                    } else {
                        pass
                    })
                }
                Credentials::Bearer(_) => return None,
            }
        }
        "http_auth_bearer" => match str_arg(0) {
            // A named header: its first value's token after "Bearer",
            // empty when there is none.
            Some(h) => {
                let v = header_values(cx.req_head()?, h, false).next();
                let token = v.and_then(|v| {
                    let sp = memchr::memchr(b' ', v).unwrap_or(v.len());
                    let (scheme, rest) = v.split_at(sp);
                    let rest = trim_start_spaces(rest);
                    (scheme.eq_ignore_ascii_case(b"bearer") && !rest.is_empty()).then_some(rest)
                });
                Smp::Str(token.unwrap_or_default().to_vec())
            }
            None => match credentials(cx.req_head()?, super::auth::proxied(cx.req, env))? {
                Credentials::Bearer(t) => Smp::Str(t),
                Credentials::Basic { .. } => return None,
            },
        },
        "capture.req.hdr" | "capture.res.hdr" => {
            let caps = cx.caps?;
            let slots = if call.def.name == "capture.req.hdr" {
                &caps.req
            } else {
                &caps.res
            };
            let i = usize::try_from(int_arg(0)?).ok()?;
            Smp::Str(slots.get(i)?.as_ref()?.clone())
        }
        "env" => {
            let name = std::str::from_utf8(str_arg(0)?).ok()?;
            Smp::Str(std::env::var_os(name)?.into_encoded_bytes())
        }
        "date" => {
            // date([<offset>[,<unit>]]): seconds by default; the offset
            // is in the unit.
            let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
            let (t, scale) = match str_arg(1) {
                Some(b"ms") => (i64::try_from(now.as_millis()).ok()?, 1),
                Some(b"us") => (i64::try_from(now.as_micros()).ok()?, 1),
                _ => (i64::try_from(now.as_secs()).ok()?, 1),
            };
            Smp::Int(t.saturating_add(int_arg(0).unwrap_or(0).saturating_mul(scale)))
        }
        "rand" => {
            let r = u64::from(random32());
            Smp::Int(match int_arg(0) {
                // ((u64)rand * range) >> 32, as HAProxy scales it.
                Some(range) => {
                    i64::try_from((u128::from(r) * u128::from(range.unsigned_abs())) >> 32)
                        .unwrap_or(i64::MAX)
                }
                None => i64::from(random32()),
            })
        }
        "uuid" => {
            if int_arg(0).is_some_and(|v| v != 4) {
                return None;
            }
            Smp::Str(uuid4().into_bytes())
        }
        // The engine's own fetches (declared to the rules at compile).
        _ => return env.fetch(call),
    })
}

fn trim_start_spaces(mut s: &[u8]) -> &[u8] {
    while let Some(rest) = s.strip_prefix(b" ") {
        s = rest;
    }
    s
}

thread_local! {
    /// A per-core generator: xorshift64*, seeded from the clock and the
    /// slot's address (not for secrets; HAProxy's `ha_random` is not
    /// either).
    static RNG: Cell<u64> = const { Cell::new(0) };
}

fn random64() -> u64 {
    RNG.with(|c| {
        let mut x = c.get();
        if x == 0 {
            let t = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            x = t ^ (c as *const Cell<u64> as u64) ^ 0x9e37_79b9_7f4a_7c15;
            x |= 1;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        c.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

fn random32() -> u32 {
    (random64() >> 32) as u32
}

/// A version 4 UUID as HAProxy's `ha_generate_uuid` prints it.
fn uuid4() -> String {
    let (a, b) = (random64(), random64());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        ((b >> 48) & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rules::env::{Captures, Conn, Vars};
    use ringlb_config::sample::{parse_sample, VarScope};
    use ringlb_proto::msg::{Head, StartLine};

    fn run(expr: &str, cx: &Ctx<'_>) -> Option<Smp> {
        let e = parse_sample(expr).expect("expression");
        super::super::fetch::fetch(&e.fetch, cx)
    }

    #[test]
    fn variables_and_defaults() {
        let req = Head::new();
        let mut vars = Vars::default();
        vars.set(VarScope::Txn, "a", Smp::Int(3));
        let mut cx = Ctx::head(&req);
        cx.vars = Some(&vars);
        assert_eq!(run("var(txn.a)", &cx), Some(Smp::Int(3)));
        assert_eq!(run("var(txn.b)", &cx), None);
        assert_eq!(run("var(sess.a)", &cx), None, "scopes are apart");
        assert_eq!(run("var(req.a,dflt)", &cx), Some(text("dflt")));
        vars.set(VarScope::Sess, "s", Smp::Int(1));
        vars.end_txn();
        let mut cx = Ctx::head(&req);
        cx.vars = Some(&vars);
        assert_eq!(run("var(txn.a)", &cx), None);
        assert_eq!(run("var(sess.s)", &cx), Some(Smp::Int(1)));
    }

    #[test]
    fn req_and_res_variables_live_in_their_phase() {
        let req = Head::new();
        let mut vars = Vars::default();
        vars.set(VarScope::Req, "a", Smp::Int(1));
        vars.set(VarScope::Res, "r", Smp::Int(9));
        vars.set(VarScope::Txn, "t", Smp::Int(2));
        let get = |vars: &Vars, e: &str| {
            let mut cx = Ctx::head(&req);
            cx.vars = Some(vars);
            run(e, &cx)
        };
        assert_eq!(get(&vars, "var(req.a)"), Some(Smp::Int(1)));
        assert_eq!(get(&vars, "var(res.a)"), None, "not the phase's scope");
        vars.enter_response();
        assert_eq!(get(&vars, "var(req.a)"), None);
        assert_eq!(get(&vars, "var(res.r)"), None, "never set");
        assert_eq!(get(&vars, "var(txn.t)"), Some(Smp::Int(2)));
        vars.set(VarScope::Res, "b", Smp::Int(3));
        vars.enter_response();
        assert_eq!(get(&vars, "var(res.b)"), Some(Smp::Int(3)), "emptied once");
        vars.end_txn();
        vars.set(VarScope::Req, "c", Smp::Int(4));
        assert_eq!(get(&vars, "var(req.c)"), Some(Smp::Int(4)), "a new request");
    }

    #[test]
    fn stream_facts_come_from_the_env() {
        let req = Head::new();
        let env = Conn {
            src: None,
            dst: None,
            frontend: "fe",
        };
        let cx = Ctx::new(&req, &env);
        assert_eq!(
            run("be_name", &cx),
            Some(text("fe")),
            "s->be is the frontend"
        );
        assert_eq!(run("srv_name", &cx), None);
        assert_eq!(run("srv_id", &cx), None);
        assert_eq!(run("nbsrv", &cx), None);
        assert_eq!(run("always_true", &cx), Some(Smp::Bool(true)));
    }

    #[test]
    fn constant_booleans_read_their_text() {
        let req = Head::new();
        let cx = Ctx::head(&req);
        for (arg, v) in [("true", true), ("TRUE", true), ("1", true)] {
            assert_eq!(run(&format!("bool({arg})"), &cx), Some(Smp::Bool(v)));
        }
        for arg in ["false", "False", "0"] {
            assert_eq!(run(&format!("bool({arg})"), &cx), Some(Smp::Bool(false)));
        }
        // bool(yes) is refused when the config is read (ringlb_config).
    }

    #[test]
    fn response_headers_and_status() {
        let req = Head::new();
        let mut res = Head::new();
        res.line = StartLine::default();
        res.status = 404;
        res.push(b"Set-Cookie", b"a=1; path=/");
        res.push(b"Set-Cookie", b"b=2");
        res.push(b"X-A", b"1, 2");
        let mut cx = Ctx::head(&req);
        assert_eq!(run("status", &cx), None, "no response yet");
        cx.res = Some(&res);
        assert_eq!(run("status", &cx), Some(Smp::Int(404)));
        assert_eq!(run("res.hdr(x-a)", &cx), Some(text("2")));
        assert_eq!(run("res.fhdr(x-a)", &cx), Some(text("1, 2")));
        assert_eq!(run("res.hdr_cnt(x-a)", &cx), Some(Smp::Int(2)));
        assert_eq!(run("res.cook(a)", &cx), Some(text("1")));
        assert_eq!(run("res.cook(b)", &cx), Some(text("2")));
        assert_eq!(run("res.cook_cnt(a)", &cx), Some(Smp::Int(1)));
        assert_eq!(run("res.cook_val(b)", &cx), Some(Smp::Int(2)));
        // Without a name, http_extract_cookie_value goes on after the
        // first pair and counts `path=/` too.
        assert_eq!(run("res.cook_cnt", &cx), Some(Smp::Int(3)));
    }

    #[test]
    fn captures_and_clocks() {
        let req = Head::new();
        let caps = Captures {
            req: vec![Some(b"x".to_vec()), None],
            res: vec![],
        };
        let mut cx = Ctx::head(&req);
        cx.caps = Some(&caps);
        assert_eq!(run("capture.req.hdr(0)", &cx), Some(text("x")));
        assert_eq!(run("capture.req.hdr(1)", &cx), None);
        assert_eq!(run("capture.res.hdr(0)", &cx), None);
        let Some(Smp::Int(d)) = run("date", &cx) else {
            panic!("date")
        };
        assert!(d > 1_700_000_000);
        let Some(Smp::Int(r)) = run("rand(10)", &cx) else {
            panic!("rand")
        };
        assert!((0..10).contains(&r));
        let Some(Smp::Str(u)) = run("uuid", &cx) else {
            panic!("uuid")
        };
        assert_eq!(u.len(), 36);
        assert_eq!(u.get(14), Some(&b'4'));
        assert_ne!(run("uuid", &cx), Some(Smp::Str(u)));
    }
}

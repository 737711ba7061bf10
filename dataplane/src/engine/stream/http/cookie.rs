//! Cookie persistence (`cookie <name> insert|rewrite|prefix ...` and the
//! servers' `cookie <value>`), as HAProxy 2.6's http_ana.c does it:
//! - request side (http_manage_client_side_cookies): each `Cookie` header
//!   is walked pair by pair; the persistence cookie names a server, which
//!   the stream then uses directly when it is not stopped (`V`; `D` when
//!   it is, `I` when none matches). In prefix mode the `SRV~` prefix is
//!   taken off; in insert mode with `indirect` the cookie is removed, the
//!   whole header when nothing else is left in it;
//! - response side (http_manage_server_side_cookies, then
//!   http_process_res_common): a `Set-Cookie` of that name from the server
//!   is deleted (insert; or `indirect` after a direct hit), its value
//!   replaced (rewrite) or prefixed (prefix); in insert mode a
//!   `Set-Cookie: NAME=SRV; path=/` (domain, HttpOnly, Secure, attributes)
//!   is added unless the client came directly (or `postonly` and not a
//!   POST), with `Cache-control: private` under `nocache` when the
//!   response is cacheable.
//! - dates (`maxidle`, `maxlife`): an inserted value carries the date it
//!   was last seen and, under `maxlife`, the date it was first set:
//!   `SRV|LAST|FIRST`, each a 30-bit count of 4-second periods since the
//!   epoch in five base64 characters (HAProxy's s30tob64). A cookie older
//!   than either limit (or dated more than a day ahead) is ignored (`E`,
//!   `O`); one seen again is re-inserted with a fresh date (`U`).
//!
//! - `dynamic`: a server without a `cookie` value gets one from the
//!   backend's `dynamic-cookie-key` and its address (see
//!   `plan::dynamic_cookie`).
//!
//! Not implemented: `option persist` (refused at start).

use ringlb_config::model::{CookieConf, CookieMode};
use ringlb_proto::h1::chars::is_spht;
use ringlb_proto::h1::cookie::{pairs, remove_pair};
use ringlb_proto::msg::{Head, Method};

use crate::engine::backend::server::{admin, Oper};
use crate::engine::plan::BackendPlan;
use crate::log::termination::{RequestCookie, ResponseCookie};

/// A backend's persistence cookie, resolved at start.
#[derive(Debug)]
pub struct CookiePlan {
    pub name: String,
    pub mode: Option<CookieMode>,
    pub indirect: bool,
    pub nocache: bool,
    pub postonly: bool,
    pub preserve: bool,
    pub httponly: bool,
    pub secure: bool,
    pub domain: Option<String>,
    pub attrs: Option<String>,
    /// `maxidle`, `maxlife` in seconds (0: none).
    pub maxidle: u32,
    pub maxlife: u32,
    /// `option persist` (the backend's): a cookie naming a stopped server
    /// still sends the request to it (its letter stays `D`).
    pub persist: bool,
}

impl CookiePlan {
    pub fn of(c: &CookieConf) -> CookiePlan {
        CookiePlan {
            name: c.name.clone(),
            mode: c.mode,
            indirect: c.indirect,
            nocache: c.nocache,
            postonly: c.postonly,
            preserve: c.preserve,
            httponly: c.httponly,
            secure: c.secure,
            // Several domains: `a; domain=b` (HAProxy builds one string).
            domain: (!c.domains.is_empty()).then(|| c.domains.join("; domain=")),
            attrs: (!c.attrs.is_empty()).then(|| c.attrs.join("; ")),
            maxidle: secs(c.maxidle),
            maxlife: secs(c.maxlife),
            persist: false,
        }
    }

    fn insert(&self) -> bool {
        self.mode == Some(CookieMode::Insert)
    }
}

fn secs(d: Option<std::time::Duration>) -> u32 {
    d.map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
}

/// What the request's cookie said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Persist {
    /// The server the stream goes to directly (HAProxy's SF_DIRECT).
    pub server: Option<usize>,
    pub status: RequestCookie,
    /// The cookie's dates, in seconds since the epoch (0: none).
    pub dates: Dates,
}

/// A persistence cookie's last-seen and first-set dates (HAProxy's
/// `cookie_last_date`, `cookie_first_date`), seconds since the epoch, 0
/// when absent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dates {
    pub last: u32,
    pub first: u32,
}

/// The base64 alphabet of HAProxy's s30tob64.
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// HAProxy's s30tob64: a 30-bit value as five base64 characters, most
/// significant first.
fn s30tob64(v: u32, out: &mut String) {
    for i in 0..5 {
        let six = (v >> (24 - 6 * i)) & 0x3f;
        out.push(char::from(B64.get(six as usize).copied().unwrap_or(b'A')));
    }
}

/// HAProxy's b64tos30: five base64 characters back to a value; None when
/// one is not of the alphabet.
fn b64tos30(s: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for c in s.get(..5)? {
        let six = B64.iter().position(|b| b == c)?;
        v = (v << 6) | u32::try_from(six).ok()?;
    }
    Some(v)
}

/// The dates after a server's value (`SRV|LAST|FIRST`), as HAProxy reads
/// them: LAST from the five characters after the first bar (when there
/// are that many), FIRST after a second bar followed by more than five.
fn parse_dates(after_bar: &[u8], dates: &mut Dates) {
    if after_bar.len() >= 5 {
        if let Some(v) = b64tos30(after_bar).filter(|v| *v > 0) {
            dates.last = v << 2;
        }
    }
    if let Some(b) = memchr::memchr(b'|', after_bar) {
        let rest = after_bar.get(b + 1..).unwrap_or_default();
        // HAProxy's `val_end - vbar1 > 5` counts the bar.
        if rest.len() >= 5 {
            if let Some(v) = b64tos30(rest).filter(|v| *v > 0) {
                dates.first = v << 2;
            }
        }
    }
}

/// Now, in seconds since the epoch.
fn now_secs() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
}

/// A server the cookie may send a stream to: not stopped (a draining
/// server still takes its persistent clients, as in HAProxy).
fn reachable(be: &BackendPlan, i: usize) -> bool {
    be.servers.get(i).is_some_and(|s| {
        let st = s.state.get();
        st.oper != Oper::Stopped && st.admin & admin::MAINT == 0
    })
}

/// The request side (see the module).
pub fn request(req: &mut Head, c: &CookiePlan, be: &BackendPlan) -> Persist {
    let mut persist = Persist {
        server: None,
        status: RequestCookie::None,
        dates: Dates::default(),
    };
    let now = now_secs();
    let mut i = 0;
    while i < req.field_count() {
        let Some((name, value)) = req.field(i) else {
            break;
        };
        // Looked at in place; copied only when it holds the cookie.
        let named = |v: &[u8]| {
            pairs(v)
                .any(|p| p.value.is_some() && v.get(p.start..p.name_end) == Some(c.name.as_bytes()))
        };
        if !name.eq_ignore_ascii_case(b"cookie") || !named(value) {
            i += 1;
            continue;
        }
        let v = value.to_vec();
        let mut out: Option<Vec<u8>> = None;
        for p in pairs(&v) {
            let Some((vb, ve)) = p.value else { continue };
            if v.get(p.start..p.name_end) != Some(c.name.as_bytes()) {
                continue;
            }
            let val = v.get(vb..ve).unwrap_or_default();
            let (srv_part, prefixed) = match c.mode {
                Some(CookieMode::Prefix) => match val.iter().position(|b| *b == b'~') {
                    Some(d) => (val.get(..d).unwrap_or_default(), Some(d)),
                    None => (val, None),
                },
                _ => match memchr::memchr(b'|', val) {
                    Some(bar) => {
                        parse_dates(val.get(bar + 1..).unwrap_or_default(), &mut persist.dates);
                        (val.get(..bar).unwrap_or_default(), None)
                    }
                    None => (val, None),
                },
            };
            // Too old (maxlife) or idle too long (maxidle), or dated more
            // than a day ahead: as if there were no cookie, the state
            // saying why (HAProxy compares in signed seconds).
            let age = |d: u32| i64::from(now) - i64::from(d);
            let d = persist.dates;
            let stale = if d.first != 0
                && c.maxlife != 0
                && (age(d.first) > i64::from(c.maxlife) || -age(d.first) > 86_400)
            {
                Some(RequestCookie::Old)
            } else if d.last != 0
                && c.maxidle != 0
                && (age(d.last) > i64::from(c.maxidle) || -age(d.last) > 86_400)
            {
                Some(RequestCookie::Expired)
            } else {
                None
            };
            if let Some(st) = stale {
                persist.status = st;
                persist.dates = Dates::default();
                persist.server = None;
            } else if persist.server.is_none() && !srv_part.is_empty() {
                let mut down = false;
                for (k, s) in be.servers.iter().enumerate() {
                    if s.cookie.as_deref().map(str::as_bytes) != Some(srv_part) {
                        continue;
                    }
                    // HAProxy's manage_client_side_cookies: a server not
                    // stopped, or any under `option persist`.
                    let up = reachable(be, k);
                    if up || c.persist {
                        persist = Persist {
                            server: Some(k),
                            status: if up {
                                RequestCookie::Valid
                            } else {
                                RequestCookie::Down
                            },
                            dates: persist.dates,
                        };
                        break;
                    }
                    down = true;
                }
                if persist.server.is_none() {
                    persist.status = if down {
                        RequestCookie::Down
                    } else {
                        RequestCookie::Invalid
                    };
                }
            } else if persist.server.is_none() {
                persist.status = RequestCookie::Invalid;
            }
            let base = out.as_deref().unwrap_or(&v).len() as isize - v.len() as isize;
            if let Some(d) = prefixed {
                // NAME=SRV~VALUE -> NAME=VALUE.
                let cur = out.get_or_insert_with(|| v.clone());
                let from = (vb as isize + base) as usize;
                cur.drain(from..from + d + 1);
            } else if c.insert() && c.indirect {
                let cur = out.get_or_insert_with(|| v.clone());
                let start = (p.start as isize + base) as usize;
                let next = (p.next as isize + base) as usize;
                remove_pair(cur, start, next);
            }
        }
        match out {
            Some(o) if o.iter().all(|b| is_spht(*b)) => req.remove_field(i),
            Some(o) => {
                req.set_field_value(i, &o);
                i += 1;
            }
            None => i += 1,
        }
    }
    persist
}

/// `capture cookie <name> len <n>`: the first cookie whose name starts
/// with `name`, as `name=value` cut to `len`: from the `Cookie` headers
/// of a request, or the first pair of each `Set-Cookie` of a response.
pub fn capture(head: &Head, response: bool, name: &str, len: usize) -> Option<String> {
    let header: &[u8] = if response { b"set-cookie" } else { b"cookie" };
    for (n, v) in head.fields() {
        if !n.eq_ignore_ascii_case(header) {
            continue;
        }
        let all: Vec<_> = pairs(v).collect();
        let candidates = all.get(
            ..if response {
                all.len().min(1)
            } else {
                all.len()
            },
        );
        for p in candidates.unwrap_or_default() {
            let Some((vb, ve)) = p.value else { continue };
            // `name=value` (blanks around `=` dropped, as HAProxy strips
            // them in place); the capture name may include the `=`.
            let mut text = v.get(p.start..p.name_end).unwrap_or_default().to_vec();
            text.push(b'=');
            text.extend_from_slice(v.get(vb..ve).unwrap_or_default());
            if !text.starts_with(name.as_bytes()) {
                continue;
            }
            text.truncate(len);
            return Some(String::from_utf8_lossy(&text).into_owned());
        }
    }
    None
}

/// What the response side did, for `%tsc`.
pub fn response(
    res: &mut Head,
    c: &CookiePlan,
    server_cookie: Option<&str>,
    (direct, dates): (bool, Dates),
    method: Method,
) -> ResponseCookie {
    let mut status = ResponseCookie::None;
    let mut found = false;
    let mut i = 0;
    while i < res.field_count() {
        let Some((name, value)) = res.field(i) else {
            break;
        };
        if !name.eq_ignore_ascii_case(b"set-cookie") {
            i += 1;
            continue;
        }
        // Only the first attribute of a Set-Cookie names the cookie;
        // the value is copied only when it is ours.
        let Some(p) = pairs(value)
            .next()
            .filter(|p| value.get(p.start..p.name_end) == Some(c.name.as_bytes()))
        else {
            i += 1;
            continue;
        };
        let Some((vb, ve)) = p.value.filter(|(vb, ve)| ve > vb || p.name_end < *vb) else {
            i += 1;
            continue;
        };
        let v = value.to_vec();
        found = true;
        status = ResponseCookie::Passive;
        if c.preserve {
            i += 1;
        } else if c.insert() || (direct && c.indirect) {
            res.remove_field(i);
            status = ResponseCookie::Deleted;
        } else if let (Some(ck), Some(CookieMode::Rewrite)) = (server_cookie, c.mode) {
            let mut nv = v.get(..vb).unwrap_or_default().to_vec();
            nv.extend_from_slice(ck.as_bytes());
            nv.extend_from_slice(v.get(ve..).unwrap_or_default());
            res.set_field_value(i, &nv);
            status = ResponseCookie::Rewritten;
            i += 1;
        } else if let (Some(ck), Some(CookieMode::Prefix)) = (server_cookie, c.mode) {
            let mut nv = v.get(..vb).unwrap_or_default().to_vec();
            nv.extend_from_slice(ck.as_bytes());
            nv.push(b'~');
            nv.extend_from_slice(v.get(vb..).unwrap_or_default());
            res.set_field_value(i, &nv);
            status = ResponseCookie::Rewritten;
            i += 1;
        } else {
            i += 1;
        }
    }
    let now = now_secs();
    // A direct hit is set again to refresh its last date (once past it),
    // to add the first date `maxlife` wants, or to drop one it does not.
    let refresh = ((c.maxidle != 0 || dates.last != 0) && (dates.last == 0 || dates.last < now))
        || (c.maxlife != 0 && dates.first == 0)
        || (c.maxlife == 0 && dates.first != 0);
    if c.insert()
        && !(found && c.preserve)
        && (!direct || refresh)
        && (!c.postonly || method == Method::Post)
    {
        let mut v = match server_cookie {
            Some(ck) => {
                let mut v = format!("{}={ck}", c.name);
                if c.maxidle != 0 || c.maxlife != 0 {
                    let seen = now.saturating_add(3) >> 2;
                    v.push('|');
                    s30tob64(seen, &mut v);
                    if c.maxlife != 0 {
                        v.push('|');
                        s30tob64(
                            if dates.first != 0 {
                                dates.first >> 2
                            } else {
                                seen
                            },
                            &mut v,
                        );
                    }
                }
                v.push_str("; path=/");
                v
            }
            None => format!("{}=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/", c.name),
        };
        if let Some(d) = &c.domain {
            v.push_str("; domain=");
            v.push_str(d);
        }
        if c.httponly {
            v.push_str("; HttpOnly");
        }
        if c.secure {
            v.push_str("; Secure");
        }
        if let Some(a) = &c.attrs {
            v.push_str("; ");
            v.push_str(a);
        }
        res.push(b"Set-Cookie", v.as_bytes());
        status = if server_cookie.is_some() && direct {
            // The server did not change, only the dates.
            ResponseCookie::Updated
        } else {
            ResponseCookie::Inserted
        };
        if c.nocache && cacheable(res, method).0 {
            res.push(b"Cache-control", b"private");
        }
    }
    status
}

/// HAProxy's alert for a response `option checkcache` blocked: on
/// stderr, and in the frontend's log at level alert (HAProxy logs it to
/// the backend's targets: see docs/differences.md).
pub fn alert_cacheable_cookie(
    core: usize,
    fe: &crate::engine::plan::FrontendPlan,
    be: &BackendPlan,
    srv: usize,
) {
    let conf = be
        .servers
        .get(srv)
        .map(crate::engine::plan::ServerPlan::conf);
    let server = conf.as_ref().map_or("<dispatch>", |c| c.name.as_str());
    let line = format!(
        "Blocking cacheable cookie in response from instance {}, server {server}.",
        be.name
    );
    crate::stderr_line!("[ALERT]    ({}) : {line}", std::process::id());
    if let Some(sink) = &fe.sink {
        // The core's own lane: before the transaction's line.
        sink.send_from(core, ringlb_config::model::Level::Alert, line);
    }
}

/// `option checkcache`: whether the response must be blocked (502), as
/// HAProxy's http_process_res_common decides: it carries a Set-Cookie
/// from the server (`had_set_cookie`, looked at before persistence added
/// its own) and is cacheable with its cookies (no `no-cache="set-cookie"`).
pub fn blocks_cacheable_cookie(res: &Head, method: Method, had_set_cookie: bool) -> bool {
    had_set_cookie && cacheable(res, method) == (true, true)
}

/// HAProxy's TX_CACHEABLE and TX_CACHE_COOK (http_check_response_for_
/// cacheability): a safe method, a status cacheable by default, no
/// Pragma no-cache, no Cache-Control private / no-cache / no-store /
/// max-age=0 / s-maxage=0 (public makes it cacheable again), and
/// freshness (max-age, Expires) or a validator (ETag, Last-Modified);
/// `no-cache="set-cookie..."` leaves it cacheable without its cookies.
fn cacheable(res: &Head, method: Method) -> (bool, bool) {
    let mut ok = matches!(
        method,
        Method::Get | Method::Head | Method::Options | Method::Trace
    ) && matches!(
        res.status,
        200 | 203 | 204 | 206 | 300 | 301 | 404 | 405 | 410 | 414 | 501
    );
    if res
        .first(b"pragma")
        .is_some_and(|v| v.eq_ignore_ascii_case(b"no-cache"))
    {
        return (false, false);
    }
    let mut cook = ok;
    let mut fresh = false;
    for (n, v) in res.fields() {
        if !n.eq_ignore_ascii_case(b"cache-control") {
            continue;
        }
        for w in ringlb_proto::h1::fields::values(v) {
            let w = ringlb_proto::h1::chars::trim_lws(w);
            let starts = |p: &[u8]| {
                w.len() >= p.len() && w.get(..p.len()).is_some_and(|x| x.eq_ignore_ascii_case(p))
            };
            if w.eq_ignore_ascii_case(b"public") {
                ok = true;
                cook = true;
            } else if [
                &b"private"[..],
                b"no-cache",
                b"no-store",
                b"max-age=0",
                b"s-maxage=0",
            ]
            .iter()
            .any(|x| w.eq_ignore_ascii_case(x))
            {
                ok = false;
                cook = false;
            } else if starts(b"no-cache=\"set-cookie") {
                cook = false;
            } else if starts(b"s-maxage") || starts(b"max-age") {
                fresh = true;
            }
        }
    }
    if !fresh && res.first(b"expires").is_none() {
        let validator = res.first(b"etag").is_some() || res.first(b"last-modified").is_some();
        if !validator {
            return (false, false);
        }
    }
    (ok, ok && cook)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_base64_as_haproxy() {
        let mut s = String::new();
        s30tob64(0, &mut s);
        assert_eq!(s, "AAAAA");
        s.clear();
        // 2026-12-06T19:00:00Z in 4-second periods.
        let v = (1_796_583_600u32 + 3) >> 2;
        s30tob64(v, &mut s);
        assert_eq!(b64tos30(s.as_bytes()), Some(v));
        assert_eq!(b64tos30(b"AAA?A"), None);
        assert_eq!(b64tos30(b"AAA"), None);
        let mut d = Dates::default();
        parse_dates(format!("{s}|{s}").as_bytes(), &mut d);
        assert_eq!((d.last, d.first), (v << 2, v << 2));
        let mut d = Dates::default();
        parse_dates(format!("{s}|abc").as_bytes(), &mut d);
        assert_eq!((d.last, d.first), (v << 2, 0));
        let mut d = Dates::default();
        parse_dates(b"AAAAA", &mut d);
        assert_eq!(d, Dates::default(), "a zero date is none");
    }
}

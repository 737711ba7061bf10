//! What an HTTP proxy's streams need from its configuration, resolved
//! once at start: connection modes, HTTP timeouts, parser leniency,
//! `option forwardfor`, server connection reuse, error pages.

use std::collections::HashMap;
use std::time::Duration;

use ringlb_config::model::{Config, ErrorSource, ForwardFor, HttpConnMode, HttpReuse, Mode, Proxy};
use ringlb_proto::h1::conn::HttpMode;

/// One proxy's HTTP settings (a frontend reads the frontend side ones, a
/// backend the backend side ones; a listen section both).
#[derive(Debug)]
pub struct HttpPlan {
    pub conn_mode: HttpMode,
    /// `option accept-invalid-http-request`.
    pub accept_invalid_request: bool,
    /// `option accept-invalid-http-response`.
    pub accept_invalid_response: bool,
    pub forwardfor: Option<ForwardFor>,
    /// Parsed `except` network of `option forwardfor`.
    pub forwardfor_except: Option<(std::net::IpAddr, u8)>,
    /// `option originalto`.
    pub originalto: Option<ringlb_config::model::OriginalTo>,
    pub originalto_except: Option<(std::net::IpAddr, u8)>,
    pub timeout_http_request: Option<Duration>,
    pub timeout_http_keep_alive: Option<Duration>,
    /// `http-reuse` (default safe).
    pub reuse: HttpReuse,
    /// `option http-ignore-probes`.
    pub ignore_probes: bool,
    /// `option http-pretend-keepalive`.
    pub pretend_keepalive: bool,
    /// `option dontlog-normal`.
    pub dontlog_normal: bool,
    /// `errorfile` responses by status (raw HTTP/1 bytes, sent as they
    /// are); the others are HAProxy's default pages.
    pub errors: HashMap<u16, Vec<u8>>,
    /// `tune.http.maxhdr`.
    pub max_headers: usize,
    /// `monitor-uri`: answered 200 by the proxy itself, never logged.
    pub monitor_uri: Option<String>,
    /// `http-send-name-header <name>`: the header that carries the
    /// server's name to it (the backend's).
    pub send_name_header: Option<Vec<u8>>,
    /// `capture request header <name> len <n>` in declaration order.
    pub req_captures: Vec<(String, usize)>,
    /// `capture response header <name> len <n>`.
    pub res_captures: Vec<(String, usize)>,
    /// `option abortonclose`: a queued or connecting request is dropped
    /// when its client leaves.
    pub abortonclose: bool,
    /// `capture cookie <name> len <n>` (`%CC`, `%CS`).
    pub capture_cookie: Option<(String, usize)>,
    /// `option http-buffer-request`: the body is waited for (as much as
    /// the buffer holds) before a server is picked.
    pub buffer_request: bool,
    /// `cookie`: the backend's persistence cookie.
    pub cookie: Option<super::cookie::CookiePlan>,
    /// The proxy's ACLs, http-request / http-response /
    /// http-after-response and use_backend rules, compiled once.
    pub rules: crate::engine::rules::http::HttpRules,
    /// A `listen` section: its frontend and backend share one rule set.
    pub listen: bool,
    /// `option prefer-last-server`.
    pub prefer_last_server: bool,
    /// `unique-id-header` (a frontend's, with its `unique-id-format`).
    pub unique_id_header: Option<String>,
    /// `option checkcache` (a backend's).
    pub checkcache: bool,
    /// `option http-use-proxy-header` (a frontend's).
    pub use_proxy_header: bool,
}

/// The actions and fetches the engine applies itself (see
/// `rules::http::Setup`).
/// `set-nice` is accepted and ignored: it only orders the streams in
/// HAProxy's scheduler, which has no equivalent here (a stream runs
/// when its I/O completes) and cannot change what goes on the wire;
/// `wait-for-handshake` has no handshake to wait for on a plain
/// connection (TLS binds are refused).
pub const ENGINE_ACTIONS: &[&str] = &[
    "reject",
    "silent-drop",
    "set-timeout",
    "set-src",
    "set-src-port",
    "set-dst",
    "set-dst-port",
    "early-hint",
    "set-mark/tos",
    "set-nice",
    "wait-for-handshake",
    "set-retries",
    "disable-l7-retry",
    "use-service",
];

impl HttpPlan {
    /// The rules of `px` compiled as the engine runs them.
    pub fn compile_rules(
        px: &Proxy,
        cfg: &Config,
        backend_index: &dyn Fn(&str) -> Option<usize>,
    ) -> Result<crate::engine::rules::http::HttpRules, String> {
        let setup = crate::engine::rules::http::Setup {
            userlists: &cfg.userlists,
            http_errors: &cfg.http_errors,
            engine_actions: ENGINE_ACTIONS,
            ..Default::default()
        };
        crate::engine::rules::http::HttpRules::compile_with(px, &setup, backend_index)
            .map_err(|e| e.0)
    }

    /// The plan of `px` when it is in HTTP mode (an error: a rule it
    /// cannot run).
    pub fn of(
        px: &Proxy,
        cfg: &Config,
        backend_index: &dyn Fn(&str) -> Option<usize>,
    ) -> Result<Option<Box<HttpPlan>>, String> {
        if px.mode() != Mode::Http {
            return Ok(None);
        }
        let rules = Self::compile_rules(px, cfg, backend_index)?;
        let o = &px.options;
        let conn_mode = match o.http_conn_mode {
            Some(HttpConnMode::ServerClose) => HttpMode::ServerClose,
            Some(HttpConnMode::Close) => HttpMode::Close,
            Some(HttpConnMode::KeepAlive) | None => HttpMode::KeepAlive,
        };
        let mut errors = HashMap::new();
        // `errorfiles <section> [<code> ...]` first; the proxy's own
        // `errorfile` lines override them.
        for r in &px.errorfile_groups {
            let Some(section) = cfg
                .http_errors
                .iter()
                .find(|h| h.name.name == r.section.name)
            else {
                continue;
            };
            for e in &section.errorfiles {
                if r.codes.is_empty() || r.codes.contains(&e.status) {
                    errors.insert(e.status, e.content.clone());
                }
            }
        }
        for e in &px.errorfiles {
            let bytes = match &e.source {
                ErrorSource::File { content, .. } => content.clone(),
                ErrorSource::Redirect { status, url } => format!(
                    "HTTP/1.1 {status} Found\r\nCache-Control: no-cache\r\nContent-length: 0\r\nLocation: {url}\r\nConnection: close\r\n\r\n"
                )
                .into_bytes(),
                ErrorSource::Reply { reply, content } => {
                    match http_error_page(e.status, reply, content.as_deref(), cfg) {
                        ErrorPage::Set(bytes) => bytes,
                        ErrorPage::Default => {
                            errors.remove(&e.status);
                            continue;
                        }
                        ErrorPage::Keep => continue,
                    }
                }
            };
            errors.insert(e.status, bytes);
        }
        let forwardfor_except = o
            .forwardfor
            .as_ref()
            .and_then(|f| f.except.as_deref())
            .and_then(parse_net);
        Ok(Some(Box::new(HttpPlan {
            conn_mode,
            accept_invalid_request: o.is_set("accept-invalid-http-request"),
            accept_invalid_response: o.is_set("accept-invalid-http-response"),
            forwardfor: o.forwardfor.clone(),
            forwardfor_except,
            originalto: o.originalto.clone(),
            originalto_except: o
                .originalto
                .as_ref()
                .and_then(|f| f.except.as_deref())
                .and_then(parse_net),
            timeout_http_request: px.timeouts.http_request,
            timeout_http_keep_alive: px.timeouts.http_keep_alive,
            reuse: px.http_reuse.unwrap_or(HttpReuse::Safe),
            ignore_probes: o.is_set("http-ignore-probes"),
            pretend_keepalive: o.is_set("http-pretend-keepalive"),
            dontlog_normal: o.is_set("dontlog-normal"),
            errors,
            max_headers: cfg.global.tune.http_maxhdr.map_or(101, usize::from),
            monitor_uri: px.monitor_uri.clone(),
            send_name_header: px
                .directives
                .iter()
                .rev()
                .find(|d| d.keyword == "http-send-name-header")
                .and_then(|d| d.args.first())
                .map(|h| h.as_bytes().to_vec()),
            req_captures: captures(px, false),
            res_captures: captures(px, true),
            buffer_request: o.is_set("http-buffer-request"),
            abortonclose: o.is_set("abortonclose"),
            capture_cookie: px.captures.iter().find_map(|c| match c {
                ringlb_config::model::Capture::Cookie { name, len } => {
                    Some((name.clone(), usize::try_from(*len).unwrap_or(usize::MAX)))
                }
                _ => None,
            }),
            cookie: px.cookie.as_ref().filter(|_| px.cap.backend).map(|c| {
                super::cookie::CookiePlan {
                    persist: o.is_set("persist"),
                    ..super::cookie::CookiePlan::of(c)
                }
            }),
            rules,
            listen: px.kind == ringlb_config::model::ProxyKind::Listen,
            prefer_last_server: o.is_set("prefer-last-server"),
            checkcache: px.cap.backend && o.is_set("checkcache"),
            use_proxy_header: px.cap.frontend && o.is_set("http-use-proxy-header"),
            unique_id_header: px
                .unique_id_header
                .clone()
                .filter(|_| px.cap.frontend && px.unique_id_format.is_some()),
        })))
    }

    /// The response for `status`: the proxy's errorfile, else HAProxy's
    /// default page.
    pub fn error_page(&self, status: u16) -> Vec<u8> {
        self.errors
            .get(&status)
            .cloned()
            .or_else(|| ringlb_proto::errors::raw(status))
            .unwrap_or_default()
    }
}

/// What an `http-error` line makes of its status's page.
enum ErrorPage {
    Set(Vec<u8>),
    /// `default-errorfiles`: HAProxy's own page again.
    Default,
    /// `errorfiles <section>` without this status: what was there stays.
    Keep,
}

/// The response `http-error status <status> ...` sends, built once as
/// HAProxy's HTX reply goes out: the status line, the `hdr` headers
/// (lower-cased), `content-length`, then `content-type` when there is a
/// body. Formats with sample expressions are refused at start
/// (support.rs), so each `hdr` value is its text.
fn http_error_page(
    status: u16,
    reply: &ringlb_config::model::Reply,
    content: Option<&[u8]>,
    cfg: &Config,
) -> ErrorPage {
    use ringlb_config::model::ReplyPayload;
    let body: Vec<u8> = match &reply.payload {
        Some(ReplyPayload::DefaultErrorfiles) => return ErrorPage::Default,
        Some(ReplyPayload::Errorfile(_)) => {
            return ErrorPage::Set(content.unwrap_or_default().to_vec())
        }
        Some(ReplyPayload::Errorfiles(name)) => {
            return cfg
                .http_errors
                .iter()
                .find(|h| &h.name.name == name)
                .and_then(|h| h.errorfiles.iter().find(|e| e.status == status))
                .map_or(ErrorPage::Keep, |e| ErrorPage::Set(e.content.clone()))
        }
        Some(ReplyPayload::String(s)) => s.as_bytes().to_vec(),
        Some(ReplyPayload::File(_)) => content.unwrap_or_default().to_vec(),
        Some(ReplyPayload::LfString(f)) => literal(f).into_bytes(),
        Some(ReplyPayload::LfFile(_)) | None => Vec::new(),
    };
    let reason = ringlb_proto::errors::message(status).map_or("", |m| m.reason);
    let mut out = format!("HTTP/1.1 {status} {reason}\r\n").into_bytes();
    for (name, value) in &reply.headers {
        out.extend_from_slice(name.to_ascii_lowercase().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(literal(value).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    if let Some(t) = reply.content_type.as_ref().filter(|_| !body.is_empty()) {
        out.extend_from_slice(format!("content-type: {t}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
    ErrorPage::Set(out)
}

/// A format's text (`%%` read as `%`); its expressions, if any, left out.
fn literal(f: &ringlb_config::logformat::LogFormat) -> String {
    f.items
        .iter()
        .filter_map(|i| match i {
            ringlb_config::logformat::LogItem::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

/// The header captures of one direction, in declaration order.
fn captures(px: &Proxy, response: bool) -> Vec<(String, usize)> {
    use ringlb_config::model::Capture;
    px.captures
        .iter()
        .filter_map(|c| match c {
            Capture::RequestHeader { name, len } if !response => Some((name.clone(), *len)),
            Capture::ResponseHeader { name, len } if response => Some((name.clone(), *len)),
            _ => None,
        })
        .map(|(n, l)| (n, usize::try_from(l).unwrap_or(usize::MAX)))
        .collect()
}

/// `a.b.c.d[/len]` or an IPv6 network.
fn parse_net(s: &str) -> Option<(std::net::IpAddr, u8)> {
    let (ip, len) = match s.split_once('/') {
        Some((ip, len)) => (
            ip,
            len.parse().ok().or_else(|| {
                let m = len.parse::<std::net::Ipv4Addr>().ok()?;
                u8::try_from(u32::from(m).count_ones()).ok()
            })?,
        ),
        None => (s, if s.contains(':') { 128 } else { 32 }),
    };
    Some((ip.parse().ok()?, len))
}

/// Whether `ip` is in the network `(net, len)`.
pub fn in_net(ip: std::net::IpAddr, (net, len): (std::net::IpAddr, u8)) -> bool {
    use std::net::IpAddr;
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(len.min(32)))
                .unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(len.min(128)))
                .unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

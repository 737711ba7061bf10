//! What the engine cannot honour yet: the one list `ringlb -c` checks a
//! configuration against (HAProxy: "if it accepts to start, it will work").
//! Each issue that teaches the engine a capability removes its entry here;
//! `tests/config_support.rs` keeps the list honest against the corpus.
//!
//! A setting whose absence cannot change traffic (cpu-map, splice options,
//! a log-format sample that would print "-") is a warning instead.

use ringlb_config::addr::{Address, Transport};
use ringlb_config::addr::{Host, Port};
use ringlb_config::model::{
    BackendTarget, Balance, Config, Directive, HashMethod, LogDest, LogTarget, Mode, Proxy, Source,
    UseSrc,
};
use ringlb_config::{diag::Kind, Diagnostic, Loc};

/// A setting the engine lacks, by the key `-c` names in its error.
#[derive(Debug)]
pub struct Unsupported {
    pub key: &'static str,
    pub why: &'static str,
}

pub const UNSUPPORTED: &[Unsupported] = &[
    Unsupported {
        key: "persistence rules",
        why: "persist rdp-cookie, force-persist, ignore-persist and dispatch are not implemented yet",
    },
    Unsupported {
        key: "http rules",
        why: "this rule, fetch or converter is not implemented yet",
    },
    Unsupported {
        key: "stats page",
        why: "`stats http-request` rules are not run yet",
    },
    Unsupported {
        key: "compression",
        why: "HTTP compression is not implemented yet",
    },
    Unsupported {
        key: "http option",
        why: "this HTTP option is not implemented yet",
    },
    Unsupported {
        key: "http directive",
        why: "this HTTP-mode keyword is not implemented yet",
    },
    Unsupported {
        key: "tcp frontend to http backend",
        why: "a TCP frontend cannot hand its connections to an HTTP backend yet (HAProxy upgrades them)",
    },
    Unsupported {
        key: "tcp-request rules",
        why: "tcp-request rules run accept, reject, silent-drop, set-var, set-var-fmt, unset-var, and in content rules capture and set-log-level; other actions (track-sc, sc-*, expect-proxy, set-src ...) are not implemented yet",
    },
    Unsupported {
        key: "tcp-response rules",
        why: "tcp-response content runs accept, reject, close (TCP mode), set-var, set-var-fmt, unset-var and set-log-level; other actions, and close in HTTP mode, are not implemented yet",
    },
    Unsupported {
        key: "health checks",
        why: "only TCP connect checks, option httpchk (http-check connect, send with log-format hdr/uri-lf/body-lf, send-state, set-var, unset-var, disable-on-404, expect status|rstatus|string|rstring|hdr|fhdr), option tcp-check (connect [port|addr|send-proxy|linger|default], send, send-lf, send-binary, send-binary-lf, expect string|binary|rstring|rbinary with their options, set-var, unset-var), option redis-check, ssl-hello-chk, smtpchk, pgsql-check, ldap-check and mysql-check, agent checks (agent-check, agent-port, agent-inter, agent-send, agent-addr) and slowstart run yet; init-state down without a check, check-ssl, check-sni and check-alpn (TLS), connect ssl|sni|alpn|via-socks4|proto, expect string-lf|binary-lf, the other check kinds and rules do not",
    },
    Unsupported {
        key: "ssl",
        why: "TLS (rustls) is not wired into the engine yet",
    },
    Unsupported {
        key: "proxy protocol",
        why: "accept-proxy, accept-netscaler-cip and send-proxy* are not implemented yet",
    },
    Unsupported {
        key: "mux protocol",
        why: "ringlb speaks HTTP/1 only: the HTTP/2, FastCGI and QUIC muxes (bind 'proto h2|quic', server 'proto h2|fcgi', 'ws h2', 'check-proto h2') are not implemented yet",
    },
    Unsupported {
        key: "server socks4",
        why: "connecting through a SOCKS4 proxy is not implemented yet; ringlb would connect to the server directly",
    },
    Unsupported {
        key: "source address",
        why: "server connections are bound to one IP address and port; a source port range, a UNIX or abstract source address and (HTTP mode) usesrc hdr_ip() are not implemented yet",
    },
    Unsupported {
        key: "network namespaces",
        why: "sockets are opened in ringlb's own network namespace only",
    },
    Unsupported {
        key: "server hash-key",
        why: "consistent-hash node keys derive from server ids only; 'addr' and 'addr-port' would pick other servers",
    },
    Unsupported {
        key: "server id",
        why: "the engine numbers servers by position; an explicit id changes 'balance first' order and consistent-hash placement",
    },
    Unsupported {
        key: "option transparent",
        why: "connecting to the client's original destination address is not implemented yet",
    },
    Unsupported {
        key: "option independent-streams",
        why: "sending data refreshes both directions' timeouts; per-direction timeouts are not implemented yet",
    },
    Unsupported {
        key: "option abortonclose",
        why: "in TCP mode a client's close does not abort its queued or connecting stream yet (HTTP mode honours it)",
    },
    Unsupported {
        key: "server state file",
        why: "load-server-state-from-file would restore server weights and states that ringlb does not read",
    },
    Unsupported {
        key: "abstract and socketpair addresses",
        why: "abns@, abnsz@, sockpair@, rhttp@, fd@ servers and datagram UNIX sockets are not implemented yet (unix@ stream sockets are)",
    },
    Unsupported {
        key: "filter",
        why: "the engine runs no stream filters: spoe agents would get no messages, bwlim would not limit and opentracing would not trace (compression, cache and fcgi-app only act in HTTP mode)",
    },
    Unsupported {
        key: "log destination",
        why: "logs go to stdout, stderr, fd@, a UNIX datagram path or a UDP address with a host; rings, log backends, abstract sockets and an address without a host (e.g. ':514') are not implemented yet",
    },
    Unsupported {
        key: "balance by key",
        why: "uri, url_param and hdr hash HTTP requests only; rdp-cookie hashes a TCP stream's RDP cookie only; log-hash, and TCP-mode hash with a fetch or converter the engine lacks (or a map) need more sample extraction",
    },
    Unsupported {
        key: "stick tables",
        why: "stick-table / stick rules are not implemented yet",
    },
    Unsupported {
        key: "stats socket",
        why: "the runtime API listens on UNIX paths and TCP addresses only, with level, mode, user/uid, group/gid, expose-fd listeners, severity-output, name and thread; other addresses and bind options are not served",
    },
    Unsupported {
        key: "peers section",
        why: "stick-table synchronisation is not implemented yet",
    },
    Unsupported {
        key: "resolvers section",
        why: "run-time DNS resolution is not implemented yet",
    },
    Unsupported {
        key: "mailers section",
        why: "email alerts are not implemented yet",
    },
    Unsupported {
        key: "program section",
        why: "external programs are not implemented yet",
    },
    Unsupported {
        key: "cache section",
        why: "the HTTP cache is not implemented yet",
    },
    Unsupported {
        key: "ring section",
        why: "ring buffers are not implemented yet",
    },
];

fn diag(key: &str, loc: &Loc) -> Diagnostic {
    let why = UNSUPPORTED
        .iter()
        .find(|u| u.key == key)
        .map_or("", |u| u.why);
    debug_assert!(
        !why.is_empty(),
        "unsupported key {key} missing from UNSUPPORTED"
    );
    Diagnostic::error(loc, format!("{key} is not supported yet ({why})"))
        .with_kind(Kind::NotSupportedYet)
}

/// What an HTTP proxy uses that the HTTP engine does not do yet.
fn http_checks(px: &Proxy, cfg: &Config, out: &mut Vec<Diagnostic>) {
    // The rules compile as the engine will run them; what they cannot
    // run is named with its file:line.
    let backend = |n: &str| cfg.proxy(n).filter(|p| p.cap.backend).map(|_| 0);
    if let Err(e) = crate::engine::stream::http::plan::HttpPlan::compile_rules(px, cfg, &backend) {
        out.push(rule_diag(px, &e));
    }
    // `set-nice` weighs a stream in HAProxy's scheduler; a ringlb stream
    // runs when its I/O completes, so ignoring it cannot change traffic.
    use ringlb_config::model::{HttpRequestAction as Req, HttpResponseAction as Res};
    let nice = px
        .rules
        .http_request
        .iter()
        .filter(|r| matches!(r.action, Req::SetNice(_)))
        .map(|r| &r.loc)
        .chain(
            px.rules
                .http_response
                .iter()
                .filter(|r| matches!(r.action, Res::SetNice(_)))
                .map(|r| &r.loc),
        );
    for loc in nice {
        out.push(Diagnostic::warning(
            loc,
            "'set-nice' has no effect: ringlb does not schedule streams by priority",
        ));
    }
    // `http-error` pages are built once: a format with sample expressions
    // (an lf-string, lf-file or hdr value using %[...] or %x) would need
    // one rendering per response.
    for e in &px.errorfiles {
        use ringlb_config::model::{ErrorSource, ReplyPayload};
        let ErrorSource::Reply { reply, .. } = &e.source else {
            continue;
        };
        let literal = |f: &ringlb_config::logformat::LogFormat| {
            f.items
                .iter()
                .all(|i| matches!(i, ringlb_config::logformat::LogItem::Text(_)))
        };
        let dynamic = matches!(reply.payload, Some(ReplyPayload::LfFile(_)))
            || matches!(&reply.payload, Some(ReplyPayload::LfString(f)) if !literal(f))
            || reply.headers.iter().any(|(_, f)| !literal(f));
        if dynamic {
            out.push(diag_named(
                "http directive",
                &e.loc,
                "http-error with a log-format",
            ));
        }
    }
    // The stats page is served (engine::stats::page); its own
    // `stats http-request` rules are not run yet.
    if !px.stats.http_request.is_empty() {
        out.push(diag("stats page", &px.loc));
    }
    let c = &px.compression;
    if !c.algos_req.is_empty() || !c.algos_res.is_empty() || !c.types_res.is_empty() || c.offload {
        out.push(diag("compression", &px.loc));
    }
    for (name, on) in &px.options.flags {
        let unsupported = matches!(
            *name,
            "http_proxy"
                | "h1-case-adjust-bogus-client"
                | "h1-case-adjust-bogus-server"
                | "http-drop-request-trailers"
                | "http-drop-response-trailers"
        );
        if *on && unsupported {
            out.push(diag_named(
                "http option",
                &px.loc,
                &format!("option {name}"),
            ));
        }
    }
    for d in &px.directives {
        let first = d.keyword.split(' ').next().unwrap_or_default();
        if matches!(first, "max-keep-alive-queue" | "use-fcgi-app" | "option") {
            out.push(diag_named("http directive", &d.loc, &d.keyword));
        }
        // A session keeps one server connection of its own (the one its
        // last request used): within any limit but 0, which HAProxy uses
        // to keep none.
        if first == "max-session-srv-conns" && d.args.first().is_some_and(|a| a.trim() == "0") {
            out.push(diag_named(
                "http directive",
                &d.loc,
                "max-session-srv-conns 0",
            ));
        }
        // compression, cache and fcgi-app act in HTTP mode only (the
        // others are refused in any mode, below).
        if first == "filter"
            && d.args
                .first()
                .is_some_and(|f| matches!(f.as_str(), "compression" | "cache" | "fcgi-app"))
        {
            out.push(diag("filter", &d.loc));
        }
    }
}

/// A rule compile error (`<file>:<line>: <what>`) as a diagnostic at the
/// rule's line: "not supported yet" under the `http rules` key, any other
/// error as it is.
fn rule_diag(px: &Proxy, e: &str) -> Diagnostic {
    let r = &px.rules;
    let locs = px
        .acls
        .iter()
        .map(|a| &a.loc)
        .chain(r.http_request.iter().map(|r| &r.loc))
        .chain(r.http_response.iter().map(|r| &r.loc))
        .chain(r.http_after_response.iter().map(|r| &r.loc))
        .chain(px.use_backends.iter().map(|u| &u.loc));
    let mut at = (&px.loc, e);
    for loc in locs {
        let prefix = format!("{loc}: ");
        if let Some(rest) = e.strip_prefix(&prefix) {
            at = (loc, rest);
            break;
        }
    }
    let (loc, what) = at;
    if what.contains("not supported yet") {
        diag_named("http rules", loc, what)
    } else {
        Diagnostic::error(loc, what.to_string())
    }
}

/// A check compile error (`<file>:<line>: <what>`) at its line.
fn check_diag(px: &Proxy, e: &str) -> Diagnostic {
    for st in px.http_checks.iter().chain(&px.tcp_checks) {
        if let Some(rest) = e.strip_prefix(&format!("{}: ", st.loc)) {
            return diag_named("health checks", &st.loc, rest);
        }
    }
    let what = e.strip_prefix(&format!("{}: ", px.loc)).unwrap_or(e);
    diag_named("health checks", &px.loc, what)
}

/// The server options of the check machinery that do not run yet.
fn unsupported_check_option(o: &ringlb_config::model::ServerOptions) -> Option<&'static str> {
    let checked = o.check == Some(true);
    if checked && o.check_ssl == Some(true) {
        Some("check-ssl")
    } else if checked && o.check_sni.is_some() {
        // Meaningful with check-ssl only, which follows in the TLS issue.
        Some("check-sni")
    } else if checked && o.check_alpn.is_some() {
        Some("check-alpn")
    } else {
        None
    }
}

/// A TCP rule set's compile error at its rule's line.
fn tcp_rule_diag(px: &Proxy, e: &str) -> Diagnostic {
    let r = &px.rules;
    let locs = r
        .tcp_request_connection
        .iter()
        .map(|r| (&r.loc, "tcp-request rules"))
        .chain(
            r.tcp_request_session
                .iter()
                .map(|r| (&r.loc, "tcp-request rules")),
        )
        .chain(
            r.tcp_request_content
                .iter()
                .map(|r| (&r.loc, "tcp-request rules")),
        )
        .chain(
            r.tcp_response_content
                .iter()
                .map(|r| (&r.loc, "tcp-response rules")),
        )
        .chain(
            px.use_backends
                .iter()
                .map(|u| (&u.loc, "tcp-request rules")),
        )
        .chain(px.use_servers.iter().map(|u| (&u.loc, "persistence rules")));
    for (loc, key) in locs {
        if let Some(rest) = e.strip_prefix(&format!("{loc}: ")) {
            return if rest.contains("not supported yet") {
                diag_named(key, loc, rest)
            } else {
                Diagnostic::error(loc, rest.to_string())
            };
        }
    }
    Diagnostic::error(&px.loc, e.to_string())
}

/// [`diag`] naming the keyword among those its key covers.
fn diag_named(key: &str, loc: &Loc, name: &str) -> Diagnostic {
    let why = UNSUPPORTED
        .iter()
        .find(|u| u.key == key)
        .map_or("", |u| u.why);
    Diagnostic::error(loc, format!("{key} is not supported yet ({name}: {why})"))
        .with_kind(Kind::NotSupportedYet)
}

fn proxy_checks(px: &Proxy, cfg: &Config, out: &mut Vec<Diagnostic>) {
    if px.mode() == Mode::Http {
        http_checks(px, cfg, out);
    } else if px.cap.frontend {
        let http_backend = px
            .default_backend
            .as_ref()
            .and_then(|d| cfg.proxy(&d.name))
            .is_some_and(|b| b.mode() == Mode::Http);
        if http_backend {
            out.push(diag("tcp frontend to http backend", &px.loc));
        }
    }
    if px.mode() != Mode::Http && px.cap.frontend {
        // TCP-mode switching runs (engine::rules::tcp), to TCP backends:
        // HAProxy would upgrade the stream for an HTTP one.
        for u in &px.use_backends {
            let to_http = match &u.target {
                BackendTarget::Static(name) => {
                    cfg.proxy(name).is_some_and(|b| b.mode() == Mode::Http)
                }
                BackendTarget::Dynamic(_) => cfg
                    .proxies
                    .iter()
                    .any(|b| b.cap.backend && b.mode() == Mode::Http),
            };
            if to_http {
                out.push(diag("tcp frontend to http backend", &u.loc));
            }
        }
    }
    // Proxy-level keywords kept as directives that change where or how
    // connections go.
    for d in &px.directives {
        match d.keyword.as_str() {
            // `persist rdp-cookie` is stored under its two words.
            "persist" | "persist rdp-cookie" | "force-persist" | "ignore-persist" | "dispatch" => {
                out.push(diag("persistence rules", &d.loc));
            }
            // compression, cache and fcgi-app only act on HTTP; trace only
            // prints.
            "filter"
                if d.args.first().is_some_and(|f| {
                    matches!(
                        f.as_str(),
                        "spoe" | "bwlim-in" | "bwlim-out" | "opentracing"
                    )
                }) =>
            {
                out.push(diag("filter", &d.loc));
            }
            _ => {}
        }
    }
    if let Some(src) = px.source.as_ref().filter(|_| px.cap.backend) {
        source_checks(px, "", src, out);
    }
    proxy_option_checks(px, out);
    // The TCP rule sets run (engine::rules::tcp); what they cannot run
    // is named at its line.
    if let Err(e) = crate::engine::rules::tcp::TcpRules::compile(px, Some(&|_: &str| Some(0))) {
        out.push(tcp_rule_diag(px, &e.0));
    }
    for b in &px.binds {
        if b.opts.ssl {
            out.push(diag("ssl", &b.loc));
        }
        if b.opts.accept_proxy || b.opts.accept_netscaler_cip.is_some() {
            out.push(diag("proxy protocol", &b.loc));
        }
        if b.opts.namespace.is_some() {
            out.push(diag("network namespaces", &b.loc));
        }
        if let Some(p) = b.opts.proto.as_deref().filter(|p| !mux_served(p)) {
            out.push(diag_named("mux protocol", &b.loc, &format!("proto {p}")));
        }
        if b.addrs.iter().any(|a| {
            matches!(
                a,
                Address::Abstract { .. }
                    | Address::SockPair(_)
                    | Address::Rhttp(_)
                    | Address::Unix {
                        transport: Transport::Dgram,
                        ..
                    }
            )
        }) {
            out.push(diag("abstract and socketpair addresses", &b.loc));
        }
    }
    let checked = px.servers.iter().any(|s| s.opts.check == Some(true));
    if checked && px.cap.backend {
        if let Err(e) = crate::engine::checks::supported(px) {
            out.push(check_diag(px, &e));
        }
    }
    for s in &px.servers {
        let o = &s.opts;
        if let Some(what) = unsupported_check_option(o) {
            out.push(diag_named("health checks", &s.loc, what));
        }
        // A server that starts down waits for its check to bring it up;
        // without a check nothing would.
        if o.check != Some(true) {
            if let Some(d) = crate::engine::checks::init_state(px, s)
                .filter(|d| d.args.first().is_some_and(|a| a.contains("down")))
            {
                out.push(diag_named(
                    "health checks",
                    &d.loc,
                    "init-state without check",
                ));
            }
        }
        if o.ssl == Some(true) {
            out.push(diag("ssl", &s.loc));
        }
        if matches!(o.send_proxy, Some(Some(_))) {
            out.push(diag("proxy protocol", &s.loc));
        }
        server_other_checks(px, &o.other, out);
        // A server's mux is HTTP/1 in an HTTP backend, the pass-through in
        // a TCP one (HAProxy takes `proto none` in an HTTP backend too).
        let served = |p: &str| match px.mode() {
            Mode::Http => p == "h1",
            _ => p == "none",
        };
        if let Some(p) = o.proto.as_deref().filter(|p| !served(p)) {
            out.push(diag_named("mux protocol", &s.loc, &format!("proto {p}")));
        }
        // UNIX stream servers are supported; abstract, socketpair, fd and
        // datagram server addresses are not.
        if matches!(
            s.addr,
            Address::Unix {
                transport: Transport::Dgram,
                ..
            } | Address::Abstract { .. }
                | Address::SockPair(_)
                | Address::Fd(_)
                | Address::Rhttp(_)
        ) {
            out.push(diag("abstract and socketpair addresses", &s.loc));
        }
        if let Some(src) = &o.source {
            source_checks(px, &s.name, src, out);
        }
    }
    // HAProxy's puid orders `balance first` and places consistent-hash
    // points; ringlb numbers servers 1, 2, ... in declaration order, which
    // matches HAProxy's automatic ids as long as every explicit id equals
    // its server's position.
    if px.cap.backend && (consistent_hash(px) || matches!(px.balance, Some(Balance::First))) {
        if let Some(s) = px
            .servers
            .iter()
            .zip(1u32..)
            .find(|(s, pos)| s.opts.id.is_some_and(|id| id != *pos))
            .map(|(s, _)| s)
        {
            out.push(diag("server id", &s.loc));
        }
    }
    if px.cap.backend && !px.servers.is_empty() && px.log_hash.is_some() {
        out.push(diag("balance by key", &px.loc));
    }
    if px.cap.backend && !px.servers.is_empty() {
        // HTTP mode hashes the request's URI, a query parameter, a header
        // or a sample; the rest needs TCP-mode sample extraction or body
        // inspection.
        let http = px.mode() == Mode::Http;
        let unsupported = match &px.balance {
            Some(Balance::Uri { .. } | Balance::Hdr { .. }) => !http,
            // TCP mode: over the connection's addresses, with the fetches
            // and converters the rules run (HTTP mode: its rules refuse
            // the others at their line).
            Some(Balance::Hash(e)) => {
                !http
                    && (!crate::engine::rules::names::fetch_supported(e.fetch.def.name, &[])
                        || e.converters.iter().any(|c| {
                            !crate::engine::rules::names::converter_supported(c.def.name)
                                || crate::engine::rules::map::kind(c.def.name).is_some()
                        }))
            }
            Some(Balance::UrlParam { .. }) => !http,
            // rdp-cookie reads the bytes the TCP content rules waited for.
            Some(Balance::RdpCookie { .. }) => http,
            _ => false,
        };
        if unsupported {
            out.push(diag("balance by key", &px.loc));
        }
    }
    if px.stick_table.is_some() || !px.stick_rules.is_empty() {
        out.push(diag("stick tables", &px.loc));
    }
}

/// `option` flags that change how a TCP stream is served.
fn proxy_option_checks(px: &Proxy, out: &mut Vec<Diagnostic>) {
    // A log line's `%[...]` item with a fetch or converter the engine
    // lacks (or a map: none is loaded for the log) prints `-`: only the
    // log's text changes, so a warning.
    let lacking = |f: &ringlb_config::logformat::LogFormat| {
        f.items.iter().any(|i| match i {
            ringlb_config::logformat::LogItem::Sample { expr, .. } => {
                use crate::engine::rules::names;
                !names::fetch_supported(expr.fetch.def.name, &[])
                    || expr.converters.iter().any(|c| {
                        !names::converter_supported(c.def.name)
                            || crate::engine::rules::map::kind(c.def.name).is_some()
                    })
            }
            _ => false,
        })
    };
    let warn = |loc: &Loc, kw: &str| {
        Diagnostic::warning(
            loc,
            format!("a sample expression ('%[...]') in '{kw}' prints '-': its fetch or converter is not supported in log lines yet"),
        )
    };
    if let Some(d) = px
        .directives
        .iter()
        .rev()
        .find(|d| d.keyword == "log-format-sd" && px.cap.frontend)
        .filter(|d| {
            d.args.first().is_some_and(|f| {
                ringlb_config::logformat::parse_log_format(f).is_ok_and(|f| lacking(&f))
            })
        })
    {
        out.push(warn(&d.loc, "log-format-sd"));
    }
    // The log-format's line is the proxy's (the model keeps no place for
    // it).
    if px.cap.frontend && px.log_format.as_ref().is_some_and(lacking) {
        out.push(warn(&px.loc, "log-format"));
    }
    let transparent = px.options.is_set("transparent")
        || px.directives.iter().any(|d| d.keyword == "transparent");
    if px.cap.backend && transparent {
        out.push(diag("option transparent", &px.loc));
    }
    if px.options.is_set("independent-streams") {
        out.push(diag("option independent-streams", &px.loc));
    }
    if px.cap.backend && px.mode() != Mode::Http && px.options.is_set("abortonclose") {
        out.push(diag("option abortonclose", &px.loc));
    }
    if px.cap.backend {
        // The last one counts; `none` is the default.
        if let Some(d) = px
            .directives
            .iter()
            .rev()
            .find(|d| d.keyword == "load-server-state-from-file")
            .filter(|d| d.args.first().is_some_and(|a| a != "none"))
        {
            out.push(diag("server state file", &d.loc));
        }
    }
    // The parser clears `other` when a server copies its default-server
    // settings, so a default-server's unmodelled options are checked here,
    // once, for the proxy's servers.
    if !px.servers.is_empty() {
        server_other_checks(px, &px.default_server.other, out);
    }
}

/// Servers sit on a consistent-hash ring placed by their ids.
fn consistent_hash(px: &Proxy) -> bool {
    px.hash_type
        .is_some_and(|h| h.method == HashMethod::Consistent)
        && matches!(
            px.balance,
            Some(
                Balance::Source
                    | Balance::Uri { .. }
                    | Balance::UrlParam { .. }
                    | Balance::Hdr { .. }
                    | Balance::RdpCookie { .. }
                    | Balance::Hash(_)
            )
        )
}

/// The last `<kw>` of a server's unmodelled options, unless a later
/// `no-<kw>` undid it.
fn other_opt<'a>(other: &'a [Directive], kw: &str) -> Option<&'a Directive> {
    other
        .iter()
        .rev()
        .find(|d| d.keyword == kw || d.keyword.strip_prefix("no-") == Some(kw))
        .filter(|d| d.keyword == kw)
}

/// Server options the config parser keeps as words (`ServerOptions::other`)
/// that change where or how the connection to the server goes. The others
/// cannot change TCP-mode traffic when ignored: SSL-only ones (ssl is
/// refused), check-only ones (checks are refused), HTTP-only ones (ws, redir,
/// connection reuse pools, strict-maxconn, idle-ping), resolver-only ones
/// (resolvers are refused), stick/peers/ring ones, and names (guid).
fn server_other_checks(px: &Proxy, other: &[Directive], out: &mut Vec<Diagnostic>) {
    if let Some(d) = other_opt(other, "socks4") {
        out.push(diag("server socks4", &d.loc));
    }
    if let Some(d) = other_opt(other, "namespace") {
        out.push(diag("network namespaces", &d.loc));
    }
    // `ws auto` follows `proto`, which is HTTP/1 when it runs.
    for kw in ["ws", "check-proto"] {
        if let Some(d) = other_opt(other, kw) {
            let v = d.args.first().map_or("", String::as_str);
            if !(mux_served(v) || kw == "ws" && v == "auto") {
                out.push(diag_named("mux protocol", &d.loc, &format!("{kw} {v}")));
            }
        }
    }
    // Each of these makes HAProxy send a PROXY protocol header (or TLVs in
    // it).
    if let Some(d) = [
        "send-proxy-v2-ssl",
        "send-proxy-v2-ssl-cn",
        "proxy-v2-options",
        "set-proxy-v2-tlv-fmt",
    ]
    .iter()
    .find_map(|k| other_opt(other, k))
    {
        out.push(diag("proxy protocol", &d.loc));
    }
    if let Some(d) = other_opt(other, "hash-key") {
        if consistent_hash(px) && d.args.first().is_some_and(|k| k != "id") {
            out.push(diag("server hash-key", &d.loc));
        }
    }
}

/// A mux protocol name (`proto`, `ws`, `check-proto`) that is the one
/// ringlb speaks anyway: `h1` in HTTP mode, `none` (the pass-through) in
/// TCP mode. The config parser refuses a name the proxy's mode cannot use.
fn mux_served(name: &str) -> bool {
    matches!(name, "h1" | "none")
}

/// Log targets the log sender cannot open (log/sender.rs `Output::open`),
/// which would stop ringlb at start-up after `-c` said yes.
fn log_checks(logs: &[LogTarget], out: &mut Vec<Diagnostic>) {
    for l in logs {
        let LogTarget::Target(t) = l else { continue };
        let opens = match &t.dest {
            LogDest::Stdout | LogDest::Stderr => true,
            LogDest::Socket(Address::Fd(_)) => true,
            LogDest::Socket(Address::Unix { .. }) => true,
            // HAProxy sends `log :514` (or `${UNSET}:${UNSET}`) to 0.0.0.0;
            // the sender wants a host.
            LogDest::Socket(Address::Inet { host, port, .. }) => {
                !matches!(host, Host::Any(_)) && matches!(port, Port::None | Port::One(_))
            }
            LogDest::Socket(_) | LogDest::Ring(_) | LogDest::Backend(_) => false,
        };
        if !opens {
            out.push(diag("log destination", &t.loc));
        }
    }
}

/// Every setting of `cfg` the engine cannot honour yet.
pub fn check(cfg: &Config) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for px in cfg.proxies.iter().filter(|p| !p.disabled) {
        proxy_checks(px, cfg, &mut out);
        log_checks(&px.logs, &mut out);
    }
    let g = &cfg.global;
    log_checks(&g.logs, &mut out);
    for s in &g.stats_sockets {
        let addr_ok = matches!(
            s.addr,
            ringlb_config::addr::Address::Unix { .. }
                | ringlb_config::addr::Address::Inet {
                    port: Port::One(_),
                    ..
                }
        );
        let opts_ok = s
            .options
            .iter()
            .all(|d| matches!(d.keyword.as_str(), "severity-output" | "name" | "thread"));
        if !addr_ok || !opts_ok {
            out.push(diag("stats socket", &s.loc));
        }
    }
    for p in &cfg.peers {
        out.push(diag("peers section", &p.name.loc));
    }
    for r in &cfg.resolvers {
        out.push(diag("resolvers section", &r.name.loc));
    }
    for m in &cfg.mailers {
        out.push(diag("mailers section", &m.name.loc));
    }
    for p in &cfg.programs {
        out.push(diag("program section", &p.name.loc));
    }
    for c in &cfg.caches {
        out.push(diag("cache section", &c.name.loc));
    }
    for r in &cfg.rings {
        out.push(diag("ring section", &r.name.loc));
    }
    out
}

/// The runtime API listens too: a config with only a stats socket starts.
pub fn has_stats_socket(cfg: &Config) -> bool {
    !cfg.global.stats_sockets.is_empty()
}

/// A `source` (proxy or server): what the connector cannot bind, and
/// `usesrc hdr_ip()`, which TCP mode ignores and HTTP mode would need
/// per request (not done yet: refused there rather than ignored).
fn source_checks(px: &Proxy, server: &str, src: &Source, out: &mut Vec<Diagnostic>) {
    let proxy = &px.name;
    let bindable = |a: &Address| {
        matches!(
            a,
            Address::Inet {
                port: Port::None | Port::One(_),
                ..
            }
        )
    };
    let usesrc_ok = match &src.usesrc {
        Some(UseSrc::Addr(a)) => bindable(a),
        _ => true,
    };
    if !bindable(&src.addr) || !usesrc_ok {
        out.push(diag("source address", &src.loc));
    }
    if src.hdr_ip().is_some() && px.mode() == Mode::Http {
        out.push(diag_named(
            "source address",
            &src.loc,
            "usesrc hdr_ip() in HTTP mode",
        ));
    } else if src.hdr_ip().is_some() {
        out.push(hdr_ip_warning(proxy, server, &src.loc));
    }
}

/// `usesrc hdr_ip()` in TCP mode: HAProxy warns and connects from the plain
/// `source` address (no HTTP header to read); so does ringlb.
fn hdr_ip_warning(proxy: &str, server: &str, loc: &ringlb_config::diag::Loc) -> Diagnostic {
    let who = if server.is_empty() {
        format!("backend '{proxy}'")
    } else {
        format!("backend '{proxy}' : server {server}")
    };
    Diagnostic::warning(
        loc,
        format!("{who} cannot use a header as source IP in non-HTTP mode; the plain source address is used"),
    )
}

#[cfg(test)]
mod tests {
    use ringlb_config::diag::Severity;

    struct NoHost;
    impl ringlb_config::Host for NoHost {
        fn env(&self, _: &str) -> Option<String> {
            None
        }
        fn read_file(&self, p: &str) -> Result<Vec<u8>, String> {
            Err(format!("no file {p}"))
        }
    }

    /// `set-nice` runs (nothing to refuse) with a warning that it does
    /// nothing; the engine actions ringlb applies raise nothing.
    #[test]
    fn set_nice_is_accepted_with_a_warning() {
        let text = "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n\
                    frontend fe\n    bind :8080\n    http-request set-nice 10\n    http-request set-tos 8\n    \
                    http-request early-hint Link </a>\n    default_backend be\n\
                    backend be\n    http-request set-timeout server 2s\n    server s 127.0.0.1:1\n";
        let (cfg, diags) = ringlb_config::load(
            &[ringlb_config::SourceFile::new("t.cfg", text.to_string())],
            &NoHost,
        );
        assert!(!diags.has_errors(), "{diags:?}");
        let out = super::check(&cfg);
        let got: Vec<(Severity, &str)> = out
            .iter()
            .map(|d| (d.severity, d.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [(
                Severity::Warning,
                "'set-nice' has no effect: ringlb does not schedule streams by priority"
            )]
        );
    }
}

//! Sanity checks of the generated tables (tools/gen-keywords.py): known
//! entries have the manual's shape, tables are not truncated, names are
//! unique.

use std::collections::HashSet;

use super::*;

fn assert_unique<'a>(table: &str, names: impl Iterator<Item = &'a str>) {
    let mut seen = HashSet::new();
    for n in names {
        assert!(seen.insert(n), "{table}: duplicate name {n:?}");
    }
}

#[test]
fn names_are_unique() {
    assert_unique("PROXY_KEYWORDS", PROXY_KEYWORDS.iter().map(|k| k.name));
    assert_unique("OPTIONS", OPTIONS.iter().map(|k| k.name));
    assert_unique("GLOBAL_KEYWORDS", GLOBAL_KEYWORDS.iter().map(|k| k.name));
    assert_unique("BIND_OPTIONS", BIND_OPTIONS.iter().map(|k| k.name));
    assert_unique("SERVER_OPTIONS", SERVER_OPTIONS.iter().map(|k| k.name));
    assert_unique("FETCHES", FETCHES.iter().map(|k| k.name));
    assert_unique("CONVERTERS", CONVERTERS.iter().map(|k| k.name));
    assert_unique("ACTIONS", ACTIONS.iter().map(|k| k.name));
    assert_unique("ACL_DERIVATIVES", ACL_DERIVATIVES.iter().map(|k| k.0));
    let mut seen = HashSet::new();
    for k in SECTION_KEYWORDS {
        assert!(
            seen.insert((k.section, k.name)),
            "SECTION_KEYWORDS: duplicate {:?} {:?}",
            k.section,
            k.name
        );
    }
}

#[test]
fn names_are_normalised() {
    let all = PROXY_KEYWORDS
        .iter()
        .map(|k| k.name)
        .chain(OPTIONS.iter().map(|k| k.name))
        .chain(GLOBAL_KEYWORDS.iter().map(|k| k.name))
        .chain(SECTION_KEYWORDS.iter().map(|k| k.name))
        .chain(BIND_OPTIONS.iter().map(|k| k.name))
        .chain(SERVER_OPTIONS.iter().map(|k| k.name))
        .chain(FETCHES.iter().map(|k| k.name))
        .chain(CONVERTERS.iter().map(|k| k.name))
        .chain(ACTIONS.iter().map(|k| k.name));
    for n in all {
        assert!(!n.is_empty());
        assert_eq!(n, n.trim(), "{n:?}");
        assert!(!n.contains("  "), "{n:?} has a double space");
        assert!(!n.contains(['<', '>', '[', ']', '(', ')']), "{n:?}");
    }
    for k in OPTIONS {
        assert!(!k.name.starts_with("option "), "{:?}", k.name);
    }
    for k in PROXY_KEYWORDS {
        assert!(!k.name.starts_with("option "), "{:?}", k.name);
    }
}

#[test]
fn counts_are_not_below_the_manual() {
    // Lower bounds slightly below what the 3.2 manual holds, so that a
    // generator regression that drops entries is caught.
    let counts = [
        ("PROXY_KEYWORDS", PROXY_KEYWORDS.len(), 155),
        ("OPTIONS", OPTIONS.len(), 55),
        ("GLOBAL_KEYWORDS", GLOBAL_KEYWORDS.len(), 255),
        ("FETCHES", FETCHES.len(), 590),
        ("ACL_DERIVATIVES", ACL_DERIVATIVES.len(), 85),
        ("CONVERTERS", CONVERTERS.len(), 165),
        ("ACTIONS", ACTIONS.len(), 75),
    ];
    for (table, len, min) in counts {
        println!("{table}: {len}");
        assert!(len >= min, "{table} has {len} entries, expected >= {min}");
    }
}

#[test]
fn timeout_client() {
    let k = proxy_keyword("timeout client").expect("timeout client");
    assert_eq!(k.arity, Arity::exactly(1));
    assert_eq!(k.defaults, InDefaults::Yes);
    assert!(k.frontend && k.listen && !k.backend);
    assert_eq!(k.usage, "timeout client <timeout>");
}

#[test]
fn proxy_keyword_columns() {
    let bind = proxy_keyword("bind").expect("bind");
    assert_eq!(bind.defaults, InDefaults::No);
    assert!(bind.frontend && bind.listen && !bind.backend);
    assert!(bind.arity.accepts(1) && bind.arity.accepts(12));

    let server = proxy_keyword("server").expect("server");
    assert_eq!(server.defaults, InDefaults::No);
    assert!(!server.frontend && server.listen && server.backend);

    for rules in ["http-request", "tcp-request connection", "quic-initial"] {
        let k = proxy_keyword(rules).expect(rules);
        assert_eq!(k.defaults, InDefaults::NamedOnly, "{rules}");
        assert_eq!(k.arity, Arity::at_least(1), "{rules}");
    }
    assert!(proxy_keyword("log").expect("log").negatable);
    assert!(
        proxy_keyword("transparent")
            .expect("transparent")
            .deprecated
    );
    let balance = proxy_keyword("balance").expect("balance");
    assert_eq!(balance.arity, Arity::at_least(1));
    for multi in [
        "capture request header",
        "stick on",
        "email-alert to",
        "stats auth",
        "http-check expect",
        "tcp-request content",
    ] {
        assert!(proxy_keyword(multi).is_some(), "{multi}");
    }
    // documented in 4.2 only (not in the 4.1 matrix)
    let key = proxy_keyword("dynamic-cookie-key").expect("dynamic-cookie-key");
    assert!(!key.frontend && key.backend);
    assert!(proxy_keyword("ssl-f-use").is_some());
}

#[test]
fn options() {
    let k = option("httplog").expect("httplog");
    assert!(k.frontend && k.listen && !k.backend);
    assert!(k.arity.accepts(0) && k.arity.accepts(1) && !k.arity.accepts(2));
    let k = option("httpchk").expect("httpchk");
    assert!(k.arity.accepts(0) && k.arity.accepts(4));
    assert!(
        option("http-keep-alive")
            .expect("http-keep-alive")
            .negatable
    );
    assert!(!option("forwardfor").expect("forwardfor").negatable);
    let k = option("accept-invalid-http-request").expect("accept-invalid-http-request");
    assert!(k.deprecated && k.negatable);
}

#[test]
fn global_keywords() {
    for (name, arity) in [
        ("daemon", Arity::NONE),
        ("maxconn", Arity::exactly(1)),
        ("ulimit-n", Arity::exactly(1)),
        ("setenv", Arity::exactly(2)),
        ("presetenv", Arity::exactly(2)),
        ("stats", Arity::at_least(1)),
        ("tune.bufsize", Arity::exactly(1)),
        ("ssl-default-bind-ciphers", Arity::exactly(1)),
    ] {
        let k = global_keyword(name).expect(name);
        assert_eq!(k.arity, arity, "{name}");
    }
    for name in [
        "resetenv",
        "unsetenv",
        "nbproc",
        "ssl-default-bind-options",
        "lua-load",
    ] {
        assert!(global_keyword(name).is_some(), "{name}");
    }
    assert!(global_keyword("unsetenv")
        .expect("unsetenv")
        .arity
        .accepts(3));
}

#[test]
fn fetches() {
    let f = fetch("req.hdr").expect("req.hdr");
    assert_eq!(f.args, &[ArgType::Str, ArgType::Int]);
    assert_eq!(f.min_args, 0);
    assert_eq!(f.out, SmpType::Str);
    assert!(!f.deprecated);

    let f = fetch("src").expect("src");
    assert!(f.args.is_empty());
    assert_eq!(f.out, SmpType::Addr);

    let f = fetch("sc_http_req_rate").expect("sc_http_req_rate");
    assert_eq!(f.args, &[ArgType::Int, ArgType::Table]);
    assert_eq!(f.min_args, 1);
    for sc in [
        "sc0_http_req_rate",
        "sc1_http_req_rate",
        "sc2_http_req_rate",
    ] {
        let f = fetch(sc).expect(sc);
        assert_eq!(f.args, &[ArgType::Table], "{sc}");
        assert_eq!(f.min_args, 0, "{sc}");
    }
    let f = fetch("srv_conn").expect("srv_conn");
    assert_eq!(f.args, &[ArgType::Server]);
    assert_eq!(f.min_args, 1);
    assert_eq!(fetch("be_conn").expect("be_conn").args, &[ArgType::Proxy]);
    assert_eq!(
        fetch("http_auth").expect("http_auth").args,
        &[ArgType::Userlist]
    );
    assert_eq!(fetch("var").expect("var").args.first(), Some(&ArgType::Var));
    assert_eq!(fetch("method").expect("method").out, SmpType::Meth);
    assert_eq!(fetch("ssl_fc").expect("ssl_fc").out, SmpType::Bool);
    assert!(fetch("req_ssl_sni").expect("req_ssl_sni").deprecated);
    assert!(fetch("hdr").is_some() && fetch("req.ssl_cipherlist").is_some());
}

#[test]
fn acl_derivatives() {
    assert_eq!(acl_derivative("hdr_beg"), Some(("req.hdr", "beg")));
    assert_eq!(acl_derivative("path_reg"), Some(("path", "reg")));
    for (name, base, _) in ACL_DERIVATIVES {
        let b = fetch(base).unwrap_or_else(|| panic!("{name}: unknown base {base}"));
        let d = fetch(name).unwrap_or_else(|| panic!("{name}: no FetchDef"));
        assert_eq!(d.args, b.args, "{name}");
        assert_eq!(d.out, b.out, "{name}");
    }
}

#[test]
fn converters() {
    let c = converter("lower").expect("lower");
    assert!(c.args.is_empty());
    assert_eq!((c.input, c.out), (SmpType::Str, SmpType::Str));
    let c = converter("bytes").expect("bytes");
    assert_eq!(c.args.len(), 2);
    assert_eq!(c.min_args, 1);
    assert_eq!((c.input, c.out), (SmpType::Bin, SmpType::Bin));
    let c = converter("map_str").expect("map_str");
    assert_eq!(c.args.first(), Some(&ArgType::File));
    assert_eq!(c.min_args, 1);
    assert_eq!(
        converter("regsub").expect("regsub").args.first(),
        Some(&ArgType::Regex)
    );
    assert_eq!(
        converter("in_table").expect("in_table").args,
        &[ArgType::Table]
    );
    assert!(converter("map_beg_int").is_some() && converter("ipmask").is_some());
}

#[test]
fn actions() {
    let a = action("set-header").expect("set-header");
    assert!(a.http_request && a.http_response && a.http_after_response);
    assert!(!a.tcp_request_content && !a.quic_initial);
    assert!(a.allowed_in(RuleSet::HttpAfterResponse));
    let a = action("accept").expect("accept");
    assert!(a.quic_initial && a.tcp_request_connection && !a.http_request);
    assert!(
        action("expect-proxy")
            .expect("expect-proxy")
            .tcp_request_connection
    );
    assert!(action("set-mark").is_some());
    assert_eq!(
        action("set-var").expect("set-var").usage,
        "set-var(<var-name>[,<cond>...]) <expr>"
    );
}

#[test]
fn section_keywords() {
    use Section::*;
    for (section, name) in [
        (Userlist, "group"),
        (Userlist, "user"),
        (Peers, "peer"),
        (Peers, "server"),
        (Peers, "bind"),
        (Peers, "default-server"),
        (Peers, "default-bind"),
        (Peers, "disabled"),
        (Peers, "enabled"),
        (Peers, "log"),
        (Peers, "shards"),
        (Peers, "table"),
        (Resolvers, "nameserver"),
        (Resolvers, "timeout resolve"),
        (Resolvers, "hold"),
        (HttpErrors, "errorfile"),
        (Cache, "total-max-size"),
        (Cache, "max-age"),
        (Ring, "size"),
        (Ring, "timeout connect"),
        (Mailers, "mailer"),
        (Mailers, "timeout mail"),
        (Program, "command"),
        (Program, "option start-on-reload"),
        (FcgiApp, "docroot"),
        (FcgiApp, "option keep-conn"),
        (LogForward, "dgram-bind"),
        (LogForward, "option host"),
        (CrtStore, "load"),
        (Traces, "trace"),
        (Acme, "directory"),
        (LogProfile, "on"),
    ] {
        assert!(
            section_keyword(section, name).is_some(),
            "{section:?} {name}"
        );
    }
    // section openers are not keywords of their own section
    assert!(section_keyword(Userlist, "userlist").is_none());
    // crt-store's load options (12.7.1) are arguments of "load"
    assert!(section_keyword(CrtStore, "ocsp-update").is_none());
    assert_eq!(
        section_keyword(Mailers, "mailer").map(|k| k.arity),
        Some(Arity::exactly(2))
    );
    for section in [
        Userlist, Peers, Resolvers, HttpErrors, Cache, Ring, Mailers, Program, FcgiApp, LogForward,
        CrtStore, Traces, Acme, LogProfile,
    ] {
        assert!(
            SECTION_KEYWORDS.iter().any(|k| k.section == section),
            "{section:?} has no keywords"
        );
    }
    assert!(SECTION_KEYWORDS.len() >= 68, "{}", SECTION_KEYWORDS.len());
}

#[test]
fn bind_options() {
    for (name, values) in [
        ("ssl", 0),
        ("crt", 1),
        ("alpn", 1),
        ("accept-proxy", 0),
        ("ssl-min-ver", 1),
        ("verify", 1),
        ("expose-fd", 1),
        ("quic-cc-algo", 1),
        ("quic-force-retry", 0),
        ("quic-socket", 1),
        ("thread", 1),
        ("v4v6", 0),
    ] {
        let o = bind_option(name).expect(name);
        assert_eq!(o.values, values, "{name}");
    }
    assert!(BIND_OPTIONS.len() >= 72, "{}", BIND_OPTIONS.len());
}

#[test]
fn server_options() {
    let o = server_option("inter").expect("inter");
    assert_eq!(o.values, 1);
    assert!(o.default_server);
    let o = server_option("check").expect("check");
    assert_eq!(o.values, 0);
    assert!(o.has_no_form && o.default_server);
    for name in [
        "ssl",
        "backup",
        "send-proxy",
        "agent-check",
        "tls-tickets",
        "tfo",
    ] {
        assert!(server_option(name).expect(name).has_no_form, "{name}");
    }
    assert!(!server_option("weight").expect("weight").has_no_form);
    assert!(server_option("no-check").is_some() && server_option("non-stick").is_some());
    // 5.2: every setting works on default-server "except id"
    assert!(!server_option("id").expect("id").default_server);
    assert!(
        !server_option("no-tlsv10")
            .expect("no-tlsv10")
            .default_server
    );
    assert_eq!(server_option("source").expect("source").values, 1);
    assert_eq!(
        server_option("set-proxy-v2-tlv-fmt")
            .expect("set-proxy-v2-tlv-fmt")
            .values,
        1
    );
    assert!(SERVER_OPTIONS.len() >= 108, "{}", SERVER_OPTIONS.len());
}

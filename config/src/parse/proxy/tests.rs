//! Proxy section parsing: typed model, inheritance, capability verdicts and
//! diagnostics. Verdicts marked "2.6" were checked with Debian's haproxy.

use std::collections::HashMap;
use std::time::Duration;

use crate::addr::{Address, Host as AddrHost, Port};
use crate::diag::Severity;
use crate::model::*;
use crate::{Diagnostics, Host, SourceFile};

struct MemHost {
    files: HashMap<&'static str, &'static str>,
}

impl Host for MemHost {
    fn env(&self, name: &str) -> Option<String> {
        match name {
            "BE_PORT" => Some("9001".into()),
            _ => None,
        }
    }
    fn read_file(&self, path: &str) -> Result<Vec<u8>, String> {
        self.files
            .get(path)
            .map(|s| s.as_bytes().to_vec())
            .ok_or_else(|| "No such file or directory".to_string())
    }
}

fn load(text: &str) -> (Config, Diagnostics) {
    let host = MemHost {
        files: HashMap::from([
            ("site.pem", "-----BEGIN CERTIFICATE-----\n"),
            ("/etc/ssl/ca.pem", "-----BEGIN CERTIFICATE-----\n"),
            ("503.http", "HTTP/1.0 503 Service Unavailable\r\n\r\n"),
            ("spoe.conf", "[x]\nspoe-agent a\n"),
        ]),
    };
    crate::load(&[SourceFile::new("t.cfg", text)], &host)
}

fn errors(d: &Diagnostics) -> Vec<(u32, String)> {
    d.errors()
        .map(|e| (e.loc.as_ref().map_or(0, |l| l.line), e.message.clone()))
        .collect()
}

fn warnings(d: &Diagnostics) -> Vec<(u32, String)> {
    d.warnings()
        .map(|e| (e.loc.as_ref().map_or(0, |l| l.line), e.message.clone()))
        .collect()
}

const BASE: &str =
    "defaults\n mode http\n timeout connect 5s\n timeout client 30s\n timeout server 30s\n";

#[test]
fn frontend_backend_typed() {
    let cfg_text = format!(
        "{BASE}frontend www\n bind 127.0.0.1:8080,[::1]:8081 name web maxconn 100\n default_backend app\n use_backend api if {{ path_beg /api }}\n\
         backend app\n balance leastconn\n server a1 127.0.0.1:9001 check inter 2s rise 3 fall 2 weight 10\n server a2 127.0.0.1:${{BE_PORT}} backup\n\
         backend api\n balance random(3)\n hash-type consistent djb2 avalanche\n server b1 localhost:9002\n"
    );
    let (cfg, d) = load(&cfg_text);
    assert!(!d.has_errors(), "{:?}", errors(&d));
    let www = cfg.proxy("www").unwrap();
    assert_eq!(www.kind, ProxyKind::Frontend);
    assert_eq!(www.mode(), Mode::Http);
    assert_eq!(www.timeouts.client, Some(Duration::from_secs(30)));
    let b = &www.binds[0];
    assert_eq!(b.addrs.len(), 2);
    assert_eq!(b.opts.name.as_deref(), Some("web"));
    assert_eq!(b.opts.maxconn, Some(100));
    assert_eq!(www.default_backend.as_ref().unwrap().name, "app");
    assert!(matches!(&www.use_backends[0].target, BackendTarget::Static(n) if n == "api"));
    assert!(www.use_backends[0].cond.is_some());

    let app = cfg.backend("app").unwrap();
    assert!(matches!(app.balance, Some(Balance::LeastConn)));
    let a1 = &app.servers[0];
    assert_eq!(a1.opts.check, Some(true));
    assert_eq!(a1.opts.inter, Some(Duration::from_secs(2)));
    assert_eq!(
        (a1.opts.rise, a1.opts.fall, a1.opts.weight),
        (Some(3), Some(2), Some(10))
    );
    // `server` addresses expand ${VAR} even unquoted, as HAProxy's str2sa_range does.
    assert!(matches!(
        &app.servers[1].addr,
        Address::Inet {
            port: Port::One(9001),
            ..
        }
    ));
    assert_eq!(app.servers[1].opts.backup, Some(true));

    let api = cfg.backend("api").unwrap();
    assert!(matches!(api.balance, Some(Balance::Random { draws: 3 })));
    assert_eq!(
        api.hash_type,
        Some(HashType {
            method: HashMethod::Consistent,
            function: HashFunction::Djb2,
            avalanche: true
        })
    );
    assert!(
        matches!(&api.servers[0].addr, Address::Inet { host: AddrHost::Name(n), .. } if n == "localhost")
    );
}

#[test]
fn defaults_inheritance_and_from() {
    let text = "defaults base\n mode http\n timeout client 10s\n option httplog\n retries 5\n\
                defaults tcpd\n mode tcp\n timeout client 1m\n option dontlognull\n\
                frontend f1 from base\n bind :80\n\
                frontend f2\n bind :81\n no option dontlognull\n";
    let (cfg, d) = load(text);
    assert!(!d.has_errors(), "{:?}", errors(&d));
    let f1 = cfg.proxy("f1").unwrap();
    assert_eq!(f1.mode(), Mode::Http);
    assert_eq!(f1.timeouts.client, Some(Duration::from_secs(10)));
    assert_eq!(f1.options.log_style, Some(LogStyle::Http));
    // `retries` is a backend setting: a frontend does not inherit it.
    assert_eq!(f1.retries, None);
    assert_eq!(f1.defaults.as_ref().unwrap().name, "base");
    // Without `from`, the last defaults section applies.
    let f2 = cfg.proxy("f2").unwrap();
    assert_eq!(f2.mode(), Mode::Tcp);
    assert_eq!(f2.timeouts.client, Some(Duration::from_secs(60)));
    assert_eq!(f2.options.log_style, None);
    assert_eq!(f2.options.flag("dontlognull"), Some(false));
    // 2.6: httplog cannot be negated.
    let (_, d) = load("defaults\n option httplog\nfrontend f\n bind :80\n no option httplog\n");
    assert_eq!(
        errors(&d),
        [(
            5,
            "negation/default is not supported for option 'httplog'.".to_string()
        )]
    );
}

#[test]
fn unknown_defaults_in_from_is_an_error() {
    // 2.6: "defaults section 'x' not found for frontend 'a'."
    let (_, d) = load("frontend a from x\n bind :80\n timeout client 1s\n");
    assert_eq!(
        errors(&d),
        [(
            1,
            "defaults section 'x' not found for frontend 'a'.".to_string()
        )]
    );
}

#[test]
fn capability_verdicts() {
    // 2.6: 'bind' in defaults is fatal, in a backend only a warning; a
    // backend keyword in a frontend is a warning.
    let (_, d) = load("defaults\n bind :80\n");
    assert_eq!(
        errors(&d),
        [(2, "'bind' not allowed in 'defaults' section.".to_string())]
    );
    let (_, d) = load(&format!("{BASE}backend b\n bind :80\nfrontend f\n bind :81\n balance roundrobin\n default_backend b\n"));
    assert!(!d.has_errors(), "{:?}", errors(&d));
    let w = warnings(&d);
    assert!(
        w.contains(&(
            7,
            "'bind' ignored because backend 'b' has no frontend capability.".to_string()
        )),
        "{w:?}"
    );
    assert!(
        w.contains(&(
            10,
            "'balance' ignored because frontend 'f' has no backend capability.".to_string()
        )),
        "{w:?}"
    );
}

#[test]
fn duplicate_names() {
    // 2.6: frontend/frontend and listen/backend clash; frontend/backend may share.
    let (_, d) = load(&format!(
        "{BASE}frontend a\n bind :80\nfrontend a\n bind :81\n"
    ));
    assert_eq!(errors(&d).len(), 1);
    assert!(errors(&d)[0]
        .1
        .contains("has the same name as frontend 'a'"));
    let (_, d) = load(&format!(
        "{BASE}frontend a\n bind :80\n default_backend a\nbackend a\n"
    ));
    assert!(!d.has_errors(), "{:?}", errors(&d));
    let (_, d) = load(&format!(
        "{BASE}backend b\n server s 127.0.0.1:1\n server s 127.0.0.1:2\n"
    ));
    assert!(
        errors(&d)[0].1.contains("same name as another server 's'"),
        "{:?}",
        errors(&d)
    );
}

#[test]
fn removed_and_unknown_keywords() {
    let (_, d) = load(&format!("{BASE}backend b\n contimeout 5s\n"));
    assert_eq!(errors(&d)[0].1, "the 'contimeout' directive is not supported anymore since HAProxy 2.1. Use 'timeout connect'.");
    let (_, d) = load(&format!("{BASE}backend b\n balence roundrobin\n"));
    let e = d.errors().next().unwrap();
    assert_eq!(e.message, "unknown keyword 'balence' in 'backend' section");
    assert_eq!(e.hint.as_deref(), Some("did you mean 'balance'?"));
    assert_eq!(e.loc.as_ref().unwrap().line, 7);
    // `listen NAME addr:port` is the pre-1.5 syntax.
    let (_, d) = load("listen a 127.0.0.1:80\n");
    assert!(errors(&d)
        .iter()
        .any(|(l, m)| *l == 1 && m.contains("please use the 'bind' keyword")));
}

#[test]
fn timeouts_and_values() {
    let (cfg, d) = load(&format!(
        "{BASE}backend b\n timeout queue 250\n timeout tunnel 1h\n timeout check 2s\n"
    ));
    assert!(!d.has_errors());
    let b = cfg.backend("b").unwrap();
    assert_eq!(b.timeouts.queue, Some(Duration::from_millis(250)));
    assert_eq!(b.timeouts.tunnel, Some(Duration::from_secs(3600)));
    // 2.6: "unexpected character 'x' in 'timeout client'".
    let (_, d) = load(&format!(
        "{BASE}frontend f\n bind :80\n timeout client 10x\n"
    ));
    assert_eq!(
        errors(&d),
        [(
            8,
            "unexpected character 'x' in 'timeout client'".to_string()
        )]
    );
    let (_, d) = load(&format!("{BASE}backend b\n timeout foo 1s\n"));
    assert!(errors(&d)[0].1.starts_with("'timeout' supports 'client'"));
    let (_, d) = load(&format!(
        "{BASE}backend b\n server s 127.0.0.1:1 weight 300\n"
    ));
    assert!(errors(&d)[0].1.contains("weight must be between 0 and 256"));
}

#[test]
fn cross_references() {
    // 2.6: "Proxy 'f': unable to find required default_backend: 'c'."
    let (_, d) = load(&format!(
        "{BASE}frontend f\n bind :80\n default_backend c\n"
    ));
    assert_eq!(
        errors(&d),
        [(
            8,
            "Proxy 'f': unable to find required default_backend: 'c'.".to_string()
        )]
    );
    // HTTP frontend to TCP backend is fatal; the reverse is fine.
    let (_, d) = load(&format!(
        "{BASE}frontend f\n bind :80\n default_backend b\nbackend b\n mode tcp\n"
    ));
    assert!(errors(&d)[0]
        .1
        .contains("tries to use incompatible tcp backend 'b'"));
    let (_, d) = load(&format!(
        "{BASE}frontend f\n mode tcp\n bind :80\n default_backend b\nbackend b\n"
    ));
    assert!(!d.has_errors(), "{:?}", errors(&d));
    // Tracking needs the target to be checked.
    let (_, d) = load(&format!(
        "{BASE}backend b\n server s1 127.0.0.1:1\n server s2 127.0.0.1:2 track s1\n"
    ));
    assert!(errors(&d)[0]
        .1
        .contains("does not have any check nor agent enabled"));
    // An agent needs a port (agent-port, or port).
    let (_, d) = load(&format!(
        "{BASE}backend b\n server s1 127.0.0.1:1 agent-check\n"
    ));
    assert!(errors(&d)[0]
        .1
        .contains("server s1 does not have agent port. Agent check has been disabled."));
    let (_, d) = load(&format!(
        "{BASE}backend b\n server s1 127.0.0.1:1 agent-check port 9\n"
    ));
    assert!(!d.has_errors(), "{:?}", errors(&d));
    let (_, d) = load(&format!(
        "{BASE}backend b\n server s2 127.0.0.1:2 track other/s1\n"
    ));
    assert!(errors(&d)[0]
        .1
        .contains("unable to find required proxy 'other' for tracking"));
    // ACLs must be declared before use (2.6: fatal).
    let (_, d) = load(&format!(
        "{BASE}frontend f\n bind :80\n http-request deny if bad\n acl bad src 10.0.0.0/8\n"
    ));
    assert!(
        errors(&d)
            .iter()
            .any(|(l, m)| *l == 8 && m == "no such ACL : 'bad'"),
        "{:?}",
        errors(&d)
    );
}

#[test]
fn rules_and_actions() {
    let text = format!(
        "{BASE}frontend f\n bind :80\n acl api path_beg /api\n http-request set-header X-Api yes if api\n http-request deny deny_status 429 if {{ src 10.0.0.1 }}\n \
         http-request set-var(txn.host) req.hdr(host),lower\n http-request return status 200 content-type text/plain lf-string \"%[path]\"\n \
         tcp-request inspect-delay 5s\n tcp-request content accept if {{ req.len gt 0 }}\n http-response del-header Server\n"
    );
    let (cfg, d) = load(&text);
    assert!(!d.has_errors(), "{:?}", errors(&d));
    let f = cfg.proxy("f").unwrap();
    let r = &f.rules.http_request;
    assert_eq!(r.len(), 4);
    assert!(
        matches!(&r[0].action, HttpRequestAction::SetHeader(h) if h.name == "X-Api" && h.value.text == "yes")
    );
    assert!(r[0].cond.is_some());
    assert!(matches!(
        &r[1].action,
        HttpRequestAction::Deny(Reply {
            status: Some(429),
            payload: Some(ReplyPayload::DefaultErrorfiles),
            ..
        })
    ));
    assert!(
        matches!(&r[2].action, HttpRequestAction::SetVar(v) if v.var.name == "host" && v.var.scope == crate::sample::VarScope::Txn)
    );
    assert_eq!(r[2].action.refs().exprs.len(), 1);
    assert_eq!(
        f.rules.tcp_request_inspect_delay,
        Some(Duration::from_secs(5))
    );
    assert_eq!(f.rules.tcp_request_content.len(), 1);
    assert_eq!(
        f.rules.http_response[0].action,
        HttpResponseAction::DelHeader(DelHeader {
            name: "Server".into(),
            method: HdrMatch::Str
        })
    );

    let (_, d) = load(&format!(
        "{BASE}frontend f\n bind :80\n http-request sett-header a b\n"
    ));
    let e = d.errors().next().unwrap();
    assert!(
        e.message.contains("unknown action 'sett-header'"),
        "{}",
        e.message
    );
    assert_eq!(e.hint.as_deref(), Some("did you mean 'set-header'?"));
    // An action from another rule set.
    let (_, d) = load(&format!(
        "{BASE}frontend f\n bind :80\n tcp-request connection set-header a b\n"
    ));
    assert!(d.has_errors());
}

#[test]
fn options_and_checks() {
    let text = format!(
        "{BASE}backend b\n option httpchk GET /health HTTP/1.1\n option forwardfor except 127.0.0.0/8 header X-Real-IP if-none\n option redispatch\n option http-server-close\n no option abortonclose\n \
         http-check send hdr Host example.com\n http-check expect status 200\n server s 127.0.0.1:1 check\n"
    );
    let (cfg, d) = load(&text);
    assert!(!d.has_errors(), "{:?}", errors(&d));
    let b = cfg.backend("b").unwrap();
    assert_eq!(
        b.options.check,
        Some(CheckKind::Http {
            method: Some("GET".into()),
            uri: Some("/health".into()),
            version: Some("HTTP/1.1".into())
        })
    );
    let ff = b.options.forwardfor.as_ref().unwrap();
    assert_eq!(
        (ff.except.as_deref(), ff.header.as_str(), ff.if_none),
        (Some("127.0.0.0/8"), "X-Real-IP", true)
    );
    assert_eq!(b.options.redispatch, Some(-1));
    assert_eq!(b.options.http_conn_mode, Some(HttpConnMode::ServerClose));
    assert_eq!(b.options.flag("abortonclose"), Some(false));
    assert_eq!(b.http_checks.len(), 2);
    assert!(
        matches!(&b.http_checks[1].kind, CheckStepKind::Expect(e) if e.kind == ExpectKind::Status && e.pattern == "200")
    );

    let (_, d) = load(&format!("{BASE}backend b\n option htpchk\n"));
    let e = d.errors().next().unwrap();
    assert_eq!(e.message, "unknown option 'htpchk'.");
    assert_eq!(e.hint.as_deref(), Some("did you mean 'httpchk'?"));
}

#[test]
fn bind_and_server_files() {
    let (cfg, d) = load(&format!(
        "{BASE}frontend f\n bind :443 ssl crt site.pem alpn h2,http/1.1 ssl-min-ver TLSv1.2\nbackend b\n server s 127.0.0.1:443 ssl ca-file /etc/ssl/ca.pem sni str(example.com)\n"
    ));
    assert!(!d.has_errors(), "{:?}", errors(&d));
    let b = &cfg.proxy("f").unwrap().binds[0];
    assert!(b.opts.ssl);
    assert_eq!(
        b.opts.alpn.as_deref(),
        Some(&["h2".to_string(), "http/1.1".to_string()][..])
    );
    // Missing certificate file, ssl without crt, TLS server without CA.
    let (_, d) = load(&format!("{BASE}frontend f\n bind :443 ssl crt nope.pem\n"));
    assert!(errors(&d)[0].1.contains("unable to load 'nope.pem'"));
    let (_, d) = load(&format!("{BASE}frontend f\n bind :443 ssl\n"));
    assert!(errors(&d)[0].1.contains("no SSL certificate specified"));
    let (_, d) = load(&format!("{BASE}backend b\n server s 127.0.0.1:443 ssl\n"));
    assert!(errors(&d)[0]
        .1
        .contains("verify is enabled by default but no CA file specified"));
    let (_, d) = load(&format!(
        "{BASE}backend b\n server s 127.0.0.1:443 ssl verify none\n"
    ));
    assert!(!d.has_errors());
    // Unknown bind option with a suggestion.
    let (_, d) = load(&format!("{BASE}frontend f\n bind :80 acept-proxy\n"));
    let e = d.errors().next().unwrap();
    assert_eq!(e.hint.as_deref(), Some("did you mean 'accept-proxy'?"));
}

#[test]
fn stick_tables_cookies_errorfiles() {
    let (cfg, d) = load(&format!(
        "{BASE}backend b\n stick-table type ip size 100k expire 30m store http_req_rate(10s),conn_cur\n stick on src\n \
         cookie SRV insert indirect nocache httponly secure\n errorfile 503 503.http\n server s 127.0.0.1:1 cookie s1\n"
    ));
    assert!(!d.has_errors(), "{:?}", errors(&d));
    let b = cfg.backend("b").unwrap();
    let t = b.stick_table.as_ref().unwrap();
    assert_eq!(
        (t.key.clone(), t.size, t.expire),
        (StickKeyType::Ip, 102_400, Some(Duration::from_secs(1800)))
    );
    assert_eq!(t.store.len(), 2);
    assert_eq!(b.stick_rules.len(), 1);
    let c = b.cookie.as_ref().unwrap();
    assert_eq!(
        (c.mode, c.indirect, c.httponly),
        (Some(CookieMode::Insert), true, true)
    );
    assert!(
        matches!(&b.errorfiles[0].source, ErrorSource::File { content, .. } if content.starts_with(b"HTTP/1.0 503"))
    );
    let (_, d) = load(&format!(
        "{BASE}backend b\n stick-table type ip size 1k store bogus_cnt\n"
    ));
    assert!(errors(&d)[0].1.contains("unknown data type 'bogus_cnt'"));
    let (_, d) = load(&format!("{BASE}backend b\n errorfile 503 missing.http\n"));
    assert!(d.has_errors());
}

#[test]
fn warnings_haproxy_prints() {
    // 2.6 warns about missing timeouts and frontends without bind.
    let (_, d) = load("frontend f\n bind :80\n");
    let w = warnings(&d);
    assert!(
        w.iter()
            .any(|(_, m)| m == "missing timeouts for frontend 'f'."),
        "{w:?}"
    );
    let (_, d) = load(&format!("{BASE}frontend f\n"));
    assert!(warnings(&d)
        .iter()
        .any(|(_, m)| m.contains("has no 'bind' directive")));
    assert!(d.list.iter().all(|x| x.severity != Severity::Error));
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let (_, d) = load(&format!(
        "{BASE}frontend f\n bind :80\n maxconn x\n timeout client 1q\n foo\n"
    ));
    let lines: Vec<u32> = errors(&d).iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [8, 9, 10]);
}

#[test]
fn inheritance_follows_capabilities() {
    // HAProxy's proxy_defproxy_cpy: frontend settings go to frontends only,
    // backend settings to backends only, common ones to both.
    let text = "defaults\n mode http\n maxconn 500\n balance leastconn\n retries 7\n timeout client 5s\n timeout server 6s\n timeout connect 1s\n option redispatch\n\
                frontend f\n bind :80\nbackend b\nlisten l\n bind :81\n";
    let (cfg, d) = load(text);
    assert!(!d.has_errors(), "{:?}", errors(&d));
    let f = cfg.proxy("f").unwrap();
    assert_eq!(
        (f.maxconn, f.retries, f.balance.is_none()),
        (Some(500), None, true)
    );
    assert_eq!(
        (f.timeouts.client, f.timeouts.server),
        (Some(Duration::from_secs(5)), None)
    );
    let b = cfg.backend("b").unwrap();
    assert_eq!((b.maxconn, b.retries), (None, Some(7)));
    assert!(matches!(b.balance, Some(Balance::LeastConn)));
    assert_eq!(
        (b.timeouts.client, b.timeouts.server),
        (None, Some(Duration::from_secs(6)))
    );
    assert_eq!(b.options.redispatch, Some(-1));
    let l = cfg.proxy("l").unwrap();
    assert_eq!((l.maxconn, l.retries), (Some(500), Some(7)));
    assert_eq!(l.mode(), Mode::Http);
}

#[test]
fn deny_and_return_share_the_response_arguments() {
    // 2.6: deny accepts return's arguments (status, lf-string, hdr ...);
    // return does not accept deny's `deny_status`.
    let (cfg, d) = load(&format!(
        "{BASE}frontend f\n bind :80\n http-request deny status 429 content-type text/plain lf-string \"%[path]\" hdr X-A %[src]\n"
    ));
    assert!(!d.has_errors(), "{:?}", errors(&d));
    let r = &cfg.proxy("f").unwrap().rules.http_request[0];
    assert_eq!(
        r.action.refs().formats.len(),
        2,
        "lf-string and the hdr value are parsed"
    );
    let (_, d) = load(&format!(
        "{BASE}frontend f\n bind :80\n http-request return deny_status 403\n"
    ));
    assert!(
        errors(&d)[0]
            .1
            .contains("unexpected argument 'deny_status'"),
        "{:?}",
        errors(&d)
    );
    let (_, d) = load(&format!(
        "{BASE}frontend f\n bind :80\n http-request deny deny_status 99\n"
    ));
    assert!(d.has_errors());
}

#[test]
fn set_proxy_v2_tlv_fmt_carries_its_id_in_its_name() {
    // 3.x keyword, looked up by what precedes '(' (srv_find_kw); 2.6 does
    // not know it (corpus EXPECTED-DIFFERENCES).
    let (cfg, d) = load(&format!(
        "{BASE}backend b\n server s 127.0.0.1:9001 send-proxy-v2 set-proxy-v2-tlv-fmt(0xE1) %[str(a)] set-proxy-v2-tlv-fmt(0x20) x\n"
    ));
    assert!(!d.has_errors(), "{:?}", errors(&d));
    let s = &cfg.backend("b").unwrap().servers[0];
    let tlvs: Vec<&[String]> = s
        .opts
        .other
        .iter()
        .filter(|o| o.keyword == "set-proxy-v2-tlv-fmt")
        .map(|o| o.args.as_slice())
        .collect();
    assert_eq!(
        tlvs,
        [
            &["225".to_string(), "%[str(a)]".to_string()][..],
            &["32".to_string(), "x".to_string()][..]
        ]
    );
    for bad in [
        "set-proxy-v2-tlv-fmt(0x100) x",
        "set-proxy-v2-tlv-fmt(a) x",
        "set-proxy-v2-tlv-fmt(1 x",
    ] {
        let (_, d) = load(&format!(
            "{BASE}backend b\n server s 127.0.0.1:9001 {bad}\n"
        ));
        assert_eq!(errors(&d).len(), 1, "{bad}: {:?}", errors(&d));
        assert_eq!(errors(&d)[0].0, 7, "{bad}");
    }
    let (_, d) = load(&format!(
        "{BASE}backend b\n server s 127.0.0.1:9001 set-proxy-v2-tlv-fmt(1)\n"
    ));
    assert!(
        errors(&d)[0].1.contains("expects an argument"),
        "{:?}",
        errors(&d)
    );
}

#[test]
fn proto_must_name_a_known_mux() {
    // 2.6: "'proto' :  unknown MUX protocol 'bogus'", at parse time.
    let (_, d) = load(&format!(
        "{BASE}frontend f\n bind :80 proto bogus\nbackend b\n default-server proto bogus2\n server s 127.0.0.1:9001 proto h3\n"
    ));
    let e = errors(&d);
    assert_eq!(
        e.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
        [7, 9, 10],
        "{e:?}"
    );
    assert!(
        e.iter().all(|(_, m)| m.contains("unknown MUX protocol")),
        "{e:?}"
    );
    let (cfg, d) = load(&format!(
        "{BASE}fcgi-app php\n docroot /var/www\nfrontend f\n bind :80 proto h2\nbackend b\n use-fcgi-app php\n server s 127.0.0.1:9001 proto fcgi\n"
    ));
    assert!(!d.has_errors(), "{:?}", errors(&d));
    assert_eq!(
        cfg.proxy("f").unwrap().binds[0].opts.proto.as_deref(),
        Some("h2")
    );
}

/// `hash-type consistent` alone is sdbm with avalanche (HAProxy applies
/// the modifier when no function is named); naming the function, or
/// map-based, leaves it off.
#[test]
fn consistent_hashing_defaults_to_avalanche() {
    let ht = |line: &str| {
        let (cfg, d) = load(&format!(
            "{BASE}backend b\n {line}\n server s 127.0.0.1:1\n"
        ));
        assert!(!d.has_errors(), "{:?}", errors(&d));
        cfg.backend("b").unwrap().hash_type.unwrap()
    };
    let t = ht("hash-type consistent");
    assert_eq!((t.function, t.avalanche), (HashFunction::Sdbm, true));
    assert!(!ht("hash-type consistent sdbm").avalanche);
    assert!(!ht("hash-type map-based").avalanche);
    assert!(ht("hash-type map-based sdbm avalanche").avalanche);
}

#[test]
fn check_expect_negation_is_a_prefix_that_toggles() {
    // 2.6: `!rstring`, `!!string` and `! ! string` are valid; a '!' before
    // anything but a match keyword is refused.
    let expect = |e: &str| {
        let (cfg, d) = load(&format!(
            "{BASE}backend b\n mode tcp\n option tcp-check\n tcp-check connect\n tcp-check expect {e}\n server s 127.0.0.1:1 check\n"
        ));
        let neg = cfg.backend("b").and_then(|b| {
            b.tcp_checks.iter().find_map(|s| match &s.kind {
                CheckStepKind::Expect(x) => Some(x.negate),
                _ => None,
            })
        });
        (neg, errors(&d))
    };
    assert_eq!(expect("!rstring ^-ERR"), (Some(true), vec![]));
    assert_eq!(expect("! string +OK"), (Some(true), vec![]));
    assert_eq!(expect("!!string +OK"), (Some(false), vec![]));
    assert_eq!(expect("! ! string +OK"), (Some(false), vec![]));
    assert_eq!(expect("min-recv 3 !binary 2b4f4b"), (Some(true), vec![]));
    for bad in [
        "!min-recv 3 string x",
        "!comment c string x",
        "!",
        "!!",
        "!string a !rstring b",
    ] {
        let (_, e) = expect(bad);
        assert_eq!(e.len(), 1, "{bad}: {e:?}");
    }
}

#[test]
fn redirect_options_come_in_any_order() {
    // 2.6: all valid; the last destination wins.
    for r in [
        "redirect code 301 location https://example.com/",
        "redirect drop-query scheme https code 308",
        "redirect location /a location /b code 301x",
        "redirect set-cookie SEEN=1 prefix /p append-slash",
    ] {
        let (cfg, d) = load(&format!("{BASE}frontend f\n bind :80\n http-request {r}\n"));
        assert!(!d.has_errors(), "{r}: {:?}", errors(&d));
        let f = cfg.proxy("f").unwrap();
        assert!(
            matches!(
                &f.rules.http_request[0].action,
                HttpRequestAction::Redirect(_)
            ),
            "{r}"
        );
    }
    // 2.6 refuses each of these.
    for r in [
        "redirect code 301",
        "redirect location /a code 304",
        "redirect location /a code",
        "redirect location",
        "redirect location /a set-cookie",
        "redirect location /a bogus",
    ] {
        let (_, d) = load(&format!("{BASE}frontend f\n bind :80\n http-request {r}\n"));
        assert_eq!(errors(&d).len(), 1, "{r}: {:?}", errors(&d));
    }
}

#[test]
fn return_default_errorfiles_and_exclusive_payloads() {
    // 2.6: valid (content-type ignored with a warning there).
    for r in [
        "return status 200 content-type text/plain default-errorfiles",
        "return status 503 default-errorfiles",
        "deny deny_status 403 string x content-type text/plain",
        "deny status 299",
    ] {
        let (_, d) = load(&format!("{BASE}frontend f\n bind :80\n http-request {r}\n"));
        assert!(!d.has_errors(), "{r}: {:?}", errors(&d));
    }
    // 2.6 refuses each of these.
    for r in [
        "return default-errorfile",
        "return default-errorfiles string x",
        "return string x lf-string y",
        "return status 299 default-errorfiles",
        "deny deny_status 299",
        "deny string x deny_status 403",
    ] {
        let (_, d) = load(&format!("{BASE}frontend f\n bind :80\n http-request {r}\n"));
        assert_eq!(errors(&d).len(), 1, "{r}: {:?}", errors(&d));
    }
}

#[test]
fn filter_names_and_spoe_config() {
    let filter = |f: &str| {
        let (_, d) = load(&format!("{BASE}frontend f\n bind :80\n filter {f}\n"));
        errors(&d).into_iter().map(|(_, m)| m).collect::<Vec<_>>()
    };
    assert_eq!(
        filter("spoe engine x config spoe.conf"),
        Vec::<String>::new()
    );
    assert_eq!(filter("compression"), Vec::<String>::new());
    // 2.6: "'filter' : ''spoe' : missing config file'".
    assert_eq!(filter("spoe"), ["'filter' : 'spoe' : missing config file"]);
    assert_eq!(
        filter("spoe engine x"),
        ["'filter' : 'spoe' : missing config file"]
    );
    assert_eq!(
        filter("spoe config"),
        ["'filter' : 'spoe' : 'config' option without value"]
    );
    assert_eq!(
        filter("spoe bogus 1 config spoe.conf"),
        ["'filter' : 'spoe' : unknown keyword 'bogus'"]
    );
    assert!(filter("spoe config missing.conf")[0].contains("Could not open configuration file"));
    assert_eq!(filter("bogus"), ["'filter' : unknown keyword 'bogus'"]);
}

#[test]
fn defaults_with_rules_are_inherited_by_one_kind_of_proxy() {
    const NAMED: &str =
        "defaults base\n mode tcp\n timeout connect 5s\n timeout client 30s\n timeout server 30s\n";
    let errs = |rule: &str, proxies: &str| {
        let (_, d) = load(&format!("{NAMED} {rule}\n{proxies}"));
        errors(&d)
    };
    let be = "backend be\n server s 127.0.0.1:1\n";
    // 2.6: valid.
    assert_eq!(
        errs(
            "tcp-response content accept",
            &format!("defaults\n mode tcp\nfrontend fe\n bind :80\n default_backend be\n{be}")
        ),
        vec![]
    );
    assert_eq!(
        errs(
            "tcp-request content accept",
            "frontend a from base\n bind :80\nfrontend b from base\n bind :81\n"
        ),
        vec![]
    );
    // 2.6: "a frontend section cannot inherit from a defaults section
    // defining 'tcp-response content' rules (defaults section at t.cfg:1)."
    let e = errs(
        "tcp-response content accept",
        "frontend fe from base\n bind :80\n",
    );
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].0, 7);
    assert!(
        e[0].1.starts_with("a frontend section cannot inherit"),
        "{e:?}"
    );
    assert!(e[0].1.contains("(defaults section at t.cfg:1)"), "{e:?}");
    for (rule, proxies, start) in [
        (
            "tcp-request content accept",
            "frontend fe from base\n bind :80\nbackend be from base\n",
            "frontends and backends cannot inherit",
        ),
        (
            "tcp-request connection accept",
            "backend be from base\n",
            "a backend section cannot inherit",
        ),
        (
            "http-request deny",
            "listen li from base\n bind :80\n",
            "a listen section cannot inherit",
        ),
        (
            "tcp-request content accept",
            "defaults d2 from base\n",
            "a defaults section cannot inherit",
        ),
    ] {
        let e = errs(rule, proxies);
        assert!(
            e.len() == 1 && e[0].1.starts_with(start),
            "{rule} / {proxies}: {e:?}"
        );
    }
    // 2.6 alerts but accepts a defaults section both named in a `from` and
    // used implicitly.
    let (_, d) = load(&format!(
        "{NAMED}{be}frontend fe from base\n bind :80\n default_backend be\n"
    ));
    assert_eq!(errors(&d), vec![]);
    assert!(warnings(&d)
        .iter()
        .any(|(l, m)| *l == 8 && m.contains("explicitly referenced by another proxy")));
}

#[test]
fn balance_log_hash_takes_a_converter_list() {
    let (cfg, d) = load(&format!(
        "{BASE}backend lg\n mode log\n balance log-hash 'field(-2,\\\"),lower'\n server s udp@127.0.0.1:514\n"
    ));
    assert!(!d.has_errors(), "{:?}", errors(&d));
    let lg = cfg.backend("lg").unwrap();
    let names: Vec<&str> = lg
        .log_hash
        .as_ref()
        .unwrap()
        .iter()
        .map(|c| c.def.name)
        .collect();
    assert_eq!(names, ["field", "lower"]);
    assert!(lg.balance.is_none());
    for bad in [
        "balance log-hash",
        "balance log-hash nosuchconv",
        "balance log-hash lower extra",
    ] {
        let (_, d) = load(&format!("{BASE}backend lg\n mode log\n {bad}\n"));
        assert_eq!(errors(&d).len(), 1, "{bad}: {:?}", errors(&d));
    }
}

#[test]
fn reverse_http_addresses_are_experimental() {
    const EXP: &str = "global\n expose-experimental-directives\n";
    let errs = |global: &str, lines: &str| {
        let (_, d) = load(&format!("{global}{BASE}{lines}"));
        errors(&d)
    };
    let ok =
        "backend be\n server edge rhttp@\nfrontend fe\n bind rhttp@be/edge\n default_backend be\n";
    assert_eq!(errs(EXP, ok), vec![]);
    let e = errs("", "backend be\n server edge rhttp@\n");
    assert!(e.len() == 1 && e[0].1.contains("experimental"), "{e:?}");
    assert_eq!(errs(EXP, "backend be\n server edge rhttp@x\n").len(), 1);
    assert_eq!(errs(EXP, "frontend fe\n bind rhttp@be\n").len(), 1);
}

#[test]
fn a_checked_server_needs_a_port_to_check() {
    // Verdicts checked with 2.6 ("server 's' has neither service port nor
    // check port ...").
    let errs = |lines: &str| {
        let (_, d) = load(&format!("{BASE}backend be\n{lines}"));
        errors(&d).len()
    };
    assert_eq!(errs(" server s 127.0.0.1:0 check\n"), 1);
    assert_eq!(errs(" server s 127.0.0.1:+1 check\n"), 1);
    assert_eq!(errs(" server s 127.0.0.1 check addr 127.0.0.2\n"), 1);
    assert_eq!(errs(" option redis-check\n server s 127.0.0.1 check\n"), 1);
    assert_eq!(errs(" option tcp-check\n tcp-check connect port 80\n tcp-check connect\n server s 127.0.0.1 check\n"), 1);
    assert_eq!(
        errs(" option httpchk\n http-check connect port 80\n server s 127.0.0.1 check\n"),
        1
    );
    assert_eq!(errs(" server s 127.0.0.1:0 check port 80\n"), 0);
    assert_eq!(errs(" server s 127.0.0.1:0\n"), 0);
    assert_eq!(
        errs(" option tcp-check\n tcp-check connect port 80\n server s 127.0.0.1 check\n"),
        0
    );
    assert_eq!(errs(" option httpchk\n http-check connect port 80\n http-check send meth GET uri /\n server s 127.0.0.1 check\n"), 0);
}

/// `clitcpka-*` / `srvtcpka-*` are typed, inherited per side from the
/// defaults section, and refused at their line with HAProxy 2.6's words.
#[test]
fn tcp_keepalive_settings_are_typed() {
    let (cfg, d) = load(
        "defaults\n    mode tcp\n    clitcpka-idle 1h\n    srvtcpka-cnt -1\n\
         frontend f\n    bind 127.0.0.1:8\n    clitcpka-intvl 1500ms\n    clitcpka-cnt 99999999999\n\
         backend b\n    srvtcpka-idle 30\n    srvtcpka-intvl 2147483647\n",
    );
    assert!(!d.has_errors(), "{d:?}");
    let f = cfg.proxy("f").unwrap();
    assert_eq!(f.clitcpka.idle, Some(Duration::from_secs(3600)));
    assert_eq!(f.clitcpka.intvl, Some(Duration::from_secs(2)), "rounded up");
    assert_eq!(f.clitcpka.cnt, Some(i32::MAX), "clamped");
    assert_eq!(
        f.srvtcpka,
        TcpKeepAlive::default(),
        "a frontend has no server side"
    );
    let b = cfg.proxy("b").unwrap();
    assert_eq!(b.srvtcpka.cnt, Some(-1));
    assert_eq!(b.srvtcpka.idle, Some(Duration::from_secs(30)));
    assert_eq!(b.srvtcpka.intvl, Some(Duration::from_secs(2_147_483_647)));
    assert_eq!(b.clitcpka, TcpKeepAlive::default());
    for (line, msg) in [
        ("clitcpka-idle 30x", "unexpected character 'x' in argument to <clitcpka-idle>."),
        ("clitcpka-intvl x", "unexpected character 'x' in argument to <clitcpka-intvl>."),
        ("clitcpka-cnt 3x", "'clitcpka-cnt' : unexpected character 'x' in integer value '3x'"),
        (
            "clitcpka-idle 2147483648",
            "timer overflow in argument '2147483648' to 'clitcpka-idle' (maximum value is 2147483647 ms or ~24.8 days)",
        ),
    ] {
        let (_, d) = load(&format!(
            "defaults\n    mode tcp\nfrontend f\n    bind 127.0.0.1:8\n    {line}\n"
        ));
        assert_eq!(errors(&d), [(5, msg.to_string())], "{line}");
    }
}

#[test]
fn redirect_directives_are_typed_rules() {
    // The directive takes what `http-request redirect` takes (2.6's one
    // parser); an http-request rule after it is warned about, as haproxy
    // does, and a TCP proxy's redirects are ignored with a warning.
    let (cfg, d) = load(&format!(
        "{BASE}frontend f\n bind :80\n mode http\n redirect prefix /p drop-query if {{ path_beg /q }}\n http-request deny\n"
    ));
    assert!(!d.has_errors(), "{:?}", errors(&d));
    let f = cfg.proxy("f").unwrap();
    assert_eq!(f.rules.redirect.len(), 1);
    assert!(f.rules.redirect[0].cond.is_some());
    assert!(f.rules.redirect[0].action.drop_query);
    assert!(d
        .list
        .iter()
        .any(|w| w.message.contains("placed after a 'redirect' rule")));
    let (_, d) = load(&format!(
        "{BASE}frontend f\n bind :80\n redirect bogus /x\n"
    ));
    assert_eq!(errors(&d).len(), 1);
    let (_, d) = load(&format!(
        "{BASE}frontend f\n bind :80\n mode tcp\n redirect location /x\n"
    ));
    assert!(!d.has_errors());
    assert!(d
        .list
        .iter()
        .any(|w| w.message.contains("'redirect' rules ignored")));
}

#[test]
fn restrict_req_hdr_names_takes_one_of_three() {
    use crate::model::RestrictHdrNames;
    for (arg, want) in [
        ("preserve", None),
        ("delete", Some(RestrictHdrNames::Delete)),
        ("reject", Some(RestrictHdrNames::Reject)),
    ] {
        let (cfg, d) = load(&format!(
            "{BASE}frontend f\n bind :80\n option http-restrict-req-hdr-names {arg}\n"
        ));
        assert!(!d.has_errors(), "{arg}: {:?}", errors(&d));
        assert_eq!(cfg.proxy("f").unwrap().options.restrict_req_hdr_names, want);
    }
    // haproxy 2.6's wording for a bad or missing value.
    let (_, d) = load(&format!(
        "{BASE}frontend f\n bind :80\n option http-restrict-req-hdr-names bogus\n"
    ));
    assert!(
        errors(&d)[0].1.contains("invalid parameter 'bogus'"),
        "{:?}",
        errors(&d)
    );
}

#[test]
fn http_error_is_a_typed_reply() {
    // haproxy 2.6 refuses each of these (proxy_parse_http_error).
    for bad in [
        "http-error content-type text/plain string x",
        "http-error status 599 content-type t string x",
        "http-error status 503 errorfile /nonexistent",
        "http-error deny_status 503",
        "http-error status 503 bogus",
    ] {
        let (_, d) = load(&format!("{BASE}frontend f\n bind :80\n {bad}\n"));
        assert_eq!(errors(&d).len(), 1, "{bad}: {:?}", errors(&d));
    }
    let (cfg, d) = load(&format!(
        "{BASE}frontend f\n bind :80\n errorloc 503 /x\n http-error status 503 content-type text/plain string down hdr X-A b\n"
    ));
    assert!(!d.has_errors(), "{:?}", errors(&d));
    let e = &cfg.proxy("f").unwrap().errorfiles;
    assert_eq!(e.len(), 1, "the later line replaces the earlier one");
    assert!(matches!(&e[0].source, ErrorSource::Reply { reply, .. } if reply.headers.len() == 1));
}

#[test]
fn retry_on_is_typed_inherited_and_checked() {
    use crate::model::RetryOn;
    let text = "defaults\n mode http\n retry-on 503 empty-response\n\
                backend b\nbackend c\n retry-on none\nlisten l\n bind :81\n retry-on all-retryable-errors\n";
    let (cfg, d) = load(text);
    assert!(!d.has_errors(), "{:?}", errors(&d));
    let b = cfg.proxy("b").unwrap().retry_on.unwrap();
    assert!(b.status(503) && b.has(RetryOn::EMPTY_RESPONSE) && !b.has(RetryOn::CONN_FAILURE));
    assert_eq!(cfg.proxy("c").unwrap().retry_on, Some(RetryOn(0)));
    assert!(cfg.proxy("l").unwrap().retry_on.unwrap().status(504));
    // haproxy 2.6's verdicts: an unknown keyword, `none` with others, and
    // a frontend are errors.
    let (_, d) = load(
        "backend b\n retry-on 503 foo\nbackend c\n retry-on none 503\nfrontend f\n bind :80\n retry-on 503\n",
    );
    assert_eq!(
        errors(&d),
        vec![
            (2, "'retry-on': unknown keyword 'foo'".into()),
            (4, "'retry-on' 'none' keyworld only usable alone".into()),
            (
                7,
                "'retry-on' only available in backend or listen section".into()
            ),
        ]
    );
}

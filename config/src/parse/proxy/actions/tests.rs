//! Typed actions: what each parses into, and HAProxy's refusals (checked
//! with haproxy 2.6 -c unless marked 3.x).

use std::time::Duration;

use crate::model::*;
use crate::sample::VarScope;
use crate::{Diagnostics, NoHost, SourceFile};

fn load(lines: &str) -> (Config, Diagnostics) {
    let text = format!(
        "global\n expose-experimental-directives\n\
         defaults\n mode http\n timeout connect 5s\n timeout client 30s\n timeout server 30s\n\
         resolvers dns\n nameserver a 127.0.0.1:53\n\
         listen l\n bind :80\n stick-table type ip size 1k store gpc0\n declare capture response len 8\n{lines}\n"
    );
    crate::load(&[SourceFile::new("t.cfg", text)], &NoHost)
}

fn proxy(lines: &str) -> Proxy {
    let (cfg, d) = load(lines);
    let errs: Vec<_> = d.errors().map(|e| e.message.clone()).collect();
    assert!(errs.is_empty(), "{lines}: {errs:?}");
    cfg.proxies
        .into_iter()
        .find(|p| p.name == "l")
        .unwrap_or_else(|| panic!("no proxy"))
}

fn http_req(rule: &str) -> HttpRequestAction {
    let px = proxy(&format!(" http-request {rule}"));
    px.rules.http_request[0].action.clone()
}

/// The message of the one error `lines` gives.
fn error(lines: &str) -> String {
    let (_, d) = load(lines);
    let errs: Vec<_> = d.errors().map(|e| e.message.clone()).collect();
    assert_eq!(errs.len(), 1, "{lines}: {errs:?}");
    errs.into_iter().next().unwrap_or_default()
}

#[test]
fn header_and_path_actions() {
    assert!(matches!(
        http_req("add-header X-A %[src]"),
        HttpRequestAction::AddHeader(SetHeader { name, value }) if name == "X-A" && value.text == "%[src]"
    ));
    assert_eq!(
        http_req("del-header x-b -m beg"),
        HttpRequestAction::DelHeader(DelHeader {
            name: "x-b".into(),
            method: HdrMatch::Beg
        })
    );
    assert!(matches!(
        http_req("replace-value X-C ^a(.*) b\\1"),
        HttpRequestAction::ReplaceValue(ReplaceHeader { name, regex, .. }) if name == "X-C" && regex == "^a(.*)"
    ));
    assert!(matches!(http_req("set-path /x"), HttpRequestAction::SetPath(f) if f.text == "/x"));
    assert!(matches!(
        http_req("set-method POST"),
        HttpRequestAction::SetMethod(_)
    ));
}

#[test]
fn variables_and_counters() {
    match http_req("set-var(txn.a_b,ifnotexists,ifnotempty) req.hdr(host)") {
        HttpRequestAction::SetVar(v) => {
            assert_eq!(v.var.scope, VarScope::Txn);
            assert_eq!(v.var.name, "a_b");
            assert_eq!(v.conds, [VarCond::IfNotExists, VarCond::IfNotEmpty]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        http_req("unset-var(sess.x)"),
        HttpRequestAction::UnsetVar(VarName {
            scope: VarScope::Sess,
            name: "x".into()
        })
    );
    assert!(matches!(
        http_req("track-sc2 src table l"),
        HttpRequestAction::TrackSc(TrackSc { counter: 2, table: Some(t), .. }) if t == "l"
    ));
    assert!(matches!(
        http_req("sc-inc-gpc1(2)"),
        HttpRequestAction::Sc(ScUpdate {
            op: ScOp::IncGpc,
            idx: 1,
            counter: 2,
            value: None
        })
    ));
    assert!(matches!(
        http_req("sc-set-gpt0(1) 42"),
        HttpRequestAction::Sc(ScUpdate {
            op: ScOp::SetGpt,
            idx: 0,
            counter: 1,
            value: Some(IntOrExpr::Int(42))
        })
    ));
    assert!(matches!(
        http_req("sc-inc-gpc(3,0)"),
        HttpRequestAction::Sc(ScUpdate {
            idx: 3,
            counter: 0,
            ..
        })
    ));
}

#[test]
fn responses_and_redirects() {
    match http_req("return status 404 content-type text/plain string nope hdr X-A a") {
        HttpRequestAction::Return(r) => {
            assert_eq!(r.status, Some(404));
            assert_eq!(r.content_type.as_deref(), Some("text/plain"));
            assert_eq!(r.payload, Some(ReplyPayload::String("nope".into())));
            assert_eq!(r.headers.len(), 1);
        }
        other => panic!("{other:?}"),
    }
    match http_req("redirect scheme https code 301 drop-query set-cookie A=1") {
        HttpRequestAction::Redirect(r) => {
            assert_eq!(r.kind, RedirectKind::Scheme);
            assert_eq!(r.code, Some(301));
            assert!(r.drop_query && !r.append_slash);
            assert_eq!(r.set_cookie.as_deref(), Some("A=1"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        http_req("tarpit deny_status 403"),
        HttpRequestAction::Tarpit(Reply {
            status: Some(403),
            payload: Some(ReplyPayload::DefaultErrorfiles),
            ..
        })
    ));
}

#[test]
fn other_typed_arguments() {
    assert_eq!(
        http_req("set-log-level silent"),
        HttpRequestAction::SetLogLevel(None)
    );
    assert_eq!(
        http_req("set-log-level notice"),
        HttpRequestAction::SetLogLevel(Some(Level::Notice))
    );
    assert!(matches!(
        http_req("set-timeout tunnel 10s"),
        HttpRequestAction::SetTimeout(SetTimeout {
            timeout: TimeoutName::Tunnel,
            value: TimeOrExpr::Time(t)
        }) if t == Duration::from_secs(10)
    ));
    assert_eq!(
        http_req("wait-for-body time 1s at-least 1k"),
        HttpRequestAction::WaitForBody(WaitForBody {
            time: Duration::from_secs(1),
            at_least: Some(1024)
        })
    );
    assert_eq!(
        http_req("normalize-uri path-strip-dotdot full"),
        HttpRequestAction::NormalizeUri(Normalizer::PathStripDotdot { full: true })
    );
    assert!(matches!(
        http_req("capture req.hdr(host) len 32"),
        HttpRequestAction::Capture(CaptureSample {
            slot: CaptureSlot::Len(32),
            ..
        })
    ));
    assert!(matches!(
        http_req("do-resolve(txn.ip,dns,ipv6) req.hdr(host)"),
        HttpRequestAction::DoResolve(DoResolve { resolvers, family: Some(ResolveFamily::Ipv6), .. }) if resolvers == "dns"
    ));
    assert_eq!(http_req("set-nice x"), HttpRequestAction::SetNice(0));
    assert_eq!(http_req("set-nice 5000"), HttpRequestAction::SetNice(1024));
    assert!(matches!(
        http_req("set-mark 0x10"),
        HttpRequestAction::SetSockOpt(SetSockOpt {
            opt: SockOpt::Mark,
            value: IntOrExpr::Int(16)
        })
    ));
    assert!(matches!(
        http_req("lua.hello a b"),
        HttpRequestAction::Lua(LuaAction { name, args }) if name == "hello" && args.len() == 2
    ));
    assert!(matches!(
        http_req("auth realm Private"),
        HttpRequestAction::Auth(Some(r)) if r == "Private"
    ));
    let px = proxy(
        " tcp-request connection expect-proxy layer4\n tcp-request content switch-mode http proto h2\n http-response set-status 503 reason Busy",
    );
    assert_eq!(
        px.rules.tcp_request_connection[0].action,
        TcpRequestConnectionAction::ExpectProxy
    );
    assert_eq!(
        px.rules.tcp_request_content[0].action,
        TcpRequestContentAction::SwitchMode(SwitchMode {
            proto: Some("h2".into())
        })
    );
    assert_eq!(
        px.rules.http_response[0].action,
        HttpResponseAction::SetStatus(SetStatus {
            status: 503,
            reason: Some("Busy".into())
        })
    );
}

/// Each of these is refused by haproxy 2.6 -c.
#[test]
fn refusals() {
    for (rule, msg) in [
        ("http-request allow extra", "but found 'extra'"),
        ("tcp-request content reject x", "but found 'x'"),
        (
            "http-request set-log-level bogus",
            "log level name or 'silent'",
        ),
        (
            "http-request set-var(foo.x) str(a)",
            "invalid variable name",
        ),
        ("http-request set-var(txn.x-y) str(a)", "invalid syntax"),
        (
            "http-request set-var(txn.x) str(a) str(b)",
            "but found 'str(b)'",
        ),
        ("http-request unset-var(txn) ", "invalid variable name"),
        ("http-request capture src len abc", "length must be > 0"),
        ("http-request capture src", "expects <expression>"),
        (
            "http-response capture src len 1",
            "expects 'id', found 'len'",
        ),
        (
            "tcp-request content capture src",
            "'len' argument is mandatory",
        ),
        ("http-request set-timeout bogus 1s", "supports 'server'"),
        ("http-request set-timeout server 1x", "unexpected character"),
        ("http-request wait-for-body", "expects time <time>"),
        ("http-request normalize-uri bogus", "unknown normalizer"),
        (
            "http-request normalize-uri fragment-strip full",
            "but found 'full'",
        ),
        (
            "tcp-request connection expect-proxy layer5",
            "only supports 'layer4'",
        ),
        ("http-request sc-inc-gpc0(3)", "max allowed ID is 2"),
        ("http-request track-sc3 src", "exceeding 2"),
        ("http-request track-sc0 src table", "missing table name"),
        ("http-request do-resolve(txn.x,dns,ipv5) src", "Can't parse"),
        ("http-request use-service foo", "unknown service name"),
        (
            "tcp-request content use-service prometheus-exporter",
            "only available on 'http-request'",
        ),
        ("http-request auth realm", "missing realm value"),
        ("http-request set-dst", "missing fetch method"),
        ("http-request set-mark x", "integer/hex value expected"),
        ("http-response set-status 99", "between 100 and 999"),
        ("http-request strict-mode bogus", "Only 'on' and 'off'"),
        (
            "tcp-request content switch-mode tcp",
            "expects a valid mode",
        ),
        (
            "http-request del-header x -m foo",
            "unsupported matching method",
        ),
        ("http-request send-spoe-group a", "expects 2 arguments"),
        ("http-request replace-uri ( x", "regex"),
        ("http-request cache-use c extra", "but found 'extra'"),
        (
            "http-request capture src id 1",
            "unable to find capture id '1'",
        ),
        (
            "http-request track-sc0 src table nosuch",
            "unable to find table 'nosuch'",
        ),
        (
            "http-request do-resolve(txn.x,nores) src",
            "Can't find resolvers section 'nores'",
        ),
        (
            "http-request silent-drop rst-ttl 0",
            "'rst-ttl' expects a TTL",
        ),
    ] {
        let m = error(&format!(" {rule}"));
        assert!(m.contains(msg), "{rule}: {m}");
    }
}

/// `set-timeout server|tunnel` needs the backend side (haproxy 2.6: "proxy
/// 'f' has no backend capability"); `client` (3.x) does not.
#[test]
fn set_timeout_side() {
    let (_, d) = crate::load(
        &[SourceFile::new(
            "t.cfg",
            "defaults\n mode http\nfrontend f\n bind :80\n http-request set-timeout server 5s\n http-request set-timeout client 5s\n",
        )],
        &NoHost,
    );
    let errs: Vec<_> = d.errors().map(|e| e.message.clone()).collect();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("has no backend capability"), "{errs:?}");
}

/// The rule set's enum holds only the actions the set offers.
#[test]
fn actions_per_rule_set() {
    assert!(TcpRequestConnectionAction::from_any(AnyAction::ExpectProxy).is_ok());
    assert!(HttpRequestAction::from_any(AnyAction::ExpectProxy).is_err());
    assert!(TcpResponseContentAction::from_any(AnyAction::Close).is_ok());
    assert!(HttpAfterResponseAction::from_any(AnyAction::Deny(Reply::default())).is_err());
    assert_eq!(HttpRequestAction::Allow.name(), "allow");
    assert_eq!(
        HttpResponseAction::CacheStore("c".into()).name(),
        "cache-store"
    );
}

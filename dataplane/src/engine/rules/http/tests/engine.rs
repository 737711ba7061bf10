//! The rule sets with the engine's part: actions it applies, stick
//! counters, and authentication against userlists.

use super::*;
use crate::engine::rules::sample::Smp;
use ringlb_config::sample::VarScope;
use std::time::Duration;

/// An engine that records the actions it is asked to apply, and serves
/// `src` from the last `set-src`.
#[derive(Default)]
struct Recorder {
    applied: std::cell::RefCell<Vec<EngineAction>>,
}

impl Env for Recorder {
    fn src(&self) -> Option<std::net::SocketAddr> {
        self.applied.borrow().iter().rev().find_map(|a| match a {
            EngineAction::SetSrc(ip) => Some(std::net::SocketAddr::new(*ip, 0)),
            _ => None,
        })
    }
    fn dst(&self) -> Option<std::net::SocketAddr> {
        None
    }
    fn frontend(&self) -> &str {
        "fe"
    }
    fn apply(&self, action: EngineAction) {
        self.applied.borrow_mut().push(action);
    }
}

#[test]
fn actions_for_the_engine() {
    let r = rules(
        "    http-request set-timeout client 5s\n    \
         http-request set-timeout client req.hdr(x-t)\n    \
         http-request set-src req.hdr(x-real-ip)\n    \
         http-request set-header X-Src %[src]\n    \
         http-request set-priority-class int(99999)\n    \
         http-request early-hint Link </s.css>;rel=preload\n    \
         http-request reject if { path_beg /r }\n    http-request set-header X-After 1",
    );
    let run = |raw: &str| {
        let env = Recorder::default();
        let mut s = State::new(&r, raw);
        let mut tx = Txn {
            req: &mut s.req,
            res: None,
            env: &env,
            vars: &mut s.vars,
            caps: &mut s.caps,
            log_level: None,
        };
        let v = r.request(&mut tx);
        (v, s.req, env.applied.take())
    };
    let (v, req, applied) =
        run("GET / HTTP/1.1\r\nHost: h\r\nX-T: 1500\r\nX-Real-IP: 192.0.2.9\r\n");
    assert!(matches!(v, Verdict::Continue));
    assert_eq!(
        applied,
        [
            EngineAction::SetTimeout {
                timeout: ringlb_config::model::TimeoutName::Client,
                value: Duration::from_secs(5)
            },
            EngineAction::SetTimeout {
                timeout: ringlb_config::model::TimeoutName::Client,
                value: Duration::from_millis(1500)
            },
            EngineAction::SetSrc([192, 0, 2, 9].into()),
            EngineAction::SetPriorityClass(0x7ff),
            EngineAction::EarlyHint {
                name: b"Link".to_vec(),
                value: b"</s.css>;rel=preload".to_vec(),
                last: true,
            },
        ]
    );
    assert_eq!(
        req.first(b"x-src"),
        Some(&b"192.0.2.9"[..]),
        "applied at once"
    );
    let (v, req, _) = run("GET /r HTTP/1.1\r\nHost: h\r\n");
    assert!(matches!(v, Verdict::Stop(Stop::Reject)));
    assert_eq!(req.first(b"x-after"), None, "reject ends the rules");
    // Not declared by the engine: refused.
    let err = proxy("    http-request set-retries 3")
        .err()
        .unwrap_or_default();
    assert!(
        err.contains("set-retries") && err.contains("not supported yet"),
        "{err}"
    );
    let err = proxy("    http-request wait-for-body time 1s")
        .err()
        .unwrap_or_default();
    assert!(err.contains("wait-for-body"), "{err}");
}

/// An early-hint ends its 103 unless the next rule is an unconditional
/// early-hint (HAProxy's http_action_early_hint).
#[test]
fn early_hints_end_their_103_with_their_run() {
    let r = rules(
        "    http-request early-hint Link a\n    \
         http-request early-hint Link b\n    \
         http-request early-hint Link c if { path_beg /a }\n    \
         http-request set-header X-A 1\n    \
         http-request early-hint Link d",
    );
    let env = Recorder::default();
    let mut s = State::new(&r, GET);
    let mut tx = Txn {
        req: &mut s.req,
        res: None,
        env: &env,
        vars: &mut s.vars,
        caps: &mut s.caps,
        log_level: None,
    };
    assert!(matches!(r.request(&mut tx), Verdict::Continue));
    let ends: Vec<(Vec<u8>, bool)> = env
        .applied
        .take()
        .into_iter()
        .filter_map(|a| match a {
            EngineAction::EarlyHint { value, last, .. } => Some((value, last)),
            _ => None,
        })
        .collect();
    assert_eq!(
        ends,
        [
            (b"a".to_vec(), false),
            (b"b".to_vec(), true),
            (b"c".to_vec(), true),
            (b"d".to_vec(), true)
        ]
    );
}

#[test]
fn stick_counters_are_the_engines() {
    let text = "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
                frontend fe\n    bind :8080\n    stick-table type ip size 1k store gpc0,http_req_rate(10s)\n    \
                http-request track-sc0 src\n    http-request sc-inc-gpc0(0)\n    \
                http-request sc-set-gpt0(0) int(7)\n    default_backend be\n\
                backend be\n    server s 127.0.0.1:1\n";
    let (cfg, diags) = ringlb_config::load(
        &[ringlb_config::SourceFile::new("t.cfg", text.to_string())],
        &NoHost,
    );
    assert!(!diags.has_errors(), "{diags:?}");
    let fe = cfg.proxies.iter().find(|p| p.name == "fe").expect("fe");
    let setup = Setup {
        engine_actions: &["track-sc", "sc-*"],
        ..Setup::default()
    };
    let r = HttpRules::compile_with(fe, &setup, &|_| Some(0)).expect("compile");
    assert!(HttpRules::compile(fe, &|_| Some(0)).is_err(), "undeclared");
    let env = Recorder::default();
    env.apply(EngineAction::SetSrc([10, 0, 0, 1].into()));
    let mut s = State::new(&r, GET);
    let mut tx = Txn {
        req: &mut s.req,
        res: None,
        env: &env,
        vars: &mut s.vars,
        caps: &mut s.caps,
        log_level: None,
    };
    assert!(matches!(r.request(&mut tx), Verdict::Continue));
    let applied = env.applied.take();
    assert_eq!(
        applied.get(1..),
        Some(
            &[
                EngineAction::TrackSc {
                    counter: 0,
                    key: Smp::Ipv4([10, 0, 0, 1].into()),
                    table: None
                },
                EngineAction::ScUpdate {
                    op: ringlb_config::model::ScOp::IncGpc,
                    idx: 0,
                    counter: 0,
                    value: None
                },
                EngineAction::ScUpdate {
                    op: ringlb_config::model::ScOp::SetGpt,
                    idx: 0,
                    counter: 0,
                    value: Some(7)
                },
            ][..]
        )
    );
}

#[test]
fn basic_authentication_against_userlists() {
    let r = rules(
        "    http-request set-var(txn.t) http_auth_type\n    http-request set-var(txn.u) http_auth_user\n    \
         http-request set-var(txn.p) http_auth_pass\n    \
         http-request return status 200 if { http_auth_group(users) admins }\n    \
         http-request return status 201 if { http_auth(users) }\n    http-request auth realm R",
    );
    let status = |auth: Option<&str>| {
        let mut raw = String::from("GET / HTTP/1.1\r\nHost: h\r\n");
        if let Some(a) = auth {
            raw.push_str(&format!("Authorization: {a}\r\n"));
        }
        let mut s = State::new(&r, &raw);
        let Verdict::Reply(rep) = s.with(|tx| r.request(tx)) else {
            panic!("no reply")
        };
        (rep.status, s.vars)
    };
    // u:p (insecure, in admins), h:secret (SHA-256 crypt), n (no password)
    let (st, vars) = status(Some("Basic dTpw"));
    assert_eq!(st, 200);
    assert_eq!(
        vars.get(VarScope::Txn, "t"),
        Some(Smp::Str(b"Basic".to_vec()))
    );
    assert_eq!(vars.get(VarScope::Txn, "u"), Some(Smp::Str(b"u".to_vec())));
    assert_eq!(vars.get(VarScope::Txn, "p"), Some(Smp::Str(b"p".to_vec())));
    assert_eq!(
        status(Some("Basic aDpzZWNyZXQ=")).0,
        201,
        "hashed, not in admins"
    );
    assert_eq!(status(Some("Basic aDpTZWNyZXQ=")).0, 401, "wrong password");
    assert_eq!(status(Some("Basic bjo=")).0, 401, "a user without password");
    assert_eq!(status(Some("Basic eDpw")).0, 401, "no such user");
    assert_eq!(status(None).0, 401);
}

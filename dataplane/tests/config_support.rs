//! The "not supported yet" honesty test.
//!
//! ringlb reads HAProxy's whole language (`-c --syntax-only`), but its engine
//! does not implement every setting yet. A full check (`ringlb -c`) must say
//! so, for each such setting, with one diagnostic of the shape
//!
//! ```text
//! <file>:<line>: error: <setting> is not supported yet ...
//! ```
//!
//! where `<setting>` is one of the keys printed by `ringlb --list-unsupported`
//! (one key per line: the single list kept in the code). Over the corpus
//! (config/tests/corpus/*.cfg) this test checks that:
//! - every "not supported yet" line has that shape and names a listed key;
//! - every listed key is hit by at least one corpus config (no stale entry);
//! - a config that `--syntax-only` accepts and that produced no such line
//!   passes `ringlb -c` (exit 0), and one that produced such a line fails it.
//!
//! Configs run with the corpus directory as working directory and with the
//! environment variables of their first line, `# env: NAME=value NAME2="a b"`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{corpus_configs, corpus_dir, env_of, run, Outcome, DEADLINE};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The marker of an honest refusal.
const NOT_SUPPORTED: &str = "not supported yet";
/// How many output lines a report shows.
const REPORT_LINES: usize = 6;

impl Outcome {
    fn describe(&self) -> String {
        match self.status {
            None => format!("timed out after {}s", DEADLINE.as_secs()),
            Some(st) => match st.code() {
                Some(c) => format!("exit {c}"),
                None => st.to_string(),
            },
        }
    }

    fn first_lines(&self) -> String {
        let lines: Vec<String> = self
            .output
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(REPORT_LINES)
            .map(|l| format!("        | {l}"))
            .collect();
        if lines.is_empty() {
            "        (no output)".to_owned()
        } else {
            lines.join("\n")
        }
    }
}

/// The setting named by a `<file>:<line>: error: <setting> is not supported
/// yet ...` line, or why the line does not have that shape.
fn unsupported_setting<'a>(line: &'a str, config: &str) -> Result<&'a str, String> {
    let line = line.trim();
    let (place, rest) = line
        .split_once(": error: ")
        .ok_or("no ': error: ' after '<file>:<line>'")?;
    let (file, lineno) = place
        .rsplit_once(':')
        .ok_or("no '<file>:<line>' before ': error: '")?;
    if lineno.is_empty() || !lineno.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("'{lineno}' is not a line number"));
    }
    if file != config && !file.ends_with(&format!("/{config}")) {
        return Err(format!("the file '{file}' is not the config '{config}'"));
    }
    let (setting, _) = rest
        .split_once(&format!(" is {NOT_SUPPORTED}"))
        .ok_or_else(|| format!("no '<setting> is {NOT_SUPPORTED}' after 'error: '"))?;
    if setting.trim().is_empty() {
        return Err("empty setting".to_owned());
    }
    Ok(setting)
}

#[test]
fn unsupported_settings_are_reported_honestly() {
    let ringlb = Path::new(env!("CARGO_BIN_EXE_ringlb"));
    let dir = corpus_dir();
    let configs = corpus_configs(&dir);
    let mut problems = Vec::new();

    let listing = run(ringlb, &["--list-unsupported"], &dir, &[]);
    assert!(
        listing.status.is_some_and(|s| s.success()),
        "`ringlb --list-unsupported` failed ({}):\n{}",
        listing.describe(),
        listing.first_lines()
    );
    let mut keys = BTreeSet::new();
    for key in listing
        .output
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        if !keys.insert(key.to_owned()) {
            problems.push(format!("--list-unsupported prints '{key}' twice"));
        }
    }

    // key -> configs whose full check reported it.
    let mut hits: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut checked = 0usize;
    for name in &configs {
        let env = env_of(&dir.join(name));
        let syntax = run(ringlb, &["-c", "--syntax-only", "-f", name], &dir, &env);
        match syntax.status {
            None => {
                problems.push(format!(
                    "{name}: `ringlb -c --syntax-only` {}",
                    syntax.describe()
                ));
                continue;
            }
            Some(st) if !st.success() => continue,
            Some(_) => {}
        }
        checked += 1;
        let full = run(ringlb, &["-c", "-f", name], &dir, &env);
        let Some(status) = full.status else {
            problems.push(format!("{name}: `ringlb -c` {}", full.describe()));
            continue;
        };
        let mut refused = false;
        for line in full.output.lines().filter(|l| l.contains(NOT_SUPPORTED)) {
            refused = true;
            match unsupported_setting(line, name) {
                Err(why) => problems.push(format!(
                    "{name}: malformed '{NOT_SUPPORTED}' line ({why}); expected \
                     '<file>:<line>: error: <setting> is {NOT_SUPPORTED} ...':\n        | {line}"
                )),
                Ok(setting) if !keys.contains(setting) => problems.push(format!(
                    "{name}: '{setting}' is reported as {NOT_SUPPORTED} but is not printed by \
                     `ringlb --list-unsupported`:\n        | {line}"
                )),
                Ok(setting) => {
                    hits.entry(setting.to_owned())
                        .or_default()
                        .insert(name.clone());
                }
            }
        }
        if refused && status.success() {
            problems.push(format!(
                "{name}: `ringlb -c` reported '{NOT_SUPPORTED}' errors but exited 0:\n{}",
                full.first_lines()
            ));
        }
        if !refused && !status.success() {
            problems.push(format!(
                "{name}: accepted by --syntax-only, no '{NOT_SUPPORTED}' line, yet `ringlb -c` failed ({}):\n{}",
                full.describe(),
                full.first_lines()
            ));
        }
    }

    for key in &keys {
        if !hits.contains_key(key) {
            problems.push(format!(
                "'{key}' is printed by `ringlb --list-unsupported` but no corpus config hits it: \
                 add a config using it, or remove the stale entry"
            ));
        }
    }

    eprintln!(
        "config support: {} configs, {checked} accepted by --syntax-only, {} unsupported keys, {} hit",
        configs.len(),
        keys.len(),
        hits.len()
    );
    assert!(
        checked > 0,
        "ringlb --syntax-only accepted no corpus config: nothing was checked"
    );
    assert!(
        problems.is_empty(),
        "{} problem(s) in the support honesty test:\n\n{}\n",
        problems.len(),
        problems.join("\n\n")
    );
}

#[test]
fn the_line_shape_is_parsed() {
    let ok = "real-grpc-h2.cfg:12: error: proto h2 is not supported yet (hint: remove it)";
    assert_eq!(unsupported_setting(ok, "real-grpc-h2.cfg"), Ok("proto h2"));
    let path = "/x/corpus/cache.cfg:3: error: cache is not supported yet";
    assert_eq!(unsupported_setting(path, "cache.cfg"), Ok("cache"));
    assert!(
        unsupported_setting("cache.cfg: error: cache is not supported yet", "cache.cfg").is_err()
    );
    assert!(unsupported_setting(
        "other.cfg:3: error: cache is not supported yet",
        "cache.cfg"
    )
    .is_err());
    assert!(unsupported_setting(
        "cache.cfg:3: warning: cache is not supported yet",
        "cache.cfg"
    )
    .is_err());
    assert!(unsupported_setting("cache.cfg:3: error:  is not supported yet", "cache.cfg").is_err());
}

/// Health checks: the kinds the engine runs pass `ringlb -c`; what it does
/// not run yet is named at its line.
#[test]
fn health_checks_run_and_the_rest_is_named() {
    let ringlb = Path::new(env!("CARGO_BIN_EXE_ringlb"));
    let dir = std::env::temp_dir().join(format!("ringlb-checks-support-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\nfrontend fe\n    bind 127.0.0.1:8080\n    default_backend be\nbackend be\n";
    let cases: &[(&str, Option<(&str, usize)>)] = &[
        ("    server s1 127.0.0.1:80 check inter 1s fastinter 100 downinter 5s rise 3 fall 2 port 81 addr 127.0.0.2\n    server b 127.0.0.1:82 check backup\n    option allbackups\n", None),
        ("    option httpchk GET /health HTTP/1.1\\r\\nHost:\\ www\n    server s1 127.0.0.1:80 check\n", None),
        ("    option httpchk\n    http-check send meth GET uri /h ver HTTP/1.1 hdr Host a body x\n    http-check expect ! rstatus ^5\n    http-check expect string ok\n    server s1 127.0.0.1:80 check\n", None),
        ("    option tcp-check\n    tcp-check connect port 81\n    tcp-check send PING\\r\\n\n    tcp-check expect string +PONG\n    server s1 127.0.0.1:80 check\n", None),
        ("    server s1 127.0.0.1:80 check disabled\n", None),
        ("    default-server init-state fully-down\n    server s1 127.0.0.1:80 check\n", None),
        ("    server s1 127.0.0.1:80 init-state down\n", Some(("init-state without check", 10))),
        ("    option redis-check\n    server s1 127.0.0.1:80 check\n    server s2 127.0.0.1:81 track s1\n", None),
        ("    option ssl-hello-chk\n    server s1 127.0.0.1:443 check\n", None),
        ("    option smtpchk HELO mx.example.org\n    server s1 127.0.0.1:25 check\n", None),
        ("    option pgsql-check user haproxy\n    server s1 127.0.0.1:5432 check\n", None),
        ("    option ldap-check\n    server s1 127.0.0.1:389 check\n", None),
        ("    option httpchk\n    http-check disable-on-404\n    http-check comment hi\n    http-check expect status 200\n    server s1 127.0.0.1:80 check\n", None),
        ("    option httpchk\n    http-check send-state\n    server s1 127.0.0.1:80 check\n", None),
        ("    option httpchk\n    http-check send hdr x-srv %[srv_name]\n    server s1 127.0.0.1:80 check\n", None),
        ("    option httpchk\n    http-check send uri-lf /%[srv_name]\n    server s1 127.0.0.1:80 check\n", None),
        ("    option httpchk\n    http-check connect\n    http-check send uri /a\n    http-check expect status 200\n    http-check connect port 81\n    http-check send uri /b\n    server s1 127.0.0.1:80 check\n", None),
        ("    option tcp-check\n    tcp-check set-var(check.p) int(81)\n    tcp-check connect port var(check.p) send-proxy linger\n    tcp-check send-lf %[srv_name]\n    tcp-check expect ! rbinary ^2D min-recv 1 error-status L7STS on-error \"x %[srv_name]\"\n    server s1 127.0.0.1:80 check check-send-proxy\n", None),
        ("    option tcp-check\n    tcp-check connect via-socks4\n    server s1 127.0.0.1:80 check\n", Some(("via-socks4", 11))),
        ("    server s1 127.0.0.1:80 check check-sni a.example\n", Some(("check-sni", 10))),
        ("    option mysql-check user haproxy\n    server s1 127.0.0.1:3306 check\n", None),
        ("    option spop-check\n    server s1 127.0.0.1:80 check\n", Some(("this check kind", 9))),
        ("    option httpchk\n    http-check expect hdr name x\n    server s1 127.0.0.1:80 check\n", None),
        ("    option httpchk\n    http-check expect string-lf %[srv_name]\n    server s1 127.0.0.1:80 check\n", Some(("this expect rule", 11))),
        ("    server s1 127.0.0.1:80 check observe layer4 on-error mark-down error-limit 3\n", None),
        ("    default-server observe layer7 on-error sudden-death\n    server s1 127.0.0.1:80 check\n", None),
        ("    server s1 127.0.0.1:80 check observe layer7 on-error fastinter fastinter 100\n", None),
        ("    server s1 127.0.0.1:80 check on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions\n    server b 127.0.0.1:81 backup\n", None),
        ("    server s1 127.0.0.1:80 check agent-check agent-port 9 agent-inter 1s agent-send hi agent-addr 127.0.0.2\n", None),
        ("    default-server agent-check agent-port 9 slowstart 10s\n    server s1 127.0.0.1:80\n    server s2 127.0.0.1:81 check minconn 1 maxconn 9\n", None),
        ("    server s1 127.0.0.1:80 check slowstart 10s\n", None),
        ("    balance source\n    server s1 127.0.0.1:80 check slowstart 1s agent-check port 9\n", None),
    ];
    for (i, (backend, refused)) in cases.iter().enumerate() {
        let name = format!("c{i}.cfg");
        std::fs::write(dir.join(&name), format!("{base}{backend}")).unwrap();
        let out = run(ringlb, &["-c", "-f", &name], &dir, &[]);
        match refused {
            None => assert!(
                out.status.is_some_and(|s| s.success()),
                "{backend}: {}",
                out.output
            ),
            Some((what, line)) => {
                assert!(!out.status.is_some_and(|s| s.success()), "{backend}");
                let want = format!("{name}:{line}: error: health checks is {NOT_SUPPORTED}");
                assert!(
                    out.output
                        .lines()
                        .any(|l| l.contains(&want) && l.contains(what)),
                    "{backend}: want '{want}' naming '{what}':\n{}",
                    out.output
                );
            }
        }
    }
    // TCP mode too.
    let tcp = "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\nlisten l\n    bind 127.0.0.1:8080\n    option redispatch\n    server s1 127.0.0.1:80 check observe layer4 on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions\n    server b 127.0.0.1:81 check backup\n";
    std::fs::write(dir.join("tcp.cfg"), tcp).unwrap();
    let out = run(ringlb, &["-c", "-f", "tcp.cfg"], &dir, &[]);
    assert!(out.status.is_some_and(|s| s.success()), "{}", out.output);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `use-service prometheus-exporter` runs, in a frontend's and a backend's
/// http-request rules; any other service (Lua's) stays refused at its line.
#[test]
fn the_prometheus_exporter_runs_and_other_services_are_named() {
    let ringlb = Path::new(env!("CARGO_BIN_EXE_ringlb"));
    let dir = std::env::temp_dir().join(format!("ringlb-service-support-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let head = "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\nfrontend fe\n    bind 127.0.0.1:8080\n";
    let tail = "    default_backend be\nbackend be\n    server s1 127.0.0.1:80\n";
    let cases: &[(&str, &str, Option<usize>)] = &[
        (
            "    http-request use-service prometheus-exporter if { path /metrics }\n",
            "",
            None,
        ),
        (
            "",
            "    http-request use-service prometheus-exporter\n",
            None,
        ),
        ("    http-request use-service lua.hello\n", "", Some(8)),
    ];
    for (i, (fe, be, refused)) in cases.iter().enumerate() {
        let name = format!("s{i}.cfg");
        std::fs::write(dir.join(&name), format!("{head}{fe}{tail}{be}")).unwrap();
        let out = run(ringlb, &["-c", "-f", &name], &dir, &[]);
        match refused {
            None => assert!(
                out.status.is_some_and(|s| s.success()),
                "{fe}{be}: {}",
                out.output
            ),
            Some(line) => {
                assert!(!out.status.is_some_and(|s| s.success()), "{fe}");
                let want = format!("{name}:{line}: error: http rules is {NOT_SUPPORTED}");
                assert!(
                    out.output
                        .lines()
                        .any(|l| l.contains(&want) && l.contains("use-service lua.hello")),
                    "{fe}: want '{want}':\n{}",
                    out.output
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// ringlb speaks HTTP/1 to clients, servers and checks: a mux protocol
/// name that is the one it speaks anyway passes, any other (HTTP/2,
/// FastCGI, QUIC) is refused at its line instead of being ignored (an
/// h2-only server would get HTTP/1 requests).
#[test]
fn mux_protocols_other_than_http1_are_named() {
    let ringlb = Path::new(env!("CARGO_BIN_EXE_ringlb"));
    let dir = std::env::temp_dir().join(format!("ringlb-mux-support-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = |mode: &str, bind: &str, backend: &str| {
        format!("defaults\n    mode {mode}\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\nfrontend fe\n    bind 127.0.0.1:8080{bind}\n    default_backend be\nbackend be\n{backend}")
    };
    let cases: &[(String, Option<(&str, usize)>)] = &[
        (conf("http", " proto h1", "    option httpchk\n    server s1 127.0.0.1:80 proto h1 ws auto check check-proto h1\n    server s2 127.0.0.1:81 ws h1\n"), None),
        (conf("tcp", " proto none", "    server s1 127.0.0.1:80 proto none\n"), None),
        (conf("http", " proto h2", "    server s1 127.0.0.1:80\n"), Some(("proto h2", 7))),
        (conf("http", "", "    server s1 127.0.0.1:80 proto h2\n"), Some(("proto h2", 10))),
        (conf("http", "", "    default-server proto h2\n    server s1 127.0.0.1:80\n"), Some(("proto h2", 11))),
        (conf("http", "", "    server s1 127.0.0.1:80 ws h2\n"), Some(("ws h2", 10))),
        (conf("http", "", "    server s1 127.0.0.1:80 proto none\n"), Some(("proto none", 10))),
        (conf("http", "", "    option httpchk\n    server s1 127.0.0.1:80 check check-proto h2\n"), Some(("check-proto h2", 11))),
    ];
    for (i, (text, refused)) in cases.iter().enumerate() {
        let name = format!("m{i}.cfg");
        std::fs::write(dir.join(&name), text).unwrap();
        let out = run(ringlb, &["-c", "-f", &name], &dir, &[]);
        match refused {
            None => assert!(
                out.status.is_some_and(|s| s.success()),
                "{text}: {}",
                out.output
            ),
            Some((what, line)) => {
                assert!(!out.status.is_some_and(|s| s.success()), "{text}");
                let want =
                    format!("{name}:{line}: error: mux protocol is {NOT_SUPPORTED} ({what}:");
                assert!(
                    out.output.lines().any(|l| l.contains(&want)),
                    "{text}: want '{want}':\n{}",
                    out.output
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `usesrc hdr_ip()` picks each request's source from a header: TCP mode
/// has none (HAProxy warns and binds the plain address, so does ringlb);
/// HTTP mode would need it per request, refused until it is done.
#[test]
fn usesrc_hdr_ip_is_refused_in_http_mode_only() {
    let ringlb = Path::new(env!("CARGO_BIN_EXE_ringlb"));
    let dir = std::env::temp_dir().join(format!("ringlb-hdrip-support-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (mode, refused) in [("http", true), ("tcp", false)] {
        let name = format!("{mode}.cfg");
        let text = format!("defaults\n    mode {mode}\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\nfrontend fe\n    bind 127.0.0.1:8080\n    default_backend be\nbackend be\n    server s1 127.0.0.1:80 source 0.0.0.0 usesrc hdr_ip(x-forwarded-for)\n");
        std::fs::write(dir.join(&name), &text).unwrap();
        let out = run(ringlb, &["-c", "-f", &name], &dir, &[]);
        assert_eq!(
            !out.status.is_some_and(|s| s.success()),
            refused,
            "{mode}: {}",
            out.output
        );
        let want = format!(
            "{name}:10: error: source address is {NOT_SUPPORTED} (usesrc hdr_ip() in HTTP mode:"
        );
        assert_eq!(
            out.output.contains(&want),
            refused,
            "{mode}: {}",
            out.output
        );
        assert_eq!(
            out.output.contains("cannot use a header as source IP"),
            !refused,
            "{mode}: {}",
            out.output
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

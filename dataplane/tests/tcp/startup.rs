//! Start-up: a process serves only once every executor is up; start
//! failures (an address in use, an fd that is not a socket, a name that
//! does not resolve, a setting not supported yet) stop it cleanly; and the
//! command line's exit codes (`-cc`, `-vv`, `-c` on a directory), with
//! haproxy's as the reference where it is installed.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{
    self, config, programs, read_until_closed, ringlb, stop_config, Backend, TempDir, DEADLINE,
};

fn echoes(addr: SocketAddr) -> bool {
    let Ok(mut c) = TcpStream::connect_timeout(&addr, DEADLINE) else {
        return false;
    };
    c.set_read_timeout(Some(DEADLINE)).unwrap();
    if c.write_all(b"hi").is_err() || c.shutdown(Shutdown::Write).is_err() {
        return false;
    }
    let mut got = Vec::new();
    c.read_to_end(&mut got).is_ok() && got == b"hi"
}

/// An executor that cannot start (its ring or its timer) stops the whole
/// process with exit 1 and an alert naming it, before anything is served;
/// a reload that fails so leaves the old process serving (it is told to
/// stop only once the new one is ready). Before the fix the process went
/// on with a core missing, and the old one had already been stopped.
#[test]
fn an_executor_that_cannot_start_stops_the_process_and_spares_the_old_one() {
    let be = Backend::echo();
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.set_reuse_port(true).unwrap();
    s.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    let addr = s.local_addr().unwrap().as_socket().unwrap();
    let dir = TempDir::new("startup");
    let cfg = dir.0.join("p.cfg");
    std::fs::write(
        &cfg,
        format!(
            "global\n    nbthread 2\n\
             defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
             frontend fe\n    bind {addr}\n    compression algo gzip\n    default_backend be\n\
             backend be\n    server s1 {}\n",
            be.addr
        ),
    )
    .unwrap();
    let mut old = Command::new(harness::ringlb())
        .arg("-f")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let end = Instant::now() + DEADLINE;
    while !echoes(addr) {
        assert!(Instant::now() < end, "the old process never served");
        std::thread::sleep(Duration::from_millis(10));
    }
    let new = Command::new(harness::ringlb())
        .arg("-f")
        .arg(&cfg)
        .arg("-sf")
        .arg(old.id().to_string())
        .env("RINGLB_TEST_FAIL_EXECUTOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = new.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("[ALERT]") && stderr.contains("executor 1"),
        "{stderr}"
    );
    // The old process was never told to stop, and serves on.
    assert!(
        old.try_wait().unwrap().is_none(),
        "the old process was stopped"
    );
    for _ in 0..20 {
        assert!(echoes(addr), "the old process stopped serving");
    }
    let _ = old.kill();
    let _ = old.wait();
}

#[test]
fn start_fails_cleanly_on_an_address_in_use() {
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = holder.local_addr().unwrap();
    let be = Backend::echo();
    let dir = harness::TempDir::new("inuse");
    let cfg = dir.0.join("x.cfg");
    std::fs::write(&cfg, format!("defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\nfrontend fe\n    bind {addr}\n    default_backend be\nbackend be\n    server s {}\n", be.addr)).unwrap();
    let out = std::process::Command::new(harness::ringlb())
        .arg("-f")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot bind socket"), "{err}");
    assert!(
        err.contains("Address already in use") || err.contains("in use"),
        "{err}"
    );
    assert!(err.contains(&addr.to_string()), "{err}");
    let _ = Duration::ZERO;
}

#[test]
fn an_fd_that_is_not_a_socket_stops_the_start() {
    let be = Backend::echo();
    let cfg = stop_config("", &be);
    let dir = harness::TempDir::new("notsock");
    for (name, prog) in programs("an_fd_that_is_not_a_socket_stops_the_start") {
        let file = std::fs::File::create(dir.0.join(format!("{name}.txt"))).unwrap();
        let args: &[&str] = if name == "haproxy" { &["-db"] } else { &[] };
        let (st, out, err) = harness::run_with_fd3(&prog, &cfg, Some(file.into()), args);
        assert_eq!(st.and_then(|s| s.code()), Some(1), "{name}: {st:?}\n{err}");
        assert!(out.is_empty(), "{name}: stdout {out:?}");
        if name == "ringlb" {
            assert!(
                err.contains("fd@3") && err.contains("not a socket"),
                "{name}: {err}"
            );
            assert!(err.contains("frontend fe"), "{name}: {err}");
        }
    }
}

#[test]
fn a_server_name_that_does_not_resolve_stops_the_start() {
    let cfg = config(
        "",
        "    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n",
        "    server s1 nosuch.invalid:80\n",
    );
    for (name, prog) in programs("a_server_name_that_does_not_resolve_stops_the_start") {
        // A client already waits in the listener's queue: it must get
        // nothing from a proxy that does not start.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut waiting = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        waiting.write_all(b"hello").unwrap();
        let args: &[&str] = if name == "haproxy" { &["-db"] } else { &[] };
        let (st, out, err) = harness::run_with_fd3(&prog, &cfg, Some(listener.into()), args);
        assert_eq!(st.and_then(|s| s.code()), Some(1), "{name}: {st:?}\n{err}");
        assert!(out.is_empty(), "{name}: stdout {out:?}");
        assert!(err.contains("nosuch.invalid"), "{name}: {err}");
        assert!(err.contains("could not resolve"), "{name}: {err}");
        let (got, _) = read_until_closed(&mut waiting, DEADLINE, name);
        assert!(got.is_empty(), "{name}: {got:?}");
    }
}

/// A setting the engine cannot honour is refused by `-c` and by a start,
/// before any socket is bound: the address below is held by the test, so
/// a bind would fail with a different message.
#[test]
fn a_setting_not_supported_yet_is_refused_before_binding() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = holder.local_addr().unwrap();
    let be = Backend::echo();
    let cfg = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n\
         frontend fe\n    bind {addr}\n    compression algo gzip\n    default_backend be\n\
         backend be\n    server s1 {}\n",
        be.addr
    );
    for args in [&["-c"][..], &[][..]] {
        let (st, out, err) = harness::run_with_fd3(&ringlb(), &cfg, None, args);
        let what = format!("ringlb {args:?}");
        assert_eq!(st.and_then(|s| s.code()), Some(1), "{what}: {st:?}\n{err}");
        assert!(
            err.contains("compression is not supported yet"),
            "{what}: {err}"
        );
        assert!(
            !err.contains("bind"),
            "{what}: got as far as binding: {err}"
        );
        assert!(!out.contains("valid"), "{what}: {out}");
    }
    assert_eq!(be.count(), 0);
}

/// Runs `program args...` to completion and returns its output.
fn run(program: &Path, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .env_remove("HAPROXY_CFGFILES")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited by a signal")
}

fn ringlb_cc(expr: &str) -> i32 {
    code(&run(&harness::ringlb(), &["-cc", expr]))
}

/// Expressions whose exit code haproxy 2.6 gives, as verified by hand:
/// 0 true, 1 false, 2 error. They avoid what 3.2 added (`strstr()`,
/// `enabled()`) and the SSL library predicates, which depend on the build
/// (see `cc_ssl_library_predicates_without_openssl`).
const CC_CASES: &[(&str, i32)] = &[
    // Issue 8: a leading minus is the expression, not an option.
    ("-1000 && 200", 0),
    ("-1", 0),
    ("-0", 1),
    (" -5", 0),
    ("-0x10 || 0", 0),
    ("-dfoo", 2),
    ("1 && 0 || -1", 0),
    ("defined(PATH) && !defined(RINGLB_SURELY_UNSET)", 0),
    ("streq(a,a) && strneq(a,b)", 0),
    ("version_atleast(2.0)", 0),
    ("nosuchpredicate(x)", 2),
    // An evaluation error stops the evaluation like a true term in `||`
    // and like a false one in `&&` (haproxy 2.6 cannot parse the OpenSSL
    // version `abc`; ringlb has no OpenSSL: both fail to evaluate it).
    ("1 || openssl_version_atleast(abc)", 0),
    ("0 && openssl_version_atleast(abc)", 1),
    ("0 || openssl_version_atleast(abc)", 2),
    ("openssl_version_atleast(abc) || 1", 2),
    ("!openssl_version_atleast(abc)", 2),
    ("ssllib_name_startswith(NoSuchSSL)", 1),
];

#[test]
fn cc_exit_codes_match_haproxy() {
    let haproxy = harness::haproxy("cc_exit_codes_match_haproxy");
    for &(expr, expected) in CC_CASES {
        assert_eq!(ringlb_cc(expr), expected, "ringlb -cc {expr:?}");
        if let Some(h) = &haproxy {
            assert_eq!(
                code(&run(h, &["-cc", expr])),
                expected,
                "haproxy -cc {expr:?}"
            );
        }
    }
}

/// ringlb answers the SSL library predicates as a HAProxy built without
/// USE_OPENSSL does (Debian's haproxy has OpenSSL, so no comparison).
#[test]
fn cc_ssl_library_predicates_without_openssl() {
    assert_eq!(ringlb_cc("ssllib_name_startswith(OpenSSL)"), 1);
    assert_eq!(ringlb_cc("!ssllib_name_startswith(OpenSSL)"), 0);
    assert_eq!(ringlb_cc("openssl_version_atleast(1.1.1)"), 2);
    assert_eq!(ringlb_cc("openssl_version_before(9.0.0)"), 2);
}

/// Issue 8: `-vv` listed +OPENSSL +PROMEX +ZLIB (and +PCRE2, +NS), which
/// ringlb does not have, so tools reading the list tried what cannot
/// work. Every feature listed must be one `feature()` answers true for,
/// and the first line must not pass for HAProxy's (docs/differences.md).
#[test]
fn vv_lists_only_what_is_built_in() {
    let out = run(&harness::ringlb(), &["-vv"]);
    assert_eq!(code(&out), 0);
    let text = String::from_utf8(out.stdout).unwrap();
    let first = text.lines().next().unwrap();
    assert!(first.starts_with("ringlb version "), "{first}");
    assert!(
        first.ends_with(" - HAProxy configuration language level 3.2"),
        "{first}"
    );
    assert!(
        !first.contains("HAProxy version") && !first.contains("HA-Proxy version"),
        "tools would take ringlb for HAProxy: {first}"
    );
    let list = text
        .lines()
        .find_map(|l| l.strip_prefix("Feature list : "))
        .expect("no feature list");
    let features: Vec<&str> = list.split_whitespace().collect();
    assert!(!features.is_empty());
    for f in &features {
        let name = f.strip_prefix('+').unwrap_or_else(|| panic!("{f}"));
        for absent in [
            "OPENSSL",
            "PROMEX",
            "ZLIB",
            "SLZ",
            "PCRE2",
            "PCRE2_JIT",
            "NS",
            "LUA",
        ] {
            assert_ne!(name, absent, "-vv claims {absent}");
        }
        assert_eq!(ringlb_cc(&format!("feature({name})")), 0, "{name}");
    }
    assert_eq!(ringlb_cc("feature(OPENSSL)"), 1);
    assert_eq!(
        ringlb_cc("feature(OPENSSL) && openssl_version_atleast(1.1.1)"),
        1
    );
}

/// Issue 8: a directory without a `.cfg` file made ringlb exit 2 with
/// "no listener" wording; haproxy 2.6 has no configuration at all then, and
/// exits 1 (with its usage), with `-c` or without.
#[test]
fn config_dir_without_cfg_file_exits_1() {
    let dir = TempDir::new("nocfg");
    // Other extensions do not count.
    std::fs::write(
        dir.0.join("haproxy.conf"),
        "frontend fe\n    bind 127.0.0.1:0\n",
    )
    .unwrap();
    let d = dir.0.to_str().unwrap();
    for args in [&["-c", "-f", d][..], &["-f", d][..]] {
        let out = run(&harness::ringlb(), args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code(&out), 1, "ringlb {args:?}: {stderr}");
        assert!(
            stderr.contains("No configuration file found") && stderr.contains(d),
            "{stderr}"
        );
        assert!(!stderr.contains("no listener"), "{stderr}");
    }
    if let Some(h) = harness::haproxy("config_dir_without_cfg_file_exits_1") {
        assert_eq!(code(&run(&h, &["-c", "-f", d])), 1, "haproxy -c -f <dir>");
    }
}

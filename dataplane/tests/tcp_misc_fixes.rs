//! Regression tests for issue 8's command-line defects: `-cc` expressions,
//! `-vv`'s feature list, configuration directories without a `.cfg` file.
//! Where haproxy is installed, its exit codes are the reference.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod harness;

use std::path::Path;
use std::process::{Command, Output};

use harness::TempDir;

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

//! ringlb-config: HAProxy's configuration language, turned into a typed model
//! once.
//!
//! Pipeline (all sans-IO — files, environment and host name resolution are
//! reached only through the [`Host`] trait the caller provides):
//!
//! 1. [`lexer`] splits each line into words per HAProxy's quoting, escaping
//!    and `${VAR}` expansion rules, keeping the column of every word.
//! 2. [`cond`] evaluates `.if/.elif/.else/.endif` blocks and `.diag`,
//!    `.notice`, `.warning`, `.alert` directives.
//! 3. [`parse`] dispatches each line to its section and builds the [`model`]:
//!    durations, sizes, addresses, enums, sample expressions and ACLs are
//!    typed here; the engine never re-reads strings.
//! 4. [`check`] resolves cross references (backends, servers, tables,
//!    userlists) with HAProxy's verdicts.
//! 5. [`diag`] renders `file:line: error: ...` with the line and a caret.
#![forbid(unsafe_code)]

pub mod acl;
pub mod addr;
pub mod check;
pub mod cond;
pub mod diag;
pub mod keywords;
pub mod lexer;
pub mod logformat;
pub mod model;
pub mod parse;
pub mod sample;
pub mod units;

pub use diag::{Diagnostic, Diagnostics, Loc, Severity, SourceFile};

use std::sync::Arc;

/// Parse every file in order and run the cross-reference checks: the whole
/// front end in one call. The model is returned even when there are errors
/// so the caller can report everything at once; it must not be run then.
pub fn load(files: &[Arc<SourceFile>], host: &dyn Host) -> (model::Config, Diagnostics) {
    let (cfg, mut diags) = parse::parse_files(files, host);
    check::check(&cfg, host, &mut diags);
    (cfg, diags)
}

/// The language level ringlb implements: `version_atleast()` and
/// `version_before()` in `.if` blocks compare against this, not against
/// ringlb's own version number.
pub const LANGUAGE_LEVEL: &str = "3.2";

/// Everything the configuration front end needs from the outside world.
/// The binary implements it with the real filesystem and environment;
/// tests and the fuzzer implement it in memory.
pub trait Host {
    /// An environment variable of the process (before any `setenv` of the
    /// configuration, which the parser tracks itself).
    fn env(&self, name: &str) -> Option<String>;
    /// Read a file named by the configuration (ACL pattern files, errorfiles,
    /// certificates, CA files ...). The error is a human-readable reason.
    fn read_file(&self, path: &str) -> Result<Vec<u8>, String>;
}

/// Build features `feature()` answers true for (HAProxy's `-vv` "Feature
/// list" names). TLS is provided by rustls, but configurations gate their
/// `ssl` lines on `feature(OPENSSL)`, so ringlb answers for the capability.
pub const FEATURES: &[&str] = &[
    "OPENSSL",
    "LINUX_SPLICE",
    "LINUX_TPROXY",
    "GETADDRINFO",
    "CPU_AFFINITY",
    "ACCEPT4",
    "TFO",
    "NS",
    "THREAD",
    "PCRE2",
    "PCRE2_JIT",
    "ZLIB",
    "PROMEX",
];

/// Run-time capabilities `enabled()` answers true for (manual 2.4).
pub const ENABLED: &[&str] = &["SPLICE", "GETADDRINFO", "REUSEPORT", "FAST-FORWARD"];

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

/// A host without environment nor files, for unit tests.
#[cfg(test)]
pub(crate) struct NoHost;

#[cfg(test)]
impl Host for NoHost {
    fn env(&self, _: &str) -> Option<String> {
        None
    }
    fn read_file(&self, path: &str) -> Result<Vec<u8>, String> {
        Err(format!("no file {path}"))
    }
}

/// Build features `feature()` answers true for, and that `ringlb -vv` lists
/// with a `+` (HAProxy's `-vv` "Feature list" names): only what ringlb has.
/// Tools read this list to decide what to configure, so a feature listed
/// here must work: no OPENSSL (no TLS), PCRE2 (ACL regexes are not PCRE),
/// ZLIB / SLZ (no compression), PROMEX (no Prometheus exporter), NS (no
/// network namespaces), LUA.
pub const FEATURES: &[&str] = &[
    // accept(2) with flags: io_uring's accept takes accept4's flags.
    "ACCEPT4",
    // Executors pinned to CPUs.
    "CPU_AFFINITY",
    // Server names resolved with getaddrinfo(3) at start-up.
    "GETADDRINFO",
    // splice(2) between client and server sockets.
    "LINUX_SPLICE",
    // IP_TRANSPARENT: `bind ... transparent`, `source ... usesrc`.
    "LINUX_TPROXY",
    // TCP Fast Open: `bind ... tfo`, `server ... tfo`.
    "TFO",
    // One executor thread per core.
    "THREAD",
];

/// Run-time capabilities `enabled()` answers true for (manual 2.4).
pub const ENABLED: &[&str] = &["SPLICE", "GETADDRINFO", "REUSEPORT", "FAST-FORWARD"];

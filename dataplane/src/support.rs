//! What the engine cannot honour yet: the one list `ringlb -c` checks a
//! configuration against (HAProxy: "if it accepts to start, it will work").
//! Each issue that teaches the engine a capability removes its entry here;
//! `tests/config_support.rs` keeps the list honest against the corpus.

use ringlb_config::model::{Config, LogTarget};
use ringlb_config::{diag::Kind, Diagnostic, Loc};

/// A setting the engine lacks, by the key `-c` names in its error.
#[derive(Debug)]
pub struct Unsupported {
    pub key: &'static str,
    pub why: &'static str,
}

pub const UNSUPPORTED: &[Unsupported] = &[
    Unsupported {
        key: "bind",
        why: "the engine does not accept connections yet (issue: the engine)",
    },
    Unsupported {
        key: "server",
        why: "the engine does not connect to servers yet (issue: the engine)",
    },
    Unsupported {
        key: "log",
        why: "log targets are not written yet (issue: the engine)",
    },
    Unsupported {
        key: "stats socket",
        why: "the runtime API is not served yet",
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

/// Every setting of `cfg` the engine cannot honour yet.
pub fn check(cfg: &Config) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for px in &cfg.proxies {
        if px.disabled {
            continue;
        }
        if let Some(b) = px.binds.first() {
            out.push(diag("bind", &b.loc));
        }
        if let Some(s) = px.servers.first() {
            out.push(diag("server", &s.loc));
        }
        if let Some(LogTarget::Target(t)) = px.logs.first() {
            out.push(diag("log", &t.loc));
        }
    }
    let g = &cfg.global;
    if let Some(LogTarget::Target(t)) = g.logs.first() {
        out.push(diag("log", &t.loc));
    }
    if let Some(s) = g.stats_sockets.first() {
        out.push(diag("stats socket", &s.loc));
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

//! The typed configuration: what the engine consumes. Nothing here is a raw
//! string that the engine would have to re-parse, except names (of proxies,
//! servers, tables ...) that cross-reference checks have already resolved,
//! and `Directive`s: keywords HAProxy knows that ringlb does not model field
//! by field (kept with their words and location so `-c` can say exactly
//! which one the engine cannot honour).

pub mod global;
mod proxy;
pub mod sections;

pub use global::Global;
pub use proxy::*;
pub use sections::*;

use crate::diag::Loc;

/// The whole configuration.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub global: Global,
    /// Every defaults section, anonymous or named, in file order.
    pub defaults: Vec<Proxy>,
    /// Frontends, backends and listens, in file order.
    pub proxies: Vec<Proxy>,
    pub userlists: Vec<Userlist>,
    pub peers: Vec<Peers>,
    pub resolvers: Vec<Resolvers>,
    pub http_errors: Vec<HttpErrors>,
    pub caches: Vec<Cache>,
    pub rings: Vec<Ring>,
    pub mailers: Vec<Mailers>,
    pub programs: Vec<Program>,
    /// Sections ringlb recognises by name but keeps only as directives
    /// (fcgi-app, log-forward, crt-store, traces, acme, log-profile).
    pub other_sections: Vec<OtherSection>,
}

impl Config {
    pub fn proxy(&self, name: &str) -> Option<&Proxy> {
        self.proxies.iter().find(|p| p.name == name)
    }

    pub fn backend(&self, name: &str) -> Option<&Proxy> {
        self.proxies
            .iter()
            .find(|p| p.name == name && p.cap.backend)
    }
}

/// A keyword line kept as words: recognised, checked for shape, but not
/// modelled field by field.
#[derive(Clone, Debug)]
pub struct Directive {
    /// The keyword as written (multi-word keywords joined by one space).
    pub keyword: String,
    pub args: Vec<String>,
    pub loc: Loc,
}

/// A name with the place it was written, for cross-reference diagnostics.
#[derive(Clone, Debug)]
pub struct Named {
    pub name: String,
    pub loc: Loc,
}

//! The predefined ACLs (manual 7.4).

use super::{parse_acl_expr, AclDef, AclError};
use crate::sample::Vocab;

/// A predefined ACL (manual 7.4) and what it stands for.
#[derive(Clone, Copy, Debug)]
pub struct PredefinedAcl {
    pub name: &'static str,
    /// The equivalent `acl` words after the name.
    pub words: &'static [&'static str],
}

/// The predefined ACLs of HAProxy 3.2 (HTTP_2.0 and HTTP_3.0 are not in
/// 2.6, and 3.2's LOCALHOST also matches `::1`).
pub const PREDEFINED: &[PredefinedAcl] = &[
    pre("FALSE", &["always_false"]),
    pre("HTTP", &["req.proto_http"]),
    pre("HTTP_1.0", &["req.ver", "1.0"]),
    pre("HTTP_1.1", &["req.ver", "1.1"]),
    pre("HTTP_2.0", &["req.ver", "2.0"]),
    pre("HTTP_3.0", &["req.ver", "3.0"]),
    pre("HTTP_CONTENT", &["req.hdr_val(content-length)", "gt", "0"]),
    pre("HTTP_URL_ABS", &["url_reg", "^[^/:]*://"]),
    pre("HTTP_URL_SLASH", &["url_beg", "/"]),
    pre("HTTP_URL_STAR", &["url", "*"]),
    pre("LOCALHOST", &["src", "127.0.0.1/8", "::1"]),
    pre("METH_CONNECT", &["method", "CONNECT"]),
    pre("METH_DELETE", &["method", "DELETE"]),
    pre("METH_GET", &["method", "GET", "HEAD"]),
    pre("METH_HEAD", &["method", "HEAD"]),
    pre("METH_OPTIONS", &["method", "OPTIONS"]),
    pre("METH_POST", &["method", "POST"]),
    pre("METH_PUT", &["method", "PUT"]),
    pre("METH_TRACE", &["method", "TRACE"]),
    pre("RDP_COOKIE", &["req.rdp_cookie_cnt", "gt", "0"]),
    pre("REQ_CONTENT", &["req.len", "gt", "0"]),
    pre("TRUE", &["always_true"]),
    pre("WAIT_END", &["wait_end"]),
];

const fn pre(name: &'static str, words: &'static [&'static str]) -> PredefinedAcl {
    PredefinedAcl { name, words }
}

pub fn predefined(name: &str) -> Option<&'static PredefinedAcl> {
    PREDEFINED.iter().find(|p| p.name == name)
}

/// The definition of a predefined ACL, parsed like an `acl` line.
pub fn predefined_def(name: &str) -> Option<Result<AclDef, AclError>> {
    predefined_def_in(name, Vocab::builtin())
}

pub(super) fn predefined_def_in(name: &str, vocab: Vocab) -> Option<Result<AclDef, AclError>> {
    let p = predefined(name)?;
    Some(parse_acl_expr(p.words, vocab).map(|mut d| {
        d.name = p.name.to_string();
        d
    }))
}

//! `tcp-request connection` rules: a connection accepted or rejected by
//! what is known at accept time (its addresses), before any byte is read
//! (HAProxy's tcp_exec_l4_rules). The first rule whose condition holds
//! decides; none: accepted. Only `accept` and `reject` run yet; the other
//! actions are refused at start, naming their line.

use std::net::SocketAddr;

use ringlb_config::model::{Proxy, TcpRequestConnectionAction};
use ringlb_proto::msg::Head;

use super::acl::{Acls, Cond};
use super::env::Conn;
use super::fetch::Ctx;
use super::http::compile::condition_defs;
use super::pattern::CompileError;

/// A frontend's compiled `tcp-request connection` rules.
#[derive(Debug)]
pub struct TcpConnRules {
    acls: Acls,
    /// (condition, accept?) in order.
    rules: Vec<(Option<Cond>, bool)>,
}

impl TcpConnRules {
    /// `px`'s rules, or None when it has none.
    pub fn compile(px: &Proxy) -> Result<Option<TcpConnRules>, CompileError> {
        let rules = &px.rules.tcp_request_connection;
        if rules.is_empty() {
            return Ok(None);
        }
        let mut defs: Vec<_> = px.acls.iter().map(|a| a.def.clone()).collect();
        for r in rules {
            if let Some(c) = &r.cond {
                defs.extend(condition_defs(c, px));
            }
        }
        let mut acls = Acls::compile(&defs)?;
        let mut out = Vec::new();
        for r in rules {
            let accept = match &r.action {
                TcpRequestConnectionAction::Accept => true,
                TcpRequestConnectionAction::Reject => false,
                other => {
                    return Err(CompileError(format!(
                        "{}: 'tcp-request connection {}': not supported yet",
                        r.loc,
                        other.name()
                    )))
                }
            };
            let cond = match &r.cond {
                Some(c) => Some(
                    acls.condition(c)
                        .map_err(|e| CompileError(format!("{}: {}", r.loc, e.0)))?,
                ),
                None => None,
            };
            out.push((cond, accept));
        }
        Ok(Some(TcpConnRules { acls, rules: out }))
    }

    /// Whether a connection from `src` to `dst` on `frontend` is accepted.
    pub fn accepts(
        &self,
        src: Option<SocketAddr>,
        dst: Option<SocketAddr>,
        frontend: &str,
    ) -> bool {
        let head = Head::new();
        let env = Conn { src, dst, frontend };
        let cx = Ctx::new(&head, &env);
        for (cond, accept) in &self.rules {
            if cond.as_ref().is_none_or(|c| self.acls.eval(c, &cx)) {
                return *accept;
            }
        }
        true
    }
}

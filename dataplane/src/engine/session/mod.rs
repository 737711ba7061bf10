//! A session: one client connection and its transport, from its accept to
//! its close. In TCP mode its one stream is the whole connection
//! (`stream::tcp`); in HTTP mode a stream per request (`stream::http`).

pub mod transport;

pub use transport::Conn;

use std::net::SocketAddr;

use crate::engine::plan::FrontendPlan;
use crate::engine::rules::env::{Captures, Conn as ConnEnv, Vars};
use crate::engine::rules::tcp::{TcpTxn, Verdict};

/// A session let in: the address the client reached (when the frontend
/// needs it) and the variables its connection and session rules set.
#[derive(Debug)]
pub(crate) struct Admitted {
    pub dst: Option<SocketAddr>,
    pub vars: Vars,
}

/// The start of a session in either mode: the address the client reached
/// when the frontend needs it (one getsockname, shared by the rules and
/// the stream), then the `tcp-request connection` rules and the
/// `tcp-request session` rules (HAProxy's tcp_exec_l4_rules and
/// tcp_exec_l5_rules). A connection they reject or drop is closed at
/// once, unlogged (HAProxy counts it denied): None.
pub(crate) fn admit(
    core: &crate::engine::runtime::Core,
    (fe_idx, luid): (usize, u32),
    fe: &FrontendPlan,
    client: &Conn,
    peer: Option<SocketAddr>,
) -> Option<Admitted> {
    let dst = if fe.needs_dst {
        client.local_inet()
    } else {
        None
    };
    let vars = Vars::default();
    let Some(rules) = fe
        .tcp
        .as_deref()
        .filter(|r| r.has_connection_rules() || r.has_session_rules())
    else {
        crate::engine::stats::count_admitted(core, fe_idx);
        return Some(Admitted { dst, vars });
    };
    let env = ConnEnv {
        src: peer,
        dst,
        frontend: &fe.name,
    };
    let mut caps = Captures::default();
    let mut tx = TcpTxn {
        env: &env,
        vars: &vars,
        caps: &mut caps,
        log_level: None,
    };
    // HAProxy's dcon and dses: which rule set refused it.
    use crate::engine::runtime::counters::Fe;
    let mut verdict = rules.connection(&mut tx);
    let mut denied = Fe::DeniedConn;
    if verdict == Verdict::Continue {
        verdict = rules.session(&mut tx);
        denied = Fe::DeniedSess;
    }
    match verdict {
        Verdict::Continue | Verdict::Wait | Verdict::Close => {
            crate::engine::stats::count_admitted(core, fe_idx);
            Some(Admitted { dst, vars })
        }
        Verdict::Reject => {
            core.shared.stats.add_fe(core.id, fe_idx, luid, denied, 1);
            None
        }
        // A silent drop is no deny for HAProxy's counters (the action
        // ends the rules without counting).
        Verdict::SilentDrop => {
            client.silent_drop();
            None
        }
    }
}

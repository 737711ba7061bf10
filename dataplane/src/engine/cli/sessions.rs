//! The streams at run time: `show sess` and `shutdown session`.

use std::fmt::Write as _;
use std::rc::Rc;
use std::time::Duration;

use super::table::Later;
use super::{Ask, Reply, Static, ASK_WITHIN};
use crate::engine::runtime::Core;

/// `show sess [all|<id>]`: every core's live streams, asked through the
/// mesh, in HAProxy's one-line form as far as the registry knows them
/// (docs/differences.md). A stream's id is its core and registry slot.
pub fn show_sess(core: Rc<Core>, _: Rc<Static>, args: Vec<String>) -> Later {
    Box::pin(async move {
        let answers = sessions(&core).await;
        let want = args.get(2).map(String::as_str).unwrap_or("");
        let want_id = want
            .strip_prefix("0x")
            .and_then(|h| u64::from_str_radix(h, 16).ok());
        if !want.is_empty() && want != "all" && want_id.is_none() {
            return Reply::err("Session is not found.\n");
        }
        let plan = &core.shared.plan;
        let mut out = String::new();
        let mut found = false;
        for a in &answers {
            for s in &a.streams {
                let id = sess_id(a.core, s.key);
                if want_id.is_some_and(|w| w != id) {
                    continue;
                }
                found = true;
                let fe = plan
                    .frontends
                    .get(s.frontend as usize)
                    .map_or("?", |f| f.name.as_str());
                let (proto, src) = match s.src {
                    Some(a @ std::net::SocketAddr::V4(_)) => ("tcpv4", a.to_string()),
                    Some(a) => ("tcpv6", a.to_string()),
                    None => ("unix_stream", "unix".to_string()),
                };
                let _ = writeln!(
                    out,
                    "{id:#x}: proto={proto} src={src} fe={fe} ts=00 epoch=0 age={}",
                    human(s.age)
                );
            }
        }
        if want_id.is_some() && !found {
            return Reply::err("Session is not found.\n");
        }
        Reply::Out(out)
    })
}

/// A stream's `show sess` id: its core and its registry slot.
fn sess_id(core: usize, key: usize) -> u64 {
    (core as u64) << 32 | key as u64
}

async fn sessions(core: &Rc<Core>) -> Vec<super::CoreSessions> {
    let asked = core
        .shared
        .mesh
        .ask_all(|reply| crate::engine::runtime::mesh::Msg::Cli(Ask::Sessions(reply)));
    let mut answers = asked.wait(&core.timers, ASK_WITHIN).await;
    answers.sort_by_key(|a| a.core);
    answers
}

/// `shutdown session <id>`: HAProxy's refusals; a stream that exists is
/// not killed yet (a stream cannot be ended from outside but by its
/// server's shutdown or a hard stop: docs/differences.md).
pub fn shutdown_session(core: Rc<Core>, _: Rc<Static>, args: Vec<String>) -> Later {
    Box::pin(async move {
        let want = args.get(2).map(String::as_str).unwrap_or("");
        if want.is_empty() {
            return Reply::err("Session pointer expected (use 'show sess').\n");
        }
        let want_id = want
            .strip_prefix("0x")
            .and_then(|h| u64::from_str_radix(h, 16).ok());
        let exists = match want_id {
            Some(w) => sessions(&core)
                .await
                .iter()
                .any(|a| a.streams.iter().any(|s| sess_id(a.core, s.key) == w)),
            None => false,
        };
        if !exists {
            return Reply::err("No such session (use 'show sess').\n");
        }
        Reply::err("'shutdown session' is not supported yet: a single stream cannot be killed from the CLI.\n")
    })
}

/// HAProxy's human_time: `1d2h`, `3h4m`, `5m6s`, `7s`.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{}s", s / 60, s % 60),
        3600..=86399 => format!("{}h{}m", s / 3600, s / 60 % 60),
        _ => format!("{}d{}h", s / 86400, s / 3600 % 24),
    }
}

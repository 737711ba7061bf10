//! The streams at run time: `show sess` and `shutdown session`.

use std::fmt::Write as _;
use std::rc::Rc;
use std::time::Duration;

use super::table::Later;
use super::{Ask, Reply, SessInfo, Static, ASK_WITHIN};
use crate::engine::runtime::Core;

/// `show sess [all|<id>]`: every core's live streams, asked through the
/// mesh: one line each in HAProxy's form, or the long form of one stream
/// (`show sess <id>`) or of all (`show sess all`), as far as ringlb knows
/// them (the rest neutral: docs/differences.md). As HAProxy's, an id that
/// does not parse (strtoul gives 0) lists them all, and an unknown one says
/// "Session not found." on the answer's normal path.
pub fn show_sess(core: Rc<Core>, _: Rc<Static>, args: Vec<String>) -> Later {
    Box::pin(async move {
        let answers = sessions(&core).await;
        let want = args.get(2).map(String::as_str).unwrap_or("");
        let target = match want {
            "all" => Target::All,
            w => match strtoul(w) {
                0 => Target::List,
                id => Target::One(id),
            },
        };
        let mut out = String::new();
        let mut found = false;
        for a in &answers {
            for s in &a.streams {
                let id = sess_id(a.core, s.key);
                match target {
                    Target::List => line(&mut out, &core, id, s),
                    Target::All => long(&mut out, &core, id, s),
                    Target::One(w) if w == id => {
                        long(&mut out, &core, id, s);
                        found = true;
                    }
                    Target::One(_) => {}
                }
            }
        }
        if matches!(target, Target::One(_)) && !found {
            out.push_str("Session not found.\n");
        }
        Reply::Out(out)
    })
}

#[derive(Clone, Copy)]
enum Target {
    List,
    All,
    One(u64),
}

/// What a stream's line names: (proto, src, frontend, backend, server).
fn names<'p>(core: &'p Core, s: &SessInfo) -> (&'static str, String, &'p str, &'p str, String) {
    let plan = &core.shared.plan;
    let e = &s.entry;
    let (proto, src) = match e.src {
        Some(a @ std::net::SocketAddr::V4(_)) => ("tcpv4", a.to_string()),
        Some(a) => ("tcpv6", a.to_string()),
        None => ("unix_stream", format!("unix:{}", e.luid)),
    };
    let fe = match e.global {
        true => "GLOBAL",
        false => plan
            .frontends
            .get(e.frontend as usize)
            .map_or("?", |f| f.name.as_str()),
    };
    let be = e.backend.and_then(|b| plan.backends.get(b as usize));
    let srv = be
        .zip(e.server)
        .and_then(|(b, i)| b.servers.get(i as usize))
        .map_or_else(|| "<none>".to_string(), |v| v.conf().name.clone());
    (
        proto,
        src,
        fe,
        be.map_or("<NONE>", |b| b.name.as_str()),
        srv,
    )
}

/// HAProxy's one-line form (cli_io_handler_dump_sess).
fn line(out: &mut String, core: &Core, id: u64, s: &SessInfo) {
    let (proto, src, fe, be, srv) = names(core, s);
    let e = &s.entry;
    // A CLI stream's back side is its applet: established, no socket.
    let (scb_state, scb_fd) = match e.server_fd {
        Some(fd) => (8, fd),
        None if e.global => (8, -1),
        None => (0, -1),
    };
    let _ = writeln!(
        out,
        "{id:#x}: proto={proto} src={src} fe={fe} be={be} srv={srv} ts=00 epoch=0 age={} \
         calls=0 rate=0 cpu=0 lat=0 rq[f=000000h,i=0,an=00h,rx=,wx=,ax=] \
         rp[f=000000h,i=0,an=00h,rx=,wx=,ax=] scf=[8,0h,fd={}] scb=[{scb_state},0h,fd={scb_fd}] \
         exp= rc=0 c_exp=",
        human(s.age),
        e.client_fd,
    );
}

/// HAProxy's long form (stats_dump_full_strm_to_buffer), its first part:
/// the stream's date, number, addresses, frontend, backend and server.
fn long(out: &mut String, core: &Core, id: u64, s: &SessInfo) {
    let (proto, _, fe, be, srv) = names(core, s);
    let e = &s.entry;
    let plan = &core.shared.plan;
    let d = crate::log::time::DateTime::new(e.accept_date, crate::log::time::local_zone());
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS
        .get(d.month.saturating_sub(1) as usize)
        .copied()
        .unwrap_or("Jan");
    let source = match e.src {
        Some(a) => a.to_string(),
        None => format!("unix:{}", e.luid),
    };
    let _ = writeln!(
        out,
        "{id:#x}: [{:02}/{month}/{:04}:{:02}:{:02}:{:02}.{:06}] id={} proto={proto} source={source}",
        d.day, d.year, d.hour, d.min, d.sec, d.micros, e.uniq_id
    );
    let _ = writeln!(
        out,
        "  flags=0x0, conn_retries=0, conn_exp=<NEVER> conn_et=0x000 srv_conn=(nil), pend_pos=(nil) waiting=0 epoch=0"
    );
    // The proxies' ids and modes, as `show stat` numbers them.
    let proxy = |name: &str| {
        plan.stats
            .proxies
            .iter()
            .find(|p| p.name == name)
            .map_or((0, "tcp"), |p| (p.iid, if p.http { "http" } else { "tcp" }))
    };
    let (fe_id, fe_mode) = proxy(fe);
    let addr = |a: Option<std::net::SocketAddr>| match (a, e.src) {
        (Some(a), _) => format!(" addr={a}"),
        (None, None) => format!(" addr=unix:{}", e.luid),
        (None, Some(_)) => String::new(),
    };
    let _ = writeln!(
        out,
        "  frontend={fe} (id={fe_id} mode={fe_mode}), listener=? (id={}){}",
        e.luid,
        addr(s.dst)
    );
    match e.backend {
        Some(_) => {
            let (be_id, be_mode) = proxy(be);
            let back = s.back.map(|a| format!(" addr={a}")).unwrap_or_default();
            let _ = writeln!(out, "  backend={be} (id={be_id} mode={be_mode}){back}");
            let puid = e
                .backend
                .and_then(|b| plan.backends.get(b as usize))
                .zip(e.server)
                .and_then(|(b, i)| b.servers.get(i as usize))
                .map_or(0, |v| v.conf().id);
            let srv_addr = e
                .server_addr
                .map(|a| format!(" addr={a}"))
                .unwrap_or_default();
            let _ = writeln!(out, "  server={srv} (id={puid}){srv_addr}");
        }
        None => {
            let _ = writeln!(out, "  backend=<NONE> (id=-1 mode=-)");
            let _ = writeln!(out, "  server=<NONE> (id=-1)");
        }
    }
    let _ = writeln!(
        out,
        "  task=(nil) (state=0x00 nice=0 calls=0 rate=0 exp=<NEVER> tmask=0x{:x} age={})",
        1u64 << sess_of(id).map_or(0, |(c, _)| c.min(63)),
        human(s.age)
    );
}

/// A stream's `show sess` id: its core (plus one: no id is 0, which
/// HAProxy's strtoul reads as no id) and its registry slot.
fn sess_id(core: usize, key: usize) -> u64 {
    (core as u64 + 1) << 32 | key as u64
}

/// The core and slot an id names.
fn sess_of(id: u64) -> Option<(usize, usize)> {
    let core = usize::try_from((id >> 32).checked_sub(1)?).ok()?;
    let key = usize::try_from(id & 0xffff_ffff).ok()?;
    Some((core, key))
}

/// C's strtoul(s, NULL, 0) as HAProxy reads an id: leading blanks, `0x`
/// hexadecimal, `0` octal or decimal, up to the first other character;
/// 0 when nothing parses, the largest value on overflow.
fn strtoul(s: &str) -> u64 {
    let s = s.trim_start();
    let s = s.strip_prefix('+').unwrap_or(s);
    let (digits, radix) = if let Some(h) = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .filter(|h| h.starts_with(|c: char| c.is_ascii_hexdigit()))
    {
        (h, 16)
    } else if s.starts_with('0') {
        (s, 8)
    } else {
        (s, 10)
    };
    let end = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    match digits.get(..end) {
        Some("") | None => 0,
        // strtoul's ULONG_MAX on overflow.
        Some(d) => u64::from_str_radix(d, radix).unwrap_or(u64::MAX),
    }
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

/// `shutdown session <id>`: the stream is killed on its core (asked
/// through the mesh), as HAProxy's stream_shutdown(SF_ERR_KILLED): both
/// sides closed, its log saying `K` (see `runtime::registry`). HAProxy's
/// answers: no id, no such stream, or nothing.
pub fn shutdown_session(core: Rc<Core>, _: Rc<Static>, args: Vec<String>) -> Later {
    Box::pin(async move {
        let id = strtoul(args.get(2).map(String::as_str).unwrap_or(""));
        if id == 0 {
            return Reply::err("Session pointer expected (use 'show sess').\n");
        }
        let killed = match sess_of(id) {
            Some((on, key)) => kill(&core, on, key).await,
            None => false,
        };
        if !killed {
            return Reply::err("No such session (use 'show sess').\n");
        }
        Reply::Empty
    })
}

/// Ask core `on` to kill its stream `key`: whether there was one.
async fn kill(core: &Core, on: usize, key: usize) -> bool {
    let (tx, rx) = flume::bounded(1);
    let msg = crate::engine::runtime::mesh::Msg::Cli(Ask::Kill(key, tx));
    if core.shared.mesh.command(on, msg).is_err() {
        return false;
    }
    matches!(
        crate::engine::runtime::timer::timeout(&core.timers, ASK_WITHIN, rx.recv_async()).await,
        Ok(Ok(true))
    )
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

#[cfg(test)]
mod tests {
    use super::{sess_id, sess_of, strtoul};

    #[test]
    fn ids_read_as_haproxy_reads_a_pointer() {
        assert_eq!(strtoul(""), 0);
        assert_eq!(strtoul("abc"), 0);
        assert_eq!(strtoul("0x"), 0);
        assert_eq!(strtoul("0x1f"), 31);
        assert_eq!(strtoul("0X1fzz"), 31);
        assert_eq!(strtoul("  12"), 12);
        assert_eq!(strtoul("017"), 15);
        assert_eq!(strtoul("08"), 0);
        assert_eq!(strtoul("0xffffffffffffffffff"), u64::MAX);
    }

    #[test]
    fn an_id_names_its_core_and_slot() {
        for (core, key) in [(0, 0), (1, 7), (63, 0xffff_ffff)] {
            let id = sess_id(core, key);
            assert_ne!(id, 0);
            assert_eq!(sess_of(id), Some((core, key)));
        }
        assert_eq!(sess_of(0x1234), None);
    }
}

//! The runtime API (HAProxy's CLI, management.txt section 9.3): the `stats
//! socket` listeners, one connection's request loop (one-shot, interactive
//! and prompt modes, payloads, `;`-separated commands), the access levels
//! and the command table ([`table`], [`commands`]).
//!
//! Where it runs: the sockets are bound at start-up with the frontends'
//! (a UNIX path is bound under a temporary name and renamed over the old
//! process's socket, so the path always answers across a reload), and
//! served by tasks on the first executor. A command that changes a server
//! goes through `Process::set_server`; one that needs every core's data
//! asks the cores through the mesh ([`Ask`]) and answers from their
//! replies, so no core stops and no lock is taken on the data path.

mod addsrc;
pub mod checks;
pub mod commands;
pub mod maps;
pub mod servers;
pub mod sessions;
pub mod table;
pub mod tables;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use futures_util::future::{select, Either};
use ringlb_config::addr::{Address, Port};
use ringlb_config::model::global::{Account, CliLevel};
use ringlb_config::model::Config;

use super::listener::{BindError, BoundSocket};
use super::runtime::buffer::Buffer;
use super::runtime::{timer, Core, LocalEvent};
use super::session::transport::{Conn, Listening};

pub use table::Level;

/// HAProxy's defaults: `stats timeout` 10 s, `stats maxconn` 10.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_MAXCONN: u32 = 10;
/// The longest request line (HAProxy's chunk: one buffer).
const MAX_LINE: usize = 16 * 1024;
/// How long a command waits for every core's answer.
const ASK_WITHIN: Duration = Duration::from_secs(2);

/// One `stats socket`, bound.
#[derive(Debug)]
pub struct CliListener {
    pub socket: BoundSocket,
    pub level: Level,
    /// `severity-output` on the socket line.
    pub severity: Severity,
    /// Its listener id in the GLOBAL proxy (1, 2 ... in the order of the
    /// `stats socket` lines): `show sess` names a UNIX client by it.
    pub luid: u32,
}

/// What the CLI knows besides the plan: from the configuration, fixed at
/// start-up.
#[derive(Debug, Default)]
pub struct Static {
    /// Per frontend / backend of the plan: HAProxy's proxy id and whether
    /// it was forced (`id`).
    pub frontend_ids: Vec<u32>,
    pub backend_ids: Vec<(u32, bool)>,
    /// Per backend, per server: whether its id was forced.
    pub server_forced_id: Vec<Vec<bool>>,
    pub timeout: Duration,
    pub maxconn: u32,
    pub nbthread: usize,
    pub ulimit_n: u64,
    pub node: String,
    pub description: Option<String>,
    pub start_unix: u64,
}

/// The runtime API, handed to the first executor.
#[derive(Debug)]
pub struct Cli {
    pub listeners: Vec<CliListener>,
    pub st: Static,
}

/// `set severity-output`: how messages are prefixed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Severity {
    #[default]
    None,
    Number,
    String,
}

impl Severity {
    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "none" => Some(Severity::None),
            "number" => Some(Severity::Number),
            "string" => Some(Severity::String),
            _ => None,
        }
    }
}

/// HAProxy's proxy ids: `id <n>` where given; the others numbered in
/// declaration order from 2 up, skipping the ids taken (haproxy 2.6 gives
/// id 1 to an internal proxy; rule zero: the CLI test compares the ids
/// with haproxy's).
fn proxy_ids(cfg: &Config) -> std::collections::HashMap<String, (u32, bool)> {
    let taken: std::collections::HashSet<u32> = cfg.proxies.iter().filter_map(|p| p.id).collect();
    let mut next = 2u32;
    let mut out = std::collections::HashMap::new();
    for p in &cfg.proxies {
        let id = if let Some(id) = p.id {
            (id, true)
        } else {
            while taken.contains(&next) {
                next += 1;
            }
            next += 1;
            (next - 1, false)
        };
        out.insert(p.name.clone(), id);
    }
    out
}

impl Cli {
    /// Bind every `stats socket` of `cfg` (start-up, main thread).
    pub fn bind(cfg: &Config, plan: &super::Plan) -> Result<Option<Cli>, BindError> {
        let g = &cfg.global;
        if g.stats_sockets.is_empty() {
            return Ok(None);
        }
        let mut listeners = Vec::new();
        for s in &g.stats_sockets {
            let level = match s.level {
                Some(CliLevel::User) => Level::User,
                Some(CliLevel::Admin) => Level::Admin,
                Some(CliLevel::Operator) | None => Level::Operator,
            };
            let severity = s
                .options
                .iter()
                .find(|d| d.keyword == "severity-output")
                .and_then(|d| d.args.first())
                .and_then(|a| Severity::parse(a))
                .unwrap_or_default();
            let socket = bind_one(&s.addr, s.mode, s.user.as_ref(), s.group.as_ref())?;
            let luid = u32::try_from(listeners.len() + 1).unwrap_or(u32::MAX);
            listeners.push(CliListener {
                socket,
                level,
                severity,
                luid,
            });
        }
        let ids = proxy_ids(cfg);
        let id_of = |name: &str| ids.get(name).copied().unwrap_or((0, false));
        let st = Static {
            frontend_ids: plan.frontends.iter().map(|f| id_of(&f.name).0).collect(),
            backend_ids: plan.backends.iter().map(|b| id_of(&b.name)).collect(),
            server_forced_id: plan
                .backends
                .iter()
                .map(|b| {
                    let px = cfg.proxy(&b.name);
                    b.servers
                        .iter()
                        .map(|s| {
                            px.and_then(|p| p.servers.iter().find(|c| c.name == s.conf().name))
                                .is_some_and(|c| c.opts.id.is_some())
                        })
                        .collect()
                })
                .collect(),
            timeout: g.stats_timeout.unwrap_or(DEFAULT_TIMEOUT),
            maxconn: g.stats_maxconn.unwrap_or(DEFAULT_MAXCONN),
            nbthread: 0,
            ulimit_n: crate::process::current_nofile().map_or(0, |(soft, _)| soft),
            node: g.node.clone().unwrap_or_else(|| plan.hostname.clone()),
            description: g.description.clone(),
            start_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        };
        Ok(Some(Cli { listeners, st }))
    }
}

fn account(a: Option<&Account>) -> Option<String> {
    a.map(|a| match a {
        Account::Name(n) => n.clone(),
        Account::Id(n) => n.to_string(),
    })
}

fn bind_one(
    addr: &Address,
    mode: Option<u32>,
    user: Option<&Account>,
    group: Option<&Account>,
) -> Result<BoundSocket, BindError> {
    let fatal = |m: String| BindError {
        in_use: false,
        message: m,
    };
    match addr {
        Address::Unix { path, .. } => {
            let (user, group) = (account(user), account(group));
            super::listener::bind_unix(
                std::path::Path::new(path),
                i32::try_from(DEFAULT_MAXCONN).unwrap_or(10),
                mode,
                user.as_deref(),
                group.as_deref(),
            )
            .map(BoundSocket::Unix)
            .map_err(|e| {
                fatal(format!(
                    "Starting proxy GLOBAL: cannot bind UNIX socket [{path}]: {e}"
                ))
            })
        }
        Address::Inet { host, port, .. } => {
            let ip = super::plan::resolve_host(host, None)
                .map_err(|e| fatal(format!("Starting proxy GLOBAL: {e}")))?;
            let Port::One(p) = port else {
                return Err(fatal(format!(
                    "Starting proxy GLOBAL: stats socket {addr}: a single port is expected"
                )));
            };
            let sa = std::net::SocketAddr::new(ip, *p);
            bind_tcp(sa).map(BoundSocket::Tcp).map_err(|e| BindError {
                in_use: e.kind() == std::io::ErrorKind::AddrInUse,
                message: format!("Starting proxy GLOBAL: cannot bind socket [{sa}]: {e}"),
            })
        }
        other => Err(fatal(format!(
            "Starting proxy GLOBAL: stats socket {other}: this address kind is not supported yet"
        ))),
    }
}

/// A TCP CLI listener: SO_REUSEPORT as every listener, so the new process
/// of a reload binds it while the old one still listens.
fn bind_tcp(sa: std::net::SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(
        Domain::for_address(sa),
        Type::STREAM.nonblocking().cloexec(),
        Some(Protocol::TCP),
    )?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.bind(&sa.into())?;
    s.listen(i32::try_from(DEFAULT_MAXCONN).unwrap_or(10))?;
    Ok(s.into())
}

/// A question the CLI asks every core, answered on the core.
#[derive(Debug, Clone)]
pub enum Ask {
    /// Its live streams.
    Sessions(flume::Sender<CoreSessions>),
    /// `shutdown session`: kill the stream in this registry slot, then
    /// answer whether there was one.
    Kill(usize, flume::Sender<bool>),
    /// `clear counters all`: zero this core's counter block (its one
    /// writer), then answer the core's id.
    ClearCounters(flume::Sender<usize>),
    /// Take these compiled pattern sets (a map or ACL file changed), then
    /// answer the core's id.
    PatRef(
        std::sync::Arc<crate::engine::rules::patref::Sets>,
        flume::Sender<usize>,
    ),
    /// Do `op` on this core's state of server slot (backend, server),
    /// then answer (see [`servers::SlotOp`]).
    Slot(usize, usize, servers::SlotOp, flume::Sender<usize>),
}

/// One core's live streams.
#[derive(Debug, Clone, Default)]
pub struct CoreSessions {
    pub core: usize,
    pub streams: Vec<SessInfo>,
}

/// What `show sess` tells of a stream.
#[derive(Debug, Clone)]
pub struct SessInfo {
    /// Its registry key on its core.
    pub key: usize,
    pub age: Duration,
    pub entry: super::runtime::StreamEntry,
    /// The address the client reached, and the server connection's own.
    pub dst: Option<std::net::SocketAddr>,
    pub back: Option<std::net::SocketAddr>,
}

/// A question reached `core` (see [`Ask`]).
pub fn answer(core: &std::rc::Rc<Core>, ask: Ask) {
    match ask {
        Ask::Sessions(reply) => {
            let streams = core
                .streams
                .borrow()
                .iter()
                .filter(|(_, e)| !e.idle)
                .map(|(key, e)| {
                    let (dst, back) = e.local_addrs();
                    SessInfo {
                        key,
                        age: e.accepted.elapsed(),
                        entry: e.clone(),
                        dst,
                        back,
                    }
                })
                .collect();
            let _ = reply.try_send(CoreSessions {
                core: core.id,
                streams,
            });
        }
        Ask::Kill(key, reply) => {
            let _ = reply.try_send(core.kill_stream(key));
        }
        Ask::ClearCounters(reply) => {
            core.shared.stats.clear_block(core.id);
            let _ = reply.try_send(core.id);
        }
        Ask::PatRef(sets, reply) => {
            crate::engine::rules::patref::apply(&sets);
            let _ = reply.try_send(core.id);
        }
        Ask::Slot(b, s, op, reply) => {
            let _ = reply.try_send(servers::on_core(core, b, s, op));
        }
    }
}

/// Start serving the CLI sockets on `core` (the first executor).
pub fn start(core: &Rc<Core>, cli: Cli) {
    let st = Rc::new(cli.st);
    let slots = Rc::new(Slots {
        used: Cell::new(0),
        freed: LocalEvent::default(),
    });
    for l in cli.listeners {
        let core = Rc::clone(core);
        let st = Rc::clone(&st);
        let slots = Rc::clone(&slots);
        super::runtime::spawn(accept_loop(core, st, slots, l));
    }
}

/// `stats maxconn`: the CLI connections served at once.
#[derive(Debug)]
struct Slots {
    used: Cell<u32>,
    freed: LocalEvent,
}

async fn accept_loop(core: Rc<Core>, st: Rc<Static>, slots: Rc<Slots>, l: CliListener) {
    let sock = match &l.socket {
        BoundSocket::Tcp(t) => t.try_clone().map(socket2::Socket::from),
        BoundSocket::Unix(u) => u
            .try_clone()
            .map(|u| socket2::Socket::from(std::os::fd::OwnedFd::from(u))),
    };
    let listening = match l.socket {
        BoundSocket::Tcp(t) => Listening::from_std_tcp(t),
        BoundSocket::Unix(u) => Listening::from_std_unix(u),
    };
    let (Ok(listening), Ok(sock)) = (listening, sock) else {
        crate::stderr_line!("[ALERT] cannot register a stats socket on the executor");
        return;
    };
    loop {
        while slots.used.get() >= st.maxconn.max(1) {
            let freed = std::pin::pin!(slots.freed.wait());
            let stop = std::pin::pin!(core.stop_accepting.wait());
            if let Either::Right(_) = select(freed, stop).await {
                break;
            }
        }
        if core.stop_accepting.is_fired() {
            break;
        }
        let accepted = {
            let accept = std::pin::pin!(listening.accept());
            let stop = std::pin::pin!(core.stop_accepting.wait());
            match select(accept, stop).await {
                Either::Left((r, _)) => r,
                Either::Right(((), accept)) => {
                    // As the frontends' listeners: shut down under the
                    // pending accept, which then ends.
                    let _ = sock.shutdown(std::net::Shutdown::Both);
                    let _ = accept.await;
                    break;
                }
            }
        };
        let Ok((conn, peer)) = accepted else { continue };
        // The GLOBAL proxy's cum_conn (its soft-stop line).
        core.shared
            .stats
            .cli_conns
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        slots.used.set(slots.used.get() + 1);
        let core = Rc::clone(&core);
        let st = Rc::clone(&st);
        let slots = Rc::clone(&slots);
        let (level, severity, luid) = (l.level, l.severity, l.luid);
        super::runtime::spawn(async move {
            {
                // HAProxy's CLI runs in a stream of the GLOBAL proxy:
                // `show sess` lists it. Registered after `conn` and
                // dropped before it (see `runtime::registry`).
                let reg = core.register_cli(luid, &conn, peer);
                serve(&core, &st, &conn, level, severity).await;
                drop(reg);
            }
            drop(conn);
            slots.used.set(slots.used.get().saturating_sub(1));
            slots.freed.notify();
        });
    }
    let _ = sock.shutdown(std::net::Shutdown::Both);
}

/// `prompt`'s modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Answer the commands of the first line, then close.
    OneShot,
    /// Keep the connection, no prompt.
    Interactive,
    /// Keep it, with a `> ` prompt.
    Prompt,
}

/// One CLI connection's state.
#[derive(Debug)]
pub struct Session {
    pub level: Level,
    pub mode: Mode,
    pub timed: bool,
    pub severity: Severity,
    pub timeout: Duration,
    /// `quit`, or a command closed the connection.
    pub quit: bool,
    /// No LF after this command's answer (`operator -`, `user -`).
    pub no_lf: bool,
}

/// What a command answers.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// Nothing but the end-of-answer LF.
    Empty,
    /// A dump, sent as is.
    Out(String),
    /// A message with a severity (LOG_INFO, LOG_ERR ...), prefixed as
    /// `set severity-output` says.
    Msg(u8, String),
}

pub const LOG_ERR: u8 = 3;
pub const LOG_WARNING: u8 = 4;
pub const LOG_NOTICE: u8 = 5;
pub const LOG_INFO: u8 = 6;

impl Reply {
    pub fn err(s: impl Into<String>) -> Reply {
        Reply::Msg(LOG_ERR, s.into())
    }
    pub fn info(s: impl Into<String>) -> Reply {
        Reply::Msg(LOG_INFO, s.into())
    }

    fn render(self, sev: Severity, out: &mut Vec<u8>) {
        match self {
            Reply::Empty => {}
            Reply::Out(s) => out.extend_from_slice(s.as_bytes()),
            Reply::Msg(level, s) => {
                const NAMES: [&str; 8] = [
                    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
                ];
                match sev {
                    Severity::None => {}
                    Severity::Number => out.extend_from_slice(format!("[{level}]: ").as_bytes()),
                    Severity::String => out.extend_from_slice(
                        format!(
                            "[{}]: ",
                            NAMES.get(usize::from(level)).copied().unwrap_or("?")
                        )
                        .as_bytes(),
                    ),
                }
                out.extend_from_slice(s.as_bytes());
            }
        }
    }
}

pub(crate) use ringlb_proto::cli::{next_request, split_args};

/// Serve one CLI connection until it closes, quits or times out.
async fn serve(core: &Rc<Core>, st: &Rc<Static>, conn: &Conn, level: Level, severity: Severity) {
    let mut s = Session {
        level,
        mode: Mode::OneShot,
        timed: false,
        severity,
        timeout: st.timeout,
        quit: false,
        no_lf: false,
    };
    let mut input: Vec<u8> = Vec::new();
    let mut buf = Buffer::new(MAX_LINE, 0);
    let mut out: Vec<u8> = Vec::new();
    let mut eof = false;
    loop {
        while let Some((line, payload)) = next_request(&mut input) {
            let line = String::from_utf8_lossy(&line).into_owned();
            let payload = payload.map(|p| String::from_utf8_lossy(&p).into_owned());
            let reply = table::run(core, st, &mut s, &line, payload.as_deref()).await;
            reply.render(s.severity, &mut out);
            if s.quit {
                break;
            }
            match s.mode {
                Mode::Prompt => out.extend_from_slice(b"\n"),
                _ if s.no_lf => {}
                _ => out.push(b'\n'),
            }
            s.no_lf = false;
            if s.mode == Mode::Prompt {
                out.extend_from_slice(prompt(core, &s).as_bytes());
            }
            // One-shot: close once the input holds no more request.
            if s.mode == Mode::OneShot && input.is_empty() {
                s.quit = true;
                break;
            }
            // Many requests in one read (or one big answer): what is ready
            // goes out before the next, so a session holds at most about
            // one answer plus FLUSH_AT, not every answer of its input.
            if out.len() >= FLUSH_AT && !flush(core, conn, &mut out, s.timeout).await {
                return;
            }
        }
        if !out.is_empty() && !flush(core, conn, &mut out, s.timeout).await {
            return;
        }
        if s.quit || eof || input.len() > MAX_LINE {
            break;
        }
        match timer::timeout(&core.timers, s.timeout, conn.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(()) => eof = true,
            Ok(Ok(_)) => {
                input.extend_from_slice(buf.data());
                buf.clear();
            }
        }
        if eof {
            // Whatever complete requests remain are still answered.
            if input.is_empty() || !input.contains(&b'\n') && !input.contains(&b';') {
                break;
            }
        }
    }
    conn.shutdown_write();
}

/// Answers are sent once this much is waiting.
const FLUSH_AT: usize = 64 * 1024;

/// Send `out` within the session's timeout (HAProxy's `stats timeout`
/// bounds a client that stops reading as one that stops writing); false
/// when the client is gone or too slow, and the session ends.
async fn flush(core: &Core, conn: &Conn, out: &mut Vec<u8>, within: Duration) -> bool {
    match timer::timeout(&core.timers, within, conn.write_vec(std::mem::take(out))).await {
        Ok((Ok(_), v)) => {
            *out = v;
            out.clear();
            true
        }
        _ => false,
    }
}

/// The prompt of prompt mode: `> `, or `[d:hh:mm:ss]> ` with `prompt timed`.
fn prompt(core: &Core, s: &Session) -> String {
    if !s.timed {
        return "> ".into();
    }
    let up = core.shared.started.elapsed().as_secs();
    format!(
        "[{}:{:02}:{:02}:{:02}]> ",
        up / 86400,
        up / 3600 % 24,
        up / 60 % 60,
        up % 60
    )
}

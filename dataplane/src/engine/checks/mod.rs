//! Health checks (HAProxy's check.c and tcpcheck.c, the parts ringlb
//! runs): each checked server's check is one task, owned by one core (the
//! checks are dealt over the cores in configuration order), sleeping on
//! the core's timer between checks, so a check never blocks traffic. A
//! result moves the server's health counter ([`health::Health`]); a
//! counter that reaches 0 or `rise` changes the server's state through
//! its one owner (`Process::set_server`), which every core sees at once,
//! and logs HAProxy's state-change line.
//!
//! Kinds: a TCP connect (no option); `option httpchk` with `http-check
//! send`, `disable-on-404` (NOLB on a 404) and `http-check expect
//! status|rstatus|string|rstring` (`!`); `option tcp-check` with `tcp-check
//! connect|send|send-binary|expect string|binary|rstring`; `option
//! redis-check`, `ssl-hello-chk`, `smtpchk`, `pgsql-check`, `ldap-check` and
//! `mysql-check` (built-in tcp-check rules). The others are refused by
//! `support::check`.
//!
//! Timing as HAProxy: the first checks are spread over the smallest
//! interval (`start_checks`: server n of N starts at inter × n / N, capped
//! by `max-spread-checks`); then each check starts `inter` (`fastinter`
//! while going up or down, `downinter` while down) after the previous one
//! ended, moved by up to ±`spread-checks` percent. A check may take `inter`
//! in all; with `timeout check`, the connection gets min(inter, `timeout
//! connect`) and the rest `timeout check` from the connection on.

pub mod admin;
pub mod agent;
pub mod control;
pub mod health;
pub mod http;
pub mod observe;
mod run;
pub use run::spawn_added;
pub mod tcpcheck;
pub mod track;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ringlb_config::model::{
    CheckKind, CheckStepKind, Config, ExpectKind, Proxy, Server as ServerConf,
};

use self::health::{Health, Intervals};
use self::http::{Expect, Expects, Match, Send};
use super::plan::{BackendPlan, ServerAddr};
use crate::log::sender::LogSink;
use ringlb_proto::msg::Method;

pub use run::start;

/// HAProxy's defaults (`DEF_CHKINTR`, `DEF_RISETIME`, `DEF_FALLTIME`).
const DEFAULT_INTER: Duration = Duration::from_millis(2000);
const DEFAULT_RISE: u32 = 2;
const DEFAULT_FALL: u32 = 3;
/// SRV_CHK_INTER_THRES: intervals shorter than this do not set the spread
/// of the first checks.
const INTER_THRES: Duration = Duration::from_millis(1000);

/// Where a check connects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Inet(SocketAddr),
    Unix(PathBuf),
}

#[derive(Debug, Clone)]
pub enum Kind {
    /// A TCP connect: L4OK once connected.
    Tcp,
    /// `option tcp-check`, `option httpchk` and the protocol checks: a
    /// sequence of rules.
    TcpCheck(std::sync::Arc<tcpcheck::TcpCheck>),
}

/// One server's check, as its owner core runs it.
#[derive(Debug)]
pub struct CheckPlan {
    pub backend: usize,
    pub server: usize,
    /// Enabled or not, and where it connects (the runtime API changes
    /// both).
    pub ctl: control::Control,
    /// Intervals, rise, fall and the PROXY header: the server's
    /// settings, which `add server` sets for an added slot's check.
    pub tuning: arc_swap::ArcSwap<Tuning>,
    pub timeout_check: Option<Duration>,
    pub timeout_connect: Option<Duration>,
    pub kind: Kind,
    /// `option log-health-checks`.
    pub log_health: bool,
    /// `spread-checks` (percent).
    pub spread: u32,
    /// When the first check starts, after start-up.
    pub first: Duration,
    /// The servers that `track` this one, directly or through others.
    pub trackers: Vec<Tracker>,
    /// The health counter at start (`init-state`: up by default, but down
    /// at the first failure).
    pub initial: Health,
    /// The last result (for the statistics).
    pub last: health::Last,
    /// The health counter now, which the agent reads before it brings the
    /// server up.
    pub health_now: std::sync::atomic::AtomicU32,
}

/// What of a check its server's line sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    pub intervals: Intervals,
    pub rise: u32,
    pub fall: u32,
    /// `check-send-proxy` (or the server's `send-proxy*` when the check
    /// goes to the server's own address): the PROXY header a default
    /// connect sends, v2 when the server has `send-proxy-v2`.
    pub send_proxy: Option<tcpcheck::ProxyHeader>,
    /// The version a connect's own `send-proxy` uses.
    pub proxy_v2: bool,
}

impl Default for Tuning {
    /// HAProxy's defaults.
    fn default() -> Tuning {
        Tuning {
            intervals: Intervals {
                inter: DEFAULT_INTER,
                fastinter: None,
                downinter: None,
            },
            rise: DEFAULT_RISE,
            fall: DEFAULT_FALL,
            send_proxy: None,
            proxy_v2: false,
        }
    }
}

/// Server (b, s) forced up, stopping or down by the runtime API or the
/// stats page (`set server health`, `hrunn`...: the check's counter to
/// fully up or 0, then srv_set_running / _stopping / _stopped with
/// `reason`): its line, and its trackers following.
pub fn force_health(
    core: &super::runtime::Core,
    b: usize,
    s: usize,
    to: health::Transition,
    reason: &str,
) {
    if let Some(k) = core.shared.plan.checks.check_of(b, s) {
        let t = k.tune();
        let h = if to == health::Transition::Down {
            0
        } else {
            t.rise + t.fall - 1
        };
        k.health_now.store(h, std::sync::atomic::Ordering::Relaxed);
        if let Some(ch) = core
            .shared
            .stats
            .changes(super::runtime::counters::Obj::Srv(b, s))
        {
            ch.health.store(h, std::sync::atomic::Ordering::Relaxed);
        }
    }
    force_state(core, b, s, to, reason);
}

/// Server (b, s)'s agent forced up or down (`set server agent`, `arunn`,
/// `adown`): its counter, then the server's state with `reason`. False
/// when the server has no enabled agent.
pub fn force_agent(
    core: &super::runtime::Core,
    b: usize,
    s: usize,
    up: bool,
    reason: &str,
) -> bool {
    let Some(a) = core
        .shared
        .plan
        .checks
        .agent_of(b, s)
        .filter(|a| a.ctl.enabled())
    else {
        return false;
    };
    a.health
        .store(u32::from(up), std::sync::atomic::Ordering::Relaxed);
    let to = if up {
        health::Transition::Up
    } else {
        health::Transition::Down
    };
    force_state(core, b, s, to, reason);
    true
}

/// `enable|disable health|agent` and the stats page's `ehlth`, `dhlth`,
/// `eagent`, `dagent`: false when the server has no such check.
pub fn enable(core: &super::runtime::Core, b: usize, s: usize, agent: bool, on: bool) -> bool {
    let checks = &core.shared.plan.checks;
    let ctl = if agent {
        checks.agent_of(b, s).map(|a| &a.ctl)
    } else {
        checks.check_of(b, s).map(|k| &k.ctl)
    };
    ctl.map(|c| c.set_enabled(on)).is_some()
}

fn force_state(
    core: &super::runtime::Core,
    b: usize,
    s: usize,
    to: health::Transition,
    reason: &str,
) {
    if run::set_state(core, b, s, to, run::Why::Said(reason), 0) {
        run::follow_trackers(core, &trackers_of_server(core, b, s), (b, s), to);
    }
}

/// The servers that track server (b, s), as its check or agent knows them.
fn trackers_of_server(core: &super::runtime::Core, b: usize, s: usize) -> Vec<Tracker> {
    let checks = &core.shared.plan.checks;
    checks
        .check_of(b, s)
        .map(|c| c.trackers.clone())
        .or_else(|| checks.agent_of(b, s).map(|a| a.trackers.clone()))
        .unwrap_or_default()
}

/// Every check of the plan, and how each backend logs their results.
#[derive(Debug, Default)]
pub struct Checks {
    pub list: Vec<CheckPlan>,
    /// The agent checks (`agent-check`).
    pub agents: Vec<agent::AgentPlan>,
    /// By backend index of the plan.
    pub backends: Vec<BackendLog>,
    /// The global `node` (the host name by default), for send-state.
    pub node: String,
    /// The check and agent address and port of servers where one of them
    /// is not running but the configuration set them (`port` sets both
    /// ports, `addr` both addresses): `show servers state` prints them.
    pub configured: Vec<Configured>,
    /// Servers added at run time with `track` (never below the number
    /// live, maybe above): at 0, a state change looks for no added
    /// tracker (see `track::added_trackers`).
    pub added_tracks: std::sync::atomic::AtomicUsize,
    /// By backend index (dynamic backends only): the checks and agents of
    /// the server slots `add server` grows.
    pub added: Vec<Option<Box<Added>>>,
}

/// What the checks and agents of a dynamic backend's added server slots
/// start from, and those slots' (each made when its slot is first
/// filled; its tasks spawned then, see `run::spawn_added`).
#[derive(Debug)]
pub struct Added {
    /// The backend's check kind (None: it cannot be built for a server
    /// of its own, and `add server ... check` is refused).
    kind: Option<Kind>,
    timeout_check: Option<Duration>,
    timeout_connect: Option<Duration>,
    log_health: bool,
    spread: u32,
    /// The backend's configured servers: its first added slot's index.
    configured: usize,
    slots: crate::engine::runtime::grow::Grow<Probes>,
}

/// An added slot's check and agent.
#[derive(Debug, Default)]
pub struct Probes {
    check: std::sync::OnceLock<Box<CheckPlan>>,
    agent: std::sync::OnceLock<Box<agent::AgentPlan>>,
    /// Its tasks spawned so far (`TASK_*`: each once, at the first fill
    /// of the slot by a server that needs it).
    spawned: std::sync::atomic::AtomicU8,
}

/// An added slot's tasks (see `run::spawn_added`).
pub const TASK_CHECK: u8 = 1;
pub const TASK_AGENT: u8 = 2;
pub const TASK_WARMUP: u8 = 4;

/// A server's check and agent addresses and ports (0: none) as
/// configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Configured {
    pub backend: usize,
    pub server: usize,
    pub check_addr: Option<IpAddr>,
    pub check_port: u16,
    pub agent_addr: Option<IpAddr>,
    pub agent_port: u16,
}

impl Checks {
    /// Server (b, s)'s agent check.
    pub fn agent_of(&self, b: usize, s: usize) -> Option<&agent::AgentPlan> {
        self.slot_agent(b, s).filter(|a| a.ctl.configured())
    }

    /// What the configuration set of server (b, s)'s check and agent
    /// targets, where one of them does not run.
    pub fn configured_of(&self, b: usize, s: usize) -> Option<&Configured> {
        self.configured
            .iter()
            .find(|c| c.backend == b && c.server == s)
    }

    /// Server (b, s) moved (`set server addr`): its check and its agent,
    /// where they have no address or port of their own, follow it at
    /// their next run (HAProxy's checks use the server's address then).
    pub fn server_moved(&self, b: usize, s: usize, ip: IpAddr, port: u16) {
        if let Some(c) = self.check_of(b, s) {
            c.ctl.server_moved(ip, port);
        }
        if let Some(a) = self.agent_of(b, s) {
            a.ctl.server_moved(ip, port);
        }
    }

    /// Server (b, s)'s health check.
    pub fn check_of(&self, b: usize, s: usize) -> Option<&CheckPlan> {
        self.slot_check(b, s).filter(|c| c.ctl.configured())
    }

    /// The check of slot (b, s), configured or not (an added slot's).
    pub fn slot_check(&self, b: usize, s: usize) -> Option<&CheckPlan> {
        match self.probes(b, s) {
            Some(p) => p.check.get().map(|c| &**c),
            None => self.list.iter().find(|c| c.backend == b && c.server == s),
        }
    }

    /// The agent of slot (b, s), configured or not.
    pub fn slot_agent(&self, b: usize, s: usize) -> Option<&agent::AgentPlan> {
        match self.probes(b, s) {
            Some(p) => p.agent.get().map(|a| &**a),
            None => self.agents.iter().find(|a| a.backend == b && a.server == s),
        }
    }

    /// Added slot (b, s)'s check and agent, once grown.
    fn probes(&self, b: usize, s: usize) -> Option<&Probes> {
        let a = self.added.get(b)?.as_deref()?;
        a.slots.get(s.checked_sub(a.configured)?)
    }

    /// Make room for added slot (b, s)'s check and agent (`add server`,
    /// before the slot is filled); false past the most a backend can grow
    /// to. A configured slot has its own already.
    pub fn grow(&self, b: usize, s: usize) -> bool {
        let Some(a) = self.added.get(b).and_then(Option::as_deref) else {
            return true;
        };
        let Some(i) = s.checked_sub(a.configured) else {
            return true;
        };
        a.slots.grow_to(i, Probes::default).is_some()
    }

    /// Make added slot (b, s)'s check (where the backend's check kind
    /// allows one) and agent, vacant, where its new server has them and
    /// the slot has none yet (a slot keeps them for its next servers).
    pub fn prepare(&self, b: usize, s: usize, check: bool, agent: bool) {
        let Some(a) = self.added.get(b).and_then(Option::as_deref) else {
            return;
        };
        let Some(p) = s.checked_sub(a.configured).and_then(|i| a.slots.get(i)) else {
            return;
        };
        if let (true, Some(kind)) = (check, &a.kind) {
            p.check
                .get_or_init(|| Box::new(vacant_check(a, b, s, kind.clone())));
        }
        if agent {
            p.agent.get_or_init(|| Box::new(vacant_agent(a, b, s)));
        }
    }

    /// The check kind backend `b`'s added servers get (None: not a
    /// dynamic backend, or a kind they cannot have).
    pub fn added_kind(&self, b: usize) -> Option<&Kind> {
        self.added.get(b)?.as_deref()?.kind.as_ref()
    }

    /// Which of `tasks` added slot (b, s) does not run yet: they are
    /// marked running (each is spawned once).
    pub fn take_spawn(&self, b: usize, s: usize, tasks: u8) -> u8 {
        self.probes(b, s).map_or(0, |p| {
            tasks
                & !p.spawned
                    .fetch_or(tasks, std::sync::atomic::Ordering::AcqRel)
        })
    }
}

/// Where a backend's state changes are logged.
#[derive(Debug, Default)]
pub struct BackendLog {
    /// "backend", or "proxy" for a listen section (proxy_type_str).
    pub word: &'static str,
    /// The backend's log targets (set once the sinks are open).
    pub sink: Option<LogSink>,
    /// `option log-health-checks`.
    pub log_health: bool,
    /// `http-check disable-on-404` (HAProxy's PR_O_DISABLE404): a server
    /// may track one of another backend only if both agree.
    pub disable_on_404: bool,
}

/// A server that follows another's state (`track [<backend>/]<server>`),
/// and those that track it in turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracker {
    pub backend: usize,
    pub server: usize,
    pub trackers: Vec<Tracker>,
}

/// A server by (backend, server) index.
type ServerId = (usize, usize);

/// `track` links as (server, tracked server).
fn track_links(cfg: &Config) -> Vec<(ServerId, ServerId)> {
    let pxs: Vec<&Proxy> = cfg
        .proxies
        .iter()
        .filter(|p| p.cap.backend && !p.disabled)
        .collect();
    let mut links = Vec::new();
    for (b, px) in pxs.iter().enumerate() {
        for (i, s) in px.servers.iter().enumerate() {
            let Some(t) = &s.opts.track else { continue };
            let tb = match &t.backend {
                None => Some(b),
                Some(name) => pxs.iter().position(|p| &p.name == name),
            };
            let Some(tb) = tb else { continue };
            let Some(ts) = pxs
                .get(tb)
                .and_then(|p| p.servers.iter().position(|x| x.name == t.server))
            else {
                continue;
            };
            links.push(((b, i), (tb, ts)));
        }
    }
    links
}

/// The trackers of `of`, depth first, the last declared first: HAProxy's
/// `trackers` list, to whose head srv_apply_track puts each tracker as it
/// walks the proxies and their servers in declaration order. A loop
/// (refused by HAProxy) is cut.
fn trackers_of(
    of: ServerId,
    links: &[(ServerId, ServerId)],
    seen: &mut Vec<ServerId>,
) -> Vec<Tracker> {
    let mut out = Vec::new();
    for (t, _) in links.iter().rev().filter(|(_, tracked)| *tracked == of) {
        if seen.contains(t) {
            continue;
        }
        seen.push(*t);
        out.push(Tracker {
            backend: t.0,
            server: t.1,
            trackers: trackers_of(*t, links, seen),
        });
    }
    out
}

impl CheckPlan {
    /// Where the next run connects.
    pub fn target(&self) -> Target {
        self.ctl.target()
    }

    /// The health counter as the check task should count on: its own,
    /// or what the runtime API set meanwhile (`set server health`).
    pub fn tune(&self) -> Tuning {
        **self.tuning.load()
    }

    pub(crate) fn counted(&self, h: &Health) -> u32 {
        self.health_now
            .load(std::sync::atomic::Ordering::Relaxed)
            .min(h.rise + h.fall - 1)
    }

    /// The interval the first check is scheduled with (srv_getinter at
    /// start: up, "going down" unless `fall` is 1).
    fn start_inter(&self) -> Duration {
        let t = self.tune();
        t.intervals.next(&Health::new(t.rise, t.fall, true), false)
    }
}

/// The server's address as a check's base target (port 0 where the
/// server has none of its own).
fn base_target(addr: &ServerAddr) -> Target {
    match addr {
        ServerAddr::Fixed(a) => Target::Inet(*a),
        ServerAddr::SamePort(ip) | ServerAddr::PortOffset(ip, _) => {
            Target::Inet(SocketAddr::new(*ip, 0))
        }
        ServerAddr::Unix(p) => Target::Unix(p.clone()),
    }
}

/// The check's control: `addr` (an IP or a name, resolved now) and `port`
/// over the server's address.
fn control(
    px: &Proxy,
    s: &ServerConf,
    addr: &ServerAddr,
    resolve: &dyn Fn(&str) -> Result<IpAddr, String>,
) -> Result<control::Control, String> {
    let o = &s.opts;
    let err = |e: String| format!("backend '{}', server '{}': check {e}", px.name, s.name);
    let ip = match o.addr.as_deref() {
        Some(a) => Some(resolve(a).map_err(err)?),
        None => None,
    };
    let base = base_target(addr);
    let ctl = control::Control::new(base, ip, o.port.unwrap_or(0));
    if let Target::Inet(sa) = ctl.target() {
        if sa.port() == 0 {
            return Err(err("has no port".to_string()));
        }
    }
    Ok(ctl)
}

/// The PROXY header a server's default check connect sends: with
/// `check-send-proxy`, or (check.c) with the server's own `send-proxy*`
/// when the check has neither `port` nor `addr`.
fn send_proxy(o: &ringlb_config::model::ServerOptions) -> Option<tcpcheck::ProxyHeader> {
    let server = match o.send_proxy {
        Some(Some(v)) => Some(v),
        _ => None,
    };
    let implied = server.is_some() && o.port.is_none() && o.addr.is_none();
    if o.check_send_proxy != Some(true) && !implied {
        return None;
    }
    Some(match server {
        Some(ringlb_config::model::ProxyProtocol::V2) => tcpcheck::ProxyHeader::V2,
        _ => tcpcheck::ProxyHeader::V1,
    })
}

/// Each step's comment as HAProxy assigns them (tcpcheck.c, after the
/// rules are parsed): a `comment` step's text goes to the rules after it,
/// as long as they are of the kind of the first of them, unless they have
/// their own; a connect takes it and ends it.
pub(crate) fn comments(steps: &[ringlb_config::model::CheckStep]) -> Vec<Option<String>> {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum K {
        Comment,
        Connect,
        Send,
        Expect,
        Action,
    }
    let mut out = Vec::with_capacity(steps.len());
    let mut pending: Option<String> = None;
    let mut prev = K::Comment;
    for st in steps {
        let k = match &st.kind {
            CheckStepKind::Connect(_) => K::Connect,
            CheckStepKind::HttpSend { .. }
            | CheckStepKind::Send { .. }
            | CheckStepKind::SendBinary { .. } => K::Send,
            CheckStepKind::Expect(_) => K::Expect,
            CheckStepKind::Other { keyword, .. } if keyword == "comment" => K::Comment,
            CheckStepKind::Other { .. } => K::Action,
        };
        if k != prev && prev != K::Comment {
            pending = None;
        }
        prev = k;
        let own = st.comment.clone();
        out.push(match k {
            K::Comment => {
                pending = own;
                None
            }
            K::Connect | K::Action => {
                let c = own.or_else(|| pending.take());
                pending = None;
                c
            }
            K::Send | K::Expect => own.or_else(|| pending.clone()),
        });
    }
    out
}

/// A server's `init-state` (3.x), its own or its default-server's.
pub fn init_state<'a>(
    px: &'a Proxy,
    s: &'a ServerConf,
) -> Option<&'a ringlb_config::model::Directive> {
    let last = |other: &'a [ringlb_config::model::Directive]| {
        other.iter().rev().find(|d| d.keyword == "init-state")
    };
    last(&s.opts.other).or_else(|| last(&px.default_server.other))
}

/// The HTTP check of `px` (`option httpchk` and its `http-check` rules),
/// as tcp-check rules (HAProxy's are the same rules): a connect, the
/// request, the expect rules over its response; several in a row for a
/// multi-step check.
fn http_check(
    px: &Proxy,
    method: &Option<String>,
    uri: &Option<String>,
    version: &Option<String>,
    resolve: &dyn Fn(&str) -> Result<IpAddr, String>,
) -> Result<tcpcheck::TcpCheck, String> {
    use tcpcheck::{Action, Rule};
    let option = Send {
        method: method.clone(),
        uri: uri.clone(),
        version: version.clone(),
        ..Send::default()
    };
    let has = |word: &str| {
        px.http_checks
            .iter()
            .any(|s| matches!(&s.kind, CheckStepKind::Other { keyword, .. } if keyword == word))
    };
    let send_state = has("send-state");
    let disable_on_404 = has("disable-on-404");
    let notes = comments(&px.http_checks);
    let mut rules: Vec<Rule> = Vec::new();
    let mut first_send = true;
    let mut method = Method::from_bytes(b"OPTIONS");
    for (index, (st, note)) in (1u32..).zip(px.http_checks.iter().zip(notes)) {
        let at = |e: String| format!("{}: {e}", st.loc);
        let action = match &st.kind {
            CheckStepKind::Connect(c) => {
                Action::Connect(tcpcheck::connect_rule(c, resolve).map_err(at)?)
            }
            CheckStepKind::HttpSend {
                method: m,
                uri,
                uri_lf,
                version,
                headers,
                body,
                body_lf,
            } => {
                // The first send takes `option httpchk`'s parts.
                let mut send = if first_send {
                    option.clone()
                } else {
                    Send::default()
                };
                first_send = false;
                send.merge(Send {
                    method: m.clone(),
                    uri: uri.clone(),
                    uri_lf: *uri_lf,
                    version: version.clone(),
                    headers: headers.clone(),
                    body: body.clone(),
                    body_lf: *body_lf,
                });
                let req = send.compile(send_state).map_err(at)?;
                method = req.method();
                Action::HttpSend(Box::new(req))
            }
            CheckStepKind::Expect(e) => {
                let re = |p: &str| {
                    regex::bytes::Regex::new(p).map_err(|e| at(format!("invalid regex: {e}")))
                };
                let what = match e.kind {
                    ExpectKind::Status => Match::Status(http::parse_codes(&e.pattern).map_err(at)?),
                    ExpectKind::RStatus => Match::RStatus(re(&e.pattern)?),
                    ExpectKind::String => Match::Body(e.pattern.as_bytes().to_vec()),
                    ExpectKind::RString => Match::RBody(re(&e.pattern)?),
                    ExpectKind::Hdr | ExpectKind::Fhdr => {
                        Match::hdr(&e.hdr, e.kind == ExpectKind::Fhdr)
                            .map_err(|m| at(format!("http-check expect hdr: {m}")))?
                    }
                    _ => return Err(at("this expect rule is not supported yet".into())),
                };
                let mut x = Expect::new(e.negate, what, note);
                x.opts = tcpcheck::expect_opts(e, true).map_err(at)?;
                x.error = e.error_status.as_deref().and_then(tcpcheck::status_word);
                // Expect rules in a row judge one response.
                if let Some(Rule {
                    action: Action::HttpExpect(list),
                    ..
                }) = rules.last_mut()
                {
                    list.list.push(x);
                    continue;
                }
                Action::HttpExpect(Box::new(Expects {
                    list: vec![x],
                    disable_on_404,
                    method,
                }))
            }
            CheckStepKind::Other { keyword, args }
                if keyword.starts_with("set-var(") || keyword.starts_with("unset-var(") =>
            {
                tcpcheck::var_action(keyword, args).map_err(at)?
            }
            CheckStepKind::Other { keyword, .. }
                if matches!(
                    keyword.as_str(),
                    "comment" | "disable-on-404" | "send-state"
                ) =>
            {
                continue
            }
            _ => return Err(at("this http-check rule is not supported yet".into())),
        };
        rules.push(Rule {
            action,
            step: index,
            comment: None,
        });
    }
    let is_connect = |r: &Rule| matches!(r.action, Action::Connect(_));
    if first_send {
        // No `http-check send`: `option httpchk`'s request goes first
        // (after a leading connect).
        let req = option.compile(send_state)?;
        method = req.method();
        let pos = usize::from(rules.first().is_some_and(is_connect));
        rules.insert(
            pos,
            Rule {
                action: Action::HttpSend(Box::new(req)),
                step: 0,
                comment: None,
            },
        );
        if let Some(Rule {
            action: Action::HttpExpect(e),
            ..
        }) = rules.get_mut(pos + 1)
        {
            e.method = method;
        }
    }
    // A request with no expect rule after it: HAProxy's default one (a
    // 2xx or 3xx status).
    if matches!(
        rules
            .iter()
            .rev()
            .find(|r| !matches!(r.action, Action::SetVar { .. } | Action::UnsetVar { .. })),
        Some(Rule {
            action: Action::HttpSend(_),
            ..
        })
    ) {
        rules.push(Rule {
            action: Action::HttpExpect(Box::new(Expects {
                list: Vec::new(),
                disable_on_404,
                method,
            })),
            step: 0,
            comment: None,
        });
    }
    Ok(tcpcheck::TcpCheck::with_implicit_connect(rules, false))
}

/// A resolver for `-c`, which resolves nothing.
fn no_resolve(_: &str) -> Result<IpAddr, String> {
    Ok(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

/// What of a backend's checks the engine cannot run, as "<file>:<line>:
/// <what>" (support.rs names it), or Ok.
pub fn supported(px: &Proxy) -> Result<(), String> {
    match &px.options.check {
        None | Some(CheckKind::Tcp) => Ok(()),
        Some(CheckKind::Http {
            method,
            uri,
            version,
        }) => http_check(px, method, uri, version, &no_resolve).map(|_| ()),
        Some(CheckKind::TcpCheck) => {
            tcpcheck::TcpCheck::compile(&px.tcp_checks, &no_resolve).map(|_| ())
        }
        Some(
            CheckKind::Redis
            | CheckKind::SslHello
            | CheckKind::Smtp { .. }
            | CheckKind::Pgsql { .. }
            | CheckKind::Ldap
            | CheckKind::Mysql { .. },
        ) => Ok(()),
        Some(_) => Err(format!("{}: this check kind is not supported yet", px.loc)),
    }
}

fn kind(px: &Proxy, resolve: &dyn Fn(&str) -> Result<IpAddr, String>) -> Result<Kind, String> {
    let tc = |t: tcpcheck::TcpCheck| Ok(Kind::TcpCheck(std::sync::Arc::new(t)));
    match &px.options.check {
        None | Some(CheckKind::Tcp) => Ok(Kind::Tcp),
        Some(CheckKind::Http {
            method,
            uri,
            version,
        }) => tc(http_check(px, method, uri, version, resolve)?),
        Some(CheckKind::TcpCheck) => tc(tcpcheck::TcpCheck::compile(&px.tcp_checks, resolve)?),
        Some(CheckKind::Redis) => tc(tcpcheck::TcpCheck::redis()),
        Some(CheckKind::SslHello) => tc(tcpcheck::TcpCheck::ssl_hello()),
        Some(CheckKind::Smtp { hello }) => {
            let cmd = match hello {
                Some((verb, domain)) => format!("{verb} {domain}"),
                None => "HELO localhost".to_string(),
            };
            tc(tcpcheck::TcpCheck::smtp(&cmd))
        }
        Some(CheckKind::Ldap) => tc(tcpcheck::TcpCheck::ldap()),
        Some(CheckKind::Mysql { user, post_41 }) => {
            tc(tcpcheck::TcpCheck::mysql(user.as_deref(), *post_41))
        }
        Some(CheckKind::Pgsql { user }) => tc(tcpcheck::TcpCheck::pgsql(user)),
        Some(_) => Err(format!(
            "backend '{}': this check kind is not supported yet",
            px.name
        )),
    }
}

/// The checks of every backend of the plan (`backends` in plan order, the
/// enabled backend proxies of `cfg`).
pub fn build(
    cfg: &Config,
    backends: &[BackendPlan],
    resolve: &dyn Fn(&str) -> Result<IpAddr, String>,
) -> Result<Checks, String> {
    let mut out = Vec::new();
    let mut agents = Vec::new();
    let mut configured = Vec::new();
    let mut added = Vec::new();
    let mut logs = Vec::new();
    let pxs = cfg.proxies.iter().filter(|p| p.cap.backend && !p.disabled);
    for (b, (px, be)) in pxs.zip(backends).enumerate() {
        logs.push(BackendLog {
            word: if px.cap.frontend { "proxy" } else { "backend" },
            sink: None,
            log_health: px.options.is_set("log-health-checks"),
            disable_on_404: px.http_checks.iter().any(|s| {
                matches!(&s.kind, CheckStepKind::Other { keyword, .. } if keyword == "disable-on-404")
            }),
        });
        for (i, (s, sp)) in px.servers.iter().zip(&be.servers).enumerate() {
            let o = &s.opts;
            if o.agent_check == Some(true) {
                agents.push(agent_plan(cfg, px, s, sp, b, i, resolve)?);
            }
            if (o.agent_check != Some(true) || o.check != Some(true))
                && (o.port.is_some()
                    || o.addr.is_some()
                    || o.agent_port.is_some()
                    || o.agent_addr.is_some())
            {
                // A name that does not resolve leaves the column empty:
                // nothing connects there.
                let ip = |a: Option<&str>| a.and_then(|a| resolve(a).ok());
                configured.push(Configured {
                    backend: b,
                    server: i,
                    check_addr: ip(o.addr.as_deref()),
                    check_port: o.port.unwrap_or(0),
                    agent_addr: ip(o.agent_addr.as_deref().or(o.addr.as_deref())),
                    agent_port: o.agent_port.or(o.port).unwrap_or(0),
                });
            }
            if o.check != Some(true) {
                continue;
            }
            let inter = o.inter.filter(|d| !d.is_zero()).unwrap_or(DEFAULT_INTER);
            let rise = o.rise.unwrap_or(DEFAULT_RISE).max(1);
            let fall = o.fall.unwrap_or(DEFAULT_FALL).max(1);
            let maint = sp.state.get().admin & crate::engine::backend::server::admin::MAINT != 0;
            // init-state (3.x): fully-up starts with no failure counted,
            // down one success short of rise, fully-down at 0.
            let mut initial = Health::new(rise, fall, !maint);
            let init = init_state(px, s)
                .and_then(|d| d.args.first())
                .map(String::as_str);
            match init {
                Some("fully-up") if !maint => initial.health = rise + fall - 1,
                Some("down") | Some("fully-down") => {
                    initial.health = if init == Some("down") { rise - 1 } else { 0 };
                    sp.state.apply(crate::engine::backend::server::Change::Oper(
                        crate::engine::backend::server::Oper::Stopped,
                    ));
                }
                _ => {}
            }
            out.push(CheckPlan {
                backend: b,
                server: i,
                ctl: control(px, s, &sp.conf().addr, resolve)?,
                tuning: arc_swap::ArcSwap::from_pointee(Tuning {
                    intervals: Intervals {
                        inter,
                        fastinter: o.fastinter.filter(|d| !d.is_zero()),
                        downinter: o.downinter.filter(|d| !d.is_zero()),
                    },
                    rise,
                    fall,
                    send_proxy: send_proxy(o),
                    proxy_v2: matches!(
                        o.send_proxy,
                        Some(Some(ringlb_config::model::ProxyProtocol::V2))
                    ),
                }),
                timeout_check: px.timeouts.check,
                timeout_connect: px.timeouts.connect,
                kind: kind(px, resolve)?,
                log_health: px.options.is_set("log-health-checks"),
                spread: u32::from(cfg.global.spread_checks.unwrap_or(0).min(50)),
                first: Duration::ZERO,
                trackers: Vec::new(),
                initial,
                last: health::Last::default(),
                health_now: std::sync::atomic::AtomicU32::new(initial.health),
            });
        }
        // What the checks of the slots `add server` grows start from (a
        // backend whose check kind cannot be built gives them none: `add
        // server` then refuses `check`). An added server's first check
        // waits for `enable health`: it takes no part in the spread.
        added.push(be.dynamic.then(|| {
            Box::new(Added {
                kind: kind(px, resolve).ok(),
                timeout_check: px.timeouts.check,
                timeout_connect: px.timeouts.connect,
                log_health: px.options.is_set("log-health-checks"),
                spread: u32::from(cfg.global.spread_checks.unwrap_or(0).min(50)),
                configured: be.servers.len(),
                slots: Default::default(),
            })
        }));
    }
    spread_first_checks(&mut out, &mut agents, max_spread(cfg));
    let links = track_links(cfg);
    for c in &mut out {
        let me = (c.backend, c.server);
        c.trackers = trackers_of(me, &links, &mut vec![me]);
        if !c.initial.is_up() {
            stop_trackers(backends, &c.trackers);
        }
    }
    let node = cfg.global.node.clone().unwrap_or_else(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default()
    });
    for a in &mut agents {
        let me = (a.backend, a.server);
        a.trackers = trackers_of(me, &links, &mut vec![me]);
    }
    Ok(Checks {
        list: out,
        agents,
        backends: logs,
        node,
        configured,
        added_tracks: std::sync::atomic::AtomicUsize::new(0),
        added,
    })
}

/// Added slot `i` of backend `b`'s check: vacant.
fn vacant_check(a: &Added, b: usize, i: usize, kind: Kind) -> CheckPlan {
    let tuning = Tuning::default();
    let initial = Health::new(tuning.rise, tuning.fall, false);
    CheckPlan {
        backend: b,
        server: i,
        ctl: control::Control::vacant(),
        tuning: arc_swap::ArcSwap::from_pointee(tuning),
        timeout_check: a.timeout_check,
        timeout_connect: a.timeout_connect,
        kind,
        log_health: a.log_health,
        spread: a.spread,
        first: Duration::ZERO,
        trackers: Vec::new(),
        initial,
        last: health::Last::default(),
        health_now: std::sync::atomic::AtomicU32::new(initial.health),
    }
}

/// Added slot `i` of backend `b`'s agent: vacant.
fn vacant_agent(a: &Added, b: usize, i: usize) -> agent::AgentPlan {
    agent::AgentPlan {
        backend: b,
        server: i,
        ctl: control::Control::vacant(),
        inter_ms: std::sync::atomic::AtomicU64::new(
            u64::try_from(DEFAULT_INTER.as_millis()).unwrap_or(2000),
        ),
        send: Vec::new(),
        new_send: control::SendSlot::default(),
        timeout_check: a.timeout_check,
        timeout_connect: a.timeout_connect,
        first: Duration::ZERO,
        log_health: a.log_health,
        spread: a.spread,
        trackers: Vec::new(),
        health: std::sync::atomic::AtomicU32::new(agent::AGENT_RISE),
        last: health::Last::default(),
    }
}

/// Server `s`'s agent check: `agent-addr` (else `addr`, else the
/// server's address), `agent-port` (else `port`), `agent-inter` (else
/// `inter`), `agent-send`.
fn agent_plan(
    cfg: &Config,
    px: &Proxy,
    s: &ServerConf,
    sp: &crate::engine::plan::ServerPlan,
    b: usize,
    i: usize,
    resolve: &dyn Fn(&str) -> Result<IpAddr, String>,
) -> Result<agent::AgentPlan, String> {
    let o = &s.opts;
    let spread = u32::from(cfg.global.spread_checks.unwrap_or(0).min(50));
    let err = |e: String| {
        format!(
            "backend '{}', server '{}': agent-check {e}",
            px.name, s.name
        )
    };
    // agent.addr: `agent-addr`, else `addr` (srv_parse_addr).
    let ip = match o.agent_addr.as_deref().or(o.addr.as_deref()) {
        Some(a) => Some(resolve(a).map_err(err)?),
        None if matches!(sp.conf().addr, ServerAddr::Unix(_)) => {
            return Err(err("on a UNIX socket server needs agent-addr".into()))
        }
        None => None,
    };
    let port = o
        .agent_port
        .or(o.port)
        .ok_or_else(|| err("has no agent port".to_string()))?;
    let inter = o
        .agent_inter
        .or(o.inter)
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_INTER);
    Ok(agent::AgentPlan {
        backend: b,
        server: i,
        ctl: control::Control::new(base_target(&sp.conf().addr), ip, port),
        inter_ms: std::sync::atomic::AtomicU64::new(
            u64::try_from(inter.as_millis()).unwrap_or(u64::MAX),
        ),
        send: o.agent_send.clone().unwrap_or_default().into_bytes(),
        new_send: control::SendSlot::default(),
        timeout_check: px.timeouts.check,
        timeout_connect: px.timeouts.connect,
        first: Duration::ZERO,
        log_health: px.options.is_set("log-health-checks"),
        spread,
        trackers: Vec::new(),
        health: std::sync::atomic::AtomicU32::new(agent::AGENT_RISE),
        last: health::Last::default(),
    })
}

/// The trackers of a server that starts down start down too.
fn stop_trackers(backends: &[BackendPlan], trackers: &[Tracker]) {
    use crate::engine::backend::server::{Change, Oper};
    for t in trackers {
        if let Some(s) = backends
            .get(t.backend)
            .and_then(|b| b.servers.get(t.server))
        {
            s.state.apply(Change::Oper(Oper::Stopped));
        }
        stop_trackers(backends, &t.trackers);
    }
}

/// `max-spread-checks <delay>` (milliseconds by default).
fn max_spread(cfg: &Config) -> Option<Duration> {
    let d = cfg
        .global
        .directives
        .iter()
        .rev()
        .find(|d| d.keyword == "max-spread-checks")?;
    let a = d.args.first()?;
    ringlb_config::units::parse_duration(a, ringlb_config::units::TimeUnit::Millis)
        .ok()
        .filter(|d| !d.is_zero())
}

/// start_checks / start_check_task: the checks and agents of the server
/// at position n (among the servers with either) start at
/// max(mininter, its interval) × n / N, where N counts the checks and the
/// agents and mininter is the smallest interval of at least a second,
/// capped by `max-spread-checks`.
fn spread_first_checks(
    checks: &mut [CheckPlan],
    agents: &mut [agent::AgentPlan],
    cap: Option<Duration>,
) {
    let n = u32::try_from(checks.len() + agents.len()).unwrap_or(u32::MAX);
    let mininter = checks
        .iter()
        .map(CheckPlan::start_inter)
        .chain(agents.iter().map(agent::AgentPlan::inter))
        .filter(|i| *i >= INTER_THRES)
        .min();
    let mut servers: Vec<ServerId> = checks
        .iter()
        .map(|c| (c.backend, c.server))
        .chain(agents.iter().map(|a| (a.backend, a.server)))
        .collect();
    servers.sort_unstable();
    servers.dedup();
    let pos =
        |id: ServerId| u32::try_from(servers.binary_search(&id).unwrap_or(0)).unwrap_or(u32::MAX);
    let first = |inter: Duration, at: u32| {
        let mut base = inter;
        if let Some(m) = mininter {
            base = base.max(m);
        }
        if let Some(cap) = cap {
            base = base.min(cap);
        }
        base * at / n.max(1)
    };
    for c in checks.iter_mut() {
        c.first = first(c.start_inter(), pos((c.backend, c.server)));
    }
    for a in agents.iter_mut() {
        a.first = first(a.inter(), pos((a.backend, a.server)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The configured checks (not the added slots' vacant ones).
    fn checks(text: &str) -> Vec<CheckPlan> {
        let list = crate::engine::plan::tests::plan(text).checks.list;
        list.into_iter().filter(|c| c.ctl.configured()).collect()
    }

    #[test]
    fn added_slots_get_vacant_checks_and_agents_when_grown() {
        let p = crate::engine::plan::tests::plan(
            "backend be\n    server a 127.0.0.1:1 check\nbackend st\n    balance static-rr\n    server b 127.0.0.1:2 check\n",
        );
        let c = &p.checks;
        assert_eq!(c.list.len(), 2, "nothing made for slots not grown");
        assert!(c.agents.is_empty());
        assert!(c.slot_check(0, 1).is_none() && c.slot_agent(0, 1).is_none());
        assert!(c.added_kind(0).is_some() && c.added_kind(1).is_none());
        assert!(c.grow(0, 1));
        assert!(
            c.slot_check(0, 1).is_none(),
            "made for a server that has one"
        );
        c.prepare(0, 1, true, false);
        assert!(c.slot_check(0, 1).is_some() && c.slot_agent(0, 1).is_none());
        c.prepare(0, 1, true, true);
        assert!(c.check_of(0, 1).is_none() && c.slot_check(0, 1).is_some());
        assert!(c.agent_of(0, 1).is_none() && c.slot_agent(0, 1).is_some());
        assert_eq!(
            c.take_spawn(0, 1, TASK_CHECK | TASK_WARMUP),
            TASK_CHECK | TASK_WARMUP
        );
        assert_eq!(
            c.take_spawn(0, 1, TASK_CHECK | TASK_AGENT),
            TASK_AGENT,
            "spawned once"
        );
        // Given to a server, configured and still disabled.
        let k = c.slot_check(0, 1).unwrap();
        assert!(!k.ctl.enabled() && k.first.is_zero() && (k.backend, k.server) == (0, 1));
        let e = k.ctl.epoch();
        k.ctl
            .configure(("127.0.0.1".parse().unwrap(), 80), None, 81);
        assert!(k.ctl.configured() && !k.ctl.enabled() && k.ctl.epoch() != e);
        assert_eq!(k.target(), Target::Inet("127.0.0.1:81".parse().unwrap()));
        assert!(!k.ctl.paused(true), "created in maintenance: not paused");
        k.ctl.left_maint();
        assert!(k.ctl.paused(true));
        k.ctl.unconfigure();
        assert!(c.check_of(0, 1).is_none());
        // A configured slot keeps its own; past the most, no room.
        assert!(c.grow(0, 0) && c.check_of(0, 0).is_some());
        assert!(!c.grow(0, 1 + crate::engine::plan::ADDED_SERVERS));
    }

    #[test]
    fn checked_servers_get_haproxy_s_defaults_and_spread() {
        let c = checks(
            "backend be\n    option httpchk GET /h\n    server a 127.0.0.1:1 check\n    server b 127.0.0.1:2 check inter 3s fastinter 1s rise 3 fall 1 port 9 addr 127.0.0.2\n    server c 127.0.0.1:3\n",
        );
        assert_eq!(c.len(), 2);
        let (a, b) = (&c[0], &c[1]);
        let (at, bt) = (a.tune(), b.tune());
        assert_eq!(
            (at.rise, at.fall, at.intervals.inter),
            (2, 3, DEFAULT_INTER)
        );
        assert_eq!(a.first, Duration::ZERO);
        assert_eq!(b.target(), Target::Inet("127.0.0.2:9".parse().unwrap()));
        assert_eq!((bt.rise, bt.fall), (3, 1));
        // mininter is a's 2s; b's own start interval is its inter (fall 1:
        // fully up), 3s: it starts at 3s × 1/2.
        assert_eq!(b.first, Duration::from_millis(1500));
        // max-spread-checks caps the spread of the first checks.
        let c = checks(
            "global\n    max-spread-checks 1s\nbackend be\n    server a 127.0.0.1:1 check inter 10s\n    server b 127.0.0.1:2 check inter 10s\n",
        );
        assert_eq!(c[1].first, Duration::from_millis(500));
        let Kind::TcpCheck(h) = &a.kind else {
            panic!("an HTTP check")
        };
        let tcpcheck::Action::HttpSend(req) = &h.rules[1].action else {
            panic!("a request")
        };
        assert_eq!(req.fixed.as_deref(), Some(&b"GET /h HTTP/1.0\r\n\r\n"[..]));
    }
}

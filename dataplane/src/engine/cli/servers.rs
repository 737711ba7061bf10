//! The runtime API's commands on servers that change at run time: `set
//! server <b>/<s> addr`, `add server`, `del server` and `wait
//! srv-removable`, with haproxy 2.6's answers.
//!
//! Every per-server array (counters, mesh flags, queues, balancers, idle
//! lists, checks) has one entry per slot of `BackendPlan::servers`: the
//! configured servers' are laid out at start-up, and a backend whose
//! algorithm takes dynamic servers grows more for `add server` (see
//! `runtime::grow`: buckets that never move, read without a lock). `add
//! server` takes a vacant slot, or grows one: the shared arrays first,
//! here, then every core its own when it handles [`SlotOp::Fill`] (which
//! also makes it forget what it kept of a reused slot: counters, idle
//! connections, the name its logs print), and the slot's owner core
//! spawns then the check, agent and warm-up tasks the server needs. `del
//! server` empties a slot, which stays for the next `add server`. A
//! slot's name, address and id are a `ServerConf` behind an `ArcSwap`,
//! which the cores read lock-free; its state word carries the `VACANT`
//! admin flag while empty, so nothing picks, shows or checks it.

use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::table::{Ctx, Later};
use super::{Ask, Reply, Static, ASK_WITHIN, LOG_WARNING};
use crate::engine::backend::server::{admin, Change, Oper};
use crate::engine::checks::{tcpcheck, Kind, Tuning};
use crate::engine::plan::{BackendPlan, ServerAddr, ServerConf, ServerPlan, ADDED_SERVERS};
use crate::engine::runtime::counters::Obj;
use crate::engine::runtime::mesh::Msg;
use crate::engine::runtime::Core;
use ringlb_config::model::{Observe, OnError};

/// What a core does to its own state of one server slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotOp {
    /// Close the server's idle connections (its address changed).
    DropIdle,
    /// Answer how many idle connections the server has here.
    CountIdle,
    /// `add server` fills the slot: room for it in the core's own
    /// arrays, its counters back to 0, no idle connection, the name the
    /// logs print taken from its configuration; the tasks the server
    /// needs (`checks::TASK_*`) spawned on the slot's owner core where
    /// they are not running yet.
    Fill(u8),
}

/// Room for slot (b, s) in `core`'s own arrays (a slot `add server`
/// grew): queues, idle lists, balancer, shutdowns, log names. Only
/// `core` touches them, so this is its own affair, between two messages.
fn grow_here(core: &Core, b: usize, s: usize) {
    if let Some(q) = core.queues.get(b) {
        q.borrow_mut().grow(s);
    }
    core.idle.grow(b, s);
    if let Some(bal) = core.balancers.get(b) {
        bal.borrow_mut().grow(s);
    }
    if let Some(sh) = core.shutdowns.get(b) {
        sh.grow_to(s, Default::default);
    }
    if let Some(names) = core.names.servers.get(b) {
        let mut names = names.borrow_mut();
        if names.len() <= s {
            names.resize(s + 1, Rc::from(""));
        }
    }
}

/// Room for slot (b, s) in the arrays every core shares: the server, its
/// counters, mesh flags, queue heads, check and agent (`add server`,
/// before any core hears of the slot). False past the most a backend can
/// grow to.
fn grow_shared(core: &Core, b: usize, s: usize) -> bool {
    let shared = &core.shared;
    let Some(be) = shared.plan.backends.get(b) else {
        return false;
    };
    be.servers.grow_to(s, || ServerPlan::vacant(true)).is_some()
        && shared.stats.grow(b, s)
        && shared.mesh.grow(b, s)
        && shared.queue_heads.get(b).is_some_and(|q| q.grow(s))
        && shared.plan.checks.grow(b, s)
}

/// An [`Ask::Slot`] reached `core`.
pub fn on_core(core: &Rc<Core>, b: usize, s: usize, op: SlotOp) -> usize {
    match op {
        SlotOp::DropIdle => {
            core.idle.drop_server(b, s);
            0
        }
        SlotOp::CountIdle => core.idle.count(b, s),
        SlotOp::Fill(tasks) => {
            grow_here(core, b, s);
            crate::engine::checks::spawn_added(core, b, s, tasks);
            core.shared.stats.clear_server(core.id, b, s);
            core.idle.drop_server(b, s);
            let name = core
                .shared
                .plan
                .backends
                .get(b)
                .and_then(|be| be.servers.get(s))
                .map(|sv| Rc::<str>::from(sv.conf().name.as_str()));
            if let (Some(names), Some(name)) = (core.names.servers.get(b), name) {
                if let Some(n) = names.borrow_mut().get_mut(s) {
                    *n = name;
                }
            }
            0
        }
    }
}

/// Ask every core to do `op` on slot (b, s); the answers.
async fn ask_slot(core: &Core, b: usize, s: usize, op: SlotOp) -> Vec<usize> {
    let asked = core
        .shared
        .mesh
        .ask_all(|reply| Msg::Cli(Ask::Slot(b, s, op, reply)));
    asked.wait(&core.timers, ASK_WITHIN).await
}

/// `backend/server` split as HAProxy does (at the first `/`); None when
/// there is no server part.
fn split(arg: &str) -> Option<(&str, &str)> {
    arg.split_once('/').filter(|(_, s)| !s.is_empty())
}

/// A server present (not vacant) in `be` by name.
fn present(be: &BackendPlan, name: &str) -> Option<usize> {
    be.servers
        .iter()
        .position(|x| !x.is_vacant() && x.conf().name == name)
}

// ---------------------------------------------------------------------------
// set server <b>/<s> addr <ip> [port <port>]
// ---------------------------------------------------------------------------

/// HAProxy's view of a server address: its IP, its port (`svc_port`) and
/// whether the port is an offset (SRV_F_MAPPORTS).
fn svc(addr: &ServerAddr) -> Option<(IpAddr, i32, bool)> {
    match addr {
        ServerAddr::Fixed(a) => Some((a.ip(), i32::from(a.port()), false)),
        ServerAddr::SamePort(ip) => Some((*ip, 0, false)),
        ServerAddr::PortOffset(ip, off) => Some((*ip, *off, true)),
        ServerAddr::Unix(_) => None,
    }
}

/// strtol's reading of a port: optional sign, then digits (what follows
/// is ignored); None when no digit came.
fn strtol(text: &str) -> Option<i64> {
    let t = text.trim_start();
    let (neg, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let v = rest[..digits].bytes().fold(0i64, |v, d| {
        v.saturating_mul(10).saturating_add(i64::from(d - b'0'))
    });
    Some(if neg { -v } else { v })
}

/// `set server <b>/<s> addr <ip> [port <port>]` (srv_update_addr_port):
/// new connections go to the new address, the idle ones to the old one
/// are closed; HAProxy's report of what changed.
pub fn set_addr(c: &mut Ctx<'_>, b: usize, s: usize) -> Reply {
    let addr = c.arg(4).to_string();
    if addr.is_empty() {
        return Reply::err("set server <b>/<s> addr requires an address and optionally a port.\n");
    }
    let port = (c.arg(5) == "port").then(|| c.arg(6).to_string());
    let shared = &c.core.shared;
    let Some(sv) = shared.plan.backends.get(b).and_then(|be| be.servers.get(s)) else {
        return Reply::err("No such server.\n");
    };
    let conf = sv.conf();
    // The check's own port now (`set server check-port` may have set one).
    let check_port = shared
        .plan
        .checks
        .check_of(b, s)
        .map_or(sv.check_port, |c| Some(c.ctl.port()).filter(|p| *p != 0))
        .or_else(|| {
            conf.probes
                .as_ref()
                .map(|p| p.check_port)
                .filter(|p| *p != 0)
        });
    let (mut msg, new) = update_addr(&conf.addr, &addr, port.as_deref(), check_port);
    if let Some(new) = new {
        // A check or agent without an address or port of its own follows
        // the server at its next run (HAProxy's checks read the server's
        // address at each connect).
        match &new {
            ServerAddr::Fixed(a) => shared.plan.checks.server_moved(b, s, a.ip(), a.port()),
            ServerAddr::SamePort(ip) | ServerAddr::PortOffset(ip, _) => {
                shared.plan.checks.server_moved(b, s, *ip, 0);
            }
            ServerAddr::Unix(_) => {}
        }
        let mut next = ServerConf::clone(&conf);
        next.addr = new;
        sv.conf.store(Arc::new(next));
        // The idle connections go to the old address (HAProxy's
        // srv_cleanup_connections): every core closes its own. Nobody
        // waits for the answers.
        let _ = shared
            .mesh
            .ask_all(|reply| Msg::Cli(Ask::Slot(b, s, SlotOp::DropIdle, reply)));
        // Only the stats and the checks read the address besides the
        // connect path; the generation tells the cores something changed.
        shared.touch_backend(b);
    }
    msg.push_str(" by 'stats socket command'\n");
    Reply::Msg(LOG_WARNING, msg)
}

/// srv_update_addr_port: the message, and the new address when anything
/// changed. `check_port`: the check's own `port` (HAProxy refuses to move
/// to a port offset without one).
fn update_addr(
    cur: &ServerAddr,
    addr: &str,
    port: Option<&str>,
    check_port: Option<u16>,
) -> (String, Option<ServerAddr>) {
    let Ok(ip) = addr.parse::<IpAddr>() else {
        return (format!("Invalid addr '{addr}'"), None);
    };
    let Some((cur_ip, cur_port, mapports)) = svc(cur) else {
        return (
            "Update for the current server address family is only supported through configuration file".into(),
            None,
        );
    };
    let mut msg = String::new();
    let (mut new_ip, mut new_port, mut new_map) = (cur_ip, cur_port, mapports);
    let mut changed = false;
    if ip == cur_ip {
        msg.push_str("no need to change the addr");
    } else {
        new_ip = ip;
        changed = true;
        msg = format!("IP changed from '{cur_ip}' to '{addr}'");
    }
    if let Some(port) = port {
        msg.push_str(", ");
        let Some(v) = strtol(port) else {
            msg.push_str(&format!("problem converting port '{port}' to an int"));
            return (msg, changed.then(|| build(new_ip, new_port, new_map)));
        };
        // HAProxy keeps the port in a uint16_t.
        let wrapped = i32::from(u16::try_from(v.rem_euclid(65536)).unwrap_or(0));
        let sign = port.trim_start().as_bytes().first().copied();
        let offset = matches!(sign, Some(b'+' | b'-'));
        let required = if offset && !mapports {
            if check_port.is_none() {
                msg.push_str("can't change <port> to port map because it is incompatible with current health check port configuration (use 'port' statement from the 'server' directive.");
                return (msg, changed.then(|| build(new_ip, new_port, new_map)));
            }
            true
        } else {
            // HAProxy compares its svc_port (a uint16_t once stored) with
            // the value read.
            cur_port.rem_euclid(65536) != wrapped
        };
        if required {
            changed = true;
            msg.push_str("port changed from '");
            if mapports {
                msg.push('+');
            }
            msg.push_str(&format!("{cur_port}' to '"));
            match sign {
                Some(b'-') => {
                    msg.push_str(&format!("-{}'", -v));
                    new_port = i32::try_from(v).unwrap_or(0);
                    new_map = true;
                }
                Some(b'+') => {
                    msg.push_str(&format!("+{v}'"));
                    new_port = i32::try_from(v).unwrap_or(0);
                    new_map = true;
                }
                _ => {
                    msg.push_str(&format!("{wrapped}'"));
                    new_port = wrapped;
                    new_map = false;
                }
            }
        } else {
            msg.push_str("no need to change the port");
        }
    }
    (msg, changed.then(|| build(new_ip, new_port, new_map)))
}

fn build(ip: IpAddr, port: i32, map: bool) -> ServerAddr {
    if map {
        ServerAddr::PortOffset(ip, port)
    } else {
        match u16::try_from(port) {
            Ok(0) | Err(_) => ServerAddr::SamePort(ip),
            Ok(p) => ServerAddr::Fixed(SocketAddr::new(ip, p)),
        }
    }
}

// ---------------------------------------------------------------------------
// add server / del server
// ---------------------------------------------------------------------------

thread_local! {
    /// Slots an `add server` took and is filling (it waits for every core
    /// meanwhile, and another CLI session may run): (backend, slot, name).
    static FILLING: RefCell<Vec<(usize, usize, String)>> = const { RefCell::new(Vec::new()) };
}

/// Gives a taken slot back when the `add server` that took it ends.
struct Taken(usize, usize);

impl Drop for Taken {
    fn drop(&mut self) {
        FILLING.with(|f| f.borrow_mut().retain(|x| (x.0, x.1) != (self.0, self.1)));
    }
}

/// The server keywords haproxy 2.6 refuses on a dynamic server
/// (`dynamic_ok` 0 in its keyword tables).
const NOT_DYNAMIC: &[&str] = &[
    "no-check-ssl",
    "no-send-proxy-v2-ssl",
    "no-send-proxy-v2-ssl-cn",
    "no-ssl",
    "ssl-reuse",
    "tcp-ut",
    "no-agent-check",
    "no-check",
    "no-check-send-proxy",
    "cookie",
    "init-addr",
    "log-proto",
    "max-reuse",
    "namespace",
    "non-stick",
    "redir",
    "resolve-net",
    "resolve-opts",
    "resolve-prefer",
    "resolvers",
    "stick",
    "socks4",
];

/// The ones it accepts there that ringlb does not give an added server
/// yet (each would need its setting to become changeable per slot).
const NOT_YET: &[&str] = &[
    "proxy-v2-options",
    "send-proxy",
    "send-proxy-v2",
    "check-via-socks4",
    "allow-0rtt",
    "alpn",
    "ca-file",
    "check-alpn",
    "check-sni",
    "check-ssl",
    "ciphers",
    "ciphersuites",
    "crl-file",
    "crt",
    "force-sslv3",
    "force-tlsv10",
    "force-tlsv11",
    "force-tlsv12",
    "force-tlsv13",
    "no-sslv3",
    "no-tlsv10",
    "no-tlsv11",
    "no-tlsv12",
    "no-tlsv13",
    "no-ssl-reuse",
    "no-tls-tickets",
    "npn",
    "send-proxy-v2-ssl",
    "send-proxy-v2-ssl-cn",
    "sni",
    "ssl",
    "ssl-min-ver",
    "ssl-max-ver",
    "tls-tickets",
    "verify",
    "verifyhost",
];

/// What `add server` was asked for.
#[derive(Debug, Default)]
struct NewServer {
    addr: Option<ServerAddr>,
    weight: u32,
    maxconn: u32,
    /// `disabled` (Some(false)) or `enabled` (Some(true)), the last one
    /// given; None: in maintenance, as haproxy creates it.
    enabled: Option<bool>,
    id: Option<u32>,
    /// `check`, and what tunes it (`inter`, `rise`...: HAProxy's
    /// defaults where not given).
    check: bool,
    tuning: Tuning,
    /// `port` and `addr`: the check's own.
    check_port: u16,
    check_addr: Option<IpAddr>,
    /// Whether `port` or `addr` was given.
    check_target: bool,
    /// `agent-check` and its `agent-port`, `agent-addr`, `agent-send`,
    /// `agent-inter`.
    agent: bool,
    agent_port: Option<u16>,
    agent_addr: Option<IpAddr>,
    agent_send: Option<String>,
    agent_inter: Option<Duration>,
    /// `backup` (the last of `backup` and `no-backup`).
    backup: bool,
    maxqueue: u32,
    minconn: u32,
    /// `tfo`.
    tfo: bool,
    /// `pool-max-conn` (Some(None): -1, no limit), `pool-purge-delay`,
    /// `pool-low-conn`; unset: HAProxy's documented defaults.
    pool_max_conn: Option<Option<usize>>,
    pool_purge_delay: Option<Duration>,
    pool_low_conn: Option<usize>,
    /// `on-marked-down shutdown-sessions`, `on-marked-up
    /// shutdown-backup-sessions`.
    shutdown_down: bool,
    shutdown_up: bool,
    /// `observe` (Some(None): `none`), `on-error`, `error-limit`.
    observe: Option<Observe>,
    on_error: Option<OnError>,
    error_limit: Option<u32>,
    /// `check-send-proxy`.
    check_send_proxy: bool,
    /// `slowstart`, in whole seconds.
    slowstart: u32,
    /// `source` (with `usesrc`, `interface`).
    source: Option<crate::engine::plan::SourcePlan>,
    /// `track [<backend>/]<server>`, as written (the last one given).
    track: Option<String>,
    /// `proto` and `check-proto` (the last of each).
    proto: Option<String>,
    check_proto: Option<String>,
}

impl NewServer {
    /// The agent's address and port: its own, else `addr` and `port`
    /// (which set both, srv_parse_addr / srv_parse_check_port).
    fn agent_target(&self) -> (Option<IpAddr>, u16) {
        (
            self.agent_addr.or(self.check_addr),
            self.agent_port.unwrap_or(self.check_port),
        )
    }

    /// What `show servers state` prints of the check and agent targets.
    fn probes(&self, b: usize, s: usize) -> Option<crate::engine::checks::Configured> {
        let given = self.check_target || self.agent_port.is_some() || self.agent_addr.is_some();
        let (agent_addr, agent_port) = self.agent_target();
        given.then_some(crate::engine::checks::Configured {
            backend: b,
            server: s,
            check_addr: self.check_addr,
            check_port: self.check_port,
            agent_addr,
            agent_port,
        })
    }
}

/// A delay argument of a check keyword (srv_parse_check_inter's words).
fn delay(kw: &str, val: &str, name: &str) -> Result<Duration, String> {
    use ringlb_config::units::{parse_duration, TimeUnit};
    if val.is_empty() {
        return Err(format!("'{kw}' expects a delay as argument..\n"));
    }
    match parse_duration(val, TimeUnit::Millis) {
        Ok(d) if d.is_zero() => Err(format!(
            "invalid value 0 for argument '{kw}' of server {name}..\n"
        )),
        Ok(d) if d < Duration::from_millis(1) => Err(format!(
            "timer underflow in argument <{val}> to <{kw}> of server {name}, minimum non-null value is 1 ms..\n"
        )),
        Ok(d) => Ok(d),
        Err(e) if e.starts_with("timer overflow") || e.contains("too large") => Err(format!(
            "timer overflow in argument <{val}> to <{kw}> of server {name}, maximum value is 2147483647 ms (~24.8 days)..\n"
        )),
        Err(_) => {
            let c = val
                .chars()
                .find(|c| !c.is_ascii_digit())
                .unwrap_or(' ');
            // haproxy 2.6 names 'agent-inter' here whatever the keyword.
            Err(format!(
                "unexpected character '{c}' in 'agent-inter' argument of server {name}..\n"
            ))
        }
    }
}

/// `rise` and `fall` (srv_parse_check_rise / _fall).
fn count(kw: &str, val: &str) -> Result<u32, String> {
    if val.is_empty() {
        return Err(format!("'{kw}' expects an integer argument..\n"));
    }
    u32::try_from(atol(val))
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("'{kw}' has to be > 0..\n"))
}

/// A C long stored in an int: its low 32 bits, signed.
fn as_int(v: i64) -> i32 {
    let low = v.rem_euclid(1 << 32);
    i32::try_from(if low >= 1 << 31 { low - (1 << 32) } else { low }).unwrap_or(0)
}

/// srv_parse_pool_purge_delay: a delay (0 allowed), HAProxy's words.
fn purge_delay(val: &str) -> Result<Duration, String> {
    use ringlb_config::units::{parse_duration, TimeUnit};
    const KW: &str = "pool-purge-delay";
    if val.is_empty() {
        return Err(format!("'{KW}' expects <value> as argument..\n"));
    }
    match parse_duration(val, TimeUnit::Millis) {
        Ok(d) if d > Duration::from_millis(2_147_483_647) => Err(format!(
            "timer overflow in argument '{val}' to '{KW}' (maximum value is 2147483647 ms or ~24.8 days).\n"
        )),
        Ok(d) => Ok(d),
        Err(e) if e.starts_with("timer overflow") || e.contains("too large") => Err(format!(
            "timer overflow in argument '{val}' to '{KW}' (maximum value is 2147483647 ms or ~24.8 days).\n"
        )),
        Err(_) => {
            let c = val.chars().find(|c| !c.is_ascii_digit()).unwrap_or(' ');
            Err(format!("unexpected character '{c}' in argument to <{KW}>..\n"))
        }
    }
}

/// atol: leading blanks, a sign, digits; 0 when none.
fn atol(text: &str) -> i64 {
    strtol(text).unwrap_or(0)
}

/// The server line after `add server <b>/<s>`: the address, then the
/// keywords ringlb gives an added server; HAProxy's words for what it
/// refuses, ringlb's for what is not supported yet.
fn parse_new(
    be: &BackendPlan,
    name: &str,
    args: &[String],
    connects_with_port: bool,
) -> Result<NewServer, String> {
    if let Some(ch) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
    {
        return Err(format!(
            "character '{ch}' is not permitted in server name '{name}'.\n"
        ));
    }
    let Some(text) = args.first() else {
        return Err("'server' expects <name> and <addr>[:<port>] as arguments.\n".into());
    };
    let rules = ringlb_config::addr::AddrRules {
        port_required: false,
        port_range: false,
        port_offset: true,
        names: false,
    };
    use ringlb_config::addr::{Address, Host, Port, Transport};
    let with_range = ringlb_config::addr::AddrRules {
        port_range: true,
        ..rules
    };
    let parsed = ringlb_config::addr::parse_address(text, with_range)
        .map_err(|e| format!("'server {name}' : {e}\n"))?;
    let addr = match parsed {
        Address::Inet {
            host: Host::Ip(ip),
            port,
            ..
        } => match port {
            Port::One(p) => ServerAddr::Fixed(SocketAddr::new(ip, p)),
            Port::None => ServerAddr::SamePort(ip),
            Port::Offset(o) => ServerAddr::PortOffset(ip, o),
            Port::Range(..) => {
                return Err(format!("port range not permitted here in '{text}'\n"))
            }
        },
        Address::Unix {
            path,
            transport: Transport::Stream,
        } => ServerAddr::Unix(std::path::PathBuf::from(path)),
        // Resolving a name would block the core the CLI runs on.
        Address::Inet { .. } => {
            return Err(format!(
                "'server {name}' : a host name ('{text}') is not supported yet on a server added at run time.\n"
            ))
        }
        _ => {
            return Err(format!(
                "'server {name}' : address '{text}' is not supported yet on a server added at run time.\n"
            ))
        }
    };
    let mut n = NewServer {
        addr: Some(addr),
        weight: 1,
        ..NewServer::default()
    };
    let mut inter = None;
    let mut i = 1;
    while let Some(kw) = args.get(i) {
        let val = args.get(i + 1).map_or("", String::as_str);
        match kw.as_str() {
            "weight" => {
                let w = atol(val);
                if !(0..=256).contains(&w) {
                    return Err(format!(
                        "weight of server {name} is not within 0 and 256 ({w})..\n"
                    ));
                }
                n.weight = u32::try_from(w).unwrap_or(1);
                i += 2;
            }
            "maxconn" => {
                n.maxconn = u32::try_from(atol(val)).unwrap_or(0);
                i += 2;
            }
            "id" => {
                if val.is_empty() {
                    return Err(format!("'{kw}' : expects an integer argument.\n"));
                }
                let id = u32::try_from(atol(val))
                    .ok()
                    .filter(|&x| x > 0)
                    .ok_or_else(|| format!("'{kw}' : custom id has to be > 0.\n"))?;
                if let Some(other) = be
                    .servers
                    .iter()
                    .find(|x| !x.is_vacant() && x.conf().id == id)
                {
                    let o = other.conf();
                    return Err(format!(
                        "'{kw}' : custom id {id} already used at {} ('server {}').\n",
                        o.loc, o.name
                    ));
                }
                n.id = Some(id);
                i += 2;
            }
            "disabled" => {
                n.enabled = Some(false);
                i += 1;
            }
            "enabled" => {
                n.enabled = Some(true);
                i += 1;
            }
            "check" => {
                n.check = true;
                i += 1;
            }
            "inter" => {
                inter = Some(delay(kw, val, name)?);
                i += 2;
            }
            "fastinter" => {
                n.tuning.intervals.fastinter = Some(delay(kw, val, name)?);
                i += 2;
            }
            "downinter" => {
                n.tuning.intervals.downinter = Some(delay(kw, val, name)?);
                i += 2;
            }
            "rise" => {
                n.tuning.rise = count(kw, val)?;
                i += 2;
            }
            "fall" => {
                n.tuning.fall = count(kw, val)?;
                i += 2;
            }
            "port" => {
                // srv_parse_check_port: atol, a port.
                if val.is_empty() {
                    return Err(format!("'{kw}' expects a port number as argument..\n"));
                }
                n.check_port = u16::try_from(atol(val))
                    .map_err(|_| format!("'{kw}' : invalid port number {}..\n", atol(val)))?;
                n.check_target = true;
                i += 2;
            }
            "addr" => {
                if val.is_empty() {
                    return Err(format!("'{kw}' expects <ipv4|ipv6> as argument..\n"));
                }
                let ip = val
                    .parse::<IpAddr>()
                    .map_err(|_| format!("'{kw}' : invalid address: '{val}' in '{val}'.\n"))?;
                n.check_addr = Some(ip);
                n.check_target = true;
                i += 2;
            }
            "agent-check" => {
                n.agent = true;
                i += 1;
            }
            "agent-port" => {
                if val.is_empty() {
                    return Err(format!("'{kw}' expects a port number as argument..\n"));
                }
                // atol into HAProxy's unsigned short.
                n.agent_port = Some(u16::try_from(atol(val).rem_euclid(65536)).unwrap_or(0));
                i += 2;
            }
            "agent-addr" => {
                if val.is_empty() {
                    return Err(format!("'{kw}' expects an address as argument..\n"));
                }
                n.agent_addr = Some(val.parse::<IpAddr>().map_err(|_| {
                    format!("parsing agent-addr failed. Check if '{val}' is correct address..\n")
                })?);
                i += 2;
            }
            "agent-send" => {
                if val.is_empty() {
                    return Err(format!("'{kw}' expects a string as argument..\n"));
                }
                n.agent_send = Some(val.to_string());
                i += 2;
            }
            "agent-inter" => {
                n.agent_inter = Some(delay(kw, val, name)?);
                i += 2;
            }
            "maxqueue" => {
                n.maxqueue = u32::try_from(atol(val)).unwrap_or(0);
                i += 2;
            }
            "tfo" => {
                n.tfo = true;
                i += 1;
            }
            "pool-max-conn" | "pool-low-conn" if val.is_empty() => {
                return Err(format!("'{kw}' expects <value> as argument..\n"));
            }
            // srv_parse_pool_max_conn: atol into an int.
            "pool-max-conn" => {
                let v = as_int(atol(val));
                if v < -1 {
                    return Err("'pool-max-conn' must be >= -1.\n".into());
                }
                n.pool_max_conn = Some(usize::try_from(v).ok());
                i += 2;
            }
            // srv_parse_pool_low_conn: atol into an unsigned int.
            "pool-low-conn" => {
                n.pool_low_conn = Some(usize::try_from(as_int(atol(val)) as u32).unwrap_or(0));
                i += 2;
            }
            "pool-purge-delay" => {
                n.pool_purge_delay = Some(purge_delay(val)?);
                i += 2;
            }
            "minconn" => {
                n.minconn = u32::try_from(atol(val)).unwrap_or(0);
                i += 2;
            }
            "on-marked-down" => {
                if val != "shutdown-sessions" {
                    return Err(format!(
                        "'{kw}' expects 'shutdown-sessions' but got '{val}'.\n"
                    ));
                }
                n.shutdown_down = true;
                i += 2;
            }
            "on-marked-up" => {
                if val != "shutdown-backup-sessions" {
                    return Err(format!(
                        "'{kw}' expects 'shutdown-backup-sessions' but got '{val}'.\n"
                    ));
                }
                n.shutdown_up = true;
                i += 2;
            }
            "observe" => {
                n.observe = match val {
                    "" => return Err(format!("'{kw}' expects <mode> as argument..\n")),
                    "none" => None,
                    "layer4" => Some(Observe::Layer4),
                    "layer7" if be.http.is_none() => {
                        return Err(format!("'{val}' can only be used in http proxies..\n"))
                    }
                    "layer7" => Some(Observe::Layer7),
                    _ => {
                        return Err(format!(
                            "'{kw}' expects one of 'none', 'layer4', 'layer7' but got '{val}'.\n"
                        ))
                    }
                };
                i += 2;
            }
            "on-error" => {
                n.on_error = Some(match val {
                    "fastinter" => OnError::FastInter,
                    "fail-check" => OnError::FailCheck,
                    "sudden-death" => OnError::SuddenDeath,
                    "mark-down" => OnError::MarkDown,
                    _ => {
                        return Err(format!(
                            "'{kw}' expects one of 'fastinter', 'fail-check', 'sudden-death' or 'mark-down' but got '{val}'.\n"
                        ))
                    }
                });
                i += 2;
            }
            "error-limit" => {
                if val.is_empty() {
                    return Err(format!("'{kw}' expects an integer argument..\n"));
                }
                // atoi into an int.
                let v = atol(val);
                if v <= 0 || v > i64::from(i32::MAX) {
                    return Err(format!("{kw} has to be > 0..\n"));
                }
                n.error_limit = u32::try_from(v).ok();
                i += 2;
            }
            "slowstart" => {
                use ringlb_config::units::{parse_duration, TimeUnit};
                // srv_parse_slowstart: milliseconds by default, kept in
                // seconds rounded up.
                let d = if val.is_empty() {
                    Duration::ZERO
                } else {
                    parse_duration(val, TimeUnit::Millis).map_err(|e| {
                        if e.starts_with("timer overflow") || e.contains("too large") {
                            format!("overflow in argument <{val}> to <{kw}> of server {name}, maximum value is 2147483647 ms (~24.8 days)..\n")
                        } else {
                            let c = val.chars().find(|c| !c.is_ascii_digit()).unwrap_or(' ');
                            format!("unexpected character '{c}' in 'slowstart' argument of server {name}..\n")
                        }
                    })?
                };
                if !d.is_zero() && d < Duration::from_millis(1) {
                    return Err(format!("underflow in argument <{val}> to <{kw}> of server {name}, minimum non-null value is 1 ms..\n"));
                }
                n.slowstart = u32::try_from(d.as_millis().div_ceil(1000)).unwrap_or(u32::MAX);
                i += 2;
            }
            "check-send-proxy" => {
                n.check_send_proxy = true;
                i += 1;
            }
            "source" => {
                let (src, next) = super::addsrc::source(args, i)?;
                n.source = Some(src);
                i = next;
            }
            "usesrc" => {
                return Err("'usesrc' only allowed after a 'source' statement..\n".into());
            }
            "track" => {
                if val.is_empty() {
                    return Err("'track' expects [<proxy>/]<server> as argument..\n".into());
                }
                n.track = Some(val.to_string());
                i += 2;
            }
            "proto" | "check-proto" => {
                super::addsrc::proto(kw, val)?;
                if kw == "proto" {
                    n.proto = Some(val.to_string());
                } else {
                    n.check_proto = Some(val.to_string());
                }
                i += 2;
            }
            "ws" => {
                super::addsrc::ws(val)?;
                i += 2;
            }
            "backup" | "no-backup" => {
                n.backup = kw == "backup";
                i += 1;
            }
            // Already what an added server is.
            "no-send-proxy" | "no-send-proxy-v2" => i += 1,
            "no-tfo" => {
                n.tfo = false;
                i += 1;
            }
            k if NOT_DYNAMIC.contains(&k) => {
                return Err(format!("'{k}' option is not accepted for dynamic server\n"));
            }
            k if NOT_YET.contains(&k) => {
                return Err(format!(
                    "'{k}' is not supported yet on a server added at run time.\n"
                ));
            }
            k => return Err(format!("unknown keyword '{k}'.\n")),
        }
    }
    if let Some(d) = inter {
        n.tuning.intervals.inter = d;
    }
    // _srv_parse_finalize's order.
    if n.check && n.track.is_some() {
        return Err("unable to enable checks and tracking at the same time!\n".into());
    }
    if n.agent {
        if n.agent_target().1 == 0 {
            return Err(format!(
                "server {name} does not have agent port. Agent check has been disabled.\n"
            ));
        }
        if matches!(n.addr, Some(ServerAddr::Unix(_))) && n.agent_target().0.is_none() {
            return Err(
                "'agent-check' is not supported yet on a UNIX socket server added at run time without 'agent-addr'.\n"
                    .into(),
            );
        }
    }
    if n.check {
        if matches!(n.addr, Some(ServerAddr::Unix(_))) {
            return Err(
                "'check' is not supported yet on a UNIX socket server added at run time.\n".into(),
            );
        }
        let has_port = matches!(n.addr, Some(ServerAddr::Fixed(_)));
        if n.check_port == 0 && !has_port && !connects_with_port {
            return Err(format!(
                "config: backend '{}': server '{name}' has neither service port nor check port nor tcp_check rule 'connect' with port information.\n",
                be.name
            ));
        }
    }
    Ok(n)
}

/// `add server <b>/<s> <addr> [kw ...]`: the server fills a vacant slot,
/// in maintenance as haproxy 2.6 creates it (`enable server` or `set
/// server ... state ready` brings it into the balance).
pub fn add_server(core: Rc<Core>, _: Rc<Static>, args: Vec<String>) -> Later {
    Box::pin(async move {
        if args.get(2).map(String::as_str) == Some("help") {
            return help();
        }
        let Some((bname, sname)) = split(args.get(2).map_or("", String::as_str)) else {
            return Reply::err("Require 'backend/server'.");
        };
        let plan = &core.shared.plan;
        let Some(b) = plan.backends.iter().position(|x| x.name == bname) else {
            return Reply::err("No such backend.");
        };
        let Some(be) = plan.backends.get(b) else {
            return Reply::err("No such backend.");
        };
        if !be.dynamic {
            return Reply::err(
                "Backend must use a dynamic load balancing to support dynamic servers.",
            );
        }
        // What the backend's check connects to (its added slots' checks
        // share it): a first `tcp-check connect port N` needs no port of
        // the server's.
        let connects_with_port = plan
            .checks
            .added_kind(b)
            .is_some_and(|k| match k {
                Kind::TcpCheck(tc) => tc.rules.first().is_some_and(|r| {
                    matches!(&r.action, tcpcheck::Action::Connect(c) if c.port.is_some() || c.port_expr.is_some())
                }),
                Kind::Tcp => false,
            });
        let new = match parse_new(be, sname, args.get(3..).unwrap_or(&[]), connects_with_port) {
            Ok(n) => n,
            Err(e) => return Reply::err(e),
        };
        // cli_parse_add_server's order: the mux, the track, the check.
        if let Err(e) = super::addsrc::mux_usable(be, new.proto.as_deref()) {
            return Reply::err(e);
        }
        let tracked = match new
            .track
            .as_deref()
            .map(|t| super::addsrc::track(plan, b, t))
        {
            None => None,
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => return Reply::err(e),
        };
        if let Err(e) =
            super::addsrc::check_mux(plan, b, sname, new.check_proto.as_deref(), new.check)
        {
            return Reply::err(e);
        }
        let taken_name = FILLING.with(|f| f.borrow().iter().any(|x| x.0 == b && x.2 == sname));
        if present(be, sname).is_some() || taken_name {
            return Reply::err("Already exists a server with the same name in backend.\n");
        }
        // The first vacant slot (a deleted server's), else a new one past
        // the last, that no other `add server` is filling. A configured
        // slot has the check and agent of its configuration only: one
        // without those the new server needs is passed over (an added
        // slot is given them).
        let filling = |i: usize| FILLING.with(|f| f.borrow().iter().any(|y| (y.0, y.1) == (b, i)));
        let fits = |i: usize| {
            i >= be.servers.fixed().len()
                || ((!new.check || plan.checks.slot_check(b, i).is_some())
                    && (!new.agent || plan.checks.slot_agent(b, i).is_some()))
        };
        let slot = (0..be.servers.capacity()).find(|&i| {
            !filling(i) && be.servers.get(i).is_none_or(ServerPlan::is_vacant) && fits(i)
        });
        let Some(s) = slot.filter(|&s| grow_shared(&core, b, s)) else {
            return Reply::err(format!(
                "No free slot left for a new server in backend '{bname}': ringlb grows a backend by at most {ADDED_SERVERS} servers added at run time (see docs/differences.md).\n"
            ));
        };
        let Some(sv) = be.servers.get(s) else {
            return Reply::err("No such server.");
        };
        plan.checks.prepare(b, s, new.check, new.agent);
        let check = plan.checks.slot_check(b, s);
        let agent = plan.checks.slot_agent(b, s);
        if new.check && check.is_none() {
            return Reply::err(
                "'check' is not supported yet on a server added at run time to this backend (its check kind).\n",
            );
        }
        FILLING.with(|f| f.borrow_mut().push((b, s, sname.to_string())));
        let _taken = Taken(b, s);
        // HAProxy's get_next_id: the lowest id no server of the backend
        // uses (nor one being added).
        let id = new.id.unwrap_or_else(|| {
            let used: std::collections::BTreeSet<u32> = be
                .servers
                .iter()
                .filter(|x| !x.is_vacant())
                .map(|x| x.conf().id)
                .collect();
            (1..).find(|i| !used.contains(i)).unwrap_or(u32::MAX)
        });
        if tracked.is_some() {
            // Before the link shows: a state change then looks for it.
            plan.checks.added_tracks.fetch_add(1, Ordering::AcqRel);
        }
        sv.conf.store(Arc::new(ServerConf {
            name: sname.to_string(),
            addr: new
                .addr
                .clone()
                .unwrap_or(ServerAddr::Fixed(SocketAddr::from(([0, 0, 0, 0], 0)))),
            id,
            forced_id: new.id.is_some(),
            weight: new.weight,
            loc: super::checks::ADDED_LOC.into(),
            // `port` and `addr` set the agent's too (srv_parse_check_port,
            // srv_parse_addr).
            probes: new.probes(b, s).map(Box::new),
            source: super::addsrc::source_of(be, new.source.clone()),
            track: tracked.map(crate::engine::checks::track::AddedTrack::new),
        }));
        // Every core forgets what it kept of the slot before it shows.
        let tasks = {
            use crate::engine::checks::{TASK_AGENT, TASK_CHECK, TASK_WARMUP};
            let on = |yes: bool, t: u8| if yes { t } else { 0 };
            on(new.check && check.is_some(), TASK_CHECK)
                | on(new.agent && agent.is_some(), TASK_AGENT)
                | on(new.slowstart > 0, TASK_WARMUP)
        };
        let answers = ask_slot(&core, b, s, SlotOp::Fill(tasks)).await;
        if answers.len() < core.shared.mesh.cores() {
            return Reply::err("Not every core answered: the server was not added.\n");
        }
        let shared = &core.shared;
        // In maintenance as haproxy creates it; `disabled` adds the
        // configuration's reason; `enabled` starts it up (srv_parse_enabled).
        let maint = match new.enabled {
            None => admin::FMAINT,
            Some(false) => admin::FMAINT | admin::CMAINT,
            Some(true) => 0,
        };
        sv.backup.store(new.backup, Ordering::Relaxed);
        sv.maxqueue.store(new.maxqueue, Ordering::Relaxed);
        sv.tfo.store(new.tfo, Ordering::Relaxed);
        // A reused slot starts from HAProxy's documented defaults (-1, 5s,
        // 0) unless the line says otherwise.
        sv.pool.set(
            new.pool_max_conn.unwrap_or(None),
            new.pool_purge_delay.unwrap_or(Duration::from_secs(5)),
            new.pool_low_conn.unwrap_or(0),
        );
        sv.weights.set_slowstart(new.slowstart);
        // srv_minmax_conn_apply: a minconn above maxconn becomes maxconn;
        // a maxconn alone is the minconn too.
        let (mut minconn, mut maxconn) = (new.minconn, new.maxconn);
        if minconn > maxconn {
            maxconn = minconn;
        } else if maxconn > 0 && minconn == 0 {
            minconn = maxconn;
        }
        sv.minconn.store(minconn, Ordering::Relaxed);
        sv.shutdown_on.set(new.shutdown_down, new.shutdown_up);
        // `observe` judges only a checked server (HAProxy adjusts a
        // check's health).
        sv.observe.set(
            new.observe.filter(|_| new.check),
            new.on_error.unwrap_or(OnError::FailCheck),
            new.error_limit
                .unwrap_or(crate::engine::checks::observe::DEFAULT_LIMIT),
        );
        shared.set_user_weight(b, s, new.weight);
        // haproxy 2.6 leaves a new server's effective weight at 1 until it
        // comes up (the stats' `weight` of a server added in maintenance);
        // `enable server` computes it from the user weight.
        shared.set_server(
            b,
            s,
            Change::EWeight(
                u16::try_from(crate::engine::backend::server::WEIGHT_SCALE).unwrap_or(16),
            ),
        );
        shared.set_server(b, s, Change::Maxconn(maxconn));
        // A reused slot keeps the flags of its last server (a `del server`
        // needs maintenance): the new one starts from none but VACANT.
        shared.set_server(b, s, Change::AdminClear(!admin::VACANT));
        if let (true, Some(k)) = (new.check, check) {
            // Configured but disabled, as haproxy 2.6 adds it: `enable
            // health` starts it. Its task starts afresh (a new epoch).
            let mut tuning = new.tuning;
            if new.check_send_proxy {
                tuning.send_proxy = Some(tcpcheck::ProxyHeader::V1);
            }
            k.tuning.store(Arc::new(tuning));
            k.health_now.store(0, Ordering::Relaxed);
            k.last.mark_ini();
            if let Some(ch) = shared.stats.changes(Obj::Srv(b, s)) {
                ch.health.store(0, Ordering::Relaxed);
            }
            let on = match sv.conf().addr {
                ServerAddr::Fixed(a) => (a.ip(), a.port()),
                ServerAddr::SamePort(ip) | ServerAddr::PortOffset(ip, _) => (ip, 0),
                ServerAddr::Unix(_) => (IpAddr::from([0, 0, 0, 0]), 0),
            };
            k.ctl.configure(on, new.check_addr, new.check_port);
        }
        if let (true, Some(a)) = (new.agent, agent) {
            // As the check: configured, disabled until `enable agent`.
            a.set_inter(new.agent_inter.unwrap_or(new.tuning.intervals.inter));
            a.health
                .store(crate::engine::checks::agent::AGENT_RISE, Ordering::Relaxed);
            a.last.mark_ini();
            a.new_send
                .put(new.agent_send.clone().unwrap_or_default().into_bytes());
            let on = match sv.conf().addr {
                ServerAddr::Fixed(x) => (x.ip(), x.port()),
                ServerAddr::SamePort(ip) | ServerAddr::PortOffset(ip, _) => (ip, 0),
                ServerAddr::Unix(_) => (IpAddr::from([0, 0, 0, 0]), 0),
            };
            let (addr, port) = new.agent_target();
            a.ctl.configure(on, addr, port);
        }
        shared.set_server(b, s, Change::AdminSet(maint));
        shared.set_server(b, s, Change::Oper(Oper::Stopped));
        be.live.fetch_max(s + 1, Ordering::AcqRel);
        // Last: the slot shows and counts from now on.
        shared.set_server(b, s, Change::AdminClear(admin::VACANT));
        if new.enabled == Some(true) {
            // haproxy 2.6 marks it running but leaves it out of the
            // balance until its state changes; here it serves at once
            // (docs/differences.md), unless the server it tracks is down.
            let tracked_oper = tracked.and_then(|(tb, ts)| {
                Some(plan.backends.get(tb)?.servers.get(ts)?.state.get().oper)
            });
            match tracked_oper {
                Some(Oper::Stopped) => {}
                Some(Oper::Stopping) => {
                    shared.set_server(b, s, Change::Oper(Oper::Stopping));
                }
                _ => {
                    shared.bring_up(b, s);
                }
            }
        }
        // HAProxy's ha_notice, from the CLI's context.
        crate::stderr_line!(
            "[NOTICE]   ({}) : CLI : 'server {bname}/{sname}' : New server registered.",
            std::process::id()
        );
        Reply::info("New server registered.\n")
    })
}

/// Why server (b, s) cannot be deleted now: HAProxy's refusals in its
/// order, then ringlb's own; `idle`: its idle connections on every core.
fn removable(core: &Core, b: usize, s: usize, idle: usize) -> Result<(), String> {
    let plan = &core.shared.plan;
    let Some(sv) = plan.backends.get(b).and_then(|be| be.servers.get(s)) else {
        return Err("No such server.".into());
    };
    if sv.pinned.load(Ordering::Relaxed) {
        return Err("This server cannot be removed at runtime due to other configuration elements pointing to it.".into());
    }
    if sv.state.get().admin & admin::MAINT == 0 {
        return Err("Only servers in maintenance mode can be deleted.".into());
    }
    if sv.conns.get() > 0 || sv.queued.get() > 0 || idle > 0 {
        return Err("Server still has connections attached to it, cannot remove it.".into());
    }
    // (A server that tracks another may go: HAProxy's
    // release_server_track. See checks::track::configured_here.)
    Ok(())
}

async fn idle_of(core: &Core, b: usize, s: usize) -> usize {
    ask_slot(core, b, s, SlotOp::CountIdle)
        .await
        .into_iter()
        .sum()
}

/// `del server <b>/<s>`: only in maintenance, without connections
/// (active, idle or queued) nor references; the slot becomes vacant.
pub fn del_server(core: Rc<Core>, _: Rc<Static>, args: Vec<String>) -> Later {
    Box::pin(async move {
        let Some((bname, sname)) = split(args.get(2).map_or("", String::as_str)) else {
            return Reply::err("Require 'backend/server'.");
        };
        let plan = &core.shared.plan;
        let Some(b) = plan.backends.iter().position(|x| x.name == bname) else {
            return Reply::err("No such backend.");
        };
        let Some(s) = plan.backends.get(b).and_then(|be| present(be, sname)) else {
            return Reply::err("No such server.");
        };
        // Refusals that need no core first, then the idle connections.
        if let Err(e) = removable(&core, b, s, 0) {
            return Reply::err(e);
        }
        let idle = idle_of(&core, b, s).await;
        // Again after the wait: the server may have changed meanwhile.
        if present_at(&core, b, s, sname).is_none() {
            return Reply::err("No such server.");
        }
        if let Err(e) = removable(&core, b, s, idle) {
            return Reply::err(e);
        }
        core.shared
            .set_server(b, s, Change::AdminSet(admin::VACANT));
        // Its slow start, check and agent stop with it (check_purge).
        if let Some(sv) = plan.backends.get(b).and_then(|be| be.servers.get(s)) {
            sv.weights.set_slowstart(0);
        }
        if let Some(k) = plan.checks.slot_check(b, s) {
            k.ctl.unconfigure();
        }
        if let Some(a) = plan.checks.slot_agent(b, s) {
            a.ctl.unconfigure();
        }
        if let Some(sv) = plan.backends.get(b).and_then(|be| be.servers.get(s)) {
            let old = sv.conf.swap(Arc::new(ServerConf {
                name: String::new(),
                addr: ServerAddr::Fixed(SocketAddr::from(([0, 0, 0, 0], 0))),
                id: 0,
                forced_id: false,
                weight: 1,
                loc: String::new(),
                probes: None,
                source: None,
                track: None,
            }));
            if old.track.is_some() {
                // After the link is gone (see `added_tracks`).
                plan.checks.added_tracks.fetch_sub(1, Ordering::AcqRel);
            }
        }
        crate::stderr_line!(
            "[NOTICE]   ({}) : CLI : Server deleted.",
            std::process::id()
        );
        Reply::info("Server deleted.")
    })
}

/// Slot (b, s) still holds server `name`.
fn present_at(core: &Core, b: usize, s: usize, name: &str) -> Option<()> {
    let sv = core.shared.plan.backends.get(b)?.servers.get(s)?;
    (!sv.is_vacant() && sv.conf().name == name).then_some(())
}

/// `wait <delay> srv-removable <b>/<s>`: whether (b, s) can be deleted
/// now (Ok), or why not, and whether waiting may change it (only the
/// connections go away by themselves: HAProxy 3.x fails at once on a
/// server not in maintenance).
pub async fn srv_removable(core: &Core, b: usize, s: usize) -> Result<(), (bool, String)> {
    let idle = idle_of(core, b, s).await;
    removable(core, b, s, idle).map_err(|e| (e.starts_with("Server still has connections"), e))
}

/// `add server help` (HAProxy 3.2): the keywords an added server takes
/// here (haproxy 2.6 has no such list: it answers `Require
/// 'backend/server'.`).
pub fn help() -> Reply {
    let mut out = String::from("List of keywords supported for dynamic server:\n");
    for kw in [
        "addr",
        "agent-addr",
        "agent-check",
        "agent-inter",
        "agent-port",
        "agent-send",
        "backup",
        "check",
        "check-proto",
        "check-send-proxy",
        "disabled",
        "downinter",
        "enabled",
        "error-limit",
        "fall",
        "fastinter",
        "id",
        "inter",
        "maxconn",
        "maxqueue",
        "minconn",
        "no-backup",
        "no-send-proxy",
        "no-send-proxy-v2",
        "no-tfo",
        "observe",
        "on-error",
        "on-marked-down",
        "on-marked-up",
        "pool-low-conn",
        "pool-max-conn",
        "pool-purge-delay",
        "port",
        "proto",
        "rise",
        "slowstart",
        "source",
        "tfo",
        "track",
        "usesrc",
        "weight",
        "ws",
    ] {
        out.push_str(kw);
        out.push('\n');
    }
    Reply::Out(out)
}

/// How often `wait srv-removable` looks again.
pub const WAIT_STEP: Duration = Duration::from_millis(100);

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(s: &str) -> ServerAddr {
        ServerAddr::Fixed(s.parse().unwrap())
    }

    /// The words of haproxy 2.6's srv_update_addr_port, as its CLI
    /// answered them (tests/tcp/cli_dynsrv.rs compares them live).
    #[test]
    fn update_addr_says_what_haproxy_says() {
        let (m, n) = update_addr(&fixed("127.0.0.1:80"), "127.0.0.2", None, None);
        assert_eq!(m, "IP changed from '127.0.0.1' to '127.0.0.2'");
        assert_eq!(n, Some(fixed("127.0.0.2:80")));
        let (m, n) = update_addr(&fixed("127.0.0.2:80"), "127.0.0.3", Some("9000"), None);
        assert_eq!(
            m,
            "IP changed from '127.0.0.2' to '127.0.0.3', port changed from '80' to '9000'"
        );
        assert_eq!(n, Some(fixed("127.0.0.3:9000")));
        let (m, n) = update_addr(&fixed("127.0.0.3:9000"), "127.0.0.3", Some("9001"), None);
        assert_eq!(
            m,
            "no need to change the addr, port changed from '9000' to '9001'"
        );
        assert_eq!(n, Some(fixed("127.0.0.3:9001")));
        let (m, n) = update_addr(&fixed("127.0.0.3:9001"), "127.0.0.3", Some("9001"), None);
        assert_eq!(m, "no need to change the addr, no need to change the port");
        assert_eq!(n, None);
        let (m, n) = update_addr(&fixed("127.0.0.3:9001"), "foo", None, None);
        assert_eq!(m, "Invalid addr 'foo'");
        assert_eq!(n, None);
        let (m, n) = update_addr(&fixed("127.0.0.3:9001"), "127.0.0.2", Some("+5"), None);
        assert_eq!(m, "IP changed from '127.0.0.3' to '127.0.0.2', can't change <port> to port map because it is incompatible with current health check port configuration (use 'port' statement from the 'server' directive.");
        assert_eq!(n, Some(fixed("127.0.0.2:9001")), "the IP still changed");
        let (m, n) = update_addr(&fixed("127.0.0.3:9001"), "127.0.0.3", Some("+5"), Some(80));
        assert_eq!(
            m,
            "no need to change the addr, port changed from '9001' to '+5'"
        );
        assert_eq!(
            n,
            Some(ServerAddr::PortOffset("127.0.0.3".parse().unwrap(), 5))
        );
        let (m, _) = update_addr(&fixed("127.0.0.3:9001"), "127.0.0.3", Some("x"), None);
        assert_eq!(
            m,
            "no need to change the addr, problem converting port 'x' to an int"
        );
    }

    #[test]
    fn strtol_reads_as_c_does() {
        assert_eq!(strtol(" 12ab"), Some(12));
        assert_eq!(strtol("-7"), Some(-7));
        assert_eq!(strtol("+"), None);
        assert_eq!(strtol(""), None);
    }
}

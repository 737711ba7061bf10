//! The engine's view of the configuration, built once at start-up: names
//! resolved to indexes, server addresses resolved to socket addresses,
//! timeouts and limits with HAProxy's defaults applied. Cores read it
//! through an `Arc` and never touch the configuration model again.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use ringlb_config::addr::{Address, Host, IpFamily, Port};
use ringlb_config::model::{
    Balance, Config, HashType, InitAddr, LogStyle, LogTarget, Proxy, Source, UseSrc as ConfUseSrc,
};

use super::backend::server::{admin, Oper, Snapshot, State, Weights};
use super::listener::{KeepAlive, ListenerTuning, ServerTuning};
use super::stream::http::plan::HttpPlan;
use super::Counter;

/// HAProxy's default `retries`.
const DEFAULT_RETRIES: u32 = 3;
/// `tune.bufsize` default.
pub const DEFAULT_BUFSIZE: usize = 16384;

#[derive(Debug)]
pub struct Plan {
    pub frontends: Vec<FrontendPlan>,
    pub backends: Vec<BackendPlan>,
    /// Global `maxconn` (0: none).
    pub maxconn: u32,
    /// SO_REUSEPORT on listeners (global `noreuseport` turns it off: one
    /// socket per address, shared by the executors, and a second process
    /// cannot bind the address while this one listens).
    pub reuseport: bool,
    pub bufsize: usize,
    /// Provided buffers per core (`bufsize` each, kernel buffer selection):
    /// enough for the connections moving data at one instant; beyond that
    /// reads fall back to the core's buffer pool.
    pub provided_buffers: u16,
    /// `tune.maxrewrite` as HAProxy applies it (see runtime::buffer).
    pub maxrewrite: usize,
    /// `tune.buffers.limit` (per process; none: bound by maxconn).
    pub buffers_limit: Option<u32>,
    /// `maxpipes` (per process); `serve` sets HAProxy's default.
    pub maxpipes: Option<u32>,
    /// `option splice-*` is honoured per frontend later; recorded here.
    pub hostname: String,
    /// The health checks of the checked servers (see `checks`).
    pub checks: super::checks::Checks,
    /// What the statistics show of the configuration.
    pub stats: super::stats::StatsPlan,
}

#[derive(Debug)]
pub struct FrontendPlan {
    pub name: String,
    pub binds: Vec<BindPlan>,
    /// The backend every connection goes to (`default_backend`, or the
    /// listen section itself).
    pub backend: Option<usize>,
    pub maxconn: u32,
    /// `rate-limit sessions`: new sessions per second (0: none).
    pub rate_limit: u32,
    pub sess_rate: super::FreqCtr,
    pub timeout_client: Option<Duration>,
    pub timeout_client_fin: Option<Duration>,
    pub feconn: Counter,
    /// The accepted socket's local address is needed (servers without a
    /// fixed port, or a log line printing it): one getsockname per accept
    /// is skipped otherwise.
    pub needs_dst: bool,
    /// `option splice-request|response|auto` on the frontend.
    pub splice_request: bool,
    pub splice_response: bool,
    /// HTTP mode: its settings (None: TCP mode).
    pub http: Option<Box<HttpPlan>>,
    /// `tcp-request connection|session|content` rules and, in TCP mode,
    /// `use_backend` (None: none).
    pub tcp: Option<Box<crate::engine::rules::tcp::TcpRules>>,
    /// A TCP stream of this frontend runs rules (its content rules or
    /// use_backend, or a backend's content, response or use-server
    /// rules, or `balance rdp-cookie`): it is served with their state (`stream::tcp::handle_with_rules`).
    pub stream_rules: bool,
    pub log: LogPlan,
    /// Where this frontend's log lines go (set once the sinks are open).
    pub sink: Option<crate::log::sender::LogSink>,
}

#[derive(Debug)]
pub struct BindPlan {
    pub addrs: Vec<ListenAddr>,
    /// The bind's `backlog`, else the frontend's, else the bind's
    /// `maxconn`; 0: none of them (the listener derives it).
    pub backlog: i32,
    pub v6only: Option<bool>,
    pub transparent: bool,
    pub interface: Option<String>,
    /// Socket options of the listener and its accepted sockets.
    pub tuning: ListenerTuning,
    /// `id` and `name`: the listener's id and name in the statistics.
    pub id: Option<u32>,
    pub name: Option<String>,
    /// `maxconn` (0: none).
    pub maxconn: u32,
}

#[derive(Clone, Debug)]
pub enum ListenAddr {
    Inet(SocketAddr),
    /// An inherited listening socket (`fd@N`).
    Fd(i32),
    /// A UNIX stream socket path, with `mode`/`user`/`group`.
    Unix {
        path: std::path::PathBuf,
        mode: Option<u32>,
        user: Option<String>,
        group: Option<String>,
    },
}

impl std::fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListenAddr::Inet(a) => write!(f, "{a}"),
            ListenAddr::Fd(n) => write!(f, "fd@{n}"),
            ListenAddr::Unix { path, .. } => write!(f, "unix@{}", path.display()),
        }
    }
}

/// What a frontend logs, where.
#[derive(Debug)]
pub struct LogPlan {
    /// No target: nothing is logged.
    pub enabled: bool,
    pub format: Option<ringlb_config::logformat::LogFormat>,
    pub dontlognull: bool,
    /// `option dontlog-normal`: only streams HAProxy counts as errors.
    pub dontlog_normal: bool,
    /// `option log-separate-errors`: those at level `err`.
    pub separate_errors: bool,
    /// `option logasap` (with a log format): a stream is logged as soon
    /// as it is connected (TCP) or its response head is ready (HTTP),
    /// and every line of the frontend prefixes `%Tt`, `%Ta`, `%Tu` and
    /// `%B` with `+` (HAProxy clears LW_BYTES from the frontend's
    /// `to_log`).
    pub logasap: bool,
    /// `log-format-sd`: the RFC 5424 structured data of each line (other
    /// wire formats print none).
    pub format_sd: Option<ringlb_config::logformat::LogFormat>,
    /// The `%[...]` items of `format` and `format_sd`, compiled in their
    /// order (None: a fetch or converter the engine lacks, printed `-`).
    pub samples: Vec<Option<crate::engine::rules::expr::Expr>>,
    pub sd_samples: Vec<Option<crate::engine::rules::expr::Expr>>,
}

#[derive(Debug)]
pub struct BackendPlan {
    pub name: String,
    /// The configured servers, then the slots `add server` grew (see
    /// `runtime::grow`).
    pub servers: crate::engine::runtime::grow::Slots<ServerPlan>,
    pub balance: Balance,
    /// `balance hash <expr>` in TCP mode: the expression, over the
    /// connection's addresses (HTTP mode evaluates it with its rules).
    pub tcp_hash: Option<Box<crate::engine::rules::expr::Expr>>,
    pub hash_type: Option<HashType>,
    pub hash_balance_factor: Option<u32>,
    pub allbackups: bool,
    /// None: the kernel's own connect timeout, as HAProxy without one.
    pub timeout_connect: Option<Duration>,
    pub timeout_server: Option<Duration>,
    pub timeout_server_fin: Option<Duration>,
    pub timeout_tunnel: Option<Duration>,
    pub timeout_queue: Option<Duration>,
    pub retries: u32,
    /// `option redispatch [<interval>]`.
    pub redispatch: Option<i32>,
    /// `retry-on` (default `conn-failure`): a connection failure is
    /// retried only with `conn-failure`, in both modes (HAProxy's
    /// back_handle_st_cer); the other events are HTTP's.
    pub retry_on: ringlb_config::model::RetryOn,
    pub beconn: Counter,
    /// Bumped on every change of a server's state (see
    /// `Process::set_server`): a core whose balancer saw an older one
    /// brings it up to date.
    pub generation: std::sync::atomic::AtomicU64,
    /// Streams waiting in this backend's queues (all cores; HAProxy's
    /// totpend).
    pub queued: Counter,
    /// `fullconn`: the backend load at which servers with `minconn` reach
    /// their `maxconn`.
    pub fullconn: u32,
    /// `fullconn` came from the configuration.
    pub fullconn_set: bool,
    /// Streams that left the backend queue for a server (all cores;
    /// HAProxy's `px->queue.idx`), for `%bq`.
    pub queue_served: Counter,
    /// Socket options of server connections.
    pub server_tuning: ServerTuning,
    pub splice_request: bool,
    pub splice_response: bool,
    /// HTTP mode: its settings (None: TCP mode).
    pub http: Option<Box<HttpPlan>>,
    /// The backend's `tcp-request content`, `tcp-response content` and
    /// `use-server` rules (None: none).
    pub tcp: Option<Box<crate::engine::rules::tcp::TcpRules>>,
    /// The backend's `source`, which a server added at run time without
    /// its own takes (HAProxy's connect falls back to `px->conn_src`).
    pub source: Option<Arc<SourcePlan>>,
    /// Its algorithm takes servers added at run time (HAProxy's
    /// BE_LB_PROP_DYN): its server slots grow
    /// for `add server` (up to [`ADDED_SERVERS`] beyond the configured ones).
    pub dynamic: bool,
    /// The slots in use are among the first `live` ones (a high-water
    /// mark: `add server` raises it, never lowers it), which the data path
    /// walks instead of every slot.
    pub live: std::sync::atomic::AtomicUsize,
}

/// What of a server's configuration the runtime API may change (`set
/// server addr`) or give to a vacant slot (`add server`): read lock-free
/// by the cores (an `ArcSwap` load), replaced whole by its one writer, the
/// runtime API.
#[derive(Debug, Clone)]
pub struct ServerConf {
    pub name: String,
    pub addr: ServerAddr,
    /// Its id (HAProxy's puid): `id <n>`, or the automatic number
    /// [`server_ids`] gives.
    pub id: u32,
    /// The id came from `id <n>` (`srv_f_forced_id`).
    pub forced_id: bool,
    /// The configured weight (HAProxy's `iweight`); the effective one is
    /// in the server's state.
    pub weight: u32,
    /// Where it was declared (`file:line`; `(null):0` for a server added
    /// at run time, as HAProxy prints it).
    pub loc: String,
    /// A server added at run time: its check and agent addresses and
    /// ports as its line set them (`show servers state` prints them where
    /// no check or agent runs; a configured server's are in
    /// `Checks::configured`).
    pub probes: Option<Box<crate::engine::checks::Configured>>,
    /// `source`: the local address of its connections and checks (its
    /// own, else the backend's; an `Arc`, so a connect takes it without
    /// holding the configuration's guard across its awaits).
    pub source: Option<Arc<SourcePlan>>,
    /// A server added at run time with `track [<backend>/]<server>`: the
    /// server whose state it follows (a configured server's `track` is in
    /// the checks' `trackers` trees).
    pub track: Option<crate::engine::checks::track::AddedTrack>,
}

/// The most slots a backend whose algorithm takes dynamic servers
/// (HAProxy's BE_LB_PROP_DYN) can grow to for `add server`, beyond its
/// configured servers. Every per-server array grows with them (see
/// `runtime::grow`): an added slot is committed when first filled, a
/// deleted one stays vacant (in maintenance with the `VACANT` admin flag:
/// never picked, never shown, never checked) for the next `add server`.
pub const ADDED_SERVERS: usize = crate::engine::runtime::grow::CAPACITY;

impl BackendPlan {
    /// The slots the data path walks (see [`BackendPlan::live`]); vacant
    /// ones among them are never usable.
    pub fn live_servers(
        &self,
    ) -> std::iter::Take<crate::engine::runtime::grow::Iter<'_, ServerPlan>> {
        let n = self.live.load(std::sync::atomic::Ordering::Acquire);
        self.servers.iter().take(n)
    }

    /// How many slots [`BackendPlan::live_servers`] walks.
    pub fn live_len(&self) -> usize {
        self.live
            .load(std::sync::atomic::Ordering::Acquire)
            .min(self.servers.len())
    }
}

#[derive(Debug)]
pub struct ServerPlan {
    /// Name, address, id: see [`ServerConf`].
    pub conf: arc_swap::ArcSwap<ServerConf>,
    /// `backup`: a lone atomic, as `add server ... backup` sets a spare
    /// slot's (read lock-free where the data path needs it).
    pub backup: std::sync::atomic::AtomicBool,
    /// Admin and operational state, effective weight, `maxconn`: the one
    /// owner every core reads (see `backend::server`).
    pub state: State,
    /// User weight and slow start, which the effective weight in `state`
    /// derives from.
    pub weights: Weights,
    /// `tcp-ut <delay>`: TCP_USER_TIMEOUT on its connections.
    pub user_timeout: Option<Duration>,
    /// `tfo`: TCP Fast Open (TCP_FASTOPEN_CONNECT: the SYN carries the
    /// first data).
    pub tfo: std::sync::atomic::AtomicBool,
    /// `minconn`: with `fullconn`, the dynamic limit (0: `maxconn` alone).
    /// (Lone atomics, as `add server` sets an added slot's.)
    pub minconn: std::sync::atomic::AtomicU32,
    /// `maxqueue`: the most streams waiting in this server's queue (0: no
    /// limit).
    pub maxqueue: std::sync::atomic::AtomicU32,
    /// `pool-max-conn`, `pool-purge-delay`, `pool-low-conn` (an added
    /// server sets them at run time).
    pub pool: PoolSettings,
    /// `max-reuse`: the times a connection is reused (None: no limit).
    pub max_reuse: Option<u32>,
    /// `cookie <value>`: the persistence cookie value naming it.
    pub cookie: Option<String>,
    /// Connections currently established or being established, all cores.
    pub conns: Counter,
    /// Streams waiting in this server's queue, all cores.
    pub queued: Counter,
    /// Streams that left this server's queue for it (HAProxy's
    /// `srv->queue.idx`), for `%sq`.
    pub queue_served: Counter,
    /// `observe`: what the traffic says of it (see `checks::observe`).
    pub observe: crate::engine::checks::observe::Observer,
    /// `on-marked-down shutdown-sessions`, `on-marked-up
    /// shutdown-backup-sessions`.
    pub shutdown_on: crate::engine::checks::observe::ShutdownOn,
    /// Other configuration elements point to it (a `track`, a
    /// `use-server`): `del server` refuses it (HAProxy's
    /// SRV_F_NON_PURGEABLE). An atomic: `add server ... track` pins the
    /// server it tracks, for good as HAProxy does.
    pub pinned: std::sync::atomic::AtomicBool,
    /// Its check's own `port` (`set server addr ... port +N` needs one).
    pub check_port: Option<u16>,
}

/// Whether server `name` of `px` is a `track` or `use-server` target
/// (HAProxy's SRV_F_NON_PURGEABLE: `del server` refuses it).
fn pinned(cfg: &Config, px: &Proxy, name: &str) -> bool {
    px.use_servers.iter().any(|u| u.server == name)
        || cfg.proxies.iter().any(|p| {
            p.servers.iter().any(|s| {
                s.opts.track.as_ref().is_some_and(|t| {
                    t.server == name && t.backend.as_deref().unwrap_or(p.name.as_str()) == px.name
                })
            })
        })
}

/// Whether `px`'s algorithm takes dynamic weights (HAProxy's
/// BE_LB_PROP_DYN): all but static-rr and map-based hashing.
fn dynamic_weights(px: &Proxy) -> bool {
    match px.balance.as_ref().unwrap_or(&Balance::RoundRobin) {
        Balance::StaticRr => false,
        Balance::RoundRobin | Balance::LeastConn | Balance::First | Balance::Random { .. } => true,
        _ => px
            .hash_type
            .is_some_and(|h| h.method == ringlb_config::model::HashMethod::Consistent),
    }
}

/// A server's idle connection pool settings, which `add server` sets at
/// run time: lone atomics, read with a relaxed load where a plain field
/// was.
#[derive(Debug)]
pub struct PoolSettings {
    /// `pool-max-conn` (usize::MAX: no limit).
    max: std::sync::atomic::AtomicUsize,
    /// `pool-purge-delay` in ms (zero: no idle connection kept).
    purge_ms: std::sync::atomic::AtomicU64,
    /// `pool-low-conn`: idle connections kept above the estimated need.
    low: std::sync::atomic::AtomicUsize,
}

impl PoolSettings {
    pub fn new(max: Option<usize>, purge: Duration, low: usize) -> PoolSettings {
        let p = PoolSettings {
            max: usize::MAX.into(),
            purge_ms: 0.into(),
            low: 0.into(),
        };
        p.set(max, purge, low);
        p
    }

    pub fn set(&self, max: Option<usize>, purge: Duration, low: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        self.max.store(max.unwrap_or(usize::MAX), Relaxed);
        self.purge_ms.store(
            u64::try_from(purge.as_millis()).unwrap_or(u64::MAX),
            Relaxed,
        );
        self.low.store(low, Relaxed);
    }

    /// Idle connections kept for reuse (None: no limit; 0: none).
    pub fn max(&self) -> Option<usize> {
        Some(self.max.load(std::sync::atomic::Ordering::Relaxed)).filter(|m| *m != usize::MAX)
    }

    pub fn purge_delay(&self) -> Duration {
        Duration::from_millis(self.purge_ms.load(std::sync::atomic::Ordering::Relaxed))
    }

    pub fn low(&self) -> usize {
        self.low.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl ServerPlan {
    /// `tfo`: TCP Fast Open on its connections.
    pub fn tfo(&self) -> bool {
        self.tfo.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Its name, address and id now (see [`ServerConf`]).
    pub fn conf(&self) -> arc_swap::Guard<std::sync::Arc<ServerConf>> {
        self.conf.load()
    }

    /// `minconn` (0: none).
    pub fn minconn(&self) -> u32 {
        self.minconn.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// `maxqueue` (0: no limit).
    pub fn maxqueue(&self) -> u32 {
        self.maxqueue.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// `backup`.
    pub fn is_backup(&self) -> bool {
        self.backup.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether the slot holds no server (see [`ADDED_SERVERS`]).
    pub fn is_vacant(&self) -> bool {
        self.state.get().admin & admin::VACANT != 0
    }

    /// A vacant slot (see [`ADDED_SERVERS`]).
    pub fn vacant(dynamic: bool) -> ServerPlan {
        ServerPlan {
            conf: arc_swap::ArcSwap::from_pointee(ServerConf {
                name: String::new(),
                addr: ServerAddr::Fixed(SocketAddr::from(([0, 0, 0, 0], 0))),
                id: 0,
                forced_id: false,
                weight: 1,
                loc: String::new(),
                probes: None,
                source: None,
                track: None,
            }),
            backup: std::sync::atomic::AtomicBool::new(false),
            state: State::new(Snapshot {
                admin: admin::VACANT,
                oper: Oper::Stopped,
                eweight: 0,
                maxconn: 0,
            }),
            weights: Weights::new(1, 0, dynamic),
            user_timeout: None,
            tfo: false.into(),
            minconn: 0.into(),
            maxqueue: 0.into(),
            pool: PoolSettings::new(None, Duration::from_secs(5), 0),
            max_reuse: None,
            cookie: None,
            conns: Counter::default(),
            queued: Counter::default(),
            queue_served: Counter::default(),
            observe: Default::default(),
            shutdown_on: Default::default(),
            pinned: false.into(),
            check_port: None,
        }
    }

    /// The connection limit now (0: none): `maxconn`, or with `minconn`
    /// HAProxy's dynamic limit, which grows from `minconn` to `maxconn` as
    /// the backend's load approaches `fullconn` (srv_dynamic_maxconn).
    pub fn max_now(&self, be: &BackendPlan) -> u32 {
        let now = self.state.get();
        let maxconn = now.maxconn;
        let minconn = self.minconn();
        let max = if maxconn == 0 || minconn == 0 || minconn >= maxconn {
            maxconn
        } else {
            let beconn = be.beconn.get();
            if be.fullconn == 0 || beconn >= be.fullconn {
                maxconn
            } else {
                let scaled = u64::from(beconn) * u64::from(maxconn) / u64::from(be.fullconn);
                u32::try_from(scaled).unwrap_or(u32::MAX).max(minconn)
            }
        };
        // A slow start ramps the limit too.
        if now.oper == Oper::Starting {
            return self.weights.ramp_maxconn(now.oper, max);
        }
        max
    }

    /// Whether a connection slot is free now.
    pub fn has_room(&self, be: &BackendPlan) -> bool {
        let max = self.max_now(be);
        max == 0 || self.conns.get() < max
    }
}

/// Where server connections come from (`source`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourcePlan {
    /// Bound before connecting (0.0.0.0:0: the system chooses).
    pub addr: SocketAddr,
    /// Full transparent proxy: the address presented to the server instead.
    pub usesrc: Option<UseSrc>,
    /// `interface <name>`: SO_BINDTODEVICE.
    pub interface: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UseSrc {
    Addr(SocketAddr),
    /// The client's address and port.
    Client,
    /// The client's address, any port.
    ClientIp,
}

impl SourcePlan {
    /// The address to bind for a client at `client` (None for a UNIX
    /// client: `usesrc client[ip]` falls back to `addr`), and whether it
    /// needs IP_TRANSPARENT (an address that may not be local).
    pub fn bind_for(&self, client: Option<SocketAddr>) -> (SocketAddr, bool) {
        match (self.usesrc, client) {
            (Some(UseSrc::Addr(a)), _) => (a, true),
            (Some(UseSrc::Client), Some(c)) => (c, true),
            (Some(UseSrc::ClientIp), Some(c)) => (SocketAddr::new(c.ip(), 0), true),
            _ => (self.addr, false),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerAddr {
    Fixed(SocketAddr),
    /// A UNIX stream socket path (`unix@`, `/path`).
    Unix(std::path::PathBuf),
    /// No port: the client's destination port.
    SamePort(IpAddr),
    /// `+N`/`-N`: the client's destination port plus N.
    PortOffset(IpAddr, i32),
}

impl ServerAddr {
    /// The address to connect to for a connection accepted on `dst` (the
    /// stream's, which `set-dst` may have changed). A server without an
    /// address (`0.0.0.0`, `::`) is reached at the address the client
    /// asked for, whatever its family (HAProxy's alloc_dst_address).
    pub fn resolve(&self, dst: SocketAddr) -> Option<SocketAddr> {
        let ip = |ip: IpAddr| if ip.is_unspecified() { dst.ip() } else { ip };
        match *self {
            ServerAddr::Fixed(a) => Some(SocketAddr::new(ip(a.ip()), a.port())),
            ServerAddr::Unix(_) => None,
            ServerAddr::SamePort(a) => Some(SocketAddr::new(ip(a), dst.port())),
            ServerAddr::PortOffset(a, off) => {
                let p = i32::from(dst.port()).checked_add(off)?;
                u16::try_from(p)
                    .ok()
                    .filter(|p| *p != 0)
                    .map(|p| SocketAddr::new(ip(a), p))
            }
        }
    }
}

fn default_ip(family: IpFamily) -> IpAddr {
    match family {
        IpFamily::V6 => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        _ => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
    }
}

pub(crate) fn resolve_host(host: &Host, init_addr: Option<&[InitAddr]>) -> Result<IpAddr, String> {
    match host {
        Host::Ip(ip) => Ok(*ip),
        Host::Any(f) => Ok(default_ip(*f)),
        Host::Name(name) => {
            let methods = init_addr.unwrap_or(&[InitAddr::Last, InitAddr::Libc]);
            for m in methods {
                match m {
                    InitAddr::Libc => {
                        if let Some(a) = (name.as_str(), 0u16)
                            .to_socket_addrs()
                            .ok()
                            .and_then(|mut i| i.next())
                        {
                            return Ok(a.ip());
                        }
                    }
                    InitAddr::Ip(ip) => return Ok(*ip),
                    InitAddr::Last | InitAddr::None => {}
                }
            }
            Err(format!("could not resolve address '{name}'"))
        }
    }
}

impl Plan {
    /// Build the plan of every enabled TCP-mode proxy. Errors name the
    /// proxy and the reason; `support::check` has already refused what the
    /// engine cannot run, so an error here is an environment problem
    /// (a name that stopped resolving).
    /// Backends without `fullconn`: 10% of the sum of the maxconns of the
    /// frontends that branch to them (a frontend without maxconn counts
    /// the global one), as HAProxy sets it. Call once the global maxconn
    /// is final.
    pub fn default_fullconn(&mut self) {
        for (i, be) in self.backends.iter_mut().enumerate() {
            if be.fullconn_set {
                continue;
            }
            let sum: u64 = self
                .frontends
                .iter()
                .filter(|f| f.backend == Some(i))
                .map(|f| {
                    u64::from(if f.maxconn > 0 {
                        f.maxconn
                    } else {
                        self.maxconn
                    })
                })
                .sum();
            be.fullconn = u32::try_from(sum.div_ceil(10)).unwrap_or(u32::MAX).max(1);
        }
    }

    pub fn build(cfg: &Config) -> Result<Plan, String> {
        let mut backends = Vec::new();
        let mut be_index = std::collections::HashMap::new();
        for px in cfg.proxies.iter().filter(|p| p.cap.backend && !p.disabled) {
            be_index.insert(px.name.clone(), backends.len());
            backends.push(backend_plan(px, cfg)?);
        }
        let global_logs = &cfg.global.logs;
        let mut frontends = Vec::new();
        for px in cfg.proxies.iter().filter(|p| p.cap.frontend && !p.disabled) {
            let backend = if px.cap.backend {
                be_index.get(&px.name).copied()
            } else {
                px.default_backend
                    .as_ref()
                    .and_then(|d| be_index.get(&d.name).copied())
            };
            let mut binds = Vec::new();
            for b in &px.binds {
                let mut addrs = Vec::new();
                for a in &b.addrs {
                    match a {
                        Address::Inet { host, port, .. } => {
                            let ip = resolve_host(host, None)
                                .map_err(|e| format!("frontend '{}': {e}", px.name))?;
                            let (first, last) = match port {
                                Port::One(p) => (*p, *p),
                                Port::Range(a, b) => (*a, *b),
                                Port::None | Port::Offset(_) => {
                                    return Err(format!(
                                        "frontend '{}': bind address without a port",
                                        px.name
                                    ))
                                }
                            };
                            for p in first..=last {
                                addrs.push(ListenAddr::Inet(SocketAddr::new(ip, p)));
                            }
                        }
                        Address::Fd(n) => addrs.push(ListenAddr::Fd(*n)),
                        Address::Unix {
                            path,
                            transport: ringlb_config::addr::Transport::Stream,
                        } => addrs.push(ListenAddr::Unix {
                            path: std::path::PathBuf::from(path),
                            mode: b.opts.unix_mode,
                            user: b.opts.unix_user.clone(),
                            group: b.opts.unix_group.clone(),
                        }),
                        other => {
                            return Err(format!(
                                "frontend '{}': bind address '{other}' is not supported yet",
                                px.name
                            ))
                        }
                    }
                }
                // The frontend's maxconn (and the global one it defaults
                // to) is final only once the process limits are known: the
                // listener derives the rest (listener::listener_backlog).
                let backlog = i32::try_from(
                    b.opts
                        .backlog
                        .or(px.backlog)
                        .or(b.opts.maxconn)
                        .unwrap_or(0),
                )
                .unwrap_or(i32::MAX);
                binds.push(BindPlan {
                    addrs,
                    backlog,
                    v6only: if b.opts.v6only {
                        Some(true)
                    } else if b.opts.v4v6 {
                        Some(false)
                    } else {
                        None
                    },
                    transparent: b.opts.transparent,
                    interface: b.opts.interface.clone(),
                    tuning: listener_tuning(px, &b.opts, cfg, backlog),
                    id: b.opts.id,
                    name: b.opts.name.clone(),
                    maxconn: b.opts.maxconn.unwrap_or(0),
                });
            }
            let has_targets = px.logs.iter().any(|l| match l {
                LogTarget::Global { .. } => !global_logs.is_empty(),
                LogTarget::Target(_) => true,
            });
            let format = match (&px.log_format, px.options.log_style) {
                (Some(f), _) => Some(f.clone()),
                (None, Some(LogStyle::Tcp)) => Some(crate::log::format::tcplog()),
                // `option httplog` in a TCP proxy: HAProxy falls back to
                // tcplog (with a warning).
                (None, Some(_)) if px.mode() != ringlb_config::model::Mode::Http => {
                    Some(crate::log::format::tcplog())
                }
                (None, Some(LogStyle::Http | LogStyle::Https)) => {
                    Some(crate::log::format::httplog())
                }
                (None, Some(LogStyle::HttpClf)) => Some(crate::log::format::httplog_clf()),
                (None, None) => None,
            };
            let format_sd = log_format_sd(px)?;
            let samples = log_samples(format.as_ref());
            let sd_samples = log_samples(format_sd.as_ref());
            frontends.push(FrontendPlan {
                name: px.name.clone(),
                binds,
                backend,
                maxconn: px.maxconn.unwrap_or(0),
                rate_limit: px.rate_limit_sessions.unwrap_or(0),
                sess_rate: super::FreqCtr::default(),
                timeout_client: px.timeouts.client,
                timeout_client_fin: px.timeouts.client_fin,
                feconn: Counter::default(),
                splice_request: splices(px).0,
                splice_response: splices(px).1,
                http: HttpPlan::of(px, cfg, &|n| be_index.get(n).copied())?,
                tcp: crate::engine::rules::tcp::TcpRules::compile(
                    px,
                    Some(&|n: &str| be_index.get(n).copied()),
                )
                .map_err(|e| e.0)?
                .map(Box::new),
                stream_rules: false,
                needs_dst: false,
                log: LogPlan {
                    enabled: has_targets && !px.no_log,
                    format,
                    dontlognull: px.options.is_set("dontlognull"),
                    dontlog_normal: px.options.is_set("dontlog-normal"),
                    separate_errors: px.options.is_set("log-separate-errors"),
                    logasap: px.options.is_set("logasap"),
                    format_sd,
                    samples,
                    sd_samples,
                },
                sink: None,
            });
        }
        for fe in &mut frontends {
            let be_needs = fe.backend.and_then(|i| backends.get(i)).is_some_and(|b| {
                b.servers
                    .iter()
                    .any(|s| !matches!(s.conf().addr, ServerAddr::Fixed(_)))
            });
            let log_needs = fe.log.enabled
                && fe.log.format.as_ref().is_none_or(|f| {
                    f.items.iter().any(|it| {
                        matches!(
                            it,
                            ringlb_config::logformat::LogItem::Alias {
                                alias: ringlb_config::logformat::Alias::FrontendIp
                                    | ringlb_config::logformat::Alias::FrontendPort,
                                ..
                            }
                        )
                    })
                });
            fe.needs_dst = be_needs || log_needs;
            // Connection rules look at the addresses, and so may HTTP
            // rules and a unique-id-format (`dst`, `%fi`): one
            // getsockname per HTTP connection, not per request.
            let http = fe.http.is_some();
            fe.needs_dst = fe.needs_dst || fe.tcp.is_some() || http;
            fe.stream_rules = fe.http.is_none()
                && (fe
                    .tcp
                    .as_deref()
                    .is_some_and(|r| r.has_content_rules() || r.has_backend_rules())
                    || backends.iter().any(|b| {
                        b.tcp.is_some() || matches!(b.balance, Balance::RdpCookie { .. })
                    }));
        }
        let bufsize = cfg
            .global
            .tune
            .bufsize
            .and_then(|b| usize::try_from(b).ok())
            .unwrap_or(DEFAULT_BUFSIZE);
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default();
        let checks = super::checks::build(cfg, &backends, &|a: &str| {
            let host = a
                .parse::<IpAddr>()
                .map_or_else(|_| Host::Name(a.to_string()), Host::Ip);
            resolve_host(&host, None)
        })?;
        let stats = {
            let fe: Vec<&str> = frontends
                .iter()
                .map(|f: &FrontendPlan| f.name.as_str())
                .collect();
            let be: Vec<&str> = backends
                .iter()
                .map(|b: &BackendPlan| b.name.as_str())
                .collect();
            let node = cfg.global.node.as_deref().unwrap_or(&hostname);
            let mut stats = super::stats::StatsPlan::build(cfg, &fe, &be, node);
            stats.listeners = super::stats::plan::listeners(cfg, &frontends);
            stats
        };
        Ok(Plan {
            stats,
            checks,
            frontends,
            backends,
            maxconn: cfg.global.maxconn.unwrap_or(0),
            reuseport: !cfg.global.noreuseport,
            bufsize,
            provided_buffers: 1024,
            maxrewrite: super::runtime::buffer::maxrewrite(
                bufsize,
                cfg.global
                    .tune
                    .maxrewrite
                    .and_then(|m| usize::try_from(m).ok()),
            ),
            buffers_limit: buffers_limit(&cfg.global.tune),
            maxpipes: cfg.global.maxpipes.filter(|n| *n > 0),
            hostname,
        })
    }
}

/// (request, response) splicing per `option splice-*`.
fn splices(px: &Proxy) -> (bool, bool) {
    let auto = px.options.is_set("splice-auto");
    (
        auto || px.options.is_set("splice-request"),
        auto || px.options.is_set("splice-response"),
    )
}

/// The engine's form of a typed `source`: names resolved, `usesrc
/// hdr_ip()` dropped (it reads an HTTP header: in TCP mode HAProxy warns and
/// connects from the plain `<addr>`, and so does this). Port ranges and UNIX
/// source addresses were refused by `support::check`.
fn source_plan(src: &Source) -> Result<SourcePlan, String> {
    Ok(SourcePlan {
        addr: source_addr(&src.addr)?,
        usesrc: match &src.usesrc {
            None | Some(ConfUseSrc::HdrIp { .. }) => None,
            Some(ConfUseSrc::Client) => Some(UseSrc::Client),
            Some(ConfUseSrc::ClientIp) => Some(UseSrc::ClientIp),
            Some(ConfUseSrc::Addr(a)) => Some(UseSrc::Addr(source_addr(a)?)),
        },
        interface: src.interface.clone(),
    })
}

fn source_addr(addr: &Address) -> Result<SocketAddr, String> {
    match addr {
        Address::Inet {
            host,
            port: port @ (Port::None | Port::One(_)),
            ..
        } => {
            let ip = resolve_host(host, None)?;
            let port = match port {
                Port::One(p) => *p,
                _ => 0,
            };
            Ok(SocketAddr::new(ip, port))
        }
        other => Err(format!("source address '{other}' is not supported yet")),
    }
}

/// `option <side>tcpka` (or `tcpka`) and its `<side>tcpka-idle/intvl/cnt`
/// (typed by the config: a bad value was refused at `-c`).
fn keepalive(px: &Proxy, side: &str) -> Option<KeepAlive> {
    let on = px
        .options
        .flag(&format!("{side}tcpka"))
        .or_else(|| px.options.flag("tcpka"))
        .unwrap_or(false);
    if !on {
        return None;
    }
    let ka = if side == "cli" {
        px.clitcpka
    } else {
        px.srvtcpka
    };
    Some(KeepAlive {
        idle: ka.idle,
        interval: ka.intvl,
        // The kernel refuses a count that is not positive; HAProxy's
        // setsockopt fails silently then, and the kernel default stays.
        count: ka
            .cnt
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0),
    })
}

/// `tune.buffers.limit` as HAProxy applies it: 0 is none, a limit is at
/// least 3 and above `tune.buffers.reserve` (itself at least 2).
fn buffers_limit(t: &ringlb_config::model::global::Tune) -> Option<u32> {
    let limit = t.buffers_limit.filter(|n| *n > 0)?;
    let reserve = t.buffers_reserve.unwrap_or(2).max(2);
    Some(limit.max(3).max(reserve + 1))
}

/// A socket buffer size from `tune.{snd,rcv}buf.*` (typed by the config).
fn buffer_size(size: Option<u32>) -> Option<usize> {
    size.and_then(|n| usize::try_from(n).ok())
}

/// The socket options of a bind line's listener, as tcp_bind_listener and
/// session_accept_fd set them in TCP mode.
fn listener_tuning(
    px: &Proxy,
    b: &ringlb_config::model::BindOptions,
    cfg: &Config,
    backlog: i32,
) -> ListenerTuning {
    ListenerTuning {
        smart_accept: px.options.flag("tcp-smart-accept").unwrap_or(false),
        nolinger: px.options.is_set("nolinger"),
        user_timeout: b.tcp_ut,
        mss: b.mss,
        keepalive: keepalive(px, "cli"),
        sndbuf: buffer_size(cfg.global.tune.sndbuf_client),
        rcvbuf: buffer_size(cfg.global.tune.rcvbuf_client),
        defer_accept: b.defer_accept,
        fastopen: b.tfo.then_some(backlog),
    }
}

/// The servers' ids as HAProxy 2.6 numbers them (check_config_validity):
/// in declaration order, a server without `id` takes the first number not
/// used yet from a counter that starts at 1 and moves past every server.
pub fn server_ids(explicit: &[Option<u32>]) -> Vec<u32> {
    let mut used: std::collections::BTreeSet<u32> = explicit.iter().flatten().copied().collect();
    let mut next = 1u32;
    let mut out = Vec::with_capacity(explicit.len());
    for id in explicit {
        let id = match id {
            Some(id) => *id,
            None => {
                while used.contains(&next) {
                    next = next.wrapping_add(1);
                }
                used.insert(next);
                next
            }
        };
        out.push(id);
        next = next.wrapping_add(1);
    }
    out
}

fn backend_plan(px: &Proxy, cfg: &Config) -> Result<BackendPlan, String> {
    let mut servers = Vec::new();
    let ids = server_ids(&px.servers.iter().map(|s| s.opts.id).collect::<Vec<_>>());
    for (s, id) in px.servers.iter().zip(ids) {
        let o = &s.opts;
        let addr = match &s.addr {
            Address::Inet { host, port, .. } => {
                let ip = resolve_host(host, o.init_addr.as_deref())
                    .map_err(|e| format!("backend '{}', server '{}': {e}", px.name, s.name))?;
                match port {
                    Port::One(p) => ServerAddr::Fixed(SocketAddr::new(ip, *p)),
                    Port::None => ServerAddr::SamePort(ip),
                    Port::Offset(off) => ServerAddr::PortOffset(ip, *off),
                    Port::Range(..) => {
                        return Err(format!(
                            "backend '{}', server '{}': port ranges are not allowed",
                            px.name, s.name
                        ))
                    }
                }
            }
            Address::Unix {
                path,
                transport: ringlb_config::addr::Transport::Stream,
            } => ServerAddr::Unix(std::path::PathBuf::from(path)),
            other => {
                return Err(format!(
                    "backend '{}', server '{}': address '{other}' is not supported yet",
                    px.name, s.name
                ))
            }
        };
        let cookie = o.cookie.clone().or_else(|| dynamic_cookie(px, &addr));
        servers.push(ServerPlan {
            conf: arc_swap::ArcSwap::from_pointee(ServerConf {
                name: s.name.clone(),
                id,
                addr,
                forced_id: o.id.is_some(),
                weight: o.weight.unwrap_or(1),
                loc: s.loc.to_string(),
                probes: None,
                source: match o.source.as_ref().or(px.source.as_ref()) {
                    Some(src) => Some(Arc::new(source_plan(src).map_err(|e| {
                        format!("backend '{}', server '{}': {e}", px.name, s.name)
                    })?)),
                    None => None,
                },
                track: None,
            }),
            weights: Weights::new(
                o.weight.unwrap_or(1),
                // HAProxy keeps slowstart in seconds, rounded up.
                o.slowstart.map_or(0, |d| {
                    u32::try_from(d.as_millis().div_ceil(1000)).unwrap_or(u32::MAX)
                }),
                dynamic_weights(px),
            ),
            backup: std::sync::atomic::AtomicBool::new(o.backup.unwrap_or(false)),
            state: State::new(Snapshot {
                // `disabled`: in maintenance from the configuration, and
                // down (HAProxy's srv_parse_disabled).
                admin: if o.disabled.unwrap_or(false) {
                    admin::CMAINT | admin::FMAINT
                } else {
                    0
                },
                oper: if o.disabled.unwrap_or(false) {
                    Oper::Stopped
                } else {
                    Oper::Running
                },
                eweight: u16::try_from(
                    o.weight.unwrap_or(1).min(crate::balance::MAX_WEIGHT)
                        * crate::engine::backend::server::WEIGHT_SCALE,
                )
                .unwrap_or(16),
                maxconn: o.maxconn.unwrap_or(0),
            }),
            user_timeout: o.tcp_ut,
            tfo: o.tfo.unwrap_or(false).into(),
            minconn: o.minconn.unwrap_or(0).into(),
            maxqueue: o.maxqueue.unwrap_or(0).into(),
            pool: PoolSettings::new(
                o.pool_max_conn.and_then(|n| usize::try_from(n).ok()),
                o.pool_purge_delay.unwrap_or(Duration::from_secs(5)),
                // HAProxy stores atoi's value in an unsigned int: a negative
                // one keeps every idle connection the other bounds allow.
                o.pool_low_conn
                    .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX)),
            ),
            // -1 (or any negative value): no limit.
            max_reuse: o.max_reuse.and_then(|n| u32::try_from(n).ok()),
            cookie,
            conns: Counter::default(),
            queued: Counter::default(),
            queue_served: Counter::default(),
            observe: crate::engine::checks::observe::Observer::of(
                o,
                px.mode() == ringlb_config::model::Mode::Http,
            ),
            shutdown_on: crate::engine::checks::observe::ShutdownOn::of(o),
            pinned: pinned(cfg, px, &s.name).into(),
            check_port: o.port,
        });
    }
    let configured = servers.len();
    let dynamic = dynamic_weights(px);
    let tcp_hash = match &px.balance {
        Some(Balance::Hash(e)) if px.mode() != ringlb_config::model::Mode::Http => Some(Box::new(
            crate::engine::rules::expr::Expr::compile(e)
                .map_err(|e| format!("backend '{}': balance hash: {}", px.name, e.0))?,
        )),
        _ => None,
    };
    let source = match &px.source {
        Some(src) => Some(Arc::new(
            source_plan(src).map_err(|e| format!("backend '{}': {e}", px.name))?,
        )),
        None => None,
    };
    Ok(BackendPlan {
        name: px.name.clone(),
        servers: servers.into(),
        source,
        dynamic,
        live: std::sync::atomic::AtomicUsize::new(configured),
        tcp_hash,
        balance: px.balance.clone().unwrap_or(Balance::RoundRobin),
        hash_type: px.hash_type,
        hash_balance_factor: px.hash_balance_factor,
        allbackups: px.options.is_set("allbackups"),
        timeout_connect: px.timeouts.connect,
        timeout_server: px.timeouts.server,
        timeout_server_fin: px.timeouts.server_fin,
        timeout_tunnel: px.timeouts.tunnel,
        timeout_queue: px.timeouts.queue.or(px.timeouts.connect),
        retries: px.retries.unwrap_or(DEFAULT_RETRIES),
        redispatch: px.options.redispatch,
        retry_on: px
            .retry_on
            .unwrap_or(ringlb_config::model::RetryOn::DEFAULT),
        beconn: Counter::default(),
        generation: std::sync::atomic::AtomicU64::new(0),
        queued: Counter::default(),
        fullconn: px.fullconn.unwrap_or(0),
        fullconn_set: px.fullconn.is_some(),
        queue_served: Counter::default(),
        server_tuning: ServerTuning {
            smart_connect: px.options.flag("tcp-smart-connect").unwrap_or(false),
            keepalive: keepalive(px, "srv"),
            user_timeout: None,
            sndbuf: buffer_size(cfg.global.tune.sndbuf_server),
            rcvbuf: buffer_size(cfg.global.tune.rcvbuf_server),
        },
        splice_request: splices(px).0,
        splice_response: splices(px).1,
        http: HttpPlan::of(px, cfg, &|_| None)?,
        tcp: crate::engine::rules::tcp::TcpRules::compile(px, None)
            .map_err(|e| e.0)?
            .map(Box::new),
    })
}

/// The sample items of a log format, compiled in order; None for one
/// whose fetch or converter the engine lacks, or that reads a map (no map
/// is loaded for the log).
fn log_samples(
    f: Option<&ringlb_config::logformat::LogFormat>,
) -> Vec<Option<crate::engine::rules::expr::Expr>> {
    use crate::engine::rules::names;
    let Some(f) = f else {
        return Vec::new();
    };
    f.items
        .iter()
        .filter_map(|i| match i {
            ringlb_config::logformat::LogItem::Sample { expr, .. } => Some(expr),
            _ => None,
        })
        .map(|e| {
            let ok = names::fetch_supported(e.fetch.def.name, &[])
                && e.converters.iter().all(|c| {
                    names::converter_supported(c.def.name)
                        && crate::engine::rules::map::kind(c.def.name).is_none()
                });
            ok.then(|| crate::engine::rules::expr::Expr::compile(e).ok())
                .flatten()
        })
        .collect()
}

/// The last `log-format-sd` of a proxy (kept as a directive by the
/// configuration crate), parsed as HAProxy parses `log-format`.
fn log_format_sd(px: &Proxy) -> Result<Option<ringlb_config::logformat::LogFormat>, String> {
    let Some(d) = px
        .directives
        .iter()
        .rev()
        .find(|d| d.keyword == "log-format-sd")
    else {
        return Ok(None);
    };
    let text = d.args.first().map(String::as_str).unwrap_or_default();
    let f = ringlb_config::logformat::parse_log_format_with(
        text,
        ringlb_config::logformat::LogFormatOptions { merge_spaces: true },
    )
    .map_err(|e| format!("{}: 'log-format-sd': {}", d.loc, e.message))?;
    Ok((!f.items.is_empty()).then_some(f))
}

/// `cookie ... dynamic` with `dynamic-cookie-key`: the value of a server
/// without its own `cookie`, as HAProxy's srv_set_dyncookie makes it: the
/// XXH64 (seed 0) of the key, the server's address bytes and its port as a
/// big-endian 32-bit number (HAProxy's `svc_port`: 0 without a port, the
/// offset of a `+N` / `-N` one), in 16 lower-case hex digits. None for a
/// UNIX socket server.
fn dynamic_cookie(px: &Proxy, addr: &ServerAddr) -> Option<String> {
    px.cookie.as_ref().filter(|c| c.dynamic)?;
    let key = px
        .directives
        .iter()
        .rev()
        .find(|d| d.keyword == "dynamic-cookie-key")?
        .args
        .first()?;
    let (ip, port) = match addr {
        ServerAddr::Fixed(sa) => (sa.ip(), u32::from(sa.port())),
        ServerAddr::SamePort(ip) => (*ip, 0),
        // An unsigned int in HAProxy: a negative offset wraps.
        ServerAddr::PortOffset(ip, off) => (*ip, *off as u32),
        ServerAddr::Unix(_) => return None,
    };
    let mut buf = key.as_bytes().to_vec();
    match ip {
        std::net::IpAddr::V4(ip) => buf.extend_from_slice(&ip.octets()),
        std::net::IpAddr::V6(ip) => buf.extend_from_slice(&ip.octets()),
    }
    buf.extend_from_slice(&port.to_be_bytes());
    Some(format!("{:016x}", xxhash_rust::xxh64::xxh64(&buf, 0)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::Plan;

    pub(crate) struct NoHost;
    impl ringlb_config::Host for NoHost {
        fn env(&self, _: &str) -> Option<String> {
            None
        }
        fn read_file(&self, p: &str) -> Result<Vec<u8>, String> {
            Err(format!("no file {p}"))
        }
    }

    /// The plan of a configuration text (no files, no environment).
    pub(crate) fn plan(text: &str) -> Plan {
        let (cfg, diags) = ringlb_config::load(
            &[ringlb_config::SourceFile::new("t.cfg", text.to_string())],
            &NoHost,
        );
        assert!(!diags.has_errors(), "{diags:?}");
        Plan::build(&cfg).unwrap()
    }

    /// HAProxy's automatic ids: the first free number from a counter that
    /// moves past every server (s1 id 2, s2, s3 id 1, s4 -> 2, 3, 1, 5, as
    /// `srv_id` shows through haproxy 2.6 in tests/h1/features.rs).
    #[test]
    fn server_ids_as_haproxy_numbers_them() {
        assert_eq!(super::server_ids(&[None, None, None]), [1, 2, 3]);
        assert_eq!(
            super::server_ids(&[Some(2), None, Some(1), None]),
            [2, 3, 1, 5]
        );
        assert_eq!(super::server_ids(&[None, Some(1), None]), [2, 1, 4]);
        assert_eq!(super::server_ids(&[Some(5), None]), [5, 2]);
    }

    /// A server without an address goes where the client went (its
    /// port, or the client's with none or an offset).
    #[test]
    fn a_server_without_an_address_takes_the_client_s() {
        use super::ServerAddr;
        let dst: std::net::SocketAddr = "192.0.2.1:8080".parse().unwrap();
        let v6: std::net::SocketAddr = "[2001:db8::1]:443".parse().unwrap();
        let any4 = std::net::IpAddr::from([0, 0, 0, 0]);
        let fixed = ServerAddr::Fixed("0.0.0.0:80".parse().unwrap());
        assert_eq!(fixed.resolve(dst), Some("192.0.2.1:80".parse().unwrap()));
        assert_eq!(fixed.resolve(v6), Some("[2001:db8::1]:80".parse().unwrap()));
        assert_eq!(ServerAddr::SamePort(any4).resolve(dst), Some(dst));
        assert_eq!(
            ServerAddr::PortOffset(any4, 1).resolve(dst),
            Some("192.0.2.1:8081".parse().unwrap())
        );
        let set = ServerAddr::Fixed("10.0.0.1:80".parse().unwrap());
        assert_eq!(set.resolve(dst), Some("10.0.0.1:80".parse().unwrap()));
    }

    const SERVERS: &str =
        "    server a 127.0.0.1:1 minconn 10 maxconn 100\n    server b 127.0.0.1:2 maxconn 50\n";

    /// The keep-alive settings come typed from the configuration, from the
    /// defaults section where the proxy sets none; a count the kernel would
    /// refuse is left to the kernel's default.
    #[test]
    fn tcp_keepalive_settings_reach_both_sides() {
        use crate::engine::listener::KeepAlive;
        use std::time::Duration;
        let p = plan(
            "defaults\n    mode tcp\n    option tcpka\n    clitcpka-idle 1m\n    srvtcpka-cnt -1\n\
             frontend f\n    bind 127.0.0.1:8\n    clitcpka-intvl 1500ms\n    clitcpka-cnt 4\n    default_backend be\n\
             backend be\n    srvtcpka-idle 30\n    server s 127.0.0.1:1\n",
        );
        assert_eq!(
            p.frontends[0].binds[0].tuning.keepalive,
            Some(KeepAlive {
                idle: Some(Duration::from_secs(60)),
                interval: Some(Duration::from_secs(2)),
                count: Some(4),
            })
        );
        assert_eq!(
            p.backends[0].server_tuning.keepalive,
            Some(KeepAlive {
                idle: Some(Duration::from_secs(30)),
                interval: None,
                count: None,
            })
        );
    }

    /// `maxpipes` and `tune.buffers.limit` come typed from the global
    /// section, the limit with HAProxy's floor (3, above the reserve).
    #[test]
    fn pipe_and_buffer_limits_are_typed() {
        let p = plan(
            "global\n    maxpipes 7\n    tune.buffers.limit 1\n\
             defaults\n    mode tcp\nfrontend f\n    bind 127.0.0.1:8\n    default_backend be\n\
             backend be\n    server s 127.0.0.1:1\n",
        );
        assert_eq!(p.maxpipes, Some(7));
        assert_eq!(p.buffers_limit, Some(3));
        let p = plan(
            "global\n    tune.buffers.reserve 6\n    tune.buffers.limit 4\n\
             defaults\n    mode tcp\nfrontend f\n    bind 127.0.0.1:8\n    default_backend be\n\
             backend be\n    server s 127.0.0.1:1\n",
        );
        assert_eq!(p.buffers_limit, Some(7), "above the reserve");
        let p = plan("defaults\n    mode tcp\nbackend be\n    server s 127.0.0.1:1\n");
        assert_eq!((p.maxpipes, p.buffers_limit), (None, None));
    }

    /// fullconn defaults to 10% of the maxconns of the frontends that
    /// branch to the backend, the global one standing in for a frontend
    /// without its own (manual, `fullconn`).
    #[test]
    fn fullconn_defaults_to_a_tenth_of_the_frontends_maxconn() {
        let mut p = plan(&format!(
            "global\n    maxconn 5000\ndefaults\n    mode tcp\n\
             frontend f1\n    bind 127.0.0.1:8\n    maxconn 1001\n    default_backend be\n\
             frontend f2\n    bind 127.0.0.1:8\n    default_backend be\n\
             frontend f3\n    bind 127.0.0.1:8\n    maxconn 7\n    default_backend other\n\
             backend be\n{SERVERS}backend other\n    fullconn 3\n{SERVERS}"
        ));
        p.default_fullconn();
        assert_eq!(
            p.backends[0].fullconn, 601,
            "(1001 + 5000) / 10, rounded up"
        );
        assert_eq!(p.backends[1].fullconn, 3, "set in the configuration");
    }

    /// srv_dynamic_maxconn: minconn while the backend is idle, growing
    /// with its load, maxconn from fullconn on; a server without minconn
    /// keeps its maxconn.
    #[test]
    fn the_dynamic_limit_follows_the_backend_load() {
        let p = plan(&format!(
            "defaults\n    mode tcp\nfrontend f\n    bind 127.0.0.1:8\n    default_backend be\n\
             backend be\n    fullconn 1000\n{SERVERS}"
        ));
        let be = &p.backends[0];
        let (a, b) = (&be.servers[0], &be.servers[1]);
        assert_eq!(a.max_now(be), 10);
        assert_eq!(b.max_now(be), 50);
        for _ in 0..500 {
            be.beconn.inc();
        }
        assert_eq!(a.max_now(be), 50, "500 * 100 / 1000");
        for _ in 0..500 {
            be.beconn.inc();
        }
        assert_eq!(a.max_now(be), 100);
        assert!(a.has_room(be));
        for _ in 0..100 {
            a.conns.inc();
        }
        assert!(!a.has_room(be));
    }

    /// The socket buffer sizes and `noreuseport` come typed from the
    /// global section (a 0 leaves the kernel's auto-tuning).
    #[test]
    fn socket_buffers_and_reuseport_reach_the_plan() {
        let p = plan(
            "global\n    tune.sndbuf.client 4k\n    tune.rcvbuf.client 0\n    tune.rcvbuf.server 30x\n    noreuseport\n\
             defaults\n    mode tcp\nfrontend f\n    bind 127.0.0.1:8\n    default_backend be\n\
             backend be\n    server a 127.0.0.1:1\n",
        );
        let t = &p.frontends[0].binds[0].tuning;
        assert_eq!((t.sndbuf, t.rcvbuf), (Some(4096), None));
        let s = &p.backends[0].server_tuning;
        assert_eq!((s.sndbuf, s.rcvbuf), (None, Some(30)));
        assert!(!p.reuseport);
    }

    /// A proxy's typed `source` applies to the servers without their own;
    /// `usesrc hdr_ip()` (TCP mode) leaves the plain address.
    #[test]
    fn sources_reach_the_plan() {
        use super::{SourcePlan, UseSrc};
        use std::net::SocketAddr;
        let p = plan(
            "defaults\n    mode tcp\nfrontend f\n    bind 127.0.0.1:8\n    default_backend be\n\
             backend be\n    source 127.0.0.2:4000 usesrc clientip interface lo\n\
             \x20   server a 127.0.0.1:1 source 127.0.0.3 usesrc hdr_ip(x-forwarded-for)\n    server b 127.0.0.1:2\n",
        );
        let s = &p.backends[0].servers;
        let addr = |t: &str| t.parse::<SocketAddr>().unwrap();
        assert_eq!(
            s[0].conf().source.as_deref().cloned(),
            Some(SourcePlan {
                addr: addr("127.0.0.3:0"),
                usesrc: None,
                interface: None,
            })
        );
        assert_eq!(
            s[1].conf().source.as_deref().cloned(),
            Some(SourcePlan {
                addr: addr("127.0.0.2:4000"),
                usesrc: Some(UseSrc::ClientIp),
                interface: Some("lo".into()),
            })
        );
    }

    /// A server's `tcp-ut` and `tfo` reach the plan (and so its sockets),
    /// `default-server` included.
    #[test]
    fn server_tcp_ut_and_tfo_reach_the_plan() {
        let p = plan(
            "defaults\n    mode tcp\nfrontend f\n    bind 127.0.0.1:8\n    default_backend be\n\
             backend be\n    default-server tcp-ut 3s\n    server a 127.0.0.1:1 tcp-ut 20s tfo\n    server b 127.0.0.1:2\n",
        );
        let s = &p.backends[0].servers;
        assert_eq!(s[0].user_timeout, Some(std::time::Duration::from_secs(20)));
        assert!(s[0].tfo());
        assert_eq!(s[1].user_timeout, Some(std::time::Duration::from_secs(3)));
        assert!(!s[1].tfo());
    }

    /// `no-<option>` on a server undoes the `default-server` setting, also
    /// for the `no-` forms the manual lists as keywords of their own.
    #[test]
    fn no_forms_undo_default_server() {
        let p = plan(
            "defaults\n    mode tcp\nfrontend f\n    bind 127.0.0.1:8\n    default_backend be\n\
             backend be\n    default-server backup tfo\n    server a 127.0.0.1:1 no-backup no-tfo\n    server b 127.0.0.1:2\n",
        );
        let s = &p.backends[0].servers;
        assert!(!s[0].is_backup() && !s[0].tfo(), "server a undoes both");
        assert!(
            s[1].is_backup() && s[1].tfo(),
            "server b keeps the defaults"
        );
    }
}

//! The global section (manual section 3): process-wide settings.
//!
//! Settings the engine or the binary act upon are typed fields; every other
//! keyword of the manual's global section is recognised, arity-checked and
//! kept as a [`Directive`] in [`Global::directives`].

use std::time::Duration;

use super::{Directive, LogTarget};
use crate::addr::Address;
use crate::diag::Loc;

/// Process-wide settings (`global` section).
#[derive(Clone, Debug, Default)]
pub struct Global {
    /// `daemon`.
    pub daemon: bool,
    /// `master-worker [no-exit-on-failure]`.
    pub master_worker: Option<MasterWorker>,
    /// `nbthread <n>`.
    pub nbthread: Option<u32>,
    /// `cpu-map` lines, in file order (later lines override earlier ones
    /// where they overlap, as in HAProxy).
    pub cpu_map: Vec<CpuMap>,
    /// `maxconn <n>` (the first one wins, as in HAProxy).
    pub maxconn: Option<u32>,
    /// `user <name>` or `uid <n>`: the binary resolves names at start-up.
    pub user: Option<Account>,
    /// `group <name>` or `gid <n>`.
    pub group: Option<Account>,
    /// Where `user`/`uid` and `group`/`gid` were set (for diagnostics).
    pub user_loc: Option<Loc>,
    pub group_loc: Option<Loc>,
    pub chroot: Option<String>,
    pub pidfile: Option<String>,
    /// `log` lines (never `log global`).
    pub logs: Vec<LogTarget>,
    /// `log-send-hostname [<name>]`: `Some(None)` means the system host name.
    pub log_send_hostname: Option<Option<String>>,
    pub log_tag: Option<String>,
    pub node: Option<String>,
    /// `description <text...>` (the words joined by one space).
    pub description: Option<String>,
    /// `localpeer <name>`.
    pub localpeer: Option<String>,
    /// `stats socket` lines.
    pub stats_sockets: Vec<StatsSocket>,
    /// `stats timeout` (HAProxy's default is 10s).
    pub stats_timeout: Option<Duration>,
    /// `stats maxconn` (HAProxy's default is 10).
    pub stats_maxconn: Option<u32>,
    /// `ssl-default-bind-*`.
    pub ssl_default_bind: SslDefaults,
    /// `ssl-default-server-*`.
    pub ssl_default_server: SslDefaults,
    pub tune: Tune,
    pub hard_stop_after: Option<Duration>,
    /// `spread-checks <0..50>` (percent).
    pub spread_checks: Option<u8>,
    pub ca_base: Option<String>,
    pub crt_base: Option<String>,
    pub ulimit_n: Option<u32>,
    /// `maxpipes`: the most pipes kept for splicing (HAProxy's default is
    /// maxconn/4 when a proxy splices).
    pub maxpipes: Option<u32>,
    pub maxsslconn: Option<u32>,
    pub server_state_file: Option<String>,
    pub server_state_base: Option<String>,
    /// `setenv`/`presetenv`/`unsetenv`/`resetenv`, in order. The parser has
    /// already applied them to what later lines see; the binary replays them
    /// on its own environment (external checks, Lua and programs inherit it).
    pub env: Vec<EnvOp>,
    /// `expose-experimental-directives` was seen.
    pub expose_experimental: bool,
    /// `noreuseport`: listeners do not set SO_REUSEPORT.
    pub noreuseport: bool,
    /// Recognised keywords kept as words (see `Directive`).
    pub directives: Vec<Directive>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MasterWorker {
    /// False with `no-exit-on-failure`: a crashing worker does not take the
    /// master and the other workers down.
    pub exit_on_failure: bool,
}

/// A user or group, by name (resolved by the binary) or by number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Account {
    Name(String),
    Id(u32),
}

/// One `cpu-map` line. Thread groups and threads are bit sets like
/// HAProxy's: bit `n-1` stands for group (or thread) `n`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuMap {
    /// `auto:` prefix: bind the threads one by one to the CPUs in order.
    pub auto: bool,
    pub groups: u64,
    /// Threads within each group; all bits set when no `/<thread-set>` is
    /// given ("1" means "1/all").
    pub threads: u64,
    /// CPU numbers (0-based), sorted, without duplicates.
    pub cpus: Vec<u16>,
    pub loc: Loc,
}

/// A `stats socket` line: a CLI listener.
#[derive(Clone, Debug)]
pub struct StatsSocket {
    pub addr: Address,
    /// `level user|operator|admin` (HAProxy's default is operator).
    pub level: Option<CliLevel>,
    /// `mode <octal>`: UNIX socket permissions.
    pub mode: Option<u32>,
    /// `user <name>` / `uid <n>`: UNIX socket owner.
    pub user: Option<Account>,
    /// `group <name>` / `gid <n>`.
    pub group: Option<Account>,
    /// `expose-fd listeners`.
    pub expose_fd_listeners: bool,
    /// The other bind options, checked against the bind keyword table.
    pub options: Vec<Directive>,
    pub loc: Loc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CliLevel {
    User,
    Operator,
    Admin,
}

/// `ssl-default-bind-*` or `ssl-default-server-*`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SslDefaults {
    pub ciphers: Option<String>,
    pub ciphersuites: Option<String>,
    pub curves: Option<String>,
    pub sigalgs: Option<String>,
    pub client_sigalgs: Option<String>,
    pub options: Vec<SslOption>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslOption {
    NoTlsTickets,
    /// Bind side only.
    PreferClientCiphers,
    /// Bind side only (3.x): no default certificate, an SNI must match.
    StrictSni,
    MinVer(TlsVersion),
    MaxVer(TlsVersion),
    /// `no-sslv3`, `no-tlsv10` ...
    Disable(TlsVersion),
    /// `force-sslv3`, `force-tlsv10` ...
    Force(TlsVersion),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Ssl3,
    Tls10,
    Tls11,
    Tls12,
    Tls13,
}

impl TlsVersion {
    /// As written after `ssl-min-ver` / `ssl-max-ver`.
    pub fn from_keyword(k: &str) -> Option<Self> {
        Some(match k {
            "SSLv3" => TlsVersion::Ssl3,
            "TLSv1.0" => TlsVersion::Tls10,
            "TLSv1.1" => TlsVersion::Tls11,
            "TLSv1.2" => TlsVersion::Tls12,
            "TLSv1.3" => TlsVersion::Tls13,
            _ => return None,
        })
    }

    /// As written in `no-<v>` / `force-<v>` options.
    pub fn from_suffix(k: &str) -> Option<Self> {
        Some(match k {
            "sslv3" => TlsVersion::Ssl3,
            "tlsv10" => TlsVersion::Tls10,
            "tlsv11" => TlsVersion::Tls11,
            "tlsv12" => TlsVersion::Tls12,
            "tlsv13" => TlsVersion::Tls13,
            _ => return None,
        })
    }
}

/// The `tune.*` settings the engine reads; the other `tune.*` keywords are
/// kept as directives.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tune {
    /// `tune.bufsize` as written (HAProxy rounds it up to a multiple of 16
    /// on 64-bit machines).
    pub bufsize: Option<u32>,
    pub maxrewrite: Option<u32>,
    /// `tune.http.maxhdr` (1..32767).
    pub http_maxhdr: Option<u16>,
    /// `tune.buffers.limit` as written (0: no limit); HAProxy raises a
    /// non-zero value to 3 and above `tune.buffers.reserve`.
    pub buffers_limit: Option<u32>,
    /// `tune.buffers.reserve` as written; HAProxy raises it to 2.
    pub buffers_reserve: Option<u32>,
    /// `tune.sndbuf.client` / `tune.sndbuf.server` /
    /// `tune.rcvbuf.client` / `tune.rcvbuf.server`: SO_SNDBUF / SO_RCVBUF
    /// in bytes on connected sockets. `None`: unset or 0, the kernel
    /// auto-tunes.
    pub sndbuf_client: Option<u32>,
    pub sndbuf_server: Option<u32>,
    pub rcvbuf_client: Option<u32>,
    pub rcvbuf_server: Option<u32>,
    pub ssl: TuneSsl,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TuneSsl {
    /// `tune.ssl.cachesize` (blocks; 0 disables the session cache).
    pub cachesize: Option<u32>,
    /// `tune.ssl.lifetime` (bare numbers are seconds).
    pub lifetime: Option<Duration>,
    pub maxrecord: Option<u32>,
    /// `tune.ssl.default-dh-param` (>= 1024).
    pub default_dh_param: Option<u32>,
    pub force_private_cache: bool,
    /// `tune.ssl.capture-buffer-size` (or its deprecated alias
    /// `tune.ssl.capture-cipherlist-size`).
    pub capture_buffer_size: Option<u32>,
}

/// An environment change made by the global section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvOp {
    /// `setenv` (overwrite) or `presetenv` (only when unset).
    Set {
        name: String,
        value: String,
        overwrite: bool,
    },
    /// `unsetenv <name>...`.
    Unset(Vec<String>),
    /// `resetenv [<name>...]`: remove everything but these.
    Reset { keep: Vec<String> },
}

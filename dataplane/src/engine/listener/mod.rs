//! Listeners: every `bind` address gets one SO_REUSEPORT socket per
//! executor, bound at start-up in the main thread (so a busy address stops
//! the start before anything is served); an inherited `fd@N` socket is
//! shared by every executor (each gets its own dup).
//!
//! Socket options are HAProxy's (tcp_bind_listener, session_accept_fd,
//! tcp_connect_server): see [`ListenerTuning`] and [`tune_server_socket`].

pub mod accept;

use std::net::SocketAddr;
use std::time::Duration;

use socket2::{Domain, Protocol, SockRef, Socket, TcpKeepalive, Type};

use super::plan::{BindPlan, ListenAddr, Plan};

/// One bound socket, ready to be handed to an executor.
#[derive(Debug)]
pub struct Bound {
    pub socket: BoundSocket,
    pub frontend: usize,
    pub addr: ListenAddr,
    /// HAProxy's listener id in its frontend: 1, 2, ... over the addresses
    /// of its bind lines in order (`unix:<id>` in the log for UNIX
    /// clients).
    pub luid: u32,
    /// The listen(2) backlog (a paused listener listens again with it).
    pub backlog: i32,
    /// What the accept loop still sets on each accepted TCP socket (most
    /// options are inherited from the listener).
    pub tuning: ListenerTuning,
}

/// A bound listening socket of either family.
#[derive(Debug)]
pub enum BoundSocket {
    Tcp(std::net::TcpListener),
    Unix(std::os::unix::net::UnixListener),
}

/// Why binding failed; `in_use` is worth retrying while old processes
/// release their ports (`-sf`/`-st`).
#[derive(Debug)]
pub struct BindError {
    pub in_use: bool,
    pub message: String,
}

impl BindError {
    fn fatal(message: String) -> Self {
        BindError {
            in_use: false,
            message,
        }
    }
}

/// Bind every listener of the plan, `executors` times each. The outer Vec
/// is per executor.
pub fn bind_all(plan: &Plan, executors: usize) -> Result<Vec<Vec<Bound>>, BindError> {
    let mut per_exec: Vec<Vec<Bound>> = (0..executors).map(|_| Vec::new()).collect();
    for (fi, fe) in plan.frontends.iter().enumerate() {
        let mut luids = listener_ids(&fe.binds).into_iter();
        for b in &fe.binds {
            let backlog = listener_backlog(b.backlog, fe.maxconn, plan.maxconn);
            let tuning = tuning_of(b, backlog);
            for addr in &b.addrs {
                let luid = luids.next().unwrap_or(0);
                // One socket per executor, then one Bound each.
                let fatal = |e: std::io::Error| {
                    BindError::fatal(format!("Starting frontend {}: {addr}: {e}", fe.name))
                };
                let (sockets, socket_tuning): (Vec<BoundSocket>, ListenerTuning) = match addr {
                    ListenAddr::Inet(sa) => {
                        let bind = || {
                            bind_inet(*sa, b, backlog, &tuning, plan.reuseport).map_err(|e| {
                                BindError {
                                    in_use: e.kind() == std::io::ErrorKind::AddrInUse,
                                    message: format!(
                                        "Starting frontend {}: cannot bind socket [{sa}]: {e}",
                                        fe.name
                                    ),
                                }
                            })
                        };
                        // `noreuseport`: one socket, shared by the executors.
                        let shared = if plan.reuseport { None } else { Some(bind()?) };
                        let sockets = (0..executors)
                            .map(|_| match &shared {
                                Some(s) => s.try_clone().map_err(fatal),
                                None => bind(),
                            })
                            .map(|s| s.map(BoundSocket::Tcp))
                            .collect::<Result<_, _>>()?;
                        (sockets, tuning.clone())
                    }
                    ListenAddr::Unix {
                        path,
                        mode,
                        user,
                        group,
                    } => {
                        let base =
                            bind_unix(path, backlog, *mode, user.as_deref(), group.as_deref())
                                .map_err(|e| BindError {
                                    in_use: false,
                                    message: format!(
                                        "Starting frontend {}: cannot bind UNIX socket [{}]: {e}",
                                        fe.name,
                                        path.display()
                                    ),
                                })?;
                        let sockets = (0..executors)
                            .map(|_| base.try_clone().map(BoundSocket::Unix).map_err(fatal))
                            .collect::<Result<_, _>>()?;
                        (sockets, ListenerTuning::default())
                    }
                    ListenAddr::Fd(n) => {
                        let owned = ringlb_sys::adopt_listener_fd(*n).map_err(|e| {
                            BindError::fatal(format!("Starting frontend {}: {e}", fe.name))
                        })?;
                        let base = std::net::TcpListener::from(owned);
                        base.set_nonblocking(true).map_err(fatal)?;
                        // HAProxy's tcp_bind_listener runs on inherited
                        // sockets too: what the parent left set is reset.
                        for w in tune_listener(SockRef::from(&base), &tuning) {
                            crate::stderr_line!(
                                "[WARNING] Starting frontend {}: fd@{n}: {w}",
                                fe.name
                            );
                        }
                        let sockets = (0..executors)
                            .map(|_| base.try_clone().map(BoundSocket::Tcp).map_err(fatal))
                            .collect::<Result<_, _>>()?;
                        (sockets, tuning.clone())
                    }
                };
                if let (Some(info), Some(first)) = (
                    plan.stats
                        .listeners
                        .iter()
                        .find(|l| l.fe == fi && l.luid == luid),
                    sockets.first(),
                ) {
                    // The statistics' `addr`: the address the socket is
                    // bound to (an `fd@N` or a port 0 shows its own).
                    let _ = info.addr.set(match first {
                        BoundSocket::Tcp(l) => l
                            .local_addr()
                            .map_or_else(|_| addr.to_string(), |a| a.to_string()),
                        BoundSocket::Unix(_) => "unix".into(),
                    });
                }
                for (list, socket) in per_exec.iter_mut().zip(sockets) {
                    list.push(Bound {
                        socket,
                        frontend: fi,
                        addr: addr.clone(),
                        luid,
                        backlog,
                        tuning: socket_tuning.clone(),
                    });
                }
            }
        }
    }
    Ok(per_exec)
}

/// HAProxy's listener ids (`luid`) of a frontend's listeners, one per
/// address of its bind lines in order: a bind's `id`, else the first id
/// no bind took, counting from 1 and moving on with every listener
/// (cfgparse.c check_config_validity).
pub fn listener_ids(binds: &[BindPlan]) -> Vec<u32> {
    let taken: Vec<u32> = binds.iter().filter_map(|b| b.id).collect();
    let mut next = 1u32;
    let mut out = Vec::new();
    for b in binds {
        for _ in &b.addrs {
            out.push(match b.id {
                Some(id) => id,
                None => {
                    while taken.contains(&next) {
                        next = next.saturating_add(1);
                    }
                    next
                }
            });
            next = next.saturating_add(1);
        }
    }
    out
}

/// Bind a UNIX stream socket the way HAProxy does for seamless reloads:
/// bind a temporary name next to the target, set its mode and owner, then
/// rename it over the target, so the path always answers (the old
/// process's socket until the rename, the new one after).
pub(crate) fn bind_unix(
    path: &std::path::Path,
    backlog: i32,
    mode: Option<u32>,
    user: Option<&str>,
    group: Option<&str>,
) -> std::io::Result<std::os::unix::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    let tmp = path.with_file_name(format!(
        "{}.{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    let l = std::os::unix::net::UnixListener::bind(&tmp)?;
    // std listens with its own backlog: listening again sets ours.
    SockRef::from(&l).listen(backlog)?;
    if let Some(m) = mode {
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(m))?;
    }
    let uid = lookup_id(user, |u| {
        nix::unistd::User::from_name(u)
            .ok()
            .flatten()
            .map(|x| x.uid.as_raw())
    })?;
    let gid = lookup_id(group, |g| {
        nix::unistd::Group::from_name(g)
            .ok()
            .flatten()
            .map(|x| x.gid.as_raw())
    })?;
    if uid.is_some() || gid.is_some() {
        std::os::unix::fs::chown(&tmp, uid, gid)?;
    }
    std::fs::rename(&tmp, path)?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// A numeric id, or the id a name resolved to.
/// A user or group given by number or by name (None when not given).
fn lookup_id(
    text: Option<&str>,
    by_name: impl Fn(&str) -> Option<u32>,
) -> std::io::Result<Option<u32>> {
    let Some(text) = text else { return Ok(None) };
    text.parse::<u32>()
        .ok()
        .or_else(|| by_name(text))
        .map(Some)
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("unknown user or group '{text}'"),
            )
        })
}

fn bind_inet(
    sa: SocketAddr,
    b: &BindPlan,
    backlog: i32,
    tuning: &ListenerTuning,
    reuseport: bool,
) -> std::io::Result<std::net::TcpListener> {
    let s = Socket::new(
        Domain::for_address(sa),
        Type::STREAM.nonblocking().cloexec(),
        Some(Protocol::TCP),
    )?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(reuseport)?;
    for w in tune_listener(SockRef::from(&s), tuning) {
        crate::stderr_line!("[WARNING] [{sa}]: {w}");
    }
    if sa.is_ipv6() {
        if let Some(v6only) = b.v6only {
            s.set_only_v6(v6only)?;
        }
    }
    if b.transparent {
        if sa.is_ipv6() {
            s.set_ip_transparent_v6(true)?;
        } else {
            s.set_ip_transparent_v4(true)?;
        }
    }
    if let Some(iface) = &b.interface {
        s.bind_device(Some(iface.as_bytes()))?;
    }
    s.bind(&sa.into())?;
    s.listen(backlog)?;
    // listen() clears the delayed-ACK state (inet_csk_delack_init): the
    // quick-ack mode is set after it, as tcp_bind_listener does.
    let _ = s.set_tcp_quickack(!tuning.smart_accept);
    Ok(s.into())
}

/// Socket options of one `bind` line's TCP listeners and of the sockets
/// accepted on them, with HAProxy's meaning and defaults. `Default` is a
/// TCP-mode frontend with no option: TCP_NODELAY and nothing else.
///
/// HAProxy sets the listener's options in tcp_bind_listener and the
/// accepted socket's in session_accept_fd, one setsockopt each per
/// connection. Linux copies a listener's options into every socket accept()
/// returns (sk_clone: nodelay, keepalive and its timer, linger, user
/// timeout, buffer sizes), so they are all set once here, on the listener
/// (rule zero: the `tuning` unit tests check each one on an accepted
/// socket). Only a negative `mss` is per connection (see [`tune_accepted`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListenerTuning {
    /// `option tcp-smart-accept`: on by default in HTTP mode and on `ssl`
    /// binds, off in TCP mode (cfgparse: BC_O_NOQUICKACK). On: TCP_QUICKACK
    /// off on the listener, so the ACK of the request leaves with the
    /// response. Off: TCP_QUICKACK on (the kernel's default, set anyway to
    /// reset an inherited socket).
    pub smart_accept: bool,
    /// `option nolinger` on the frontend: SO_LINGER {on, 0}, closes send a
    /// RST. Off: SO_LINGER off.
    pub nolinger: bool,
    /// Bind `tcp-ut <delay>`: TCP_USER_TIMEOUT (0, the kernel's, without).
    pub user_timeout: Option<Duration>,
    /// Bind `mss <n>`: positive, TCP_MAXSEG on the listener; negative, each
    /// accepted socket's MSS is lowered by that much.
    pub mss: Option<i32>,
    /// `option clitcpka` (or `tcpka`) with `clitcpka-idle/intvl/cnt`.
    pub keepalive: Option<KeepAlive>,
    /// `tune.sndbuf.client` / `tune.rcvbuf.client`: SO_SNDBUF / SO_RCVBUF.
    pub sndbuf: Option<usize>,
    pub rcvbuf: Option<usize>,
    /// Bind `defer-accept`: TCP_DEFER_ACCEPT (1 s): accept() returns a
    /// connection only once its client sent data.
    pub defer_accept: bool,
    /// Bind `tfo`: TCP_FASTOPEN with this queue length (the backlog).
    pub fastopen: Option<i32>,
}

/// TCP keep-alive probes: SO_KEEPALIVE with TCP_KEEPIDLE, TCP_KEEPINTVL and
/// TCP_KEEPCNT where given (the system's values otherwise).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeepAlive {
    pub idle: Option<Duration>,
    pub interval: Option<Duration>,
    pub count: Option<u32>,
}

impl KeepAlive {
    fn set(&self, s: &SockRef<'_>) -> std::io::Result<()> {
        let mut ka = TcpKeepalive::new();
        if let Some(t) = self.idle {
            ka = ka.with_time(t);
        }
        if let Some(t) = self.interval {
            ka = ka.with_interval(t);
        }
        if let Some(n) = self.count {
            ka = ka.with_retries(n);
        }
        // Sets SO_KEEPALIVE too.
        s.set_tcp_keepalive(&ka)
    }
}

/// What the plan says of a `bind` line's sockets (filled from the
/// frontend's options, the bind line and `tune.*buf.client` in plan.rs).
/// The listen(2) backlog of a bind line, as HAProxy's listener_backlog():
/// the bind's `backlog` (or the frontend's, or the bind's `maxconn`: see
/// `BindPlan::backlog`), else the frontend's maxconn, which defaults to the
/// global one (known only once the process limits are final, hence here).
fn listener_backlog(explicit: i32, fe_maxconn: u32, global_maxconn: u32) -> i32 {
    if explicit > 0 {
        return explicit;
    }
    let maxconn = if fe_maxconn > 0 {
        fe_maxconn
    } else {
        global_maxconn
    };
    match i32::try_from(maxconn) {
        Ok(0) => 1024,
        Ok(n) => n,
        Err(_) => i32::MAX,
    }
}

fn tuning_of(b: &BindPlan, backlog: i32) -> ListenerTuning {
    let mut t = b.tuning.clone();
    // TCP_FASTOPEN's queue length is the listener's backlog.
    t.fastopen = t.fastopen.map(|_| backlog);
    t
}

/// Set `t` on a TCP listener (a fresh one before listen(), or an inherited
/// one). A failure is a warning, as in tcp_bind_listener (and HAProxy
/// ignores a failed TCP_NODELAY on an accepted socket).
fn tune_listener(s: SockRef<'_>, t: &ListenerTuning) -> Vec<String> {
    let mut warnings = Vec::new();
    let mut warn = |what: &str, r: std::io::Result<()>| {
        if let Err(e) = r {
            warnings.push(format!("cannot set {what}: {e}"));
        }
    };
    warn("TCP_NODELAY", s.set_tcp_nodelay(true));
    warn(
        "SO_LINGER",
        s.set_linger(t.nolinger.then_some(Duration::ZERO)),
    );
    warn("TCP_USER_TIMEOUT", s.set_tcp_user_timeout(t.user_timeout));
    if let Some(mss) = t.mss.and_then(|m| u32::try_from(m).ok()) {
        warn("TCP_MAXSEG", s.set_tcp_mss(mss));
    }
    if let Some(ka) = &t.keepalive {
        warn("SO_KEEPALIVE", ka.set(&s));
    }
    if let Some(n) = t.sndbuf {
        warn("SO_SNDBUF", s.set_send_buffer_size(n));
    }
    if let Some(n) = t.rcvbuf {
        warn("SO_RCVBUF", s.set_recv_buffer_size(n));
    }
    warn("TCP_QUICKACK", s.set_tcp_quickack(!t.smart_accept));
    // `defer-accept`: TCP_DEFER_ACCEPT, 1 s as HAProxy sets it; `tfo`:
    // TCP_FASTOPEN with the backlog as queue length. Options socket2 and
    // nix do not offer, so through the syscall room.
    let fd = std::os::fd::AsFd::as_fd(&*s);
    if t.defer_accept {
        warn(
            "TCP_DEFER_ACCEPT",
            ringlb_sys::set_int_sockopt(fd, nix::libc::IPPROTO_TCP, nix::libc::TCP_DEFER_ACCEPT, 1),
        );
    }
    if let Some(qlen) = t.fastopen {
        warn(
            "TCP_FASTOPEN",
            ringlb_sys::set_int_sockopt(fd, nix::libc::IPPROTO_TCP, nix::libc::TCP_FASTOPEN, qlen),
        );
    }
    warnings
}

/// What is still set per accepted TCP socket: a negative `mss` lowers the
/// MSS the connection negotiated (session_accept_fd). Returns the MSS set.
pub fn tune_accepted(s: SockRef<'_>, t: &ListenerTuning) -> Option<u32> {
    let lower = t.mss.filter(|m| *m < 0).map(i32::unsigned_abs)?;
    let mss = s.tcp_mss().ok()?.saturating_sub(lower);
    s.set_tcp_mss(mss).ok()?;
    Some(mss)
}

/// Socket options of connections to a backend's servers, as
/// tcp_connect_server sets them. `Default` is a TCP-mode backend with no
/// option: TCP_NODELAY and nothing else.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerTuning {
    /// `option tcp-smart-connect` (off by default in both modes).
    pub smart_connect: bool,
    /// `option srvtcpka` (or `tcpka`) with `srvtcpka-idle/intvl/cnt`.
    pub keepalive: Option<KeepAlive>,
    /// The server's `tcp-ut <delay>`: TCP_USER_TIMEOUT.
    pub user_timeout: Option<Duration>,
    /// `tune.sndbuf.server` / `tune.rcvbuf.server`.
    pub sndbuf: Option<usize>,
    pub rcvbuf: Option<usize>,
}

/// Set `t` on a new server socket, after socket() and before bind() and
/// connect(). `has_data`: client bytes (or a PROXY header) are waiting to
/// be sent, so with `tcp-smart-connect` the handshake's last ACK can leave
/// with them (TCP_QUICKACK off; HAProxy's CONNECT_HAS_DATA). TCP_NODELAY
/// is required (an error, as in HAProxy); the others are best effort.
pub fn tune_server_socket(s: SockRef<'_>, t: &ServerTuning, has_data: bool) -> std::io::Result<()> {
    s.set_tcp_nodelay(true)?;
    if let Some(ka) = &t.keepalive {
        let _ = ka.set(&s);
    }
    if t.smart_connect && has_data {
        let _ = s.set_tcp_quickack(false);
    }
    if let Some(ut) = t.user_timeout {
        let _ = s.set_tcp_user_timeout(Some(ut));
    }
    if let Some(n) = t.sndbuf {
        let _ = s.set_send_buffer_size(n);
    }
    if let Some(n) = t.rcvbuf {
        let _ = s.set_recv_buffer_size(n);
    }
    Ok(())
}

/// Before binding a server socket to a source address without a port:
/// IP_BIND_ADDRESS_NO_PORT, so the port is picked at connect() time and
/// one port serves several servers (tcp_connect_server does the same).
pub fn set_bind_address_no_port(s: SockRef<'_>) -> std::io::Result<()> {
    nix::sys::socket::setsockopt(&*s, nix::sys::socket::sockopt::IpBindAddressNoPort, &true)
        .map_err(std::io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind_plan() -> BindPlan {
        BindPlan {
            addrs: Vec::new(),
            backlog: 16,
            v6only: None,
            transparent: false,
            interface: None,
            tuning: ListenerTuning::default(),
            id: None,
            name: None,
            maxconn: 0,
        }
    }

    #[test]
    fn listener_ids_skip_the_ones_binds_take() {
        let a = |n: usize| vec![ListenAddr::Fd(0); n];
        let binds = [
            BindPlan {
                addrs: a(1),
                ..bind_plan()
            },
            BindPlan {
                addrs: a(2),
                ..bind_plan()
            },
            BindPlan {
                addrs: a(1),
                id: Some(2),
                ..bind_plan()
            },
            BindPlan {
                addrs: a(1),
                ..bind_plan()
            },
        ];
        // haproxy 2.6 (show stat -1 8 -1): 1, then 2 is taken: 3, 4, 2,
        // then 6 (the count moved on past the bind with an id too).
        assert_eq!(listener_ids(&binds), [1, 3, 4, 2, 6]);
    }

    fn localhost() -> SocketAddr {
        "127.0.0.1:0".parse().unwrap()
    }

    /// A listener bound with `t`, one client connected to it, and the
    /// socket accept() returned for that client.
    fn accepted(
        t: &ListenerTuning,
    ) -> (
        std::net::TcpListener,
        std::net::TcpStream,
        std::net::TcpStream,
    ) {
        let l = bind_inet(localhost(), &bind_plan(), 16, t, true).unwrap();
        l.set_nonblocking(false).unwrap();
        let client = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (server, _) = l.accept().unwrap();
        (l, client, server)
    }

    #[test]
    fn reuseport_lets_executors_share_an_address() {
        let t = ListenerTuning::default();
        let a = bind_inet(localhost(), &bind_plan(), 16, &t, true).unwrap();
        let addr = a.local_addr().unwrap();
        let b = bind_inet(addr, &bind_plan(), 16, &t, true).unwrap();
        assert_eq!(b.local_addr().unwrap(), addr);
    }

    #[test]
    fn a_busy_address_is_refused() {
        // A plain listener without SO_REUSEPORT holds the port.
        let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = holder.local_addr().unwrap();
        assert!(bind_inet(addr, &bind_plan(), 16, &ListenerTuning::default(), true).is_err());
    }

    /// TCP mode without options: TCP_NODELAY on the accepted socket (set
    /// once, on the listener), quick ACKs, no linger, no user timeout, no
    /// keep-alive.
    #[test]
    fn tuning_tcp_mode_defaults() {
        let (l, _client, server) = accepted(&ListenerTuning::default());
        let l = SockRef::from(&l);
        assert!(l.tcp_nodelay().unwrap());
        assert!(l.tcp_quickack().unwrap());
        assert_eq!(l.linger().unwrap(), None);
        assert_eq!(l.tcp_user_timeout().unwrap(), None);
        let s = SockRef::from(&server);
        assert!(s.tcp_nodelay().unwrap(), "TCP_NODELAY is inherited");
        assert!(!s.keepalive().unwrap());
        assert_eq!(s.linger().unwrap(), None);
        assert_eq!(s.tcp_user_timeout().unwrap(), None);
    }

    /// Every option set on the listener is on the socket accept() returns:
    /// what lets one setsockopt per listener replace HAProxy's one per
    /// connection.
    #[test]
    fn tuning_options_are_inherited_by_accepted_sockets() {
        let t = ListenerTuning {
            smart_accept: true,
            nolinger: true,
            user_timeout: Some(Duration::from_secs(3)),
            mss: Some(1200),
            keepalive: Some(KeepAlive {
                idle: Some(Duration::from_secs(7)),
                interval: Some(Duration::from_secs(3)),
                count: Some(4),
            }),
            sndbuf: Some(64 * 1024),
            rcvbuf: Some(32 * 1024),
            defer_accept: false,
            fastopen: Some(16),
        };
        let (l, _client, server) = accepted(&t);
        let l = SockRef::from(&l);
        assert!(!l.tcp_quickack().unwrap(), "tcp-smart-accept");
        assert_eq!(l.linger().unwrap(), Some(Duration::ZERO));
        assert_eq!(l.tcp_mss().unwrap(), 1200);
        let s = SockRef::from(&server);
        assert!(s.tcp_nodelay().unwrap());
        assert_eq!(s.linger().unwrap(), Some(Duration::ZERO), "nolinger");
        assert_eq!(
            s.tcp_user_timeout().unwrap(),
            Some(Duration::from_secs(3)),
            "tcp-ut"
        );
        assert!(s.keepalive().unwrap(), "clitcpka");
        assert_eq!(s.tcp_keepalive_time().unwrap(), Duration::from_secs(7));
        assert_eq!(s.tcp_keepalive_interval().unwrap(), Duration::from_secs(3));
        assert_eq!(s.tcp_keepalive_retries().unwrap(), 4);
        // Linux doubles the value asked for (bookkeeping overhead).
        assert_eq!(s.send_buffer_size().unwrap(), 2 * 64 * 1024);
        assert_eq!(s.recv_buffer_size().unwrap(), 2 * 32 * 1024);
        assert!(s.tcp_mss().unwrap() <= 1200, "mss");
    }

    /// `defer-accept`: accept() returns a client only once it sent data
    /// (TCP_DEFER_ACCEPT); the options are set without a warning.
    #[test]
    fn defer_accept_waits_for_the_client_s_data() {
        let t = ListenerTuning {
            defer_accept: true,
            ..ListenerTuning::default()
        };
        let l = bind_inet(localhost(), &bind_plan(), 16, &t, true).unwrap();
        assert!(tune_listener(SockRef::from(&l), &t).is_empty());
        l.set_nonblocking(true).unwrap();
        let mut client = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let quiet_until = std::time::Instant::now() + Duration::from_millis(200);
        while std::time::Instant::now() < quiet_until {
            assert_eq!(
                l.accept().map(|_| ()).unwrap_err().kind(),
                std::io::ErrorKind::WouldBlock,
                "a silent client is not accepted yet"
            );
            std::thread::yield_now();
        }
        std::io::Write::write_all(&mut client, b"hello").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            match l.accept() {
                Ok(_) => break,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(std::time::Instant::now() < deadline, "never accepted");
                    std::thread::yield_now();
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// An inherited listener (`fd@N`) gets HAProxy's settings back: what
    /// the parent left on it is reset.
    #[test]
    fn tuning_resets_an_inherited_listener() {
        let l = std::net::TcpListener::bind(localhost()).unwrap();
        let s = SockRef::from(&l);
        s.set_linger(Some(Duration::ZERO)).unwrap();
        s.set_tcp_user_timeout(Some(Duration::from_secs(9)))
            .unwrap();
        s.set_tcp_quickack(false).unwrap();
        assert!(tune_listener(SockRef::from(&l), &ListenerTuning::default()).is_empty());
        assert!(s.tcp_nodelay().unwrap());
        assert!(s.tcp_quickack().unwrap());
        assert_eq!(s.linger().unwrap(), None);
        assert_eq!(s.tcp_user_timeout().unwrap(), None);
    }

    /// A negative `mss` lowers each accepted socket's MSS by that much.
    #[test]
    fn tuning_negative_mss_lowers_the_accepted_mss() {
        let (_l, _client, server) = accepted(&ListenerTuning::default());
        let s = SockRef::from(&server);
        let before = s.tcp_mss().unwrap();
        let lowered = |mss| ListenerTuning {
            mss: Some(mss),
            ..ListenerTuning::default()
        };
        // (An established socket reads back the MSS in use, not the
        // clamp: the value set is what is checked.)
        assert_eq!(
            tune_accepted(SockRef::from(&server), &lowered(-100)),
            Some(before - 100)
        );
        assert_eq!(tune_accepted(SockRef::from(&server), &lowered(1200)), None);
    }

    #[test]
    fn tuning_server_sockets() {
        let plain = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
        tune_server_socket(SockRef::from(&plain), &ServerTuning::default(), true).unwrap();
        assert!(plain.tcp_nodelay().unwrap());
        assert!(plain.tcp_quickack().unwrap(), "no tcp-smart-connect");
        assert!(!plain.keepalive().unwrap());

        let t = ServerTuning {
            smart_connect: true,
            keepalive: Some(KeepAlive {
                idle: Some(Duration::from_secs(11)),
                ..KeepAlive::default()
            }),
            user_timeout: Some(Duration::from_millis(1500)),
            sndbuf: None,
            rcvbuf: None,
        };
        let quiet = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
        tune_server_socket(SockRef::from(&quiet), &t, false).unwrap();
        assert!(
            quiet.tcp_quickack().unwrap(),
            "nothing to send with the ACK"
        );
        let busy = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
        tune_server_socket(SockRef::from(&busy), &t, true).unwrap();
        assert!(!busy.tcp_quickack().unwrap(), "tcp-smart-connect with data");
        assert!(busy.keepalive().unwrap());
        assert_eq!(busy.tcp_keepalive_time().unwrap(), Duration::from_secs(11));
        assert_eq!(
            busy.tcp_user_timeout().unwrap(),
            Some(Duration::from_millis(1500))
        );

        set_bind_address_no_port(SockRef::from(&busy)).unwrap();
        assert!(nix::sys::socket::getsockopt(
            &busy,
            nix::sys::socket::sockopt::IpBindAddressNoPort
        )
        .unwrap());
    }
}

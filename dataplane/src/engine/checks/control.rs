//! What the runtime API changes of a check while it runs: whether it is
//! enabled (`enable|disable health|agent`, HAProxy's CHK_ST_ENABLED), where
//! it connects (`set server <b>/<s> check-addr|check-port|agent-addr|
//! agent-port`: HAProxy's check->addr and check->port) and what an agent
//! is sent (`agent-send`).
//!
//! The check task owns its target: it reads these cells when it starts a
//! run, so a change takes effect at the next run and a run under way ends
//! where it began. Nothing here is on the data path; still no lock: the
//! flags are lone atomics, the address a seqlock of three words (readers
//! never wait; the writers, the runtime API, take turns on the sequence
//! word), and an agent's new string travels in a one-slot channel that the
//! agent task drains.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, Ordering};

use super::Target;

/// Whether a check runs (CHK_ST_ENABLED), and where it connects.
#[derive(Debug)]
pub struct Control {
    enabled: AtomicBool,
    /// The server has this check (CHK_ST_CONFIGURED): always for a
    /// server of the configuration; for an added slot's check, from the
    /// `add server ... check` that fills the slot to its `del server`.
    configured: AtomicBool,
    /// Counts the times an added slot's check was given to a new server:
    /// the task starts afresh when it changes.
    epoch: AtomicU32,
    /// The check runs while its server is in maintenance: HAProxy pauses
    /// a check (CHK_ST_PAUSED) when its server enters maintenance, and a
    /// server added at run time is created in maintenance without
    /// entering it, so its check runs until the server first leaves it.
    runs_in_maint: AtomicBool,
    /// The server's own IP address and port (0: none, or an offset),
    /// which the check uses where it has no address or port of its own;
    /// a UNIX socket server's path instead.
    server: Aim,
    unix: Option<std::path::PathBuf>,
    /// The check's own address and port (0: none).
    aim: Aim,
    /// Wakes an added slot's task, which waits without a timer, when `add
    /// server` configures it.
    configured_waker: futures_util::task::AtomicWaker,
}

impl Control {
    /// A check on server address `base`, with `addr` and `port` (0: none)
    /// of its own from the configuration.
    pub fn new(base: Target, addr: Option<IpAddr>, port: u16) -> Control {
        let aim = Aim::default();
        aim.set(addr, port);
        let server = Aim::default();
        let unix = match base {
            Target::Inet(sa) => {
                server.set(Some(sa.ip()), sa.port());
                None
            }
            Target::Unix(p) => Some(p),
        };
        Control {
            enabled: AtomicBool::new(true),
            configured: AtomicBool::new(true),
            epoch: AtomicU32::new(0),
            runs_in_maint: AtomicBool::new(false),
            server,
            unix,
            aim,
            configured_waker: futures_util::task::AtomicWaker::new(),
        }
    }

    /// An added slot's check (see `plan::ADDED_SERVERS`): not configured,
    /// disabled, until `add server` gives it to a server.
    pub fn vacant() -> Control {
        let c = Control::new(Target::Inet(SocketAddr::from(([0, 0, 0, 0], 0))), None, 0);
        c.enabled.store(false, Ordering::Relaxed);
        c.configured.store(false, Ordering::Relaxed);
        c
    }

    /// `add server ... check`: the check is the new server's, on its
    /// address `server` (port 0: none), with `addr` and `port` (0: none)
    /// of its own; configured but disabled, as HAProxy starts a dynamic
    /// server's check (`enable health` starts it).
    pub fn configure(&self, server: (IpAddr, u16), addr: Option<IpAddr>, port: u16) {
        self.enabled.store(false, Ordering::Relaxed);
        self.server.set(Some(server.0), server.1);
        self.aim.set(addr, port);
        self.runs_in_maint.store(true, Ordering::Relaxed);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.configured.store(true, Ordering::Release);
        self.configured_waker.wake();
    }

    /// Ready once the check is configured (an added slot's task waits
    /// here, holding no timer, while no server has the slot).
    pub fn poll_configured(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if self.configured() {
            return std::task::Poll::Ready(());
        }
        self.configured_waker.register(cx.waker());
        if self.configured() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    }

    /// `del server`: the check stops with its server (check_purge).
    pub fn unconfigure(&self) {
        self.enabled.store(false, Ordering::Relaxed);
        self.configured.store(false, Ordering::Release);
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether the check is paused, its server in maintenance or not
    /// (`maint`): see `runs_in_maint`.
    pub fn paused(&self, maint: bool) -> bool {
        maint && !self.runs_in_maint.load(Ordering::Relaxed)
    }

    /// The server left maintenance: the next maintenance pauses the
    /// check.
    pub fn left_maint(&self) {
        self.runs_in_maint.store(false, Ordering::Relaxed);
    }

    pub fn configured(&self) -> bool {
        self.configured.load(Ordering::Acquire)
    }

    /// Which server of the slot the check is for (see `epoch`).
    pub fn epoch(&self) -> u32 {
        self.epoch.load(Ordering::Acquire)
    }

    /// The server moved (`set server <b>/<s> addr`): a check without an
    /// address or a port of its own follows it at its next run.
    pub fn server_moved(&self, ip: IpAddr, port: u16) {
        self.server.set(Some(ip), port);
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    /// The check's own address (HAProxy's check->addr), if any.
    pub fn addr(&self) -> Option<IpAddr> {
        self.aim.get().0
    }

    /// The check's own port (check->port; 0: none).
    pub fn port(&self) -> u16 {
        self.aim.get().1
    }

    /// Whether the server's port follows the client's (no port, or an
    /// offset: HAProxy's SRV_F_MAPPORTS), so the check needs its own.
    pub fn maps_ports(&self) -> bool {
        self.unix.is_none() && self.server.get().1 == 0
    }

    /// `check-addr <ip> [port <p>]`, `check-port <p>` and the agent's:
    /// what is given replaces the check's own; the next run connects there.
    pub fn change(&self, addr: Option<IpAddr>, port: Option<u16>) {
        self.aim.update(|(a, p)| (addr.or(a), port.unwrap_or(p)));
    }

    /// Where the next run connects: the check's address, else the
    /// server's; the check's port, else the server's (HAProxy's
    /// srv_check_healthcheck_port). A UNIX socket server with no check
    /// address is checked on its socket.
    pub fn target(&self) -> Target {
        let (addr, port) = self.aim.get();
        match (&self.unix, addr) {
            (Some(p), None) => Target::Unix(p.clone()),
            (Some(_), Some(ip)) => Target::Inet(SocketAddr::new(ip, port)),
            (None, addr) => {
                let (ip, sport) = self.server.get();
                let ip = ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
                Target::Inet(SocketAddr::new(
                    addr.unwrap_or(ip),
                    if port > 0 { port } else { sport },
                ))
            }
        }
    }
}

/// An optional IP address and a port, written by the runtime API and read
/// by the check task and the dumps: a seqlock over three words.
#[derive(Debug, Default)]
struct Aim {
    seq: AtomicU64,
    /// The address's 16 bytes (an IPv4 address mapped).
    hi: AtomicU64,
    lo: AtomicU64,
    /// The port (bits 0..16), an address present (16), IPv6 (17).
    meta: AtomicU64,
}

const HAS_ADDR: u64 = 1 << 16;
const IS_V6: u64 = 1 << 17;

impl Aim {
    fn set(&self, addr: Option<IpAddr>, port: u16) {
        self.update(|_| (addr, port));
    }

    /// Read, change and write as one step: a writer takes the sequence
    /// word from even to odd (another writer waits for it to be even
    /// again; writers are the runtime API's rare commands), stores, and
    /// makes it even.
    fn update(&self, f: impl FnOnce((Option<IpAddr>, u16)) -> (Option<IpAddr>, u16)) {
        let seq = loop {
            let s = self.seq.load(Ordering::Relaxed);
            if s % 2 == 0
                && self
                    .seq
                    .compare_exchange_weak(s, s + 1, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                break s;
            }
            std::hint::spin_loop();
        };
        fence(Ordering::Release);
        let (addr, port) = f(self.load());
        let (bytes, flags) = match addr {
            None => ([0u8; 16], 0),
            Some(IpAddr::V4(v4)) => (v4.to_ipv6_mapped().octets(), HAS_ADDR),
            Some(IpAddr::V6(v6)) => (v6.octets(), HAS_ADDR | IS_V6),
        };
        let (hi, lo) = split(bytes);
        self.hi.store(hi, Ordering::Relaxed);
        self.lo.store(lo, Ordering::Relaxed);
        self.meta.store(u64::from(port) | flags, Ordering::Relaxed);
        self.seq.store(seq + 2, Ordering::Release);
    }

    fn load(&self) -> (Option<IpAddr>, u16) {
        let meta = self.meta.load(Ordering::Relaxed);
        let port = u16::try_from(meta & 0xffff).unwrap_or(0);
        if meta & HAS_ADDR == 0 {
            return (None, port);
        }
        let mut b = [0u8; 16];
        let (h, l) = b.split_at_mut(8);
        h.copy_from_slice(&self.hi.load(Ordering::Relaxed).to_be_bytes());
        l.copy_from_slice(&self.lo.load(Ordering::Relaxed).to_be_bytes());
        let v6 = Ipv6Addr::from(b);
        let ip = if meta & IS_V6 != 0 {
            IpAddr::V6(v6)
        } else {
            IpAddr::V4(v6.to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED))
        };
        (Some(ip), port)
    }

    fn get(&self) -> (Option<IpAddr>, u16) {
        loop {
            let before = self.seq.load(Ordering::Acquire);
            if before % 2 == 0 {
                let v = self.load();
                fence(Ordering::Acquire);
                if self.seq.load(Ordering::Relaxed) == before {
                    return v;
                }
            }
            std::hint::spin_loop();
        }
    }
}

fn split(b: [u8; 16]) -> (u64, u64) {
    let mut hi = [0u8; 8];
    let mut lo = [0u8; 8];
    hi.iter_mut().zip(&b).for_each(|(d, s)| *d = *s);
    lo.iter_mut()
        .zip(b.iter().skip(8))
        .for_each(|(d, s)| *d = *s);
    (u64::from_be_bytes(hi), u64::from_be_bytes(lo))
}

/// An agent's `agent-send` string as the runtime API replaces it: the
/// newest string waits in a one-slot channel until the agent task takes
/// it at its next run (the task keeps its string: it owns what it sends).
#[derive(Debug)]
pub struct SendSlot {
    tx: flume::Sender<Vec<u8>>,
    rx: flume::Receiver<Vec<u8>>,
}

impl Default for SendSlot {
    fn default() -> SendSlot {
        let (tx, rx) = flume::bounded(1);
        SendSlot { tx, rx }
    }
}

impl SendSlot {
    /// Replace what the agent will send (an older string not yet taken
    /// is dropped: only the newest matters).
    pub fn put(&self, s: Vec<u8>) {
        let mut s = s;
        loop {
            match self.tx.try_send(s) {
                Ok(()) => return,
                Err(flume::TrySendError::Full(back)) => {
                    s = back;
                    let _ = self.rx.try_recv();
                }
                Err(flume::TrySendError::Disconnected(_)) => return,
            }
        }
    }

    /// The newest string, if one came since the last call.
    pub fn take(&self) -> Option<Vec<u8>> {
        self.rx.try_recv().ok()
    }
}

/// HAProxy's strl2irc: digits with an optional leading `-` (a lone `-`
/// reads 0), refused on any other byte or on overflow.
pub fn strl2irc(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    let (neg, digits) = match b.split_first() {
        None => return None,
        Some((b'-', rest)) => (true, rest),
        Some(_) => (false, b),
    };
    let mut i: i32 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        let j = i32::from(c - b'0');
        i = i.checked_mul(10)?;
        i = if neg {
            i.checked_sub(j)?
        } else {
            i.checked_add(j)?
        };
    }
    Some(i)
}

/// A port argument as srv_update_check_addr_port / _agent_addr_port
/// read it, or their words.
pub fn parse_port(s: &str) -> Result<u16, &'static str> {
    let n = strl2irc(s).ok_or("provided port is not an integer")?;
    u16::try_from(n).map_err(|_| "provided port is invalid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_moves_the_target_and_keeps_what_it_does_not_name() {
        let c = Control::new(Target::Inet("10.0.0.1:80".parse().unwrap()), None, 0);
        assert_eq!(c.target(), Target::Inet("10.0.0.1:80".parse().unwrap()));
        c.change(None, Some(8080));
        assert_eq!(c.target(), Target::Inet("10.0.0.1:8080".parse().unwrap()));
        c.change(Some("::1".parse().unwrap()), None);
        assert_eq!(c.target(), Target::Inet("[::1]:8080".parse().unwrap()));
        assert_eq!((c.addr(), c.port()), (Some("::1".parse().unwrap()), 8080));
        // Port 0: the server's port again.
        c.change(Some("127.0.0.2".parse().unwrap()), Some(0));
        assert_eq!(c.target(), Target::Inet("127.0.0.2:80".parse().unwrap()));
        let u = Control::new(Target::Unix("/s".into()), None, 0);
        assert_eq!(u.target(), Target::Unix("/s".into()));
        // The server moves: a check without an address of its own follows.
        let c = Control::new(Target::Inet("10.0.0.1:80".parse().unwrap()), None, 0);
        c.server_moved("10.0.0.2".parse().unwrap(), 81);
        assert_eq!(c.target(), Target::Inet("10.0.0.2:81".parse().unwrap()));
        c.change(Some("10.0.0.3".parse().unwrap()), None);
        c.server_moved("10.0.0.4".parse().unwrap(), 82);
        assert_eq!(c.target(), Target::Inet("10.0.0.3:82".parse().unwrap()));
    }

    #[test]
    fn ports_are_read_as_haproxy_reads_them() {
        assert_eq!(parse_port("8080"), Ok(8080));
        assert_eq!(parse_port("0"), Ok(0));
        assert_eq!(parse_port("65536"), Err("provided port is invalid"));
        assert_eq!(parse_port("-1"), Err("provided port is invalid"));
        assert_eq!(parse_port("8a"), Err("provided port is not an integer"));
        assert_eq!(parse_port(""), Err("provided port is not an integer"));
        assert_eq!(parse_port("+8"), Err("provided port is not an integer"));
        assert_eq!(parse_port("-"), Ok(0));
        assert_eq!(
            parse_port("99999999999"),
            Err("provided port is not an integer")
        );
    }

    #[test]
    fn the_newest_agent_string_wins() {
        let s = SendSlot::default();
        assert_eq!(s.take(), None);
        s.put(b"a".to_vec());
        s.put(b"b".to_vec());
        assert_eq!(s.take(), Some(b"b".to_vec()));
        assert_eq!(s.take(), None);
    }
}

//! [`LogSink`]: how a data-path core hands a log line over without ever
//! blocking and without a lock. Each executor core queues its lines on a
//! lane of its own into one logger thread ([`super::lanes`]); other threads
//! (start-up and stop reports) share one more lane. The logger thread frames
//! the lines for each target ([`super::syslog`]) and writes them: stdout /
//! stderr, other inherited descriptors (`fd@N`), UDP syslog servers, UNIX
//! datagram sockets (`/dev/log`). When a lane is full the line is dropped
//! and counted, as HAProxy drops a log its non-blocking socket cannot take
//! (`dropped_logs`).
//!
//! Order: the lines of one core are written in the order it sent them;
//! lines of different cores (or of a core and another thread) may be
//! written in any order, as HAProxy's threads each send their own.
//!
//! Sockets are opened and names resolved by [`spawn`], at start-up, where
//! an error can still stop the process; write errors later are counted and
//! the first one of each target is reported on stderr, as HAProxy alerts
//! once per logger.

use std::fs::File;
use std::io::{self, Write as _};
use std::net::{SocketAddr, ToSocketAddrs as _, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ringlb_config::addr::{Address, Host, Port};
use ringlb_config::model::{Level, LogDest, LogTargetSpec, LogWireFormat};

use super::lanes::{self, Consumer, Producer, SHARED};
use super::syslog::{filter, frame, Header, Sampling, DEFAULT_MAX_LEN};
use super::time::{init_local_zone, Zone};

/// HAProxy's `SYSLOG_PORT`.
pub const SYSLOG_PORT: u16 = 514;

/// Lines that may wait for the logger thread, all lanes together, before
/// new ones are dropped: each lane holds this divided by the cores, and at
/// least [`MIN_LANE_CAPACITY`]. A lane's slots are allocated up front
/// (about 72 bytes a line), so the share keeps a many-core sink small.
pub const DEFAULT_CAPACITY: usize = 4096;

/// The least lines one lane holds.
pub const MIN_LANE_CAPACITY: usize = 1024;

/// The sending side: cheap to clone, `Send`, never blocks nor locks in
/// [`send_from`].
///
/// [`send_from`]: LogSink::send_from
#[derive(Clone, Debug)]
pub struct LogSink {
    lanes: Arc<Producer<Job>>,
    /// Another `log-tag` than the logger thread's ([`LogSink::with_tag`]);
    /// `None` (the sinks of [`spawn`]) sends no tag at all, so a line
    /// touches no reference count the cores share.
    tag: Option<Arc<str>>,
    stats: Arc<Stats>,
}

#[derive(Debug, Default)]
struct Stats {
    /// Lines dropped because their lane was full (or the thread gone).
    dropped: AtomicU64,
    /// Writes that failed (one per target and line).
    failed: AtomicU64,
}

#[derive(Debug)]
enum Job {
    Line {
        level: Level,
        date: SystemTime,
        /// `None`: the logger thread's own tag.
        tag: Option<Arc<str>>,
        text: String,
        /// The length of the RFC 5424 structured data that starts `text`
        /// (`log-format-sd`; 0: none).
        sd: usize,
    },
    /// Answered once every line queued before it, on any lane, is written.
    Flush(flume::Sender<()>),
}

impl LogSink {
    /// Queues `msg` at `level` for every target that accepts the level, on
    /// the lane shared by the threads that are not executor cores. Never
    /// blocks: a full lane drops the line and counts it.
    pub fn send(&self, level: Level, msg: &str) {
        self.send_line(level, msg.to_string());
    }

    /// [`LogSink::send`] for a line the caller no longer needs (no copy).
    pub fn send_line(&self, level: Level, line: String) {
        self.send_from(SHARED, level, line);
    }

    /// [`LogSink::send_line`] from executor core `core` (its `Core::id`),
    /// on that core's own lane: no lock, no contention with other cores.
    /// Any other index takes the shared lane.
    pub fn send_from(&self, core: usize, level: Level, line: String) {
        self.send_sd_from(core, level, line, 0);
    }

    /// [`LogSink::send_from`] for a line whose first `sd` bytes are its
    /// RFC 5424 structured data (`log-format-sd`).
    pub fn send_sd_from(&self, core: usize, level: Level, line: String, sd: usize) {
        let job = Job::Line {
            level,
            date: SystemTime::now(),
            tag: self.tag.clone(),
            text: line,
            sd,
        };
        if self.lanes.push(core, job).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A sink writing to the same targets with another `log-tag` (a proxy's
    /// own `log-tag`).
    pub fn with_tag(&self, tag: &str) -> LogSink {
        LogSink {
            lanes: self.lanes.clone(),
            tag: Some(Arc::from(tag)),
            stats: self.stats.clone(),
        }
    }

    /// Lines dropped so far because their lane was full.
    pub fn dropped(&self) -> u64 {
        self.stats.dropped.load(Ordering::Relaxed)
    }

    /// Writes that failed so far (one per target and line).
    pub fn failed(&self) -> u64 {
        self.stats.failed.load(Ordering::Relaxed)
    }

    /// Waits until the lines queued so far (on every lane) are written, at
    /// most `timeout`. Blocks: for shutdown and tests, never on a
    /// data-path core.
    pub fn flush(&self, timeout: Duration) -> bool {
        let (done_tx, done_rx) = flume::bounded(1);
        let deadline = Instant::now() + timeout;
        // The control queue never refuses: no waiting for room.
        if self.lanes.push_control(Job::Flush(done_tx)).is_err() {
            return false;
        }
        done_rx.recv_deadline(deadline).is_ok()
    }
}

/// Opens every target and starts the logger thread, with a lane for each
/// of `cores` executor cores. `hostname` is `log-send-hostname` (resolved
/// by the caller), `tag` the global `log-tag` (by default the program
/// name), `pid` the one headers show.
pub fn spawn(
    targets: Vec<LogTargetSpec>,
    hostname: Option<String>,
    tag: String,
    pid: u32,
    cores: usize,
) -> io::Result<LogSink> {
    let lane = (DEFAULT_CAPACITY / cores.max(1)).max(MIN_LANE_CAPACITY);
    spawn_with_capacity(targets, hostname, tag, pid, cores, lane)
}

/// [`spawn`] with lanes of `capacity` lines each.
pub fn spawn_with_capacity(
    targets: Vec<LogTargetSpec>,
    hostname: Option<String>,
    tag: String,
    pid: u32,
    cores: usize,
    capacity: usize,
) -> io::Result<LogSink> {
    let zone = init_local_zone();
    let has_host = hostname.is_some();
    let outputs = targets
        .iter()
        .enumerate()
        .map(|(i, spec)| Output::open(i + 1, spec, has_host))
        .collect::<io::Result<Vec<_>>>()?;
    let stats = Arc::new(Stats::default());
    let logger = Logger {
        outputs,
        tag: Arc::from(tag),
        hostname,
        pid,
        zone,
        stats: stats.clone(),
    };
    let lanes = lanes::spawn(cores, capacity, "ringlb-log", move |rx| logger.run(rx))?;
    Ok(LogSink {
        lanes: Arc::new(lanes),
        tag: None,
        stats,
    })
}

/// Where one `log` line writes.
#[derive(Debug)]
enum Dest {
    Stdout,
    Stderr,
    /// `fd@N`, reopened through `/dev/fd/N` (no `unsafe` to adopt the
    /// descriptor itself).
    File(File),
    Udp(UdpSocket, SocketAddr),
    Unix(UnixDatagram, String),
}

#[derive(Debug)]
struct Output {
    /// HAProxy's logger number (1-based), for error messages.
    number: usize,
    dest: Dest,
    format: LogWireFormat,
    facility: u8,
    max: Option<Level>,
    min: Option<Level>,
    max_len: usize,
    sampling: Option<Sampling>,
    /// Messages this target accepted (for `sample`).
    seen: u64,
    /// Whether a write error was already reported.
    reported: bool,
}

fn unsupported(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, what)
}

impl Output {
    fn open(number: usize, spec: &LogTargetSpec, has_host: bool) -> io::Result<Output> {
        let dest = match &spec.dest {
            LogDest::Stdout => Dest::Stdout,
            LogDest::Stderr => Dest::Stderr,
            LogDest::Socket(Address::Fd(1)) => Dest::Stdout,
            LogDest::Socket(Address::Fd(2)) => Dest::Stderr,
            LogDest::Socket(Address::Fd(n)) => Dest::File(
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(format!("/dev/fd/{n}"))?,
            ),
            // A plain address is UDP (HAProxy's PA_O_DEFAULT_DGRAM); the
            // model does not tell `tcp@` (a ring in HAProxy) from it.
            LogDest::Socket(Address::Inet { host, port, .. }) => {
                let port = match port {
                    Port::None => SYSLOG_PORT,
                    Port::One(p) => *p,
                    _ => return Err(unsupported(format!("log target port '{port:?}'"))),
                };
                let to = match host {
                    Host::Ip(ip) => SocketAddr::new(*ip, port),
                    Host::Name(name) => (name.as_str(), port).to_socket_addrs()?.next().ok_or_else(
                        || io::Error::new(io::ErrorKind::NotFound, format!("no address for '{name}'")),
                    )?,
                    Host::Any(_) => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            "a log target needs a destination address",
                        ))
                    }
                };
                let local = if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
                Dest::Udp(UdpSocket::bind(local)?, to)
            }
            // Datagram, as HAProxy's /dev/log; `uxst@` (a ring) is not told
            // apart by the model.
            LogDest::Socket(Address::Unix { path, .. }) => {
                Dest::Unix(UnixDatagram::unbound()?, path.clone())
            }
            other => {
                return Err(unsupported(format!(
                    "log target {other:?} (rings, log backends, abstract and socketpair sockets come later)"
                )))
            }
        };
        let sampling = match &spec.sample {
            Some(s) => Some(
                Sampling::parse(s).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
            ),
            None => None,
        };
        // HAProxy 3.2 leaves the format of a `log` line without `format`
        // unset and then writes "local" (rfc3164 without host name) unless
        // `log-send-hostname` is set (manual, `log` keyword). The model
        // defaults that case to rfc3164, so without a host name rfc3164
        // means "local" here (an explicit `format rfc3164` would print
        // `localhost` in HAProxy).
        let format = match spec.format {
            LogWireFormat::Rfc3164 if !has_host => LogWireFormat::Local,
            f => f,
        };
        Ok(Output {
            number,
            dest,
            format,
            facility: spec.facility.0,
            max: spec.level,
            min: spec.min_level,
            max_len: spec
                .max_len
                .and_then(|l| usize::try_from(l).ok())
                .unwrap_or(DEFAULT_MAX_LEN),
            sampling,
            seen: 0,
            reported: false,
        })
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<()> {
        match &mut self.dest {
            Dest::Stdout => io::stdout().lock().write_all(buf),
            Dest::Stderr => io::stderr().lock().write_all(buf),
            Dest::File(f) => f.write_all(buf),
            Dest::Udp(sock, to) => sock.send_to(buf, *to).map(drop),
            Dest::Unix(sock, path) => sock.send_to(buf, path.as_str()).map(drop),
        }
    }
}

struct Logger {
    outputs: Vec<Output>,
    /// The sink's `log-tag`, for lines that carry none.
    tag: Arc<str>,
    hostname: Option<String>,
    pid: u32,
    zone: &'static Zone,
    stats: Arc<Stats>,
}

impl Logger {
    fn run(mut self, mut rx: Consumer<Job>) {
        let mut buf = Vec::with_capacity(DEFAULT_MAX_LEN);
        // Ends when every LogSink is gone.
        while let Some(job) = rx.recv() {
            if let Job::Flush(done) = job {
                // The flush came on the control queue, taken before the
                // lanes: every line queued before it is still in a lane.
                rx.drain(|job| self.job(job, &mut buf));
                let _ = done.try_send(());
            } else {
                self.job(job, &mut buf);
            }
        }
    }

    fn job(&mut self, job: Job, buf: &mut Vec<u8>) {
        match job {
            Job::Line {
                level,
                date,
                tag,
                text,
                sd,
            } => {
                // Cloned here, on the logger thread: the count stays in
                // its cache.
                let tag = tag.unwrap_or_else(|| self.tag.clone());
                let (sd, text) = text.split_at_checked(sd).unwrap_or(("", &text));
                self.line(level, date, (&tag, sd), text, buf);
            }
            // A flush met while draining for another: the lines before it
            // are the ones being written.
            Job::Flush(done) => {
                let _ = done.try_send(());
            }
        }
    }

    fn line(
        &mut self,
        level: Level,
        date: SystemTime,
        (tag, sd): (&str, &str),
        text: &str,
        buf: &mut Vec<u8>,
    ) {
        for out in &mut self.outputs {
            let Some(level) = filter(level, out.max, out.min) else {
                continue;
            };
            let n = out.seen;
            out.seen = out.seen.wrapping_add(1);
            if out.sampling.as_ref().is_some_and(|s| !s.picks(n)) {
                continue;
            }
            let header = Header {
                format: out.format,
                facility: out.facility,
                level,
                hostname: self.hostname.as_deref(),
                tag,
                pid: self.pid,
                date,
                sd,
            };
            frame(&header, self.zone, text, out.max_len, buf);
            if let Err(e) = out.write(buf) {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                if !out.reported {
                    out.reported = true;
                    crate::stderr_line!(
                        "[ALERT] sendmsg()/writev() failed in logger #{}: {e}",
                        out.number
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringlb_config::addr::Transport;
    use ringlb_config::model::Facility;
    use ringlb_config::{Loc, SourceFile};
    use std::path::PathBuf;

    fn spec(dest: LogDest, format: LogWireFormat, facility: u8) -> LogTargetSpec {
        let file = SourceFile::new("t.cfg", "log x local0\n");
        LogTargetSpec {
            dest,
            max_len: None,
            format,
            sample: None,
            facility: Facility(facility),
            level: None,
            min_level: None,
            profile: None,
            loc: Loc::new(&file, 1, 0),
        }
    }

    fn udp_dest(addr: SocketAddr) -> LogDest {
        LogDest::Socket(Address::Inet {
            host: Host::Ip(addr.ip()),
            port: Port::One(addr.port()),
            transport: Transport::Dgram,
        })
    }

    fn temp_path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "ringlb-log-{}-{name}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ))
    }

    const DEADLINE: Duration = Duration::from_secs(5);

    #[test]
    fn udp_and_unix_datagrams() {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        udp.set_read_timeout(Some(DEADLINE)).unwrap();
        let path = temp_path("dgram");
        let unix = UnixDatagram::bind(&path).unwrap();
        unix.set_read_timeout(Some(DEADLINE)).unwrap();

        let mut filtered = spec(udp_dest(udp.local_addr().unwrap()), LogWireFormat::Raw, 0);
        filtered.level = Some(Level::Notice);
        let mut sampled = spec(udp_dest(udp.local_addr().unwrap()), LogWireFormat::Short, 0);
        sampled.sample = Some("2:2".into());
        let targets = vec![
            spec(
                udp_dest(udp.local_addr().unwrap()),
                LogWireFormat::Priority,
                16,
            ),
            filtered,
            sampled,
            spec(
                LogDest::Socket(Address::Unix {
                    path: path.to_string_lossy().into_owned(),
                    transport: Transport::Stream,
                }),
                LogWireFormat::Rfc5424,
                3,
            ),
        ];
        let sink = spawn(targets, Some("myhost".into()), "ringlb".into(), 42, 2).unwrap();
        sink.send(Level::Info, "first\n");
        sink.with_tag("px")
            .send_line(Level::Warning, "second".to_string());
        assert!(sink.flush(DEADLINE));

        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        for _ in 0..4 {
            let n = udp.recv(&mut buf).unwrap();
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        // In send order, targets in config order; the second target only
        // takes "second" (notice or more important), the third only every
        // second line it accepts.
        assert_eq!(
            got,
            vec!["<134>first\n", "<132>second\n", "second\n", "<4>second\n"]
        );

        let mut lines = Vec::new();
        for _ in 0..2 {
            let n = unix.recv(&mut buf).unwrap();
            lines.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        // <PRI>1 <iso date> host tag pid - - msg
        let check = |line: &str, pri: &str, tag: &str, msg: &str| {
            let (head, rest) = line.split_at(pri.len() + 2);
            assert_eq!(head, format!("{pri}1 "));
            let (_date, rest) = rest.split_once(' ').unwrap();
            assert_eq!(rest, format!("myhost {tag} 42 - - {msg}\n"));
        };
        check(&lines[0], "<30>", "ringlb", "first");
        check(&lines[1], "<28>", "px", "second");
        assert_eq!(sink.dropped(), 0);
        drop(unix);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn default_format_is_local_without_hostname() {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        udp.set_read_timeout(Some(DEADLINE)).unwrap();
        let targets = vec![spec(
            udp_dest(udp.local_addr().unwrap()),
            LogWireFormat::Rfc3164,
            16,
        )];
        let sink = spawn(targets, None, "haproxy".into(), 7, 1).unwrap();
        sink.send(Level::Info, "m");
        let mut buf = [0u8; 256];
        let n = udp.recv(&mut buf).unwrap();
        let line = String::from_utf8_lossy(&buf[..n]).into_owned();
        // "<134>Nov 23 19:16:04 haproxy[7]: m\n"
        assert!(line.starts_with("<134>"), "{line}");
        assert!(line.ends_with(" haproxy[7]: m\n"), "{line}");
        assert_eq!(line.len(), "<134>Nov 23 19:16:04 haproxy[7]: m\n".len());
    }

    fn unix_target(path: &std::path::Path) -> LogTargetSpec {
        spec(
            LogDest::Socket(Address::Unix {
                path: path.to_string_lossy().into_owned(),
                transport: Transport::Dgram,
            }),
            LogWireFormat::Raw,
            0,
        )
    }

    #[test]
    fn full_lane_drops_and_counts() {
        // A target the logger thread blocks on: a FIFO nobody reads would
        // block the open, so use a UNIX datagram socket whose receiver is
        // never read and tiny lanes; lines beyond the lane are dropped
        // whatever the thread manages to write.
        let path = temp_path("full");
        let unix = UnixDatagram::bind(&path).unwrap();
        let sink =
            spawn_with_capacity(vec![unix_target(&path)], None, "t".into(), 1, 2, 1).unwrap();
        let line = "x".repeat(1000);
        let sent = 10_000u64;
        for _ in 0..sent {
            sink.send_from(1, Level::Info, line.clone());
        }
        let dropped = sink.dropped();
        assert!(dropped > 0, "nothing dropped");
        assert!(dropped < sent);
        // The other lanes still take lines (and drop their own excess).
        for _ in 0..sent {
            sink.send(Level::Info, &line);
        }
        assert!(sink.dropped() > dropped);
        drop(unix);
        let _ = std::fs::remove_file(&path);
    }

    /// Every core sends on its own lane at once: every line is written
    /// (the lanes are large enough that none is dropped), and each core's
    /// lines in the order it sent them; `flush` from another thread waits
    /// for all of them.
    #[test]
    fn lines_of_every_core_arrive_in_core_order() {
        const CORES: usize = 4;
        const LINES: usize = 2_000;
        let path = temp_path("cores");
        let unix = UnixDatagram::bind(&path).unwrap();
        unix.set_read_timeout(Some(DEADLINE)).unwrap();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = [0u8; 256];
            while got.len() < CORES * LINES + 1 {
                let n = unix.recv(&mut buf).unwrap();
                got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
            got
        });
        let sink = spawn_with_capacity(vec![unix_target(&path)], None, "t".into(), 1, CORES, LINES)
            .unwrap();
        let cores: Vec<_> = (0..CORES)
            .map(|core| {
                let sink = sink.clone();
                std::thread::spawn(move || {
                    for i in 0..LINES {
                        sink.send_from(core, Level::Info, format!("{core} {i}"));
                        if i % 64 == 0 {
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        for c in cores {
            c.join().unwrap();
        }
        sink.send(Level::Info, "last");
        assert!(sink.flush(DEADLINE));
        assert_eq!(sink.dropped(), 0);
        let got = reader.join().unwrap();
        let mut next = [0usize; CORES];
        for line in &got {
            if line == "last\n" {
                continue;
            }
            let (core, i) = line.trim_end().split_once(' ').unwrap();
            let (core, i): (usize, usize) = (core.parse().unwrap(), i.parse().unwrap());
            assert_eq!(i, next[core], "core {core} out of order");
            next[core] += 1;
        }
        assert_eq!(next, [LINES; CORES]);
        let _ = std::fs::remove_file(&path);
    }

    /// `flush` waits for lines a core queued before it, though it travels
    /// on another lane.
    #[test]
    fn flush_waits_for_the_core_lanes() {
        let path = temp_path("flush");
        let unix = UnixDatagram::bind(&path).unwrap();
        unix.set_nonblocking(true).unwrap();
        let sink =
            spawn_with_capacity(vec![unix_target(&path)], None, "t".into(), 1, 2, 64).unwrap();
        for round in 0..200 {
            sink.send_from(round % 2, Level::Info, format!("{round}"));
            assert!(sink.flush(DEADLINE));
            let mut buf = [0u8; 64];
            let n = unix.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], format!("{round}\n").as_bytes());
        }
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn sink_is_send_and_clone() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<LogSink>();
    }

    #[test]
    fn dropped_when_the_thread_is_gone() {
        let lanes = lanes::spawn(1, 8, "gone", |_rx: Consumer<Job>| {}).unwrap();
        let deadline = Instant::now() + DEADLINE;
        while !lanes.is_gone() {
            assert!(Instant::now() < deadline);
            std::thread::yield_now();
        }
        let sink = LogSink {
            lanes: Arc::new(lanes),
            tag: None,
            stats: Arc::default(),
        };
        sink.send(Level::Info, "a");
        sink.send_from(0, Level::Info, "b".into());
        assert_eq!(sink.dropped(), 2);
        assert!(!sink.flush(Duration::from_millis(10)));
    }

    #[test]
    fn start_up_errors() {
        let ring = spec(LogDest::Ring("r".into()), LogWireFormat::Raw, 0);
        let e = spawn(vec![ring], None, "t".into(), 1, 1).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Unsupported);
        let mut bad = spec(LogDest::Stdout, LogWireFormat::Raw, 0);
        bad.sample = Some("0:1".into());
        let e = spawn(vec![bad], None, "t".into(), 1, 1).unwrap_err();
        assert_eq!(e.to_string(), "wrong sample range '0'");
        let any = LogDest::Socket(Address::Inet {
            host: Host::Any(ringlb_config::addr::IpFamily::Unspecified),
            port: Port::None,
            transport: Transport::Stream,
        });
        assert!(spawn(
            vec![spec(any, LogWireFormat::Raw, 0)],
            None,
            "t".into(),
            1,
            1
        )
        .is_err());
    }

    #[test]
    fn default_port_is_514() {
        let s = spec(
            LogDest::Socket(Address::Inet {
                host: Host::Ip("127.0.0.1".parse().unwrap()),
                port: Port::None,
                transport: Transport::Stream,
            }),
            LogWireFormat::Raw,
            0,
        );
        let out = Output::open(1, &s, false).unwrap();
        match out.dest {
            Dest::Udp(_, to) => assert_eq!(to, "127.0.0.1:514".parse().unwrap()),
            other => panic!("{other:?}"),
        }
    }
}

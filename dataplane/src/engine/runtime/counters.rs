//! Statistics counters, per core with one writer each, summed when read
//! (HAProxy keeps one block of counters per thread group for the same
//! reason: a counter every core increments would bounce its cache line
//! between the cores on every connection).
//!
//! Each executor owns one [`Block`] and is its only writer: an increment is
//! a relaxed load and store, no locked instruction. Any thread reads a
//! total with [`Stats::sum`] (the sum of every block; a reader may see one
//! core's increment before another's, never a torn value).
//!
//! Each frontend has [`FE_SLOTS`] slots in a block, each backend and each
//! server [`BE_SLOTS`] (HAProxy's `fe_counters` and `be_counters`, the
//! server using the backend's set as HAProxy does). Besides plain counts a
//! block holds, per object:
//! - event rates (HAProxy's `freq_ctr`): the core's count of the current
//!   and the previous second, read as the sum of every core's sliding
//!   rate; the highest rate is kept per core too, and `rate_max` reads the
//!   sum of those per-core highs: exact with one core, an upper bound with
//!   several (the true peak of the sum cannot be known without a shared
//!   word every core writes);
//! - the moving averages of the queue, connect, response and total times
//!   over the last 1024 requests (HAProxy's `swrate`): each core keeps its
//!   own sliding sum over its own samples, and a read weighs the cores by
//!   their sample windows (exactly HAProxy's figure with one core);
//! - the date of the last stream (`lastsess`): the latest over the cores.
//!
//! Latency histograms take the same road: a fixed run of bucket slots per
//! frontend, backend and server and per timer, in blocks of their own (see
//! [`Timer`]).
//!
//! The highest values of the shared gauges (`smax`, `qmax`) are not per
//! core: the gauge itself (feconn, beconn, a server's connections, a
//! queue) is one word every core moves, so its peak is a shared word too,
//! written only when a core sees the gauge pass it (a plain load on the
//! common path; a `fetch_max` once per new record, as rare as records).
//!
//! The limits the cores must agree on (actconn, feconn, beconn, a server's
//! connections and queue) are not here: they are shared
//! [`Counter`](crate::engine::Counter)s, each on its own cache line.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// A frontend's counters (HAProxy's `fe_counters`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Fe {
    /// Connections accepted (`conn_tot`).
    ConnTot,
    /// Sessions: connections past the `tcp-request connection|session`
    /// rules (`stot`).
    SessTot,
    BytesIn,
    BytesOut,
    DeniedReq,
    DeniedResp,
    /// Invalid requests (`ereq`).
    FailedReq,
    /// Connections / sessions refused by `tcp-request connection|session`
    /// rules (`dcon`, `dses`).
    DeniedConn,
    DeniedSess,
    FailedRewrites,
    InternalErrors,
    /// Requests answered by the proxy itself (`intercepted`: redirects,
    /// the stats page, monitor-uri).
    Intercepted,
    /// HTTP requests (`req_tot`).
    ReqTot,
    /// Responses by status class: other, 1xx .. 5xx (`hrsp_*`).
    Rsp0,
    Rsp1,
    Rsp2,
    Rsp3,
    Rsp4,
    Rsp5,
    CliAbrt,
    SrvAbrt,
}

/// A backend's or a server's counters (HAProxy's `be_counters`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Be {
    /// Streams sent to it (`stot`).
    SessTot,
    BytesIn,
    BytesOut,
    DeniedReq,
    DeniedResp,
    /// Failed connection attempts (`econ`).
    ConnErr,
    /// Invalid responses (`eresp`).
    FailedResp,
    Retries,
    Redispatches,
    FailedRewrites,
    InternalErrors,
    /// New server connections (`connect`) and reused ones (`reuse`).
    Connect,
    Reuse,
    /// Streams the load balancing placed (`lbtot`).
    LbTot,
    ReqTot,
    Rsp0,
    Rsp1,
    Rsp2,
    Rsp3,
    Rsp4,
    Rsp5,
    CliAbrt,
    SrvAbrt,
}

/// The response status class counter of `status` (HAProxy: `status/100`,
/// other outside 1..=5).
pub fn fe_rsp(status: u16) -> Fe {
    match status / 100 {
        1 => Fe::Rsp1,
        2 => Fe::Rsp2,
        3 => Fe::Rsp3,
        4 => Fe::Rsp4,
        5 => Fe::Rsp5,
        _ => Fe::Rsp0,
    }
}

pub fn be_rsp(status: u16) -> Be {
    match status / 100 {
        1 => Be::Rsp1,
        2 => Be::Rsp2,
        3 => Be::Rsp3,
        4 => Be::Rsp4,
        5 => Be::Rsp5,
        _ => Be::Rsp0,
    }
}

const FE_COUNTS: usize = Fe::SrvAbrt as usize + 1;
const BE_COUNTS: usize = Be::SrvAbrt as usize + 1;

/// A rate's slots: the second counted, its count, the previous second's,
/// the core's highest rate.
const RATE_SLOTS: usize = 4;
/// Frontend rates: sessions, requests, connections.
const FE_RATES: usize = 3;
/// Per backend or server: four sliding sums and their sample count, the
/// four highest times (qtime_max ...); then the last stream's date.
const TIME_SLOTS: usize = 9;
const LAST_SLOT: usize = 1;

pub const FE_SLOTS: usize = FE_COUNTS + FE_RATES * RATE_SLOTS;
pub const BE_SLOTS: usize = BE_COUNTS + RATE_SLOTS + TIME_SLOTS + LAST_SLOT;

/// HAProxy's TIME_STATS_SAMPLES.
pub const TIME_SAMPLES: u64 = 1024;

/// What is counted, per frontend, backend or server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stat {
    Fe(usize, Fe),
    Be(usize, Be),
    /// Server `(backend, server)`.
    Srv(usize, usize, Be),
    // The first names, kept for their callers.
    FeConnTot(usize),
    FeBytesIn(usize),
    FeBytesOut(usize),
    BeSessTot(usize),
    BeBytesIn(usize),
    BeBytesOut(usize),
    BeConnErr(usize),
    BeRetries(usize),
    BeRedispatches(usize),
    SrvSessTot(usize, usize),
    SrvBytesIn(usize, usize),
    SrvBytesOut(usize, usize),
    SrvConnErr(usize, usize),
    SrvRetries(usize, usize),
    SrvRedispatches(usize, usize),
}

impl Stat {
    fn canonical(self) -> Stat {
        match self {
            Stat::FeConnTot(i) => Stat::Fe(i, Fe::ConnTot),
            Stat::FeBytesIn(i) => Stat::Fe(i, Fe::BytesIn),
            Stat::FeBytesOut(i) => Stat::Fe(i, Fe::BytesOut),
            Stat::BeSessTot(i) => Stat::Be(i, Be::SessTot),
            Stat::BeBytesIn(i) => Stat::Be(i, Be::BytesIn),
            Stat::BeBytesOut(i) => Stat::Be(i, Be::BytesOut),
            Stat::BeConnErr(i) => Stat::Be(i, Be::ConnErr),
            Stat::BeRetries(i) => Stat::Be(i, Be::Retries),
            Stat::BeRedispatches(i) => Stat::Be(i, Be::Redispatches),
            Stat::SrvSessTot(b, s) => Stat::Srv(b, s, Be::SessTot),
            Stat::SrvBytesIn(b, s) => Stat::Srv(b, s, Be::BytesIn),
            Stat::SrvBytesOut(b, s) => Stat::Srv(b, s, Be::BytesOut),
            Stat::SrvConnErr(b, s) => Stat::Srv(b, s, Be::ConnErr),
            Stat::SrvRetries(b, s) => Stat::Srv(b, s, Be::Retries),
            Stat::SrvRedispatches(b, s) => Stat::Srv(b, s, Be::Redispatches),
            s => s,
        }
    }
}

/// The object a rate, an average or a peak belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Obj {
    Fe(usize),
    Be(usize),
    Srv(usize, usize),
}

/// A frontend's rates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeRate {
    Sess = 0,
    Req = 1,
    Conn = 2,
}

/// The shared peaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peak {
    /// Current sessions (`smax`).
    Sess(Obj),
    /// Queued streams (`qmax`; backends and servers).
    Queue(Obj),
}

/// The four times of a stream HAProxy averages (ms): queue, connect,
/// response (data), total.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Times {
    pub queue: u32,
    pub connect: u32,
    pub data: u32,
    pub total: u32,
}

/// Where each object's slots start in a block.
#[derive(Debug)]
struct Layout {
    frontends: usize,
    backends: usize,
    /// Per backend, the index of its first server (in servers).
    first_server: Vec<usize>,
    servers: usize,
    /// Per backend, its first server with histograms and how many have
    /// them (the slots `add server` grows have none), and the total.
    hist_servers: Vec<(usize, usize)>,
    hist_total: usize,
}

impl Layout {
    fn len(&self) -> usize {
        self.frontends * FE_SLOTS + (self.backends + self.servers) * BE_SLOTS
    }

    /// A server's index among all servers.
    fn server(&self, b: usize, s: usize) -> Option<usize> {
        let first = *self.first_server.get(b)?;
        let next = self
            .first_server
            .get(b + 1)
            .copied()
            .unwrap_or(self.servers);
        (first + s < next).then_some(first + s)
    }

    /// Where `obj`'s slots start.
    fn base(&self, obj: Obj) -> Option<usize> {
        let be0 = self.frontends * FE_SLOTS;
        match obj {
            Obj::Fe(i) => (i < self.frontends).then_some(i * FE_SLOTS),
            Obj::Be(b) => (b < self.backends).then_some(be0 + b * BE_SLOTS),
            Obj::Srv(b, s) => Some(self.server_base(self.server(b, s)?)),
        }
    }

    /// Where the slots of the server at index `i` among all start.
    fn server_base(&self, i: usize) -> usize {
        self.frontends * FE_SLOTS + (self.backends + i) * BE_SLOTS
    }

    /// Backend `b`'s configured servers (the flat layout's).
    fn configured(&self, b: usize) -> Option<usize> {
        let first = *self.first_server.get(b)?;
        let next = self
            .first_server
            .get(b + 1)
            .copied()
            .unwrap_or(self.servers);
        Some(next - first)
    }

    fn peak(&self, p: Peak) -> Option<usize> {
        let (fe, be, srv) = (self.frontends, self.backends, self.servers);
        match p {
            Peak::Sess(Obj::Fe(i)) => (i < fe).then_some(i),
            Peak::Sess(Obj::Be(b)) => (b < be).then_some(fe + b),
            Peak::Sess(Obj::Srv(b, s)) => Some(fe + be + self.server(b, s)?),
            Peak::Queue(Obj::Fe(_)) => None,
            Peak::Queue(Obj::Be(b)) => (b < be).then_some(fe + be + srv + b),
            Peak::Queue(Obj::Srv(b, s)) => Some(fe + 2 * be + srv + self.server(b, s)?),
        }
    }

    fn peaks(&self) -> usize {
        self.frontends + 2 * (self.backends + self.servers)
    }
}

/// `stat`'s object and its slot among the object's.
fn split(stat: Stat) -> Option<(Obj, usize)> {
    match stat.canonical() {
        Stat::Fe(i, c) => Some((Obj::Fe(i), c as usize)),
        Stat::Be(b, c) => Some((Obj::Be(b), c as usize)),
        Stat::Srv(b, s, c) => Some((Obj::Srv(b, s), c as usize)),
        _ => None,
    }
}

/// The first of a rate's slots among its object's.
fn rate_slot(obj: Obj, r: FeRate) -> usize {
    match obj {
        Obj::Fe(_) => FE_COUNTS + r as usize * RATE_SLOTS,
        _ => BE_COUNTS,
    }
}

/// The first of the time sums (backends and servers) among the object's.
fn times_slot(obj: Obj) -> Option<usize> {
    match obj {
        Obj::Fe(_) => None,
        _ => Some(BE_COUNTS + RATE_SLOTS),
    }
}

fn last_slot(obj: Obj) -> Option<usize> {
    Some(times_slot(obj)? + TIME_SLOTS)
}

/// A server slot `add server` grew (see `runtime::grow`): what the flat
/// layout keeps of a configured server, committed when the slot is first
/// filled. It has no latency histograms (1 KiB per core each).
#[derive(Debug)]
struct Added {
    /// Per core, its [`BE_SLOTS`] counters (`Block`s: no line shared
    /// between cores).
    blocks: Box<[Block]>,
    /// `smax`, `qmax`.
    peaks: [AtomicU32; 2],
    changes: Changes,
}

/// Eight counters: one cache line.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Line([AtomicU64; 8]);

/// One core's counters, in whole cache lines of their own, so two cores
/// never write the same line.
#[derive(Debug)]
pub struct Block {
    lines: Box<[Line]>,
}

impl Block {
    fn new(len: usize) -> Block {
        Block {
            lines: (0..len.div_ceil(8)).map(|_| Line::default()).collect(),
        }
    }

    fn get(&self, i: usize) -> Option<&AtomicU64> {
        self.lines.get(i / 8)?.0.get(i % 8)
    }

    fn load(&self, i: usize) -> u64 {
        self.get(i).map_or(0, |v| v.load(Ordering::Relaxed))
    }

    /// The block's one writer stores.
    fn store(&self, i: usize, v: u64) {
        if let Some(a) = self.get(i) {
            a.store(v, Ordering::Relaxed);
        }
    }
}

/// The listeners' counters: per core a block of [`Fe`] counts per
/// listener (HAProxy gives a listener a `fe_counters` of its own), and the
/// shared gauge of its connections (HAProxy's `nbconn`) with its peak.
#[derive(Debug, Default)]
struct Listeners {
    /// Per frontend, the luids of its counting listeners.
    luids: Vec<Vec<u32>>,
    /// Per frontend, the index of its first counting listener.
    first: Vec<usize>,
    blocks: Box<[Block]>,
    conns: Box<[crate::engine::Counter]>,
    peaks: Box<[AtomicU32]>,
}

/// What a server's or a backend's state changes leave (written on the
/// control path, by whoever changes the state: plain atomics).
#[derive(Debug, Default)]
pub struct Changes {
    /// When the state last changed (ms since start-up).
    pub last_change: AtomicU64,
    /// Down since (ms since start-up, plus one; 0: not down).
    down_since: AtomicU64,
    /// Time spent down before `down_since` (ms).
    downtime: AtomicU64,
    /// Up to down transitions (`chkdown`).
    pub down_trans: AtomicU64,
    /// Failed checks that moved the health counter (`chkfail`).
    pub failed_checks: AtomicU64,
    /// The check's health counter (HAProxy's `check->health`).
    pub health: AtomicU32,
}

impl Changes {
    /// The state changed at `now`; `down`: it is down now.
    pub fn changed(&self, now_ms: u64, down: bool) {
        self.last_change.store(now_ms, Ordering::Relaxed);
        let since = self.down_since.load(Ordering::Relaxed);
        if down && since == 0 {
            self.down_since.store(now_ms + 1, Ordering::Relaxed);
            self.down_trans.fetch_add(1, Ordering::Relaxed);
        } else if !down && since != 0 {
            self.downtime
                .fetch_add(now_ms.saturating_sub(since - 1), Ordering::Relaxed);
            self.down_since.store(0, Ordering::Relaxed);
        }
    }

    /// Total time spent down (ms) at `now`.
    pub fn downtime(&self, now_ms: u64) -> u64 {
        let since = self.down_since.load(Ordering::Relaxed);
        let ongoing = if since == 0 {
            0
        } else {
            now_ms.saturating_sub(since - 1)
        };
        self.downtime.load(Ordering::Relaxed) + ongoing
    }

    pub fn is_down(&self) -> bool {
        self.down_since.load(Ordering::Relaxed) != 0
    }
}

/// Every core's counters.
#[derive(Debug)]
pub struct Stats {
    layout: Layout,
    blocks: Box<[Block]>,
    peaks: Box<[AtomicU32]>,
    /// Per server (in layout order), then per backend.
    changes: Box<[Changes]>,
    /// The latency histograms, one block per core (see [`Timer`]).
    hist: Box<[Block]>,
    /// The listeners' counters (`option socket-stats`), apart from the
    /// rest so that their layout grows independently.
    listeners: Listeners,
    /// Per backend, its added server slots past the configured ones.
    added: Box<[crate::engine::runtime::grow::Grow<Added>]>,
    /// Connections the runtime API accepted (its GLOBAL proxy's
    /// `cum_conn`, reported at a soft stop).
    pub cli_conns: AtomicU64,
}

impl Stats {
    /// Counters for `cores` executors; `servers[b]` is backend b's server
    /// count.
    pub fn new(cores: usize, frontends: usize, servers: &[usize]) -> Stats {
        Stats::with_histograms(cores, frontends, servers, servers)
    }

    /// As [`Stats::new`], the latency histograms kept only for the first
    /// `hist[b]` servers of backend b (a server `add server` fills has
    /// none: 1 KiB per core each).
    pub fn with_histograms(
        cores: usize,
        frontends: usize,
        servers: &[usize],
        hist: &[usize],
    ) -> Stats {
        let mut first_server = Vec::with_capacity(servers.len());
        let mut total = 0;
        for n in servers {
            first_server.push(total);
            total += n;
        }
        let mut hist_servers = Vec::with_capacity(servers.len());
        let mut hist_total = 0;
        for (i, n) in servers.iter().enumerate() {
            let h = hist.get(i).copied().unwrap_or(0).min(*n);
            hist_servers.push((hist_total, h));
            hist_total += h;
        }
        let layout = Layout {
            frontends,
            backends: servers.len(),
            first_server,
            servers: total,
            hist_servers,
            hist_total,
        };
        let len = layout.len();
        Stats {
            blocks: (0..cores).map(|_| Block::new(len)).collect(),
            peaks: (0..layout.peaks()).map(|_| AtomicU32::new(0)).collect(),
            changes: (0..total + servers.len())
                .map(|_| Changes::default())
                .collect(),
            hist: (0..cores).map(|_| Block::new(layout.hist_len())).collect(),
            listeners: Listeners::default(),
            cli_conns: AtomicU64::new(0),
            added: (0..servers.len()).map(|_| Default::default()).collect(),
            layout,
        }
    }

    /// Give listeners counters: `by_fe[f]` lists the listener ids (luid)
    /// of frontend f's listeners that count (`option socket-stats`), in
    /// their order.
    pub fn with_listeners(mut self, by_fe: &[Vec<u32>]) -> Stats {
        let mut first = Vec::with_capacity(by_fe.len());
        let mut n = 0;
        for luids in by_fe {
            first.push(n);
            n += luids.len();
        }
        self.listeners = Listeners {
            luids: by_fe.to_vec(),
            first,
            blocks: (0..self.blocks.len())
                .map(|_| Block::new(n * FE_COUNTS))
                .collect(),
            conns: (0..n).map(|_| crate::engine::Counter::default()).collect(),
            peaks: (0..n).map(|_| AtomicU32::new(0)).collect(),
        };
        self
    }

    /// The index of frontend `fe`'s listener `luid` among the counting
    /// listeners (None: it does not count).
    #[inline]
    pub fn li(&self, fe: usize, luid: u32) -> Option<usize> {
        let l = &self.listeners;
        let pos = l.luids.get(fe)?.iter().position(|id| *id == luid)?;
        Some(l.first.get(fe)? + pos)
    }

    /// Add `n` to `c` of frontend `fe` and of its listener `luid` when it
    /// counts, in `core`'s block (its only writer).
    pub fn add_fe(&self, core: usize, fe: usize, luid: u32, c: Fe, n: u64) {
        self.add(core, Stat::Fe(fe, c), n);
        if let Some(li) = self.li(fe, luid) {
            self.add_li(core, li, c, n);
        }
    }

    /// Add `n` to listener `li`'s `c` in `core`'s block.
    pub fn add_li(&self, core: usize, li: usize, c: Fe, n: u64) {
        if let Some(v) = self
            .listeners
            .blocks
            .get(core)
            .and_then(|b| b.get(li * FE_COUNTS + c as usize))
        {
            v.store(v.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
        }
    }

    /// Listener `li`'s `c` over every core.
    pub fn sum_li(&self, li: usize, c: Fe) -> u64 {
        self.listeners
            .blocks
            .iter()
            .map(|b| b.load(li * FE_COUNTS + c as usize))
            .fold(0, u64::wrapping_add)
    }

    /// Take one of listener `li`'s connection slots if fewer than `max`
    /// are taken (0: no limit; HAProxy's `nbconn` against the bind's
    /// `maxconn`); its peak follows.
    pub fn li_take(&self, li: usize, max: u32) -> bool {
        let l = &self.listeners;
        let Some(c) = l.conns.get(li) else {
            return true;
        };
        if !c.try_take(max) {
            return false;
        }
        let v = c.get();
        if let Some(p) = l.peaks.get(li) {
            if v > p.load(Ordering::Relaxed) {
                p.fetch_max(v, Ordering::Relaxed);
            }
        }
        true
    }

    /// A connection accepted on listener `li` (its `cum_conn`), on `core`.
    pub fn li_accepted(&self, core: usize, li: usize) {
        self.add_li(core, li, Fe::ConnTot, 1);
    }

    /// A connection of listener `li` ended (its slot is given back).
    pub fn li_closed(&self, li: usize) {
        if let Some(c) = self.listeners.conns.get(li) {
            c.dec();
        }
    }

    /// Listener `li`'s current connections and their peak.
    pub fn li_conns(&self, li: usize) -> (u32, u32) {
        let l = &self.listeners;
        (
            l.conns.get(li).map_or(0, crate::engine::Counter::get),
            l.peaks.get(li).map_or(0, |p| p.load(Ordering::Relaxed)),
        )
    }

    /// Server slot (b, s) past the configured ones, if grown.
    fn added(&self, b: usize, s: usize) -> Option<&Added> {
        let a = s.checked_sub(self.layout.configured(b)?)?;
        self.added.get(b)?.get(a)
    }

    /// Make room for server slot (b, s) (`add server`, before the slot
    /// is filled); false past the most a backend can grow to.
    pub fn grow(&self, b: usize, s: usize) -> bool {
        let (Some(n), Some(g)) = (self.layout.configured(b), self.added.get(b)) else {
            return false;
        };
        let Some(a) = s.checked_sub(n) else {
            return true;
        };
        let cores = self.blocks.len();
        g.grow_to(a, || Added {
            blocks: (0..cores).map(|_| Block::new(BE_SLOTS)).collect(),
            peaks: Default::default(),
            changes: Changes::default(),
        })
        .is_some()
    }

    /// Every core's block holding `obj`'s slots, and where they start.
    #[inline]
    fn place(&self, obj: Obj) -> Option<(&[Block], usize)> {
        if let Obj::Srv(b, s) = obj {
            if let Some(i) = self.layout.server(b, s) {
                return Some((&self.blocks, self.layout.server_base(i)));
            }
            return Some((&self.added(b, s)?.blocks, 0));
        }
        Some((&self.blocks, self.layout.base(obj)?))
    }

    /// `core`'s block holding `obj`'s slots, and where they start.
    #[inline]
    fn place_on(&self, core: usize, obj: Obj) -> Option<(&Block, usize)> {
        let (blocks, base) = self.place(obj)?;
        Some((blocks.get(core)?, base))
    }

    /// Add `n` to `stat` in `core`'s block. Only the executor `core` may
    /// call this (one writer per block: a plain load and store).
    pub fn add(&self, core: usize, stat: Stat, n: u64) {
        let Some(v) = split(stat)
            .and_then(|(obj, c)| Some((self.place_on(core, obj)?, c)))
            .and_then(|((b, base), c)| b.get(base + c))
        else {
            return;
        };
        v.store(v.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }

    /// The total over every core.
    pub fn sum(&self, stat: Stat) -> u64 {
        let Some(((blocks, base), c)) =
            split(stat).and_then(|(obj, c)| Some((self.place(obj)?, c)))
        else {
            return 0;
        };
        blocks
            .iter()
            .map(|b| b.load(base + c))
            .fold(0, u64::wrapping_add)
    }

    /// One event of `obj`'s rate (a frontend's `r`; a backend's or a
    /// server's session rate) at `now_ms`, on `core` (its only writer).
    pub fn tick(&self, core: usize, obj: Obj, r: FeRate, now_ms: u64) {
        let Some((b, base)) = self.place_on(core, obj) else {
            return;
        };
        let i = base + rate_slot(obj, r);
        let sec = now_ms / 1000 + 1;
        let seen = b.load(i);
        if seen != sec {
            let curr = b.load(i + 1);
            b.store(i + 2, if sec == seen + 1 { curr } else { 0 });
            b.store(i + 1, 0);
            b.store(i, sec);
        }
        let curr = b.load(i + 1) + 1;
        b.store(i + 1, curr);
        let rate = curr + b.load(i + 2) * (1000 - now_ms % 1000) / 1000;
        if rate > b.load(i + 3) {
            b.store(i + 3, rate);
        }
    }

    /// `obj`'s rate over the last second at `now_ms` (every core's), and
    /// its highest (the sum of the cores' highs: see the module).
    pub fn rate(&self, obj: Obj, r: FeRate, now_ms: u64) -> (u64, u64) {
        let Some((blocks, base)) = self.place(obj) else {
            return (0, 0);
        };
        let i = base + rate_slot(obj, r);
        let sec = now_ms / 1000 + 1;
        let left = 1000 - now_ms % 1000;
        let mut rate = 0u64;
        let mut max = 0u64;
        for b in blocks {
            let seen = b.load(i);
            let (curr, prev) = (b.load(i + 1), b.load(i + 2));
            rate += if seen == sec {
                curr + prev * left / 1000
            } else if seen + 1 == sec {
                curr * left / 1000
            } else {
                0
            };
            max += b.load(i + 3);
        }
        (rate, max)
    }

    /// A stream's times for `obj`'s averages (HAProxy's
    /// swrate_add_dynamic over TIME_STATS_SAMPLES), on `core`.
    pub fn times(&self, core: usize, obj: Obj, t: Times) {
        let (Some((b, base)), Some(t0)) = (self.place_on(core, obj), times_slot(obj)) else {
            return;
        };
        let i = base + t0;
        let n = b.load(i + 4) + 1;
        b.store(i + 4, n);
        for (k, v) in [t.queue, t.connect, t.data, t.total]
            .into_iter()
            .enumerate()
        {
            let sum = b.load(i + k);
            let kept = if n > TIME_SAMPLES {
                sum - sum.div_ceil(TIME_SAMPLES)
            } else {
                sum
            };
            b.store(i + k, kept + u64::from(v));
            if u64::from(v) > b.load(i + 5 + k) {
                b.store(i + 5 + k, u64::from(v));
            }
        }
    }

    /// `obj`'s average queue, connect, response and total times (ms).
    pub fn averages(&self, obj: Obj) -> Times {
        let (Some((blocks, base)), Some(t0)) = (self.place(obj), times_slot(obj)) else {
            return Times::default();
        };
        let i = base + t0;
        let mut sums = [0u64; 4];
        let mut window = 0u64;
        for b in blocks {
            window += b.load(i + 4).min(TIME_SAMPLES);
            for (k, s) in sums.iter_mut().enumerate() {
                *s += b.load(i + k);
            }
        }
        if window == 0 {
            return Times::default();
        }
        let avg = |s: u64| u32::try_from(s.div_ceil(window)).unwrap_or(u32::MAX);
        Times {
            queue: avg(sums[0]),
            connect: avg(sums[1]),
            data: avg(sums[2]),
            total: avg(sums[3]),
        }
    }

    /// `obj`'s highest times (the highest over the cores).
    pub fn time_max(&self, obj: Obj) -> Times {
        let (Some((blocks, base)), Some(t0)) = (self.place(obj), times_slot(obj)) else {
            return Times::default();
        };
        let i = base + t0;
        let max = |k: usize| {
            let m = blocks.iter().map(|b| b.load(i + 5 + k)).max().unwrap_or(0);
            u32::try_from(m).unwrap_or(u32::MAX)
        };
        Times {
            queue: max(0),
            connect: max(1),
            data: max(2),
            total: max(3),
        }
    }

    /// A stream of `obj` began at `now_ms` (for `lastsess`), on `core`.
    pub fn touch(&self, core: usize, obj: Obj, now_ms: u64) {
        if let (Some((b, base)), Some(l)) = (self.place_on(core, obj), last_slot(obj)) {
            b.store(base + l, now_ms + 1);
        }
    }

    /// When `obj` last began a stream (ms since start-up; None: never).
    pub fn last(&self, obj: Obj) -> Option<u64> {
        let (blocks, base) = self.place(obj)?;
        let i = base + last_slot(obj)?;
        let t = blocks.iter().map(|b| b.load(i)).max()?;
        t.checked_sub(1)
    }

    /// A shared gauge reached `v`: its peak follows (a load, and a
    /// `fetch_max` only on a new record).
    /// Peak `p`'s word.
    fn peak_word(&self, p: Peak) -> Option<&AtomicU32> {
        if let Peak::Sess(Obj::Srv(b, s)) | Peak::Queue(Obj::Srv(b, s)) = p {
            if self.layout.server(b, s).is_none() {
                let [sess, queue] = &self.added(b, s)?.peaks;
                return Some(if matches!(p, Peak::Sess(_)) {
                    sess
                } else {
                    queue
                });
            }
        }
        self.layout.peak(p).and_then(|i| self.peaks.get(i))
    }

    pub fn peak(&self, p: Peak, v: u32) {
        if let Some(a) = self.peak_word(p) {
            if v > a.load(Ordering::Relaxed) {
                a.fetch_max(v, Ordering::Relaxed);
            }
        }
    }

    pub fn peak_of(&self, p: Peak) -> u32 {
        self.peak_word(p).map_or(0, |a| a.load(Ordering::Relaxed))
    }

    /// `clear counters`: the shared peaks (`smax`, `qmax`) back to 0 (any
    /// writer may store them: they are `fetch_max`ed).
    pub fn clear_peaks(&self) {
        let added = self.added.iter().flat_map(super::grow::Grow::iter);
        for a in self
            .peaks
            .iter()
            .chain(self.listeners.peaks.iter())
            .chain(added.flat_map(|x| x.peaks.iter()))
        {
            a.store(0, Ordering::Relaxed);
        }
    }

    /// `clear counters all`: every counter of `core`'s block back to 0, and
    /// the check transition counters. Only the executor `core` may call
    /// this (its block's one writer), which the runtime API asks it to.
    pub fn clear_block(&self, core: usize) {
        let added = self.added.iter().flat_map(super::grow::Grow::iter);
        for b in [self.blocks.get(core), self.listeners.blocks.get(core)]
            .into_iter()
            .flatten()
            .chain(added.clone().filter_map(|x| x.blocks.get(core)))
        {
            for l in b.lines.iter() {
                for a in &l.0 {
                    a.store(0, Ordering::Relaxed);
                }
            }
        }
        if core == 0 {
            self.clear_peaks();
            for c in self.changes.iter().chain(added.map(|x| &x.changes)) {
                c.down_trans.store(0, Ordering::Relaxed);
                c.failed_checks.store(0, Ordering::Relaxed);
            }
        }
    }

    /// `add server` fills slot (b, s): its counters in `core`'s block
    /// back to 0 (only the executor `core` may call this, as for
    /// [`Stats::clear_block`]); core 0 also clears its peaks and state
    /// changes.
    pub fn clear_server(&self, core: usize, b: usize, s: usize) {
        let obj = Obj::Srv(b, s);
        if let Some((block, base)) = self.place_on(core, obj) {
            for i in base..base + BE_SLOTS {
                block.store(i, 0);
            }
        }
        if let (Some(block), Some(line)) = (self.hist.get(core), self.layout.hist_line(obj)) {
            for l in block.lines.iter().skip(line).take(HIST_OBJ_LINES) {
                for a in &l.0 {
                    a.store(0, Ordering::Relaxed);
                }
            }
        }
        if core == 0 {
            for p in [Peak::Sess(obj), Peak::Queue(obj)] {
                if let Some(a) = self.peak_word(p) {
                    a.store(0, Ordering::Relaxed);
                }
            }
            if let Some(c) = self.changes(obj) {
                for a in [
                    &c.last_change,
                    &c.down_since,
                    &c.downtime,
                    &c.down_trans,
                    &c.failed_checks,
                ] {
                    a.store(0, Ordering::Relaxed);
                }
                c.health.store(0, Ordering::Relaxed);
            }
        }
    }

    /// A server's (`Obj::Srv`) or a backend's (`Obj::Be`) state changes.
    pub fn changes(&self, obj: Obj) -> Option<&Changes> {
        let i = match obj {
            Obj::Fe(_) => return None,
            Obj::Srv(b, s) => match self.layout.server(b, s) {
                Some(i) => i,
                None => return self.added(b, s).map(|x| &x.changes),
            },
            Obj::Be(b) => (b < self.layout.backends).then_some(self.layout.servers + b)?,
        };
        self.changes.get(i)
    }
}

// ---------------------------------------------------------------------------
// Latency histograms (beyond HAProxy: the exporter's `ringlb_*_seconds`).
//
// HAProxy keeps only a moving average and a maximum of each stream timer;
// these keep the whole distribution, as Prometheus histograms: per
// frontend, backend and server, per timer, a fixed run of log-scale
// buckets (upper bounds 1 µs × 2^i, i = 0..HIST_BOUNDS, then +Inf) and the
// sum of the samples in nanoseconds. Fixed bounds rather than HdrHistogram:
// every core's buckets are the same, so merging is a sum, a bucket is found
// with one leading-zero count, and recording is two plain load/stores per
// object and timer in the core's own block (no locked instruction, no
// allocation). The factor-of-two width bounds a quantile's error to its
// bucket (Prometheus interpolates inside it). Recording a stream's four
// timers on its frontend, backend and server takes 359 instructions
// (callgrind) and 67-92 ns on this 2-core machine under a load of 8 (the
// criterion bench `counters_observe_stream`, benches/counters.rs).
// ---------------------------------------------------------------------------

/// The stream timers a histogram records (HAProxy's log timers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Timer {
    /// `Tw`: time spent in the queues.
    Queue,
    /// `Tc`: time to establish the server connection.
    Connect,
    /// `Tr`: time from the connection to the response head (HTTP).
    Response,
    /// `Tt`: the whole stream, from accept (or, in HTTP, the end of the
    /// previous transaction) to the close.
    Total,
}

impl Timer {
    pub const ALL: [Timer; 4] = [Timer::Queue, Timer::Connect, Timer::Response, Timer::Total];
}

/// Bucket bounds below +Inf: 1 µs × 2^0 .. 1 µs × 2^26 (67.1 s).
pub const HIST_BOUNDS: usize = 27;
/// The buckets, +Inf last.
pub const HIST_BUCKETS: usize = HIST_BOUNDS + 1;
/// A timer's slots: its buckets, the sum of its samples (ns), spare slots
/// up to four whole cache lines (so a slot's line and lane are a shift and
/// a mask away, with no bounds left to check).
const HIST_SLOTS: usize = 32;
const HIST_SUM: usize = HIST_BUCKETS;
const HIST_TIMERS: usize = Timer::ALL.len();
/// An object's lines.
const HIST_OBJ_LINES: usize = HIST_TIMERS * HIST_SLOTS / 8;
const _: () = assert!(HIST_SUM < HIST_SLOTS && HIST_SLOTS % 8 == 0);

/// The upper bound of bucket `i` (below [`HIST_BOUNDS`]) in nanoseconds.
pub const fn hist_bound_ns(i: usize) -> u64 {
    1000 << i
}

/// The bucket of a sample of `ns` nanoseconds: the first whose bound it
/// does not pass (Prometheus's `le`).
#[inline]
pub fn hist_bucket(ns: u64) -> usize {
    // v <= 1000·2^i  <=>  ceil(v / 1000) <= 2^i.
    let us = ns.div_ceil(1000);
    let i = if us <= 1 {
        0
    } else {
        (u64::BITS - (us - 1).leading_zeros()) as usize
    };
    i.min(HIST_BOUNDS)
}

/// A histogram merged over the cores.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Histogram {
    /// Samples per bucket (not cumulative), +Inf last.
    pub buckets: [u64; HIST_BUCKETS],
    /// The samples' sum, in nanoseconds.
    pub sum_ns: u64,
}

impl Histogram {
    pub fn count(&self) -> u64 {
        self.buckets.iter().fold(0, |a, b| a.wrapping_add(*b))
    }
}

/// One stream's timers, as the histograms take them (None: the stream
/// never reached that step, as HAProxy's log prints -1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamTimers {
    pub queue: Option<std::time::Duration>,
    pub connect: Option<std::time::Duration>,
    pub response: Option<std::time::Duration>,
    pub total: Option<std::time::Duration>,
}

/// Add `v` to an object's histogram slot (its block's one writer).
#[inline]
fn hist_add(lines: &[Line; HIST_OBJ_LINES], slot: usize, v: u64) {
    // slot < HIST_TIMERS * HIST_SLOTS: the masks keep the compiler sure of
    // it, and no bounds check is left.
    if let Some(a) = lines
        .get((slot >> 3) % HIST_OBJ_LINES)
        .and_then(|l| l.0.get(slot & 7))
    {
        a.store(a.load(Ordering::Relaxed).wrapping_add(v), Ordering::Relaxed);
    }
}

impl Layout {
    /// The histogram slots of every object.
    fn hist_len(&self) -> usize {
        (self.frontends + self.backends + self.hist_total) * HIST_OBJ_LINES * 8
    }

    /// The first line of `obj`'s histograms.
    fn hist_line(&self, obj: Obj) -> Option<usize> {
        let n = match obj {
            Obj::Fe(i) => (i < self.frontends).then_some(i)?,
            Obj::Be(b) => (b < self.backends).then_some(self.frontends + b)?,
            Obj::Srv(b, s) => {
                let (first, n) = *self.hist_servers.get(b)?;
                (s < n).then_some(self.frontends + self.backends + first + s)?
            }
        };
        Some(n * HIST_OBJ_LINES)
    }
}

impl Stats {
    /// Record one stream's timers on `core` (its block's only writer) for
    /// every object in `objs` (its frontend, backend, server): each timer's
    /// bucket is found once, then each object takes a plain load and store
    /// on its bucket and on its sum.
    pub fn observe(&self, core: usize, objs: &[Obj], t: &StreamTimers) {
        let Some(block) = self.hist.get(core) else {
            return;
        };
        let timers = [t.queue, t.connect, t.response, t.total];
        // Each timer's (bucket slot, ns); a timer the stream never reached
        // has none. Fixed trip counts: the loops below unroll.
        let mut samples = [None; HIST_TIMERS];
        for (k, (d, slot)) in timers.into_iter().zip(samples.iter_mut()).enumerate() {
            *slot = d.map(|d| {
                let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
                (k * HIST_SLOTS + hist_bucket(ns), ns)
            });
        }
        for obj in objs {
            let Some(first) = self.layout.hist_line(*obj) else {
                continue;
            };
            let Some(lines) = block
                .lines
                .get(first..first + HIST_OBJ_LINES)
                .and_then(|l| <&[Line; HIST_OBJ_LINES]>::try_from(l).ok())
            else {
                continue;
            };
            for (k, sample) in samples.iter().enumerate() {
                let Some((bucket, ns)) = *sample else {
                    continue;
                };
                hist_add(lines, bucket, 1);
                hist_add(lines, k * HIST_SLOTS + HIST_SUM, ns);
            }
        }
    }

    /// `obj`'s histogram of `timer`, summed over the cores.
    pub fn histogram(&self, obj: Obj, timer: Timer) -> Histogram {
        let mut h = Histogram::default();
        let Some(first) = self.layout.hist_line(obj) else {
            return h;
        };
        let base = first * 8 + timer as usize * HIST_SLOTS;
        for b in self.hist.iter() {
            for (i, v) in h.buckets.iter_mut().enumerate() {
                *v = v.wrapping_add(b.load(base + i));
            }
            h.sum_ns = h.sum_ns.wrapping_add(b.load(base + HIST_SUM));
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::{Stat, Stats};

    #[test]
    fn each_core_counts_apart_and_a_read_sums_them() {
        let s = Stats::new(3, 2, &[2, 1]);
        s.add(0, Stat::FeConnTot(1), 2);
        s.add(2, Stat::FeConnTot(1), 3);
        s.add(1, Stat::SrvSessTot(1, 0), 7);
        s.add(1, Stat::SrvSessTot(0, 1), 1);
        assert_eq!(s.sum(Stat::FeConnTot(1)), 5);
        assert_eq!(s.sum(Stat::FeConnTot(0)), 0);
        assert_eq!(s.sum(Stat::SrvSessTot(1, 0)), 7);
        assert_eq!(s.sum(Stat::SrvSessTot(0, 1)), 1);
        assert_eq!(s.sum(Stat::SrvSessTot(0, 0)), 0);
    }

    #[test]
    fn listeners_count_apart_from_their_frontend() {
        use super::Fe;
        // Frontend 0 counts no listener; frontend 1 its listeners 1 and 7.
        let s = Stats::new(2, 2, &[1]).with_listeners(&[vec![], vec![1, 7]]);
        assert_eq!(s.li(0, 1), None);
        assert_eq!(s.li(1, 1), Some(0));
        assert_eq!(s.li(1, 7), Some(1));
        assert_eq!(s.li(1, 2), None);
        s.add_fe(0, 1, 7, Fe::BytesIn, 10);
        s.add_fe(1, 1, 7, Fe::BytesIn, 5);
        s.add_fe(1, 1, 1, Fe::BytesIn, 1);
        s.add_fe(1, 0, 1, Fe::BytesIn, 100);
        assert_eq!(s.sum_li(1, Fe::BytesIn), 15);
        assert_eq!(s.sum_li(0, Fe::BytesIn), 1);
        assert_eq!(s.sum(Stat::Fe(1, Fe::BytesIn)), 16);
        assert_eq!(s.sum(Stat::Fe(0, Fe::BytesIn)), 100);
        // Connections: the gauge against a limit, its peak, cum_conn.
        assert!(s.li_take(1, 2));
        assert!(s.li_take(1, 2));
        assert!(!s.li_take(1, 2), "the limit holds");
        s.li_accepted(0, 1);
        s.li_accepted(1, 1);
        s.li_closed(1);
        assert_eq!(s.li_conns(1), (1, 2));
        assert!(s.li_take(1, 2), "a freed slot is taken again");
        s.li_closed(1);
        assert_eq!(s.sum_li(1, Fe::ConnTot), 2);
        // `clear counters all` on each core, then `clear counters`.
        s.clear_block(0);
        s.clear_block(1);
        assert_eq!(s.sum_li(1, Fe::BytesIn), 0);
        assert_eq!(s.li_conns(1), (1, 0));
        // Out of range: ignored.
        s.add_li(0, 9, Fe::BytesIn, 1);
        s.li_accepted(0, 9);
        assert!(s.li_take(9, 1));
        s.li_closed(9);
        assert_eq!(s.li_conns(9), (0, 0));
    }

    #[test]
    fn out_of_range_counters_are_ignored() {
        let s = Stats::new(1, 1, &[1]);
        s.add(0, Stat::SrvSessTot(0, 1), 1);
        s.add(0, Stat::BeSessTot(1), 1);
        s.add(5, Stat::FeConnTot(0), 1);
        assert_eq!(s.sum(Stat::SrvSessTot(0, 1)), 0);
        assert_eq!(s.sum(Stat::SrvSessTot(0, 0)), 0);
        assert_eq!(s.sum(Stat::FeConnTot(0)), 0);
    }

    #[test]
    fn added_server_slots_count_once_grown() {
        use super::{Obj, Peak, Times};
        let s = Stats::new(2, 1, &[1, 1]);
        let added = Obj::Srv(0, 1);
        // Nothing before the slot is grown; the next backend's server is
        // not backend 0's slot 1.
        s.add(0, Stat::SrvSessTot(0, 1), 1);
        assert_eq!(s.sum(Stat::SrvSessTot(0, 1)), 0);
        assert!(s.changes(added).is_none());
        assert!(s.grow(0, 1) && s.grow(0, 0));
        assert!(!s.grow(0, 1 + crate::engine::runtime::grow::CAPACITY));
        s.add(0, Stat::SrvSessTot(0, 1), 2);
        s.add(1, Stat::SrvSessTot(0, 1), 3);
        s.add(0, Stat::SrvSessTot(1, 0), 7);
        assert_eq!(s.sum(Stat::SrvSessTot(0, 1)), 5);
        assert_eq!(s.sum(Stat::SrvSessTot(1, 0)), 7, "apart");
        s.times(
            1,
            added,
            Times {
                queue: 1,
                connect: 2,
                data: 3,
                total: 4,
            },
        );
        assert_eq!(s.averages(added).total, 4);
        s.touch(0, added, 41);
        assert_eq!(s.last(added), Some(41));
        s.tick(0, added, super::FeRate::Sess, 500);
        assert_eq!(s.rate(added, super::FeRate::Sess, 500).0, 1);
        s.peak(Peak::Sess(added), 9);
        s.peak(Peak::Queue(added), 4);
        assert_eq!(
            (s.peak_of(Peak::Sess(added)), s.peak_of(Peak::Queue(added))),
            (9, 4)
        );
        assert!(s.changes(added).is_some());
        // `add server` filling it again: every core's counters back to 0.
        s.clear_server(0, 0, 1);
        s.clear_server(1, 0, 1);
        assert_eq!(s.sum(Stat::SrvSessTot(0, 1)), 0);
        assert_eq!((s.peak_of(Peak::Sess(added)), s.last(added)), (0, None));
        s.add(1, Stat::SrvSessTot(0, 1), 1);
        s.clear_block(1);
        assert_eq!(s.sum(Stat::SrvSessTot(0, 1)), 0, "clear counters all");
    }

    #[test]
    fn blocks_do_not_share_a_cache_line() {
        let s = Stats::new(2, 1, &[]);
        for b in s.blocks.iter() {
            assert_eq!(b.lines.as_ptr() as usize % 64, 0, "starts a line");
        }
        assert_eq!(std::mem::size_of::<super::Line>(), 64);
    }

    #[test]
    fn one_writer_per_core_loses_nothing() {
        let s = std::sync::Arc::new(Stats::new(4, 1, &[]));
        let threads: Vec<_> = (0..4)
            .map(|c| {
                let s = std::sync::Arc::clone(&s);
                std::thread::spawn(move || {
                    for _ in 0..100_000 {
                        s.add(c, Stat::FeConnTot(0), 1);
                    }
                })
            })
            .collect();
        for t in threads {
            assert!(t.join().is_ok());
        }
        assert_eq!(s.sum(Stat::FeConnTot(0)), 400_000);
    }

    #[test]
    fn a_sample_lands_in_the_first_bucket_it_does_not_pass() {
        use super::{hist_bound_ns, hist_bucket, HIST_BOUNDS};
        assert_eq!(hist_bucket(0), 0);
        assert_eq!(hist_bucket(1000), 0);
        assert_eq!(hist_bucket(1001), 1);
        assert_eq!(hist_bucket(2000), 1);
        assert_eq!(hist_bucket(2001), 2);
        for i in 0..HIST_BOUNDS {
            assert_eq!(hist_bucket(hist_bound_ns(i)), i, "bound {i}");
            assert_eq!(hist_bucket(hist_bound_ns(i) + 1), i + 1, "past {i}");
        }
        assert_eq!(hist_bucket(u64::MAX), HIST_BOUNDS);
    }

    #[test]
    fn histograms_record_per_core_and_merge_when_read() {
        use super::{Histogram, Obj, StreamTimers, Timer};
        use std::time::Duration;
        let s = Stats::new(2, 1, &[2, 1]);
        let t = StreamTimers {
            queue: None,
            connect: Some(Duration::from_micros(3)),
            response: Some(Duration::from_millis(5)),
            total: Some(Duration::from_millis(6)),
        };
        let objs = [Obj::Fe(0), Obj::Be(0), Obj::Srv(0, 1)];
        s.observe(0, &objs, &t);
        s.observe(1, &objs, &t);
        s.observe(
            1,
            &[Obj::Fe(0)],
            &StreamTimers {
                total: Some(Duration::from_secs(3600)),
                ..StreamTimers::default()
            },
        );
        let r = s.histogram(Obj::Be(0), Timer::Response);
        assert_eq!(r.count(), 2);
        assert_eq!(r.sum_ns, 10_000_000);
        // 5 ms: in (4.096 ms, 8.192 ms].
        assert_eq!(r.buckets[13], 2);
        let c = s.histogram(Obj::Srv(0, 1), Timer::Connect);
        assert_eq!(c.buckets[2], 2, "3 µs in (2 µs, 4 µs]");
        assert_eq!(
            s.histogram(Obj::Srv(0, 0), Timer::Connect),
            Histogram::default()
        );
        assert_eq!(s.histogram(Obj::Be(0), Timer::Queue).count(), 0);
        let fe = s.histogram(Obj::Fe(0), Timer::Total);
        assert_eq!(fe.count(), 3);
        assert_eq!(
            fe.buckets[super::HIST_BOUNDS],
            1,
            "an hour is past the last bound"
        );
        // Nothing leaks into the neighbours.
        assert_eq!(s.histogram(Obj::Be(1), Timer::Total).count(), 0);
        assert_eq!(s.histogram(Obj::Srv(1, 0), Timer::Total).count(), 0);
        // Out of range: ignored.
        s.observe(5, &objs, &t);
        s.observe(0, &[Obj::Srv(0, 2), Obj::Be(2), Obj::Fe(1)], &t);
        assert_eq!(s.histogram(Obj::Srv(0, 2), Timer::Total).count(), 0);
        assert_eq!(s.histogram(Obj::Be(0), Timer::Total).count(), 2);
    }
}

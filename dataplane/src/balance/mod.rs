//! Server selection: HAProxy's `balance` algorithms as a sans-IO state
//! machine (no socket, no runtime, no lock).
//!
//! One [`Balancer`] lives per backend per core. The stream layer tells it
//! what changed (`set_up`, `set_weight`, `set_maxconn`) and asks it for a
//! server with [`Balancer::pick`], giving the request's hashing key (see
//! [`Balancer::needs_key`]) and the servers' current loads.
//!
//! Rules shared by every algorithm, as in HAProxy:
//! - a server is usable when it is up with a weight above 0;
//! - backup servers are used only when no active server is usable: the first
//!   usable backup (declaration order) alone, or all usable backups with
//!   their weights under `option allbackups`;
//! - a server whose load reached its `maxconn` is full: round robin,
//!   leastconn, first, random and the hash fallback skip it, and return
//!   `None` when every candidate is full (the stream waits in the backend
//!   queue). A hashing algorithm whose key designates a full server still
//!   returns it (HAProxy's default `hash-preserve-affinity always`: the
//!   stream waits in that server's queue), and so does the first backup in
//!   single-backup mode; the caller checks [`Balancer::is_full`];
//! - `avoid` (the server that just failed, on redispatch) is skipped unless
//!   it is the only server left, except by map-based hashing, which has no
//!   second choice.

mod chash;
mod hash;
pub mod key;
mod leastconn;
mod map;
mod rng;
mod swrr;

use std::net::IpAddr;

use ringlb_config::model::{Balance, HashMethod, HashType};

pub use self::hash::{full_hash, hash};
pub use ringlb_config::model::HashFunction;

use self::chash::{Ring, WEIGHT_SCALE};
use self::leastconn::LeastConn;
use self::map::MapTable;
use self::rng::Rng;
use self::swrr::Swrr;

/// HAProxy's highest server weight.
pub const MAX_WEIGHT: u32 = 256;

/// What the balancer knows of a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerState {
    /// Effective weight, 0..=256 (after slow start, agent, `set weight`).
    /// Larger values are clamped.
    pub weight: u32,
    pub backup: bool,
    pub up: bool,
    /// `maxconn` (the dynamic one when `minconn`/`fullconn` apply). `None`
    /// or `Some(0)`: no limit.
    pub maxconn: Option<u32>,
}

/// One selection's inputs.
#[derive(Clone, Copy, Debug)]
pub struct PickCtx<'a> {
    /// The client's address, for `balance source`.
    pub src: Option<IpAddr>,
    /// The key the stream layer extracted as [`Balancer::needs_key`] asks;
    /// `None` when absent, and the algorithm falls back to round robin.
    pub key: Option<&'a [u8]>,
    /// The server to avoid (the one that just failed, for redispatch).
    pub avoid: Option<usize>,
    /// Each server's served streams (HAProxy's `srv->served`: connections
    /// established or being established), which `maxconn`, `random` and the
    /// bounded loads of `hash-balance-factor` compare. Missing entries count
    /// as 0. Streams waiting in a server's queue are passed apart, to
    /// [`Balancer::pick_with_queues`].
    pub conns: &'a [u32],
}

/// What the stream layer must extract and pass as [`PickCtx::key`] (or
/// [`PickCtx::src`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind<'a> {
    /// Nothing: the algorithm needs no key.
    None,
    /// The client's source address, in `PickCtx::src`.
    Source,
    /// The request URI as sent in the request line, or, with `path_only`, its
    /// path part (from the first `/`; empty when there is none). The
    /// balancer applies `whole`, `len` and `depth` itself.
    Uri { path_only: bool },
    /// The value of this query-string parameter (see [`key::url_param`]); with
    /// `check_post`, of a POST body's parameter when the query string lacks
    /// it (see [`key::body_param`]).
    UrlParam { name: &'a str, check_post: bool },
    /// The first value of this request header (case-insensitive name, value
    /// cut at the first comma as HAProxy's http_find_header() does). An
    /// empty value counts as absent. The balancer applies `use_domain_only`.
    Hdr(&'a str),
    /// The value of this RDP cookie (`mstshash` by default).
    RdpCookie(&'a str),
    /// The `balance hash` sample, cast to binary as HAProxy does (strings
    /// as their bytes, integers as 8 big-endian bytes, addresses as 4 or 16
    /// bytes).
    Sample,
}

#[derive(Debug)]
struct Server {
    /// Effective weight (dynamic algorithms), in HAProxy's eweight units:
    /// 16 per unit of user weight (BE_WEIGHT_SCALE), so that a slow start
    /// ramps a weight-1 server in sixteenths.
    weight: u32,
    /// Weight given at start (static algorithms).
    initial: u32,
    backup: bool,
    up: bool,
    maxconn: Option<u32>,
    /// HAProxy's puid: orders `first` and places consistent-hash points.
    id: u32,
}

/// The servers selection draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Group {
    /// No usable server.
    Empty,
    Active,
    /// Single-backup mode: every stream goes to this backup.
    FirstBackup(usize),
    /// `option allbackups`: all usable backups.
    Backups,
}

#[derive(Debug)]
enum HashKey {
    Source,
    Uri {
        whole: bool,
        path_only: bool,
        len: Option<u32>,
        depth: Option<u32>,
    },
    UrlParam {
        name: String,
        check_post: bool,
    },
    Hdr {
        name: String,
        domain_only: bool,
    },
    RdpCookie(String),
    Sample,
}

#[derive(Debug)]
enum Lookup {
    Map(MapTable),
    Ring(Ring),
}

#[derive(Debug)]
enum Algo {
    RoundRobin(Swrr),
    StaticRr(MapTable),
    LeastConn(LeastConn),
    First,
    Random { draws: u32, ring: Ring },
    Hash { key: HashKey, lookup: Lookup },
}

/// The farm as the algorithms see it, recomputed on each state change.
#[derive(Debug)]
struct Farm {
    servers: Vec<Server>,
    /// Static weights (static-rr, map-based hashing): only usability changes.
    static_weights: bool,
    allbackups: bool,
    group: Group,
    /// The usable servers of the group, in declaration order.
    members: Vec<usize>,
    /// Per server: sum of the effective weights (×16) of the members before
    /// it (HAProxy's cumulative_weight, for hash-balance-factor).
    cumulative: Vec<u64>,
    /// Sum of the members' effective weights (×16).
    total_weight: u64,
    function: HashFunction,
    avalanche: bool,
    hash_balance_factor: u32,
}

/// Server selection for one backend on one core.
#[derive(Debug)]
pub struct Balancer {
    farm: Farm,
    algo: Algo,
    rng: Rng,
}

impl Farm {
    fn usable(&self, s: &Server) -> bool {
        s.up && s.weight > 0 && (!self.static_weights || s.initial > 0)
    }

    fn server(&self, i: usize) -> Option<&Server> {
        self.servers.get(i)
    }

    fn weight(&self, i: usize) -> u32 {
        self.server(i).map_or(0, |s| s.weight)
    }

    fn load(conns: &[u32], i: usize) -> u32 {
        conns.get(i).copied().unwrap_or(0)
    }

    fn is_full(&self, i: usize, conns: &[u32]) -> bool {
        self.server(i)
            .and_then(|s| s.maxconn)
            .is_some_and(|m| m > 0 && Self::load(conns, i) >= m)
    }

    /// Recomputes the group in use, its members and their cumulative weights.
    /// Returns whether the members changed.
    fn regroup(&mut self) -> bool {
        let mut active = Vec::new();
        let mut backups = Vec::new();
        for (i, s) in self.servers.iter().enumerate() {
            if self.usable(s) {
                if s.backup {
                    backups.push(i);
                } else {
                    active.push(i);
                }
            }
        }
        let (group, members) = if !active.is_empty() {
            (Group::Active, active)
        } else if let Some(&first) = backups.first() {
            if self.allbackups {
                (Group::Backups, backups)
            } else {
                (Group::FirstBackup(first), vec![first])
            }
        } else {
            (Group::Empty, Vec::new())
        };
        self.group = group;
        let changed = members != self.members;
        self.members = members;
        self.cumulative.clear();
        self.cumulative.resize(self.servers.len(), 0);
        let mut sum = 0u64;
        for &i in &self.members {
            if let Some(c) = self.cumulative.get_mut(i) {
                *c = sum;
            }
            sum += u64::from(self.weight(i));
        }
        self.total_weight = sum;
        changed
    }

    /// Hashes a key with the configured function and modifier (gen_hash()).
    fn gen_hash(&self, data: &[u8]) -> u32 {
        let h = hash(self.function, data);
        if self.avalanche {
            full_hash(h)
        } else {
            h
        }
    }

    /// The hash the request designates, or `None` to fall back to round
    /// robin. With a single usable server HAProxy skips hashing (hash 0) for
    /// source, uri, hdr, rdp-cookie and hash, before or after looking at the
    /// key as each get_server_* function does.
    fn key_hash(&self, key: &HashKey, ctx: &PickCtx<'_>) -> Option<u32> {
        let single = self.members.len() == 1;
        match key {
            HashKey::Source => {
                let ip = ctx.src?;
                if single {
                    return Some(0);
                }
                let h = key::source_key(ip);
                Some(if self.avalanche { full_hash(h) } else { h })
            }
            HashKey::Uri {
                whole, len, depth, ..
            } => {
                let uri = ctx.key?;
                if single {
                    return Some(0);
                }
                Some(self.gen_hash(key::uri_span(uri, *whole, *len, *depth)))
            }
            HashKey::UrlParam { .. } => ctx.key.map(|v| self.gen_hash(v)),
            HashKey::Hdr { domain_only, .. } => {
                if single {
                    return Some(0);
                }
                let v = ctx.key.filter(|v| !v.is_empty())?;
                Some(self.gen_hash(if *domain_only { key::domain_only(v) } else { v }))
            }
            HashKey::RdpCookie(_) => {
                let v = ctx.key.filter(|v| !v.is_empty())?;
                Some(if single { 0 } else { self.gen_hash(v) })
            }
            HashKey::Sample => {
                if single {
                    return Some(0);
                }
                ctx.key.map(|v| self.gen_hash(v))
            }
        }
    }

    /// chash_server_is_eligible(): HAProxy's "consistent hashing with bounded
    /// loads". All outstanding streams plus this one, times the factor,
    /// rounded up, are shared among the members by weight (the remainder
    /// spread by cumulative weight); a server at its share is skipped.
    fn below_bound(&self, i: usize, conns: &[u32], served: u64) -> bool {
        let f = u64::from(self.hash_balance_factor);
        let tot = self.total_weight.max(1);
        let w = u64::from(self.weight(i));
        let cum = self.cumulative.get(i).copied().unwrap_or(0);
        let slots_total = ((served + 1) * f).div_ceil(100);
        let per_weight = slots_total / tot;
        let rem = slots_total % tot;
        let slots = (w * per_weight + (cum + w) * rem / tot - cum * rem / tot).max(1);
        u64::from(Self::load(conns, i)) < slots
    }

    /// Whether ring lookups skip this server: the avoided one, or, with a
    /// hash-balance-factor, one at its bounded load.
    fn ring_accepts(&self, i: usize, ctx: &PickCtx<'_>, served: u64) -> bool {
        Some(i) != ctx.avoid
            && (self.hash_balance_factor == 0 || self.below_bound(i, ctx.conns, served))
    }

    fn served(&self, conns: &[u32]) -> u64 {
        if self.hash_balance_factor == 0 {
            return 0;
        }
        let n = self.servers.len().min(conns.len());
        conns.iter().take(n).map(|&c| u64::from(c)).sum()
    }

    /// Round robin along the ring (hash key missing).
    fn ring_rr(&self, ring: &mut Ring, ctx: &PickCtx<'_>) -> Option<usize> {
        // Settle the saturated cases first: the walk then always ends on a
        // server without a whole turn of the ring.
        let free = |i: usize| !self.is_full(i, ctx.conns);
        if !self
            .members
            .iter()
            .any(|&i| free(i) && Some(i) != ctx.avoid)
        {
            return self
                .members
                .iter()
                .copied()
                .find(|&i| free(i) && Some(i) == ctx.avoid);
        }
        ring.next_rr(self.group == Group::Backups, ctx.avoid, |i| !free(i))
    }

    fn ring_lookup(&self, ring: &Ring, hash: u32, ctx: &PickCtx<'_>, served: u64) -> Option<usize> {
        if let Group::FirstBackup(i) = self.group {
            return Some(i);
        }
        ring.lookup(self.group == Group::Backups, hash, |i| {
            self.ring_accepts(i, ctx, served)
        })
    }
}

impl Balancer {
    /// A balancer for a backend's `balance`, `hash-type`,
    /// `hash-balance-factor` and `option allbackups`, with its servers in
    /// declaration order, for executor `core` (0-based). Server ids
    /// (HAProxy's puid) default to positions from 1; see
    /// [`Balancer::set_ids`].
    ///
    /// HAProxy has one balancer per backend for all its threads; ringlb has
    /// one per core, so `core` keeps the cores from moving in step: `balance
    /// random` draws from the core's own generator, and round robin
    /// (`roundrobin`, `static-rr`, the map-based hash fallback) starts `core`
    /// places further into its cycle, so that a burst spread over N cores
    /// starts on N successive servers of the cycle, as HAProxy's single
    /// order would, instead of N times on the first one.
    pub fn new(
        balance: &Balance,
        hash_type: Option<HashType>,
        hash_balance_factor: Option<u32>,
        allbackups: bool,
        servers: &[ServerState],
        core: usize,
    ) -> Balancer {
        let n = servers.len();
        let list: Vec<Server> = servers
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let weight = s.weight.min(MAX_WEIGHT);
                Server {
                    weight: weight * WEIGHT_SCALE,
                    initial: weight,
                    backup: s.backup,
                    up: s.up,
                    maxconn: s.maxconn,
                    id: u32::try_from(i + 1).unwrap_or(u32::MAX),
                }
            })
            .collect();
        // `hash-type` absent: map-based sdbm without avalanche.
        let ht = hash_type.unwrap_or(HashType {
            method: HashMethod::MapBased,
            function: HashFunction::Sdbm,
            avalanche: false,
        });
        let weights: Vec<u32> = list.iter().map(|s| s.initial).collect();
        let hash_lookup = || match ht.method {
            HashMethod::MapBased => Lookup::Map(MapTable::new(&weights)),
            HashMethod::Consistent => Lookup::Ring(Ring::new(n)),
        };
        let hashed = |key| Algo::Hash {
            key,
            lookup: hash_lookup(),
        };
        let algo = match balance {
            Balance::RoundRobin => Algo::RoundRobin(Swrr::new(n)),
            Balance::StaticRr => Algo::StaticRr(MapTable::new(&weights)),
            Balance::LeastConn => Algo::LeastConn(LeastConn::new(n)),
            Balance::First => Algo::First,
            Balance::Random { draws } => Algo::Random {
                draws: *draws,
                ring: Ring::new(n),
            },
            Balance::Source => hashed(HashKey::Source),
            Balance::Uri {
                whole,
                path_only,
                len,
                depth,
            } => hashed(HashKey::Uri {
                whole: *whole,
                path_only: *path_only,
                len: *len,
                depth: *depth,
            }),
            Balance::UrlParam { param, check_post } => hashed(HashKey::UrlParam {
                name: param.clone(),
                check_post: *check_post,
            }),
            Balance::Hdr {
                name,
                use_domain_only,
            } => hashed(HashKey::Hdr {
                name: name.clone(),
                domain_only: *use_domain_only,
            }),
            Balance::RdpCookie { name } => hashed(HashKey::RdpCookie(name.clone())),
            Balance::Hash(_) => hashed(HashKey::Sample),
        };
        let static_weights = matches!(
            algo,
            Algo::StaticRr(_)
                | Algo::Hash {
                    lookup: Lookup::Map(_),
                    ..
                }
        );
        let mut b = Balancer {
            farm: Farm {
                servers: list,
                static_weights,
                allbackups,
                group: Group::Empty,
                members: Vec::new(),
                cumulative: Vec::new(),
                total_weight: 0,
                function: ht.function,
                avalanche: ht.avalanche,
                hash_balance_factor: hash_balance_factor.unwrap_or(0),
            },
            algo,
            rng: Rng::for_core(core),
        };
        for i in 0..n {
            b.place(i);
        }
        b.refresh();
        b.set_phase(core);
        b
    }

    /// Moves round robin `core` places into its cycle (see
    /// [`Balancer::new`]). Each core still walks the whole cycle, so the
    /// proportions by weight hold on every core and over all of them.
    fn set_phase(&mut self, core: usize) {
        let farm = &self.farm;
        match &mut self.algo {
            Algo::RoundRobin(rr) => {
                if farm.members.is_empty() || matches!(farm.group, Group::FirstBackup(_)) {
                    return;
                }
                let cycle: usize = farm
                    .members
                    .iter()
                    .map(|&i| usize::try_from(farm.weight(i) / WEIGHT_SCALE).unwrap_or(0))
                    .sum();
                for _ in 0..core % cycle.max(1) {
                    rr.pick(&farm.members, |i| farm.weight(i), None, |_| false);
                }
            }
            Algo::StaticRr(map)
            | Algo::Hash {
                lookup: Lookup::Map(map),
                ..
            } => map.set_phase(core),
            _ => {}
        }
    }

    /// What the stream layer must extract for [`PickCtx`].
    pub fn needs_key(&self) -> KeyKind<'_> {
        let Algo::Hash { key, .. } = &self.algo else {
            return KeyKind::None;
        };
        match key {
            HashKey::Source => KeyKind::Source,
            HashKey::Uri { path_only, .. } => KeyKind::Uri {
                path_only: *path_only,
            },
            HashKey::UrlParam { name, check_post } => KeyKind::UrlParam {
                name,
                check_post: *check_post,
            },
            HashKey::Hdr { name, .. } => KeyKind::Hdr(name),
            HashKey::RdpCookie(name) => KeyKind::RdpCookie(name),
            HashKey::Sample => KeyKind::Sample,
        }
    }

    /// Picks a server (an index into the servers given to `new`). `None`: no
    /// usable server ([`Balancer::has_usable`] is false: answer 503), or all
    /// candidates are full (queue the stream in the backend).
    ///
    /// No server queue is known here: `leastconn` ranks by served streams
    /// alone. The stream layer, which knows the queues, calls
    /// [`Balancer::pick_with_queues`].
    pub fn pick(&mut self, ctx: &PickCtx<'_>) -> Option<usize> {
        self.pick_with_queues(ctx, &[])
    }

    /// [`Balancer::pick`] knowing, per server, the streams waiting in its
    /// own queue (missing entries count as 0). `leastconn` ranks servers by
    /// served plus queued streams, as HAProxy's fwlc_queue_srv() does
    /// (`inflight = served + queue.length`); the other algorithms do not
    /// look at queues.
    pub fn pick_with_queues(&mut self, ctx: &PickCtx<'_>, queued: &[u32]) -> Option<usize> {
        let Balancer { farm, algo, rng } = self;
        let group = farm.group;
        if group == Group::Empty {
            return None;
        }
        let full = |i: usize| farm.is_full(i, ctx.conns);
        let chosen = match algo {
            Algo::RoundRobin(rr) => match group {
                Group::FirstBackup(i) => Some(i),
                _ => rr.pick(&farm.members, |i| farm.weight(i), ctx.avoid, full),
            },
            Algo::StaticRr(map) => map.pick_rr(ctx.avoid, full),
            Algo::LeastConn(lc) => match group {
                Group::FirstBackup(i) => Some(i),
                _ => lc.pick(
                    &farm.members,
                    |i| {
                        let inflight =
                            Farm::load(ctx.conns, i).saturating_add(Farm::load(queued, i));
                        (inflight, farm.weight(i))
                    },
                    ctx.avoid,
                    full,
                ),
            },
            Algo::First => match group {
                Group::FirstBackup(i) => Some(i),
                _ => first(farm, ctx),
            },
            Algo::Random { draws, ring } => {
                let served = farm.served(ctx.conns);
                let mut cur = None;
                for _ in 0..(*draws).max(1) {
                    let prev = cur;
                    cur = farm.ring_lookup(ring, rng.next_u32(), ctx, served);
                    let Some(c) = cur else { break };
                    // Keep the previous draw when it is less loaded for its
                    // weight.
                    if let Some(p) = prev.filter(|&p| p != c) {
                        let lc = u64::from(Farm::load(ctx.conns, c)) * u64::from(farm.weight(p));
                        let lp = u64::from(Farm::load(ctx.conns, p)) * u64::from(farm.weight(c));
                        if lc > lp {
                            cur = prev;
                        }
                    }
                }
                // A full pick reaches the backend queue instead.
                cur.filter(|&c| !full(c))
            }
            Algo::Hash { key, lookup } => {
                let h = farm.key_hash(key, ctx);
                match (lookup, h) {
                    (Lookup::Map(map), Some(h)) => map.pick_hash(h),
                    (Lookup::Map(map), None) => map.pick_rr(ctx.avoid, full),
                    (Lookup::Ring(ring), Some(h)) => {
                        farm.ring_lookup(ring, h, ctx, farm.served(ctx.conns))
                    }
                    (Lookup::Ring(ring), None) => match group {
                        Group::FirstBackup(i) => Some(i),
                        _ => farm.ring_rr(ring, ctx),
                    },
                }
            }
        };
        debug_assert!(
            chosen.is_none_or(|i| farm.members.contains(&i)),
            "picked a server outside the group in use"
        );
        chosen
    }

    /// Sets a server's effective weight (0..=256). Static algorithms
    /// (static-rr, map-based hashing) only honour 0 (not usable) versus any
    /// other value (the initial weight), as HAProxy does.
    pub fn set_weight(&mut self, idx: usize, weight: u32) {
        self.set_eweight(idx, weight.min(MAX_WEIGHT) * WEIGHT_SCALE);
    }

    /// Sets a server's effective weight in HAProxy's eweight units (16 per
    /// unit of weight, 0..=4096): what a slow start ramps.
    pub fn set_eweight(&mut self, idx: usize, eweight: u32) {
        let Some(s) = self.farm.servers.get_mut(idx) else {
            return;
        };
        s.weight = eweight.min(MAX_WEIGHT * WEIGHT_SCALE);
        self.changed(idx);
    }

    /// Marks a server up (usable when its weight is above 0) or down.
    pub fn set_up(&mut self, idx: usize, up: bool) {
        let Some(s) = self.farm.servers.get_mut(idx) else {
            return;
        };
        s.up = up;
        self.changed(idx);
    }

    /// Makes server `idx` a backup server or an active one (`add server
    /// ... backup` fills an added slot): its points move to the other
    /// ring, and the groups are made again.
    pub fn set_backup(&mut self, idx: usize, backup: bool) {
        let Some(s) = self.farm.servers.get(idx) else {
            return;
        };
        if s.backup == backup {
            return;
        }
        let (id, old) = (s.id, s.backup);
        if let Some(ring) = self.ring_mut() {
            ring.set_points(idx, id, old, 0);
        }
        if let Some(s) = self.farm.servers.get_mut(idx) {
            s.backup = backup;
        }
        self.changed(idx);
    }

    /// Server `idx`'s state as its owner now says (`backup` where it may
    /// change: a server added at run time): only what changed is applied,
    /// so that following a change of one server among many costs one
    /// regrouping, not one per server.
    pub fn follow(&mut self, idx: usize, backup: Option<bool>, up: bool, eweight: u32) {
        let Some(s) = self.farm.servers.get(idx) else {
            return;
        };
        let (was_backup, was_up, was_weight) = (s.backup, s.up, s.weight);
        if let Some(b) = backup.filter(|b| *b != was_backup) {
            self.set_backup(idx, b);
        }
        if up != was_up {
            self.set_up(idx, up);
        }
        if eweight.min(MAX_WEIGHT * WEIGHT_SCALE) != was_weight {
            self.set_eweight(idx, eweight);
        }
    }

    /// Updates a server's `maxconn` (dynamic maxconn with minconn/fullconn).
    pub fn set_maxconn(&mut self, idx: usize, maxconn: Option<u32>) {
        if let Some(s) = self.farm.servers.get_mut(idx) {
            s.maxconn = maxconn;
        }
    }

    /// Room for server `idx` (`add server` grew the backend): the new
    /// servers are down until their state says otherwise.
    pub fn grow(&mut self, idx: usize) {
        let n = idx + 1;
        if self.farm.servers.len() >= n {
            return;
        }
        while self.farm.servers.len() < n {
            let id = u32::try_from(self.farm.servers.len() + 1).unwrap_or(u32::MAX);
            self.farm.servers.push(Server {
                weight: 0,
                initial: 1,
                backup: false,
                up: false,
                maxconn: None,
                id,
            });
        }
        match &mut self.algo {
            Algo::RoundRobin(rr) => rr.grow(n),
            Algo::LeastConn(lc) => lc.grow(n),
            Algo::Random { ring, .. }
            | Algo::Hash {
                lookup: Lookup::Ring(ring),
                ..
            } => ring.grow(n),
            // Static algorithms take no added server (HAProxy's
            // BE_LB_PROP_DYN): `add server` refuses them first.
            Algo::StaticRr(_) | Algo::Hash { .. } | Algo::First => {}
        }
        self.refresh();
    }

    /// Sets the servers' numeric ids (`id`, or HAProxy's automatic ones):
    /// `first` serves the lowest id first, and consistent hashing places a
    /// server's points from its id, so that load balancers sharing ids share
    /// the mapping. Extra entries are ignored, missing ones keep their id.
    pub fn set_ids(&mut self, ids: &[u32]) {
        for (i, &id) in ids.iter().enumerate() {
            let Some(old) = self.farm.servers.get(i).map(|s| s.id) else {
                break;
            };
            if old == id {
                continue;
            }
            // Take the points placed from the old id off the ring first.
            let backup = self.farm.servers.get(i).is_some_and(|s| s.backup);
            if let Some(ring) = self.ring_mut() {
                ring.set_points(i, old, backup, 0);
            }
            if let Some(s) = self.farm.servers.get_mut(i) {
                s.id = id;
            }
            self.place(i);
        }
    }

    /// Reseeds the generator of `balance random` with a fixed seed (tests
    /// that need a known sequence; [`Balancer::new`] already gives each core
    /// its own).
    pub fn reseed(&mut self, seed: u64) {
        self.rng = Rng::new(seed);
    }

    /// Whether any server can take traffic (HAProxy's tot_weight != 0).
    pub fn has_usable(&self) -> bool {
        self.farm.group != Group::Empty
    }

    /// Whether server `idx` reached its maxconn with these loads: a picked
    /// server that is full takes the stream into its own queue.
    pub fn is_full(&self, idx: usize, conns: &[u32]) -> bool {
        self.farm.is_full(idx, conns)
    }

    fn ring_mut(&mut self) -> Option<&mut Ring> {
        match &mut self.algo {
            Algo::Random { ring, .. }
            | Algo::Hash {
                lookup: Lookup::Ring(ring),
                ..
            } => Some(ring),
            _ => None,
        }
    }

    /// Places server `idx` on the consistent-hash ring as its state says.
    fn place(&mut self, idx: usize) {
        let Some(s) = self.farm.servers.get(idx) else {
            return;
        };
        let points = if self.farm.usable(s) { s.weight } else { 0 };
        let (id, backup) = (s.id, s.backup);
        if let Some(ring) = self.ring_mut() {
            ring.set_points(idx, id, backup, points);
        }
    }

    fn changed(&mut self, idx: usize) {
        let was_member = self.farm.members.contains(&idx);
        self.place(idx);
        self.refresh();
        if let Algo::RoundRobin(rr) = &mut self.algo {
            // A server entering or leaving the farm starts from zero credit.
            if was_member != self.farm.members.contains(&idx) {
                rr.reset(idx);
            }
        }
    }

    fn refresh(&mut self) {
        let changed = self.farm.regroup();
        if !changed {
            return;
        }
        let members = &self.farm.members;
        match &mut self.algo {
            Algo::StaticRr(map)
            | Algo::Hash {
                lookup: Lookup::Map(map),
                ..
            } => map.rebuild(members),
            _ => {}
        }
    }
}

/// fas_get_next_server(): the usable server with the lowest id that is not
/// full; weights do not matter.
fn first(farm: &Farm, ctx: &PickCtx<'_>) -> Option<usize> {
    let mut best: Option<(u32, usize)> = None;
    let mut avoided = None;
    for &i in &farm.members {
        if farm.is_full(i, ctx.conns) {
            continue;
        }
        if Some(i) == ctx.avoid {
            avoided = Some(i);
            continue;
        }
        let id = farm.server(i).map_or(u32::MAX, |s| s.id);
        if best.is_none_or(|(b, _)| id < b) {
            best = Some((id, i));
        }
    }
    best.map(|(_, i)| i).or(avoided)
}

#[cfg(test)]
mod tests;

//! What the statistics show of the configuration, built once with the
//! plan: HAProxy's proxy ids (`iid`), modes, the stats page settings.

use ringlb_config::model::{Balance, Config, Mode, Proxy};

/// One proxy of the configuration, in its order (HAProxy lists them so).
#[derive(Debug)]
pub struct ProxyInfo {
    pub name: String,
    /// HAProxy's `uuid`.
    pub iid: u32,
    pub http: bool,
    /// Its frontend and backend in the plan.
    pub fe: Option<usize>,
    pub be: Option<usize>,
}

/// A frontend's stats page (`stats enable`, `stats uri` ...).
#[derive(Debug)]
pub struct PageConf {
    pub uri: String,
    pub realm: String,
    /// `user:password` pairs (`stats auth`); empty: no authentication.
    pub auth: Vec<(String, String)>,
    pub refresh: Option<u64>,
    /// `stats admin` conditions: the page allows admin actions when one
    /// holds (compiled by the frontend's rules, see `admin`).
    pub admin: bool,
    pub hide_version: bool,
    pub show_legends: bool,
    pub show_node: Option<String>,
    pub show_desc: Option<String>,
    /// `stats scope`: the proxies shown (empty: all).
    pub scope: Vec<String>,
}

/// A listener with counters of its own: a row of type 3 in the
/// statistics with `option socket-stats` on its frontend; a bind with
/// `maxconn` counts its connections too, to hold its limit.
#[derive(Debug)]
pub struct ListenerInfo {
    /// Shown in the statistics (`option socket-stats`).
    pub row: bool,
    /// Its frontend in the plan.
    pub fe: usize,
    /// HAProxy's listener id (its `sid`).
    pub luid: u32,
    /// The bind's `name`, else `sock-<luid>`.
    pub name: String,
    /// The bind's `maxconn` (0: none).
    pub maxconn: u32,
    /// The address it is bound to, set when it is bound.
    pub addr: std::sync::OnceLock<String>,
}

#[derive(Debug, Default)]
pub struct StatsPlan {
    pub proxies: Vec<ProxyInfo>,
    /// The listeners that count, by frontend then in their order.
    pub listeners: Vec<ListenerInfo>,
    /// Per frontend of the plan: its page, if any.
    pub pages: Vec<Option<Box<PageConf>>>,
    /// Per backend of the plan: `balance` as HAProxy names it.
    pub algos: Vec<&'static str>,
    pub node: String,
    pub description: Option<String>,
}

/// The counting listeners of `frontends` (cfgparse.c gives a listener
/// counters, and a name if it has none, when its proxy has `option
/// socket-stats`), and the ones whose bind has a `maxconn`.
pub fn listeners(
    cfg: &Config,
    frontends: &[crate::engine::plan::FrontendPlan],
) -> Vec<ListenerInfo> {
    let mut out = Vec::new();
    for (fi, fe) in frontends.iter().enumerate() {
        let counts = cfg
            .proxies
            .iter()
            .find(|p| p.cap.frontend && !p.disabled && p.name == fe.name)
            .is_some_and(|p| p.options.is_set("socket-stats"));
        let mut ids = crate::engine::listener::listener_ids(&fe.binds).into_iter();
        for b in &fe.binds {
            for _ in &b.addrs {
                let luid = ids.next().unwrap_or(0);
                if !counts && b.maxconn == 0 {
                    continue;
                }
                out.push(ListenerInfo {
                    row: counts,
                    fe: fi,
                    luid,
                    name: b.name.clone().unwrap_or_else(|| format!("sock-{luid}")),
                    maxconn: b.maxconn,
                    addr: std::sync::OnceLock::new(),
                });
            }
        }
    }
    out
}

impl StatsPlan {
    /// Per frontend of `n`, the luids of its counting listeners (the
    /// counters' layout).
    pub fn listener_luids(&self, n: usize) -> Vec<Vec<u32>> {
        let mut by_fe = vec![Vec::new(); n];
        for l in &self.listeners {
            if let Some(v) = by_fe.get_mut(l.fe) {
                v.push(l.luid);
            }
        }
        by_fe
    }
}

/// HAProxy's backend_lb_algo_str.
fn algo(b: Option<&Balance>) -> &'static str {
    match b {
        None | Some(Balance::RoundRobin) => "roundrobin",
        Some(Balance::StaticRr) => "static-rr",
        Some(Balance::LeastConn) => "leastconn",
        Some(Balance::First) => "first",
        Some(Balance::Source) => "source",
        Some(Balance::Random { .. }) => "random",
        Some(Balance::Uri { .. }) => "uri",
        Some(Balance::UrlParam { .. }) => "url_param",
        Some(Balance::Hdr { .. }) => "hdr",
        Some(Balance::RdpCookie { .. }) => "rdp-cookie",
        Some(Balance::Hash(_)) => "hash",
    }
}

fn page(px: &Proxy) -> Option<Box<PageConf>> {
    let s = &px.stats;
    if !s.enabled && s.uri.is_none() {
        return None;
    }
    Some(Box::new(PageConf {
        uri: s.uri.clone().unwrap_or_else(|| "/haproxy?stats".into()),
        realm: s
            .realm
            .clone()
            .unwrap_or_else(|| "HAProxy Statistics".into()),
        auth: s.auth.clone(),
        refresh: s.refresh.map(|d| d.as_secs()),
        admin: !s.admin.is_empty(),
        hide_version: s.hide_version,
        show_legends: s.show_legends,
        show_node: s.show_node.clone(),
        show_desc: s.show_desc.clone(),
        // `.` is the proxy the page is on (HAProxy's `px == s->be`, the
        // stream's proxy when the page intercepts).
        scope: s
            .scope
            .iter()
            .map(|n| if n == "." { px.name.clone() } else { n.clone() })
            .collect(),
    }))
}

impl StatsPlan {
    /// `fe_names`/`be_names`: the plan's frontends and backends.
    pub fn build(cfg: &Config, fe_names: &[&str], be_names: &[&str], node: &str) -> StatsPlan {
        // HAProxy numbers the proxies from 1 in their order, skipping the
        // ids set with `id`; the stats socket's GLOBAL proxy (id 0) still
        // moves the next number (cfgparse.c check_config_validity).
        let used: Vec<u32> = cfg.proxies.iter().filter_map(|p| p.id).collect();
        let mut next = if cfg.global.stats_sockets.is_empty() {
            1
        } else {
            2
        };
        let mut proxies = Vec::new();
        let mut pages = Vec::new();
        pages.resize_with(fe_names.len(), || None);
        let mut algos = vec!["roundrobin"; be_names.len()];
        for px in &cfg.proxies {
            let iid = match px.id {
                Some(id) => id,
                None => {
                    while used.contains(&next) {
                        next += 1;
                    }
                    next
                }
            };
            next += 1;
            if px.disabled {
                continue;
            }
            let fe = px
                .cap
                .frontend
                .then(|| fe_names.iter().position(|n| *n == px.name))
                .flatten();
            let be = px
                .cap
                .backend
                .then(|| be_names.iter().position(|n| *n == px.name))
                .flatten();
            if let Some(f) = fe {
                if let Some(p) = pages.get_mut(f) {
                    *p = page(px);
                }
            }
            if let Some(b) = be {
                if let Some(a) = algos.get_mut(b) {
                    *a = algo(px.balance.as_ref());
                }
            }
            proxies.push(ProxyInfo {
                name: px.name.clone(),
                iid,
                http: px.mode == Some(Mode::Http),
                fe,
                be,
            });
        }
        StatsPlan {
            proxies,
            listeners: Vec::new(),
            pages,
            algos,
            node: node.to_string(),
            description: cfg.global.description.clone(),
        }
    }
}

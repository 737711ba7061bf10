//! Micro-benchmarks of the rule engine's lookups: `acl_match_path_beg`
//! (a path against 1,000 prefixes), `acl_match_ip` (an address against
//! 1,000 networks of mixed lengths), `acl_match_str_icase` (a header value
//! against 1,000 names, `-i`); `http_rules_request` (a frontend's
//! http-request rules and use_backend rules over a typical request: ACLs,
//! header rewrites, a path rewrite, a variable, a dynamic backend);
//! `map_lookup_str` (a host against a 1,000-entry map, its compiled set
//! alone) and `map_lookup_str_runtime` (the same through the per-core
//! table of sets the runtime API changed: the cost of changeable maps).
//! Run: `cargo bench -p ringlb --bench rules`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::net::Ipv4Addr;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ringlb::engine::rules::pattern::{Patterns, Value};
use ringlb_config::acl::{IpNet, MatchMethod, Pattern};

fn acl_match_path_beg(c: &mut Criterion) {
    let pats: Vec<Pattern> = (0..1000)
        .map(|i| Pattern::Str(format!("/app{i}/static")))
        .collect();
    let p = Patterns::compile(MatchMethod::Beg, false, &pats).unwrap();
    c.bench_function("acl_match_path_beg", |b| {
        b.iter(|| p.lookup(black_box(Value::Str(b"/app777/static/js/main.js"))));
    });
}

fn acl_match_ip(c: &mut Criterion) {
    let pats: Vec<Pattern> = (0..1000u32)
        .map(|i| {
            let len = 8 + (i % 17);
            let mask = u32::MAX << (32 - len);
            Pattern::Ip(IpNet::V4 {
                addr: Ipv4Addr::from((10 << 24 | i << 8) & mask),
                mask: Ipv4Addr::from(mask),
            })
        })
        .collect();
    let p = Patterns::compile(MatchMethod::Ip, false, &pats).unwrap();
    let ip = "10.3.7.9".parse().unwrap();
    c.bench_function("acl_match_ip", |b| {
        b.iter(|| p.lookup(black_box(Value::Ip(ip))));
    });
}

fn acl_match_str_icase(c: &mut Criterion) {
    let pats: Vec<Pattern> = (0..1000)
        .map(|i| Pattern::Str(format!("Host-{i}.Example.com")))
        .collect();
    let p = Patterns::compile(MatchMethod::Str, true, &pats).unwrap();
    c.bench_function("acl_match_str_icase", |b| {
        b.iter(|| p.lookup(black_box(Value::Str(b"HOST-512.example.COM"))));
    });
}

struct NoHost;
impl ringlb_config::Host for NoHost {
    fn env(&self, _: &str) -> Option<String> {
        None
    }
    fn read_file(&self, p: &str) -> Result<Vec<u8>, String> {
        Err(format!("no file {p}"))
    }
}

fn http_rules_request(c: &mut Criterion) {
    use ringlb::engine::rules::env::{Conn, Vars};
    use ringlb::engine::rules::http::{HttpRules, Txn};
    use ringlb_proto::h1::head::{HeadParser, Kind, Options};
    use ringlb_proto::msg::Head;

    let text = "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
        frontend fe\n    bind :8080\n    acl api path_beg /api/ /v2/\n    acl admin src 10.0.0.0/8\n\
        http-request deny if { path_beg /admin } !admin\n\
        http-request redirect scheme https if { hdr(host) -i old.example.com }\n\
        http-request set-header X-Forwarded-Proto http\n\
        http-request set-header X-Client %[src]:%[src_port]\n\
        http-request del-header X-Debug\n\
        http-request replace-path ^/v2/(.*) /api/\\1 if api\n\
        http-request set-var(txn.host) req.hdr(host),lower\n\
        use_backend %[var(txn.host),field(1,.)] if api\n    default_backend be\n\
        backend be\n    server s 127.0.0.1:1\n";
    let (cfg, diags) = ringlb_config::load(
        &[ringlb_config::SourceFile::new("b.cfg", text.to_string())],
        &NoHost,
    );
    assert!(!diags.has_errors(), "{diags:?}");
    let fe = cfg.proxies.iter().find(|p| p.name == "fe").unwrap();
    let rules = HttpRules::compile(fe, &|n| (n == "be").then_some(0)).unwrap();
    let mut raw =
        b"GET /v2/users/42?full=1 HTTP/1.1\r\nHost: Shop.Example.com\r\nUser-Agent: bench\r\n\
        Accept: */*\r\nX-Debug: 1\r\nCookie: a=1; b=2\r\n\r\n"
            .to_vec();
    let mut parsed = Head::new();
    HeadParser::new(Kind::Request, Options::default())
        .parse(&mut raw, &mut parsed)
        .unwrap();
    let env = Conn {
        src: Some("192.0.2.7:40000".parse().unwrap()),
        dst: Some("192.0.2.1:8080".parse().unwrap()),
        frontend: "fe",
    };
    let mut caps = rules.new_captures();
    c.bench_function("http_rules_request", |b| {
        b.iter(|| {
            let mut req = parsed.clone();
            let mut vars = Vars::default();
            let mut tx = Txn {
                req: &mut req,
                res: None,
                env: &env,
                vars: &mut vars,
                caps: &mut caps,
                log_level: None,
            };
            let v = rules.request(&mut tx);
            black_box((v, rules.pick_backend(&mut tx)))
        });
    });
}

fn map_lookups(c: &mut Criterion) {
    use ringlb::engine::rules::map::MapData;
    use ringlb::engine::rules::patref::{self, Compiled};
    use ringlb_config::keywords::SmpType;
    let entries: Vec<(String, Option<String>)> = (0..1000)
        .map(|i| (format!("host{i}.example"), Some(format!("be{i}"))))
        .collect();
    let data = MapData::compile(&entries, MatchMethod::Str).unwrap();
    c.bench_function("map_lookup_str", |b| {
        b.iter(|| data.lookup(black_box(Value::Str(b"host777.example")), SmpType::Str));
    });
    let changed = std::sync::Arc::new(MapData::compile(&entries, MatchMethod::Str).unwrap());
    patref::apply(&patref::Sets {
        seq: 1,
        sets: vec![(0, Compiled::Map(changed))],
    });
    c.bench_function("map_lookup_str_runtime", |b| {
        b.iter(|| {
            patref::with_map(0, &data, |m| {
                m.lookup(black_box(Value::Str(b"host777.example")), SmpType::Str)
            })
        });
    });
}

criterion_group!(
    benches,
    map_lookups,
    acl_match_path_beg,
    acl_match_ip,
    acl_match_str_icase,
    http_rules_request
);
criterion_main!(benches);

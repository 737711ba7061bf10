//! Behaviour of the algorithms through the public API: distribution,
//! smoothness, backups, saturation, redispatch, stability of consistent
//! hashing, bounded loads, and a randomised run checking that every pick is
//! eligible and nothing panics.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ringlb_config::model::{Balance, HashFunction, HashMethod, HashType};

use super::*;

fn up(weight: u32) -> ServerState {
    ServerState {
        weight,
        backup: false,
        up: true,
        maxconn: None,
    }
}

fn backup(weight: u32) -> ServerState {
    ServerState {
        backup: true,
        ..up(weight)
    }
}

fn capped(maxconn: u32) -> ServerState {
    ServerState {
        maxconn: Some(maxconn),
        ..up(1)
    }
}

fn ctx(conns: &[u32]) -> PickCtx<'_> {
    PickCtx {
        src: None,
        key: None,
        avoid: None,
        conns,
    }
}

fn keyed<'a>(key: &'a [u8], conns: &'a [u32]) -> PickCtx<'a> {
    PickCtx {
        key: Some(key),
        ..ctx(conns)
    }
}

fn consistent(function: HashFunction, avalanche: bool) -> Option<HashType> {
    Some(HashType {
        method: HashMethod::Consistent,
        function,
        avalanche,
    })
}

fn uri() -> Balance {
    Balance::Uri {
        whole: false,
        path_only: false,
        len: None,
        depth: None,
    }
}

/// Counts picks per server over `n` picks with no load.
fn counts(b: &mut Balancer, servers: usize, n: usize) -> Vec<usize> {
    let mut c = vec![0; servers];
    let conns = vec![0; servers];
    for _ in 0..n {
        c[b.pick(&ctx(&conns)).unwrap()] += 1;
    }
    c
}

/// A deterministic generator for the tests' own choices.
struct TestRng(u64);

impl TestRng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn roundrobin_follows_weights_exactly() {
    let mut b = Balancer::new(
        &Balance::RoundRobin,
        None,
        None,
        false,
        &[up(1), up(2), up(3)],
        0,
    );
    assert_eq!(counts(&mut b, 3, 600), vec![100, 200, 300]);
    // And within every window of sum(weights) picks.
    let conns = [0; 3];
    for _ in 0..50 {
        let mut w = [0; 3];
        for _ in 0..6 {
            w[b.pick(&ctx(&conns)).unwrap()] += 1;
        }
        assert_eq!(w, [1, 2, 3]);
    }
}

#[test]
fn equal_weights_never_repeat() {
    for balance in [Balance::RoundRobin, Balance::StaticRr] {
        let mut b = Balancer::new(
            &balance,
            None,
            None,
            false,
            &[up(10), up(10), up(10), up(10)],
            0,
        );
        let conns = [0; 4];
        let seq: Vec<usize> = (0..400).map(|_| b.pick(&ctx(&conns)).unwrap()).collect();
        assert!(seq.windows(2).all(|w| w[0] != w[1]), "{balance:?}: {seq:?}");
        assert_eq!(&seq[..8], &[0, 1, 2, 3, 0, 1, 2, 3]);
    }
}

#[test]
fn heavy_server_is_spread_out() {
    // Weight 3 against 1+1+1: never three times in a row.
    for balance in [Balance::RoundRobin, Balance::StaticRr] {
        let mut b = Balancer::new(
            &balance,
            None,
            None,
            false,
            &[up(3), up(1), up(1), up(1)],
            0,
        );
        let conns = [0; 4];
        let seq: Vec<usize> = (0..60).map(|_| b.pick(&ctx(&conns)).unwrap()).collect();
        assert!(
            seq.windows(3)
                .all(|w| !(w[0] == 0 && w[1] == 0 && w[2] == 0)),
            "{seq:?}"
        );
    }
}

#[test]
fn static_rr_follows_weights_exactly() {
    let mut b = Balancer::new(
        &Balance::StaticRr,
        None,
        None,
        false,
        &[up(1), up(2), up(3)],
        0,
    );
    assert_eq!(counts(&mut b, 3, 600), vec![100, 200, 300]);
    // Weights 2:4:6 are the same map.
    let mut b = Balancer::new(
        &Balance::StaticRr,
        None,
        None,
        false,
        &[up(2), up(4), up(6)],
        0,
    );
    assert_eq!(counts(&mut b, 3, 600), vec![100, 200, 300]);
}

#[test]
fn dynamic_weights_apply_to_roundrobin_only() {
    let mut rr = Balancer::new(&Balance::RoundRobin, None, None, false, &[up(1), up(1)], 0);
    rr.set_weight(1, 3);
    assert_eq!(counts(&mut rr, 2, 400), vec![100, 300]);
    let mut srr = Balancer::new(&Balance::StaticRr, None, None, false, &[up(1), up(1)], 0);
    srr.set_weight(1, 3);
    assert_eq!(counts(&mut srr, 2, 400), vec![200, 200]);
    // Weight 0 takes the server out, in both.
    srr.set_weight(1, 0);
    assert_eq!(counts(&mut srr, 2, 10), vec![10, 0]);
    rr.set_weight(0, 0);
    assert_eq!(counts(&mut rr, 2, 10), vec![0, 10]);
    // Slow start: the weight climbs back.
    let mut seen = vec![];
    for w in [1, 2, 4, 8] {
        rr.set_weight(0, w);
        seen.push(counts(&mut rr, 2, usize::try_from(w + 3).unwrap())[0]);
    }
    assert_eq!(seen, vec![1, 2, 4, 8]);
}

#[test]
fn leastconn_picks_least_loaded_and_rotates_ties() {
    let mut b = Balancer::new(
        &Balance::LeastConn,
        None,
        None,
        false,
        &[up(1), up(1), up(1)],
        0,
    );
    assert_eq!(b.pick(&ctx(&[5, 2, 7])), Some(1));
    assert_eq!(b.pick(&ctx(&[1, 2, 0])), Some(2));
    // Equal loads: every server in turn.
    let conns = [4, 4, 4];
    let seq: Vec<usize> = (0..6).map(|_| b.pick(&ctx(&conns)).unwrap()).collect();
    let mut first3 = seq[..3].to_vec();
    first3.sort_unstable();
    assert_eq!(first3, vec![0, 1, 2]);
    assert_eq!(seq[..3], seq[3..]);
    // Weights: 3 streams on weight 2 weigh less than 2 on weight 1.
    let mut b = Balancer::new(&Balance::LeastConn, None, None, false, &[up(1), up(2)], 0);
    assert_eq!(b.pick(&ctx(&[2, 3])), Some(1));
    // Long-lived streams: loads stay level.
    let mut b = Balancer::new(
        &Balance::LeastConn,
        None,
        None,
        false,
        &[up(1), up(1), up(1), up(1)],
        0,
    );
    let mut conns = [0u32; 4];
    for _ in 0..400 {
        let i = b.pick(&ctx(&conns)).unwrap();
        conns[i] += 1;
        let (lo, hi) = (conns.iter().min().unwrap(), conns.iter().max().unwrap());
        assert!(hi - lo <= 1, "{conns:?}");
    }
}

#[test]
fn first_fills_servers_in_order() {
    let mut b = Balancer::new(
        &Balance::First,
        None,
        None,
        false,
        &[capped(3), capped(3), capped(3)],
        0,
    );
    let mut conns = [0u32; 3];
    let mut seq = vec![];
    for _ in 0..9 {
        let i = b.pick(&ctx(&conns)).unwrap();
        conns[i] += 1;
        seq.push(i);
    }
    assert_eq!(seq, vec![0, 0, 0, 1, 1, 1, 2, 2, 2]);
    assert_eq!(b.pick(&ctx(&conns)), None, "all full: queue in the backend");
    assert!(b.has_usable());
    conns[0] -= 1;
    assert_eq!(b.pick(&ctx(&conns)), Some(0));
    // Ids, not positions, give the order.
    b.set_ids(&[30, 20, 10]);
    assert_eq!(b.pick(&ctx(&[0, 0, 0])), Some(2));
    // Weights are ignored, a server without maxconn is never full.
    let mut b = Balancer::new(&Balance::First, None, None, false, &[up(1), up(100)], 0);
    assert_eq!(b.pick(&ctx(&[1000, 0])), Some(0));
}

#[test]
fn backups_only_when_actives_are_down() {
    let servers = [up(1), up(1), backup(1), backup(3)];
    for balance in [
        Balance::RoundRobin,
        Balance::StaticRr,
        Balance::LeastConn,
        Balance::First,
        Balance::Random { draws: 2 },
        Balance::Source,
    ] {
        let mut b = Balancer::new(&balance, None, None, false, &servers, 0);
        let mut single = Balancer::new(&balance, None, None, false, &servers, 0);
        let mut all = Balancer::new(&balance, None, None, true, &servers, 0);
        let conns = [0; 4];
        let pick = |b: &mut Balancer, i: u8| {
            let src = IpAddr::V4(Ipv4Addr::new(10, 0, 0, i));
            b.pick(&PickCtx {
                src: Some(src),
                ..ctx(&conns)
            })
            .unwrap()
        };
        for i in 0..50 {
            assert!(pick(&mut b, i) < 2, "{balance:?}");
        }
        for bal in [&mut b, &mut single, &mut all] {
            bal.set_up(0, false);
            bal.set_weight(1, 0);
        }
        // Single-backup mode: the first backup takes everything.
        for i in 0..50 {
            assert_eq!(pick(&mut single, i), 2, "{balance:?}");
        }
        single.set_up(2, false);
        for i in 0..50 {
            assert_eq!(pick(&mut single, i), 3, "{balance:?}");
        }
        // allbackups: both backups, by their algorithm.
        let mut seen = [0; 4];
        for i in 0..200 {
            seen[pick(&mut all, i)] += 1;
        }
        match balance {
            Balance::RoundRobin | Balance::StaticRr => assert_eq!(seen, [0, 0, 50, 150]),
            // `first` fills the first backup before the second.
            Balance::First => assert_eq!(seen, [0, 0, 200, 0]),
            _ => assert!(seen[2] > 0 && seen[3] > 0, "{balance:?}: {seen:?}"),
        }
        // An active server back: backups are left.
        for bal in [&mut single, &mut all] {
            bal.set_up(0, true);
            for i in 0..20 {
                assert_eq!(pick(bal, i), 0, "{balance:?}");
            }
        }
        // Nothing usable.
        for i in 0..4 {
            b.set_up(i, false);
        }
        assert!(!b.has_usable());
        assert_eq!(b.pick(&ctx(&conns)), None);
    }
}

#[test]
fn restored_earlier_backup_takes_over() {
    let mut b = Balancer::new(
        &Balance::RoundRobin,
        None,
        None,
        false,
        &[up(1), backup(1), backup(1)],
        0,
    );
    b.set_up(0, false);
    b.set_up(1, false);
    assert_eq!(b.pick(&ctx(&[0; 3])), Some(2));
    b.set_up(1, true);
    assert_eq!(b.pick(&ctx(&[0; 3])), Some(1));
}

#[test]
fn source_is_sticky_and_exact() {
    let servers = [up(1), up(1), up(1)];
    let mut b = Balancer::new(&Balance::Source, None, None, false, &servers, 0);
    assert_eq!(b.needs_key(), KeyKind::Source);
    let pick = |b: &mut Balancer, ip: IpAddr| {
        b.pick(&PickCtx {
            src: Some(ip),
            ..ctx(&[0; 3])
        })
    };
    // Map of three equal servers: slot = address % 3.
    let ip = Ipv4Addr::new(10, 0, 0, 5);
    let expect = usize::try_from(u32::from(ip) % 3).unwrap();
    for _ in 0..5 {
        assert_eq!(pick(&mut b, IpAddr::V4(ip)), Some(expect));
    }
    let mut again = Balancer::new(&Balance::Source, None, None, false, &servers, 0);
    assert_eq!(pick(&mut again, IpAddr::V4(ip)), Some(expect));
    // IPv6: the XOR of the four words.
    let ip6: Ipv6Addr = "2001:db8::7".parse().unwrap();
    let h = 0x2001_0db8u32 ^ 7;
    assert_eq!(
        pick(&mut b, IpAddr::V6(ip6)),
        Some(usize::try_from(h % 3).unwrap())
    );
    // Avalanche changes the mapping but stays sticky.
    let mut aval = Balancer::new(
        &Balance::Source,
        Some(HashType {
            method: HashMethod::MapBased,
            function: HashFunction::Djb2,
            avalanche: true,
        }),
        None,
        false,
        &servers,
        0,
    );
    let full = usize::try_from(full_hash(u32::from(ip)) % 3).unwrap();
    assert_eq!(pick(&mut aval, IpAddr::V4(ip)), Some(full));
    // No address (unix socket): round robin.
    let seq: Vec<_> = (0..3).map(|_| b.pick(&ctx(&[0; 3])).unwrap()).collect();
    assert_eq!(seq, vec![0, 1, 2]);
}

#[test]
fn source_spreads_by_weight() {
    let mut b = Balancer::new(
        &Balance::Source,
        None,
        None,
        false,
        &[up(1), up(2), up(3), up(4)],
        0,
    );
    let mut rng = TestRng(0x1234_5678);
    let mut seen = [0f64; 4];
    let n = 100_000;
    for _ in 0..n {
        let ip = Ipv4Addr::from(u32::try_from(rng.next() >> 32).unwrap());
        let i = b
            .pick(&PickCtx {
                src: Some(IpAddr::V4(ip)),
                ..ctx(&[0; 4])
            })
            .unwrap();
        seen[i] += 1.0;
    }
    for (i, s) in seen.iter().enumerate() {
        let expect = n as f64 * (i + 1) as f64 / 10.0;
        assert!(
            (s - expect).abs() <= expect * 0.10,
            "server {i}: {s} vs {expect}"
        );
    }
}

#[test]
fn hash_none_uses_the_number() {
    let ht = Some(HashType {
        method: HashMethod::MapBased,
        function: HashFunction::None,
        avalanche: false,
    });
    let expr = ringlb_config::sample::parse_sample("req.hdr(x-shard)").unwrap();
    let mut b = Balancer::new(
        &Balance::Hash(expr),
        ht,
        None,
        false,
        &[up(1), up(1), up(1)],
        0,
    );
    assert_eq!(b.needs_key(), KeyKind::Sample);
    for (k, s) in [("7", 1), ("9", 0), ("11", 2)] {
        assert_eq!(b.pick(&keyed(k.as_bytes(), &[0; 3])), Some(s));
    }
}

#[test]
fn missing_key_falls_back_to_round_robin() {
    for ht in [None, consistent(HashFunction::Sdbm, true)] {
        let mut b = Balancer::new(&uri(), ht, None, false, &[up(1), up(1), up(1)], 0);
        // 16 points per server on the ring: whole turns of 48.
        let c = counts(&mut b, 3, 480);
        assert_eq!(c, vec![160, 160, 160], "{ht:?}");
    }
    // An empty header value counts as missing.
    let hdr = Balance::Hdr {
        name: "host".into(),
        use_domain_only: false,
    };
    let mut b = Balancer::new(&hdr, None, None, false, &[up(1), up(1)], 0);
    let seq: Vec<_> = (0..4)
        .map(|_| b.pick(&keyed(b"", &[0; 2])).unwrap())
        .collect();
    assert_eq!(seq, vec![0, 1, 0, 1]);
}

#[test]
fn keys_are_cut_like_haproxy() {
    let servers = [up(1), up(1), up(1), up(1), up(1), up(1), up(1)];
    let conns = [0; 7];
    // use_domain_only: hosts of one domain share a server.
    let hdr = Balance::Hdr {
        name: "Host".into(),
        use_domain_only: true,
    };
    let mut b = Balancer::new(&hdr, None, None, false, &servers, 0);
    assert_eq!(b.needs_key(), KeyKind::Hdr("Host"));
    let a = b.pick(&keyed(b"www.example.com", &conns));
    assert_eq!(a, b.pick(&keyed(b"img.example.org", &conns)));
    assert_eq!(a, b.pick(&keyed(b"example", &conns)));
    // uri: the query string is ignored unless `whole`.
    let mut b = Balancer::new(&uri(), None, None, false, &servers, 0);
    assert_eq!(b.needs_key(), KeyKind::Uri { path_only: false });
    let s = b.pick(&keyed(b"/img/a.png", &conns));
    for q in ["/img/a.png?v=1", "/img/a.png?v=2"] {
        assert_eq!(b.pick(&keyed(q.as_bytes(), &conns)), s);
    }
    // uri depth 1: one directory level.
    let deep = Balance::Uri {
        whole: false,
        path_only: true,
        len: None,
        depth: Some(1),
    };
    let mut b = Balancer::new(&deep, None, None, false, &servers, 0);
    assert_eq!(b.needs_key(), KeyKind::Uri { path_only: true });
    let s = b.pick(&keyed(b"/img/a.png", &conns));
    assert_eq!(b.pick(&keyed(b"/img/b/c.png", &conns)), s);
    // The exact slot: sdbm("/img") % 7.
    let slot = usize::try_from(hash(HashFunction::Sdbm, b"/img") % 7).unwrap();
    assert_eq!(s, Some(slot));
    // url_param hashes the value.
    let p = Balance::UrlParam {
        param: "user".into(),
        check_post: true,
    };
    let mut b = Balancer::new(&p, None, None, false, &servers, 0);
    assert_eq!(
        b.needs_key(),
        KeyKind::UrlParam {
            name: "user",
            check_post: true
        }
    );
    let v = key::url_param(b"/x?user=bob&y=1", b"user").unwrap();
    let slot = usize::try_from(hash(HashFunction::Sdbm, b"bob") % 7).unwrap();
    assert_eq!(b.pick(&keyed(v, &conns)), Some(slot));
    let rdp = Balance::RdpCookie {
        name: "mstshash".into(),
    };
    let b = Balancer::new(&rdp, None, None, false, &servers, 0);
    assert_eq!(b.needs_key(), KeyKind::RdpCookie("mstshash"));
    for balance in [
        Balance::RoundRobin,
        Balance::First,
        Balance::Random { draws: 2 },
    ] {
        let b = Balancer::new(&balance, None, None, false, &servers, 0);
        assert_eq!(b.needs_key(), KeyKind::None);
    }
}

fn mapping(b: &mut Balancer, keys: &[String], servers: usize) -> Vec<usize> {
    let conns = vec![0; servers];
    keys.iter()
        .map(|k| b.pick(&keyed(k.as_bytes(), &conns)).unwrap())
        .collect()
}

#[test]
fn consistent_removal_moves_only_that_servers_keys() {
    let keys: Vec<String> = (0..20_000).map(|i| format!("/object/{i}")).collect();
    let servers = [up(1); 5];
    let mut b = Balancer::new(
        &uri(),
        consistent(HashFunction::Sdbm, true),
        None,
        false,
        &servers,
        0,
    );
    let before = mapping(&mut b, &keys, 5);
    // Every server gets a fair share (points are random: loose bounds).
    for s in 0..5 {
        let n = before.iter().filter(|&&x| x == s).count();
        assert!((2000..6500).contains(&n), "server {s}: {n}");
    }
    b.set_up(2, false);
    let after = mapping(&mut b, &keys, 5);
    let (mut kept, mut others) = (0, 0);
    for (x, y) in before.iter().zip(&after) {
        assert_ne!(*y, 2);
        if *x != 2 {
            others += 1;
            kept += usize::from(x == y);
        }
    }
    assert!(kept * 100 >= others * 95, "kept {kept} of {others}");
    // It comes back: the very same mapping.
    b.set_up(2, true);
    assert_eq!(mapping(&mut b, &keys, 5), before);
}

#[test]
fn consistent_addition_moves_about_one_nth() {
    let keys: Vec<String> = (0..20_000).map(|i| format!("user-{i}")).collect();
    let hdr = Balance::Hdr {
        name: "x-user".into(),
        use_domain_only: false,
    };
    let mut servers = [up(1); 5];
    servers[4].up = false;
    let mut b = Balancer::new(
        &hdr,
        consistent(HashFunction::Djb2, true),
        None,
        false,
        &servers,
        0,
    );
    let before = mapping(&mut b, &keys, 5);
    b.set_up(4, true);
    let after = mapping(&mut b, &keys, 5);
    let moved = before.iter().zip(&after).filter(|(x, y)| x != y).count();
    // Only keys now owned by the new server moved.
    assert!(before.iter().zip(&after).all(|(x, y)| x == y || *y == 4));
    assert!(moved * 100 <= keys.len() * 30, "moved {moved}");
    assert!(moved > 0);
    // A weight change moves keys to or from that server only.
    b.set_weight(4, 2);
    let heavier = mapping(&mut b, &keys, 5);
    assert!(after.iter().zip(&heavier).all(|(x, y)| x == y || *y == 4));
}

#[test]
fn consistent_redispatch_avoids_the_failed_server() {
    let servers = [up(1); 4];
    let mut b = Balancer::new(
        &uri(),
        consistent(HashFunction::Sdbm, true),
        None,
        false,
        &servers,
        0,
    );
    let conns = [0; 4];
    for i in 0..200 {
        let k = format!("/k{i}");
        let s = b.pick(&keyed(k.as_bytes(), &conns)).unwrap();
        let again = b
            .pick(&PickCtx {
                avoid: Some(s),
                ..keyed(k.as_bytes(), &conns)
            })
            .unwrap();
        assert_ne!(s, again);
    }
    // Map-based hashing has no second choice.
    let mut m = Balancer::new(&uri(), None, None, false, &servers, 0);
    let s = m.pick(&keyed(b"/k", &conns)).unwrap();
    let again = m.pick(&PickCtx {
        avoid: Some(s),
        ..keyed(b"/k", &conns)
    });
    assert_eq!(again, Some(s));
}

#[test]
fn hash_affinity_keeps_full_servers() {
    // The designated server is returned even when full: the stream waits in
    // its queue (hash-preserve-affinity always).
    let servers = [capped(1), capped(1), capped(1)];
    for ht in [None, consistent(HashFunction::Sdbm, true)] {
        let mut b = Balancer::new(&uri(), ht, None, false, &servers, 0);
        let s = b.pick(&keyed(b"/x", &[0; 3])).unwrap();
        let mut conns = [0; 3];
        conns[s] = 1;
        assert_eq!(b.pick(&keyed(b"/x", &conns)), Some(s));
        assert!(b.is_full(s, &conns));
        // Round-robin fallback skips it, and queues when all are full.
        for _ in 0..5 {
            assert_ne!(b.pick(&ctx(&conns)), Some(s));
        }
        assert_eq!(b.pick(&ctx(&[1, 1, 1])), None);
    }
}

#[test]
fn hash_balance_factor_bounds_loads() {
    let servers = [up(1); 5];
    let mut b = Balancer::new(
        &uri(),
        consistent(HashFunction::Sdbm, true),
        Some(125),
        false,
        &servers,
        0,
    );
    let mut unbounded = Balancer::new(
        &uri(),
        consistent(HashFunction::Sdbm, true),
        None,
        false,
        &servers,
        0,
    );
    let mut rng = TestRng(42);
    let mut conns = [0u32; 5];
    let mut free = [0u32; 5];
    for n in 1..=2000u32 {
        // Skewed keys: 90% of requests on three hot objects.
        let k = if rng.below(10) < 9 {
            format!("/hot/{}", rng.below(3))
        } else {
            format!("/cold/{}", rng.below(10_000))
        };
        let i = b.pick(&keyed(k.as_bytes(), &conns)).unwrap();
        conns[i] += 1;
        let j = unbounded.pick(&keyed(k.as_bytes(), &free)).unwrap();
        free[j] += 1;
        let max = *conns.iter().max().unwrap();
        let bound = (n * 125).div_ceil(5 * 100) + 1;
        assert!(max <= bound, "after {n}: {conns:?} bound {bound}");
    }
    // Without the factor the hot keys pile up.
    assert!(
        *free.iter().max().unwrap() > 2000 * 125 / 500 + 1,
        "{free:?}"
    );
}

#[test]
fn hash_balance_factor_respects_weights() {
    let servers = [up(1), up(3)];
    let mut b = Balancer::new(
        &uri(),
        consistent(HashFunction::Sdbm, true),
        Some(110),
        false,
        &servers,
        0,
    );
    let mut conns = [0u32; 2];
    for _ in 0..400 {
        // One single key: only the bound spreads it.
        let i = b.pick(&keyed(b"/same", &conns)).unwrap();
        conns[i] += 1;
    }
    // Each server stays within its weighted share of 110% of the load.
    assert!(
        conns[0] > 0 && conns[0] <= 400 * 110 / 100 / 4 + 1,
        "{conns:?}"
    );
    assert!(
        conns[1] > 0 && conns[1] <= 400 * 110 * 3 / 100 / 4 + 1,
        "{conns:?}"
    );
}

fn random_max_load(draws: u32, seed: u64) -> u32 {
    let servers = [up(1); 10];
    let mut b = Balancer::new(&Balance::Random { draws }, None, None, false, &servers, 0);
    b.reseed(seed);
    let mut conns = [0u32; 10];
    for _ in 0..1000 {
        conns[b.pick(&ctx(&conns)).unwrap()] += 1;
    }
    *conns.iter().max().unwrap()
}

#[test]
fn random_two_choices_beat_one() {
    let mut one = 0;
    let mut two = 0;
    for seed in 1..=10 {
        one += random_max_load(1, seed);
        two += random_max_load(2, seed);
    }
    // 1000 streams on 10 servers: 100 each at best.
    assert!(two < one, "random(2) {two} vs random(1) {one}");
    assert!(two <= 10 * 115, "random(2) max loads {two}");
}

#[test]
fn random_follows_weights_and_saturation() {
    let mut b = Balancer::new(
        &Balance::Random { draws: 1 },
        None,
        None,
        false,
        &[up(1), up(3)],
        0,
    );
    b.reseed(7);
    let c = counts(&mut b, 2, 20_000);
    // Ring points are random: a loose bound around 1:3.
    assert!((3000..7000).contains(&c[0]), "{c:?}");
    let mut b = Balancer::new(
        &Balance::Random { draws: 2 },
        None,
        None,
        false,
        &[capped(1), capped(1)],
        0,
    );
    assert_eq!(b.pick(&ctx(&[1, 1])), None);
    // A full draw is never returned (but may leave the stream queued).
    let picks: Vec<_> = (0..50).map(|_| b.pick(&ctx(&[1, 0]))).collect();
    assert!(picks.iter().all(|p| *p != Some(0)));
    assert!(picks.contains(&Some(1)));
}

#[test]
fn roundrobin_skips_full_and_avoided_servers() {
    let mut b = Balancer::new(
        &Balance::RoundRobin,
        None,
        None,
        false,
        &[capped(2), capped(2), capped(2)],
        0,
    );
    let conns = [2, 0, 0];
    for _ in 0..10 {
        let i = b
            .pick(&PickCtx {
                avoid: Some(1),
                ..ctx(&conns)
            })
            .unwrap();
        assert_eq!(i, 2);
    }
    // Only the avoided server left: redispatch to it anyway.
    let only = PickCtx {
        avoid: Some(1),
        ..ctx(&[2, 0, 2])
    };
    assert_eq!(b.pick(&only), Some(1));
    assert_eq!(b.pick(&ctx(&[2, 2, 2])), None);
}

/// The usable servers of the group in use, as HAProxy defines it.
fn expected_group(states: &[ServerState], allbackups: bool, static_w: &[u32]) -> Vec<usize> {
    let usable = |i: usize, s: &ServerState| s.up && s.weight > 0 && static_w[i] > 0;
    let act: Vec<usize> = (0..states.len())
        .filter(|&i| !states[i].backup && usable(i, &states[i]))
        .collect();
    if !act.is_empty() {
        return act;
    }
    let bck: Vec<usize> = (0..states.len())
        .filter(|&i| states[i].backup && usable(i, &states[i]))
        .collect();
    if allbackups {
        bck
    } else {
        bck.into_iter().take(1).collect()
    }
}

#[test]
fn every_pick_is_eligible_and_nothing_panics() {
    let mut rng = TestRng(0xdead_beef);
    let balances = [
        Balance::RoundRobin,
        Balance::StaticRr,
        Balance::LeastConn,
        Balance::First,
        Balance::Random { draws: 3 },
        Balance::Source,
        uri(),
        Balance::Hdr {
            name: "host".into(),
            use_domain_only: true,
        },
        Balance::RdpCookie {
            name: "mstshash".into(),
        },
    ];
    let hash_types = [
        None,
        consistent(HashFunction::Wt6, false),
        consistent(HashFunction::Crc32, true),
        Some(HashType {
            method: HashMethod::MapBased,
            function: HashFunction::None,
            avalanche: false,
        }),
    ];
    for round in 0..300 {
        let n = rng.below(7);
        let mut states: Vec<ServerState> = (0..n)
            .map(|_| ServerState {
                weight: u32::try_from(rng.below(5)).unwrap() * 100,
                backup: rng.below(3) == 0,
                up: rng.below(4) != 0,
                maxconn: [None, Some(0), Some(1), Some(3)][rng.below(4)],
            })
            .collect();
        let balance = &balances[round % balances.len()];
        let ht = hash_types[rng.below(hash_types.len())];
        let allbackups = rng.below(2) == 0;
        let hbf = [None, Some(0), Some(125)][rng.below(3)];
        let mut b = Balancer::new(balance, ht, hbf, allbackups, &states, 0);
        b.reseed(u64::try_from(round).unwrap());
        // Static weights: what the map was built with (clamped).
        let static_weights = matches!(balance, Balance::StaticRr)
            || (!matches!(
                balance,
                Balance::RoundRobin | Balance::LeastConn | Balance::First | Balance::Random { .. }
            ) && ht.is_none_or(|h| h.method == HashMethod::MapBased));
        let initial: Vec<u32> = states.iter().map(|s| s.weight.min(MAX_WEIGHT)).collect();
        let static_w: Vec<u32> = if static_weights {
            initial.clone()
        } else {
            vec![1; n]
        };
        let hashing = !matches!(
            balance,
            Balance::RoundRobin
                | Balance::StaticRr
                | Balance::LeastConn
                | Balance::First
                | Balance::Random { .. }
        );
        let mut conns = vec![0u32; n];
        for _ in 0..200 {
            match rng.below(10) {
                0 => {
                    let i = rng.below(n + 2);
                    let upv = rng.below(3) != 0;
                    b.set_up(i, upv);
                    if let Some(s) = states.get_mut(i) {
                        s.up = upv;
                    }
                }
                1 => {
                    let i = rng.below(n + 2);
                    let w = u32::try_from(rng.below(400)).unwrap();
                    b.set_weight(i, w);
                    if let Some(s) = states.get_mut(i) {
                        s.weight = w.min(MAX_WEIGHT);
                    }
                }
                2 => {
                    if let Some(c) = conns.get_mut(rng.below(n.max(1))) {
                        *c = c.saturating_sub(1);
                    }
                }
                3 => {
                    let i = rng.below(n + 2);
                    let m = [None, Some(1), Some(2)][rng.below(3)];
                    b.set_maxconn(i, m);
                    if let Some(s) = states.get_mut(i) {
                        s.maxconn = m;
                    }
                }
                _ => {}
            }
            let group = expected_group(&states, allbackups, &static_w);
            let key = format!("k{}.example.com", rng.below(50));
            let short = rng.below(4) == 0;
            let pctx = PickCtx {
                src: (rng.below(3) != 0).then(|| {
                    IpAddr::V4(Ipv4Addr::from(u32::try_from(rng.below(1 << 20)).unwrap()))
                }),
                key: (rng.below(4) != 0).then_some(key.as_bytes()),
                avoid: (rng.below(3) == 0).then(|| rng.below(n + 1)),
                conns: if short { &conns[..n / 2] } else { &conns },
            };
            let picked = b.pick(&pctx);
            let is_full = |i: usize| {
                states[i]
                    .maxconn
                    .is_some_and(|m| m > 0 && pctx.conns.get(i).copied().unwrap_or(0) >= m)
            };
            match picked {
                Some(i) => {
                    assert!(
                        group.contains(&i),
                        "{balance:?} picked {i} outside {group:?}"
                    );
                    let single_backup = group.len() == 1 && states[i].backup && !allbackups;
                    if !hashing && !single_backup {
                        assert!(!is_full(i), "{balance:?} picked full server {i}");
                    }
                    if let Some(c) = conns.get_mut(i) {
                        *c += 1;
                    }
                }
                // `random` queues when its draws landed on full servers.
                None if matches!(balance, Balance::Random { .. }) => {}
                None => {
                    // Nothing usable, or everything full.
                    assert!(
                        group.iter().all(|&i| is_full(i)),
                        "{balance:?} {ht:?} found nothing in {group:?}: {states:?} {:?}",
                        pctx.conns
                    );
                }
            }
        }
    }
}

#[test]
fn empty_backend() {
    for balance in [
        Balance::RoundRobin,
        Balance::StaticRr,
        Balance::Source,
        Balance::Random { draws: 2 },
    ] {
        let mut b = Balancer::new(
            &balance,
            consistent(HashFunction::Sdbm, true),
            Some(150),
            true,
            &[],
            0,
        );
        assert!(!b.has_usable());
        assert_eq!(b.pick(&ctx(&[])), None);
        b.set_up(0, true);
        b.set_weight(3, 10);
        b.set_ids(&[1, 2]);
        assert!(!b.is_full(5, &[]));
    }
}

#[test]
fn ids_place_consistent_points() {
    // Same ids, same mapping, whatever the declaration order.
    let keys: Vec<String> = (0..2000).map(|i| format!("/o{i}")).collect();
    let servers = [up(1), up(2), up(1)];
    let mut a = Balancer::new(
        &uri(),
        consistent(HashFunction::Sdbm, true),
        None,
        false,
        &servers,
        0,
    );
    a.set_ids(&[10, 20, 30]);
    let reordered = [up(1), up(1), up(2)];
    let mut b = Balancer::new(
        &uri(),
        consistent(HashFunction::Sdbm, true),
        None,
        false,
        &reordered,
        0,
    );
    b.set_ids(&[30, 10, 20]);
    let ma = mapping(&mut a, &keys, 3);
    let mb = mapping(&mut b, &keys, 3);
    let to_id_a = |i: usize| [10, 20, 30][i];
    let to_id_b = |i: usize| [30, 10, 20][i];
    assert!(ma.iter().zip(&mb).all(|(&x, &y)| to_id_a(x) == to_id_b(y)));
}

#[test]
fn consistent_mapping_matches_haproxy() {
    // Expected servers from a C model of lb_chash.c (points at
    // full_hash(puid * 4096 + n), closest point, ties to the previous one)
    // with HAProxy's sdbm and full_hash, for weights 1, 2, 1, 3, 1 and keys
    // "/object/0".."/object/39" under `balance uri` + `hash-type consistent`
    // (sdbm + avalanche).
    const EXPECTED: [usize; 40] = [
        0, 3, 3, 2, 1, 3, 3, 2, 1, 2, 3, 1, 3, 1, 3, 3, 3, 1, 1, 1, 1, 1, 3, 3, 3, 1, 0, 0, 3, 3,
        2, 4, 0, 4, 1, 2, 3, 2, 1, 4,
    ];
    let servers = [up(1), up(2), up(1), up(3), up(1)];
    let mut b = Balancer::new(
        &uri(),
        consistent(HashFunction::Sdbm, true),
        None,
        false,
        &servers,
        0,
    );
    let keys: Vec<String> = (0..40).map(|i| format!("/object/{i}")).collect();
    assert_eq!(mapping(&mut b, &keys, 5), EXPECTED);
}

/// Issue 8: every core seeded its `balance random` generator with 0, so all
/// cores drew the same servers in the same order.
#[test]
fn random_draws_differ_between_cores() {
    let servers = [up(1), up(1), up(1), up(1)];
    let conns = [0; 4];
    let draws: Vec<Vec<usize>> = (0..4)
        .map(|core| {
            let mut b = Balancer::new(
                &Balance::Random { draws: 1 },
                None,
                None,
                false,
                &servers,
                core,
            );
            (0..32).map(|_| b.pick(&ctx(&conns)).unwrap()).collect()
        })
        .collect();
    for (i, a) in draws.iter().enumerate() {
        for b in draws.iter().skip(i + 1) {
            assert_ne!(a, b, "two cores drew the same 32 servers");
        }
    }
}

/// Issue 8: every core started round robin at the same server, so a burst
/// spread over N cores sent its first N connections to one server.
#[test]
fn round_robin_starts_each_core_further_in_the_cycle() {
    for balance in [Balance::RoundRobin, Balance::StaticRr] {
        // Equal weights: core k starts on server k.
        let servers = [up(1), up(1), up(1)];
        let first: Vec<usize> = (0..3)
            .map(|core| {
                let mut b = Balancer::new(&balance, None, None, false, &servers, core);
                b.pick(&ctx(&[0; 3])).unwrap()
            })
            .collect();
        assert_eq!(first, [0, 1, 2], "{balance:?}");

        // Weights 1:2:3 on two cores: the first picks differ, and each core
        // keeps the weights over every full cycle.
        let servers = [up(1), up(2), up(3)];
        let mut c0 = Balancer::new(&balance, None, None, false, &servers, 0);
        let mut c1 = Balancer::new(&balance, None, None, false, &servers, 1);
        let conns = [0; 3];
        assert_ne!(c0.pick(&ctx(&conns)), c1.pick(&ctx(&conns)), "{balance:?}");
        for b in [&mut c0, &mut c1] {
            // Finish the cycle begun above, then count whole cycles.
            for _ in 0..5 {
                b.pick(&ctx(&conns)).unwrap();
            }
            for _ in 0..20 {
                let mut w = [0; 3];
                for _ in 0..6 {
                    w[b.pick(&ctx(&conns)).unwrap()] += 1;
                }
                assert_eq!(w, [1, 2, 3], "{balance:?}");
            }
        }
        // A core number past the cycle wraps around.
        let mut c6 = Balancer::new(&balance, None, None, false, &servers, 6);
        let mut c0 = Balancer::new(&balance, None, None, false, &servers, 0);
        assert_eq!(c6.pick(&ctx(&conns)), c0.pick(&ctx(&conns)), "{balance:?}");
    }
}

/// Issue 8: HAProxy's leastconn ranks servers by served plus queued streams
/// (fwlc_queue_srv(): `inflight = served + queue.length`); ringlb's balancer
/// had no way to see the queues.
#[test]
fn leastconn_counts_queued_streams() {
    let servers = [up(1), up(1)];
    let mut b = Balancer::new(&Balance::LeastConn, None, None, false, &servers, 0);
    // Served 2 and 1, but 3 streams wait for the second: 2 < 1 + 3.
    assert_eq!(b.pick_with_queues(&ctx(&[2, 1]), &[0, 3]), Some(0));
    // A server serving nothing but with streams queued is not idle.
    assert_eq!(b.pick_with_queues(&ctx(&[1, 0]), &[0, 2]), Some(0));
    // Weights apply to the sum: (1 + 2 + 1) / 2 < (2 + 1) / 1, but
    // (1 + 5 + 1) / 2 > (2 + 1) / 1.
    let mut b = Balancer::new(&Balance::LeastConn, None, None, false, &[up(1), up(2)], 0);
    assert_eq!(b.pick_with_queues(&ctx(&[2, 1]), &[0, 2]), Some(1));
    assert_eq!(b.pick_with_queues(&ctx(&[2, 1]), &[0, 5]), Some(0));
    // Without queues, served streams alone.
    assert_eq!(b.pick(&ctx(&[2, 1])), Some(1));
    // Queues do not change the other algorithms' picks.
    let mut rr = Balancer::new(&Balance::RoundRobin, None, None, false, &servers, 0);
    assert_eq!(rr.pick_with_queues(&ctx(&[0, 0]), &[5, 0]), Some(0));
}

/// A slot made a backup server (`add server ... backup`) is used only
/// when the active ones are down, on every dynamic algorithm, and an
/// active one again once made so.
#[test]
fn a_server_made_backup_serves_only_without_actives() {
    for balance in [
        Balance::RoundRobin,
        Balance::LeastConn,
        Balance::First,
        Balance::Random { draws: 2 },
        Balance::Source,
    ] {
        let ht = matches!(balance, Balance::Source).then(|| consistent(HashFunction::Sdbm, true));
        let mut b = Balancer::new(&balance, ht.flatten(), None, false, &[up(1), up(1)], 0);
        let conns = [0; 2];
        let pick = |b: &mut Balancer, i: u8| {
            let src = IpAddr::V4(Ipv4Addr::new(10, 0, 0, i));
            b.pick(&PickCtx {
                src: Some(src),
                ..ctx(&conns)
            })
        };
        b.set_backup(1, true);
        for i in 0..50 {
            assert_eq!(pick(&mut b, i), Some(0), "{balance:?}");
        }
        b.set_up(0, false);
        for i in 0..50 {
            assert_eq!(pick(&mut b, i), Some(1), "{balance:?}: the backup");
        }
        b.set_up(0, true);
        b.set_backup(1, false);
        // (`first` fills the lowest id first: it stays on 0 unloaded.)
        let ones = (0..50).filter(|&i| pick(&mut b, i) == Some(1)).count();
        assert!(
            ones > 0 || matches!(balance, Balance::First),
            "{balance:?}: active again"
        );
    }
}

/// A server grown at run time is down until followed; following a state
/// that did not change leaves the round robin where it was.
#[test]
fn grown_servers_join_when_followed() {
    for algo in [
        Balance::RoundRobin,
        Balance::LeastConn,
        Balance::First,
        Balance::Random { draws: 2 },
    ] {
        let mut b = Balancer::new(&algo, None, None, false, &[up(1)], 0);
        b.grow(2);
        assert_eq!(
            counts(&mut b, 3, 30)[1..],
            [0, 0],
            "{algo:?}: down until followed"
        );
        b.follow(2, Some(false), true, 16);
        b.follow(0, None, false, 16);
        assert_eq!(counts(&mut b, 3, 30), [0, 0, 30], "{algo:?}");
    }
    let mut b = Balancer::new(
        &Balance::RoundRobin,
        None,
        None,
        false,
        &[up(1), up(1), up(1)],
        0,
    );
    let seq = |b: &mut Balancer| {
        (0..6)
            .map(|_| b.pick(&ctx(&[0, 0, 0])).unwrap())
            .collect::<Vec<_>>()
    };
    let first = seq(&mut b);
    for i in 0..3 {
        b.follow(i, Some(false), true, 16);
    }
    assert_eq!(seq(&mut b), first, "nothing changed, nothing reset");
    b.follow(1, None, false, 16);
    assert!(!seq(&mut b).contains(&1));
}

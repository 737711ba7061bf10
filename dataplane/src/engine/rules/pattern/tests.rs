use super::*;
use std::net::{Ipv4Addr, Ipv6Addr};

fn strs(method: MatchMethod, icase: bool, pats: &[&str]) -> Patterns {
    let p: Vec<Pattern> = pats
        .iter()
        .map(|s| Pattern::Str((*s).to_string()))
        .collect();
    Patterns::compile(method, icase, &p).unwrap()
}

fn s(v: &str) -> Value<'_> {
    Value::Str(v.as_bytes())
}

#[test]
fn exact_strings_with_and_without_case() {
    let p = strs(MatchMethod::Str, false, &["GET", "HEAD", "GET"]);
    assert_eq!(p.lookup(s("GET")), Some(0));
    assert_eq!(p.lookup(s("HEAD")), Some(1));
    assert_eq!(p.lookup(s("get")), None);
    let p = strs(MatchMethod::Str, true, &["GET"]);
    assert_eq!(p.lookup(s("gEt")), Some(0));
}

#[test]
fn prefixes_take_the_longest() {
    let p = strs(MatchMethod::Beg, false, &["/static", "/", "/static/img"]);
    assert_eq!(p.lookup(s("/static/img/a.png")), Some(2));
    assert_eq!(p.lookup(s("/static/js")), Some(0));
    assert_eq!(p.lookup(s("/api")), Some(1));
    assert_eq!(p.lookup(s("api")), None);
    let p = strs(MatchMethod::Beg, true, &["/API"]);
    assert!(p.matches(s("/api/v1")));
    let empty = strs(MatchMethod::Beg, false, &[""]);
    assert!(empty.matches(s("anything")), "an empty prefix matches all");
}

#[test]
fn ends_substrings_dirs_and_domains() {
    let p = strs(MatchMethod::End, false, &[".jpg", ".png"]);
    assert_eq!(p.lookup(s("/a.png")), Some(1));
    assert!(!p.matches(s("/a.png?x")));
    let p = strs(MatchMethod::Sub, true, &["admin"]);
    assert!(p.matches(s("/x/ADMIN/y")));
    let p = strs(MatchMethod::Dir, false, &["/img/"]);
    assert!(p.matches(s("/static/img/a.png")));
    assert!(p.matches(s("img")));
    assert!(!p.matches(s("/images/a")));
    let p = strs(MatchMethod::Dom, false, &["example.com"]);
    assert!(p.matches(s("www.example.com")));
    assert!(p.matches(s("example.com")));
    assert!(!p.matches(s("myexample.com")));
    assert!(
        p.matches(s("a.example.com.b")),
        "a word anywhere, as HAProxy's match_word"
    );
    let p = strs(MatchMethod::Dom, true, &["EXAMPLE.com"]);
    assert!(p.matches(s("www.Example.COM")));
    let long = format!("{}.example.com", "x".repeat(300));
    assert!(p.matches(s(&long)), "folded on the heap past 256 bytes");
}

#[test]
fn regexes_are_one_set() {
    let p = Patterns::compile(
        MatchMethod::Reg,
        false,
        &[
            Pattern::Regex("^/a[0-9]+$".into()),
            Pattern::Regex("\\.php".into()),
        ],
    )
    .unwrap();
    assert_eq!(p.lookup(s("/a12")), Some(0));
    assert_eq!(p.lookup(s("/x/index.php?q")), Some(1));
    assert_eq!(p.lookup(s("/a1x")), None);
    let p = Patterns::compile(MatchMethod::Reg, true, &[Pattern::Regex("^abc".into())]).unwrap();
    assert!(p.matches(s("ABCd")));
    assert!(p.matches(Value::Str(b"abc\xff")), "bytes, not UTF-8");
}

#[test]
fn integers_and_lengths() {
    let r = |min, max| Pattern::Int(IntRange { min, max });
    let p = Patterns::compile(
        MatchMethod::Int,
        false,
        &[r(Some(1), Some(5)), r(Some(10), None)],
    )
    .unwrap();
    assert_eq!(p.lookup(Value::Int(3)), Some(0));
    assert_eq!(p.lookup(Value::Int(1000)), Some(1));
    assert_eq!(p.lookup(Value::Int(7)), None);
    let p = Patterns::compile(MatchMethod::Len, false, &[r(None, Some(3))]).unwrap();
    assert!(p.matches(s("abc")));
    assert!(!p.matches(s("abcd")));
}

#[test]
fn found_and_bool() {
    let f = Patterns::compile(MatchMethod::Found, false, &[]).unwrap();
    assert!(f.matches(s("")));
    assert!(f.matches(Value::Int(0)));
    let b = Patterns::compile(MatchMethod::Bool, false, &[]).unwrap();
    assert!(b.matches(Value::Int(2)));
    assert!(!b.matches(Value::Int(0)));
    assert!(!b.matches(Value::Bool(false)));
}

#[test]
fn networks_longest_first_across_families() {
    let v4 = |a: [u8; 4], m: [u8; 4]| {
        Pattern::Ip(IpNet::V4 {
            addr: Ipv4Addr::from(a),
            mask: Ipv4Addr::from(m),
        })
    };
    let v6 = |a: &str, prefix| {
        Pattern::Ip(IpNet::V6 {
            addr: a.parse().unwrap(),
            prefix,
        })
    };
    let p = Patterns::compile(
        MatchMethod::Ip,
        false,
        &[
            v4([10, 0, 0, 0], [255, 0, 0, 0]),
            v4([10, 1, 0, 0], [255, 255, 0, 0]),
            v4([192, 168, 0, 1], [255, 0, 255, 0]),
            v6("2001:db8::", 32),
            v6("::ffff:172.16.0.0", 108),
        ],
    )
    .unwrap();
    let ip = |t: &str| Value::Ip(t.parse().unwrap());
    assert_eq!(p.lookup(ip("10.1.2.3")), Some(1), "the longest network");
    assert_eq!(p.lookup(ip("10.2.2.3")), Some(0));
    assert_eq!(p.lookup(ip("192.9.0.77")), Some(2), "a non-contiguous mask");
    assert_eq!(p.lookup(ip("2001:db8::1")), Some(3));
    assert_eq!(
        p.lookup(ip("172.16.0.9")),
        Some(4),
        "IPv4 in a mapped IPv6 network"
    );
    assert_eq!(
        p.lookup(ip("::ffff:10.1.0.1")),
        Some(1),
        "mapped IPv6 in an IPv4 network"
    );
    assert_eq!(p.lookup(ip("11.0.0.1")), None);
    assert_eq!(p.lookup(Value::Ip(Ipv6Addr::LOCALHOST.into())), None);
    assert_eq!(p.lookup(s("10.0.0.1")), None, "a string is not an address");
}

#[test]
fn a_pattern_of_the_wrong_kind_is_refused() {
    assert!(Patterns::compile(MatchMethod::Ip, false, &[Pattern::Str("x".into())]).is_err());
    assert!(Patterns::compile(MatchMethod::Reg, false, &[Pattern::Regex("(".into())]).is_err());
}

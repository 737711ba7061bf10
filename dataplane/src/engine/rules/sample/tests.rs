use super::*;

fn conv(text: &str) -> Converter {
    let expr = ringlb_config::sample::parse_sample(&format!("str(x),{text}"))
        .unwrap_or_else(|e| panic!("{text}: {e:?}"));
    Converter::compile(&expr.converters[0]).unwrap()
}

fn s(v: &str) -> Smp {
    Smp::Str(v.as_bytes().to_vec())
}

fn run(text: &str, input: Smp) -> Option<Vec<u8>> {
    convert(&conv(text), input).map(|v| v.render())
}

#[test]
fn casts_follow_haproxys_table() {
    assert_eq!(s("42abc").cast(SmpType::Int), Some(Smp::Int(42)));
    assert_eq!(
        s("-9223372036854775809").cast(SmpType::Int),
        Some(Smp::Int(i64::MIN))
    );
    assert_eq!(
        s("99999999999999999999").cast(SmpType::Int),
        Some(Smp::Int(i64::MAX))
    );
    assert_eq!(s("x").cast(SmpType::Int), Some(Smp::Int(0)));
    assert_eq!(s("").cast(SmpType::Int), None);
    assert_eq!(
        Smp::Bin(b"ab\0cd".to_vec()).cast(SmpType::Str),
        Some(s("ab"))
    );
    assert_eq!(
        Smp::Int(7).cast(SmpType::Bin),
        Some(Smp::Bin(vec![0, 0, 0, 0, 0, 0, 0, 7]))
    );
    assert_eq!(
        s("10.0.0.1").cast(SmpType::Addr),
        Some(Smp::Ipv4("10.0.0.1".parse().unwrap()))
    );
    assert_eq!(
        s("::1").cast(SmpType::Addr),
        Some(Smp::Ipv6("::1".parse().unwrap()))
    );
    assert_eq!(s("nope").cast(SmpType::Addr), None);
}

#[test]
fn fields_and_words() {
    assert_eq!(run("field(2,/)", s("/a/b/c")), Some(b"a".to_vec()));
    assert_eq!(run("field(-1,/)", s("/a/b/c")), Some(b"c".to_vec()));
    assert_eq!(run("field(2,/,2)", s("/a/b/c")), Some(b"a/b".to_vec()));
    assert_eq!(
        run("field(9,/)", s("/a/b/c")),
        None,
        "no such field: no sample"
    );
    assert_eq!(run("word(1,/)", s("//a//b")), Some(b"a".to_vec()));
    assert_eq!(run("word(-1,/)", s("//a//b//")), Some(b"b".to_vec()));
    assert_eq!(run("word(2,/,2)", s("a/b/c/d")), Some(b"b/c".to_vec()));
    assert_eq!(
        run("word(9,/)", s("a/b")),
        Some(Vec::new()),
        "no such word: empty"
    );
}

#[test]
fn arithmetic_saturates_as_haproxy() {
    assert_eq!(
        convert(&conv("add(5)"), s("9223372036854775806")),
        Some(Smp::Int(i64::MAX))
    );
    assert_eq!(convert(&conv("sub(3)"), s("1")), Some(Smp::Int(-2)));
    assert_eq!(
        convert(&conv("mul(-2)"), s("9223372036854775807")),
        Some(Smp::Int(i64::MIN))
    );
    assert_eq!(convert(&conv("div(0)"), s("5")), Some(Smp::Int(i64::MAX)));
    assert_eq!(convert(&conv("mod(0)"), s("5")), Some(Smp::Int(0)));
    assert_eq!(convert(&conv("div(-2)"), s("-7")), Some(Smp::Int(3)));
    assert_eq!(convert(&conv("mod(3)"), s("-7")), Some(Smp::Int(-1)));
}

#[test]
fn encodings() {
    assert_eq!(run("hex", s("a\u{1}")), Some(b"6101".to_vec()));
    assert_eq!(run("base64", s("hello")), Some(b"aGVsbG8=".to_vec()));
    assert_eq!(
        convert(&conv("b64dec"), s("aGVsbG8=")),
        Some(Smp::Bin(b"hello".to_vec()))
    );
    assert_eq!(convert(&conv("b64dec"), s("aGVsbG8")), None);
    assert_eq!(run("url_dec", s("a%20b+c")), Some(b"a b+c".to_vec()));
    assert_eq!(run("url_dec(1)", s("a+b")), Some(b"a b".to_vec()));
    assert_eq!(
        run("url_dec", s("a?b+c")),
        Some(b"a?b c".to_vec()),
        "a form after '?'"
    );
    assert_eq!(run("url_dec", s("%zz")), None);
    assert_eq!(run("bytes(1,2)", s("abcd")), Some(b"bc".to_vec()));
    assert_eq!(run("bytes(9)", s("abcd")), Some(Vec::new()));
}

#[test]
fn masks_and_hashes() {
    assert_eq!(run("ipmask(24)", s("10.1.2.3")), Some(b"10.1.2.0".to_vec()));
    assert_eq!(
        run("ipmask(24,64)", s("2001:db8::1")),
        Some(b"2001:db8::".to_vec())
    );
    assert_eq!(run("ipmask(24)", s("2001:db8::1")), None, "no IPv6 mask");
    assert_eq!(
        run("ipmask(16)", s("::ffff:10.1.2.3")),
        Some(b"10.1.0.0".to_vec())
    );
    let h = convert(&conv("djb2"), s("x"));
    assert_eq!(
        h,
        Some(Smp::Int(i64::from(crate::balance::hash(
            HashFunction::Djb2,
            b"x"
        ))))
    );
}

//! Sample expressions compiled once (the fetch and its converters) and
//! evaluated over a [`Ctx`], with the converters that need the stream:
//! those reading variables (`concat`, `strcmp`, `secure_memcmp`), the
//! local clock (`ltime`) and the maps (`map*`).

use ringlb_config::keywords::SmpType;
use ringlb_config::model::VarCond;
use ringlb_config::sample::{Arg, SampleExpr, VarScope};

use super::fetch::{fetch, Ctx};
use super::pattern::CompileError;
use super::sample::{convert, convert_with, Converter, Smp};

/// A sample expression ready to run.
#[derive(Debug)]
pub struct Expr {
    pub expr: SampleExpr,
    convs: Vec<Converter>,
}

impl Expr {
    pub fn compile(e: &SampleExpr) -> Result<Expr, CompileError> {
        Ok(Expr {
            expr: e.clone(),
            convs: e
                .converters
                .iter()
                .map(Converter::compile)
                .collect::<Result<_, _>>()?,
        })
    }

    /// The sample, or None where HAProxy's expression has none.
    pub fn eval(&self, cx: &Ctx<'_>) -> Option<Smp> {
        let v = fetch(&self.expr.fetch, cx)?;
        self.convert(v, cx)
    }

    /// The converters over an already fetched sample.
    pub fn convert(&self, mut v: Smp, cx: &Ctx<'_>) -> Option<Smp> {
        for c in &self.convs {
            v = convert_in(c, v, cx)?;
        }
        Some(v)
    }
}

/// `scope.name` as the converters' variable arguments are written.
fn var_arg(a: Option<&Arg>) -> Option<(VarScope, &str)> {
    match a? {
        Arg::Var { scope, name } => Some((*scope, name.as_str())),
        Arg::Str(s) => {
            let (scope, name) = s.split_once('.')?;
            let scope = VarScope::ALL.iter().find(|(n, _)| *n == scope)?.1;
            Some((scope, name))
        }
        _ => None,
    }
}

/// A variable as a string (HAProxy's `sample_conv_var2smp_str`).
fn var_str(cx: &Ctx<'_>, a: Option<&Arg>) -> Option<Vec<u8>> {
    let (scope, name) = var_arg(a)?;
    match cx.vars?.get(scope, name)?.cast(SmpType::Str)? {
        Smp::Str(s) => Some(s),
        _ => None,
    }
}

/// Converter `c` on `v`, with the stream for the converters that need it.
pub fn convert_in(c: &Converter, v: Smp, cx: &Ctx<'_>) -> Option<Smp> {
    let args = &c.call.args;
    let bytes = |v: Smp| match v.cast(SmpType::Str)? {
        Smp::Str(s) => Some(s),
        _ => None,
    };
    match c.call.def.name {
        "concat" => {
            let mut out = bytes(v)?;
            if let Some(Arg::Str(s)) = args.first() {
                out.extend_from_slice(s.as_bytes());
            }
            // A missing variable adds nothing.
            if let Some(s) = var_str(cx, args.get(1)) {
                out.extend_from_slice(&s);
            }
            if let Some(Arg::Str(s)) = args.get(2) {
                out.extend_from_slice(s.as_bytes());
            }
            Some(Smp::Str(out))
        }
        "strcmp" => {
            let a = bytes(v)?;
            let b = var_str(cx, args.first())?;
            Some(Smp::Int(strcmp(&a, &b)))
        }
        "secure_memcmp" => {
            let a = bytes(v)?;
            let b = var_str(cx, args.first())?;
            // Constant time over the common length, as CRYPTO_memcmp.
            let same =
                a.len() == b.len() && a.iter().zip(&b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
            Some(Smp::Bool(same))
        }
        "ltime" => {
            let Smp::Int(t) = v.cast(SmpType::Int)? else {
                return None;
            };
            let offset = match args.get(1) {
                Some(Arg::Int(n)) => *n,
                _ => 0,
            };
            let secs = (t & 0x007f_ffff_ffff_ffff).checked_add(offset)?;
            let Some(Arg::Str(format)) = args.first() else {
                return None;
            };
            ltime(secs, format).map(|s| Smp::Str(s.into_bytes()))
        }
        "add" | "sub" | "mul" | "div" | "mod" | "and" | "or" | "xor" => {
            let Smp::Int(a) = v.cast(SmpType::Int)? else {
                return None;
            };
            // The value: an integer, or a variable's (cast to one).
            let b = match args.first()? {
                Arg::Int(n) => *n,
                Arg::Str(t) => match t.parse::<i64>() {
                    Ok(n) => n,
                    Err(_) => var_int(cx, args.first())?,
                },
                other => var_int(cx, Some(other))?,
            };
            match c.call.def.name {
                "and" => Some(Smp::Int(a & b)),
                "or" => Some(Smp::Int(a | b)),
                "xor" => Some(Smp::Int(a ^ b)),
                // The arithmetic of sample.rs, on the value as a literal.
                _ => {
                    let mut call = c.call.clone();
                    call.args = vec![Arg::Int(b)];
                    convert(&Converter::compile(&call).ok()?, Smp::Int(a))
                }
            }
        }
        // As HAProxy's smp_conv_store / smp_conv_clear: the sample goes
        // on unchanged.
        "set-var" => {
            if let (Some((scope, name)), Some(vars)) = (var_arg(args.first()), cx.vars) {
                let conds: Vec<VarCond> = args
                    .iter()
                    .skip(1)
                    .filter_map(|a| match a {
                        Arg::Str(c) => VarCond::from_keyword(c),
                        _ => None,
                    })
                    .collect();
                vars.set_if(scope, name, v.clone(), &conds);
            }
            Some(v)
        }
        "unset-var" => {
            if let (Some((scope, name)), Some(vars)) = (var_arg(args.first()), cx.vars) {
                vars.unset(scope, name);
            }
            Some(v)
        }
        "cpl" => match v.cast(SmpType::Int)? {
            Smp::Int(n) => Some(Smp::Int(!n)),
            _ => None,
        },
        "ltrim" | "rtrim" => {
            let mut s = &bytes(v)?[..];
            let set = match args.first() {
                Some(Arg::Str(d)) => d.as_bytes(),
                _ => b"",
            };
            if c.call.def.name == "ltrim" {
                while let Some((first, rest)) = s.split_first() {
                    if !set.contains(first) {
                        break;
                    }
                    s = rest;
                }
            } else {
                while let Some((last, rest)) = s.split_last() {
                    if !set.contains(last) {
                        break;
                    }
                    s = rest;
                }
            }
            Some(Smp::Str(s.to_vec()))
        }
        "http_date" => {
            let Smp::Int(t) = v.cast(SmpType::Int)? else {
                return None;
            };
            let offset = match args.first() {
                Some(Arg::Int(n)) => *n,
                _ => 0,
            };
            let unit = match args.get(1) {
                Some(Arg::Str(u)) => u.as_str(),
                _ => "s",
            };
            http_date(t.wrapping_add(offset), unit).map(|d| Smp::Str(d.into_bytes()))
        }
        "sha2" => {
            let bits = match args.first() {
                Some(Arg::Int(n)) => *n,
                _ => 256,
            };
            let Smp::Bin(data) = v.cast(SmpType::Bin)? else {
                return None;
            };
            Some(Smp::Bin(super::crypt::sha2(bits, &data)?))
        }
        _ => match cx.maps {
            Some(maps) => convert_with(c, v, maps),
            None => convert(c, v),
        },
    }
}

/// A variable as an integer (HAProxy's `sample_conv_var2smp_sint`).
fn var_int(cx: &Ctx<'_>, a: Option<&Arg>) -> Option<i64> {
    let (scope, name) = var_arg(a)?;
    match cx.vars?.get(scope, name)?.cast(SmpType::Int)? {
        Smp::Int(n) => Some(n),
        _ => None,
    }
}

/// HAProxy's `http_date`: an IMF-fixdate of `t` seconds (or `ms` /
/// `us`, then with the fraction after the seconds), the date kept on 55
/// bits.
fn http_date(t: i64, unit: &str) -> Option<String> {
    const DAY: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (secs, frac) = match unit {
        "ms" => (t / 1000, Some(t % 1000)),
        "us" => (t / 1_000_000, Some(t % 1_000_000)),
        _ => (t, None),
    };
    let secs = secs & 0x007f_ffff_ffff_ffff;
    let ts = jiff::Timestamp::from_second(secs).ok()?;
    let dt = ts.strftime("%d %m %Y %H:%M:%S").to_string();
    let mut parts = dt.split(' ');
    let (d, m, y, hms) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let mon = MON.get(m.parse::<usize>().ok()?.checked_sub(1)?)?;
    let day = DAY.get(usize::try_from(secs.div_euclid(86_400).rem_euclid(7)).ok()?)?;
    Some(match frac {
        Some(f) => format!("{day}, {d} {mon} {y} {hms}.{f} GMT"),
        None => format!("{day}, {d} {mon} {y} {hms} GMT"),
    })
}

/// `strcmp` as HAProxy computes it: `strncmp` over the common length
/// (glibc's difference of the first differing bytes, stopping at a NUL),
/// then the shorter string is the smaller.
fn strcmp(a: &[u8], b: &[u8]) -> i64 {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return i64::from(*x) - i64::from(*y);
        }
        if *x == 0 {
            return 0;
        }
    }
    match a.len().cmp(&b.len()) {
        std::cmp::Ordering::Less => -1,
        std::cmp::Ordering::Equal => 0,
        std::cmp::Ordering::Greater => 1,
    }
}

/// `secs` in the local zone, formatted by strftime's rules. The date is
/// shifted by the zone's offset and printed as a timestamp (jiff is built
/// without its zoned types here), so `%z` / `%Z` print UTC's.
fn ltime(secs: i64, format: &str) -> Option<String> {
    let off = crate::log::time::local_zone().offset_at(secs);
    let t = jiff::Timestamp::from_second(secs.checked_add(i64::from(off))?).ok()?;
    let mut text = String::new();
    std::fmt::Write::write_fmt(&mut text, format_args!("{}", t.strftime(format))).ok()?;
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rules::env::Vars;
    use ringlb_config::sample::parse_sample;
    use ringlb_proto::msg::Head;

    fn eval(e: &str, vars: &Vars) -> Option<Smp> {
        let req = Head::new();
        let mut cx = Ctx::head(&req);
        cx.vars = Some(vars);
        Expr::compile(&parse_sample(e).expect("parse"))
            .expect("compile")
            .eval(&cx)
    }

    #[test]
    fn converters_reading_variables() {
        let vars = Vars::default();
        vars.set(VarScope::Txn, "v", Smp::Str(b"abc".to_vec()));
        vars.set(VarScope::Txn, "n", Smp::Int(7));
        let s = |v: &str| Some(Smp::Str(v.as_bytes().to_vec()));
        assert_eq!(eval("str(x),concat(<,txn.v,>)", &vars), s("x<abc>"));
        assert_eq!(eval("str(x),concat(<,txn.none,>)", &vars), s("x<>"));
        assert_eq!(eval("str(x),concat(-,txn.n)", &vars), s("x-7"));
        assert_eq!(eval("str(abc),strcmp(txn.v)", &vars), Some(Smp::Int(0)));
        assert_eq!(eval("str(abd),strcmp(txn.v)", &vars), Some(Smp::Int(1)));
        assert_eq!(eval("str(ab),strcmp(txn.v)", &vars), Some(Smp::Int(-1)));
        assert_eq!(eval("str(ab),strcmp(txn.none)", &vars), None);
        assert_eq!(
            eval("str(abc),secure_memcmp(txn.v)", &vars),
            Some(Smp::Bool(true))
        );
        assert_eq!(
            eval("str(abd),secure_memcmp(txn.v)", &vars),
            Some(Smp::Bool(false))
        );
    }

    #[test]
    fn integer_and_string_converters() {
        let vars = Vars::default();
        vars.set(VarScope::Txn, "n", Smp::Str(b"6".to_vec()));
        let i = |n: i64| Some(Smp::Int(n));
        assert_eq!(eval("int(12),and(10)", &vars), i(8));
        assert_eq!(eval("int(12),or(txn.n)", &vars), i(14));
        assert_eq!(eval("int(12),xor(3)", &vars), i(15));
        assert_eq!(eval("int(12),add(txn.n)", &vars), i(18));
        assert_eq!(eval("int(12),div(txn.n)", &vars), i(2));
        assert_eq!(eval("int(12),add(txn.none)", &vars), None);
        assert_eq!(eval("int(0),cpl", &vars), i(-1));
        let s = |v: &str| Some(Smp::Str(v.as_bytes().to_vec()));
        assert_eq!(eval("str(xxabxx),ltrim(x)", &vars), s("abxx"));
        assert_eq!(eval("str(xxabxx),rtrim(x)", &vars), s("xxab"));
        assert_eq!(
            eval("int(1700000000),http_date", &vars),
            s("Tue, 14 Nov 2023 22:13:20 GMT")
        );
        assert_eq!(
            eval("int(1700000000123),http_date(0,ms)", &vars),
            s("Tue, 14 Nov 2023 22:13:20.123 GMT")
        );
        assert_eq!(
            eval("int(0),http_date(86400)", &vars),
            s("Fri, 02 Jan 1970 00:00:00 GMT")
        );
        let Some(Smp::Bin(d)) = eval("str(abc),sha2", &vars) else {
            panic!("sha2")
        };
        assert_eq!(d.first(), Some(&0xba));
        assert_eq!(d.len(), 32);
    }

    #[test]
    fn ltime_formats_in_the_local_zone() {
        let vars = Vars::default();
        let off = crate::log::time::local_zone().offset_at(1_700_000_000);
        let want = jiff::Timestamp::from_second(1_700_000_000 + i64::from(off))
            .expect("ts")
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string();
        assert_eq!(
            eval("int(1700000000),ltime(%Y-%m-%d %H:%M:%S)", &vars),
            Some(Smp::Str(want.into_bytes()))
        );
    }
}

//! ACLs (HAProxy manual 7.1, 7.2, 7.4): `acl <name> <criterion> [flags]
//! [operator] [<value>] ...` definitions, and the `if` / `unless` conditions
//! that combine them.
//!
//! Follows HAProxy's `parse_acl_expr()`, `parse_acl()` and `parse_acl_cond()`
//! (src/acl.c) and the pattern parsers of src/pattern.c:
//! - the criterion is an ACL keyword (an "ACL derivative" such as `hdr_beg`,
//!   which implies a match method) or any sample expression; converters after
//!   an ACL keyword cancel its implied method (the output type decides);
//! - the default match method follows the output type (bool, int, ip, str);
//!   other types need `-m`;
//! - flags come before patterns; `-m` must come before `-f`; `--` ends them;
//! - integer patterns accept ranges (`1024:65535`, `:1023`, `1024:`) and the
//!   operators `eq ge gt le lt`, which apply to all following values;
//! - a condition is an OR (`or`, `||`) of ANDs of `[!]acl` terms, where an
//!   ACL may be written inline between `{` and `}`.

mod condition;
mod pattern;
mod predefined;

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::keywords::{FetchDef, SmpType};
use crate::lexer::Word;
use crate::sample::{cast_allowed, is_idchar, parse_sample_as, parse_sample_in, SampleExpr, Vocab};
pub use condition::{parse_condition, AclRef, CondExpr, CondTerm, Condition};
use pattern::parse_pattern;
pub use predefined::{predefined, predefined_def, PredefinedAcl, PREDEFINED};

/// One `acl` line (or one anonymous `{ ... }` ACL). Several lines with the
/// same name form one ACL whose tests are ORed; merging them is the caller's
/// business.
#[derive(Clone, Debug, PartialEq)]
pub struct AclDef {
    /// Empty for an anonymous ACL.
    pub name: String,
    pub expr: SampleExpr,
    pub method: MatchMethod,
    pub flags: AclFlags,
    /// The patterns written on the line, typed by `method`. Empty for
    /// `found` and `bool`, which take none (HAProxy ignores them).
    pub patterns: Vec<Pattern>,
    /// The `-f` names as written (manual 2.7 names: may carry `file@`,
    /// `opt@` or `virt@`); `files` has the same entries, typed.
    pub pattern_files: Vec<String>,
    pub files: Vec<PatternFile>,
    /// What HAProxy warns about on this line (the ACL is still valid).
    pub warnings: Vec<String>,
}

/// How a sample is compared with the patterns (`-m`, manual 7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchMethod {
    Found,
    Bool,
    Int,
    Ip,
    Bin,
    Len,
    Str,
    Sub,
    Reg,
    Beg,
    End,
    Dir,
    Dom,
}

impl MatchMethod {
    pub const ALL: &'static [(&'static str, MatchMethod)] = &[
        ("found", MatchMethod::Found),
        ("bool", MatchMethod::Bool),
        ("int", MatchMethod::Int),
        ("ip", MatchMethod::Ip),
        ("bin", MatchMethod::Bin),
        ("len", MatchMethod::Len),
        ("str", MatchMethod::Str),
        ("beg", MatchMethod::Beg),
        ("sub", MatchMethod::Sub),
        ("dir", MatchMethod::Dir),
        ("dom", MatchMethod::Dom),
        ("end", MatchMethod::End),
        ("reg", MatchMethod::Reg),
    ];

    /// The name used after `-m`. `regm` (HAProxy's map-only regex method)
    /// is read as `reg`: for an ACL the two match the same samples.
    pub fn from_name(name: &str) -> Option<MatchMethod> {
        if name == "regm" {
            return Some(MatchMethod::Reg);
        }
        MatchMethod::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, m)| *m)
    }

    pub fn name(self) -> &'static str {
        MatchMethod::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("?", |(n, _)| *n)
    }

    /// The sample type the method works on (HAProxy's `pat_match_types`):
    /// `-m` is refused when the sample cannot be cast to it.
    pub fn sample_type(self) -> SmpType {
        match self {
            MatchMethod::Found | MatchMethod::Bool | MatchMethod::Int => SmpType::Int,
            MatchMethod::Ip => SmpType::Addr,
            MatchMethod::Bin => SmpType::Bin,
            _ => SmpType::Str,
        }
    }

    /// The method used without `-m` for a sample of type `t`, if any.
    pub fn default_for(t: SmpType) -> Option<MatchMethod> {
        match t {
            SmpType::Bool => Some(MatchMethod::Bool),
            SmpType::Int => Some(MatchMethod::Int),
            SmpType::Addr | SmpType::Ipv4 | SmpType::Ipv6 => Some(MatchMethod::Ip),
            SmpType::Str => Some(MatchMethod::Str),
            SmpType::Any | SmpType::Bin | SmpType::Meth => None,
        }
    }
}

impl fmt::Display for MatchMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The flags of an `acl` line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AclFlags {
    /// `-i`: case-insensitive matching of the patterns on the line (files
    /// carry their own, see [`PatternFile::ignore_case`]).
    pub ignore_case: bool,
    /// `-n`: no DNS resolution of host names in IP patterns.
    pub no_dns: bool,
    /// `-M`: at least one file is loaded as a map.
    pub map: bool,
    /// `-u <id>`: the reference id on the runtime API. Ids must be unique
    /// process-wide; the caller checks that.
    pub unique_id: Option<i64>,
}

/// A pattern, typed by the match method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// `str`, `sub`, `beg`, `end`, `dir`, `dom`.
    Str(String),
    /// `bin`: the bytes of the hex string.
    Bin(Vec<u8>),
    /// `reg`: checked for gross syntax errors (see `sample::check_regex`);
    /// compiled by the engine.
    Regex(String),
    /// `int`, `len`, and the dotted versions of `req.ssl_ver`
    /// (`major << 16 | minor`).
    Int(IntRange),
    /// `ip`: an address and its network mask.
    Ip(IpNet),
    /// `ip`: a host name (or an abbreviated address such as `10.1` or
    /// `010.0.0.1`) that HAProxy resolves once at start-up; the caller
    /// resolves it, and fails if it cannot, like HAProxy ("'x' is not a valid
    /// IPv4 or IPv6 address").
    Host { name: String, mask: Ipv4Addr },
}

/// An inclusive integer range; a missing bound is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntRange {
    pub min: Option<i64>,
    pub max: Option<i64>,
}

impl IntRange {
    pub fn contains(&self, v: i64) -> bool {
        self.min.is_none_or(|m| v >= m) && self.max.is_none_or(|m| v <= m)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpNet {
    V4 { addr: Ipv4Addr, mask: Ipv4Addr },
    V6 { addr: Ipv6Addr, prefix: u8 },
}

/// A `-f` pattern list (manual 2.7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatternFile {
    /// The file to read (prefix removed); for a virtual list, its name.
    pub path: String,
    pub kind: PatternFileKind,
    /// `-i` was given before this `-f`.
    pub ignore_case: bool,
    /// `-M` was given before this `-f`: two columns, key and value.
    pub map: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatternFileKind {
    /// Must exist (no prefix, or `file@`).
    Regular,
    /// `opt@`: loaded if it exists.
    Optional,
    /// `virt@`: no file, filled at run time.
    Virtual,
}

impl PatternFile {
    pub fn from_name(name: &str) -> PatternFile {
        let (kind, path) = if let Some(p) = name.strip_prefix("file@") {
            (PatternFileKind::Regular, p)
        } else if let Some(p) = name.strip_prefix("opt@") {
            (PatternFileKind::Optional, p)
        } else if name.starts_with("virt@") {
            // The prefix is part of a virtual list's name.
            (PatternFileKind::Virtual, name)
        } else {
            (PatternFileKind::Regular, name)
        };
        PatternFile {
            path: path.to_string(),
            kind,
            ignore_case: false,
            map: false,
        }
    }
}

/// Why an `acl` line or a condition was refused. `word` is the index, in
/// the slice given to the parser, of the word at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AclError {
    pub word: usize,
    pub message: String,
}

impl AclError {
    fn new(word: usize, message: impl Into<String>) -> Self {
        AclError {
            word,
            message: message.into(),
        }
    }
}

/// Parses the words after `acl`: name, criterion, flags, patterns. The
/// name's characters are not checked here (the caller reports them with
/// HAProxy's "character 'x' is not permitted in acl name" message).
pub fn parse_acl(words: &[Word]) -> Result<AclDef, AclError> {
    let texts: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
    parse_acl_in(&texts, Vocab::builtin())
}

pub(crate) fn parse_acl_in(words: &[&str], vocab: Vocab) -> Result<AclDef, AclError> {
    let Some(name) = words.first() else {
        return Err(AclError::new(0, "missing ACL name"));
    };
    let mut def = parse_acl_expr(words.get(1..).unwrap_or(&[]), vocab).map_err(|e| AclError {
        word: e.word + 1,
        ..e
    })?;
    def.name = (*name).to_string();
    Ok(def)
}

/// One pattern of a pattern or map file (HAProxy reads file lines with
/// the method's `pat_parse_*`, no operator), typed for `method`; None
/// for methods that take no pattern. `no_dns`: host names are refused.
pub fn parse_file_pattern(
    method: MatchMethod,
    word: &str,
    no_dns: bool,
) -> Result<Option<Pattern>, String> {
    pattern::parse_pattern(parser_for(method), Op::Eq, word, no_dns)
}

/// Comparison operators of integer patterns.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

fn std_op(word: &str) -> Option<Op> {
    Some(match word {
        "eq" => Op::Eq,
        "gt" => Op::Gt,
        "ge" => Op::Ge,
        "lt" => Op::Lt,
        "le" => Op::Le,
        _ => return None,
    })
}

/// How patterns are read: HAProxy's `pat_parse_*` function.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PatParser {
    Nothing,
    Int,
    /// `pat_parse_dotted_ver`, only for `req.ssl_ver` without converters.
    Dotted,
    Ip,
    Bin,
    Str,
    Reg,
}

fn parser_for(m: MatchMethod) -> PatParser {
    match m {
        MatchMethod::Found | MatchMethod::Bool => PatParser::Nothing,
        MatchMethod::Int | MatchMethod::Len => PatParser::Int,
        MatchMethod::Ip => PatParser::Ip,
        MatchMethod::Bin => PatParser::Bin,
        MatchMethod::Reg => PatParser::Reg,
        _ => PatParser::Str,
    }
}

/// `words` = criterion, flags, patterns (the name is not included).
fn parse_acl_expr(words: &[&str], vocab: Vocab) -> Result<AclDef, AclError> {
    let criterion = words.first().copied().unwrap_or("");
    let bytes = criterion.as_bytes();
    let kw_len = bytes.iter().take_while(|c| is_idchar(**c)).count();
    let kw = criterion.get(..kw_len).unwrap_or("");

    // An ACL keyword (derivative) first, as HAProxy's find_acl_kw() does.
    let derivative = vocab
        .acl_derivative(kw)
        .filter(|_| !NOT_ACL_KEYWORDS.contains(&kw))
        .and_then(|(base, method)| {
            let def: &'static FetchDef = vocab.fetch_def(base).or_else(|| vocab.fetch_def(kw))?;
            Some((def, method))
        });
    let (expr, implied, kw_name) = match derivative {
        Some((def, method)) => {
            let expr = parse_sample_as(criterion, vocab, def).map_err(|e| {
                let m = e.message;
                if m.starts_with("ACL keyword") || m.starts_with("in argument to") {
                    AclError::new(0, m)
                } else {
                    AclError::new(0, format!("ACL keyword '{kw}' : {m}"))
                }
            })?;
            // Converters cancel the keyword's own matching method.
            let implied = if expr.converters.is_empty() {
                if is_dotted_version(kw) {
                    Some((MatchMethod::Int, PatParser::Dotted))
                } else {
                    derivative_method(method).map(|m| (m, parser_for(m)))
                }
            } else {
                None
            };
            let name = if expr.converters.is_empty() {
                kw.to_string()
            } else {
                def.name.to_string()
            };
            (expr, implied, name)
        }
        None => {
            let expr = parse_sample_in(criterion, vocab)
                .map_err(|e| AclError::new(0, format!("{e} in ACL expression '{criterion}'")))?;
            let name = expr.fetch.def.name.to_string();
            (expr, None, name)
        }
    };
    let cur_type = expr.out_type();
    let mut method =
        implied.or_else(|| MatchMethod::default_for(cur_type).map(|m| (m, parser_for(m))));

    let mut warnings = Vec::new();
    let next = words.get(1).copied().unwrap_or("");
    if method.is_some() && cur_type != SmpType::Bool && next.is_empty() {
        warnings.push(format!(
            "parsing acl keyword '{criterion}' :\n  no pattern to match against were provided, so this ACL will never match.\n  If this is what you intended, please add '--' to get rid of this warning.\n  If you intended to match only for existence, please use '-m found'.\n  If you wanted to force an int to match as a bool, please use '-m bool'."
        ));
    }
    if !criterion.contains('(') && next.starts_with('(') {
        warnings.push(format!(
            "matching '{criterion}' for pattern '{next}' is likely a mistake and probably\n  not what you want. Maybe you need to remove the extraneous space before '('.\n  If you are really sure this is not an error, please insert '--' between the\n  match and the pattern to make this warning message disappear."
        ));
    }

    // Flags.
    let mut flags = AclFlags::default();
    let mut pattern_files = Vec::new();
    let mut files = Vec::new();
    let mut load_as_map = false;
    let mut i = 1usize;
    while let Some(&w) = words.get(i).filter(|w| w.starts_with('-')) {
        match w {
            "-i" => flags.ignore_case = true,
            "-n" => flags.no_dns = true,
            "-u" => {
                let arg = words.get(i + 1).copied().unwrap_or("");
                let id = arg
                    .parse::<i64>()
                    .map_err(|_| AclError::new(i + 1, "the argument of -u must be an integer"))?;
                flags.unique_id = Some(id);
                i += 1;
            }
            "-f" => {
                if method.is_none() {
                    return Err(AclError::new(i, needs_method(&kw_name)));
                }
                let Some(&name) = words.get(i + 1).filter(|n| !n.is_empty()) else {
                    // HAProxy tries to open "": "failed to open pattern file <>".
                    return Err(AclError::new(i, "missing pattern file name after '-f'"));
                };
                pattern_files.push(name.to_string());
                let mut f = PatternFile::from_name(name);
                f.ignore_case = flags.ignore_case;
                f.map = load_as_map;
                files.push(f);
                i += 1;
            }
            "-m" => {
                if !files.is_empty() {
                    return Err(AclError::new(
                        i,
                        "'-m' must only be specified before patterns and files in parsing ACL expression",
                    ));
                }
                let arg = words.get(i + 1).copied().unwrap_or("");
                let Some(m) = MatchMethod::from_name(arg) else {
                    return Err(AclError::new(
                        i + 1,
                        format!("unknown matching method '{arg}' when parsing ACL expression"),
                    ));
                };
                if m != MatchMethod::Found && !cast_allowed(cur_type, m.sample_type()) {
                    return Err(AclError::new(
                        i + 1,
                        format!(
                            "matching method '{arg}' cannot be used with fetch keyword '{kw_name}'"
                        ),
                    ));
                }
                method = Some((m, parser_for(m)));
                i += 1;
            }
            "-M" => {
                flags.map = true;
                load_as_map = true;
            }
            "--" => {
                i += 1;
                break;
            }
            other => {
                return Err(AclError::new(
                    i,
                    format!("'{other}' is not a valid ACL option. Please use '--' before any pattern beginning with a '-'"),
                ));
            }
        }
        i += 1;
    }
    let Some((method, parser)) = method else {
        return Err(AclError::new(0, needs_method(&kw_name)));
    };

    // Patterns.
    let mut patterns = Vec::new();
    let mut op = Op::Eq;
    while let Some(&w) = words.get(i) {
        if w.is_empty() {
            // HAProxy's word list ends at the first empty word.
            if words.len() > i + 1 {
                warnings.push(
                    "an empty pattern ends the list of patterns; the words after it are ignored"
                        .to_string(),
                );
            }
            break;
        }
        if matches!(parser, PatParser::Int | PatParser::Dotted) {
            if let Some(o) = std_op(w) {
                op = o;
                i += 1;
                continue;
            }
        }
        if let Some(p) =
            parse_pattern(parser, op, w, flags.no_dns).map_err(|m| AclError::new(i, m))?
        {
            patterns.push(p);
        }
        i += 1;
    }

    Ok(AclDef {
        name: String::new(),
        expr,
        method,
        flags,
        patterns,
        pattern_files,
        files,
        warnings,
    })
}

/// Listed as ACL derivatives in the manual, but not ACL keywords in
/// HAProxy: haproxy 2.6 says "matching method must be specified first
/// (using '-m') when using a sample fetch of this type ('req.payload')".
const NOT_ACL_KEYWORDS: &[&str] = &["req.payload", "req.payload_lv"];

fn needs_method(kw: &str) -> String {
    format!("matching method must be specified first (using '-m') when using a sample fetch of this type ('{kw}')")
}

/// `req.ssl_ver` compares MAJOR.MINOR versions ("decimal match").
fn is_dotted_version(kw: &str) -> bool {
    matches!(kw, "req.ssl_ver" | "req_ssl_ver")
}

fn derivative_method(name: &str) -> Option<MatchMethod> {
    MatchMethod::from_name(name)
}

#[cfg(test)]
mod tests {
    use super::condition::parse_condition_in;
    use super::pattern::abbreviated_v4;
    use super::predefined::predefined_def_in;
    use super::*;
    use crate::sample::tests::vocab;
    use crate::sample::Arg;

    fn acl(line: &str) -> Result<AclDef, AclError> {
        let words: Vec<&str> = line.split_whitespace().collect();
        parse_acl_in(&words, vocab())
    }

    fn acl_err(line: &str) -> String {
        acl(line).expect_err(line).message
    }

    fn cond(line: &str) -> Result<Condition, AclError> {
        let words: Vec<&str> = line.split_whitespace().collect();
        parse_condition_in(&words, vocab())
    }

    fn int(min: Option<i64>, max: Option<i64>) -> Pattern {
        Pattern::Int(IntRange { min, max })
    }

    #[test]
    fn default_methods_follow_the_type() {
        let a = acl("a path /x /y").unwrap();
        assert_eq!(a.name, "a");
        assert_eq!(a.method, MatchMethod::Str);
        assert_eq!(
            a.patterns,
            vec![Pattern::Str("/x".into()), Pattern::Str("/y".into())]
        );
        assert_eq!(acl("a src 10.0.0.1").unwrap().method, MatchMethod::Ip);
        assert_eq!(acl("a req.hdr_cnt(x) 1").unwrap().method, MatchMethod::Int);
        assert_eq!(acl("a always_true").unwrap().method, MatchMethod::Bool);
        // haproxy 2.6: "matching method must be specified first (using '-m')
        // when using a sample fetch of this type ('req.payload')"
        assert_eq!(
            acl_err("a req.payload(0,1) 1"),
            "matching method must be specified first (using '-m') when using a sample fetch of this type ('req.payload')"
        );
        assert!(acl_err("a var(txn.x) 1").starts_with("matching method must be specified first"));
        assert_eq!(
            acl("a var(txn.x) -m str 1").unwrap().method,
            MatchMethod::Str
        );
    }

    #[test]
    fn acl_derivatives() {
        let a = acl("a hdr_beg(host) -i www. img.").unwrap();
        assert_eq!(a.method, MatchMethod::Beg);
        assert_eq!(a.expr.fetch.def.name, "hdr");
        assert_eq!(a.expr.fetch.args, vec![Arg::Str("host".into())]);
        assert!(a.flags.ignore_case);
        assert_eq!(a.patterns.len(), 2);
        assert_eq!(acl("a path_len 3").unwrap().method, MatchMethod::Len);
        // Converters cancel the derivative's method: the output type rules.
        assert_eq!(
            acl("a hdr_beg(host),lower www").unwrap().method,
            MatchMethod::Str
        );
        assert_eq!(acl("a method GET").unwrap().method, MatchMethod::Str);
        // -m overrides.
        assert_eq!(
            acl("a path_beg -m end .css").unwrap().method,
            MatchMethod::End
        );
        // haproxy 2.6: "ACL keyword 'hdr' : expected ')' before ',2)'"
        assert_eq!(
            acl_err("a hdr_beg(host,1,2) x"),
            "ACL keyword 'hdr_beg' : expected ')' before ',2)'"
        );
    }

    #[test]
    fn unknown_criterion() {
        // haproxy 2.6: "unknown fetch method 'bytes_inn' in ACL expression 'bytes_inn'"
        assert_eq!(
            acl_err("a bytes_inn gt 1"),
            "unknown fetch method 'bytes_inn' in ACL expression 'bytes_inn'"
        );
        // haproxy 2.6: "missing fetch method in ACL expression ''"
        assert_eq!(acl_err("a"), "missing fetch method in ACL expression ''");
        assert_eq!(
            acl_err("a -i path"),
            "unknown fetch method '-i' in ACL expression '-i'"
        );
        assert_eq!(acl("a").unwrap_err().word, 1);
        // haproxy 2.6: "ACL keyword 'path' : unknown converter 'foo'"
        assert_eq!(
            acl_err("a path,foo x"),
            "ACL keyword 'path' : unknown converter 'foo'"
        );
        assert_eq!(
            acl_err("a req.hdr(x),foo x"),
            "unknown converter 'foo' in ACL expression 'req.hdr(x),foo'"
        );
        assert_eq!(
            acl_err("a req.payload(0,1),add(1) 3"),
            "converter 'add' cannot be applied in ACL expression 'req.payload(0,1),add(1)'"
        );
    }

    #[test]
    fn flags() {
        let a = acl("a hdr(host) -i -n -u 7 -- -i").unwrap();
        assert_eq!(
            a.flags,
            AclFlags {
                ignore_case: true,
                no_dns: true,
                map: false,
                unique_id: Some(7)
            }
        );
        assert_eq!(a.patterns, vec![Pattern::Str("-i".into())]);
        // -i applies to what follows it only.
        let a = acl("a hdr(user-agent) -f exact.lst -i -f opt@generic.lst test").unwrap();
        assert_eq!(a.pattern_files, vec!["exact.lst", "opt@generic.lst"]);
        assert!(!a.files[0].ignore_case);
        assert!(a.files[1].ignore_case);
        assert_eq!(a.files[1].kind, PatternFileKind::Optional);
        assert_eq!(a.files[1].path, "generic.lst");
        assert!(a.flags.ignore_case);
        let a = acl("a path -m beg -M -f virt@x -f file@y").unwrap();
        assert!(a.flags.map && a.files[0].map);
        assert_eq!(a.files[0].kind, PatternFileKind::Virtual);
        assert_eq!(a.files[0].path, "virt@x");
        assert_eq!(a.files[1].path, "y");
        // haproxy 2.6 messages:
        assert_eq!(
            acl_err("a path -m beg -f /dev/null -m end x"),
            "'-m' must only be specified before patterns and files in parsing ACL expression"
        );
        assert_eq!(
            acl_err("a path -u x y"),
            "the argument of -u must be an integer"
        );
        assert_eq!(
            acl_err("a path -z y"),
            "'-z' is not a valid ACL option. Please use '--' before any pattern beginning with a '-'"
        );
        assert_eq!(acl("a path -z y").unwrap_err().word, 2);
        assert_eq!(
            acl_err("a path -m foo x"),
            "unknown matching method 'foo' when parsing ACL expression"
        );
        assert_eq!(
            acl_err("a path -m"),
            "unknown matching method '' when parsing ACL expression"
        );
        assert!(acl_err("a var(txn.x) -f f").starts_with("matching method must be specified first"));
        assert_eq!(acl_err("a path -f"), "missing pattern file name after '-f'");
    }

    #[test]
    fn method_compatibility() {
        // haproxy 2.6: "matching method 'int' cannot be used with fetch keyword 'req.payload'"
        assert_eq!(
            acl_err("a req.payload(0,1) -m int 1"),
            "matching method 'int' cannot be used with fetch keyword 'req.payload'"
        );
        // haproxy 2.6: "matching method 'ip' cannot be used with fetch keyword 'always_true'"
        assert_eq!(
            acl_err("a always_true -m ip 1.2.3.4"),
            "matching method 'ip' cannot be used with fetch keyword 'always_true'"
        );
        // haproxy 2.6 accepts these.
        assert!(acl("a path -m found x").unwrap().patterns.is_empty());
        assert!(acl("a src -m str 1").is_ok());
        assert!(acl("a path -m bin 41").is_ok());
        assert!(acl("a path -m regm ^x").is_ok());
        assert!(acl("a path,lower -m beg /a").is_ok());
        // 3.2's src is an address: addr -> int has no cast (2.6 accepts it,
        // its src being IPv4).
        assert!(acl("a src -m bool").is_err());
    }

    #[test]
    fn int_patterns() {
        let a = acl("a req.hdr_cnt(x) 1 1024:65535 :1023 1024: 3-5").unwrap();
        assert_eq!(
            a.patterns,
            vec![
                int(Some(1), Some(1)),
                int(Some(1024), Some(65535)),
                int(None, Some(1023)),
                int(Some(1024), None),
                int(Some(3), Some(5)),
            ]
        );
        // Operators apply to all following values.
        let a = acl("a req.hdr_cnt(x) lt 5 7 gt 3 eq 4 le 2 ge 9").unwrap();
        assert_eq!(
            a.patterns,
            vec![
                int(None, Some(4)),
                int(None, Some(6)),
                int(Some(4), None),
                int(Some(4), Some(4)),
                int(None, Some(2)),
                int(Some(9), None),
            ]
        );
        // lt 0 is ":-1" (HAProxy's "negative Content-Length" example).
        assert_eq!(
            acl("a hdr_val(content-length) lt 0").unwrap().patterns,
            vec![int(None, Some(-1))]
        );
        // haproxy 2.6 messages:
        assert_eq!(
            acl_err("a path -m len 3:2"),
            "'3:2' is not a valid number range"
        );
        assert_eq!(acl_err("a path -m len x"), "'x' is not a number");
        assert_eq!(
            acl_err("a path -m len lt x"),
            "'x' is neither a number nor a supported operator"
        );
        assert_eq!(
            acl_err("a path -m len -- :"),
            "':' is not a valid number range"
        );
        // "--" is a pattern once the flags are over.
        assert_eq!(
            acl_err("a path -m len 1 --"),
            "'--' is not a valid number range"
        );
        assert_eq!(
            acl_err("a path -m len 99999999999999999999"),
            "'99999999999999999999' is not a number"
        );
        // "-3" after "--" is the range ":3", as in HAProxy.
        assert_eq!(
            acl("a path -m len -- -3").unwrap().patterns,
            vec![int(None, Some(3))]
        );
        // Integer mode ignores a minor part after an operator.
        assert_eq!(
            acl("a path -m len gt 3.9").unwrap().patterns,
            vec![int(Some(4), None)]
        );
    }

    #[test]
    fn dotted_versions() {
        let v = |a: i64, b: i64| (a << 16) | b;
        let a = acl("a req.ssl_ver 3:3.1 lt 3 gt 3.1 3.0-3.1").unwrap();
        assert_eq!(a.method, MatchMethod::Int);
        assert_eq!(
            a.patterns,
            vec![
                int(Some(v(3, 0)), Some(v(3, 1))),
                int(None, Some(v(2, 65535))),
                int(Some(v(3, 2)), None),
                int(Some(v(3, 0)), Some(v(3, 1))),
            ]
        );
        // haproxy 2.6 messages:
        assert_eq!(
            acl_err("a req.ssl_ver gt 3.1 3.x"),
            "'3.x' is neither a number nor a supported operator"
        );
        assert_eq!(
            acl_err("a req.ssl_ver 70000.1"),
            "'70000.1' is not a dotted number"
        );
        assert_eq!(
            acl_err("a req.ssl_ver 3.1:3"),
            "'3.1:3' is not a valid dotted number range"
        );
    }

    #[test]
    fn ip_patterns() {
        let a = acl("a src 10.0.0.1 192.168.0.0/16 192.168.0.1/255.255.0.0 ::1 ::ffff:1.2.3.4/120 10.12 localhost").unwrap();
        assert_eq!(
            a.patterns,
            vec![
                Pattern::Ip(IpNet::V4 {
                    addr: Ipv4Addr::new(10, 0, 0, 1),
                    mask: Ipv4Addr::BROADCAST
                }),
                Pattern::Ip(IpNet::V4 {
                    addr: Ipv4Addr::new(192, 168, 0, 0),
                    mask: Ipv4Addr::new(255, 255, 0, 0)
                }),
                Pattern::Ip(IpNet::V4 {
                    addr: Ipv4Addr::new(192, 168, 0, 1),
                    mask: Ipv4Addr::new(255, 255, 0, 0)
                }),
                Pattern::Ip(IpNet::V6 {
                    addr: Ipv6Addr::LOCALHOST,
                    prefix: 128
                }),
                Pattern::Ip(IpNet::V6 {
                    addr: "::ffff:1.2.3.4".parse().unwrap(),
                    prefix: 120
                }),
                Pattern::Ip(IpNet::V4 {
                    addr: Ipv4Addr::new(10, 0, 0, 12),
                    mask: Ipv4Addr::BROADCAST
                }),
                Pattern::Host {
                    name: "localhost".into(),
                    mask: Ipv4Addr::BROADCAST
                },
            ]
        );
        // haproxy 2.6 refuses these.
        for bad in [
            "1.2.3.4/33",
            "::1/129",
            "1.2.3.4/",
            "::1/ffff::",
            "0x7f.1/",
            "a_b!",
        ] {
            assert_eq!(
                acl_err(&format!("a src {bad}")),
                format!("'{bad}' is not a valid IPv4 or IPv6 address"),
                "{bad}"
            );
        }
        // -n: no resolution, so no host names nor abbreviated forms.
        assert_eq!(
            acl_err("a src -n 10.12"),
            "'10.12' is not a valid IPv4 or IPv6 address"
        );
        assert_eq!(
            acl_err("a src -n localhost"),
            "'localhost' is not a valid IPv4 or IPv6 address"
        );
        assert_eq!(abbreviated_v4("127.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(
            abbreviated_v4("192.168.1"),
            Some(Ipv4Addr::new(192, 168, 0, 1))
        );
        assert_eq!(abbreviated_v4("010.1"), None);
    }

    #[test]
    fn bin_and_regex_patterns() {
        assert_eq!(
            acl("a req.payload(0,6) -m bin 48656c6C6f0a")
                .unwrap()
                .patterns,
            vec![Pattern::Bin(b"Hello\n".to_vec())]
        );
        // haproxy 2.6 messages:
        assert_eq!(
            acl_err("a req.payload(0,3) -m bin 48656"),
            "an even number of hex digit is expected"
        );
        assert_eq!(
            acl_err("a req.payload(0,3) -m bin 4g"),
            "an hex digit is expected (found 'g')"
        );
        assert_eq!(
            acl("a path -m reg -i ^/a(b|c)$").unwrap().patterns,
            vec![Pattern::Regex("^/a(b|c)$".into())]
        );
        // haproxy 2.6 (PCRE2): "regex '^x(' is invalid (error=missing closing
        // parenthesis, erroffset=3)"
        assert_eq!(
            acl_err("a path -m reg ^x("),
            "regex '^x(' is invalid (error=missing closing parenthesis, erroffset=3)"
        );
        assert_eq!(acl("a path -m reg ^x(").unwrap_err().word, 4);
    }

    #[test]
    fn warnings() {
        // haproxy 2.6 warns "no pattern to match against were provided".
        assert!(acl("a path").unwrap().warnings[0].contains("no pattern to match"));
        assert!(acl("a path --").unwrap().warnings.is_empty());
        assert!(acl("a always_true").unwrap().warnings.is_empty());
        // haproxy 2.6 warns about "(" after the criterion.
        assert!(acl("a path ( x").unwrap().warnings[0].contains("extraneous space before '('"));
        let a = parse_acl_in(&["a", "path", "/x", "", "/y"], vocab()).unwrap();
        assert_eq!(a.patterns.len(), 1);
        assert_eq!(a.warnings.len(), 1);
    }

    #[test]
    fn conditions() {
        let c = cond("if METH_POST missing_cl || !HTTP_1.1 or { path_beg /a } !{ src 10.0.0.0/8 }")
            .unwrap();
        let Condition::If(e) = c else { panic!() };
        assert_eq!(e.any_of.len(), 3);
        assert_eq!(e.any_of[0][0].acl, AclRef::Predefined("METH_POST"));
        assert_eq!(e.any_of[0][1].acl, AclRef::Named("missing_cl".into()));
        assert!(!e.any_of[0][1].negate);
        assert!(e.any_of[1][0].negate);
        assert_eq!(e.any_of[1][0].acl.name(), "HTTP_1.1");
        assert_eq!(e.any_of[2].len(), 2);
        let AclRef::Anonymous(a) = &e.any_of[2][0].acl else {
            panic!()
        };
        assert_eq!(a.name, "");
        assert_eq!(a.method, MatchMethod::Beg);
        assert!(e.any_of[2][1].negate);

        let Condition::Unless(e) = cond("unless ! TRUE !!FALSE OR x").unwrap() else {
            panic!()
        };
        assert!(e.any_of[0][0].negate);
        assert!(!e.any_of[0][1].negate);
        assert_eq!(e.any_of[1][0].acl, AclRef::Named("x".into()));
        // A lone "!" before "{" negates the anonymous ACL.
        let e = cond("if ! { path /a }").unwrap();
        assert!(e.expr().any_of[0][0].negate);
    }

    #[test]
    fn condition_edge_cases() {
        // haproxy 2.6 accepts all of these; empty alternatives vanish.
        assert!(cond("if").unwrap().expr().any_of.is_empty());
        assert!(cond("if !").unwrap().expr().any_of.is_empty());
        assert_eq!(cond("if or TRUE").unwrap().expr().any_of.len(), 1);
        assert_eq!(cond("if TRUE or").unwrap().expr().any_of.len(), 1);
        assert_eq!(cond("if TRUE || || FALSE").unwrap().expr().any_of.len(), 2);
        // 3.2 knows HTTP_3.0 (2.6 does not).
        assert_eq!(
            cond("if HTTP_3.0").unwrap().expr().any_of[0][0].acl,
            AclRef::Predefined("HTTP_3.0")
        );
        // Names are checked by the caller: "{path" and "}" are names here, as
        // in HAProxy ("no such ACL : '{path'").
        assert_eq!(
            cond("if {path /a }").unwrap().expr().any_of[0][0].acl,
            AclRef::Named("{path".into())
        );
        // haproxy 2.6 errors:
        let e = cond("if { path /a").unwrap_err();
        assert_eq!(
            (e.message.as_str(), e.word),
            ("missing closing '}' in condition", 1)
        );
        assert_eq!(
            cond("if { }").unwrap_err().message,
            "missing fetch method in ACL expression ''"
        );
        assert_eq!(
            cond("if { { path /a } }").unwrap_err().message,
            "missing fetch method in ACL expression '{'"
        );
        let e = cond("if TRUE { path -z }").unwrap_err();
        assert_eq!(e.word, 4);
        assert_eq!(
            cond("when TRUE").unwrap_err().message,
            "conditions must start with either 'if' or 'unless'"
        );
    }

    #[test]
    fn predefined_acls_parse() {
        for p in PREDEFINED {
            let d = predefined_def_in(p.name, vocab()).unwrap();
            let d = d.unwrap_or_else(|e| panic!("{}: {e}", p.name));
            assert_eq!(d.name, p.name);
            assert!(d.warnings.is_empty(), "{}", p.name);
        }
        let d = predefined_def_in("LOCALHOST", vocab()).unwrap().unwrap();
        assert_eq!(d.patterns.len(), 2);
        let d = predefined_def_in("HTTP_CONTENT", vocab()).unwrap().unwrap();
        assert_eq!(d.patterns, vec![int(Some(1), None)]);
        assert!(predefined("NOPE").is_none());
    }

    #[test]
    fn never_panics_on_odd_input() {
        for line in [
            "",
            "a",
            "a {",
            "a -m",
            "a -u",
            "a -f",
            "a path -m len lt",
            "a path -m len --",
            "a req.ssl_ver lt 65535.65535",
            "a req.ssl_ver gt 65535.65536",
            "a path -m len gt 9223372036854775807",
            "a path -m len lt -9223372036854775808",
            "a src /",
            "a src 1.2.3.4/x",
            "a path -m bin é0",
            "a path -m reg [",
        ] {
            let _ = acl(line);
        }
        for line in [
            "",
            "if {",
            "if { }",
            "if ! ! !",
            "unless || or OR",
            "if { a } }",
            "if {{ }",
        ] {
            let _ = cond(line);
        }
    }

    #[test]
    fn real_tables_when_present() {
        if crate::keywords::fetch("req.hdr").is_none() {
            return;
        }
        let words: Vec<Word> = ["a", "hdr_beg(host)", "-i", "www."]
            .iter()
            .map(|t| Word {
                text: (*t).to_string(),
                col: 0,
            })
            .collect();
        let a = parse_acl(&words).unwrap();
        assert_eq!(a.method, MatchMethod::Beg);
        for p in PREDEFINED {
            let d = predefined_def(p.name).unwrap();
            assert!(d.is_ok(), "{}: {:?}", p.name, d.err());
        }
    }
}

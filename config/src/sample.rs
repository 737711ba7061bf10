//! Sample expressions (HAProxy manual 7.3): a sample fetch with its typed
//! arguments, followed by a comma-delimited chain of converters, e.g.
//! `req.hdr(host,1),lower,map(/etc/hosts.map,default)`.
//!
//! The parser follows HAProxy's `sample_parse_expr()` (src/sample.c) and
//! `make_arg_list()` (src/arg.c) of the 3.x branch:
//! - a keyword is a run of "identifier characters" (`[A-Za-z0-9._+:-]`);
//! - arguments are between parentheses, separated by commas; inside them
//!   single and double quotes group characters (and are removed), `\\`
//!   escapes `\`, space and quotes and gives `\r`, `\n`, `\t`; an unquoted
//!   `)` or `,` ends an argument. Parentheses do not nest;
//! - when the parentheses are omitted and an argument is mandatory, HAProxy
//!   passes an empty argument (so `req.fhdr` is `req.fhdr("")`);
//! - too many arguments, or a missing `)`, is "expected ')' before ...";
//! - converters follow after commas; repeated commas are tolerated
//!   (`path,,lower`), like HAProxy does;
//! - a converter is refused when the previous output type cannot be cast to
//!   its input type ([`cast_allowed`], HAProxy's `sample_casts[][]`).
//!
//! Arguments are typed once here ([`Arg`]): integers, delays, sizes,
//! addresses and variable names are parsed; names of proxies, servers,
//! tables, userlists and map files are kept as strings for the caller to
//! resolve against the whole configuration (HAProxy resolves them after
//! parsing too, in `smp_resolve_args()`).
//!
//! Where HAProxy 2.6 (the version installed for cross-checks) and 3.2 differ,
//! 3.2 wins; the tests say which verdicts were checked against 2.6.

mod args;
mod regex;

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use crate::diag::did_you_mean;
use crate::keywords::{self, ArgType, ConvDef, FetchDef, SmpType};
pub use args::parse_var_name;
pub(crate) use args::v4_mask;
use args::{parse_args, refine_conv_args, ArgErrorKind};
pub use regex::{check_regex, RegexError};

/// A parsed sample expression: one fetch and its converters, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleExpr {
    pub fetch: FetchCall,
    pub converters: Vec<ConvCall>,
    /// The expression as written, for display and diagnostics.
    pub text: String,
}

impl SampleExpr {
    /// The type of the final sample: the fetch's output type, then each
    /// converter's. Converters declared `any -> any` (`debug`, `set-var`,
    /// HAProxy's "same" output) pass the previous type through.
    pub fn out_type(&self) -> SmpType {
        self.converters
            .iter()
            .fold(self.fetch.def.out, |prev, c| next_type(prev, c.def))
    }
}

impl fmt::Display for SampleExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A sample fetch and its typed arguments.
///
/// `sc1_conn_cnt(t)` style per-counter fetches are looked up as written
/// when the keyword table has them; otherwise `scN_<x>` (N = 0..2) becomes
/// the generic `sc_<x>` with `Arg::Int(N)` as first argument, which is what
/// HAProxy does internally.
#[derive(Clone, Debug)]
pub struct FetchCall {
    pub def: &'static FetchDef,
    pub args: Vec<Arg>,
}

impl PartialEq for FetchCall {
    fn eq(&self, other: &Self) -> bool {
        self.def.name == other.def.name && self.args == other.args
    }
}

/// A converter and its typed arguments.
#[derive(Clone, Debug)]
pub struct ConvCall {
    pub def: &'static ConvDef,
    pub args: Vec<Arg>,
}

impl PartialEq for ConvCall {
    fn eq(&self, other: &Self) -> bool {
        self.def.name == other.def.name && self.args == other.args
    }
}

/// One argument, typed according to the keyword's [`ArgType`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    Str(String),
    Int(i64),
    /// A delay; bare numbers are milliseconds.
    Time(Duration),
    /// A size in bytes (`k`, `m`, `g` suffixes are powers of 1024).
    Size(u64),
    /// An IPv4 address. A mask may also be written as a prefix length
    /// (`24`), which is stored as the dotted mask.
    Ipv4(Ipv4Addr),
    /// An IPv6 address (or a prefix length turned into a mask).
    Ipv6(Ipv6Addr),
    /// A frontend or backend name; empty means "the proxy the expression is
    /// written in", as in HAProxy.
    Proxy(String),
    /// `[<backend>/]<server>`; without a backend, the current proxy.
    Server {
        backend: Option<String>,
        server: String,
    },
    /// A stick-table name; empty means the current proxy's table.
    Table(String),
    /// A variable, `<scope>.<name>`; `name` excludes the scope.
    Var {
        scope: VarScope,
        name: String,
    },
    /// A regular expression, checked for gross syntax errors only (see
    /// [`check_regex`]); HAProxy compiles it with PCRE.
    Regex(String),
    Userlist(String),
    /// A map or pattern file name (manual 2.7: may carry `file@`, `opt@` or
    /// `virt@`), read later by the caller.
    File(String),
}

/// The scope of a variable (manual 2.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VarScope {
    Proc,
    Sess,
    Txn,
    Req,
    Res,
    Check,
    /// The session of the parent stream.
    Psess,
    Ptxn,
    Preq,
    Pres,
}

impl VarScope {
    pub const ALL: &'static [(&'static str, VarScope)] = &[
        ("proc", VarScope::Proc),
        ("sess", VarScope::Sess),
        ("txn", VarScope::Txn),
        ("req", VarScope::Req),
        ("res", VarScope::Res),
        ("check", VarScope::Check),
        ("psess", VarScope::Psess),
        ("ptxn", VarScope::Ptxn),
        ("preq", VarScope::Preq),
        ("pres", VarScope::Pres),
    ];

    pub fn as_str(self) -> &'static str {
        VarScope::ALL
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("?", |(n, _)| *n)
    }
}

impl fmt::Display for VarScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a sample expression was refused. `offset` is the byte offset in the
/// text passed to the parser of the character the message is about.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SampleError {
    pub offset: u32,
    pub message: String,
    /// A suggestion ("did you mean 'req.hdr'?"), when there is one.
    pub hint: Option<String>,
}

impl SampleError {
    fn new(offset: usize, message: impl Into<String>) -> Self {
        SampleError {
            offset: to_u32(offset),
            message: message.into(),
            hint: None,
        }
    }

    fn with_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Parses a whole sample expression. Anything after the expression is an
/// error ("missing comma after ...").
pub fn parse_sample(text: &str) -> Result<SampleExpr, SampleError> {
    parse_sample_in(text, Vocab::builtin())
}

/// Parses the sample expression at the start of `text` and returns it with
/// the byte offset of the first character that is not part of it (used by
/// `%[...]` in log formats, where the expression ends at `]`).
pub fn parse_sample_prefix(text: &str) -> Result<(SampleExpr, usize), SampleError> {
    parse_sample_prefix_in(text, Vocab::builtin())
}

/// Whether a sample of type `from` may be given to something expecting
/// `to`: HAProxy's `sample_casts[from][to]` matrix (src/sample.c, 3.x) is
/// non-NULL. `Any` converts to and from everything at configuration time.
pub fn cast_allowed(from: SmpType, to: SmpType) -> bool {
    use SmpType::{Addr, Any, Bin, Bool, Int, Ipv4, Ipv6, Meth, Str};
    matches!(
        (from, to),
        (Any, _)
            | (_, Any)
            | (Str, _)
            | (Bool, Bool | Int | Str | Bin)
            | (Int, Bool | Int | Addr | Ipv4 | Ipv6 | Str | Bin)
            | (Addr, Addr | Ipv4 | Ipv6 | Str | Bin)
            | (Ipv4, Int | Addr | Ipv4 | Ipv6 | Str | Bin)
            | (Ipv6, Addr | Ipv4 | Ipv6 | Str | Bin)
            | (Bin | Meth, Str | Bin | Meth)
    )
}

/// The output type after applying `conv` to a sample of type `prev`.
fn next_type(prev: SmpType, conv: &ConvDef) -> SmpType {
    // HAProxy's SMP_T_SAME: the keyword table spells it `any -> any`.
    if conv.out == SmpType::Any && conv.input == SmpType::Any {
        prev
    } else {
        conv.out
    }
}

/// How HAProxy names a sample type in its messages.
pub fn type_name(t: SmpType) -> &'static str {
    match t {
        SmpType::Any => "any",
        SmpType::Bool => "bool",
        SmpType::Int => "sint",
        SmpType::Addr => "addr",
        SmpType::Ipv4 => "ipv4",
        SmpType::Ipv6 => "ipv6",
        SmpType::Str => "str",
        SmpType::Bin => "bin",
        SmpType::Meth => "meth",
    }
}

/// The keywords the parser knows. The real tables in production; tests may
/// bring their own so that they do not depend on the generated tables.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Vocab {
    pub(crate) fetches: &'static [FetchDef],
    pub(crate) converters: &'static [ConvDef],
    /// `(acl keyword, base fetch, match method)`, see
    /// [`keywords::acl_derivative`].
    pub(crate) acl_derivatives: &'static [(&'static str, &'static str, &'static str)],
}

impl Vocab {
    pub(crate) fn builtin() -> Vocab {
        Vocab {
            fetches: keywords::FETCHES,
            converters: keywords::CONVERTERS,
            acl_derivatives: keywords::ACL_DERIVATIVES,
        }
    }

    pub(crate) fn fetch_def(&self, name: &str) -> Option<&'static FetchDef> {
        self.fetches.iter().find(|f| f.name == name)
    }

    fn converter(&self, name: &str) -> Option<&'static ConvDef> {
        self.converters.iter().find(|c| c.name == name)
    }

    /// The ACL derivative `name`, as (base fetch, match method name).
    pub(crate) fn acl_derivative(&self, name: &str) -> Option<(&'static str, &'static str)> {
        self.acl_derivatives
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, base, method)| (*base, *method))
    }

    /// A sample fetch usable in expressions. ACL derivatives such as
    /// `hdr_beg` or `path_len` are not sample fetches (HAProxy 2.6:
    /// "unknown fetch method 'hdr_beg'"), even though the keyword table
    /// gives them a definition for the ACL parser.
    fn sample_fetch(&self, name: &str) -> Option<&'static FetchDef> {
        match self.acl_derivative(name) {
            Some((base, _)) if base != name && !FETCH_ALIASES.contains(&name) => None,
            _ => self.fetch_def(name),
        }
    }

    fn fetch_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.fetches.iter().map(|f| f.name).filter(|n| {
            FETCH_ALIASES.contains(n) || self.acl_derivative(n).is_none_or(|(base, _)| base == *n)
        })
    }
}

/// ACL derivatives that are sample fetches too (aliases of their base):
/// every derivative with another base name was tried in a log-format with
/// haproxy 2.6, and only these are not "unknown fetch method".
const FETCH_ALIASES: &[&str] = &["hdr", "cook", "scook", "shdr", "req_ver", "resp_ver"];

pub(crate) fn parse_sample_in(text: &str, vocab: Vocab) -> Result<SampleExpr, SampleError> {
    parse_expr(text, vocab, Mode::Whole, None).map(|(e, _)| e)
}

pub(crate) fn parse_sample_prefix_in(
    text: &str,
    vocab: Vocab,
) -> Result<(SampleExpr, usize), SampleError> {
    parse_expr(text, vocab, Mode::Prefix, None)
}

/// Parses `text` whose leading keyword (an ACL keyword such as `hdr_beg`)
/// has already been recognised by the caller as standing for the fetch
/// `def`: its arguments are parsed per `def`, then the converters.
pub(crate) fn parse_sample_as(
    text: &str,
    vocab: Vocab,
    def: &'static FetchDef,
) -> Result<SampleExpr, SampleError> {
    parse_expr(text, vocab, Mode::Whole, Some(def)).map(|(e, _)| e)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The expression must span the whole text.
    Whole,
    /// Stop at the first character that cannot continue the expression.
    Prefix,
}

/// HAProxy's `is_idchar()`.
pub(crate) fn is_idchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-' | b'+' | b':')
}

fn ident_end(bytes: &[u8], from: usize) -> usize {
    let len = bytes
        .get(from..)
        .map_or(0, |rest| rest.iter().take_while(|c| is_idchar(**c)).count());
    from + len
}

fn parse_expr(
    text: &str,
    vocab: Vocab,
    mode: Mode,
    forced: Option<&'static FetchDef>,
) -> Result<(SampleExpr, usize), SampleError> {
    let bytes = text.as_bytes();
    let name_end = ident_end(bytes, 0);
    let name = text.get(..name_end).unwrap_or("");
    if name.is_empty() {
        return Err(SampleError::new(0, "missing fetch method"));
    }

    // Resolve the fetch keyword.
    let (def, counter) = match forced {
        Some(def) => (def, None),
        None => lookup_fetch(vocab, name).ok_or_else(|| {
            let hint =
                did_you_mean(name, vocab.fetch_names()).map(|s| format!("did you mean '{s}'?"));
            SampleError::new(0, format!("unknown fetch method '{name}'")).with_hint(hint)
        })?,
    };

    // A per-counter fetch rewritten to its generic form takes the counter
    // number as first argument; the text supplies the others.
    let types = match counter {
        Some(_) => def.args.get(1..).unwrap_or(&[]),
        None => def.args,
    };
    let min = usize::from(def.min_args).saturating_sub(usize::from(counter.is_some()));
    let parsed = parse_args(text, name_end, types, min).map_err(|e| {
        // HAProxy words these differently for ACL keywords (parse_acl_expr).
        let message = match (e.kind, forced.is_some()) {
            (ArgErrorKind::Syntax, false) => format!("fetch method '{name}' : {}", e.message),
            (ArgErrorKind::Syntax, true) => format!("ACL keyword '{name}' : {}", e.message),
            (ArgErrorKind::Invalid, false) => {
                format!("invalid args in fetch method '{name}' : {}", e.message)
            }
            (ArgErrorKind::Invalid, true) => format!("in argument to '{name}', {}", e.message),
        };
        SampleError::new(e.offset, message).with_hint(e.hint)
    })?;
    let mut args = parsed.args;
    // smp_check_const_bool: `bool(<bool>)` takes a boolean's text.
    if def.name == "bool" {
        if let Some(Arg::Str(a)) = args.first() {
            if !["true", "false", "1", "0"]
                .iter()
                .any(|w| a.eq_ignore_ascii_case(w))
            {
                return Err(SampleError::new(
                    name_end,
                    "invalid args in fetch method 'bool' : Expects 'true', 'false', '0' or '1'",
                ));
            }
        }
    }
    if let Some(n) = counter {
        args.insert(0, Arg::Int(n));
    }
    let fetch = FetchCall { def, args };

    // Converters.
    let mut converters = Vec::new();
    let mut prev_type = def.out;
    let mut pos = parsed.end;
    let mut last_conv: Option<&str> = None;
    loop {
        match bytes.get(pos) {
            None => break,
            Some(b',') => {}
            Some(_) => {
                if mode == Mode::Prefix {
                    break;
                }
                let message = match last_conv {
                    Some(c) => format!("missing comma after converter '{c}'"),
                    None => "missing comma after fetch keyword".to_string(),
                };
                return Err(SampleError::new(pos, message));
            }
        }
        // HAProxy tolerates repeated commas.
        while bytes.get(pos) == Some(&b',') {
            pos += 1;
        }
        if pos >= bytes.len() {
            break;
        }
        let conv_start = pos;
        let conv_end = ident_end(bytes, pos);
        let conv_name = text.get(conv_start..conv_end).unwrap_or("");
        let Some(conv) = vocab.converter(conv_name) else {
            let hint = did_you_mean(conv_name, vocab.converters.iter().map(|c| c.name))
                .map(|s| format!("did you mean '{s}'?"));
            return Err(
                SampleError::new(conv_start, format!("unknown converter '{conv_name}'"))
                    .with_hint(hint),
            );
        };
        if !cast_allowed(prev_type, conv.input) {
            return Err(SampleError::new(
                conv_start,
                format!("converter '{conv_name}' cannot be applied"),
            )
            .with_hint(Some(format!(
                "'{conv_name}' takes {} input, the previous output is {}",
                type_name(conv.input),
                type_name(prev_type)
            ))));
        }
        prev_type = next_type(prev_type, conv);
        let parsed = parse_args(text, conv_end, conv.args, usize::from(conv.min_args)).map_err(
            |e| match e.kind {
                ArgErrorKind::Syntax => SampleError::new(
                    e.offset,
                    format!(
                        "invalid arg {} in converter '{conv_name}' : {}",
                        e.arg_pos + 1,
                        e.message
                    ),
                )
                .with_hint(e.hint),
                ArgErrorKind::Invalid => SampleError::new(
                    e.offset,
                    format!("invalid args in converter '{conv_name}' : {}", e.message),
                ),
            },
        )?;
        let mut args = parsed.args;
        refine_conv_args(conv_name, &mut args).map_err(|e| {
            let message = match e.kind {
                ArgErrorKind::Syntax => format!(
                    "invalid arg {} in converter '{conv_name}' : {}",
                    e.arg_pos + 1,
                    e.message
                ),
                ArgErrorKind::Invalid => {
                    format!("invalid args in converter '{conv_name}' : {}", e.message)
                }
            };
            SampleError::new(conv_start, message)
        })?;
        converters.push(ConvCall { def: conv, args });
        pos = parsed.end;
        last_conv = Some(conv_name);
    }

    let expr = SampleExpr {
        fetch,
        converters,
        text: text.get(..pos).unwrap_or(text).to_string(),
    };
    Ok((expr, pos))
}

/// the generic `sc_<x>(<ctr>,...)` and returns the counter number.
fn lookup_fetch(vocab: Vocab, name: &str) -> Option<(&'static FetchDef, Option<i64>)> {
    if let Some(def) = vocab.sample_fetch(name) {
        return Some((def, None));
    }
    let rest = name.strip_prefix("sc")?;
    let mut chars = rest.chars();
    let digit = chars.next()?.to_digit(10)?;
    // HAProxy registers sc0_* to sc2_*; higher counters use the sc_* form.
    if digit > 2 {
        return None;
    }
    let tail = chars.as_str().strip_prefix('_')?;
    let generic = vocab.sample_fetch(&format!("sc_{tail}"))?;
    match generic.args.first() {
        Some(ArgType::Int) => Some((generic, Some(i64::from(digit)))),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::args::{convert_arg, parse_i64, parse_size, parse_time_ms, v6_mask, Convert};
    use super::*;

    // A small vocabulary taken from the manual (7.3), so that these tests do
    // not depend on the generated tables; `real_tables_*` tests below use the
    // real ones.
    pub(crate) static FETCHES: &[FetchDef] = &[
        fetch("src", &[], 0, SmpType::Addr),
        fetch("path", &[], 0, SmpType::Str),
        fetch("method", &[], 0, SmpType::Meth),
        fetch("always_true", &[], 0, SmpType::Bool),
        fetch("hdr", &[ArgType::Str, ArgType::Int], 0, SmpType::Str),
        fetch("req.hdr", &[ArgType::Str, ArgType::Int], 0, SmpType::Str),
        fetch("req.fhdr", &[ArgType::Str, ArgType::Int], 1, SmpType::Str),
        fetch("req.hdr_cnt", &[ArgType::Str], 0, SmpType::Int),
        fetch("hdr_val", &[ArgType::Str, ArgType::Int], 0, SmpType::Int),
        fetch(
            "req.hdr_val",
            &[ArgType::Str, ArgType::Int],
            0,
            SmpType::Int,
        ),
        fetch(
            "url_param",
            &[ArgType::Str, ArgType::Str, ArgType::Str],
            0,
            SmpType::Str,
        ),
        fetch(
            "req.payload",
            &[ArgType::Int, ArgType::Int],
            2,
            SmpType::Bin,
        ),
        fetch("var", &[ArgType::Var, ArgType::Str], 1, SmpType::Any),
        fetch("nbsrv", &[ArgType::Proxy], 0, SmpType::Int),
        fetch("srv_id", &[], 0, SmpType::Int),
        fetch("srv_is_up", &[ArgType::Server], 1, SmpType::Bool),
        fetch("http_auth", &[ArgType::Userlist], 1, SmpType::Bool),
        fetch(
            "sc_conn_cnt",
            &[ArgType::Int, ArgType::Table],
            1,
            SmpType::Int,
        ),
        fetch("sc0_conn_cnt", &[ArgType::Table], 0, SmpType::Int),
        fetch("req.ssl_ver", &[], 0, SmpType::Int),
        fetch("bytes_in", &[], 0, SmpType::Int),
        fetch("url", &[], 0, SmpType::Str),
        fetch("req.len", &[], 0, SmpType::Int),
        fetch("wait_end", &[], 0, SmpType::Bool),
        fetch("always_false", &[], 0, SmpType::Bool),
        fetch("req.proto_http", &[], 0, SmpType::Bool),
        fetch("req.ver", &[], 0, SmpType::Str),
        fetch("req.rdp_cookie_cnt", &[ArgType::Str], 0, SmpType::Int),
        fetch("hdr_ip", &[ArgType::Str, ArgType::Int], 0, SmpType::Addr),
        // ACL derivatives have a definition of their own (see the table).
        fetch("hdr_beg", &[ArgType::Str, ArgType::Int], 0, SmpType::Str),
        fetch("path_len", &[], 0, SmpType::Str),
        fetch("path_beg", &[], 0, SmpType::Str),
        fetch("url_reg", &[], 0, SmpType::Str),
        fetch("url_beg", &[], 0, SmpType::Str),
    ];

    pub(crate) static CONVERTERS: &[ConvDef] = &[
        conv("lower", &[], 0, SmpType::Str, SmpType::Str),
        conv("upper", &[], 0, SmpType::Str, SmpType::Str),
        conv("hex", &[], 0, SmpType::Bin, SmpType::Str),
        conv("base64", &[], 0, SmpType::Bin, SmpType::Str),
        conv("add", &[ArgType::Str], 1, SmpType::Int, SmpType::Int),
        conv("mul", &[ArgType::Str], 1, SmpType::Int, SmpType::Int),
        conv("bool", &[], 0, SmpType::Int, SmpType::Bool),
        conv(
            "ipmask",
            &[ArgType::Str, ArgType::Str],
            1,
            SmpType::Addr,
            SmpType::Addr,
        ),
        conv(
            "map",
            &[ArgType::File, ArgType::Str],
            1,
            SmpType::Str,
            SmpType::Str,
        ),
        conv(
            "field",
            &[ArgType::Int, ArgType::Str, ArgType::Int],
            2,
            SmpType::Str,
            SmpType::Str,
        ),
        conv(
            "regsub",
            &[ArgType::Regex, ArgType::Str, ArgType::Str],
            2,
            SmpType::Str,
            SmpType::Str,
        ),
        conv(
            "set-var",
            &[ArgType::Var, ArgType::Str],
            1,
            SmpType::Any,
            SmpType::Any,
        ),
        conv(
            "json_query",
            &[ArgType::Str, ArgType::Str],
            1,
            SmpType::Str,
            SmpType::Any,
        ),
        conv(
            "in_table",
            &[ArgType::Table],
            0,
            SmpType::Any,
            SmpType::Bool,
        ),
        conv(
            "iif",
            &[ArgType::Str, ArgType::Str],
            2,
            SmpType::Bool,
            SmpType::Str,
        ),
        conv(
            "concat",
            &[ArgType::Str, ArgType::Str, ArgType::Str],
            0,
            SmpType::Str,
            SmpType::Str,
        ),
        conv(
            "add_item",
            &[ArgType::Str, ArgType::Str, ArgType::Str],
            2,
            SmpType::Str,
            SmpType::Str,
        ),
        conv(
            "ltime",
            &[ArgType::Str, ArgType::Int],
            1,
            SmpType::Int,
            SmpType::Str,
        ),
    ];

    pub(crate) static DERIVATIVES: &[(&str, &str, &str)] = &[
        ("hdr_beg", "hdr", "beg"),
        ("hdr", "req.hdr", "str"),
        ("path_len", "path", "len"),
        ("path_beg", "path", "beg"),
        ("path", "path", "str"),
        ("method", "method", "str"),
        ("url_reg", "url", "reg"),
        ("url_beg", "url", "beg"),
        ("req.ssl_ver", "req.ssl_ver", "int"),
        ("req.payload", "req.payload", "bin"),
    ];

    const fn fetch(
        name: &'static str,
        args: &'static [ArgType],
        min_args: u8,
        out: SmpType,
    ) -> FetchDef {
        FetchDef {
            name,
            args,
            min_args,
            out,
            deprecated: false,
            usage: "",
        }
    }

    const fn conv(
        name: &'static str,
        args: &'static [ArgType],
        min_args: u8,
        input: SmpType,
        out: SmpType,
    ) -> ConvDef {
        ConvDef {
            name,
            args,
            min_args,
            input,
            out,
            usage: "",
        }
    }

    pub(crate) fn vocab() -> Vocab {
        Vocab {
            fetches: FETCHES,
            converters: CONVERTERS,
            acl_derivatives: DERIVATIVES,
        }
    }

    fn p(text: &str) -> Result<SampleExpr, SampleError> {
        parse_sample_in(text, vocab())
    }

    fn err(text: &str) -> String {
        p(text).expect_err(text).message
    }

    #[test]
    fn bare_fetch() {
        let e = p("src").unwrap();
        assert_eq!(e.fetch.def.name, "src");
        assert!(e.fetch.args.is_empty());
        assert!(e.converters.is_empty());
        assert_eq!(e.text, "src");
        assert_eq!(e.out_type(), SmpType::Addr);
    }

    #[test]
    fn fetch_with_args_and_converters() {
        let e = p("req.hdr(host,1),lower,map(/etc/x.map,default)").unwrap();
        assert_eq!(e.fetch.def.name, "req.hdr");
        assert_eq!(e.fetch.args, vec![Arg::Str("host".into()), Arg::Int(1)]);
        assert_eq!(e.converters.len(), 2);
        assert_eq!(e.converters[0].def.name, "lower");
        assert_eq!(e.converters[1].def.name, "map");
        assert_eq!(
            e.converters[1].args,
            vec![Arg::File("/etc/x.map".into()), Arg::Str("default".into())]
        );
        assert_eq!(e.out_type(), SmpType::Str);
    }

    #[test]
    fn optional_args_may_be_omitted_or_empty() {
        assert!(p("hdr").unwrap().fetch.args.is_empty());
        // `()` gives one empty string argument, like HAProxy.
        assert_eq!(
            p("hdr()").unwrap().fetch.args,
            vec![Arg::Str(String::new())]
        );
        // An empty optional integer ends the list.
        assert_eq!(
            p("hdr(host,)").unwrap().fetch.args,
            vec![Arg::Str("host".into())]
        );
        // A mandatory string argument without parentheses is an empty one.
        assert_eq!(
            p("req.fhdr").unwrap().fetch.args,
            vec![Arg::Str(String::new())]
        );
    }

    #[test]
    fn quotes_and_escapes_in_args() {
        let e = p(r#"url_param('a,b',"c)d",e\ f)"#).unwrap();
        assert_eq!(
            e.fetch.args,
            vec![
                Arg::Str("a,b".into()),
                Arg::Str("c)d".into()),
                Arg::Str("e f".into())
            ]
        );
        let e = p(r"url_param(a\tb,\x)").unwrap();
        assert_eq!(
            e.fetch.args,
            vec![Arg::Str("a\tb".into()), Arg::Str(r"\x".into())]
        );
    }

    #[test]
    fn too_many_args() {
        // haproxy 2.6 (where url_param takes 2 arguments, 3.2 takes 3):
        // "fetch method 'url_param' : expected ')' before ',c,d)'"
        let e = p("url_param(a,b,c,d)").unwrap_err();
        assert_eq!(
            e.message,
            "fetch method 'url_param' : expected ')' before ',d)'"
        );
        assert_eq!(e.offset, 15);
        assert_eq!(
            e.hint.as_deref(),
            Some("this keyword takes at most 3 arguments")
        );
        // haproxy 2.6: "fetch method 'src' : expected ')' before '1)'"
        assert_eq!(
            err("src(1)"),
            "fetch method 'src' : expected ')' before '1)'"
        );
        assert_eq!(
            err("hdr(host,1,2)"),
            "fetch method 'hdr' : expected ')' before ',2)'"
        );
    }

    #[test]
    fn missing_or_bad_args() {
        assert_eq!(
            err("req.payload(0)"),
            "fetch method 'req.payload' : missing arguments (got 1/2), type 'integer' expected"
        );
        assert_eq!(
            err("req.payload"),
            "fetch method 'req.payload' : expected type 'integer' at position 1, but got nothing"
        );
        assert_eq!(
            err("req.payload(0,x)"),
            "fetch method 'req.payload' : failed to parse 'x' as type 'integer' at position 2"
        );
        assert_eq!(err("hdr(host"), "fetch method 'hdr' : expected ')'");
        assert_eq!(
            err("path,field(1)"),
            "invalid arg 2 in converter 'field' : missing arguments (got 1/2), type 'string' expected"
        );
        assert_eq!(
            err("path,lower(1)"),
            "invalid arg 1 in converter 'lower' : expected ')' before '1)'"
        );
        // An empty argument list is fine for a keyword without arguments.
        assert!(p("path,lower()").is_ok());
    }

    #[test]
    fn unknown_keywords_suggest() {
        let e = p("req.hdrr(host)").unwrap_err();
        assert_eq!(e.message, "unknown fetch method 'req.hdrr'");
        assert_eq!(e.hint.as_deref(), Some("did you mean 'req.hdr'?"));
        // haproxy 2.6: "unknown converter 'lowr'"
        let e = p("src,lowr").unwrap_err();
        assert_eq!(e.message, "unknown converter 'lowr'");
        assert_eq!(e.offset, 4);
        assert_eq!(e.hint.as_deref(), Some("did you mean 'lower'?"));
        assert_eq!(err(""), "missing fetch method");
        assert_eq!(err("(x)"), "missing fetch method");
    }

    #[test]
    fn acl_derivatives_are_not_fetches() {
        // haproxy 2.6: "unknown fetch method 'hdr_beg'" in a log-format.
        assert_eq!(err("hdr_beg(host)"), "unknown fetch method 'hdr_beg'");
        assert_eq!(err("path_len"), "unknown fetch method 'path_len'");
        // ... but a derivative named like its base is the fetch, and a few
        // others are fetch aliases (haproxy 2.6 accepts %[hdr(host)]).
        assert!(p("path").is_ok());
        assert!(p("hdr(host)").is_ok());
    }

    #[test]
    fn converter_type_chaining() {
        // haproxy 2.6 accepts all of these.
        assert!(p("src,lower").is_ok());
        assert!(p("path,add(1)").is_ok());
        assert!(p("method,lower").is_ok());
        assert!(p("req.hdr(x),ipmask(24),lower").is_ok());
        assert!(p("path,ipmask(24)").is_ok());
        // haproxy 2.6: "converter 'add' cannot be applied" (bin -> int).
        let e = p("req.payload(0,1),add(1)").unwrap_err();
        assert_eq!(e.message, "converter 'add' cannot be applied");
        assert_eq!(e.offset, 17);
        // haproxy 2.6: "converter 'ipmask' cannot be applied" (bool -> addr).
        assert_eq!(
            err("always_true,ipmask(3)"),
            "converter 'ipmask' cannot be applied"
        );
        // 3.2 declares `src` as an address (2.6 as IPv4, where this works):
        // addr -> int has no cast in 3.2's matrix.
        assert_eq!(err("src,add(1)"), "converter 'add' cannot be applied");
        // bool -> bin -> str works, bin -> int does not.
        assert!(p("always_true,hex").is_ok());
    }

    #[test]
    fn ipmask_takes_masks() {
        let e = p("src,ipmask(24,64)").unwrap();
        assert_eq!(
            e.converters[0].args,
            vec![
                Arg::Ipv4(Ipv4Addr::new(255, 255, 255, 0)),
                Arg::Ipv6(v6_mask(64))
            ]
        );
        // haproxy 2.6 accepts dotted masks, even non-contiguous ones, and
        // IPv6 addresses as IPv6 masks.
        assert!(p("src,ipmask(255.0.255.0,ffff::)").is_ok());
        // haproxy 2.6 messages:
        assert_eq!(
            err("src,ipmask(33)"),
            "invalid arg 1 in converter 'ipmask' : failed to parse '33' as type 'IPv4 mask' at position 1"
        );
        assert_eq!(
            err("src,ipmask(24,129)"),
            "invalid arg 2 in converter 'ipmask' : failed to parse '129' as type 'IPv6 mask' at position 2"
        );
    }

    #[test]
    fn arithmetic_takes_int_or_var() {
        let e = p("path,add(-3),mul(txn.n)").unwrap();
        assert_eq!(e.converters[0].args, vec![Arg::Int(-3)]);
        assert_eq!(
            e.converters[1].args,
            vec![Arg::Var {
                scope: VarScope::Txn,
                name: "n".into()
            }]
        );
        // haproxy 2.6: "invalid args in converter 'add' : expects an integer
        // or a variable name"
        assert_eq!(
            err("path,add(x)"),
            "invalid args in converter 'add' : expects an integer or a variable name"
        );
    }

    #[test]
    fn any_types() {
        // var() is of any type: every converter applies.
        assert!(p("var(txn.x),add(1)").is_ok());
        // set-var passes its input type through.
        let e = p("req.payload(0,1),set-var(txn.x),hex").unwrap();
        assert_eq!(e.out_type(), SmpType::Str);
        assert_eq!(
            err("req.payload(0,1),set-var(txn.x),add(1)"),
            "converter 'add' cannot be applied"
        );
        // json_query's output depends on its arguments: anything goes.
        assert!(p("path,json_query('$.a'),add(1)").is_ok());
    }

    #[test]
    fn missing_comma() {
        assert_eq!(err("path lower"), "missing comma after fetch keyword");
        assert_eq!(err("path,lower x"), "missing comma after converter 'lower'");
        assert_eq!(err("hdr(a)b"), "missing comma after fetch keyword");
        // Repeated and trailing commas are tolerated, as in HAProxy.
        let e = p("path,,lower,").unwrap();
        assert_eq!(e.converters.len(), 1);
    }

    #[test]
    fn prefix_mode_stops_at_first_foreign_char() {
        let (e, end) = parse_sample_prefix_in("req.hdr(host),lower]rest", vocab()).unwrap();
        assert_eq!(end, 19);
        assert_eq!(e.text, "req.hdr(host),lower");
        let (e, end) = parse_sample_prefix_in("src]", vocab()).unwrap();
        assert_eq!((e.text.as_str(), end), ("src", 3));
    }

    #[test]
    fn variables() {
        let e = p("var(txn.my_var)").unwrap();
        assert_eq!(
            e.fetch.args,
            vec![Arg::Var {
                scope: VarScope::Txn,
                name: "my_var".into()
            }]
        );
        // haproxy 2.6 accepts dots in the name.
        assert!(p("var(txn.a.b)").is_ok());
        // smp_check_const_bool.
        let full = |t: &str| parse_sample_in(t, Vocab::builtin());
        for ok in ["bool(true)", "bool(FALSE)", "bool(0)"] {
            assert!(full(ok).is_ok(), "{ok}: {:?}", full(ok).err());
        }
        assert_eq!(
            full("bool(yes)").unwrap_err().message,
            "invalid args in fetch method 'bool' : Expects 'true', 'false', '0' or '1'"
        );
        // 3.2 knows the parent-stream scopes (2.6 refuses ptxn).
        assert!(p("var(ptxn.x,default)").is_ok());
        // haproxy 2.6: "invalid args in fetch method 'var' : invalid syntax at char '-b'"
        assert_eq!(
            err("var(txn.a-b)"),
            "invalid args in fetch method 'var' : invalid syntax at char '-b'"
        );
        assert!(err("var(foo.x)").starts_with(
            "invalid args in fetch method 'var' : invalid variable name 'foo.x'. A variable name must be start by its scope."
        ));
        assert!(err("var(txn.)").contains("invalid variable name 'txn.'"));
        assert!(err("var(TXN.x)").contains("invalid variable name 'TXN.x'"));
        // haproxy 2.6: "Empty variable name cannot be accepted", with or without ().
        assert_eq!(
            err("var()"),
            "invalid args in fetch method 'var' : Empty variable name cannot be accepted"
        );
        assert_eq!(
            err("var"),
            "invalid args in fetch method 'var' : Empty variable name cannot be accepted"
        );
        assert_eq!(
            err("path,set-var(foo)"),
            "invalid args in converter 'set-var' : invalid variable name 'foo'. A variable name must be start by its scope. The scope can be 'proc', 'sess', 'txn', 'req', 'res', 'check', 'psess', 'ptxn', 'preq' or 'pres'."
        );
        // An empty optional string before a variable is fine.
        assert!(p("path,concat(,txn.x,)").is_ok());
    }

    #[test]
    fn concat_and_add_item_take_an_optional_variable() {
        let var_arg = |text: &str| p(text).map(|e| e.converters[0].args.get(1).cloned());
        // haproxy 2.6: all valid; an empty variable name means none.
        assert_eq!(
            var_arg("path,concat(b,,)"),
            Ok(Some(Arg::Str(String::new())))
        );
        assert!(p("path,concat(,,)").is_ok());
        assert_eq!(
            var_arg("path,add_item(',',txn.b)"),
            Ok(Some(Arg::Var {
                scope: VarScope::Txn,
                name: "b".into()
            }))
        );
        assert!(p("path,add_item(',',,sfx)").is_ok());
        // haproxy 2.6's messages.
        assert_eq!(
            err("path,concat(a,bad,)"),
            "invalid args in converter 'concat' : failed to register variable name 'bad'"
        );
        assert_eq!(
            err("path,add_item(',',,)"),
            "invalid args in converter 'add_item' : one of the optional arguments has to be nonempty"
        );
        assert_eq!(
            err("path,add_item(',')"),
            "invalid arg 2 in converter 'add_item' : missing arguments (got 1/2), type 'string' expected"
        );
    }

    #[test]
    fn stick_counters() {
        // sc0_ is in the table as written.
        let e = p("sc0_conn_cnt(t1)").unwrap();
        assert_eq!(e.fetch.def.name, "sc0_conn_cnt");
        assert_eq!(e.fetch.args, vec![Arg::Table("t1".into())]);
        // sc1_ is not in this small table: it becomes sc_conn_cnt(1,...).
        let e = p("sc1_conn_cnt(t1)").unwrap();
        assert_eq!(e.fetch.def.name, "sc_conn_cnt");
        assert_eq!(e.fetch.args, vec![Arg::Int(1), Arg::Table("t1".into())]);
        let e = p("sc2_conn_cnt").unwrap();
        assert_eq!(e.fetch.args, vec![Arg::Int(2)]);
        // haproxy 2.6: "unknown fetch method 'sc3_conn_cnt'"
        assert_eq!(err("sc3_conn_cnt"), "unknown fetch method 'sc3_conn_cnt'");
        assert!(p("sc_conn_cnt(4,t)").is_ok());
    }

    #[test]
    fn resolved_later_args() {
        assert_eq!(
            p("nbsrv(be1)").unwrap().fetch.args,
            vec![Arg::Proxy("be1".into())]
        );
        assert_eq!(
            p("srv_is_up(be1/s1)").unwrap().fetch.args,
            vec![Arg::Server {
                backend: Some("be1".into()),
                server: "s1".into()
            }]
        );
        assert_eq!(
            p("srv_is_up(s1)").unwrap().fetch.args,
            vec![Arg::Server {
                backend: None,
                server: "s1".into()
            }]
        );
        assert!(err("srv_is_up(be1/)").contains("missing server name"));
        assert!(err("http_auth()").contains("missing userlist name"));
        assert_eq!(
            p("http_auth(users)").unwrap().fetch.args,
            vec![Arg::Userlist("users".into())]
        );
        assert_eq!(
            p("path,in_table(t)").unwrap().converters[0].args,
            vec![Arg::Table("t".into())]
        );
        assert!(err("path,map()").contains("missing file name"));
    }

    #[test]
    fn regex_args_are_checked() {
        // An unquoted ')' ends an argument, as in HAProxy: quote regexes.
        assert!(p("path,regsub('^/a(.*)',/b\\1)").is_ok());
        assert_eq!(
            err("path,regsub(^/a(.*),/b)"),
            "invalid arg 2 in converter 'regsub' : missing arguments (got 1/2), type 'string' expected"
        );
        let e = err("path,regsub('^/(a',x)");
        assert_eq!(
            e,
            "invalid args in converter 'regsub' : error in regex '^/(a' : missing closing parenthesis at offset 4"
        );
    }

    #[test]
    fn regex_checker() {
        for ok in [
            "^[^/:]*://",
            "a|b",
            "(?i)abc",
            "(?:a|b)+?",
            "a{2,3}",
            "a{,3}",
            "[]a]",
            "[[:alpha:]]+",
            "[[:^space:]x]",
            r"\Q(\E",
            "a*+",
            "x{",
            r"\(",
        ] {
            assert!(check_regex(ok).is_ok(), "{ok}");
        }
        for (bad, reason) in [
            ("^x(", "missing closing parenthesis"),
            ("x)", "unmatched closing parenthesis"),
            ("[abc", "missing terminating ] for character class"),
            ("abc\\", "\\ at end of pattern"),
            ("*a", "quantifier does not follow a repeatable item"),
            ("a|+", "quantifier does not follow a repeatable item"),
            ("a**", "quantifier does not follow a repeatable item"),
            ("({2})", "quantifier does not follow a repeatable item"),
            // haproxy 2.6 (PCRE2): "unknown POSIX class name, erroffset=3"
            ("[[:foo:]]", "unknown POSIX class name"),
        ] {
            assert_eq!(check_regex(bad).unwrap_err().reason, reason, "{bad}");
        }
    }

    #[test]
    fn typed_scalars() {
        assert_eq!(parse_i64("-12"), Some(-12));
        assert_eq!(parse_i64("+7"), Some(7));
        assert_eq!(parse_i64("+-7"), None);
        assert_eq!(parse_i64("1x"), None);
        assert_eq!(parse_i64("99999999999999999999"), None);
        assert_eq!(parse_time_ms("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_time_ms("250"), Some(Duration::from_millis(250)));
        assert_eq!(parse_time_ms("5us"), Some(Duration::from_micros(5)));
        assert_eq!(parse_time_ms("2d"), Some(Duration::from_secs(172_800)));
        assert_eq!(parse_time_ms("1w"), None);
        assert_eq!(parse_time_ms("50d"), None);
        assert_eq!(parse_size("16k"), Some(16384));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("4g"), None);
        assert_eq!(parse_size("1kb"), None);
        assert_eq!(v4_mask(24), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(v4_mask(0), Ipv4Addr::new(0, 0, 0, 0));
        assert_eq!(v6_mask(128), Ipv6Addr::from(u128::MAX));
        assert_eq!(
            convert_arg(ArgType::Ipv4, "24", 0).ok(),
            Some(Arg::Ipv4(Ipv4Addr::new(255, 255, 255, 0)))
        );
        assert_eq!(
            convert_arg(ArgType::Ipv6, "::1", 0).ok(),
            Some(Arg::Ipv6(Ipv6Addr::LOCALHOST))
        );
        assert!(convert_arg(ArgType::Ipv4, "33", 0).ok().is_none());
        assert_eq!(
            convert_arg(ArgType::Time, "3s", 0).ok(),
            Some(Arg::Time(Duration::from_secs(3)))
        );
        assert_eq!(
            convert_arg(ArgType::Size, "2k", 0).ok(),
            Some(Arg::Size(2048))
        );
    }

    impl Convert {
        fn ok(self) -> Option<Arg> {
            match self {
                Convert::Ok(a) => Some(a),
                _ => None,
            }
        }
    }

    #[test]
    fn cast_matrix() {
        use SmpType::*;
        assert!(cast_allowed(Str, Meth));
        assert!(cast_allowed(Meth, Str));
        assert!(!cast_allowed(Meth, Int));
        assert!(!cast_allowed(Ipv4, Bool));
        assert!(cast_allowed(Ipv4, Int));
        assert!(!cast_allowed(Ipv6, Int));
        assert!(!cast_allowed(Addr, Int));
        assert!(cast_allowed(Bool, Bin));
        assert!(!cast_allowed(Bin, Int));
        assert!(cast_allowed(Any, Ipv6));
        assert!(cast_allowed(Bin, Any));
    }

    #[test]
    fn never_panics_on_odd_input() {
        for t in [
            "(",
            ")",
            ",",
            "a(",
            "a(,",
            "a(\\",
            "hdr(\\",
            "hdr('",
            "hdr(\"a",
            "hdr)",
            "src,",
            "src,,",
            "src,(",
            "src,lower(",
            "src,lower(\\",
            "é",
            "hdr(é,1)",
            "var(txn.é)",
            "sc",
            "sc9",
            "sc1_",
            "sc1_x",
            "path,regsub([,x)",
            "path,regsub(\\Q,x)",
            "path,regsub([[:,x)",
        ] {
            let _ = p(t);
            let _ = parse_sample_prefix_in(t, vocab());
            let _ = parse_sample(t);
        }
    }

    #[test]
    fn real_tables_when_present() {
        // Runs against the generated tables once they are filled in.
        if keywords::fetch("req.hdr").is_none() {
            return;
        }
        let e = parse_sample("req.hdr(host),lower").unwrap();
        assert_eq!(e.fetch.def.name, "req.hdr");
        assert!(parse_sample("src,ipmask(24)").is_ok());
        assert!(parse_sample("sc1_conn_cnt").is_ok());
        assert!(parse_sample("hdr_beg(host)").is_err());
    }
}

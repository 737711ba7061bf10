//! `option tcp-check`: the `tcp-check connect|send|send-binary|expect`
//! sequence (tcpcheck.c `tcpcheck_main`), its step numbers and its
//! messages as HAProxy 2.6 words them. The rules are compiled here, sans
//! I/O; `run.rs` drives them over a connection.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;

use ringlb_config::addr::{Address, Host, Port};
use ringlb_config::model::{CheckStep, CheckStepKind, ExpectKind, VarCond};
use ringlb_config::sample::VarScope;
use ringlb_proto::msg::Head;

use super::health::Status;
use crate::engine::rules::env::{Env, Vars};
use crate::engine::rules::expr::Expr;
use crate::engine::rules::fetch::Ctx;
use crate::engine::rules::logfmt::Fmt;
use crate::engine::rules::sample::Smp;

/// The PROXY header of a check's connection. A check has no client:
/// HAProxy (conn_send_proxy without a stream) describes the check's own
/// connection, so v1 says `PROXY TCP4 <local> <server> <lport> <sport>`,
/// and v2, for a connection it initiated, the LOCAL command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyHeader {
    V1,
    V2,
}

impl ProxyHeader {
    /// The header for a connection from `local` to `peer` (None: not
    /// TCP over IP).
    pub fn bytes(
        self,
        local: Option<std::net::SocketAddr>,
        peer: Option<std::net::SocketAddr>,
    ) -> Vec<u8> {
        match self {
            ProxyHeader::V1 => match (local, peer) {
                (Some(l), Some(p)) if l.is_ipv4() == p.is_ipv4() => format!(
                    "PROXY {} {} {} {} {}\r\n",
                    if l.is_ipv4() { "TCP4" } else { "TCP6" },
                    l.ip(),
                    p.ip(),
                    l.port(),
                    p.port()
                )
                .into_bytes(),
                _ => b"PROXY UNKNOWN\r\n".to_vec(),
            },
            // The signature, version 2 LOCAL, AF_UNSPEC, no address.
            ProxyHeader::V2 => b"\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00".to_vec(),
        }
    }
}

/// A `connect` rule (tcpcheck_eval_connect).
#[derive(Debug, Clone, Default)]
pub struct Connect {
    /// `port <n>`.
    pub port: Option<u16>,
    /// `port <expr>` (a sample expression, evaluated at connect time).
    pub port_expr: Option<Arc<Expr>>,
    /// `addr <ip>[:<port>]`.
    pub addr: Option<IpAddr>,
    pub addr_port: Option<u16>,
    /// `send-proxy`: a PROXY header first.
    pub send_proxy: bool,
    /// `default`, or the implicit connect: the server's check settings
    /// (`check-send-proxy`) apply.
    pub default: bool,
    /// `linger`: close without a reset.
    pub linger: bool,
    /// The connect HAProxy adds when the rules do not start with one.
    pub implicit: bool,
}

#[derive(Debug, Clone)]
pub enum Action {
    Connect(Connect),
    Send(Vec<u8>),
    /// `send-lf` / `send-binary-lf`: a log-format string rendered at send
    /// time (for the binary form, as hexadecimal digits).
    SendLf {
        fmt: Arc<Fmt>,
        binary: bool,
    },
    Expect {
        negate: bool,
        what: TcpMatch,
        opts: Box<ExpectOpts>,
    },
    /// `option ssl-hello-chk`'s SSLv3 CLIENT HELLO (its time field is
    /// now).
    SendSslHello,
    /// `http-check send`: an HTTP request.
    HttpSend(Box<super::http::Request>),
    /// `http-check expect` rules in a row, over one response.
    HttpExpect(Box<super::http::Expects>),
    /// `set-var(<scope>.<name>[,<cond>...]) <expr>`.
    SetVar {
        scope: VarScope,
        name: String,
        conds: Vec<VarCond>,
        expr: Arc<Expr>,
    },
    /// `unset-var(<scope>.<name>)`.
    UnsetVar {
        scope: VarScope,
        name: String,
    },
}

/// The status-code an expect rule sets (`status-code <expr>`).
#[derive(Debug, Clone)]
pub enum StatusCode {
    /// The protocol checks' `res.payload(0,3)`.
    Reply,
    Expr(Arc<Expr>),
}

/// What an expect rule sets besides its pattern.
#[derive(Debug, Clone)]
pub struct ExpectOpts {
    /// `error-status` (L7RSP by default).
    pub error: Status,
    /// `ok-status` (L7OK by default).
    pub ok: Status,
    /// `tout-status` (L7TOUT by default).
    pub tout: Status,
    /// `min-recv`: a mismatch with this many bytes is final.
    pub min_recv: Option<usize>,
    /// `on-error`: the info of a failure.
    pub on_error: Words,
    /// `on-success`: the info of a success.
    pub on_success: Words,
    /// `status-code`: the check's code.
    pub status_code: Option<StatusCode>,
}

/// The info an expect rule gives (its `on-error` / `on-success`
/// log-format, or as HAProxy's built-in rules write them).
#[derive(Debug, Clone)]
pub enum Words {
    /// HAProxy's own: "TCPCHK did not match ..." / "(tcp-check)" for a
    /// user's tcp-check, nothing for a protocol check.
    Generic,
    Text(&'static str),
    /// `%[res.payload(0,0),cut_crlf]`: the first line received.
    Line,
    /// `%[res.payload(4,0),ltrim(' '),cut_crlf]`: the first line after its
    /// three-digit code.
    AfterCode,
    /// `%[res.payload(<n>,0)]`: what came from offset n, up to a NUL (the
    /// info is a C string in HAProxy).
    From(usize),
    /// A user's log-format string.
    Fmt(Arc<Fmt>),
}

/// Who runs a check, for its log-format strings and sample expressions
/// (HAProxy's check session: its proxy, its server, its variables).
#[derive(Debug, Clone, Copy, Default)]
pub struct Who<'a> {
    pub backend: &'a str,
    pub backend_id: Option<i64>,
    pub server: &'a str,
    pub server_id: Option<i64>,
}

/// The [`Env`] of a check: no client, no frontend (a check's session has
/// its backend as its frontend), the bytes received as `res.payload`.
struct CheckEnv<'a> {
    who: Who<'a>,
    data: &'a [u8],
}

impl Env for CheckEnv<'_> {
    fn src(&self) -> Option<std::net::SocketAddr> {
        None
    }
    fn dst(&self) -> Option<std::net::SocketAddr> {
        None
    }
    fn frontend(&self) -> &str {
        self.who.backend
    }
    fn frontend_id(&self) -> Option<i64> {
        self.who.backend_id
    }
    fn backend(&self) -> Option<&str> {
        Some(self.who.backend)
    }
    fn backend_id(&self) -> Option<i64> {
        self.who.backend_id
    }
    fn server(&self) -> Option<crate::engine::rules::env::SrvName<'_>> {
        Some(crate::engine::rules::env::SrvName::Str(self.who.server))
    }
    fn server_id(&self) -> Option<i64> {
        self.who.server_id
    }
    fn res_payload(&self) -> Option<&[u8]> {
        Some(self.data)
    }
}

/// What a check's expressions run over: who, its variables, and the bytes
/// received so far.
#[derive(Clone, Copy, Debug)]
pub struct Cx<'a> {
    pub who: Who<'a>,
    pub vars: &'a Vars,
}

impl Cx<'_> {
    fn with<R>(&self, data: &[u8], f: impl FnOnce(&Ctx<'_>) -> R) -> R {
        let head = Head::new();
        let env = CheckEnv {
            who: self.who,
            data,
        };
        let mut cx = Ctx::new(&head, &env);
        cx.vars = Some(self.vars);
        f(&cx)
    }

    /// A log-format string over what came.
    pub fn render(&self, fmt: &Fmt, data: &[u8]) -> Vec<u8> {
        self.with(data, |cx| fmt.render(cx))
    }

    /// A sample expression over what came.
    pub fn eval(&self, e: &Expr, data: &[u8]) -> Option<Smp> {
        self.with(data, |cx| e.eval(cx))
    }

    /// A sample expression as an integer.
    pub fn int(&self, e: &Expr, data: &[u8]) -> Option<i64> {
        match self
            .eval(e, data)?
            .cast(ringlb_config::keywords::SmpType::Int)?
        {
            Smp::Int(n) => Some(n),
            _ => None,
        }
    }

    /// `set-var` / `unset-var`.
    pub fn run_var(&self, action: &Action, data: &[u8]) {
        match action {
            Action::SetVar {
                scope,
                name,
                conds,
                expr,
            } => {
                if let Some(v) = self.eval(expr, data) {
                    self.vars.set_if(*scope, name, v, conds);
                }
            }
            Action::UnsetVar { scope, name } => self.vars.unset(*scope, name),
            _ => {}
        }
    }
}

impl Words {
    /// The words over `data`, or None for the generic ones.
    pub(crate) fn over(&self, data: &[u8], cx: &Cx<'_>) -> Option<String> {
        match self {
            Words::Generic => None,
            Words::Text(t) => Some((*t).to_string()),
            Words::Line => Some(first_line(data)),
            Words::AfterCode => {
                let rest = data.get(4..).unwrap_or_default();
                let start = rest.iter().position(|&c| c != b' ').unwrap_or(rest.len());
                Some(first_line(rest.get(start..).unwrap_or_default()))
            }
            Words::From(n) => {
                let rest = data.get(*n..).unwrap_or_default();
                let end = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
                Some(String::from_utf8_lossy(rest.get(..end).unwrap_or_default()).into_owned())
            }
            Words::Fmt(f) => {
                let v = cx.render(f, data);
                // The info is a C string in HAProxy.
                let end = v.iter().position(|&c| c == 0).unwrap_or(v.len());
                Some(String::from_utf8_lossy(v.get(..end).unwrap_or_default()).into_owned())
            }
        }
    }
}

impl ExpectOpts {
    /// The code the rule sets, if it sets one.
    pub(crate) fn code(&self, data: &[u8], cx: &Cx<'_>) -> Option<u16> {
        match self.status_code.as_ref()? {
            StatusCode::Reply => Some(reply_code(data)),
            StatusCode::Expr(e) => cx
                .int(e, data)
                .map(|n| u16::try_from(n.clamp(0, 65535)).unwrap_or(0)),
        }
    }
}

/// `res.payload(0,3)` as an integer (0 when it is not one).
fn reply_code(data: &[u8]) -> u16 {
    std::str::from_utf8(data.get(..3).unwrap_or_default())
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

impl Default for ExpectOpts {
    fn default() -> Self {
        ExpectOpts {
            error: Status::L7Rsp,
            ok: Status::L7Ok,
            tout: Status::L7Tout,
            min_recv: None,
            on_error: Words::Generic,
            on_success: Words::Generic,
            status_code: None,
        }
    }
}

/// An `ok-status`/`error-status`/`tout-status` word.
pub(crate) fn status_word(w: &str) -> Option<Status> {
    Some(match w {
        "L7OK" => Status::L7Ok,
        "L7OKC" => Status::L7OkC,
        "L6OK" => Status::L6Ok,
        "L4OK" => Status::L4Ok,
        "L7RSP" => Status::L7Rsp,
        "L7STS" => Status::L7Sts,
        "L6RSP" => Status::L6Rsp,
        "L4CON" => Status::L4Con,
        "L7TOUT" => Status::L7Tout,
        "L6TOUT" => Status::L6Tout,
        "L4TOUT" => Status::L4Tout,
        _ => return None,
    })
}

/// A log-format string of a check rule, compiled.
pub(crate) fn compile_fmt(text: &str, http: bool) -> Result<Arc<Fmt>, String> {
    let f = ringlb_config::logformat::parse_log_format(text)
        .map_err(|e| format!("invalid log-format string '{text}': {e}"))?;
    Fmt::compile(&f, http)
        .map(Arc::new)
        .map_err(|e| format!("invalid log-format string '{text}': {}", e.0))
}

/// A sample expression of a check rule, compiled.
pub(crate) fn compile_expr(text: &str) -> Result<Arc<Expr>, String> {
    let e = ringlb_config::sample::parse_sample(text)
        .map_err(|e| format!("invalid sample expression '{text}': {e}"))?;
    Expr::compile(&e)
        .map(Arc::new)
        .map_err(|e| format!("invalid sample expression '{text}': {}", e.0))
}

/// The options of an expect rule as the user wrote them.
pub(crate) fn expect_opts(
    e: &ringlb_config::model::CheckExpect,
    http: bool,
) -> Result<ExpectOpts, String> {
    let st = |w: &Option<String>| -> Result<Option<Status>, String> {
        match w {
            None => Ok(None),
            Some(w) => status_word(w)
                .map(Some)
                .ok_or_else(|| format!("unknown status '{w}'")),
        }
    };
    let mut o = ExpectOpts::default();
    if let Some(s) = st(&e.error_status)? {
        o.error = s;
    }
    if let Some(s) = st(&e.ok_status)? {
        o.ok = s;
    }
    if let Some(s) = st(&e.tout_status)? {
        o.tout = s;
    }
    o.min_recv = match e.min_recv {
        Some(n) if n >= 0 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
        _ => None,
    };
    if let Some(f) = &e.on_error {
        o.on_error = Words::Fmt(compile_fmt(f, http)?);
    }
    if let Some(f) = &e.on_success {
        o.on_success = Words::Fmt(compile_fmt(f, http)?);
    }
    if let Some(x) = &e.status_code {
        o.status_code = Some(StatusCode::Expr(compile_expr(x)?));
    }
    Ok(o)
}

/// `set-var(<var>[,<cond>...]) <expr>` / `unset-var(<var>)` of a check.
pub(crate) fn var_action(keyword: &str, args: &[String]) -> Result<Action, String> {
    let (base, param) = keyword
        .split_once('(')
        .and_then(|(b, rest)| Some((b, rest.strip_suffix(')')?)))
        .ok_or_else(|| format!("'{keyword}' expects a variable name in parentheses"))?;
    let mut parts = param.split(',');
    let (scope, name) = ringlb_config::sample::parse_var_name(parts.next().unwrap_or(""))?;
    let mut conds = Vec::new();
    for c in parts {
        conds.push(
            VarCond::from_keyword(c.trim()).ok_or_else(|| format!("unknown condition '{c}'"))?,
        );
    }
    match base {
        "set-var" => {
            let [expr] = args else {
                return Err(format!("'{keyword}' expects one sample expression"));
            };
            Ok(Action::SetVar {
                scope,
                name,
                conds,
                expr: compile_expr(expr)?,
            })
        }
        "unset-var" if args.is_empty() => Ok(Action::UnsetVar { scope, name }),
        "unset-var" => Err(format!("'{keyword}' takes no argument")),
        _ => Err(format!("'{base}' is not supported yet")),
    }
}

/// A connect rule's options; `resolve` turns an `addr` name into an
/// address.
pub(crate) fn connect_rule(
    c: &ringlb_config::model::CheckConnect,
    resolve: &dyn Fn(&str) -> Result<IpAddr, String>,
) -> Result<Connect, String> {
    if c.via_socks4 {
        return Err("tcp-check connect via-socks4 is not supported yet".into());
    }
    if c.ssl || c.sni.is_some() || c.alpn.is_some() {
        return Err(
            "a check connect with ssl, sni or alpn is not supported yet (check-ssl follows in the TLS issue)"
                .into(),
        );
    }
    if c.proto.is_some() {
        return Err("a check connect with proto is not supported yet".into());
    }
    let mut out = Connect {
        send_proxy: c.send_proxy,
        default: c.default,
        linger: c.linger,
        ..Connect::default()
    };
    if let Some(p) = &c.port {
        match p.parse::<u16>() {
            Ok(n) => out.port = Some(n),
            Err(_) => out.port_expr = Some(compile_expr(p)?),
        }
    }
    match &c.addr {
        None => {}
        Some(Address::Inet { host, port, .. }) => {
            out.addr = Some(match host {
                Host::Ip(ip) => *ip,
                Host::Name(n) => resolve(n)?,
                Host::Any(_) => return Err("connect addr needs an address".into()),
            });
            if let Port::One(p) = port {
                out.addr_port = Some(*p);
            }
        }
        Some(_) => return Err("a check connect addr other than an IP is not supported yet".into()),
    }
    Ok(out)
}

#[derive(Debug, Clone)]
pub enum TcpMatch {
    /// `string` or `binary` (decoded): the bytes somewhere in what came.
    Bytes { data: Vec<u8>, binary: bool },
    /// `rstring`.
    Regex(regex::bytes::Regex),
    /// `rbinary`: the regex over the bytes' hex dump (upper case).
    HexRegex(regex::bytes::Regex),
    /// `ldap-check`'s custom rule: an LDAPv3 bindResponse whose resultCode
    /// is 0 (tcpcheck_ldap_expect_bindrsp).
    LdapBind,
    /// `mysql-check`'s custom rules: a whole MySQL packet that is not an
    /// error, the first one (the server's handshake) or the one after it
    /// (tcpcheck_mysql_expect_iniths / _ok).
    Mysql { after_handshake: bool },
}

/// A protocol check's reply (ringlb_proto::check_reply) as a verdict.
fn verdict(r: Option<Result<(), ringlb_proto::check_reply::Failed>>) -> ExpectVerdict {
    use ringlb_proto::check_reply::Fault;
    match r {
        None => ExpectVerdict::More,
        Some(Ok(())) => ExpectVerdict::Pass,
        Some(Err(f)) => {
            let status = match f.fault {
                Fault::Protocol => Status::L7Rsp,
                Fault::Status => Status::L7Sts,
            };
            ExpectVerdict::Fail(status, f.code, f.info)
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub action: Action,
    /// The step number HAProxy prints (tcpcheck_get_step_id; 0 for the
    /// implicit connect).
    pub step: u32,
    pub comment: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TcpCheck {
    pub rules: Vec<Rule>,
    /// A user's `option tcp-check` (TCPCHK_RULES_TCP_CHK), whose connection
    /// errors name the step; a protocol check's (redis-check) do not.
    pub user: bool,
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

impl TcpCheck {
    /// Compile the `tcp-check` rules; what does not run yet is an error
    /// "<file>:<line>: <what>". `resolve` turns a connect's `addr` name
    /// into an address.
    pub fn compile(
        steps: &[CheckStep],
        resolve: &dyn Fn(&str) -> Result<IpAddr, String>,
    ) -> Result<TcpCheck, String> {
        let mut rules = Vec::new();
        let notes = super::comments(steps);
        // Every line has a step number, comments included.
        for (index, (st, note)) in (1u32..).zip(steps.iter().zip(notes)) {
            let at = |e: &str| format!("{}: {e}", st.loc);
            let action = match &st.kind {
                CheckStepKind::Connect(c) => {
                    Action::Connect(connect_rule(c, resolve).map_err(|e| at(&e))?)
                }
                CheckStepKind::Send { data, lf: false } => Action::Send(data.as_bytes().to_vec()),
                CheckStepKind::Send { data, lf: true } => Action::SendLf {
                    fmt: compile_fmt(data, false).map_err(|e| at(&e))?,
                    binary: false,
                },
                CheckStepKind::SendBinary { data, lf: None } => Action::Send(data.clone()),
                CheckStepKind::SendBinary { lf: Some(f), .. } => Action::SendLf {
                    fmt: compile_fmt(f, false).map_err(|e| at(&e))?,
                    binary: true,
                },
                CheckStepKind::Expect(e) => {
                    let what = match e.kind {
                        ExpectKind::String => Some(TcpMatch::Bytes {
                            data: e.pattern.as_bytes().to_vec(),
                            binary: false,
                        }),
                        ExpectKind::Binary => {
                            hex(&e.pattern).map(|data| TcpMatch::Bytes { data, binary: true })
                        }
                        ExpectKind::RString => Some(TcpMatch::Regex(
                            regex::bytes::Regex::new(&e.pattern)
                                .map_err(|e| at(&format!("invalid regex: {e}")))?,
                        )),
                        ExpectKind::RBinary => Some(TcpMatch::HexRegex(
                            regex::bytes::Regex::new(&e.pattern)
                                .map_err(|e| at(&format!("invalid regex: {e}")))?,
                        )),
                        _ => None,
                    };
                    let what = what.ok_or_else(|| {
                        at("this tcp-check expect rule is not supported yet (string, binary, rstring and rbinary run)")
                    })?;
                    Action::Expect {
                        negate: e.negate,
                        what,
                        opts: Box::new(expect_opts(e, false).map_err(|e| at(&e))?),
                    }
                }
                CheckStepKind::Other { keyword, .. } if keyword == "comment" => continue,
                CheckStepKind::Other { keyword, args }
                    if keyword.starts_with("set-var(") || keyword.starts_with("unset-var(") =>
                {
                    var_action(keyword, args).map_err(|e| at(&e))?
                }
                _ => return Err(at("this tcp-check rule is not supported yet")),
            };
            rules.push(Rule {
                action,
                step: index,
                comment: note,
            });
        }
        Ok(TcpCheck::with_implicit_connect(rules, true))
    }

    /// The rules start with a connect (set-var rules may come before it):
    /// HAProxy adds one (step 0) at the start if not.
    pub(crate) fn with_implicit_connect(mut rules: Vec<Rule>, user: bool) -> TcpCheck {
        let first = rules
            .iter()
            .find(|r| !matches!(r.action, Action::SetVar { .. } | Action::UnsetVar { .. }));
        if !matches!(first.map(|r| &r.action), Some(Action::Connect(_))) {
            rules.insert(
                0,
                Rule {
                    action: Action::Connect(Connect {
                        implicit: true,
                        default: true,
                        ..Connect::default()
                    }),
                    step: 0,
                    comment: None,
                },
            );
        }
        TcpCheck { rules, user }
    }

    /// `option redis-check` (proxy_parse_redis_check_opt): send a PING,
    /// expect "+PONG", L7STS with the first line of anything else.
    pub fn redis() -> TcpCheck {
        let rules = vec![
            Rule {
                action: Action::Send(b"*1\r\n$4\r\nPING\r\n".to_vec()),
                step: 1,
                comment: None,
            },
            Rule {
                action: Action::Expect {
                    negate: false,
                    what: TcpMatch::Bytes {
                        data: b"+PONG\r\n".to_vec(),
                        binary: false,
                    },
                    opts: Box::new(ExpectOpts {
                        error: Status::L7Sts,
                        on_error: Words::Line,
                        on_success: Words::Text("Redis server is ok"),
                        ..ExpectOpts::default()
                    }),
                },
                step: 2,
                comment: None,
            },
        ];
        TcpCheck::with_implicit_connect(rules, false)
    }

    /// `option ssl-hello-chk` (proxy_parse_ssl_hello_chk_opt): an SSLv3
    /// CLIENT HELLO, then a handshake (0x16) or alert (0x15) record.
    pub fn ssl_hello() -> TcpCheck {
        let rules = vec![
            Rule {
                action: Action::SendSslHello,
                step: 1,
                comment: None,
            },
            Rule {
                action: Action::Expect {
                    negate: false,
                    what: TcpMatch::HexRegex(
                        regex::bytes::Regex::new("^1[56]").unwrap_or_else(|_| unreachable!()),
                    ),
                    opts: Box::new(ExpectOpts {
                        error: Status::L6Rsp,
                        ok: Status::L6Ok,
                        tout: Status::L6Tout,
                        min_recv: Some(5),
                        ..ExpectOpts::default()
                    }),
                },
                step: 2,
                comment: None,
            },
        ];
        TcpCheck::with_implicit_connect(rules, false)
    }

    /// `option smtpchk [HELO|EHLO <domain>]` (proxy_parse_smtpchk_opt):
    /// a 2xx greeting, the HELO (or EHLO) command and its 2xx reply, then
    /// QUIT and its 2xx; the replies' codes and words in the lines.
    pub fn smtp(hello: &str) -> TcpCheck {
        let re = |p: &str| regex::bytes::Regex::new(p).unwrap_or_else(|_| unreachable!());
        let reply = |p: &str, min_recv: Option<usize>, on_success: Words| Action::Expect {
            negate: false,
            what: TcpMatch::Regex(re(p)),
            opts: Box::new(ExpectOpts {
                error: Status::L7Sts,
                min_recv,
                on_error: Words::AfterCode,
                on_success,
                status_code: Some(StatusCode::Reply),
                ..ExpectOpts::default()
            }),
        };
        let actions = vec![
            Action::Connect(Connect::default()),
            Action::Expect {
                negate: false,
                what: TcpMatch::Regex(re("^[0-9]{3}[ \r]")),
                opts: Box::new(ExpectOpts {
                    min_recv: Some(4),
                    on_error: Words::Line,
                    ..ExpectOpts::default()
                }),
            },
            reply("^2[0-9]{2}[ \r]", Some(4), Words::Generic),
            Action::Send(format!("{hello}\r\n").into_bytes()),
            reply(
                "^(2[0-9]{2}-[^\r]*\r\n)*2[0-9]{2}[ \r]",
                None,
                Words::AfterCode,
            ),
            Action::Send(b"QUIT\r\n".to_vec()),
            reply("^2[0-9]{2}[- \r]", Some(4), Words::AfterCode),
        ];
        let rules = (1u32..)
            .zip(actions)
            .map(|(step, action)| Rule {
                action,
                step,
                comment: None,
            })
            .collect();
        TcpCheck { rules, user: false }
    }
}

/// `option pgsql-check user <name>` (proxy_parse_pgsql_check_opt): a
/// StartupMessage for the user, then anything but an ErrorResponse, and an
/// AuthenticationOk or a known authentication request.
impl TcpCheck {
    pub fn pgsql(user: &str) -> TcpCheck {
        let re = |p: &str| regex::bytes::Regex::new(p).unwrap_or_else(|_| unreachable!());
        let len = u32::try_from(15 + user.len()).unwrap_or(u32::MAX);
        let mut startup = len.to_be_bytes().to_vec();
        startup.extend_from_slice(b"\x00\x03\x00\x00user\x00");
        startup.extend_from_slice(user.as_bytes());
        startup.extend_from_slice(b"\x00\x00");
        let actions = vec![
            Action::Connect(Connect::default()),
            Action::Send(startup),
            Action::Expect {
                negate: true,
                what: TcpMatch::Regex(re("^E")),
                opts: Box::new(ExpectOpts {
                    min_recv: Some(5),
                    on_error: Words::From(6),
                    ..ExpectOpts::default()
                }),
            },
            Action::Expect {
                negate: false,
                what: TcpMatch::HexRegex(re(
                    "^52000000[A-Z0-9]{2}000000(00|02|03|04|05|06|07|09|0A)",
                )),
                opts: Box::new(ExpectOpts {
                    error: Status::L7Sts,
                    min_recv: Some(9),
                    on_error: Words::Text("PostgreSQL unknown error"),
                    on_success: Words::Text("PostgreSQL server is ok"),
                    ..ExpectOpts::default()
                }),
            },
        ];
        let rules = (1u32..)
            .zip(actions)
            .map(|(step, action)| Rule {
                action,
                step,
                comment: None,
            })
            .collect();
        TcpCheck { rules, user: false }
    }
}

impl TcpCheck {
    /// `option ldap-check` (proxy_parse_ldap_check_opt): an anonymous
    /// LDAPv3 bind, then a message (0x30) of at least 14 bytes that is a
    /// successful bindResponse.
    pub fn ldap() -> TcpCheck {
        let re = |p: &str| regex::bytes::Regex::new(p).unwrap_or_else(|_| unreachable!());
        let rules = vec![
            Rule {
                action: Action::Send(
                    b"\x30\x0c\x02\x01\x01\x60\x07\x02\x01\x03\x04\x00\x80\x00".to_vec(),
                ),
                step: 1,
                comment: None,
            },
            Rule {
                action: Action::Expect {
                    negate: false,
                    what: TcpMatch::HexRegex(re("^30")),
                    opts: Box::new(ExpectOpts {
                        min_recv: Some(14),
                        on_error: Words::Text("Not LDAPv3 protocol"),
                        ..ExpectOpts::default()
                    }),
                },
                step: 2,
                comment: None,
            },
            Rule {
                action: Action::Expect {
                    negate: false,
                    what: TcpMatch::LdapBind,
                    // HAProxy's custom rule reports "Success", then the
                    // end of the rules reports the success again without
                    // words: its state-change line says none (see
                    // docs/differences.md).
                    opts: Box::new(ExpectOpts::default()),
                },
                step: 3,
                comment: None,
            },
        ];
        TcpCheck::with_implicit_connect(rules, false)
    }
}

impl TcpCheck {
    /// `option mysql-check [user <name> [post-41|pre-41]]`
    /// (proxy_parse_mysql_check_opt): without a user, the server's
    /// handshake; with one, a client authentication packet and COM_QUIT
    /// sent at once, then the handshake and the packet after it.
    pub fn mysql(user: Option<&str>, post_41: bool) -> TcpCheck {
        let mut actions = vec![Action::Connect(Connect::default())];
        if let Some(user) = user {
            let body_len = user.len() + 7 + if post_41 { 27 } else { 0 };
            let len = u32::try_from(body_len).unwrap_or(0).to_le_bytes();
            let mut req = vec![len[0], len[1], len[2], 1];
            if post_41 {
                req.extend_from_slice(&[0x00, 0x82, 0x00, 0x00, 0x00, 0x80, 0x00, 0x01, 0x21]);
                req.extend_from_slice(&[0u8; 23]);
            } else {
                req.extend_from_slice(&[0x00, 0x80, 0x00, 0x00, 0x01]);
            }
            req.extend_from_slice(user.as_bytes());
            // NUL, the filler, then COM_QUIT.
            req.extend_from_slice(&[0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01]);
            actions.push(Action::Send(req));
        }
        let expect = |after_handshake: bool| Action::Expect {
            negate: false,
            what: TcpMatch::Mysql { after_handshake },
            // HAProxy's custom rule reports the server's version, then the
            // end of the rules reports the success again without words:
            // its state-change line says none (see docs/differences.md).
            opts: Box::new(ExpectOpts::default()),
        };
        actions.push(expect(false));
        if user.is_some() {
            actions.push(expect(true));
        }
        let rules = (1u32..)
            .zip(actions)
            .map(|(step, action)| Rule {
                action,
                step,
                comment: None,
            })
            .collect();
        TcpCheck { rules, user: false }
    }
}

/// The SSLv3 CLIENT HELLO of `option ssl-hello-chk`, with `unix_time` in
/// its random's first four bytes (tcpcheck.c's sslv3_client_hello).
pub fn ssl_hello(unix_time: u32) -> Vec<u8> {
    let mut v = vec![
        0x16, 0x03, 0x00, 0x00, 0x79, 0x01, 0x00, 0x00, 0x75, 0x03, 0x00,
    ];
    v.extend_from_slice(&unix_time.to_be_bytes());
    v.extend_from_slice(b"HAPROXYSSLCHK\nHAPROXYSSLCHK\n");
    // No session id; 39 cipher suites: 0x0001..=0x001B, 0x002F..=0x003A.
    v.extend_from_slice(&[0x00, 0x00, 0x4E]);
    for c in (0x01u8..=0x1B).chain(0x2F..=0x3A) {
        v.extend_from_slice(&[0x00, c]);
    }
    // One compression method: NULL.
    v.extend_from_slice(&[0x01, 0x00]);
    v
}

/// What an expect rule says of the bytes received so far.
#[derive(Debug, PartialEq, Eq)]
pub enum ExpectVerdict {
    Pass,
    More,
    /// The rule's error status, the code and the info.
    Fail(Status, u16, String),
}

/// `res.payload(0,0),cut_crlf`: what came, up to its first CR or LF.
fn first_line(data: &[u8]) -> String {
    let end = data
        .iter()
        .position(|&c| c == b'\r' || c == b'\n')
        .unwrap_or(data.len());
    String::from_utf8_lossy(data.get(..end).unwrap_or_default()).into_owned()
}

/// tcpcheck_eval_expect over `data`; `last`: no more will come.
pub fn expect(user: bool, rule: &Rule, data: &[u8], last: bool) -> ExpectVerdict {
    let vars = Vars::for_check();
    let cx = Cx {
        who: Who::default(),
        vars: &vars,
    };
    expect_in(&cx, user, rule, data, last)
}

/// [`expect`] with the check's session (its log-format strings and
/// expressions see it).
pub fn expect_in(cx: &Cx<'_>, user: bool, rule: &Rule, data: &[u8], last: bool) -> ExpectVerdict {
    let Action::Expect { negate, what, opts } = &rule.action else {
        return ExpectVerdict::Pass;
    };
    if !last && opts.min_recv.is_some_and(|m| data.len() < m) {
        return ExpectVerdict::More;
    }
    let matched = match what {
        TcpMatch::Bytes { data: p, .. } => {
            if !last && data.len() < p.len() {
                return ExpectVerdict::More;
            }
            memchr::memmem::find(data, p).is_some()
        }
        TcpMatch::Regex(re) => re.is_match(data),
        TcpMatch::LdapBind => {
            return verdict(ringlb_proto::check_reply::ldap_bind(data, last));
        }
        TcpMatch::Mysql { after_handshake } => {
            return verdict(ringlb_proto::check_reply::mysql_packet(
                data,
                *after_handshake,
                last,
            ));
        }
        TcpMatch::HexRegex(re) => {
            let mut hex = Vec::with_capacity(data.len() * 2);
            for b in data {
                let _ = write!(HexOut(&mut hex), "{b:02X}");
            }
            re.is_match(&hex)
        }
    };
    // With min-recv, a mismatch is final; without, more may match.
    if !matched && !last && opts.min_recv.is_none() {
        return ExpectVerdict::More;
    }
    if matched != *negate {
        return ExpectVerdict::Pass;
    }
    let code = opts.code(data, cx).unwrap_or(0);
    // tcpcheck_expect_onerror_message: the rule's on-error words, else
    // nothing for a protocol check, else HAProxy's generic words; then the
    // comment.
    let mut m = match opts.on_error.over(data, cx) {
        Some(info) => info,
        None if !user => String::new(),
        None => generic_error(what, matched, rule.step),
    };
    if let Some(c) = &rule.comment {
        let _ = write!(m, " comment: {c}");
    }
    ExpectVerdict::Fail(opts.error, code, m)
}

/// A `Vec<u8>` as a `fmt::Write` (the hex dump of `rbinary`).
struct HexOut<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for HexOut<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// "TCPCHK did not match content ... at step N".
fn generic_error(what: &TcpMatch, matched: bool, step: u32) -> String {
    let mut m = String::from(if matched {
        "TCPCHK matched unwanted content"
    } else {
        "TCPCHK did not match content"
    });
    match what {
        TcpMatch::Bytes {
            data: p,
            binary: false,
        } => {
            let _ = write!(m, " '{}' at step {step}", String::from_utf8_lossy(p));
        }
        TcpMatch::Bytes { binary: true, .. } => {
            let _ = write!(m, " (binary) at step {step}");
        }
        TcpMatch::Regex(_) => {
            let _ = write!(m, " (regex) at step {step}");
        }
        TcpMatch::HexRegex(_) => {
            let _ = write!(m, " (binary regex) at step {step}");
        }
        TcpMatch::LdapBind | TcpMatch::Mysql { .. } => {
            let _ = write!(m, " (custom function) at step {step}");
        }
    }
    m
}

/// "TCPCHK got an empty response at step N": the server closed before
/// sending anything an expect rule waited for.
pub fn empty_response(rule: &Rule) -> (Status, String) {
    let mut m = format!("TCPCHK got an empty response at step {}", rule.step);
    if let Some(c) = &rule.comment {
        let _ = write!(m, " comment: '{c}'");
    }
    let status = match &rule.action {
        Action::Expect { opts, .. } => opts.error,
        _ => Status::L7Rsp,
    };
    (status, m)
}

/// chk_report_conn_err's words for a connection error or a timeout at
/// `rule`: `<errno text>` then " at initial connection step of tcp-check"
/// or " at step N of tcp-check (<what>)[ comment: '<c>']".
pub fn conn_err_info(tc: &TcpCheck, rule: &Rule, errno_text: &str) -> String {
    let mut m = errno_text.to_string();
    if !tc.user {
        return m;
    }
    if rule.step == 0 {
        m.push_str(" at initial connection step of tcp-check");
        return m;
    }
    let _ = write!(m, " at step {} of tcp-check", rule.step);
    match &rule.action {
        Action::Connect(Connect { port: Some(p), .. }) => {
            let _ = write!(m, " (connect port {p})");
        }
        Action::Connect(_) => m.push_str(" (connect)"),
        Action::Send(_) | Action::SendLf { .. } | Action::SendSslHello | Action::HttpSend(_) => {
            m.push_str(" (send)");
        }
        Action::Expect { what, .. } => match what {
            TcpMatch::Bytes {
                data,
                binary: false,
            } => {
                let _ = write!(m, " (expect string '{}')", String::from_utf8_lossy(data));
            }
            TcpMatch::Bytes { data, binary: true } => {
                let _ = write!(m, " (expect binary '{}')", String::from_utf8_lossy(data));
            }
            TcpMatch::Regex(_) => m.push_str(" (expect regex)"),
            TcpMatch::HexRegex(_) => m.push_str(" (expect binary regex)"),
            TcpMatch::LdapBind | TcpMatch::Mysql { .. } => {
                m.push_str(" (expect custom function)");
            }
        },
        Action::HttpExpect(_) | Action::SetVar { .. } | Action::UnsetVar { .. } => {}
    }
    if let Some(c) = &rule.comment {
        let _ = write!(m, " comment: '{c}'");
    }
    m
}

/// The status of a check whose every rule passed: after an expect or a
/// send, L7OK "(tcp-check)" (a protocol check: its ok status and its own
/// words); after a connect, L4OK ("(tcp-check)" unless it is the implicit
/// one).
/// `data`: what the last expect rule saw.
pub fn success(user: bool, last: &Rule, data: &[u8]) -> (Status, u16, String) {
    let vars = Vars::for_check();
    let cx = Cx {
        who: Who::default(),
        vars: &vars,
    };
    success_in(&cx, user, last, data)
}

/// [`success`] with the check's session.
pub fn success_in(cx: &Cx<'_>, user: bool, last: &Rule, data: &[u8]) -> (Status, u16, String) {
    let tcp_check = if user { "(tcp-check)" } else { "" };
    match &last.action {
        Action::Connect(Connect { implicit: true, .. }) => (Status::L4Ok, 0, String::new()),
        Action::Connect(_) => (Status::L4Ok, 0, "(tcp-check)".into()),
        Action::Expect { opts, .. } => (
            opts.ok,
            opts.code(data, cx).unwrap_or(0),
            opts.on_success
                .over(data, cx)
                .unwrap_or_else(|| tcp_check.to_string()),
        ),
        _ => (Status::L7Ok, 0, tcp_check.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> TcpCheck {
        let (cfg, diags) = ringlb_config::load(
            &[ringlb_config::SourceFile::new(
                "t.cfg",
                format!("backend be\n    option tcp-check\n{text}    server s 127.0.0.1:1 check\n"),
            )],
            &crate::engine::plan::tests::NoHost,
        );
        assert!(!diags.has_errors(), "{diags:?}");
        TcpCheck::compile(&cfg.proxies[0].tcp_checks, &|_| Err("no names".into())).unwrap()
    }

    #[test]
    fn steps_are_numbered_as_haproxy_does() {
        let t = rules(
            "    tcp-check send PING\\r\\n\n    tcp-check expect string +OK comment \"want ok\"\n",
        );
        assert_eq!(t.rules.len(), 3);
        assert_eq!(
            t.rules.iter().map(|r| r.step).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        assert!(matches!(&t.rules[1].action, Action::Send(d) if d == b"PING\r\n"));
        assert_eq!(
            expect(true, &t.rules[2], b"nope\n", true),
            ExpectVerdict::Fail(
                Status::L7Rsp,
                0,
                "TCPCHK did not match content '+OK' at step 2 comment: want ok".into()
            )
        );
        assert_eq!(expect(true, &t.rules[2], b"+O", false), ExpectVerdict::More);
        assert_eq!(
            expect(true, &t.rules[2], b"xx+OK", false),
            ExpectVerdict::Pass
        );
        assert_eq!(
            conn_err_info(&t, &t.rules[2], ""),
            " at step 2 of tcp-check (expect string '+OK') comment: 'want ok'"
        );
        assert_eq!(
            conn_err_info(&t, &t.rules[0], "Connection refused"),
            "Connection refused at initial connection step of tcp-check"
        );
        let t = rules("    tcp-check connect\n    tcp-check send-binary 50494e47\n    tcp-check expect ! rstring ^no\n    tcp-check expect binary 6869\n");
        assert_eq!(
            t.rules.iter().map(|r| r.step).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        assert_eq!(
            conn_err_info(&t, &t.rules[0], "Connection refused"),
            "Connection refused at step 1 of tcp-check (connect)"
        );
        assert_eq!(
            expect(true, &t.rules[2], b"nope", true),
            ExpectVerdict::Fail(
                Status::L7Rsp,
                0,
                "TCPCHK matched unwanted content (regex) at step 3".into()
            )
        );
        assert_eq!(
            expect(true, &t.rules[3], b"ohhi", false),
            ExpectVerdict::Pass
        );
        assert_eq!(
            success(true, &t.rules[3], b""),
            (Status::L7Ok, 0, "(tcp-check)".into())
        );
    }

    #[test]
    fn redis_check_as_haproxy_builds_it() {
        let r = TcpCheck::redis();
        assert_eq!(
            r.rules.iter().map(|r| r.step).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        assert_eq!(
            expect(false, &r.rules[2], b"-ERR loading\r\n", true),
            ExpectVerdict::Fail(Status::L7Sts, 0, "-ERR loading".into())
        );
        assert_eq!(
            expect(false, &r.rules[2], b"+PONG\r\n", false),
            ExpectVerdict::Pass
        );
        assert_eq!(
            success(false, &r.rules[2], b"+PONG\r\n"),
            (Status::L7Ok, 0, "Redis server is ok".into())
        );
        assert_eq!(
            empty_response(&r.rules[2]),
            (
                Status::L7Sts,
                "TCPCHK got an empty response at step 2".into()
            )
        );
        assert_eq!(
            conn_err_info(&r, &r.rules[0], "Connection refused"),
            "Connection refused"
        );
    }

    #[test]
    fn ssl_hello_as_haproxy_sends_it() {
        let hello = ssl_hello(0x6b15_bd4a);
        assert_eq!(hello.len(), 5 + 0x79);
        assert_eq!(
            &hello[..15],
            b"\x16\x03\x00\x00\x79\x01\x00\x00\x75\x03\x00\x6b\x15\xbd\x4a"
        );
        assert_eq!(&hello[hello.len() - 4..], b"\x00\x3a\x01\x00");
        let c = TcpCheck::ssl_hello();
        assert_eq!(
            expect(false, &c.rules[2], b"\x16\x03", false),
            ExpectVerdict::More
        );
        assert_eq!(
            expect(false, &c.rules[2], b"\x16\x03\x01\x00\x05", false),
            ExpectVerdict::Pass
        );
        assert_eq!(
            expect(false, &c.rules[2], b"\x15\x03\x01\x00\x02", false),
            ExpectVerdict::Pass
        );
        assert_eq!(
            expect(false, &c.rules[2], b"HTTP/1.0 400", false),
            ExpectVerdict::Fail(Status::L6Rsp, 0, String::new())
        );
        assert_eq!(
            success(false, &c.rules[2], b"\x16"),
            (Status::L6Ok, 0, String::new())
        );
    }

    #[test]
    fn pgsql_check_as_haproxy_builds_it() {
        let c = TcpCheck::pgsql("ringlb");
        assert!(matches!(&c.rules[1].action, Action::Send(d)
            if d == b"\x00\x00\x00\x15\x00\x03\x00\x00user\x00ringlb\x00\x00"));
        let ok = b"R\x00\x00\x00\x08\x00\x00\x00\x00";
        assert_eq!(expect(false, &c.rules[2], ok, false), ExpectVerdict::Pass);
        assert_eq!(expect(false, &c.rules[3], ok, false), ExpectVerdict::Pass);
        assert_eq!(
            success(false, &c.rules[3], ok),
            (Status::L7Ok, 0, "PostgreSQL server is ok".into())
        );
        let err = b"E\x00\x00\x00\x50SFATAL\x00VFATAL\x00C28000\x00";
        assert_eq!(
            expect(false, &c.rules[2], err, false),
            ExpectVerdict::Fail(Status::L7Rsp, 0, "FATAL".into())
        );
        assert_eq!(
            expect(
                false,
                &c.rules[3],
                b"R\x00\x00\x00\x08\x00\x00\x00\x0b",
                false
            ),
            ExpectVerdict::Fail(Status::L7Sts, 0, "PostgreSQL unknown error".into())
        );
    }

    #[test]
    fn ldap_check_reads_the_bind_response() {
        let c = TcpCheck::ldap();
        let ok = b"\x30\x0c\x02\x01\x01\x61\x07\x0a\x01\x00\x04\x00\x04\x00";
        assert_eq!(expect(false, &c.rules[2], ok, false), ExpectVerdict::Pass);
        assert_eq!(expect(false, &c.rules[3], ok, false), ExpectVerdict::Pass);
        assert_eq!(
            success(false, &c.rules[3], ok),
            (Status::L7Ok, 0, String::new())
        );
        let mut bad = ok.to_vec();
        bad[9] = 49;
        assert_eq!(
            expect(false, &c.rules[3], &bad, false),
            ExpectVerdict::Fail(
                Status::L7Sts,
                49,
                "See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9".into()
            )
        );
        assert_eq!(
            expect(false, &c.rules[3], &ok[..8], false),
            ExpectVerdict::More
        );
        // Active Directory's four-byte length.
        let ad = b"\x30\x84\x00\x00\x00\x0c\x02\x01\x01\x61\x84\x00\x00\x00\x07\x0a\x01\x00\x04\x00\x04\x00";
        assert_eq!(expect(false, &c.rules[3], ad, false), ExpectVerdict::Pass);
        assert_eq!(
            expect(
                false,
                &c.rules[2],
                b"HTTP/1.0 400 Bad request\r\n\r\n",
                false
            ),
            ExpectVerdict::Fail(Status::L7Rsp, 0, "Not LDAPv3 protocol".into())
        );
    }

    /// A MySQL packet: its length, sequence id and payload.
    fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
        let n = u32::try_from(payload.len()).unwrap().to_le_bytes();
        let mut v = vec![n[0], n[1], n[2], seq];
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn mysql_check_as_haproxy_builds_it() {
        let plain = TcpCheck::mysql(None, false);
        assert_eq!(plain.rules.len(), 2);
        let hs = packet(0, b"\x0a8.0.32\x00\x01\x00\x00\x00abcdefgh\x00");
        assert_eq!(
            expect(false, &plain.rules[1], &hs[..6], false),
            ExpectVerdict::More
        );
        assert_eq!(
            expect(false, &plain.rules[1], &hs, false),
            ExpectVerdict::Pass
        );
        assert_eq!(
            success(false, &plain.rules[1], &hs),
            (Status::L7Ok, 0, String::new())
        );

        let c = TcpCheck::mysql(Some("haproxy"), true);
        let Action::Send(req) = &c.rules[1].action else {
            panic!("a send")
        };
        assert_eq!(&req[..4], &[41, 0, 0, 1]);
        // The declared length counts the filler after the name.
        assert_eq!(req.len(), 4 + 41 + 5);
        assert_eq!(&req[36..44], b"haproxy\x00");
        let mut both = hs.clone();
        both.extend(packet(2, b"\x00\x00\x00\x02\x00\x00\x00"));
        assert_eq!(
            expect(false, &c.rules[2], &both, false),
            ExpectVerdict::Pass
        );
        assert_eq!(
            expect(false, &c.rules[3], &both, false),
            ExpectVerdict::Pass
        );
        assert_eq!(expect(false, &c.rules[3], &hs, false), ExpectVerdict::More);
        let mut denied = hs.clone();
        denied.extend(packet(2, b"\xff\x15\x04#28000Access denied"));
        assert_eq!(
            expect(false, &c.rules[3], &denied, false),
            ExpectVerdict::Fail(Status::L7Sts, 1045, "#28000Access denied".into())
        );
        let old = TcpCheck::mysql(Some("u"), false);
        let Action::Send(req) = &old.rules[1].action else {
            panic!("a send")
        };
        assert_eq!(
            req,
            &[8, 0, 0, 1, 0x00, 0x80, 0x00, 0x00, 0x01, b'u', 0, 0, 1, 0, 0, 0, 1]
        );
    }

    #[test]
    fn smtp_check_as_haproxy_builds_it() {
        let c = TcpCheck::smtp("HELO localhost");
        assert_eq!(c.rules.len(), 7);
        assert!(matches!(&c.rules[3].action, Action::Send(d) if d == b"HELO localhost\r\n"));
        assert_eq!(
            expect(false, &c.rules[1], b"220 mail ESMTP\r\n", false),
            ExpectVerdict::Pass
        );
        assert_eq!(
            expect(false, &c.rules[1], b"hello there\r\n", false),
            ExpectVerdict::Fail(Status::L7Rsp, 0, "hello there".into())
        );
        assert_eq!(
            expect(false, &c.rules[2], b"554  No service\r\n", false),
            ExpectVerdict::Fail(Status::L7Sts, 554, "No service".into())
        );
        let multi = b"250-mail\r\n250-PIPELINING\r\n250 OK\r\n";
        assert_eq!(
            expect(false, &c.rules[4], &multi[..12], false),
            ExpectVerdict::More
        );
        assert_eq!(
            expect(false, &c.rules[4], multi, false),
            ExpectVerdict::Pass
        );
        assert_eq!(
            success(false, &c.rules[6], b"221 2.0.0 Bye\r\n"),
            (Status::L7Ok, 221, "2.0.0 Bye".into())
        );
    }
}

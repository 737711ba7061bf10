//! The typed arguments of rule actions (manual 4.3 "Actions keywords
//! matrix", 4.4 "Actions"). Each rule set has its own action enum (see
//! `rules.rs`); the argument types here are shared by the sets that offer
//! the same action, so `set-header` means one thing wherever it appears.

use std::time::Duration;

use super::Level;
use crate::logformat::LogFormat;
use crate::sample::{SampleExpr, VarScope};

/// A variable name, `<scope>.<name>` (manual 2.8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VarName {
    pub scope: VarScope,
    /// Without the scope.
    pub name: String,
}

/// `set-var(<var>[,<cond>...]) <expr>` / `set-var-fmt(<var>[,<cond>...])
/// <fmt>`.
#[derive(Clone, Debug, PartialEq)]
pub struct SetVar<V> {
    pub var: VarName,
    /// The 3.x conditions (`ifexists`, `ifnotempty`, `ifgt` ...), checked
    /// against HAProxy's list.
    pub conds: Vec<VarCond>,
    pub value: V,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarCond {
    IfExists,
    IfNotExists,
    IfEmpty,
    IfNotEmpty,
    IfSet,
    IfNotSet,
    IfGt,
    IfLt,
}

impl VarCond {
    pub fn from_keyword(k: &str) -> Option<Self> {
        Some(match k {
            "ifexists" => VarCond::IfExists,
            "ifnotexists" => VarCond::IfNotExists,
            "ifempty" => VarCond::IfEmpty,
            "ifnotempty" => VarCond::IfNotEmpty,
            "ifset" => VarCond::IfSet,
            "ifnotset" => VarCond::IfNotSet,
            "ifgt" => VarCond::IfGt,
            "iflt" => VarCond::IfLt,
            _ => return None,
        })
    }
}

/// `set-header` / `add-header` / `early-hint <name> <fmt>`.
#[derive(Clone, Debug, PartialEq)]
pub struct SetHeader {
    pub name: String,
    pub value: LogFormat,
}

/// `del-header <name> [-m <meth>]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DelHeader {
    pub name: String,
    pub method: HdrMatch,
}

/// How `del-header -m` compares names (`str` by default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HdrMatch {
    #[default]
    Str,
    Beg,
    End,
    Sub,
    Reg,
}

/// `replace-header` / `replace-value <name> <regex> <fmt>`.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplaceHeader {
    pub name: String,
    pub regex: String,
    pub replace: LogFormat,
}

/// `replace-path` / `replace-pathq` / `replace-uri <regex> <fmt>`.
#[derive(Clone, Debug, PartialEq)]
pub struct Replace {
    pub regex: String,
    pub replace: LogFormat,
}

/// The response of `deny`, `tarpit` and `return` (http_parse_http_reply).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reply {
    /// `status <code>` (or `deny_status <code>`), 200..599.
    pub status: Option<u16>,
    pub content_type: Option<String>,
    pub payload: Option<ReplyPayload>,
    /// `hdr <name> <fmt>`, in order.
    pub headers: Vec<(String, LogFormat)>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ReplyPayload {
    /// `default-errorfiles`, also implied by `deny_status`.
    DefaultErrorfiles,
    Errorfile(String),
    /// `errorfiles <http-errors name>`.
    Errorfiles(String),
    File(String),
    LfFile(String),
    String(String),
    LfString(LogFormat),
}

/// `redirect {location|prefix|scheme} <fmt> [code <n>] <option>*`.
#[derive(Clone, Debug, PartialEq)]
pub struct Redirect {
    pub kind: RedirectKind,
    pub target: LogFormat,
    /// 301, 302, 303, 307 or 308; HAProxy's default is 302.
    pub code: Option<u16>,
    pub drop_query: bool,
    pub append_slash: bool,
    pub ignore_empty: bool,
    pub keep_query: bool,
    pub set_cookie: Option<String>,
    pub set_cookie_fmt: Option<LogFormat>,
    pub clear_cookie: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirectKind {
    Location,
    Prefix,
    Scheme,
}

/// `track-sc<n> <key> [table <table>]`.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackSc {
    /// 0..=2 (HAProxy's MAX_SESS_STKCTR - 1).
    pub counter: u8,
    pub key: SampleExpr,
    pub table: Option<String>,
}

/// The stick-counter actions: `sc-inc-gpc(<idx>,<sc>)`,
/// `sc-inc-gpc0/1(<sc>)`, `sc-add-gpc(<idx>,<sc>) <v>`,
/// `sc-set-gpt(<idx>,<sc>) <v>`, `sc-set-gpt0(<sc>) <v>`.
#[derive(Clone, Debug, PartialEq)]
pub struct ScUpdate {
    pub op: ScOp,
    /// The array index (`gpc0` is 0, `gpc1` is 1).
    pub idx: u32,
    /// The stick counter, 0..=2.
    pub counter: u8,
    /// The value of `sc-add-gpc` / `sc-set-gpt*` (none: 1 for add, the
    /// 2.x default of 0 for set).
    pub value: Option<IntOrExpr>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScOp {
    IncGpc,
    AddGpc,
    SetGpt,
}

/// An integer or a sample expression (`set-retries`, `sc-set-gpt0`,
/// `set-fc-mark` ...).
#[derive(Clone, Debug, PartialEq)]
pub enum IntOrExpr {
    Int(i64),
    Expr(SampleExpr),
}

/// A time or a sample expression (`set-timeout`, `pause`).
#[derive(Clone, Debug, PartialEq)]
pub enum TimeOrExpr {
    Time(Duration),
    Expr(SampleExpr),
}

/// `set-timeout { server | tunnel | client } ...`.
#[derive(Clone, Debug, PartialEq)]
pub struct SetTimeout {
    pub timeout: TimeoutName,
    pub value: TimeOrExpr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutName {
    Server,
    Tunnel,
    /// 3.x only.
    Client,
}

/// `wait-for-body time <time> [at-least <bytes>]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitForBody {
    pub time: Duration,
    pub at_least: Option<u64>,
}

/// `set-log-level <level>`: `None` is `silent`.
pub type LogLevel = Option<Level>;

/// `capture <sample> [len <length> | id <id>]`.
#[derive(Clone, Debug, PartialEq)]
pub struct CaptureSample {
    pub expr: SampleExpr,
    pub slot: CaptureSlot,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureSlot {
    /// A new request capture slot of this length.
    Len(u32),
    /// A slot declared by `declare capture`.
    Id(u32),
}

/// `do-resolve(<var>,<resolvers>[,ipv4|ipv6]) <expr>`.
#[derive(Clone, Debug, PartialEq)]
pub struct DoResolve {
    pub var: VarName,
    pub resolvers: String,
    pub family: Option<ResolveFamily>,
    pub expr: SampleExpr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResolveFamily {
    Ipv4,
    Ipv6,
}

/// `lua.<name> [<arg>...]`: a Lua action registered by a loaded script
/// (ringlb cannot know which names a script registers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LuaAction {
    pub name: String,
    pub args: Vec<String>,
}

/// `normalize-uri <normalizer> [<option>]` (experimental).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Normalizer {
    FragmentEncode,
    FragmentStrip,
    PathMergeSlashes,
    PathStripDot,
    /// `full`: also drop `..` segments that would climb above the root.
    PathStripDotdot {
        full: bool,
    },
    /// `strict`: refuse a `%` not followed by two hex digits.
    PercentDecodeUnreserved {
        strict: bool,
    },
    PercentToUppercase {
        strict: bool,
    },
    QuerySortByName,
}

/// `add-acl(<file>) <key>`, `del-acl(<file>) <key>`, `del-map(<file>)
/// <key>`, `set-map(<file>) <key> <value>`.
#[derive(Clone, Debug, PartialEq)]
pub struct MapUpdate {
    pub file: String,
    pub key: LogFormat,
    /// `set-map` only.
    pub value: Option<LogFormat>,
}

/// The socket marks and TOS values: the deprecated `set-mark` /
/// `set-tos <int>` and the 3.x `set-{fc,bc}-{mark,tos} {<int>|<expr>}`.
#[derive(Clone, Debug, PartialEq)]
pub struct SetSockOpt {
    pub opt: SockOpt,
    pub value: IntOrExpr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockOpt {
    /// `set-mark` (deprecated alias of `set-fc-mark`).
    Mark,
    /// `set-tos` (deprecated alias of `set-fc-tos`).
    Tos,
    FcMark,
    FcTos,
    BcMark,
    BcTos,
}

/// `set-status <code> [reason <str>]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetStatus {
    pub status: u16,
    pub reason: Option<String>,
}

/// `switch-mode http [proto <name>]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwitchMode {
    pub proto: Option<String>,
}

/// `attach-srv <srv> [name <expr>]` (experimental).
#[derive(Clone, Debug, PartialEq)]
pub struct AttachSrv {
    pub server: String,
    pub name: Option<SampleExpr>,
}

/// `set-bandwidth-limit <name> [limit {<expr>|<size>}] [period
/// {<expr>|<time>}]`.
#[derive(Clone, Debug, PartialEq)]
pub struct BandwidthLimit {
    /// The `bwlim-in` / `bwlim-out` filter it configures.
    pub filter: String,
    pub limit: Option<SizeOrExpr>,
    pub period: Option<TimeOrExpr>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SizeOrExpr {
    Size(u64),
    Expr(SampleExpr),
}

/// The sample expressions and log formats an action holds, for the
/// checks that walk every one of them (fetch capabilities, ACL use).
#[derive(Debug, Default)]
pub struct ActionRefs<'a> {
    pub exprs: Vec<&'a SampleExpr>,
    pub formats: Vec<&'a LogFormat>,
}

impl<'a> ActionRefs<'a> {
    pub fn expr(&mut self, e: &'a SampleExpr) {
        self.exprs.push(e);
    }

    pub fn format(&mut self, f: &'a LogFormat) {
        self.formats.push(f);
    }

    pub fn int_or_expr(&mut self, v: &'a IntOrExpr) {
        if let IntOrExpr::Expr(e) = v {
            self.exprs.push(e);
        }
    }

    pub fn time_or_expr(&mut self, v: &'a TimeOrExpr) {
        if let TimeOrExpr::Expr(e) = v {
            self.exprs.push(e);
        }
    }
}

/// `send-spoe-group <engine> <group>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpoeGroup {
    pub engine: String,
    pub group: String,
}

/// What an action argument holds for [`ActionRefs`].
pub trait ActionArgs {
    fn collect<'a>(&'a self, r: &mut ActionRefs<'a>);
}

/// Arguments without expressions or formats.
macro_rules! no_refs {
    ($($t:ty),* $(,)?) => {
        $(impl ActionArgs for $t {
            fn collect<'a>(&'a self, _: &mut ActionRefs<'a>) {}
        })*
    };
}

no_refs!(
    String,
    Option<String>,
    Option<u8>,
    bool,
    i32,
    DelHeader,
    Normalizer,
    LogLevel,
    SetStatus,
    SwitchMode,
    VarName,
    WaitForBody,
    LuaAction,
    SpoeGroup,
);

impl ActionArgs for LogFormat {
    fn collect<'a>(&'a self, r: &mut ActionRefs<'a>) {
        r.format(self);
    }
}

impl ActionArgs for SampleExpr {
    fn collect<'a>(&'a self, r: &mut ActionRefs<'a>) {
        r.expr(self);
    }
}

impl ActionArgs for IntOrExpr {
    fn collect<'a>(&'a self, r: &mut ActionRefs<'a>) {
        r.int_or_expr(self);
    }
}

impl ActionArgs for TimeOrExpr {
    fn collect<'a>(&'a self, r: &mut ActionRefs<'a>) {
        r.time_or_expr(self);
    }
}

impl<V: ActionArgs> ActionArgs for SetVar<V> {
    fn collect<'a>(&'a self, r: &mut ActionRefs<'a>) {
        self.value.collect(r);
    }
}

impl ActionArgs for SetHeader {
    fn collect<'a>(&'a self, r: &mut ActionRefs<'a>) {
        r.format(&self.value);
    }
}

impl ActionArgs for ReplaceHeader {
    fn collect<'a>(&'a self, r: &mut ActionRefs<'a>) {
        r.format(&self.replace);
    }
}

impl ActionArgs for Replace {
    fn collect<'a>(&'a self, r: &mut ActionRefs<'a>) {
        r.format(&self.replace);
    }
}

impl ActionArgs for Reply {
    fn collect<'a>(&'a self, r: &mut ActionRefs<'a>) {
        for (_, f) in &self.headers {
            r.format(f);
        }
        if let Some(ReplyPayload::LfString(f)) = &self.payload {
            r.format(f);
        }
    }
}

impl ActionArgs for Redirect {
    fn collect<'a>(&'a self, r: &mut ActionRefs<'a>) {
        r.format(&self.target);
        if let Some(f) = &self.set_cookie_fmt {
            r.format(f);
        }
    }
}

impl ActionArgs for TrackSc {
    fn collect<'a>(&'a self, r: &mut ActionRefs<'a>) {
        r.expr(&self.key);
    }
}

impl ActionArgs for ScUpdate {
    fn collect<'a>(&'a self, r: &mut ActionRefs<'a>) {
        if let Some(v) = &self.value {
            r.int_or_expr(v);
        }
    }
}

impl ActionArgs for SetTimeout {
    fn collect<'a>(&'a self, r: &mut ActionRefs<'a>) {
        r.time_or_expr(&self.value);
    }
}

impl ActionArgs for CaptureSample {
    fn collect<'a>(&'a self, r: &mut ActionRefs<'a>) {
        r.expr(&self.expr);
    }
}

impl ActionArgs for DoResolve {
    fn collect<'a>(&'a self, r: &mut ActionRefs<'a>) {
        r.expr(&self.expr);
    }
}

impl ActionArgs for MapUpdate {
    fn collect<'a>(&'a self, r: &mut ActionRefs<'a>) {
        r.format(&self.key);
        if let Some(v) = &self.value {
            r.format(v);
        }
    }
}

impl ActionArgs for SetSockOpt {
    fn collect<'a>(&'a self, r: &mut ActionRefs<'a>) {
        r.int_or_expr(&self.value);
    }
}

impl ActionArgs for AttachSrv {
    fn collect<'a>(&'a self, r: &mut ActionRefs<'a>) {
        if let Some(e) = &self.name {
            r.expr(e);
        }
    }
}

impl ActionArgs for BandwidthLimit {
    fn collect<'a>(&'a self, r: &mut ActionRefs<'a>) {
        if let Some(SizeOrExpr::Expr(e)) = &self.limit {
            r.expr(e);
        }
        if let Some(p) = &self.period {
            r.time_or_expr(p);
        }
    }
}

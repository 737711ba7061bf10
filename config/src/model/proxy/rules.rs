//! Rule sets: `http-request`, `tcp-request` ... rules and their actions.
//!
//! Each rule set has its own action enum holding only the actions HAProxy
//! offers in it (the keyword table's matrix, manual 4.3 "Actions keywords
//! matrix"), so a rule the engine runs cannot carry an action of another
//! set. The rule parser builds an [`AnyAction`] and the set's enum takes it
//! through `from_any`.
//!
//! No action is kept as words: every action of the manual's matrix has a
//! typed variant. `lua.<name>` keeps its arguments as words, since their
//! meaning belongs to the Lua script that registers the action.

use super::actions::*;
use crate::acl::Condition;
use crate::diag::Loc;
use crate::logformat::LogFormat;
use crate::sample::SampleExpr;
use std::time::Duration;

/// A rule of one rule set: an action with its arguments and an optional
/// condition.
#[derive(Clone, Debug)]
pub struct Rule<A> {
    pub action: A,
    pub cond: Option<Condition>,
    pub loc: Loc,
}

/// `name()` and `refs()` of an action enum, given each variant's name.
macro_rules! name_and_refs {
    ($enum:ident, [$($unit:ident => $uname:expr),*], [$($var:ident => $vname:expr),*]) => {
        impl $enum {
            /// The action's name as written (the family name for the
            /// numbered ones: `track-sc`, `sc-*` ...).
            pub fn name(&self) -> &'static str {
                match self {
                    $(Self::$unit => $uname,)*
                    $(Self::$var(_) => $vname,)*
                }
            }

            /// The sample expressions and log formats of the action.
            pub fn refs(&self) -> ActionRefs<'_> {
                let mut r = ActionRefs::default();
                match self {
                    $(Self::$unit => {})*
                    $(Self::$var(a) => a.collect(&mut r),)*
                }
                r
            }
        }
    };
}

/// Declares an action enum: its unit variants and its variants with
/// arguments, each with the action's name as written.
macro_rules! actions {
    (
        $(#[$meta:meta])*
        $enum:ident {
            units: [$($unit:ident = $uname:literal),* $(,)?],
            args: [$($(#[$vmeta:meta])* $var:ident($ty:ty) = $vname:literal),* $(,)?] $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq)]
        pub enum $enum {
            $($unit,)*
            $($(#[$vmeta])* $var($ty),)*
        }

        name_and_refs!($enum, [$($unit => $uname),*], [$($var => $vname),*]);
    };
}

/// Declares a rule set's action enum as a subset of [`AnyAction`].
macro_rules! set_actions {
    (
        $(#[$meta:meta])*
        $enum:ident {
            units: [$($unit:ident),* $(,)?],
            args: [$($var:ident($ty:ty)),* $(,)?] $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq)]
        pub enum $enum {
            $($unit,)*
            $($var($ty),)*
        }

        impl $enum {
            /// The action if this rule set offers it, else its name.
            pub fn from_any(a: AnyAction) -> Result<Self, &'static str> {
                match a {
                    $(AnyAction::$unit => Ok(Self::$unit),)*
                    $(AnyAction::$var(x) => Ok(Self::$var(x)),)*
                    #[allow(unreachable_patterns)]
                    other => Err(other.name()),
                }
            }
        }

        name_and_refs!(
            $enum,
            [$($unit => AnyAction::$unit.name()),*],
            [$($var => any_name::$var),*]
        );
    };
}

/// Declares `AnyAction` and, for the per-set enums, the name of each of
/// its variants with arguments as a constant (`any_name::SetHeader`).
macro_rules! any_actions {
    (
        units: [$($unit:ident = $uname:literal),* $(,)?],
        args: [$($(#[$vmeta:meta])* $var:ident($ty:ty) = $vname:literal),* $(,)?] $(,)?
    ) => {
        actions! {
            /// Any action of any rule set, as the rule parser reads it.
            AnyAction {
                units: [$($unit = $uname),*],
                args: [$($(#[$vmeta])* $var($ty) = $vname),*],
            }
        }

        #[allow(non_upper_case_globals)]
        mod any_name {
            $(pub const $var: &str = $vname;)*
        }
    };
}

any_actions! {
    units: [
        Accept = "accept",
        Allow = "allow",
        Reject = "reject",
        Close = "close",
        DgramDrop = "dgram-drop",
        DisableL7Retry = "disable-l7-retry",
        DoLog = "do-log",
        SendRetry = "send-retry",
        WaitForHandshake = "wait-for-handshake",
        ExpectProxy = "expect-proxy",
        ExpectNetscalerCip = "expect-netscaler-cip",
    ],
    args: [
        AddAcl(MapUpdate) = "add-acl",
        DelAcl(MapUpdate) = "del-acl",
        DelMap(MapUpdate) = "del-map",
        SetMap(MapUpdate) = "set-map",
        AddHeader(SetHeader) = "add-header",
        SetHeader(SetHeader) = "set-header",
        EarlyHint(SetHeader) = "early-hint",
        DelHeader(DelHeader) = "del-header",
        ReplaceHeader(ReplaceHeader) = "replace-header",
        ReplaceValue(ReplaceHeader) = "replace-value",
        ReplacePath(Replace) = "replace-path",
        ReplacePathq(Replace) = "replace-pathq",
        ReplaceUri(Replace) = "replace-uri",
        SetPath(LogFormat) = "set-path",
        SetPathq(LogFormat) = "set-pathq",
        SetUri(LogFormat) = "set-uri",
        SetQuery(LogFormat) = "set-query",
        SetMethod(LogFormat) = "set-method",
        SetStatus(SetStatus) = "set-status",
        NormalizeUri(Normalizer) = "normalize-uri",
        AttachSrv(AttachSrv) = "attach-srv",
        /// `auth [realm <realm>]`.
        Auth(Option<String>) = "auth",
        CacheStore(String) = "cache-store",
        CacheUse(String) = "cache-use",
        Capture(CaptureSample) = "capture",
        Deny(Reply) = "deny",
        Tarpit(Reply) = "tarpit",
        Return(Reply) = "return",
        Redirect(Redirect) = "redirect",
        DoResolve(DoResolve) = "do-resolve",
        Pause(TimeOrExpr) = "pause",
        Sc(ScUpdate) = "sc-*",
        TrackSc(TrackSc) = "track-sc",
        SendSpoeGroup(SpoeGroup) = "send-spoe-group",
        SetBandwidthLimit(BandwidthLimit) = "set-bandwidth-limit",
        SetSockOpt(SetSockOpt) = "set-mark/tos",
        SetDst(SampleExpr) = "set-dst",
        SetDstPort(SampleExpr) = "set-dst-port",
        SetSrc(SampleExpr) = "set-src",
        SetSrcPort(SampleExpr) = "set-src-port",
        SetPriorityClass(SampleExpr) = "set-priority-class",
        SetPriorityOffset(SampleExpr) = "set-priority-offset",
        SetLogLevel(LogLevel) = "set-log-level",
        SetNice(i32) = "set-nice",
        SetRetries(IntOrExpr) = "set-retries",
        SetTimeout(SetTimeout) = "set-timeout",
        SetVar(SetVar<SampleExpr>) = "set-var",
        SetVarFmt(SetVar<LogFormat>) = "set-var-fmt",
        UnsetVar(VarName) = "unset-var",
        /// `silent-drop [rst-ttl <ttl>]`.
        SilentDrop(Option<u8>) = "silent-drop",
        StrictMode(bool) = "strict-mode",
        SwitchMode(SwitchMode) = "switch-mode",
        UseService(String) = "use-service",
        WaitForBody(WaitForBody) = "wait-for-body",
        Lua(LuaAction) = "lua",
    ],
}

set_actions! {
    /// `tcp-request connection` actions.
    TcpRequestConnectionAction {
        units: [Accept, Reject, DoLog, ExpectProxy, ExpectNetscalerCip],
        args: [
            Sc(ScUpdate), TrackSc(TrackSc), SetDst(SampleExpr), SetDstPort(SampleExpr),
            SetSrc(SampleExpr), SetSrcPort(SampleExpr), SetSockOpt(SetSockOpt),
            SetVar(SetVar<SampleExpr>), SetVarFmt(SetVar<LogFormat>), UnsetVar(VarName),
            SilentDrop(Option<u8>), Lua(LuaAction),
        ],
    }
}

set_actions! {
    /// `tcp-request session` actions.
    TcpRequestSessionAction {
        units: [Accept, Reject, DoLog],
        args: [
            AttachSrv(AttachSrv), Sc(ScUpdate), TrackSc(TrackSc), SetDst(SampleExpr),
            SetDstPort(SampleExpr), SetSrc(SampleExpr), SetSrcPort(SampleExpr),
            SetSockOpt(SetSockOpt), SetVar(SetVar<SampleExpr>), SetVarFmt(SetVar<LogFormat>),
            UnsetVar(VarName), SilentDrop(Option<u8>), Lua(LuaAction),
        ],
    }
}

set_actions! {
    /// `tcp-request content` actions.
    TcpRequestContentAction {
        units: [Accept, Reject, DoLog],
        args: [
            Capture(CaptureSample), DoResolve(DoResolve), Sc(ScUpdate), TrackSc(TrackSc),
            SendSpoeGroup(SpoeGroup), SetBandwidthLimit(BandwidthLimit), SetSockOpt(SetSockOpt),
            SetDst(SampleExpr), SetDstPort(SampleExpr), SetSrc(SampleExpr), SetSrcPort(SampleExpr),
            SetLogLevel(LogLevel), SetNice(i32), SetPriorityClass(SampleExpr),
            SetPriorityOffset(SampleExpr), SetRetries(IntOrExpr), SetVar(SetVar<SampleExpr>),
            SetVarFmt(SetVar<LogFormat>), UnsetVar(VarName), SilentDrop(Option<u8>),
            SwitchMode(SwitchMode), UseService(String), Lua(LuaAction),
        ],
    }
}

set_actions! {
    /// `tcp-response content` actions.
    TcpResponseContentAction {
        units: [Accept, Reject, Close, DoLog],
        args: [
            Sc(ScUpdate), SendSpoeGroup(SpoeGroup), SetBandwidthLimit(BandwidthLimit),
            SetSockOpt(SetSockOpt), SetLogLevel(LogLevel), SetNice(i32),
            SetVar(SetVar<SampleExpr>), SetVarFmt(SetVar<LogFormat>), UnsetVar(VarName),
            SilentDrop(Option<u8>), Lua(LuaAction),
        ],
    }
}

set_actions! {
    /// `http-request` actions (and `stats http-request`).
    HttpRequestAction {
        units: [Allow, Reject, DisableL7Retry, DoLog, WaitForHandshake],
        args: [
            AddAcl(MapUpdate), DelAcl(MapUpdate), DelMap(MapUpdate), SetMap(MapUpdate),
            AddHeader(SetHeader), SetHeader(SetHeader), EarlyHint(SetHeader),
            DelHeader(DelHeader), ReplaceHeader(ReplaceHeader), ReplaceValue(ReplaceHeader),
            ReplacePath(Replace), ReplacePathq(Replace), ReplaceUri(Replace),
            SetPath(LogFormat), SetPathq(LogFormat), SetUri(LogFormat), SetQuery(LogFormat),
            SetMethod(LogFormat), NormalizeUri(Normalizer), Auth(Option<String>),
            CacheUse(String), Capture(CaptureSample), Deny(Reply), Tarpit(Reply), Return(Reply),
            Redirect(Redirect), DoResolve(DoResolve), Pause(TimeOrExpr), Sc(ScUpdate),
            TrackSc(TrackSc), SendSpoeGroup(SpoeGroup), SetBandwidthLimit(BandwidthLimit),
            SetSockOpt(SetSockOpt), SetDst(SampleExpr), SetDstPort(SampleExpr),
            SetSrc(SampleExpr), SetSrcPort(SampleExpr), SetPriorityClass(SampleExpr),
            SetPriorityOffset(SampleExpr), SetLogLevel(LogLevel), SetNice(i32),
            SetRetries(IntOrExpr), SetTimeout(SetTimeout), SetVar(SetVar<SampleExpr>),
            SetVarFmt(SetVar<LogFormat>), UnsetVar(VarName), SilentDrop(Option<u8>),
            StrictMode(bool), UseService(String), WaitForBody(WaitForBody), Lua(LuaAction),
        ],
    }
}

set_actions! {
    /// `http-response` actions.
    HttpResponseAction {
        units: [Allow, DoLog],
        args: [
            AddAcl(MapUpdate), DelAcl(MapUpdate), DelMap(MapUpdate), SetMap(MapUpdate),
            AddHeader(SetHeader), SetHeader(SetHeader), DelHeader(DelHeader),
            ReplaceHeader(ReplaceHeader), ReplaceValue(ReplaceHeader), CacheStore(String),
            Capture(CaptureSample), Deny(Reply), Return(Reply), Redirect(Redirect), Pause(TimeOrExpr),
            Sc(ScUpdate), TrackSc(TrackSc), SendSpoeGroup(SpoeGroup),
            SetBandwidthLimit(BandwidthLimit), SetSockOpt(SetSockOpt), SetLogLevel(LogLevel),
            SetNice(i32), SetStatus(SetStatus), SetTimeout(SetTimeout),
            SetVar(SetVar<SampleExpr>), SetVarFmt(SetVar<LogFormat>), UnsetVar(VarName),
            SilentDrop(Option<u8>), StrictMode(bool), WaitForBody(WaitForBody), Lua(LuaAction),
        ],
    }
}

set_actions! {
    /// `http-after-response` actions.
    HttpAfterResponseAction {
        units: [Allow, DoLog],
        args: [
            AddHeader(SetHeader), SetHeader(SetHeader), DelHeader(DelHeader),
            DelMap(MapUpdate), SetMap(MapUpdate), ReplaceHeader(ReplaceHeader),
            ReplaceValue(ReplaceHeader), Capture(CaptureSample), Sc(ScUpdate), SetLogLevel(LogLevel),
            SetStatus(SetStatus), SetVar(SetVar<SampleExpr>), SetVarFmt(SetVar<LogFormat>),
            UnsetVar(VarName), StrictMode(bool), Lua(LuaAction),
        ],
    }
}

#[derive(Clone, Debug, Default)]
pub struct Rules {
    pub http_request: Vec<Rule<HttpRequestAction>>,
    pub http_response: Vec<Rule<HttpResponseAction>>,
    pub http_after_response: Vec<Rule<HttpAfterResponseAction>>,
    pub tcp_request_connection: Vec<Rule<TcpRequestConnectionAction>>,
    pub tcp_request_session: Vec<Rule<TcpRequestSessionAction>>,
    pub tcp_request_content: Vec<Rule<TcpRequestContentAction>>,
    pub tcp_request_inspect_delay: Option<Duration>,
    pub tcp_response_content: Vec<Rule<TcpResponseContentAction>>,
    pub tcp_response_inspect_delay: Option<Duration>,
    /// The `redirect` directives, run after `http-request` rules.
    pub redirect: Vec<Rule<Redirect>>,
}

impl Rules {
    pub fn is_empty(&self) -> bool {
        self.http_request.is_empty()
            && self.http_response.is_empty()
            && self.http_after_response.is_empty()
            && self.tcp_request_connection.is_empty()
            && self.tcp_request_session.is_empty()
            && self.tcp_request_content.is_empty()
            && self.tcp_response_content.is_empty()
            && self.redirect.is_empty()
    }

    /// Every rule of every set, as (condition, action references, place),
    /// for the checks that do not care which set a rule is in.
    pub fn all(&self) -> Vec<(Option<&Condition>, ActionRefs<'_>, &Loc)> {
        fn add<'a, A>(
            out: &mut Vec<(Option<&'a Condition>, ActionRefs<'a>, &'a Loc)>,
            rules: &'a [Rule<A>],
            refs: impl Fn(&'a A) -> ActionRefs<'a>,
        ) {
            out.extend(
                rules
                    .iter()
                    .map(|r| (r.cond.as_ref(), refs(&r.action), &r.loc)),
            );
        }
        let mut out = Vec::new();
        add(&mut out, &self.http_request, HttpRequestAction::refs);
        add(&mut out, &self.http_response, HttpResponseAction::refs);
        add(
            &mut out,
            &self.http_after_response,
            HttpAfterResponseAction::refs,
        );
        add(
            &mut out,
            &self.tcp_request_connection,
            TcpRequestConnectionAction::refs,
        );
        add(
            &mut out,
            &self.tcp_request_session,
            TcpRequestSessionAction::refs,
        );
        add(
            &mut out,
            &self.tcp_request_content,
            TcpRequestContentAction::refs,
        );
        add(
            &mut out,
            &self.tcp_response_content,
            TcpResponseContentAction::refs,
        );
        add(&mut out, &self.redirect, |r| {
            let mut refs = ActionRefs::default();
            r.collect(&mut refs);
            refs
        });
        out
    }
}

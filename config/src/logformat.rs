//! Custom log formats (HAProxy manual 8.2.6): the `<fmt>` strings of
//! `log-format`, `unique-id-format`, `http-request set-header`, dynamic
//! `use_backend`, `lf-string` ... as a list of literal text, `%alias` items
//! and `%[sample]` items, each with its flags.
//!
//! Follows HAProxy's `lf_expr_compile()` (src/log.c, 3.x):
//! - `%%` is a literal `%`;
//! - `%<alias>` is a run of letters and digits looked up in the alias table
//!   (unknown: "no such format alias");
//! - `%{+Q,-E}` before an alias or an expression sets or clears flags
//!   (Q, X, E, M, bin, json, cbor; others are ignored, like HAProxy does);
//! - `%(name)` / `%(name:type)` names an item (for json/cbor encoding) and
//!   may force its type (str, sint, bool);
//! - `%[expr]` is a sample expression (see [`crate::sample`]);
//! - `%o` is not an item: its flags become the default of every following
//!   item;
//! - a `%` followed by a digit or a blank is an error; followed by another
//!   punctuation character it is dropped (HAProxy's behaviour);
//! - a `%` at the end, or an unterminated `%{` / `%(`, is "truncated line".

use std::fmt;

use crate::sample::{parse_sample_prefix_in, SampleExpr, Vocab};

/// A parsed log format.
#[derive(Clone, Debug, PartialEq)]
pub struct LogFormat {
    pub items: Vec<LogItem>,
    /// The format as written.
    pub text: String,
    /// The flags every `%o` of the format has in common (HAProxy's
    /// expression-wide options, used e.g. to wrap a json/cbor encoded line);
    /// default when there is no `%o`.
    pub global_flags: LogFlags,
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum LogItem {
    /// Literal text (with `%%` already turned into `%`).
    Text(String),
    Alias {
        alias: Alias,
        flags: LogFlags,
    },
    Sample {
        expr: SampleExpr,
        flags: LogFlags,
    },
}

/// The options of one item: HAProxy's "node options" (the `%{...}` flags,
/// after the defaults set by `%o`), plus the item's `%(name:type)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogFlags {
    /// `Q`: quote strings.
    pub quote: bool,
    /// `X`: hexadecimal output (IPs, ports, %Ts, %rt, %pid).
    pub hex: bool,
    /// `E`: escape `"`, `\` and `]` with `\` (RFC 5424 structured data).
    pub escape: bool,
    /// `M`: mandatory (HAProxy's LOG_OPT_MANDATORY).
    pub mandatory: bool,
    /// `bin`: keep binary data; only honoured when set with `%o`.
    pub bin: bool,
    /// `json`: encode the value as JSON.
    pub json: bool,
    /// `cbor`: encode the value as CBOR.
    pub cbor: bool,
    /// `%(name)`: the key used by json/cbor encoding.
    pub name: Option<String>,
    /// `%(name:type)`: the type forced on the output.
    pub cast: Option<ItemType>,
}

impl LogFlags {
    /// Applies one `+flag` / `-flag`. Unknown names are ignored (HAProxy).
    fn apply(&mut self, add: bool, name: &str) {
        let encoding = self.json || self.cbor;
        match name {
            "Q" => self.quote = add,
            "X" => self.hex = add,
            "E" => self.escape = add,
            "M" => self.mandatory = add,
            "bin" => self.bin = add,
            // An encoding already set prevails over a new one.
            "json" if !add || !encoding => self.json = add,
            "cbor" if !add || !encoding => self.cbor = add,
            _ => {}
        }
    }

    /// The flags shared by `self` and `other` (name and type excluded).
    fn common(&self, other: &LogFlags) -> LogFlags {
        LogFlags {
            quote: self.quote && other.quote,
            hex: self.hex && other.hex,
            escape: self.escape && other.escape,
            mandatory: self.mandatory && other.mandatory,
            bin: self.bin && other.bin,
            json: self.json && other.json,
            cbor: self.cbor && other.cbor,
            name: None,
            cast: None,
        }
    }

    /// Whether no flag is set (name and type aside).
    pub fn is_plain(&self) -> bool {
        !(self.quote
            || self.hex
            || self.escape
            || self.mandatory
            || self.bin
            || self.json
            || self.cbor)
    }
}

/// The output type forced by `%(name:type)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemType {
    Str,
    Sint,
    Bool,
}

/// Why a log format was refused. `offset` is the byte offset in the format
/// of the character at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct LogFormatError {
    pub offset: u32,
    pub message: String,
}

impl LogFormatError {
    fn new(offset: usize, message: impl Into<String>) -> Self {
        LogFormatError {
            offset: u32::try_from(offset).unwrap_or(u32::MAX),
            message: message.into(),
        }
    }
}

/// How a format is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogFormatOptions {
    /// In `log-format`, `log-format-sd` and `unique-id-format`, spaces are
    /// separators and runs of them are merged (manual 8.2.6). Elsewhere
    /// (`set-header`, `use_backend`, `lf-string`, ...) they are literal.
    pub merge_spaces: bool,
}

/// Parses a log format with literal spaces (the case of every directive but
/// `log-format`, `log-format-sd` and `unique-id-format`, see
/// [`parse_log_format_with`]).
pub fn parse_log_format(text: &str) -> Result<LogFormat, LogFormatError> {
    parse_log_format_in(text, LogFormatOptions::default(), Vocab::builtin())
}

pub fn parse_log_format_with(
    text: &str,
    options: LogFormatOptions,
) -> Result<LogFormat, LogFormatError> {
    parse_log_format_in(text, options, Vocab::builtin())
}

/// The aliases of manual 8.2.6, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alias {
    /// `%OG`: log origin (log only).
    LogOrigin,
    /// `%B`: bytes read from the server to the client.
    BytesRead,
    /// `%CC`: captured request cookie.
    CapturedRequestCookie,
    /// `%CS`: captured response cookie.
    CapturedResponseCookie,
    /// `%H`: host name.
    Hostname,
    /// `%ID`: unique id.
    UniqueId,
    /// `%ST`: status code.
    StatusCode,
    /// `%T`: accept date, UTC.
    AcceptDateUtc,
    /// `%Ta`: active time of the request.
    TimeActive,
    /// `%Tc`: connect time.
    TimeConnect,
    /// `%Td`: data transfer time.
    TimeData,
    /// `%Th`: handshake time.
    TimeHandshake,
    /// `%Ti`: idle time before the request.
    TimeIdle,
    /// `%Tl`: accept date, local time.
    AcceptDateLocal,
    /// `%Tq`: Th + Ti + TR.
    TimeTq,
    /// `%Tr`: server response time.
    TimeResponse,
    /// `%TR`: time to receive the full request.
    TimeRequest,
    /// `%Ts`: accept date as a UNIX timestamp.
    AcceptTimestamp,
    /// `%Tt`: total time.
    TimeTotal,
    /// `%Tu`: total time minus idle time.
    TimeUser,
    /// `%Tw`: time waiting in queues.
    TimeWait,
    /// `%U`: bytes uploaded from the client.
    BytesUploaded,
    /// `%ac`: process concurrent connections.
    ActConn,
    /// `%b`: backend name.
    BackendName,
    /// `%bc`: backend concurrent connections.
    BackendConn,
    /// `%bi`: backend source IP.
    BackendSourceIp,
    /// `%bp`: backend source port.
    BackendSourcePort,
    /// `%bq`: backend queue.
    BackendQueue,
    /// `%ci`: client IP.
    ClientIp,
    /// `%cp`: client port.
    ClientPort,
    /// `%f`: frontend name.
    FrontendName,
    /// `%fc`: frontend concurrent connections.
    FrontendConn,
    /// `%fi`: frontend IP.
    FrontendIp,
    /// `%fp`: frontend port.
    FrontendPort,
    /// `%ft`: frontend name with '~' for SSL.
    FrontendNameTransport,
    /// `%hr`: captured request headers.
    CapturedRequestHeaders,
    /// `%hrl`: captured request headers, CLF style.
    CapturedRequestHeadersList,
    /// `%hs`: captured response headers.
    CapturedResponseHeaders,
    /// `%hsl`: captured response headers, CLF style.
    CapturedResponseHeadersList,
    /// `%HM`: HTTP method.
    HttpMethod,
    /// `%HP`: request URI without query string.
    HttpPath,
    /// `%HPO`: path only.
    HttpPathOnly,
    /// `%HQ`: query string.
    HttpQuery,
    /// `%HU`: request URI.
    HttpUri,
    /// `%HV`: HTTP version.
    HttpVersion,
    /// `%lc`: frontend log counter.
    LogCounter,
    /// `%ms`: accept date milliseconds.
    AcceptMillis,
    /// `%pid`: process id.
    Pid,
    /// `%r`: request line.
    HttpRequest,
    /// `%rc`: retries.
    Retries,
    /// `%rt`: request counter.
    RequestCounter,
    /// `%s`: server name.
    ServerName,
    /// `%sc`: server concurrent connections.
    ServerConn,
    /// `%si`: server IP.
    ServerIp,
    /// `%sp`: server port.
    ServerPort,
    /// `%sq`: server queue.
    ServerQueue,
    /// `%sslc`: SSL cipher.
    SslCipher,
    /// `%sslv`: SSL version.
    SslVersion,
    /// `%t`: accept date, local, with milliseconds.
    AcceptDate,
    /// `%tr`: request date, local, with milliseconds.
    RequestDate,
    /// `%trg`: request date, UTC.
    RequestDateUtc,
    /// `%trl`: request date, local.
    RequestDateLocal,
    /// `%ts`: termination state.
    TerminationState,
    /// `%tsc`: termination state with cookie status.
    TerminationStateCookie,
}

/// Where an alias is meaningful (the "R" column of the manual's table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AliasScope {
    Any,
    /// H: HTTP mode only.
    Http,
    /// S: SSL only.
    Ssl,
    /// L: logs only.
    Log,
}

/// `(name, alias, scope)`, in the manual's order.
pub const ALIASES: &[(&str, Alias, AliasScope)] = &[
    ("T", Alias::AcceptDateUtc, AliasScope::Any),
    ("Tl", Alias::AcceptDateLocal, AliasScope::Any),
    ("Ts", Alias::AcceptTimestamp, AliasScope::Any),
    ("t", Alias::AcceptDate, AliasScope::Any),
    ("ms", Alias::AcceptMillis, AliasScope::Any),
    ("tr", Alias::RequestDate, AliasScope::Http),
    ("trg", Alias::RequestDateUtc, AliasScope::Http),
    ("trl", Alias::RequestDateLocal, AliasScope::Http),
    ("Ta", Alias::TimeActive, AliasScope::Http),
    ("Tc", Alias::TimeConnect, AliasScope::Any),
    ("Td", Alias::TimeData, AliasScope::Any),
    ("Th", Alias::TimeHandshake, AliasScope::Any),
    ("Ti", Alias::TimeIdle, AliasScope::Http),
    ("Tq", Alias::TimeTq, AliasScope::Http),
    ("TR", Alias::TimeRequest, AliasScope::Http),
    ("Tr", Alias::TimeResponse, AliasScope::Http),
    ("Tt", Alias::TimeTotal, AliasScope::Any),
    ("Tu", Alias::TimeUser, AliasScope::Any),
    ("Tw", Alias::TimeWait, AliasScope::Any),
    ("B", Alias::BytesRead, AliasScope::Any),
    ("CC", Alias::CapturedRequestCookie, AliasScope::Http),
    ("CS", Alias::CapturedResponseCookie, AliasScope::Http),
    ("H", Alias::Hostname, AliasScope::Any),
    ("HM", Alias::HttpMethod, AliasScope::Http),
    ("HP", Alias::HttpPath, AliasScope::Http),
    ("HPO", Alias::HttpPathOnly, AliasScope::Http),
    ("HQ", Alias::HttpQuery, AliasScope::Http),
    ("HU", Alias::HttpUri, AliasScope::Http),
    ("HV", Alias::HttpVersion, AliasScope::Http),
    ("ID", Alias::UniqueId, AliasScope::Any),
    ("ST", Alias::StatusCode, AliasScope::Any),
    ("U", Alias::BytesUploaded, AliasScope::Any),
    ("ac", Alias::ActConn, AliasScope::Any),
    ("b", Alias::BackendName, AliasScope::Any),
    ("bc", Alias::BackendConn, AliasScope::Any),
    ("bi", Alias::BackendSourceIp, AliasScope::Any),
    ("bp", Alias::BackendSourcePort, AliasScope::Any),
    ("bq", Alias::BackendQueue, AliasScope::Any),
    ("ci", Alias::ClientIp, AliasScope::Any),
    ("cp", Alias::ClientPort, AliasScope::Any),
    ("f", Alias::FrontendName, AliasScope::Any),
    ("fc", Alias::FrontendConn, AliasScope::Any),
    ("fi", Alias::FrontendIp, AliasScope::Any),
    ("fp", Alias::FrontendPort, AliasScope::Any),
    ("ft", Alias::FrontendNameTransport, AliasScope::Any),
    ("lc", Alias::LogCounter, AliasScope::Any),
    ("hr", Alias::CapturedRequestHeaders, AliasScope::Any),
    ("hrl", Alias::CapturedRequestHeadersList, AliasScope::Any),
    ("hs", Alias::CapturedResponseHeaders, AliasScope::Any),
    ("hsl", Alias::CapturedResponseHeadersList, AliasScope::Any),
    ("OG", Alias::LogOrigin, AliasScope::Log),
    ("pid", Alias::Pid, AliasScope::Any),
    ("r", Alias::HttpRequest, AliasScope::Http),
    ("rc", Alias::Retries, AliasScope::Any),
    ("rt", Alias::RequestCounter, AliasScope::Any),
    ("s", Alias::ServerName, AliasScope::Any),
    ("sc", Alias::ServerConn, AliasScope::Any),
    ("si", Alias::ServerIp, AliasScope::Any),
    ("sp", Alias::ServerPort, AliasScope::Any),
    ("sq", Alias::ServerQueue, AliasScope::Any),
    ("sslc", Alias::SslCipher, AliasScope::Ssl),
    ("sslv", Alias::SslVersion, AliasScope::Ssl),
    ("ts", Alias::TerminationState, AliasScope::Any),
    ("tsc", Alias::TerminationStateCookie, AliasScope::Http),
];

impl Alias {
    pub fn from_name(name: &str) -> Option<Alias> {
        ALIASES
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, a, _)| *a)
    }

    /// The name after `%`.
    pub fn name(self) -> &'static str {
        ALIASES
            .iter()
            .find(|(_, a, _)| *a == self)
            .map_or("?", |(n, _, _)| *n)
    }

    pub fn scope(self) -> AliasScope {
        ALIASES
            .iter()
            .find(|(_, a, _)| *a == self)
            .map_or(AliasScope::Any, |(_, _, s)| *s)
    }
}

impl fmt::Display for Alias {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.name())
    }
}

/// Builds the items, merging adjacent text.
struct Builder {
    items: Vec<LogItem>,
    text: String,
    merge_spaces: bool,
}

impl Builder {
    fn push_char(&mut self, c: char) {
        if self.merge_spaces && c == ' ' {
            // A separator: runs collapse into one space, and a separator at
            // the start prints nothing (HAProxy's `last_isspace` starts set).
            let at_start = self.items.is_empty() && self.text.is_empty();
            if at_start || self.text.ends_with(' ') {
                return;
            }
        }
        self.text.push(c);
    }

    fn flush(&mut self) {
        if !self.text.is_empty() {
            self.items
                .push(LogItem::Text(std::mem::take(&mut self.text)));
        }
    }

    fn push(&mut self, item: LogItem) {
        self.flush();
        self.items.push(item);
    }
}

pub(crate) fn parse_log_format_in(
    text: &str,
    options: LogFormatOptions,
    vocab: Vocab,
) -> Result<LogFormat, LogFormatError> {
    let b = text.as_bytes();
    let mut out = Builder {
        items: Vec::new(),
        text: String::new(),
        merge_spaces: options.merge_spaces,
    };
    // Flags set by %o for the items that follow.
    let mut defaults = LogFlags::default();
    let mut global: Option<LogFlags> = None;
    let mut i = 0usize;

    while let Some(&c) = b.get(i) {
        if c != b'%' {
            let ch = text.get(i..).and_then(|r| r.chars().next()).unwrap_or('?');
            out.push_char(ch);
            i += ch.len_utf8();
            continue;
        }
        let pct = i;
        let mut j = i + 1;
        let mut name: Option<String> = None;
        let mut cast: Option<ItemType> = None;

        // %(name) or %(name:type)
        if b.get(j) == Some(&b'(') {
            let start = j + 1;
            let mut k = start;
            let mut type_start: Option<usize> = None;
            loop {
                match b.get(k) {
                    None => return Err(truncated(pct, None)),
                    Some(b':') if type_start.is_none() => type_start = Some(k + 1),
                    Some(b')') => break,
                    Some(&ch) if ch.is_ascii_alphanumeric() || ch == b'_' || ch == b'-' => {}
                    Some(_) => {
                        let ch = text.get(k..).and_then(|r| r.chars().next()).unwrap_or('?');
                        return Err(LogFormatError::new(
                            k,
                            format!("invalid character in custom name near '{ch}' at position {k} line : '{text}'"),
                        ));
                    }
                }
                k += 1;
            }
            let name_end = type_start.map_or(k, |t| t - 1);
            let n = text.get(start..name_end).unwrap_or("");
            if !n.is_empty() {
                name = Some(n.to_string());
            }
            if let Some(t) = type_start {
                let ty = text.get(t..k).unwrap_or("");
                cast = Some(match ty {
                    "str" => ItemType::Str,
                    "sint" => ItemType::Sint,
                    "bool" => ItemType::Bool,
                    _ => {
                        return Err(LogFormatError::new(
                            t,
                            format!("unexpected output type '{ty}' at position {t} line : '{text}'. Supported types are: str, sint, bool"),
                        ))
                    }
                });
            }
            j = k + 1;
        }

        // %{flags}
        let mut args: Option<&str> = None;
        if b.get(j) == Some(&b'{') {
            let start = j + 1;
            let Some(len) = text.get(start..).and_then(|r| r.find('}')) else {
                return Err(truncated(pct, text.get(start..)));
            };
            let a = text.get(start..start + len).unwrap_or("");
            args = Some(a);
            j = start + len + 1;
            // After %{...} only an alias or an expression may follow.
            match b.get(j) {
                Some(&ch) if ch == b'[' || ch.is_ascii_alphanumeric() => {}
                _ => {
                    return Err(LogFormatError::new(
                        j,
                        format!("parse argument modifier without alias name near '%{{{a}}}'"),
                    ))
                }
            }
        }

        let item_flags = |defaults: &LogFlags| {
            let mut f = defaults.clone();
            if let Some(a) = args {
                apply_args(&mut f, a);
            }
            f.name = name.clone();
            f.cast = cast;
            f
        };

        match b.get(j) {
            Some(b'[') => {
                let start = j + 1;
                let rest = text.get(start..).unwrap_or("");
                let (expr, len) = parse_sample_prefix_in(rest, vocab).map_err(|e| {
                    LogFormatError::new(
                        start + e.offset as usize,
                        format!("failed to parse sample expression <{rest}> : {}", e.message),
                    )
                })?;
                let end = start + len;
                match b.get(end) {
                    Some(b']') => {}
                    Some(_) => {
                        let ch = text
                            .get(end..)
                            .and_then(|r| r.chars().next())
                            .unwrap_or('?');
                        return Err(LogFormatError::new(
                            end,
                            format!("expected ']' after '{}', but found '{ch}'", expr.text),
                        ));
                    }
                    None => {
                        return Err(LogFormatError::new(
                            end,
                            format!("missing ']' after '{}'", expr.text),
                        ))
                    }
                }
                let flags = item_flags(&defaults);
                out.push(LogItem::Sample { expr, flags });
                i = end + 1;
            }
            Some(&ch)
                if ch.is_ascii_alphabetic() || (args.is_some() && ch.is_ascii_alphanumeric()) =>
            {
                let len = b.get(j..).map_or(0, |r| {
                    r.iter().take_while(|c| c.is_ascii_alphanumeric()).count()
                });
                let alias_name = text.get(j..j + len).unwrap_or("");
                let flags = item_flags(&defaults);
                if alias_name == "o" {
                    // Special alias: its flags apply to all following items.
                    defaults = LogFlags {
                        name: None,
                        cast: None,
                        ..flags
                    };
                    global = Some(match global {
                        None => defaults.clone(),
                        Some(g) => g.common(&defaults),
                    });
                } else {
                    let Some(alias) = Alias::from_name(alias_name) else {
                        return Err(LogFormatError::new(
                            j,
                            format!("no such format alias '{alias_name}'. If you wanted to emit the '%' character verbatim, you need to use '%%'"),
                        ));
                    };
                    out.push(LogItem::Alias { alias, flags });
                }
                i = j + len;
            }
            Some(b'%') => {
                out.push_char('%');
                i = j + 1;
            }
            Some(&ch) if ch.is_ascii_digit() || ch == b' ' || ch == b'\t' => {
                return Err(LogFormatError::new(
                    j,
                    format!(
                        "unexpected alias name near '{}' at position {j} line : '{text}'. Maybe you want to write a single '%', use the syntax '%%'",
                        char::from(ch)
                    ),
                ));
            }
            None => return Err(truncated(pct, None)),
            Some(_) => {
                // HAProxy drops the '%' and reads what follows as text.
                i = j;
            }
        }
    }
    out.flush();
    Ok(LogFormat {
        items: out.items,
        text: text.to_string(),
        global_flags: global.unwrap_or_default(),
    })
}

fn truncated(pct: usize, arg: Option<&str>) -> LogFormatError {
    LogFormatError::new(
        pct,
        format!("truncated line after '{}'", arg.unwrap_or("%")),
    )
}

/// HAProxy's `parse_logformat_node_args()`: comma-separated `+flag` /
/// `-flag`; the last sign in a token counts; a token without a sign or with
/// an unknown flag is ignored.
fn apply_args(flags: &mut LogFlags, args: &str) {
    for token in args.split(',') {
        let Some(pos) = token.rfind(['+', '-']) else {
            continue;
        };
        let add = token.get(pos..pos + 1) == Some("+");
        flags.apply(add, token.get(pos + 1..).unwrap_or(""));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::tests::vocab;

    fn lf(text: &str) -> Result<LogFormat, LogFormatError> {
        parse_log_format_in(text, LogFormatOptions::default(), vocab())
    }

    fn lf_err(text: &str) -> String {
        lf(text).expect_err(text).message
    }

    fn alias(a: Alias) -> LogItem {
        LogItem::Alias {
            alias: a,
            flags: LogFlags::default(),
        }
    }

    fn text(t: &str) -> LogItem {
        LogItem::Text(t.to_string())
    }

    #[test]
    fn text_and_aliases() {
        let f = lf("%ci:%cp [%tr] %ft %b/%s %ST %B %tsc %HPO").unwrap();
        assert_eq!(
            f.items,
            vec![
                alias(Alias::ClientIp),
                text(":"),
                alias(Alias::ClientPort),
                text(" ["),
                alias(Alias::RequestDate),
                text("] "),
                alias(Alias::FrontendNameTransport),
                text(" "),
                alias(Alias::BackendName),
                text("/"),
                alias(Alias::ServerName),
                text(" "),
                alias(Alias::StatusCode),
                text(" "),
                alias(Alias::BytesRead),
                text(" "),
                alias(Alias::TerminationStateCookie),
                text(" "),
                alias(Alias::HttpPathOnly),
            ]
        );
        assert_eq!(f.text, "%ci:%cp [%tr] %ft %b/%s %ST %B %tsc %HPO");
        // %Tr and %TR are different aliases.
        let f = lf("%Tr/%TR").unwrap();
        assert_eq!(
            f.items,
            vec![
                alias(Alias::TimeResponse),
                text("/"),
                alias(Alias::TimeRequest)
            ]
        );
    }

    #[test]
    fn every_alias_of_the_manual_parses() {
        for (name, a, _) in ALIASES {
            let f = lf(&format!("%{name}")).unwrap();
            assert_eq!(f.items, vec![alias(*a)], "{name}");
            assert_eq!(a.name(), *name);
        }
        // The HAProxy default formats.
        for fmt in [
            "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r",
            "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq",
            "%{+Q}o %{-Q}ci - - [%trg] %r %ST %B \"\" \"\" %cp %ms %ft %b %s %TR %Tw %Tc %Tr %Ta %tsc %ac %fc %bc %sc %rc %sq %bq %CC %CS %hrl %hsl",
        ] {
            assert!(lf(fmt).is_ok(), "{fmt}");
        }
    }

    #[test]
    fn unknown_alias() {
        // haproxy 2.6 (same text in 3.2's log.c).
        assert_eq!(
            lf_err("%cix"),
            "no such format alias 'cix'. If you wanted to emit the '%' character verbatim, you need to use '%%'"
        );
        assert_eq!(lf("x%Foo").unwrap_err().offset, 2);
    }

    #[test]
    fn percent_handling() {
        assert_eq!(lf("100%%").unwrap().items, vec![text("100%")]);
        // A '%' before punctuation is dropped (HAProxy's state machine).
        assert_eq!(lf("a%/b").unwrap().items, vec![text("a/b")]);
        assert_eq!(
            lf_err("50% off"),
            "unexpected alias name near ' ' at position 3 line : '50% off'. Maybe you want to write a single '%', use the syntax '%%'"
        );
        assert!(lf_err("%1").starts_with("unexpected alias name near '1' at position 1"));
        assert_eq!(lf_err("abc%"), "truncated line after '%'");
        assert_eq!(lf_err("%{+Q"), "truncated line after '+Q'");
        assert_eq!(
            lf_err("%{+Q} x"),
            "parse argument modifier without alias name near '%{+Q}'"
        );
        assert_eq!(
            lf_err("%{+Q}"),
            "parse argument modifier without alias name near '%{+Q}'"
        );
    }

    #[test]
    fn flags() {
        let f = lf("%{+Q,+X,-E,+E,+M}ci %{+bin}[src]").unwrap();
        let LogItem::Alias { flags, .. } = &f.items[0] else {
            panic!()
        };
        assert!(flags.quote && flags.hex && flags.escape && flags.mandatory);
        let LogItem::Sample { flags, expr } = &f.items[2] else {
            panic!()
        };
        assert!(flags.bin);
        assert_eq!(expr.text, "src");
        // Unknown flags and unsigned tokens are ignored, as in HAProxy.
        let f = lf("%{+W,Q}ci").unwrap();
        let LogItem::Alias { flags, .. } = &f.items[0] else {
            panic!()
        };
        assert!(flags.is_plain());
        // An encoding already set prevails.
        let f = lf("%{+json,+cbor}ci %{+cbor,-cbor,+json}ci").unwrap();
        let LogItem::Alias { flags, .. } = &f.items[0] else {
            panic!()
        };
        assert!(flags.json && !flags.cbor);
        let LogItem::Alias { flags, .. } = &f.items[2] else {
            panic!()
        };
        assert!(flags.json && !flags.cbor);
    }

    #[test]
    fn global_flags_with_o() {
        let f = lf("%{+Q}o %ci %{-Q}r %{+E}o %[src]").unwrap();
        // %o is not an item.
        assert!(!f
            .items
            .iter()
            .any(|i| matches!(i, LogItem::Alias { alias, .. } if alias.name() == "o")));
        let flags: Vec<&LogFlags> = f
            .items
            .iter()
            .filter_map(|i| match i {
                LogItem::Alias { flags, .. } | LogItem::Sample { flags, .. } => Some(flags),
                LogItem::Text(_) => None,
            })
            .collect();
        assert!(flags[0].quote);
        assert!(!flags[1].quote);
        // The second %o adds E on top of the first one's Q.
        assert!(flags[2].quote && flags[2].escape);
        // Flags common to every %o.
        assert!(f.global_flags.quote && !f.global_flags.escape);
        assert!(lf("%ci").unwrap().global_flags.is_plain());
    }

    #[test]
    fn named_items() {
        let f = lf("%{+json}o %(client)ci %(st:sint)ST %(:str)[path] %(x)%").unwrap();
        let names: Vec<(Option<&str>, Option<ItemType>)> = f
            .items
            .iter()
            .filter_map(|i| match i {
                LogItem::Alias { flags, .. } | LogItem::Sample { flags, .. } => {
                    Some((flags.name.as_deref(), flags.cast))
                }
                LogItem::Text(_) => None,
            })
            .collect();
        assert_eq!(
            names,
            vec![
                (Some("client"), None),
                (Some("st"), Some(ItemType::Sint)),
                (None, Some(ItemType::Str))
            ]
        );
        assert!(f.items.last() == Some(&text(" %")));
        assert!(lf_err("%(a b)ci")
            .starts_with("invalid character in custom name near ' ' at position 3"));
        assert!(lf_err("%(a:int)ci").starts_with("unexpected output type 'int' at position 4"));
        assert_eq!(lf_err("%(abc"), "truncated line after '%'");
        assert_eq!(lf_err("%(abc)"), "truncated line after '%'");
    }

    #[test]
    fn sample_items() {
        let f = lf("%[req.hdr(host),lower] x %{+Q}[var(txn.a)]").unwrap();
        let LogItem::Sample { expr, flags } = &f.items[0] else {
            panic!()
        };
        assert_eq!(expr.text, "req.hdr(host),lower");
        assert!(flags.is_plain());
        assert_eq!(f.items[1], text(" x "));
        let LogItem::Sample { flags, .. } = &f.items[2] else {
            panic!()
        };
        assert!(flags.quote);
        // haproxy 2.6: "failed to parse sample expression <src,lowr]> :
        // unknown converter 'lowr'"
        assert_eq!(
            lf_err("%[src,lowr]"),
            "failed to parse sample expression <src,lowr]> : unknown converter 'lowr'"
        );
        assert_eq!(lf("%[src,lowr]").unwrap_err().offset, 6);
        assert_eq!(
            lf_err("%[hdr(x) y]"),
            "expected ']' after 'hdr(x)', but found ' '"
        );
        assert_eq!(lf_err("%[src"), "missing ']' after 'src'");
        assert_eq!(
            lf_err("%[]"),
            "failed to parse sample expression <]> : missing fetch method"
        );
        assert_eq!(
            lf_err("%[src,]"),
            "failed to parse sample expression <src,]> : unknown converter ''"
        );
        // haproxy 2.6 (url_param had 2 arguments there, 3 in 3.2)
        assert!(lf_err("%[url_param(a,b,c,d)]").contains("expected ')' before ',d)]'"));
    }

    #[test]
    fn merged_spaces() {
        let o = LogFormatOptions { merge_spaces: true };
        let f = parse_log_format_in("  %ci   %cp  x  ", o, vocab()).unwrap();
        assert_eq!(
            f.items,
            vec![
                alias(Alias::ClientIp),
                text(" "),
                alias(Alias::ClientPort),
                text(" x "),
            ]
        );
        // Without merging, spaces are literal.
        let f = lf("  %ci").unwrap();
        assert_eq!(f.items[0], text("  "));
    }

    #[test]
    fn alias_scopes() {
        assert_eq!(Alias::HttpRequest.scope(), AliasScope::Http);
        assert_eq!(Alias::SslCipher.scope(), AliasScope::Ssl);
        assert_eq!(Alias::LogOrigin.scope(), AliasScope::Log);
        assert_eq!(Alias::ClientIp.scope(), AliasScope::Any);
        assert_eq!(Alias::ClientIp.to_string(), "%ci");
    }

    #[test]
    fn never_panics_on_odd_input() {
        for t in [
            "%",
            "%%",
            "%(",
            "%()",
            "%(:",
            "%(:)",
            "%{",
            "%{}",
            "%{}x",
            "%[",
            "%[]",
            "%[src",
            "%é",
            "é%ci",
            "%(é)ci",
            "%{é}ci",
            "%[src,é]",
            "%{+Q}[",
            "%{+Q}é",
            "%(a:é)x",
            "%{,,+,-}ci",
        ] {
            let _ = lf(t);
            let _ = parse_log_format_in(t, LogFormatOptions { merge_spaces: true }, vocab());
            let _ = parse_log_format(t);
        }
    }

    #[test]
    fn real_tables_when_present() {
        if crate::keywords::fetch("req.hdr").is_none() {
            return;
        }
        let f = parse_log_format("%{+Q}o %ci %[req.hdr(host),lower] %[ssl_fc_sni]").unwrap();
        // %o is not an item: " ", %ci, " ", %[...], " ", %[...]
        assert_eq!(f.items.len(), 6);
    }
}

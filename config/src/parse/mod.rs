//! The driver: feeds every line of every file through the lexer and the
//! conditional-block preprocessor, opens sections, and hands keyword lines
//! to the parser of the current section. One pass, in file order, like
//! HAProxy: `setenv` in the global section affects the lines after it.

mod common;
mod global;
mod proxy;
mod sections;

pub use common::Line;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::cond::{CondEnv, Preproc};
use crate::diag::{did_you_mean, Diagnostic, Diagnostics, Loc, SourceFile};
use crate::keywords::Section;
use crate::lexer::{tokenize, Word};
use crate::model::Config;
use crate::Host;

/// HAProxy refuses lines of more than this many words.
pub const MAX_LINE_ARGS: usize = 64;

/// Parse every file in order into one configuration. Cross-reference checks
/// run afterwards (see [`crate::check`]); the caller gets the model even when
/// there are errors, so it can report everything at once.
pub fn parse_files(files: &[Arc<SourceFile>], host: &dyn Host) -> (Config, Diagnostics) {
    let mut p = Parser::new(host);
    for file in files {
        p.parse_file(file);
    }
    p.finish()
}

/// Which section the following keyword lines belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cur {
    /// Before any section.
    None,
    Global,
    Defaults(usize),
    Proxy(usize),
    /// A section other than global/proxies: its kind and its index in the
    /// matching `Config` vector.
    Other(Section, usize),
}

pub(crate) struct Parser<'h> {
    pub(crate) host: &'h dyn Host,
    /// Environment changes made by `setenv`/`presetenv`/`unsetenv`/
    /// `resetenv`: Some(value) set, None removed.
    pub(crate) env: BTreeMap<String, Option<String>>,
    /// `resetenv` was used: only these names survive from the host env.
    pub(crate) env_reset_keep: Option<Vec<String>>,
    pub(crate) diags: Diagnostics,
    pub(crate) cfg: Config,
    pub(crate) cur: Cur,
    /// Index in `cfg.defaults` of the defaults section new proxies inherit.
    pub(crate) last_defaults: Option<usize>,
    /// How proxies use each defaults section (by index in `cfg.defaults`),
    /// for HAProxy's inheritance rules (see `proxy::open`).
    pub(crate) defaults_use: BTreeMap<usize, DefaultsUse>,
}

/// How frontends, backends and listens use one defaults section.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DefaultsUse {
    /// Named in a `from`.
    pub(crate) explicit: bool,
    /// Inherited as the last defaults section, without `from`.
    pub(crate) implicit: bool,
    /// The first kind of proxy that inherited its TCP/HTTP rules.
    pub(crate) rules_kind: Option<crate::model::ProxyKind>,
}

impl<'h> Parser<'h> {
    pub(crate) fn new(host: &'h dyn Host) -> Self {
        Parser {
            host,
            env: BTreeMap::new(),
            env_reset_keep: None,
            diags: Diagnostics::default(),
            cfg: Config::default(),
            cur: Cur::None,
            last_defaults: None,
            defaults_use: BTreeMap::new(),
        }
    }

    /// The value of an environment variable as the configuration sees it at
    /// this point of the parse.
    pub(crate) fn getenv(&self, name: &str) -> Option<String> {
        lookup_env(&self.env, self.env_reset_keep.as_deref(), self.host, name)
    }

    pub(crate) fn error(&mut self, loc: &Loc, message: impl Into<String>) {
        self.diags.error(loc, message);
    }

    pub(crate) fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn parse_file(&mut self, file: &Arc<SourceFile>) {
        let mut pre = Preproc::new();
        // HAProxy ends the current section at the end of each file.
        self.cur = Cur::None;
        for (idx, raw) in file.text.split('\n').enumerate() {
            let lineno = u32::try_from(idx + 1).unwrap_or(u32::MAX);
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            let loc = Loc::new(file, lineno, 0);
            let words = {
                let env = |name: &str| match name {
                    ".FILE" => Some(file.name.clone()),
                    ".LINE" => Some(lineno.to_string()),
                    ".SECTION" => Some(self.section_name()),
                    _ => self.getenv(name),
                };
                tokenize(raw, &env)
            };
            let words = match words {
                Ok(w) => w,
                Err(e) => {
                    let at = loc.at_col(e.col());
                    self.error(&at, e.to_string());
                    continue;
                }
            };
            if words.is_empty() {
                continue;
            }
            let keep = {
                let env = EnvView { p: self };
                let mut diags = Diagnostics::default();
                let keep = pre.feed(&words, &loc, &env, &mut diags);
                self.diags.list.extend(diags.list);
                keep
            };
            if !keep {
                continue;
            }
            if words.len() > MAX_LINE_ARGS {
                let col = words.get(MAX_LINE_ARGS).map_or(0, |w| w.col);
                self.error(
                    &loc.at_col(col),
                    format!(
                        "too many words, truncating after word {MAX_LINE_ARGS} (HAProxy's limit)"
                    ),
                );
                continue;
            }
            let first_col = words.first().map_or(0, |w| w.col);
            let line = Line::new(&words, loc.at_col(first_col));
            self.line(&line);
        }
        // HAProxy refuses a file whose last line has no line feed: it may
        // have been truncated.
        if !file.text.is_empty() && !file.text.ends_with('\n') {
            let last = u32::try_from(file.text.split('\n').count()).unwrap_or(u32::MAX);
            let pos = file.text.len();
            self.error(
                &Loc::new(file, last, 0),
                format!(
                    "Missing LF on last line, file might have been truncated at position {pos}."
                ),
            );
        }
        let mut diags = Diagnostics::default();
        pre.finish(file, &mut diags);
        self.diags.list.extend(diags.list);
    }

    /// `.SECTION`: the current section's name, or its keyword when it has
    /// none, or "" before the first section.
    fn section_name(&self) -> String {
        match self.cur {
            Cur::None => String::new(),
            Cur::Global => "global".into(),
            Cur::Defaults(i) => self
                .cfg
                .defaults
                .get(i)
                .map(|d| {
                    if d.name.is_empty() {
                        "defaults".into()
                    } else {
                        d.name.clone()
                    }
                })
                .unwrap_or_default(),
            Cur::Proxy(i) => self
                .cfg
                .proxies
                .get(i)
                .map(|p| p.name.clone())
                .unwrap_or_default(),
            Cur::Other(section, _) => section.keyword().to_string(),
        }
    }

    fn line(&mut self, line: &Line<'_>) {
        let kw = line.kw();
        if let Some(section) = Section::from_keyword(kw) {
            self.open_section(section, line);
            return;
        }
        match self.cur {
            Cur::None => {
                let hint = did_you_mean(kw, Section::ALL.iter().map(|(k, _)| *k));
                let mut d =
                    Diagnostic::error(&line.loc, format!("unknown keyword '{kw}' out of section"));
                if let Some(h) = hint {
                    d = d.with_hint(format!("did you mean '{h}'?"));
                }
                self.push(d);
            }
            Cur::Global => global::keyword(self, line),
            Cur::Defaults(_) | Cur::Proxy(_) => proxy::keyword(self, line),
            Cur::Other(section, idx) => sections::keyword(self, section, idx, line),
        }
    }

    fn open_section(&mut self, section: Section, line: &Line<'_>) {
        match section {
            Section::Global => {
                if line.words.len() > 1 {
                    self.error(&line.loc_at(1), "'global' section takes no argument");
                }
                self.cur = Cur::Global;
            }
            Section::Defaults | Section::Frontend | Section::Backend | Section::Listen => {
                proxy::open(self, section, line);
            }
            other => sections::open(self, other, line),
        }
    }

    fn finish(mut self) -> (Config, Diagnostics) {
        sections::finish(&mut self);
        (self.cfg, self.diags)
    }
}

/// The conditional-block evaluator's view of the environment and features.
struct EnvView<'a, 'h> {
    p: &'a Parser<'h>,
}

impl CondEnv for EnvView<'_, '_> {
    fn var(&self, name: &str) -> Option<String> {
        self.p.getenv(name)
    }
    fn feature(&self, name: &str) -> bool {
        crate::FEATURES.contains(&name)
    }
    fn enabled(&self, name: &str) -> bool {
        crate::ENABLED.contains(&name)
    }
}

/// The environment as the configuration sees it: `setenv`-style changes
/// over the host's environment (of which `resetenv` kept only some names).
pub(crate) fn lookup_env(
    env: &BTreeMap<String, Option<String>>,
    reset_keep: Option<&[String]>,
    host: &dyn Host,
    name: &str,
) -> Option<String> {
    if let Some(v) = env.get(name) {
        return v.clone();
    }
    if let Some(keep) = reset_keep {
        if !keep.iter().any(|k| k == name) {
            return None;
        }
    }
    host.env(name)
}

/// Expand `${NAME}` references in an address, as HAProxy does for every
/// address argument (str2sa_range), even unquoted. An undefined variable
/// expands to nothing.
pub(crate) fn expand_address_env(text: &str, getenv: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let (before, after) = rest.split_at(start);
        out.push_str(before);
        let body = after.get(2..).unwrap_or("");
        match body.find('}') {
            Some(end) => {
                let name = body.get(..end).unwrap_or("");
                if let Some(v) = getenv(name) {
                    out.push_str(&v);
                }
                rest = body.get(end + 1..).unwrap_or("");
            }
            None => {
                out.push_str(after);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// [`expand_address_env`], refusing an address that expands to nothing as
/// HAProxy's str2sa_range does (an unset variable is the usual cause).
pub(crate) fn expand_address(
    text: &str,
    getenv: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let expanded = expand_address_env(text, getenv);
    if expanded.is_empty() {
        return Err(format!(
            "'{text}' resolves to an empty address (environment variable missing?)"
        ));
    }
    Ok(expanded)
}

/// Check a name (proxy, server, section) for the characters HAProxy allows:
/// letters, digits, '-', '_', '.', ':'.
pub(crate) fn invalid_name_char(name: &str) -> Option<char> {
    name.chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
}

/// The words of a line from index `from` on, as owned strings.
pub(crate) fn words_from(words: &[Word], from: usize) -> Vec<String> {
    words.iter().skip(from).map(|w| w.text.clone()).collect()
}

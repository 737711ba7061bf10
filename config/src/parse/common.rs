//! Helpers shared by the section parsers: access to a line's words with
//! their locations, and the value parsers every section uses.

use std::time::Duration;

use crate::addr::{parse_address, AddrRules};
use crate::diag::{Diagnostic, Loc};
use crate::lexer::Word;
use crate::model::{Facility, Level, LogDest, LogTarget, LogTargetSpec, LogWireFormat};
use crate::units::{parse_duration, parse_uint, TimeUnit};

/// One keyword line: its words and the location of its first word.
#[derive(Debug)]
pub struct Line<'a> {
    pub words: &'a [Word],
    pub loc: Loc,
}

impl<'a> Line<'a> {
    pub fn new(words: &'a [Word], loc: Loc) -> Self {
        Line { words, loc }
    }

    /// The keyword (first word).
    pub fn kw(&self) -> &'a str {
        self.words.first().map_or("", |w| w.text.as_str())
    }

    /// Word `i` (0 is the keyword).
    pub fn arg(&self, i: usize) -> Option<&'a str> {
        self.words.get(i).map(|w| w.text.as_str())
    }

    /// Word `i`, or "" when absent (HAProxy's `*args[i] == 0`).
    pub fn word(&self, i: usize) -> &'a str {
        self.arg(i).unwrap_or("")
    }

    /// Location of word `i` (or the end of the line when absent).
    pub fn loc_at(&self, i: usize) -> Loc {
        match self.words.get(i) {
            Some(w) => self.loc.at_col(w.col),
            None => {
                let end = self.words.last().map_or(0, |w| {
                    w.col
                        .saturating_add(u32::try_from(w.text.len()).unwrap_or(0))
                });
                self.loc.at_col(end.saturating_add(1))
            }
        }
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    pub fn err(&self, i: usize, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(&self.loc_at(i), message)
    }

    pub fn warn(&self, i: usize, message: impl Into<String>) -> Diagnostic {
        Diagnostic::warning(&self.loc_at(i), message)
    }

    /// Parse word `i` as a duration (bare numbers in `unit`).
    pub fn duration(&self, i: usize, what: &str, unit: TimeUnit) -> Result<Duration, Diagnostic> {
        let Some(text) = self.arg(i) else {
            return Err(self.err(i, format!("'{what}' expects a time value")));
        };
        parse_duration(text, unit).map_err(|e| self.err(i, format!("'{what}': {e}")))
    }

    /// Parse word `i` as an unsigned integer fitting `T`.
    pub fn uint<T: TryFrom<u64>>(&self, i: usize, what: &str) -> Result<T, Diagnostic> {
        let Some(text) = self.arg(i) else {
            return Err(self.err(i, format!("'{what}' expects an integer argument")));
        };
        parse_uint(text).map_err(|e| self.err(i, format!("'{what}': {e}")))
    }

    /// An error unless the line has at most `max` words after the keyword
    /// words (`kw_words` of them).
    pub fn no_more_than(&self, kw_words: usize, max: usize, what: &str) -> Result<(), Diagnostic> {
        let extra = kw_words + max;
        if self.words.len() > extra {
            return Err(self.err(
                extra,
                format!(
                    "'{what}' cannot handle unexpected argument '{}'",
                    self.word(extra)
                ),
            ));
        }
        Ok(())
    }
}

/// Parse a `log` line (global or proxy), words after `log`:
/// `log global` | `log <target> [len <n>] [format <f>] [sample <r>:<s>]
/// [profile <p>] <facility> [<level> [<minlevel>]]`.
pub(crate) fn parse_log(
    line: &Line<'_>,
    allow_global: bool,
    getenv: &dyn Fn(&str) -> Option<String>,
) -> Result<LogTarget, Diagnostic> {
    let Some(target) = line.arg(1) else {
        return Err(line.err(
            1,
            "'log' expects either <address[:port]> and <facility> or 'global' as arguments",
        ));
    };
    if target == "global" {
        if !allow_global {
            return Err(line.err(1, "'log global' is only allowed in proxies"));
        }
        line.no_more_than(1, 1, "log global")?;
        return Ok(LogTarget::Global {
            loc: line.loc.clone(),
        });
    }
    let dest = parse_log_dest(target, getenv).map_err(|e| line.err(1, e))?;
    let mut spec = LogTargetSpec {
        dest,
        max_len: None,
        format: LogWireFormat::default(),
        sample: None,
        facility: Facility(0),
        level: None,
        min_level: None,
        profile: None,
        loc: line.loc.clone(),
    };
    let mut i = 2;
    loop {
        match line.arg(i) {
            Some("len") => {
                spec.max_len = Some(line.uint(i + 1, "len")?);
                i += 2;
            }
            Some("format") => {
                let f = line.word(i + 1);
                spec.format = LogWireFormat::from_keyword(f)
                    .ok_or_else(|| line.err(i + 1, format!("unknown log format '{f}'")))?;
                i += 2;
            }
            Some("sample") => {
                let s = line.word(i + 1);
                if !s.contains(':') {
                    return Err(line.err(i + 1, "'sample' expects '<ranges>:<size>'"));
                }
                spec.sample = Some(s.to_string());
                i += 2;
            }
            Some("profile") => {
                spec.profile = Some(line.word(i + 1).to_string());
                i += 2;
            }
            _ => break,
        }
    }
    let fac = line.word(i);
    spec.facility = Facility::from_keyword(fac).ok_or_else(|| {
        if fac.is_empty() {
            line.err(i, "'log' expects a facility")
        } else {
            line.err(i, format!("unknown log facility '{fac}'"))
        }
    })?;
    i += 1;
    if let Some(l) = line.arg(i) {
        spec.level = Some(
            Level::from_keyword(l)
                .ok_or_else(|| line.err(i, format!("unknown optional log level '{l}'")))?,
        );
        i += 1;
    }
    if let Some(l) = line.arg(i) {
        spec.min_level = Some(
            Level::from_keyword(l)
                .ok_or_else(|| line.err(i, format!("unknown optional minimum log level '{l}'")))?,
        );
        i += 1;
    }
    if i < line.len() {
        return Err(line.err(
            i,
            format!("'log' cannot handle unexpected argument '{}'", line.word(i)),
        ));
    }
    Ok(LogTarget::Target(spec))
}

fn parse_log_dest(text: &str, getenv: &dyn Fn(&str) -> Option<String>) -> Result<LogDest, String> {
    match text {
        "stdout" => return Ok(LogDest::Stdout),
        "stderr" => return Ok(LogDest::Stderr),
        _ => {}
    }
    if let Some(name) = text.strip_prefix("ring@") {
        return Ok(LogDest::Ring(name.to_string()));
    }
    if let Some(name) = text.strip_prefix("backend@") {
        return Ok(LogDest::Backend(name.to_string()));
    }
    // Syslog: a UDP address (default port 514), a UNIX datagram path, or
    // tcp@ for a ring-less TCP target (refused by HAProxy: needs a ring).
    let rules = AddrRules {
        port_required: false,
        port_range: false,
        port_offset: false,
        names: true,
    };
    // Like every address, a syslog address expands `${VAR}` even unquoted
    // (str2sa_range); `${UNSET}:${UNSET}` is ':', the default 0.0.0.0:514.
    let addr = parse_address(&crate::parse::expand_address(text, getenv)?, rules)?;
    Ok(LogDest::Socket(addr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::SourceFile;
    use crate::lexer::tokenize;

    fn line_of(text: &str) -> (Vec<Word>, Loc) {
        let f = SourceFile::new("t.cfg", text);
        (tokenize(text, &|_| None).unwrap(), Loc::new(&f, 1, 0))
    }

    #[test]
    fn log_lines() {
        let (w, loc) = line_of("log 127.0.0.1:514 local0 notice");
        let t = parse_log(&Line::new(&w, loc), true, &|_| None).unwrap();
        let LogTarget::Target(spec) = t else { panic!() };
        assert_eq!(spec.facility, Facility(16));
        assert_eq!(spec.level, Some(Level::Notice));

        let (w, loc) = line_of("log stdout format raw local0");
        let LogTarget::Target(spec) = parse_log(&Line::new(&w, loc), true, &|_| None).unwrap()
        else {
            panic!()
        };
        assert_eq!(spec.dest, LogDest::Stdout);
        assert_eq!(spec.format, LogWireFormat::Raw);

        let (w, loc) = line_of("log global");
        assert!(matches!(
            parse_log(&Line::new(&w, loc), true, &|_| None),
            Ok(LogTarget::Global { .. })
        ));

        let (w, loc) = line_of("log 127.0.0.1 local9");
        assert!(parse_log(&Line::new(&w, loc), true, &|_| None).is_err());
        let (w, loc) = line_of("log /dev/log local0 info notice extra");
        assert!(parse_log(&Line::new(&w, loc), true, &|_| None).is_err());
    }

    #[test]
    fn log_address_expands_variables_even_unquoted() {
        use crate::addr::{Address, Host, IpFamily, Port};
        let env = |n: &str| (n == "LOGHOST").then(|| "10.0.0.1".to_string());
        let dest = |text: &str| {
            let (w, loc) = line_of(text);
            match parse_log(&Line::new(&w, loc), true, &env) {
                Ok(LogTarget::Target(spec)) => Ok(spec.dest),
                Ok(LogTarget::Global { .. }) => Err("global".to_string()),
                Err(d) => Err(d.message),
            }
        };
        let ip = |h: Host, p: Port| {
            Ok(LogDest::Socket(Address::Inet {
                host: h,
                port: p,
                transport: crate::addr::Transport::Stream,
            }))
        };
        assert_eq!(
            dest("log ${LOGHOST}:1514 local0"),
            ip(Host::Ip("10.0.0.1".parse().unwrap()), Port::One(1514))
        );
        // 2.6: valid, 0.0.0.0 port 514.
        assert_eq!(
            dest("log ${UNSET}:${UNSET} local0"),
            ip(Host::Any(IpFamily::Unspecified), Port::None)
        );
        // 2.6: "'${UNSET}' resolves to an empty address (environment variable missing?)".
        let e = dest("log ${UNSET} local0").unwrap_err();
        assert!(e.contains("resolves to an empty address"), "{e}");
    }
}

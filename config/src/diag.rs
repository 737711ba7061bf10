//! Diagnostics: every message the configuration front end emits carries the
//! place it is about (file, line, column) and renders as
//! `file:line: error: message` followed by the offending line and a caret,
//! the way compilers do, so an operator can jump straight to it.

use std::fmt;
use std::sync::Arc;

/// One configuration file's name and text, shared by every location in it.
#[derive(Debug)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Arc<Self> {
        Arc::new(SourceFile {
            name: name.into(),
            text: text.into(),
        })
    }

    /// The text of 1-based line `line`, without its line ending.
    pub fn line_text(&self, line: u32) -> Option<&str> {
        let idx = usize::try_from(line).ok()?.checked_sub(1)?;
        self.text
            .split('\n')
            .nth(idx)
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
    }
}

/// A place in a configuration file. `col` is a 0-based byte offset in the
/// line (the caret position), `line` is 1-based. Line 0 means "the file as a
/// whole" (e.g. a missing closing `.endif`).
#[derive(Clone, Debug)]
pub struct Loc {
    pub file: Arc<SourceFile>,
    pub line: u32,
    pub col: u32,
}

impl Loc {
    pub fn new(file: &Arc<SourceFile>, line: u32, col: u32) -> Self {
        Loc {
            file: Arc::clone(file),
            line,
            col,
        }
    }

    /// The same line, another column.
    pub fn at_col(&self, col: u32) -> Self {
        Loc {
            file: Arc::clone(&self.file),
            line: self.line,
            col,
        }
    }

    /// A location with no file, for settings that come from the command line.
    pub fn command_line() -> Self {
        Loc {
            file: SourceFile::new("<command line>", ""),
            line: 0,
            col: 0,
        }
    }
}

impl PartialEq for Loc {
    fn eq(&self, other: &Self) -> bool {
        self.file.name == other.file.name && self.line == other.line && self.col == other.col
    }
}
impl Eq for Loc {}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.name, self.line)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Informational (`.notice`, `.diag`).
    Notice,
    /// The configuration is accepted but something is ignored or suspicious.
    Warning,
    /// The configuration is refused.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Notice => "notice",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// Why an error was raised, so callers (and tests) can tell a language error
/// from a setting the engine cannot honour yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// What HAProxy itself would say about the text.
    Language,
    /// Valid HAProxy, but ringlb's engine does not implement it yet.
    NotSupportedYet,
}

#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub severity: Severity,
    pub kind: Kind,
    pub loc: Option<Loc>,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(loc: &Loc, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            kind: Kind::Language,
            loc: Some(loc.clone()),
            message: message.into(),
            hint: None,
        }
    }

    pub fn warning(loc: &Loc, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(loc, message)
        }
    }

    pub fn notice(loc: &Loc, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Notice,
            ..Diagnostic::error(loc, message)
        }
    }

    /// An error without a place in a file (e.g. "no configuration file").
    pub fn global_error(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            kind: Kind::Language,
            loc: None,
            message: message.into(),
            hint: None,
        }
    }

    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    #[must_use]
    pub fn with_kind(mut self, kind: Kind) -> Self {
        self.kind = kind;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line: error: message`, then the line and a caret under the
    /// offending column, then the hint.
    pub fn render(&self) -> String {
        let mut out = String::new();
        match &self.loc {
            Some(loc) if loc.line > 0 => {
                out.push_str(&format!(
                    "{}:{}: {}: {}\n",
                    loc.file.name, loc.line, self.severity, self.message
                ));
                if let Some(text) = loc.file.line_text(loc.line) {
                    let text = text.replace('\t', " ");
                    out.push_str(&format!("    {text}\n"));
                    let col = usize::try_from(loc.col).unwrap_or(0).min(text.len());
                    out.push_str(&format!("    {}^\n", " ".repeat(col)));
                }
            }
            Some(loc) => {
                out.push_str(&format!(
                    "{}: {}: {}\n",
                    loc.file.name, self.severity, self.message
                ));
            }
            None => out.push_str(&format!("{}: {}\n", self.severity, self.message)),
        }
        if let Some(hint) = &self.hint {
            out.push_str(&format!("    (hint: {hint})\n"));
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

/// The diagnostics of one run, in the order they were found.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    pub list: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.list.push(d);
    }
    pub fn error(&mut self, loc: &Loc, message: impl Into<String>) {
        self.push(Diagnostic::error(loc, message));
    }
    pub fn warning(&mut self, loc: &Loc, message: impl Into<String>) {
        self.push(Diagnostic::warning(loc, message));
    }
    pub fn has_errors(&self) -> bool {
        self.list.iter().any(Diagnostic::is_error)
    }
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.list.iter().filter(|d| d.is_error())
    }
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.list.iter().filter(|d| d.severity == Severity::Warning)
    }
}

/// "did you mean" for a misspelt keyword: the closest candidate within a
/// small edit distance, if any.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let max = match word.len() {
        0..=3 => 1,
        4..=7 => 2,
        _ => 3,
    };
    candidates
        .into_iter()
        .map(|c| (levenshtein(word, c), c))
        .filter(|(d, _)| *d <= max)
        .min_by_key(|(d, c)| (*d, c.len()))
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        if let Some(first) = cur.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(usize::MAX) + 1;
            let ins = cur.get(j).copied().unwrap_or(usize::MAX) + 1;
            let sub = prev.get(j).copied().unwrap_or(usize::MAX) + cost;
            if let Some(slot) = cur.get_mut(j + 1) {
                *slot = del.min(ins).min(sub);
            }
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_line_and_caret() {
        let f = SourceFile::new("a.cfg", "global\n  maxconn abc\n");
        let d = Diagnostic::error(&Loc::new(&f, 2, 10), "'maxconn' expects an integer")
            .with_hint("e.g. maxconn 2000");
        let r = d.render();
        assert_eq!(
            r,
            "a.cfg:2: error: 'maxconn' expects an integer\n      maxconn abc\n              ^\n    (hint: e.g. maxconn 2000)\n"
        );
    }

    #[test]
    fn suggests_close_keywords() {
        assert_eq!(did_you_mean("maxcon", ["maxconn", "mode"]), Some("maxconn"));
        assert_eq!(
            did_you_mean("frontnd", ["frontend", "backend"]),
            Some("frontend")
        );
        assert_eq!(did_you_mean("zzzzzz", ["frontend", "backend"]), None);
    }
}

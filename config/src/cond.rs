//! Conditional blocks (HAProxy manual 2.4): the `.if` expression evaluator
//! and the `.if/.elif/.else/.endif` state machine with the `.diag`,
//! `.notice`, `.warning` and `.alert` directives.
//!
//! The evaluator is a port of HAProxy's `cfg_eval_condition()`
//! (src/cfgcond.c) and of the parts of `make_arg_list()` (src/arg.c) it uses
//! for predicate arguments; the block handling follows `readcfgfile()`
//! (src/cfgparse.c). Error messages are HAProxy's.
//!
//! Grammar, as HAProxy parses it (blanks are spaces and tabs):
//! ```text
//! expr := and [ '||' expr ]
//! and  := term [ '&&' and ]
//! term := '!'* ( integer | '(' expr ')' | predicate [ '(' args ')' ] )
//! ```
//! so `&&` binds tighter than `||`, both short-circuit left to right, and the
//! whole expression is parsed (and any syntax error reported) before
//! anything is evaluated. Integers are read like C's `strtol(s, 0)`: `0x10`
//! is hexadecimal, `010` octal, `-1` true, `-0` false. An empty expression
//! is false.

mod preproc;
mod version;

use crate::lexer::Word;
pub use preproc::Preproc;
use version::{compare_version, strtol};

/// What the evaluator needs to know about the outside world.
pub trait CondEnv {
    /// An environment variable (after the configuration's `setenv`). Used by
    /// `defined()`; `"$VAR"` in arguments was already expanded by the lexer.
    fn var(&self, name: &str) -> Option<String>;
    /// `feature(OPENSSL)`: is the feature listed with a `+` by `haproxy -vv`?
    fn feature(&self, name: &str) -> bool;
    /// `enabled(SPLICE)`: is the run-time option enabled?
    fn enabled(&self, name: &str) -> bool;
}

/// A syntax error in a condition. `col` is the 0-based byte offset in the
/// line of the offending character (exact when the words around it had no
/// quotes or escapes, as is usual in conditions); `message` is HAProxy's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CondError {
    pub col: u32,
    pub message: String,
}

/// HAProxy's MAX_CFG_RECURSION: binary operators add one level, parentheses
/// up to three. Deeper expressions are refused ("unparsable conditional
/// (sub-)expression"), which also bounds our stack use.
const MAX_CFG_RECURSION: i32 = 1024;

/// HAProxy's MAXNESTEDCONDS: opening the 100th nested `.if` is an error.
pub const MAX_NESTED_CONDS: usize = 100;

/// Evaluate the words after `.if` / `.elif` (or the single argument of
/// `-cc`). The words are joined with single spaces and parsed as one
/// expression, as HAProxy does: `streq(a, b)` compares `a` with ` b`.
///
/// `version_atleast()` and `version_before()` compare against
/// [`crate::LANGUAGE_LEVEL`], not ringlb's own version.
pub fn eval(words: &[Word], env: &dyn CondEnv) -> Result<bool, CondError> {
    let mut text = String::new();
    let mut starts = Vec::with_capacity(words.len());
    for (n, w) in words.iter().enumerate() {
        if n > 0 {
            text.push(' ');
        }
        starts.push(text.len());
        text.push_str(&w.text);
    }
    // The expression is a C string in HAProxy: it stops at a NUL.
    if let Some(nul) = text.find('\0') {
        text.truncate(nul);
    }
    let map_col = |off: usize| -> u32 {
        let idx = starts.iter().rposition(|&s| s <= off);
        match idx.and_then(|i| Some((starts.get(i)?, words.get(i)?))) {
            Some((&start, w)) => {
                let delta = (off - start).min(w.text.len());
                w.col
                    .saturating_add(u32::try_from(delta).unwrap_or(u32::MAX))
            }
            None => words.first().map_or(0, |w| w.col),
        }
    };
    let parser = Parser { text: &text };
    parser
        .condition()
        .and_then(|expr| expr.eval(env))
        .map_err(|e| CondError {
            col: map_col(e.pos),
            message: e.message,
        })
}

/// A parse (or evaluation) error at byte `pos` of the joined expression.
#[derive(Debug)]
struct PErr {
    pos: usize,
    message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pred {
    Defined,
    Feature,
    StrEq,
    StrNeq,
    StrStr,
    VersionAtLeast,
    VersionBefore,
    OsslVersionAtLeast,
    OsslVersionBefore,
    SslLibNameStartsWith,
    Enabled,
}

/// HAProxy's predicates (cfgcond.c's cond_predicates), with their argument
/// count (all mandatory strings). The last three are about the SSL library,
/// and ringlb answers them as a HAProxy built without USE_OPENSSL:
/// `ssllib_name_startswith()` is false (openssl_compare_current_name()
/// returns 1), and `openssl_version_atleast()` / `openssl_version_before()`
/// fail to evaluate (openssl_compare_current_version() returns -2, "openssl
/// is not available", which cfg_eval_cond_term() turns into an error).
const PREDICATES: [(&str, Pred, usize); 11] = [
    ("defined", Pred::Defined, 1),
    ("feature", Pred::Feature, 1),
    ("streq", Pred::StrEq, 2),
    ("strneq", Pred::StrNeq, 2),
    ("strstr", Pred::StrStr, 2),
    ("version_atleast", Pred::VersionAtLeast, 1),
    ("version_before", Pred::VersionBefore, 1),
    ("openssl_version_atleast", Pred::OsslVersionAtLeast, 1),
    ("openssl_version_before", Pred::OsslVersionBefore, 1),
    ("ssllib_name_startswith", Pred::SslLibNameStartsWith, 1),
    ("enabled", Pred::Enabled, 1),
];

#[derive(Debug)]
enum Term {
    Const(bool),
    Paren(Box<Expr>),
    /// A predicate, its arguments, and where its name starts (for an
    /// evaluation error; a u32 keeps the term as small as before, which
    /// the recursive parser's stack use needs).
    Pred(Pred, Vec<String>, u32),
}

#[derive(Debug)]
struct NegTerm {
    neg: bool,
    term: Term,
}

/// `left && right...`
#[derive(Debug)]
struct And {
    left: NegTerm,
    right: Option<Box<And>>,
}

/// `left || right...`
#[derive(Debug)]
struct Expr {
    left: And,
    right: Option<Box<Expr>>,
}

// Evaluation stops at the first error, as in HAProxy: an error is a
// non-zero result, so `||` stops on it like on true and `&&` like on
// false, and `!` leaves it alone. So `1 || x` and `0 && x` never evaluate
// `x`, but `0 || x` and `x || 1` fail when `x` does.

impl Expr {
    fn eval(&self, env: &dyn CondEnv) -> Result<bool, PErr> {
        let mut or = Some(self);
        while let Some(e) = or {
            if e.left.eval(env)? {
                return Ok(true);
            }
            or = e.right.as_deref();
        }
        Ok(false)
    }
}

impl And {
    fn eval(&self, env: &dyn CondEnv) -> Result<bool, PErr> {
        let mut and = Some(self);
        while let Some(a) = and {
            if !a.left.eval(env)? {
                return Ok(false);
            }
            and = a.right.as_deref();
        }
        Ok(true)
    }
}

impl NegTerm {
    fn eval(&self, env: &dyn CondEnv) -> Result<bool, PErr> {
        let v = match &self.term {
            Term::Const(b) => *b,
            Term::Paren(e) => e.eval(env)?,
            Term::Pred(p, args, pos) => eval_pred(*p, args, env).map_err(|message| PErr {
                pos: usize::try_from(*pos).unwrap_or(usize::MAX),
                message,
            })?,
        };
        Ok(v != self.neg)
    }
}

// Kept out of line: the evaluation recurses through parentheses, and its
// frames must stay small (see `recursion_is_bounded`).
#[inline(never)]
fn eval_pred(p: Pred, args: &[String], env: &dyn CondEnv) -> Result<bool, String> {
    let a = args.first().map_or("", String::as_str);
    let b = args.get(1).map_or("", String::as_str);
    Ok(match p {
        Pred::Defined => env.var(a).is_some(),
        Pred::Feature => env.feature(a),
        Pred::StrEq => a == b,
        Pred::StrNeq => a != b,
        Pred::StrStr => a.contains(b),
        Pred::VersionAtLeast => compare_version(a) <= 0,
        Pred::VersionBefore => compare_version(a) > 0,
        Pred::OsslVersionAtLeast | Pred::OsslVersionBefore => return Err(no_ssl_library(p)),
        Pred::SslLibNameStartsWith => false,
        Pred::Enabled => env.enabled(a),
    })
}

/// openssl_version_atleast() and openssl_version_before() without OpenSSL:
/// HAProxy fails with no message at all; say why.
#[cold]
fn no_ssl_library(p: Pred) -> String {
    let word = PREDICATES
        .iter()
        .find(|(_, q, _)| *q == p)
        .map_or("", |(w, _, _)| *w);
    format!("predicate '{word}' needs an SSL library, and ringlb is built without OpenSSL")
}

/// Recursive-descent parser over the joined expression, mirroring
/// cfgcond.c function by function so that error messages and positions
/// match. Each function returns `Ok((Some(node), pos))` on success,
/// `Ok((None, pos))` when there is nothing to parse ("desynchronized" in
/// HAProxy's words, where `pos` may still have moved, as HAProxy's `*text`
/// does), or `Err` with HAProxy's message.
struct Parser<'a> {
    text: &'a str,
}

type Parsed<T> = Result<(Option<T>, usize), PErr>;

impl Parser<'_> {
    fn at(&self, i: usize) -> Option<u8> {
        self.text.as_bytes().get(i).copied()
    }

    fn rest(&self, i: usize) -> &str {
        self.text.get(i..).unwrap_or("")
    }

    fn skip_blanks(&self, mut i: usize) -> usize {
        while matches!(self.at(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        i
    }

    fn err(&self, pos: usize, message: String) -> PErr {
        PErr { pos, message }
    }

    /// `cfg_eval_condition()` minus the evaluation.
    fn condition(&self) -> Result<Expr, PErr> {
        if self.text.is_empty() {
            // "note: empty = false"
            return Ok(Expr {
                left: And {
                    left: NegTerm {
                        neg: false,
                        term: Term::Const(false),
                    },
                    right: None,
                },
                right: None,
            });
        }
        let (expr, end) = self.expr(0, MAX_CFG_RECURSION)?;
        let Some(expr) = expr else {
            return Err(self.err(
                end,
                format!("unparsable conditional expression '{}'", self.text),
            ));
        };
        let end = self.skip_blanks(end);
        if self.at(end).is_some() {
            // A position inside the text is always on a char boundary here:
            // the parser only stops on ASCII characters.
            let c = self.rest(end).chars().next().unwrap_or('?');
            return Err(self.err(
                end,
                format!(
                    "unexpected character '{c}' at the end of conditional expression '{}'",
                    self.text
                ),
            ));
        }
        Ok(expr)
    }

    /// `cfg_parse_cond_expr()`
    fn expr(&self, text: usize, depth: i32) -> Parsed<Expr> {
        if self.at(text).is_none() {
            return Ok((None, text));
        }
        if depth <= 0 {
            return Err(self.err(
                text,
                format!("unparsable conditional expression '{}'", self.rest(text)),
            ));
        }
        let (left, after) = self.and(text, depth - 1)?;
        let Some(left) = left else {
            return Err(self.err(
                after,
                format!("unparsable conditional expression '{}'", self.rest(after)),
            ));
        };
        let text = self.skip_blanks(after);
        if !self.rest(text).starts_with("||") {
            return Ok((Some(Expr { left, right: None }), text));
        }
        let next = self.skip_blanks(text + 2);
        match self.expr(next, depth - 1)? {
            (Some(right), end) => Ok((
                Some(Expr {
                    left,
                    right: Some(Box::new(right)),
                }),
                end,
            )),
            // HAProxy returns 0 with *text left on the `||`.
            (None, _) => Ok((None, text)),
        }
    }

    /// `cfg_parse_cond_and()`
    fn and(&self, text: usize, depth: i32) -> Parsed<And> {
        if self.at(text).is_none() {
            return Ok((None, text));
        }
        if depth <= 0 {
            return Err(self.err(
                text,
                format!(
                    "unparsable conditional sub-expression '{}'",
                    self.rest(text)
                ),
            ));
        }
        let (left, after) = self.term(text, depth - 1)?;
        let Some(left) = left else {
            return Err(self.err(
                after,
                format!(
                    "unparsable conditional sub-expression '{}'",
                    self.rest(after)
                ),
            ));
        };
        let text = self.skip_blanks(after);
        if !self.rest(text).starts_with("&&") {
            return Ok((Some(And { left, right: None }), text));
        }
        let next = self.skip_blanks(text + 2);
        match self.and(next, depth - 1)? {
            (Some(right), end) => Ok((
                Some(And {
                    left,
                    right: Some(Box::new(right)),
                }),
                end,
            )),
            (None, _) => Ok((None, text)),
        }
    }

    /// `cfg_parse_cond_term()`
    fn term(&self, text: usize, depth: i32) -> Parsed<NegTerm> {
        let unparsable = |at: usize| {
            self.err(
                at,
                format!("unparsable conditional expression '{}'", self.rest(at)),
            )
        };
        let mut i = self.skip_blanks(text);
        if self.at(i).is_none() {
            return Ok((None, text));
        }
        if depth <= 0 {
            return Err(unparsable(text));
        }
        let mut neg = false;
        while self.at(i) == Some(b'!') {
            neg = !neg;
            i = self.skip_blanks(i + 1);
        }

        let (val, end) = strtol(self.text.as_bytes(), i, 0);
        if end != i {
            let term = Term::Const(val != 0);
            return Ok((Some(NegTerm { neg, term }), end));
        }

        if self.at(i) == Some(b'(') {
            let inner = self.skip_blanks(i + 1);
            let (expr, after) = self.expr(inner, depth - 1)?;
            let Some(expr) = expr else {
                return Err(unparsable(text));
            };
            let close = self.skip_blanks(after);
            if self.at(close) != Some(b')') {
                return Err(self.err(
                    text,
                    format!(
                        "expected ')' after conditional expression '{}'",
                        self.rest(text)
                    ),
                ));
            }
            let term = Term::Paren(Box::new(expr));
            return Ok((Some(NegTerm { neg, term }), self.skip_blanks(close + 1)));
        }

        // The predicate name runs up to a space or '(' (strcspn(" (")).
        let rest = self.rest(i);
        let name_len = rest.find([' ', '(']).unwrap_or(rest.len());
        let name = rest.get(..name_len).unwrap_or("");
        let Some(&(word, pred, nbargs)) = PREDICATES.iter().find(|(w, _, _)| *w == name) else {
            return Err(unparsable(text));
        };
        match self.arg_list(i + word.len(), nbargs) {
            Ok((args, end)) => {
                let term = Term::Pred(pred, args, u32::try_from(i).unwrap_or(u32::MAX));
                Ok((Some(NegTerm { neg, term }), end))
            }
            Err(ArgErr { message, end, arg }) => Err(self.err(
                end,
                format!(
                    "{message} in argument {arg} of predicate '{word}' used in conditional expression"
                ),
            )),
        }
    }

    /// `make_arg_list()` for `nbargs` mandatory string arguments starting at
    /// `i` (just after the predicate name). Inside the parentheses, `,` and
    /// `)` end an argument unless quoted; `"` and `'` quote and are removed;
    /// outside single quotes `\\`, `\ `, `\"`, `\'` escape, `\r`, `\n`, `\t`
    /// are control characters and any other backslash is kept. Blanks are
    /// part of the arguments. Without parentheses the predicate gets one
    /// empty argument (verified on haproxy 2.6: `defined` is false,
    /// `streq` is "missing arguments (got 1/2)").
    fn arg_list(&self, mut i: usize, nbargs: usize) -> Result<(Vec<String>, usize), ArgErr> {
        let empty = self.at(i) != Some(b'(');
        if !empty {
            i += 1;
        }
        let mut args = Vec::with_capacity(nbargs);
        while args.len() < nbargs {
            let mut out: Vec<u8> = Vec::new();
            let (mut squote, mut dquote) = (false, false);
            while let Some(c) = self.at(i).filter(|_| !empty) {
                match c {
                    b'"' if !squote => {
                        dquote = !dquote;
                        i += 1;
                    }
                    b'\'' if !dquote => {
                        squote = !squote;
                        i += 1;
                    }
                    b'\\' if !squote => {
                        let (ch, used) = match self.at(i + 1) {
                            None => {
                                return Err(ArgErr {
                                    message: format!(
                                        "failed to parse '{}' after '{}' as type 'string' at position {}",
                                        self.rest(i),
                                        String::from_utf8_lossy(&out),
                                        args.len() + 1
                                    ),
                                    end: i,
                                    arg: args.len(),
                                });
                            }
                            Some(e @ (b'\\' | b' ' | b'"' | b'\'')) => (e, 2),
                            Some(b'r') => (b'\r', 2),
                            Some(b'n') => (b'\n', 2),
                            Some(b't') => (b'\t', 2),
                            Some(_) => (b'\\', 1),
                        };
                        out.push(ch);
                        i += used;
                    }
                    b',' | b')' if !squote && !dquote => break,
                    _ => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
            args.push(String::from_utf8_lossy(&out).into_owned());
            if empty || matches!(self.at(i), None | Some(b')')) || args.len() >= nbargs {
                break;
            }
            // skip the comma
            i += 1;
        }
        let pos = args.len();
        if pos < nbargs {
            return Err(ArgErr {
                message: format!("missing arguments (got {pos}/{nbargs}), type 'string' expected"),
                end: i,
                arg: pos,
            });
        }
        if !empty {
            if self.at(i) == Some(b')') {
                i += 1;
            } else {
                let rest = self.rest(i);
                let message = if rest.is_empty() {
                    "expected ')'".to_owned()
                } else {
                    format!("expected ')' before '{rest}'")
                };
                // HAProxy: "when we're missing a right paren, the empty part
                // preceding already created an empty arg, adding one to the
                // position".
                let arg = if pos > 1 { pos - 1 } else { pos };
                return Err(ArgErr {
                    message,
                    end: i,
                    arg,
                });
            }
        }
        Ok((args, i))
    }
}

struct ArgErr {
    message: String,
    end: usize,
    arg: usize,
}

#[cfg(test)]
mod tests {
    use super::version::split_version;
    use super::*;
    use crate::diag::{Diagnostics, Loc, Severity, SourceFile};
    use crate::lexer::tokenize;

    struct Env;

    impl CondEnv for Env {
        fn var(&self, name: &str) -> Option<String> {
            match name {
                "HOME" => Some("/root".into()),
                "EMPTY" => Some(String::new()),
                "WITH_SSL" => Some("yes".into()),
                "A" | "C" => Some("1".into()),
                "B" | "D" => Some("0".into()),
                _ => None,
            }
        }
        fn feature(&self, name: &str) -> bool {
            matches!(name, "OPENSSL" | "LUA")
        }
        fn enabled(&self, name: &str) -> bool {
            name == "SPLICE"
        }
    }

    fn env_lookup(name: &str) -> Option<String> {
        Env.var(name)
    }

    fn words(line: &str) -> Vec<Word> {
        tokenize(line, &env_lookup).unwrap()
    }

    /// Evaluate the expression as the text after `.if ` on a line.
    fn ev(expr: &str) -> Result<bool, CondError> {
        let line = format!(".if {expr}");
        let w = words(&line);
        eval(w.get(1..).unwrap_or_default(), &Env)
    }

    fn t(expr: &str) -> bool {
        ev(expr).unwrap_or_else(|e| panic!("{expr:?}: {e}"))
    }

    fn e(expr: &str) -> CondError {
        match ev(expr) {
            Ok(v) => panic!("{expr:?} evaluated to {v}"),
            Err(e) => e,
        }
    }

    /// The error message and its column in `.if <expr>` (0-based, in the
    /// line, so 4 is the first character of the expression).
    fn em(expr: &str) -> (String, u32) {
        let err = e(expr);
        (err.message, err.col)
    }

    #[test]
    fn constants_and_empty() {
        // verified on haproxy 2.6 with -cc
        assert!(!t(""));
        assert!(!ev("\"\"").unwrap());
        assert!(t("1"));
        assert!(!t("0"));
        assert!(!t("00"));
        assert!(t("0x10"));
        assert!(t("-1"));
        assert!(!t("-0"));
        assert!(t("+1"));
        assert!(t("99999999999999999999999"));
    }

    #[test]
    fn operators_and_precedence() {
        // verified on haproxy 2.6 with -cc
        assert!(t("!0"));
        assert!(!t("! 1"));
        assert!(t("!!1"));
        assert!(t("1 && 0 || 1"));
        assert!(!t("0 || 1 && 0"));
        assert!(t("0 ||1 &&1"));
        assert!(!t("!0&&0"));
        assert!(t("!1||1"));
        assert!(!t("!(1)"));
        assert!(t("! ( 0 )"));
        assert!(t("( 1 )"));
        assert!(t("((((1))))"));
        assert!(t("0 || ((0 || 1) && !0)"));
        assert!(!t("1 &&0"));
        // "A && B || C && D" is "(A && B) || (C && D)" (manual 2.4)
        assert!(t("1 && 0 || 1 && 1"));
        assert!(!t("1 && 0 || 0 && 1"));
        assert!(!t("0 && 1 || 1 && 0"));
    }

    #[test]
    fn predicates() {
        assert!(t("defined(HOME)"));
        assert!(t("defined(EMPTY)"));
        assert!(!t("defined(NOPE)"));
        // a predicate without parentheses gets one empty argument (verified
        // on haproxy 2.6: `defined` and `defined()` are false)
        assert!(!t("defined"));
        assert!(!t("defined()"));
        assert!(t("feature(OPENSSL)"));
        assert!(!t("feature(QUIC)"));
        assert!(t("enabled(SPLICE)"));
        assert!(!t("enabled(POLL)"));
        assert!(t("streq(a,a)"));
        assert!(!t("streq(a,b)"));
        assert!(t("strneq(a,b)"));
        assert!(!t("strneq(a,a)"));
        // strstr is documented by the 3.2 manual; haproxy 2.6 does not know it
        assert!(t("strstr(abc,b)"));
        assert!(!t("strstr(abc,d)"));
        assert!(t("strstr(abc,)"));
        assert!(t("streq(,)"));
        assert!(!t("streq(a,)"));
    }

    #[test]
    fn variables_in_arguments_come_from_the_lexer() {
        assert!(t(r#"streq("$WITH_SSL",yes)"#));
        assert!(t(r#"strneq("$SSL_ONLY",yes)"#));
        assert!(t(
            r#"feature(OPENSSL) && (streq("$WITH_SSL",yes) || streq("$SSL_ONLY",yes))"#
        ));
        assert!(t(r#""${A}""#));
        assert!(!t(r#""${B}""#));
        assert!(!t(r#""${NOPE}""#));
    }

    #[test]
    fn spaces_are_part_of_arguments() {
        // manual 2.4: `streq("$ENABLE_SSL",     1)` compares with " 1";
        // verified on haproxy 2.6 (`streq(a, a)` and `streq( a,a)` false)
        assert!(!t("streq(a, a)"));
        assert!(!t("streq( a,a)"));
        assert!(t("streq(a, a)  ||  streq(a,a)"));
        assert!(t(r#"streq("$A",     1) || 1"#));
        assert!(!t(r#"streq("$A",     1)"#));
        // `.if defined( HOME )` tests " HOME "
        assert!(!t("defined( HOME )"));
    }

    #[test]
    fn argument_quoting_and_escapes() {
        // Second-level quoting: the line's quotes are removed by the lexer,
        // escaped ones reach the argument parser (verified on haproxy 2.6
        // with -cc 'streq(\"a,b\",\"a,b\")').
        assert!(t(r#"streq(\"a,b\",\"a,b\")"#));
        // unescaped quotes are removed by the lexer first (manual 2.4)
        assert_eq!(
            e("streq('a,b','a,b')").message,
            "expected ')' before ',a,b)' in argument 1 of predicate 'streq' used in conditional expression"
        );
        assert!(t(r"streq(\'a)\',\'a)\')"));
        assert!(t(r"streq(a\\ b,'a b')"));
        assert!(t(r"streq(a\\tb,a\tb)"));
        assert!(t(r"streq(a\\nb,a\nb)"));
        assert!(t(r"streq(a\\rb,a\rb)"));
        assert!(t(r"streq(a\\\\b,a\\b)"));
        // any other backslash is kept
        assert!(t(r"streq(a\\qb,a\\qb)"));
        assert!(t(r"streq(\x41,A)"));
    }

    #[test]
    fn versions_compare_against_the_language_level() {
        // LANGUAGE_LEVEL is 3.2, i.e. [3, 2, 0, 0, release, 0, 0]
        assert!(t("version_atleast(3.2)"));
        assert!(t("version_atleast(3.2.0)"));
        assert!(t("version_atleast(3.2.0.0)"));
        assert!(t("version_atleast(3.1.5)"));
        assert!(t("version_atleast(2.4-dev19)"));
        assert!(t("version_atleast(3.2-dev1)"));
        assert!(t("version_atleast(3.2-rc2)"));
        assert!(t("version_atleast(3.2-pre1)"));
        assert!(!t("version_atleast(3.2.1)"));
        assert!(!t("version_atleast(3.3-dev0)"));
        assert!(!t("version_atleast(4)"));
        assert!(t("version_before(3.3)"));
        assert!(t("version_before(3.2.1)"));
        assert!(!t("version_before(3.2)"));
        assert!(!t("version_before(3.2-dev5)"));
        // a commit number counts after the tag: 3.2-5 > 3.2
        assert!(!t("version_atleast(3.2-5)"));
        assert!(t("version_atleast(3.2-0)"));
        // unparsable versions: "at least" and never "before" (verified on
        // haproxy 2.6: version_atleast(abc) and version_atleast() are true)
        assert!(t("version_atleast(abc)"));
        assert!(t("version_atleast()"));
        assert!(!t("version_before(abc)"));
        assert!(t("version_atleast(3.2.0.0.0)"));
        assert!(t("version_atleast(3.2.0 )"));
        // strtol quirks (verified on haproxy 2.6 against 2.6.12: `2.-1` is
        // 2.4294967295 so not older; `2..6` is 2.0.6; ` 2.6.12` parses)
        assert!(!t("version_atleast(3.-1)"));
        assert!(t("version_atleast(3..6)"));
        assert!(t("version_atleast( 3.2)"));
        assert!(t("version_atleast(+3.2)"));
    }

    #[test]
    fn split_version_matches_haproxy_table() {
        // the examples in the comment above HAProxy's split_version()
        let cases: [(&str, [u32; 7]); 8] = [
            ("1.2.1-pre2", [1, 2, 1, 0, 2, 2, 0]),
            ("1.2.1", [1, 2, 1, 0, 3, 0, 0]),
            ("1.2.10.1", [1, 2, 10, 1, 3, 0, 0]),
            ("1.3.16-rc1", [1, 3, 16, 0, 2, 1, 0]),
            ("1.4-dev3", [1, 4, 0, 0, 1, 3, 0]),
            ("1.5-dev18", [1, 5, 0, 0, 1, 18, 0]),
            ("1.5-dev18-43", [1, 5, 0, 0, 1, 18, 43]),
            ("2.4-dev18-f6818d-20", [2, 4, 0, 0, 1, 18, 20]),
        ];
        for (s, v) in cases {
            assert_eq!(split_version(s.as_bytes()), Some(v), "{s}");
        }
        // Debian's "2.6.12-1+deb12u4" is 2.6.12 with commit 0 (the text
        // after the dash is not a plain number): on haproxy 2.6.12-1+deb12u4
        // version_atleast(2.6.12-1) is false and (2.6.12-0) true.
        assert_eq!(
            split_version(b"2.6.12-1+deb12u4"),
            Some([2, 6, 12, 0, 3, 0, 0])
        );
        assert_eq!(split_version(b"2.6.12-1"), Some([2, 6, 12, 0, 3, 0, 1]));
        assert_eq!(split_version(b""), None);
        assert_eq!(split_version(b"1.2.3.4.5"), None);
        assert_eq!(split_version(b"1x"), None);
        assert_eq!(split_version(b"1.2-dev3x"), None);
        assert_eq!(split_version(b"1.2-"), Some([1, 2, 0, 0, 3, 0, 0]));
        assert_eq!(split_version(b"1.2-x-"), None);
        assert_eq!(split_version(b"1.2-dev-"), Some([1, 2, 0, 0, 1, 0, 0]));
    }

    #[test]
    fn syntax_errors() {
        // messages verified on haproxy 2.6 with -cc; columns are in
        // ".if <expr>", so 4 is the expression's first character
        assert_eq!(
            em("foo(1)"),
            ("unparsable conditional expression 'foo(1)'".into(), 4)
        );
        assert_eq!(
            em("(1"),
            ("expected ')' after conditional expression '(1'".into(), 4)
        );
        assert_eq!(
            em("!(1"),
            ("expected ')' after conditional expression '!(1'".into(), 4)
        );
        assert_eq!(
            em("(1))"),
            (
                "unexpected character ')' at the end of conditional expression '(1))'".into(),
                7
            )
        );
        assert_eq!(
            em("1 1"),
            (
                "unexpected character '1' at the end of conditional expression '1 1'".into(),
                6
            )
        );
        assert_eq!(
            em("08"),
            (
                "unexpected character '8' at the end of conditional expression '08'".into(),
                5
            )
        );
        assert_eq!(
            em("0x"),
            (
                "unexpected character 'x' at the end of conditional expression '0x'".into(),
                5
            )
        );
        assert_eq!(
            em("streq(a,a) foo"),
            (
                "unexpected character 'f' at the end of conditional expression 'streq(a,a) foo'"
                    .into(),
                15
            )
        );
        assert_eq!(
            em("defined (HOME)"),
            (
                "unexpected character '(' at the end of conditional expression 'defined (HOME)'"
                    .into(),
                12
            )
        );
        assert_eq!(
            em("1&&"),
            ("unparsable conditional expression '&&'".into(), 5)
        );
        assert_eq!(
            em("&&1"),
            ("unparsable conditional expression '&&1'".into(), 4)
        );
        assert_eq!(
            em("1 ||"),
            ("unparsable conditional expression '1 ||'".into(), 6)
        );
        assert_eq!(em("!"), ("unparsable conditional expression '!'".into(), 4));
        assert_eq!(
            em("!!"),
            ("unparsable conditional expression '!!'".into(), 4)
        );
        assert_eq!(em("("), ("unparsable conditional expression '('".into(), 4));
        assert_eq!(
            em("()"),
            ("unparsable conditional expression ')'".into(), 5)
        );
        assert_eq!(
            em("!x"),
            ("unparsable conditional expression '!x'".into(), 4)
        );
        assert_eq!(
            em("!(x"),
            ("unparsable conditional expression 'x'".into(), 6)
        );
        assert_eq!(
            em("- 1"),
            ("unparsable conditional expression '- 1'".into(), 4)
        );
        assert_eq!(
            em("1 & 1"),
            (
                "unexpected character '&' at the end of conditional expression '1 & 1'".into(),
                6
            )
        );
        assert_eq!(
            em("1 | 1"),
            (
                "unexpected character '|' at the end of conditional expression '1 | 1'".into(),
                6
            )
        );
        // a blank-only expression (the words `""` and `""` joined)
        assert_eq!(
            e(r#""" """#).message,
            "unparsable conditional sub-expression ' '"
        );
        // parsing is complete before evaluation: no short-circuit of errors
        assert_eq!(
            em("1||x("),
            ("unparsable conditional expression 'x('".into(), 7)
        );
        assert_eq!(
            em("0&&x("),
            ("unparsable conditional expression 'x('".into(), 7)
        );
        // predicates are case-sensitive and need an exact name
        assert_eq!(
            e("DEFINED(HOME)").message,
            "unparsable conditional expression 'DEFINED(HOME)'"
        );
        assert_eq!(
            e("definedx(HOME)").message,
            "unparsable conditional expression 'definedx(HOME)'"
        );
    }

    /// Issue 8: the SSL library predicates were unknown ("unparsable").
    /// ringlb answers as a HAProxy built without USE_OPENSSL: the library
    /// name never matches, and the version comparisons fail to evaluate
    /// (exit 2 with -cc), once the whole expression parsed.
    #[test]
    fn ssl_library_predicates_answer_as_without_openssl() {
        assert!(!t("ssllib_name_startswith(OpenSSL)"));
        assert!(!t("ssllib_name_startswith()"));
        assert!(t("!ssllib_name_startswith(LibreSSL)"));
        let msg = "predicate 'openssl_version_atleast' needs an SSL library, and ringlb is built without OpenSSL";
        assert_eq!(em("openssl_version_atleast(1.1.1)"), (msg.into(), 4));
        assert_eq!(em("1 && openssl_version_atleast(1.1.1)"), (msg.into(), 9));
        // A negation does not turn the error into true.
        assert_eq!(em("!openssl_version_atleast(1.1.1)").1, 5);
        assert_eq!(
            e("openssl_version_before(3.0)").message,
            "predicate 'openssl_version_before' needs an SSL library, and ringlb is built without OpenSSL"
        );
        // Errors stop the evaluation like a true term in `||` and like a
        // false one in `&&`; short-circuited terms are not evaluated.
        assert!(t("1 || openssl_version_atleast(1.1.1)"));
        assert!(!t("0 && openssl_version_atleast(1.1.1)"));
        assert!(!t(
            "ssllib_name_startswith(x) && openssl_version_atleast(1.1.1)"
        ));
        e("0 || openssl_version_atleast(1.1.1)");
        e("openssl_version_atleast(1.1.1) || 1");
        // Still parsed first: a syntax error after them is the error
        // (same message from haproxy 2.6).
        assert_eq!(
            e("openssl_version_atleast(1.1.1) &&").message,
            "unparsable conditional expression '&&'"
        );
        // Without parentheses: one empty argument, as for any predicate.
        assert!(!t("ssllib_name_startswith"));
    }

    #[test]
    fn argument_errors() {
        // verified on haproxy 2.6 with -cc
        let suffix =
            |p: &str| format!(" in argument 1 of predicate '{p}' used in conditional expression");
        assert_eq!(
            e("streq(a)").message,
            format!(
                "missing arguments (got 1/2), type 'string' expected{}",
                suffix("streq")
            )
        );
        assert_eq!(
            e("streq").message,
            format!(
                "missing arguments (got 1/2), type 'string' expected{}",
                suffix("streq")
            )
        );
        assert_eq!(
            e("streq()").message,
            format!(
                "missing arguments (got 1/2), type 'string' expected{}",
                suffix("streq")
            )
        );
        let err = e("streq(a,b,c)");
        assert_eq!(
            err.message,
            format!("expected ')' before ',c)'{}", suffix("streq"))
        );
        assert_eq!(err.col, 13);
        assert_eq!(
            e("streq(a,a").message,
            format!("expected ')'{}", suffix("streq"))
        );
        assert_eq!(
            e("defined(HOME").message,
            format!("expected ')'{}", suffix("defined"))
        );
        assert_eq!(
            e("defined(HOME,x)").message,
            format!("expected ')' before ',x)'{}", suffix("defined"))
        );
        // an unclosed quote runs to the end
        assert_eq!(
            e(r#"streq(a,\"b)"#).message,
            format!("expected ')'{}", suffix("streq"))
        );
        assert_eq!(
            e(r#"streq(\"a,a)"#).message,
            format!(
                "missing arguments (got 1/2), type 'string' expected{}",
                suffix("streq")
            )
        );
        // a backslash before `,` or `)` is kept and does not escape it
        assert_eq!(
            e(r"streq(a\\,b,a)").message,
            format!("expected ')' before ',a)'{}", suffix("streq"))
        );
        assert_eq!(
            e(r"streq(a\\)").message,
            format!(
                "missing arguments (got 1/2), type 'string' expected{}",
                suffix("streq")
            )
        );
        // a backslash at the very end
        assert_eq!(
            e(r"streq(a\\").message,
            "failed to parse '\\' after 'a' as type 'string' at position 1 in argument 0 of predicate 'streq' used in conditional expression"
        );
        assert_eq!(
            e(r"streq(a,b\\").message,
            format!(
                "failed to parse '\\' after 'b' as type 'string' at position 2{}",
                suffix("streq")
            )
        );
        // errors in later terms are reported too
        assert_eq!(
            e("streq(a,b) || streq(c").message,
            format!(
                "missing arguments (got 1/2), type 'string' expected{}",
                suffix("streq")
            )
        );
    }

    #[test]
    fn error_columns_follow_the_words() {
        // the caret lands on the right word even with several blanks
        // between words (they are joined with one space)
        let w = words(".if 1   &&   x(");
        let err = eval(w.get(1..).unwrap(), &Env).unwrap_err();
        assert_eq!(err.message, "unparsable conditional expression 'x('");
        assert_eq!(err.col, 13);
    }

    #[test]
    fn recursion_is_bounded() {
        let deep = format!("{}1{}", "(".repeat(400), ")".repeat(400));
        assert_eq!(
            e(&deep).message.split(' ').take(2).collect::<Vec<_>>(),
            ["unparsable", "conditional"]
        );
        let ok = format!("{}1{}", "(".repeat(200), ")".repeat(200));
        assert!(t(&ok));
        let long_and = vec!["1"; 2000].join("&&");
        assert!(e(&long_and).message.starts_with("unparsable conditional"));
        let long_or = vec!["0"; 500].join("||");
        assert!(!t(&long_or));
    }

    // ---- Preproc ----

    struct Run {
        kept: Vec<String>,
        diags: Diagnostics,
    }

    /// Feed a whole file through Preproc; `kept` are the lines handed on.
    fn run(text: &str) -> Run {
        let file = SourceFile::new("t.cfg", text);
        let mut pre = Preproc::new();
        let mut diags = Diagnostics::default();
        let mut kept = Vec::new();
        for (n, line) in text.split('\n').enumerate() {
            let loc = Loc::new(&file, u32::try_from(n + 1).unwrap(), 0);
            let w = words(line);
            if pre.feed(&w, &loc, &Env, &mut diags) {
                kept.push(
                    w.iter()
                        .map(|w| w.text.as_str())
                        .collect::<Vec<_>>()
                        .join(" "),
                );
            }
        }
        pre.finish(&file, &mut diags);
        Run { kept, diags }
    }

    /// (severity, line, col, message) of each diagnostic.
    fn diag_list(r: &Run) -> Vec<(Severity, u32, u32, String)> {
        r.diags
            .list
            .iter()
            .map(|d| {
                let loc = d.loc.as_ref().unwrap();
                (d.severity, loc.line, loc.col, d.message.clone())
            })
            .collect()
    }

    use Severity::{Error, Notice, Warning};

    fn d(s: Severity, line: u32, col: u32, m: &str) -> (Severity, u32, u32, String) {
        (s, line, col, m.to_owned())
    }

    #[test]
    fn if_elif_else_endif() {
        let r = run(".if 0\na\n.elif 1\nb\n.elif 1\nc\n.else\nd\n.endif\ne");
        assert_eq!(r.kept, ["b", "e"]);
        assert!(r.diags.list.is_empty());
        let r = run(".if 1\na\n.else\nb\n.endif");
        assert_eq!(r.kept, ["a"]);
        let r = run(".if 0\na\n.else\nb\n.endif");
        assert_eq!(r.kept, ["b"]);
        let r = run(".if 0\na\n.elif 0\nb\n.endif\nc");
        assert_eq!(r.kept, ["c"]);
    }

    #[test]
    fn nesting() {
        // the manual's example with A=1, B=0, C=1
        let text = r#".if "${A}"
  .if "${B}"
     .notice "A=1, B=1"
  .elif "${C}"
     .notice "A=1, B=0, C=1"
  .elif "${D}"
     .warning "A=1, B=0, C=0, D=1"
  .else
     .alert "A=1, B=0, C=0, D=0"
  .endif
.else
     .notice "A=0"
.endif"#;
        let r = run(text);
        assert_eq!(diag_list(&r), [d(Notice, 5, 13, "A=1, B=0, C=1")]);
        // a dropped parent drops its children whatever they say
        let r = run(".if 0\n.if 1\na\n.else\nb\n.endif\n.endif\nc");
        assert_eq!(r.kept, ["c"]);
    }

    #[test]
    fn false_blocks_ignore_everything_but_nesting() {
        // verified on haproxy 2.6: no alert, no unknown directive and no
        // parse error for the skipped `.if` inside `.if 0`
        let r = run(".if 0\n  .alert \"boom\"\n  .foo\n  .if bogus(\n  .endif\n.endif");
        assert!(r.diags.list.is_empty());
        assert!(r.kept.is_empty());
        // an .elif after a taken branch is not evaluated (verified on 2.6)
        let r = run(".if 1\n.elif bogus(\n.endif");
        assert!(r.diags.list.is_empty());
        // but evaluated when it matters (verified on 2.6)
        let r = run(".if 0\n.elif bogus(\n.endif");
        assert_eq!(
            diag_list(&r),
            [d(
                Error,
                2,
                6,
                "unparsable conditional expression 'bogus(' in '.elif'"
            )]
        );
    }

    #[test]
    fn misplaced_directives() {
        // messages verified on haproxy 2.6
        assert_eq!(
            diag_list(&run(".elif 1")),
            [d(Error, 1, 0, "lone '.elif' with no matching '.if'")]
        );
        assert_eq!(
            diag_list(&run(".else")),
            [d(Error, 1, 0, "lone '.else' with no matching '.if'")]
        );
        assert_eq!(
            diag_list(&run("  .endif")),
            [d(Error, 1, 2, "lone '.endif' with no matching '.if'")]
        );
        assert_eq!(
            diag_list(&run(".if 1\n.else\n.elif 1\n.endif")),
            [d(Error, 3, 0, "'.elif' after '.else' is not permitted")]
        );
        assert_eq!(
            diag_list(&run(".if 1\n.else\n.else\n.endif")),
            [d(Error, 3, 0, "'.else' after '.else' is not permitted")]
        );
        // extra arguments: reported, the directive still applies
        let r = run(".if 1\na\n.else x\nb\n.endif y");
        assert_eq!(
            diag_list(&r),
            [
                d(Error, 3, 6, "Unexpected argument 'x' for '.else'"),
                d(Error, 5, 7, "Unexpected argument 'y' for '.endif'"),
            ]
        );
        assert_eq!(r.kept, ["a"]);
        // an empty word ends HAProxy's argument list, so it is not "extra"
        assert!(run(".if 1\n.else \"\"\n.endif").diags.list.is_empty());
    }

    #[test]
    fn unterminated_if() {
        // verified on haproxy 2.6: "non-terminated '.if' block"
        let r = run("global\n.if 1\n  .if 0\n  .endif\nx");
        assert_eq!(
            diag_list(&r),
            [d(Error, 2, 0, "non-terminated '.if' block")]
        );
        assert_eq!(r.kept, ["global", "x"]);
        let r = run(".if 1\n  .if 0\n");
        assert_eq!(
            diag_list(&r),
            [d(Error, 2, 2, "non-terminated '.if' block")]
        );
    }

    #[test]
    fn condition_errors_drop_the_block() {
        let r = run(".if foo(1)\na\n.elif 1\nb\n.else\nc\n.endif\nd");
        assert_eq!(
            diag_list(&r),
            [d(
                Error,
                1,
                4,
                "unparsable conditional expression 'foo(1)' in '.if'"
            )]
        );
        assert_eq!(r.kept, ["d"]);
    }

    #[test]
    fn nesting_limit() {
        // verified on haproxy 2.6: 99 nested levels are fine, the 100th
        // .if is "too many nested '.if', max is 100"
        let ok = format!("{}x\n{}", ".if 1\n".repeat(99), ".endif\n".repeat(99));
        let r = run(&ok);
        assert!(r.diags.list.is_empty());
        assert_eq!(r.kept, ["x"]);
        let bad = format!("{}x\n{}", ".if 1\n".repeat(100), ".endif\n".repeat(100));
        let r = run(&bad);
        assert_eq!(
            diag_list(&r),
            [d(Error, 100, 0, "too many nested '.if', max is 100")]
        );
        assert!(r.kept.is_empty());
    }

    #[test]
    fn messages() {
        let r = run(".alert \"SSL support is mandatory\"\n.warning w\n.notice 'n n'\n.diag d");
        assert_eq!(
            diag_list(&r),
            [
                d(Error, 1, 7, "SSL support is mandatory"),
                d(Warning, 2, 9, "w"),
                d(Notice, 3, 8, "n n"),
                d(Notice, 4, 6, "d"),
            ]
        );
        // verified on haproxy 2.6: `.alert` alone says '', `.alert a b` is
        // an "Unexpected argument" error instead of the alert
        assert_eq!(diag_list(&run(".alert")), [d(Error, 1, 0, "''")]);
        assert_eq!(diag_list(&run(".notice")), [d(Notice, 1, 0, "''")]);
        assert_eq!(
            diag_list(&run(".alert a b")),
            [d(
                Error,
                1,
                9,
                "Unexpected argument 'b' for '.alert'. Use quotes if the message should contain spaces."
            )]
        );
        // the manual's example: .alert fires only when the block is taken
        let r = run(".if !feature(OPENSSL)\n  .alert \"SSL support is mandatory\"\n.endif");
        assert!(r.diags.list.is_empty());
        let r = run(".if !feature(QUIC)\n  .alert \"QUIC is mandatory\"\n.endif");
        assert_eq!(diag_list(&r), [d(Error, 2, 9, "QUIC is mandatory")]);
    }

    #[test]
    fn unknown_directives() {
        // verified on haproxy 2.6: "unknown directive '.foo'"
        let r = run("  .foo bar\n.IF 1\n.");
        assert_eq!(
            diag_list(&r),
            [
                d(Error, 1, 2, "unknown directive '.foo'"),
                d(Error, 2, 0, "unknown directive '.IF'"),
                d(Error, 3, 0, "unknown directive '.'"),
            ]
        );
        assert!(r.kept.is_empty());
    }

    #[test]
    fn ordinary_lines_pass_through() {
        let r = run("global\n  maxconn 10\n\n# comment\n  \"\" x");
        assert_eq!(r.kept, ["global", "maxconn 10", " x"]);
        let mut pre = Preproc::new();
        assert!(pre.is_active());
        assert_eq!(pre.depth(), 0);
        let f = SourceFile::new("x", "");
        let mut diags = Diagnostics::default();
        assert!(!pre.feed(&[], &Loc::new(&f, 1, 0), &Env, &mut diags));
    }
}

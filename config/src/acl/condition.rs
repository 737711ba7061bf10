//! Conditions: `if`/`unless` and the ACL references they combine.

use super::predefined::predefined;
use super::{parse_acl_expr, AclDef, AclError};
use crate::lexer::Word;
use crate::sample::Vocab;

/// `if <cond>` or `unless <cond>`.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    If(CondExpr),
    Unless(CondExpr),
}

impl Condition {
    pub fn expr(&self) -> &CondExpr {
        match self {
            Condition::If(e) | Condition::Unless(e) => e,
        }
    }
}

/// An OR of ANDs. No alternative at all (`if` alone, which HAProxy accepts)
/// is false: the rule never applies under `if`, always under `unless`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CondExpr {
    pub any_of: Vec<Vec<CondTerm>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CondTerm {
    pub negate: bool,
    pub acl: AclRef,
}

#[derive(Clone, Debug, PartialEq)]
pub enum AclRef {
    /// An ACL of the proxy, checked by the caller.
    Named(String),
    /// A name of [`PREDEFINED`](super::PREDEFINED). HAProxy looks a name up among the proxy's
    /// ACLs first, so an `acl TRUE ...` of the proxy overrides it: the caller
    /// must check that.
    Predefined(&'static str),
    /// `{ <criterion> [flags] [patterns] }`.
    Anonymous(Box<AclDef>),
}

impl AclRef {
    /// The name the term refers to (empty for an anonymous ACL).
    pub fn name(&self) -> &str {
        match self {
            AclRef::Named(n) => n,
            AclRef::Predefined(n) => n,
            AclRef::Anonymous(_) => "",
        }
    }
}

/// Parses a condition; `words` starts at the `if` / `unless` word.
pub fn parse_condition(words: &[Word]) -> Result<Condition, AclError> {
    let texts: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
    parse_condition_in(&texts, Vocab::builtin())
}

pub(crate) fn parse_condition_in(words: &[&str], vocab: Vocab) -> Result<Condition, AclError> {
    let is_if = match words.first() {
        Some(&"if") => true,
        Some(&"unless") => false,
        _ => {
            return Err(AclError::new(
                0,
                "conditions must start with either 'if' or 'unless'",
            ))
        }
    };
    let mut any_of: Vec<Vec<CondTerm>> = Vec::new();
    let mut suite: Vec<CondTerm> = Vec::new();
    let mut negate = false;
    let mut i = 1usize;
    while let Some(&raw) = words.get(i) {
        // HAProxy's list of words ends at the first empty one.
        if raw.is_empty() {
            break;
        }
        let word = raw.trim_start_matches('!');
        if (raw.len() - word.len()) % 2 == 1 {
            negate = !negate;
        }
        // A lone '!' negates the next term.
        if word.is_empty() {
            i += 1;
            continue;
        }
        if word.eq_ignore_ascii_case("or") || word == "||" {
            if !suite.is_empty() {
                any_of.push(std::mem::take(&mut suite));
            }
            negate = false;
            i += 1;
            continue;
        }
        let acl = if word == "{" {
            let close = words
                .iter()
                .skip(i + 1)
                .take_while(|w| !w.is_empty())
                .position(|w| *w == "}")
                .map(|p| i + 1 + p)
                .ok_or_else(|| AclError::new(i, "missing closing '}' in condition"))?;
            let inner = words.get(i + 1..close).unwrap_or(&[]);
            let def = parse_acl_expr(inner, vocab).map_err(|e| AclError {
                word: (i + 1 + e.word).min(close),
                ..e
            })?;
            i = close;
            AclRef::Anonymous(Box::new(def))
        } else if let Some(p) = predefined(word) {
            AclRef::Predefined(p.name)
        } else {
            AclRef::Named(word.to_string())
        };
        suite.push(CondTerm { negate, acl });
        negate = false;
        i += 1;
    }
    if !suite.is_empty() {
        any_of.push(suite);
    }
    let expr = CondExpr { any_of };
    Ok(if is_if {
        Condition::If(expr)
    } else {
        Condition::Unless(expr)
    })
}

//! The `.if/.elif/.else/.endif` state machine and the `.diag`, `.notice`, `.warning` and `.alert` directives.

use super::{eval, CondEnv, MAX_NESTED_CONDS};
use crate::diag::{Diagnostic, Diagnostics, Loc, SourceFile};
use crate::lexer::Word;
use std::sync::Arc;

/// Where one `.if` level stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Branch {
    /// The current branch is taken: its lines are used.
    Taking,
    /// No branch taken yet; the next `.elif` is evaluated, `.else` taken.
    Waiting,
    /// A branch was already taken, or the enclosing block is dropped, or
    /// the condition could not be evaluated: every remaining branch is
    /// dropped and their conditions are not even parsed (as in HAProxy).
    Done,
}

#[derive(Clone, Debug)]
struct Level {
    branch: Branch,
    seen_else: bool,
    /// The `.if` line and column, for "non-terminated '.if' block".
    line: u32,
    col: u32,
}

/// The `.if/.elif/.else/.endif` state machine and the `.diag`, `.notice`,
/// `.warning`, `.alert` directives, fed every tokenized line of one file in
/// order.
///
/// As in HAProxy, a tokenizing error on a line inside a false block is still
/// an error (HAProxy splits the line before looking at the block state);
/// callers report `LexError`s regardless of [`Preproc::is_active`].
#[derive(Clone, Debug, Default)]
pub struct Preproc {
    levels: Vec<Level>,
}

const DIRECTIVES: [&str; 4] = [".alert", ".warning", ".notice", ".diag"];

impl Preproc {
    pub fn new() -> Self {
        Preproc::default()
    }

    /// Are lines currently used (not inside a false block)?
    pub fn is_active(&self) -> bool {
        self.levels
            .last()
            .is_none_or(|l| l.branch == Branch::Taking)
    }

    /// How many `.if` blocks are open.
    pub fn depth(&self) -> usize {
        self.levels.len()
    }

    /// Returns true if the line must be handed to the section parser, false
    /// if it is empty, a directive, or inside a false block. Diagnostics go
    /// to `diags` at `loc`, with the caret on the word concerned.
    ///
    /// Where HAProxy stops reading the file (a bad `.if` expression, `.alert`,
    /// a misplaced `.elif`/`.else`/`.endif`, an unknown directive) ringlb
    /// reports the error and carries on, so that one run shows every
    /// problem; the configuration is refused either way.
    pub fn feed(
        &mut self,
        words: &[Word],
        loc: &Loc,
        env: &dyn CondEnv,
        diags: &mut Diagnostics,
    ) -> bool {
        let Some(first) = words.first() else {
            return false;
        };
        let at = |w: &Word| loc.at_col(w.col);
        // The block directives are handled even inside false blocks (to
        // track nesting); their conditions only when they matter.
        match first.text.as_str() {
            ".if" => {
                self.open_if(words, loc, env, diags);
                return false;
            }
            ".elif" => {
                self.elif(words, loc, env, diags);
                return false;
            }
            ".else" | ".endif" => {
                // HAProxy checks `*args[1]`: an empty word ends the list.
                if let Some(extra) = words.get(1).filter(|w| !w.text.is_empty()) {
                    diags.error(
                        &at(extra),
                        format!("Unexpected argument '{}' for '{}'", extra.text, first.text),
                    );
                }
                if first.text == ".else" {
                    self.else_(first, loc, diags);
                } else {
                    self.endif(first, loc, diags);
                }
                return false;
            }
            _ => {}
        }
        if !self.is_active() {
            // Everything else in a false block is ignored, including
            // `.alert` and unknown directives (verified on haproxy 2.6).
            return false;
        }
        if !first.text.starts_with('.') {
            return true;
        }
        if !DIRECTIVES.contains(&first.text.as_str()) {
            diags.error(&at(first), format!("unknown directive '{}'", first.text));
            return false;
        }
        if let Some(extra) = words.get(2).filter(|w| !w.text.is_empty()) {
            diags.error(
                &at(extra),
                format!(
                    "Unexpected argument '{}' for '{}'. Use quotes if the message should contain spaces.",
                    extra.text, first.text
                ),
            );
            return false;
        }
        let (text, col) = match words.get(1) {
            Some(w) if !w.text.is_empty() => (w.text.clone(), w.col),
            // HAProxy prints the empty message as ''.
            Some(w) => ("''".to_owned(), w.col),
            None => ("''".to_owned(), first.col),
        };
        let here = loc.at_col(col);
        match first.text.as_str() {
            ".alert" => diags.error(&here, text),
            ".warning" => diags.warning(&here, text),
            // `.diag` messages are shown by HAProxy only in diagnostic mode
            // (-dD); here they are notices like `.notice`.
            _ => diags.push(Diagnostic::notice(&here, text)),
        }
        false
    }

    fn open_if(&mut self, words: &[Word], loc: &Loc, env: &dyn CondEnv, diags: &mut Diagnostics) {
        let Some(first) = words.first() else {
            return;
        };
        let mut level = Level {
            branch: Branch::Done,
            seen_else: false,
            line: loc.line,
            col: first.col,
        };
        if self.levels.len() + 1 >= MAX_NESTED_CONDS {
            diags.error(
                &loc.at_col(first.col),
                format!("too many nested '.if', max is {MAX_NESTED_CONDS}"),
            );
        } else if self.is_active() {
            level.branch = self.condition(words, ".if", loc, env, diags);
        }
        self.levels.push(level);
    }

    fn elif(&mut self, words: &[Word], loc: &Loc, env: &dyn CondEnv, diags: &mut Diagnostics) {
        let Some(first) = words.first() else {
            return;
        };
        let here = loc.at_col(first.col);
        let Some(top) = self.levels.last() else {
            diags.error(&here, "lone '.elif' with no matching '.if'");
            return;
        };
        if top.seen_else {
            diags.error(&here, "'.elif' after '.else' is not permitted");
            return;
        }
        let branch = match top.branch {
            Branch::Taking | Branch::Done => Branch::Done,
            Branch::Waiting => self.condition(words, ".elif", loc, env, diags),
        };
        if let Some(top) = self.levels.last_mut() {
            top.branch = branch;
        }
    }

    fn else_(&mut self, first: &Word, loc: &Loc, diags: &mut Diagnostics) {
        let here = loc.at_col(first.col);
        let Some(top) = self.levels.last_mut() else {
            diags.error(&here, "lone '.else' with no matching '.if'");
            return;
        };
        if top.seen_else {
            diags.error(&here, "'.else' after '.else' is not permitted");
            return;
        }
        top.seen_else = true;
        top.branch = match top.branch {
            Branch::Waiting => Branch::Taking,
            Branch::Taking | Branch::Done => Branch::Done,
        };
    }

    fn endif(&mut self, first: &Word, loc: &Loc, diags: &mut Diagnostics) {
        if self.levels.pop().is_none() {
            diags.error(
                &loc.at_col(first.col),
                "lone '.endif' with no matching '.if'",
            );
        }
    }

    /// Evaluate the condition of a `.if`/`.elif` line into its branch state.
    fn condition(
        &self,
        words: &[Word],
        directive: &str,
        loc: &Loc,
        env: &dyn CondEnv,
        diags: &mut Diagnostics,
    ) -> Branch {
        match eval(words.get(1..).unwrap_or_default(), env) {
            Ok(true) => Branch::Taking,
            Ok(false) => Branch::Waiting,
            Err(e) => {
                diags.error(
                    &loc.at_col(e.col),
                    format!("{} in '{directive}'", e.message),
                );
                // The whole block is dropped: we cannot know which branch
                // was meant.
                Branch::Done
            }
        }
    }

    /// End of file: an unterminated `.if` is an error, reported at the
    /// innermost open `.if`.
    pub fn finish(&self, file: &Arc<SourceFile>, diags: &mut Diagnostics) {
        if let Some(level) = self.levels.last() {
            let d = Diagnostic::error(
                &Loc::new(file, level.line, level.col),
                "non-terminated '.if' block",
            )
            .with_hint("every '.if' needs a matching '.endif' in the same file");
            diags.push(d);
        }
    }
}

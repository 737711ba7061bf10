//! The command table: each command's words, its usage line (HAProxy's,
//! byte for byte: `help` prints them), the level it needs and its handler;
//! the request dispatch; `help` and HAProxy's answer to an unknown command
//! (the commands whose first words match, or a fuzzy match on the others,
//! as cli_gen_usage_msg computes it).
//!
//! Other parts of the engine add their commands by adding a slice to
//! [`tables`] (the TLS certificate commands, `show stat` and `show table`
//! join that way).

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use super::{Reply, Session, Static};
use crate::engine::runtime::Core;

/// HAProxy's access levels (ACCESS_LVL_*).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    User = 1,
    Operator = 2,
    Admin = 3,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::User => "user",
            Level::Operator => "operator",
            Level::Admin => "admin",
        }
    }
}

/// What a handler gets.
#[derive(Debug)]
pub struct Ctx<'a> {
    pub core: &'a Rc<Core>,
    pub st: &'a Rc<Static>,
    pub session: &'a mut Session,
    /// The words of the request, the command's own first.
    pub args: &'a [String],
    /// What followed a `<<` line.
    pub payload: Option<&'a str>,
}

impl Ctx<'_> {
    /// Word `i` of the request, "" past the end (HAProxy's empty args).
    pub fn arg(&self, i: usize) -> &str {
        self.args.get(i).map_or("", String::as_str)
    }
}

pub type Later = Pin<Box<dyn Future<Output = Reply>>>;

/// A `Run::LaterWith` handler: the words and the payload.
pub type LaterWithFn = fn(Rc<Core>, Rc<Static>, Vec<String>, Option<String>) -> Later;

/// A command's handler: it answers now, or returns a future (a command
/// that asks the cores or waits).
#[derive(Clone, Copy)]
pub enum Run {
    Now(fn(&mut Ctx<'_>) -> Reply),
    Later(fn(Rc<Core>, Rc<Static>, Vec<String>) -> Later),
    /// As `Later`, with the request's payload.
    LaterWith(LaterWithFn),
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Run::Now(_) => "Run::Now",
            Run::Later(_) => "Run::Later",
            Run::LaterWith(_) => "Run::LaterWith",
        })
    }
}

/// One command.
#[derive(Debug)]
pub struct Command {
    /// Its words (a request matches when it starts with them).
    pub words: &'static [&'static str],
    /// HAProxy's usage line (None: not listed by `help`).
    pub usage: Option<&'static str>,
    /// The least level it runs at ("Permission denied" below it).
    pub level: Level,
    pub run: Run,
}

/// Every command table.
pub fn tables() -> impl Iterator<Item = &'static Command> {
    super::commands::COMMANDS
        .iter()
        .chain(super::tables::COMMANDS)
}

fn find(args: &[String]) -> Option<&'static Command> {
    tables().find(|c| {
        c.words.len() <= args.len() && c.words.iter().zip(args).all(|(w, a)| *w == a.as_str())
    })
}

/// Run one request line.
pub async fn run(
    core: &Rc<Core>,
    st: &Rc<Static>,
    session: &mut Session,
    line: &str,
    payload: Option<&str>,
) -> Reply {
    let args = super::split_args(line);
    if args.is_empty() && payload.is_none() {
        return Reply::Empty;
    }
    let Some(cmd) = find(&args) else {
        return usage(&args);
    };
    if session.level < cmd.level {
        return Reply::err("Permission denied\n");
    }
    match cmd.run {
        Run::Now(f) => {
            let mut ctx = Ctx {
                core,
                st,
                session,
                args: &args,
                payload,
            };
            f(&mut ctx)
        }
        Run::Later(f) => f(Rc::clone(core), Rc::clone(st), args).await,
        Run::LaterWith(f) => {
            f(
                Rc::clone(core),
                Rc::clone(st),
                args,
                payload.map(str::to_string),
            )
            .await
        }
    }
}

/// `help [words]` and the answer to an unknown command (HAProxy's
/// cli_gen_usage_msg).
pub fn usage(args: &[String]) -> Reply {
    let (args, is_help) = match args.first().map(String::as_str) {
        Some("help") => (args.get(1..).unwrap_or_default(), true),
        _ => (args, false),
    };
    let listed = || tables().filter(|c| c.usage.is_some());
    // The number of leading words some command matches exactly.
    let mut length = 0;
    for c in tables() {
        let n = c
            .words
            .iter()
            .zip(args)
            .take_while(|(w, a)| **w == a.as_str())
            .count();
        length = length.max(n);
    }
    let mut out = String::from(if is_help {
        "The following commands are valid at this level:\n"
    } else if length == 0 && args.is_empty() {
        "Unknown command. Please enter one of the following commands only:\n"
    } else {
        "Unknown command, but maybe one of the following ones is a better match:\n"
    });
    let prefix_ok = |c: &Command| {
        c.words
            .iter()
            .zip(args)
            .take(length)
            .take_while(|(w, a)| **w == a.as_str())
            .count()
            == length.min(c.words.len())
            && c.words.len() >= length
    };
    let mut entries: Vec<&'static str> = Vec::new();
    if let Some(rest) = args.get(length..).filter(|r| !r.is_empty()) {
        // Fuzzy match of the words after the matching ones.
        const MAX: usize = 5;
        let mut matches: Vec<(&'static str, i64)> = Vec::new();
        for c in listed().filter(|c| prefix_ok(c)) {
            let Some(usage) = c.usage else { continue };
            let mut word_sig = [0u8; 1024];
            let mut totlen = 0i64;
            for a in rest.iter().take(5usize.saturating_sub(length)) {
                fingerprint(&mut word_sig, a);
                totlen += i64::try_from(a.len()).unwrap_or(0);
            }
            let mut list_sig = [0u8; 1024];
            for w in c.words.iter().skip(length) {
                fingerprint(&mut list_sig, w);
                totlen += i64::try_from(w.len()).unwrap_or(0);
            }
            let dist: i64 = word_sig
                .iter()
                .zip(list_sig.iter())
                .map(|(a, b)| (i64::from(*a) - i64::from(*b)).abs())
                .sum();
            let worst = if matches.len() < MAX {
                i64::MAX
            } else {
                matches.last().map_or(i64::MAX, |m| m.1)
            };
            if dist < 5 * totlen / 2 && dist < worst {
                if matches.len() == MAX {
                    matches.pop();
                }
                let at = matches.partition_point(|m| m.1 <= dist);
                matches.insert(at, (usage, dist));
            }
        }
        if let Some(&(_, best)) = matches.first() {
            entries.extend(
                matches
                    .iter()
                    .take_while(|m| m.1 <= 5 * best / 2)
                    .map(|m| m.0),
            );
        }
    }
    if entries.is_empty() {
        entries.extend(listed().filter(|c| prefix_ok(c)).filter_map(|c| c.usage));
    }
    entries.sort_unstable();
    for e in entries {
        out.push_str("  ");
        out.push_str(e);
        out.push('\n');
    }
    out.push_str(
        "  help [<command>]                        : list matching or all commands\n  prompt                                  : toggle interactive mode with prompt\n  quit                                    : disconnect\n",
    );
    Reply::info(out)
}

/// HAProxy's update_word_fingerprint: counts of character transitions.
fn fingerprint(fp: &mut [u8; 1024], word: &str) {
    let class = |c: u8| -> usize {
        match c.to_ascii_lowercase() {
            c @ b'a'..=b'z' => usize::from(c - b'a') + 1,
            b'0'..=b'9' => 27,
            _ => 28,
        }
    };
    let mut from = 28;
    for &c in word.as_bytes() {
        let to = class(c);
        if let Some(x) = fp.get_mut(to) {
            *x = 1;
        }
        if let Some(x) = fp.get_mut(32 * from + to) {
            *x = x.wrapping_add(1);
        }
        from = to;
    }
    if let Some(x) = fp.get_mut(32 * from + 28) {
        *x = x.wrapping_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::{find, tables, usage};
    use crate::engine::cli::Reply;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn commands_match_on_their_leading_words() {
        assert_eq!(
            find(&words("show info typed")).map(|c| c.words),
            Some(&["show", "info"][..])
        );
        assert!(find(&words("show nothing")).is_none());
        // No two commands with the same words.
        let all: Vec<_> = tables().map(|c| c.words).collect();
        for (i, w) in all.iter().enumerate() {
            assert!(!all.iter().skip(i + 1).any(|x| x == w), "{w:?} twice");
        }
    }

    #[test]
    fn an_unknown_command_proposes_close_ones() {
        let Reply::Msg(_, text) = usage(&words("show inf")) else {
            panic!()
        };
        assert!(text.starts_with("Unknown command, but maybe"), "{text}");
        assert!(
            text.contains("show info [desc|json|typed|float]*"),
            "{text}"
        );
        let Reply::Msg(_, text) = usage(&words("help")) else {
            panic!()
        };
        assert!(text.starts_with("The following commands are valid at this level:\n"));
        assert!(text.ends_with("  quit                                    : disconnect\n"));
    }
}

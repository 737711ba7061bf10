//! The global section (manual section 3).
//!
//! Keywords the engine or the binary act upon are typed into
//! [`crate::model::Global`]; every other keyword of the manual is
//! arity-checked against the keyword table and kept as a `Directive`.
//! Verdicts follow HAProxy 3.2's source; where HAProxy only prints an
//! alert without failing (the "already specified. Continuing." family),
//! ringlb reports a warning, since the configuration is accepted.

mod process;
mod ssl;
mod stats;
mod tune;

use super::common::parse_log;
use super::{Line, Parser};
use crate::diag::{did_you_mean, Diagnostic};
use crate::keywords::{self, Arity, BIND_OPTIONS, GLOBAL_KEYWORDS, PROXY_KEYWORDS};
use crate::lexer::Word;
use crate::model::global::{EnvOp, MasterWorker};
use crate::model::Directive;
use crate::units::TimeUnit;
use process::{account, cpu_map, nbthread, path_setting};
use ssl::{ssl_options, ssl_string};
use stats::stats;
use tune::{socket_buffer, tune};

/// Keywords HAProxy accepts after the `no` / `default` modifiers, in any
/// section (cfgparse.c, parse_cfg()).
pub(super) const NEGATABLE: &[&str] = &[
    "option",
    "log",
    "busy-polling",
    "set-dumpable",
    "strict-limits",
    "insecure-fork-wanted",
    "numa-cpu-mapping",
];

/// Global keywords HAProxy 3.2 refuses, with the message naming what
/// replaced them. They are still in the keyword table (so the table stays
/// the manual's), but never suggested by "did you mean".
const REMOVED: &[(&str, &str)] = &[
    (
        "nbproc",
        "nbproc is not supported any more since HAProxy 2.5. Threads will automatically be used on multi-processor machines if available.",
    ),
    (
        "tune.chksize",
        "option 'tune.chksize' is not supported any more (tune.bufsize is used instead).",
    ),
];

/// Deprecated global keywords that still work, and their replacement.
const DEPRECATED: &[(&str, &str)] = &[
    (
        "tune.ssl.capture-cipherlist-size",
        "tune.ssl.capture-buffer-size",
    ),
    ("tune.ssl.ocsp-update.maxdelay", "ocsp-update.maxdelay"),
    ("tune.ssl.ocsp-update.mindelay", "ocsp-update.mindelay"),
];

/// A `no` or `default` prefix on a keyword line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Modifier {
    Std,
    No,
    Default,
}

/// Strip a `no` / `default` prefix. HAProxy accepts it only before the
/// keywords of [`NEGATABLE`] (`allowed`), whatever the section.
pub(super) fn split_modifier<'a>(
    line: &Line<'a>,
    allowed: &[&str],
) -> Result<(Modifier, Line<'a>), Diagnostic> {
    let modifier = match line.kw() {
        "no" => Modifier::No,
        "default" => Modifier::Default,
        _ => return Ok((Modifier::Std, Line::new(line.words, line.loc.clone()))),
    };
    let rest = line.words.get(1..).unwrap_or_default();
    if rest.is_empty() {
        return Err(line.err(1, format!("'{}' expects a keyword to apply to", line.kw())));
    }
    let sub = Line::new(rest, line.loc_at(1));
    if !allowed.contains(&sub.kw()) {
        return Err(line.err(
            0,
            "negation/default is only supported for 'option', 'log', 'busy-polling', \
             'set-dumpable', 'strict-limits', 'insecure-fork-wanted' and 'numa-cpu-mapping'",
        ));
    }
    Ok((modifier, sub))
}

/// The words HAProxy sees after a `default` prefix: it shifts them left
/// without clearing the last slot, so the last word comes twice ("default
/// busy-polling" reads "busy-polling busy-polling"). Reproduced so the
/// verdicts match: such lines usually fail on the extra word.
pub(super) fn repeat_last(line: &Line<'_>) -> Vec<Word> {
    let mut v = line.words.to_vec();
    if let Some(last) = v.last().cloned() {
        v.push(last);
    }
    v
}

/// Check the number of words after a keyword of `kw_words` words against
/// the arity the keyword table gives.
pub(super) fn check_arity(
    line: &Line<'_>,
    kw_words: usize,
    arity: Arity,
    name: &str,
    usage: &str,
) -> Result<(), Diagnostic> {
    let n = line.len().saturating_sub(kw_words);
    if arity.accepts(n) {
        return Ok(());
    }
    if let Some(max) = arity.max {
        if n > usize::from(max) {
            let i = kw_words + usize::from(max);
            return Err(line
                .err(
                    i,
                    format!(
                        "'{name}' cannot handle unexpected argument '{}'",
                        line.word(i)
                    ),
                )
                .with_hint(format!("usage: {usage}")));
        }
    }
    let min = usize::from(arity.min);
    let exact = if arity.max == Some(arity.min) {
        ""
    } else {
        "at least "
    };
    let plural = if min == 1 { "" } else { "s" };
    Err(line
        .err(
            line.len(),
            format!("'{name}' expects {exact}{min} argument{plural}"),
        )
        .with_hint(format!("usage: {usage}")))
}

/// Whether a section other than `global` was already opened: some thread
/// settings must come before (HAProxy's `non_global_section_parsed`).
fn non_global_seen(p: &Parser<'_>) -> bool {
    let c = &p.cfg;
    !(c.defaults.is_empty()
        && c.proxies.is_empty()
        && c.userlists.is_empty()
        && c.peers.is_empty()
        && c.resolvers.is_empty()
        && c.http_errors.is_empty()
        && c.caches.is_empty()
        && c.rings.is_empty()
        && c.mailers.is_empty()
        && c.programs.is_empty()
        && c.other_sections.is_empty())
}

/// One keyword line of the global section.
pub(crate) fn keyword(p: &mut Parser<'_>, line: &Line<'_>) {
    if let Err(d) = keyword_inner(p, line) {
        p.push(d);
    }
}

fn keyword_inner(p: &mut Parser<'_>, line: &Line<'_>) -> Result<(), Diagnostic> {
    let (modifier, line) = split_modifier(line, NEGATABLE)?;
    let doubled;
    let line = if modifier == Modifier::Default {
        doubled = repeat_last(&line);
        &Line::new(&doubled, line.loc.clone())
    } else {
        &line
    };
    let kw = line.kw();
    if let Some((_, msg)) = REMOVED.iter().find(|(k, _)| *k == kw) {
        return Err(line.err(0, *msg));
    }
    match kw {
        "daemon" => {
            line.no_more_than(1, 0, kw)?;
            p.cfg.global.daemon = true;
        }
        "master-worker" => {
            line.no_more_than(1, 1, kw)?;
            let exit_on_failure = match line.arg(1) {
                None => true,
                Some("no-exit-on-failure") => false,
                Some(_) => {
                    return Err(line.err(
                        1,
                        "'master-worker' only supports 'no-exit-on-failure' option",
                    ))
                }
            };
            p.cfg.global.master_worker = Some(MasterWorker { exit_on_failure });
        }
        "expose-experimental-directives" => {
            line.no_more_than(1, 0, kw)?;
            p.cfg.global.expose_experimental = true;
        }
        "nbthread" => p.cfg.global.nbthread = Some(nbthread(p, line)?),
        "cpu-map" => {
            let map = cpu_map(line)?;
            p.cfg.global.cpu_map.push(map);
        }
        "maxconn" => {
            line.no_more_than(1, 1, kw)?;
            let n = strict_uint(line, 1, kw)?;
            if p.cfg.global.maxconn.is_some() {
                p.push(already(line));
            } else {
                p.cfg.global.maxconn = Some(n);
            }
        }
        "user" | "uid" | "group" | "gid" => account(p, line)?,
        "chroot" | "pidfile" | "server-state-file" | "server-state-base" => path_setting(p, line)?,
        "ca-base" | "crt-base" => {
            line.no_more_than(1, 1, kw)?;
            let dir = nonempty(
                line,
                1,
                &format!("global statement '{kw}' expects a directory path as an argument"),
            )?;
            let g = &mut p.cfg.global;
            let slot = if kw == "ca-base" {
                &mut g.ca_base
            } else {
                &mut g.crt_base
            };
            // HAProxy 3.2 (cfgparse-ssl.c) makes this one fatal.
            if slot.is_some() {
                return Err(line.err(0, format!("'{kw}' already specified")));
            }
            *slot = Some(dir);
        }
        "log" => {
            if modifier == Modifier::No {
                // "no log" forgets the log targets declared so far.
                if line.len() > 1 {
                    return Err(line.err(1, "'no log' does not expect arguments"));
                }
                p.cfg.global.logs.clear();
            } else {
                let target = parse_log(line, false, &|n| p.getenv(n))?;
                p.cfg.global.logs.push(target);
            }
        }
        "log-send-hostname" => {
            if p.cfg.global.log_send_hostname.is_some() {
                p.push(already(line));
                return Ok(());
            }
            if line.len() > 2 {
                // HAProxy silently ignores the extra words.
                p.push(line.warn(
                    2,
                    format!(
                        "'{kw}' takes at most one argument, '{}' is ignored",
                        line.word(2)
                    ),
                ));
            }
            p.cfg.global.log_send_hostname = Some(line.arg(1).map(str::to_string));
        }
        "log-tag" => {
            line.no_more_than(1, 1, kw)?;
            let tag = nonempty(line, 1, "'log-tag' expects a tag for use in syslog")?;
            p.cfg.global.log_tag = Some(tag);
        }
        "node" => {
            line.no_more_than(1, 1, kw)?;
            let name = line.word(1);
            let valid = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
            if !valid {
                return Err(line.err(
                    1,
                    "'node' requires a valid node name: a non-empty string of digits, letters, '.', '-' or '_'",
                ));
            }
            p.cfg.global.node = Some(name.to_string());
        }
        "description" => {
            if line.word(1).is_empty() {
                return Err(line.err(1, "'description' expects a string argument"));
            }
            // HAProxy joins all the words with one space.
            let text = super::words_from(line.words, 1).join(" ");
            p.cfg.global.description = Some(text);
        }
        "localpeer" => {
            line.no_more_than(1, 1, kw)?;
            let name = nonempty(line, 1, "'localpeer' expects a name as an argument")?;
            if !p.cfg.peers.is_empty() {
                p.push(line.warn(
                    0,
                    "'localpeer' ignored since it is used after a 'peers' section",
                ));
                return Ok(());
            }
            // HAProxy exports it for the lines that follow.
            p.env
                .insert("HAPROXY_LOCALPEER".to_string(), Some(name.clone()));
            p.cfg.global.localpeer = Some(name);
        }
        "stats" => stats(p, line)?,
        "ssl-default-bind-ciphers"
        | "ssl-default-bind-ciphersuites"
        | "ssl-default-bind-curves"
        | "ssl-default-bind-sigalgs"
        | "ssl-default-bind-client-sigalgs"
        | "ssl-default-server-ciphers"
        | "ssl-default-server-ciphersuites"
        | "ssl-default-server-curves"
        | "ssl-default-server-sigalgs"
        | "ssl-default-server-client-sigalgs" => ssl_string(p, line)?,
        "ssl-default-bind-options" => {
            let opts = ssl_options(line, false)?;
            p.cfg.global.ssl_default_bind.options.extend(opts);
        }
        "ssl-default-server-options" => {
            let opts = ssl_options(line, true)?;
            p.cfg.global.ssl_default_server.options.extend(opts);
        }
        "tune.bufsize"
        | "tune.maxrewrite"
        | "tune.http.maxhdr"
        | "tune.ssl.cachesize"
        | "tune.ssl.lifetime"
        | "tune.ssl.maxrecord"
        | "tune.ssl.default-dh-param"
        | "tune.ssl.force-private-cache"
        | "tune.ssl.capture-buffer-size"
        | "tune.ssl.capture-cipherlist-size" => tune(p, line)?,
        "tune.sndbuf.client" | "tune.sndbuf.server" | "tune.rcvbuf.client"
        | "tune.rcvbuf.server" => socket_buffer(p, line)?,
        "noreuseport" => {
            line.no_more_than(1, 0, kw)?;
            p.cfg.global.noreuseport = true;
        }
        "hard-stop-after" => {
            line.no_more_than(1, 1, kw)?;
            if line.word(1).is_empty() {
                return Err(line.err(1, "'hard-stop-after' expects <time> as argument"));
            }
            p.cfg.global.hard_stop_after = Some(line.duration(1, kw, TimeUnit::Millis)?);
        }
        "spread-checks" => {
            line.no_more_than(1, 1, kw)?;
            if p.cfg.global.spread_checks.is_some() {
                p.push(already(line));
                return Ok(());
            }
            if line.word(1).is_empty() {
                return Err(line.err(1, "'spread-checks' expects an integer argument (0..50)"));
            }
            let n: u8 = line.uint(1, kw).ok().filter(|n| *n <= 50).ok_or_else(|| {
                line.err(1, "'spread-checks' needs a positive value in range 0..50")
            })?;
            p.cfg.global.spread_checks = Some(n);
        }
        "ulimit-n" => {
            line.no_more_than(1, 1, kw)?;
            let n = strict_uint(line, 1, kw)?;
            if p.cfg.global.ulimit_n.is_some() {
                p.push(already(line));
            } else {
                p.cfg.global.ulimit_n = Some(n);
            }
        }
        "maxpipes" => {
            line.no_more_than(1, 1, kw)?;
            // HAProxy checks for a repeat before it reads the value.
            if p.cfg.global.maxpipes.is_some_and(|n| n != 0) {
                p.push(already(line));
                return Ok(());
            }
            p.cfg.global.maxpipes = Some(strict_uint(line, 1, kw)?);
        }
        "tune.buffers.limit" | "tune.buffers.reserve" => {
            line.no_more_than(1, 1, kw)?;
            let n = strict_uint(line, 1, kw)?;
            let t = &mut p.cfg.global.tune;
            if kw == "tune.buffers.limit" {
                t.buffers_limit = Some(n);
            } else {
                t.buffers_reserve = Some(n);
            }
        }
        "maxsslconn" => {
            line.no_more_than(1, 1, kw)?;
            p.cfg.global.maxsslconn = Some(strict_uint(line, 1, kw)?);
        }
        "setenv" | "presetenv" => {
            // HAProxy allows up to three words and ignores the third.
            line.no_more_than(1, 3, kw)?;
            let (Some(name), Some(value)) = (line.arg(1), line.arg(2)) else {
                return Err(line.err(line.len(), format!("'{kw}' expects a name and a value")));
            };
            if value.is_empty() {
                return Err(line.err(2, format!("'{kw}' expects a name and a value")));
            }
            if line.len() > 3 {
                p.push(line.warn(
                    3,
                    format!(
                        "'{kw}' takes a name and a value, '{}' is ignored",
                        line.word(3)
                    ),
                ));
            }
            let overwrite = kw == "setenv";
            if overwrite || p.getenv(name).is_none() {
                p.env.insert(name.to_string(), Some(value.to_string()));
            }
            p.cfg.global.env.push(EnvOp::Set {
                name: name.to_string(),
                value: value.to_string(),
                overwrite,
            });
        }
        "unsetenv" => {
            if line.word(1).is_empty() {
                return Err(line.err(1, "'unsetenv' expects at least one variable name"));
            }
            let names = super::words_from(line.words, 1);
            for n in &names {
                p.env.insert(n.clone(), None);
            }
            p.cfg.global.env.push(EnvOp::Unset(names));
        }
        "resetenv" => {
            let keep = super::words_from(line.words, 1);
            // Variables set earlier by the configuration go too, unless kept.
            p.env.retain(|k, _| keep.contains(k));
            let visible = match p.env_reset_keep.take() {
                Some(old) => keep.iter().filter(|k| old.contains(k)).cloned().collect(),
                None => keep.clone(),
            };
            p.env_reset_keep = Some(visible);
            p.cfg.global.env.push(EnvOp::Reset { keep });
        }
        _ => table_keyword(p, line)?,
    }
    Ok(())
}

/// HAProxy's "'x' already specified. Continuing.": an alert that does not
/// fail the check, so a warning here. The first value is kept.
fn already(line: &Line<'_>) -> Diagnostic {
    line.warn(
        0,
        format!("'{}' already specified, keeping the first value", line.kw()),
    )
}

/// Word `i` as a non-empty string, or `msg`.
fn nonempty(line: &Line<'_>, i: usize, msg: &str) -> Result<String, Diagnostic> {
    match line.arg(i) {
        Some(w) if !w.is_empty() => Ok(w.to_string()),
        _ => Err(line.err(i, msg)),
    }
}

/// An unsigned integer. HAProxy 2.6 read several of these with atol()
/// ("x" silently meant 0); 3.2 refuses garbage for maxconn, and ringlb
/// refuses it everywhere rather than run with a limit of 0.
fn strict_uint<T: TryFrom<u64>>(line: &Line<'_>, i: usize, kw: &str) -> Result<T, Diagnostic> {
    match line.arg(i) {
        None | Some("") => Err(line.err(i, format!("'{kw}' expects an integer argument"))),
        Some(text) => crate::units::parse_uint(text).map_err(|_| {
            line.err(
                i,
                format!("cannot parse '{kw}' value '{text}', an integer is expected"),
            )
        }),
    }
}

/// Check bind option `line[i]` against the bind keyword table and return
/// how many value words follow it. `what` names the line in messages.
pub(super) fn bind_option_values(
    line: &Line<'_>,
    i: usize,
    what: &str,
) -> Result<usize, Diagnostic> {
    let name = line.word(i);
    let Some(opt) = keywords::bind_option(name) else {
        let mut d = line.err(i, format!("'{what}' : unknown keyword '{name}'"));
        if let Some(h) = did_you_mean(name, BIND_OPTIONS.iter().map(|o| o.name)) {
            d = d.with_hint(format!("did you mean '{h}'?"));
        }
        return Err(d);
    };
    let n = usize::from(opt.values);
    for k in 1..=n {
        if line.arg(i + k).is_none() {
            return Err(line
                .err(i + k, format!("'{what}' : '{name}' expects an argument"))
                .with_hint(format!("usage: {}", opt.usage)));
        }
    }
    Ok(n)
}

fn deprecated(line: &Line<'_>, replacement: &str) -> Diagnostic {
    line.warn(0, format!("'{}' is deprecated", line.kw()))
        .with_hint(format!("use '{replacement}' instead"))
}

/// Every other keyword: known from the manual's table, checked for arity
/// and kept as a directive.
fn table_keyword(p: &mut Parser<'_>, line: &Line<'_>) -> Result<(), Diagnostic> {
    let kw = line.kw();
    let Some(def) = keywords::global_keyword(kw) else {
        return Err(unknown(line));
    };
    if def.usage.contains("EXPERIMENTAL") && !p.cfg.global.expose_experimental {
        return Err(line
            .err(0, format!("'{kw}' directive is experimental, must be allowed via a global 'expose-experimental-directives'"))
            .with_hint("put 'expose-experimental-directives' on a line before it"));
    }
    check_arity(line, 1, def.arity, kw, def.usage)?;
    if matches!(kw, "thread-group" | "thread-groups") && non_global_seen(p) {
        return Err(line.err(
            0,
            format!("'{kw}' not allowed if a non-global section was previously defined. This parameter must be declared in the first global section"),
        ));
    }
    check_files(p, line)?;
    if let Some((_, repl)) = DEPRECATED.iter().find(|(k, _)| *k == kw) {
        p.push(deprecated(line, repl));
    }
    p.cfg.global.directives.push(Directive {
        keyword: kw.to_string(),
        args: super::words_from(line.words, 1),
        loc: line.loc.clone(),
    });
    Ok(())
}

/// Files HAProxy reads while it parses (or right after): a missing one is
/// an error there, so here too. Read through the host; relative paths are
/// the host's business.
fn check_files(p: &Parser<'_>, line: &Line<'_>) -> Result<(), Diagnostic> {
    let path = line.word(1);
    let read = |msg: &dyn Fn(&str) -> String| -> Result<(), Diagnostic> {
        p.host
            .read_file(path)
            .map(|_| ())
            .map_err(|e| line.err(1, msg(&e)))
    };
    match line.kw() {
        "lua-load" | "lua-load-per-thread" => {
            read(&|e| format!("error in Lua file '{path}': cannot open {path}: {e}"))
        }
        "h1-case-adjust-file" => {
            read(&|e| format!("h1-headers-case-adjust-file '{path}': failed to open file ({e})"))
        }
        "ssl-dh-param-file" => read(&|e| {
            format!("'ssl-dh-param-file': unable to load DH parameters from file <{path}> ({e})")
        }),
        _ => Ok(()),
    }
}

fn unknown(line: &Line<'_>) -> Diagnostic {
    let kw = line.kw();
    let mut d = line.err(0, format!("unknown keyword '{kw}' in 'global' section"));
    let candidates = GLOBAL_KEYWORDS
        .iter()
        .map(|k| k.name)
        .filter(|k| !REMOVED.iter().any(|(r, _)| r == k));
    if let Some(h) = did_you_mean(kw, candidates) {
        d = d.with_hint(format!("did you mean '{h}'?"));
    } else if PROXY_KEYWORDS
        .iter()
        .any(|k| k.name.split(' ').next() == Some(kw))
        || kw == "option"
    {
        d = d.with_hint(format!(
            "'{kw}' is a proxy keyword: it belongs in a 'defaults', 'frontend', 'backend' or 'listen' section"
        ));
    }
    d
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use crate::diag::{Diagnostics, Severity, SourceFile};
    use crate::model::global::*;
    use crate::model::{Config, LogTarget};
    use crate::Host;

    #[derive(Default)]
    struct TestHost {
        env: HashMap<String, String>,
        files: HashMap<String, Vec<u8>>,
    }

    impl Host for TestHost {
        fn env(&self, name: &str) -> Option<String> {
            self.env.get(name).cloned()
        }
        fn read_file(&self, path: &str) -> Result<Vec<u8>, String> {
            self.files
                .get(path)
                .cloned()
                .ok_or_else(|| "No such file or directory".to_string())
        }
    }

    fn parse_with(host: &TestHost, text: &str) -> (Config, Diagnostics) {
        crate::parse::parse_files(&[SourceFile::new("t.cfg", text)], host)
    }

    fn parse(text: &str) -> (Config, Diagnostics) {
        parse_with(&TestHost::default(), text)
    }

    /// (line, severity, message) of every diagnostic.
    fn diags(d: &Diagnostics) -> Vec<(u32, Severity, String)> {
        d.list
            .iter()
            .map(|d| {
                (
                    d.loc.as_ref().map_or(0, |l| l.line),
                    d.severity,
                    d.message.clone(),
                )
            })
            .collect()
    }

    fn only_error(text: &str) -> (u32, String) {
        let (_, d) = parse(text);
        let errs: Vec<_> = d.errors().collect();
        assert_eq!(errs.len(), 1, "expected one error, got {:?}", diags(&d));
        let e = errs
            .first()
            .map(|e| (e.loc.as_ref().map_or(0, |l| l.line), e.message.clone()));
        e.unwrap_or_default()
    }

    fn clean(text: &str) -> Config {
        let (cfg, d) = parse(text);
        assert!(d.list.is_empty(), "unexpected diagnostics: {:?}", diags(&d));
        cfg
    }

    #[test]
    fn process_settings() {
        let cfg = clean(
            "global\n  daemon\n  master-worker no-exit-on-failure\n  nbthread 8\n  maxconn 20000\n  \
             user haproxy\n  gid 99\n  chroot /var/lib/haproxy\n  pidfile /run/haproxy.pid\n  \
             node lb-1.example\n  description front door  lb\n  log-tag web\n  log-send-hostname\n  \
             hard-stop-after 30s\n  spread-checks 5\n  ulimit-n 65536\n  maxsslconn 1000\n  \
             ca-base /etc/ssl/certs\n  crt-base /etc/ssl/private\n  server-state-file /var/state\n",
        );
        let g = &cfg.global;
        assert!(g.daemon);
        assert_eq!(
            g.master_worker,
            Some(MasterWorker {
                exit_on_failure: false
            })
        );
        assert_eq!(g.nbthread, Some(8));
        assert_eq!(g.maxconn, Some(20000));
        assert_eq!(g.user, Some(Account::Name("haproxy".into())));
        assert_eq!(g.group, Some(Account::Id(99)));
        assert_eq!(g.chroot.as_deref(), Some("/var/lib/haproxy"));
        assert_eq!(g.pidfile.as_deref(), Some("/run/haproxy.pid"));
        assert_eq!(g.node.as_deref(), Some("lb-1.example"));
        assert_eq!(g.description.as_deref(), Some("front door lb"));
        assert_eq!(g.log_tag.as_deref(), Some("web"));
        assert_eq!(g.log_send_hostname, Some(None));
        assert_eq!(g.hard_stop_after, Some(Duration::from_secs(30)));
        assert_eq!(g.spread_checks, Some(5));
        assert_eq!(g.ulimit_n, Some(65536));
        assert_eq!(g.maxsslconn, Some(1000));
        assert_eq!(g.ca_base.as_deref(), Some("/etc/ssl/certs"));
        assert_eq!(g.crt_base.as_deref(), Some("/etc/ssl/private"));
        assert_eq!(g.server_state_file.as_deref(), Some("/var/state"));
        assert!(g.directives.is_empty());
    }

    #[test]
    fn untyped_keywords_are_directives() {
        let mut host = TestHost::default();
        host.files
            .insert("/etc/a.lua".into(), b"core.log(0, 'hi')".to_vec());
        let (cfg, d) = parse_with(
            &host,
            "global\n  tune.h2.max-concurrent-streams 100\n  lua-load /etc/a.lua x y\n  busy-polling\n  no busy-polling\n",
        );
        assert!(d.list.is_empty(), "{:?}", diags(&d));
        let d: Vec<_> = cfg
            .global
            .directives
            .iter()
            .map(|d| (d.keyword.as_str(), d.args.len()))
            .collect();
        assert_eq!(
            d,
            vec![
                ("tune.h2.max-concurrent-streams", 1),
                ("lua-load", 3),
                ("busy-polling", 0),
                ("busy-polling", 0)
            ]
        );
        // haproxy 2.6: "error in Lua file '/etc/b.lua': cannot open
        // /etc/b.lua: No such file or directory".
        let (line, msg) = only_error("global\n  lua-load /etc/b.lua\n");
        assert_eq!(line, 2);
        assert!(msg.starts_with("error in Lua file '/etc/b.lua'"), "{msg}");
        assert_eq!(only_error("global\n  ssl-dh-param-file /nope\n").0, 2);
    }

    #[test]
    fn default_modifier_repeats_the_last_word() {
        // haproxy 2.6: "'busy-polling' cannot handle unexpected argument
        // 'busy-polling'." and "log : unknown optional log level 'local0'".
        assert_eq!(
            only_error("global\n  default busy-polling\n"),
            (
                2,
                "'busy-polling' cannot handle unexpected argument 'busy-polling'".into()
            )
        );
        assert_eq!(
            only_error("global\n  default log 127.0.0.1 local0\n").1,
            "unknown optional log level 'local0'"
        );
    }

    #[test]
    fn unknown_keyword_suggests() {
        // haproxy 2.6: "unknown keyword 'daemonn' in 'global' section; did you mean 'daemon' maybe ?"
        let (_, d) = parse("global\n  daemonn\n");
        let e = d
            .errors()
            .next()
            .map(|e| (e.message.clone(), e.hint.clone()));
        assert_eq!(
            e,
            Some((
                "unknown keyword 'daemonn' in 'global' section".into(),
                Some("did you mean 'daemon'?".into())
            ))
        );
        let (_, d) = parse("global\n  default_backend x\n");
        let hint = d
            .errors()
            .next()
            .and_then(|e| e.hint.clone())
            .unwrap_or_default();
        assert!(hint.contains("proxy keyword"), "{hint}");
    }

    #[test]
    fn removed_keywords() {
        // haproxy 2.6 prints exactly this and fails.
        assert_eq!(
            only_error("global\n  nbproc 2\n"),
            (2, "nbproc is not supported any more since HAProxy 2.5. Threads will automatically be used on multi-processor machines if available.".into())
        );
        assert_eq!(
            only_error("global\n  tune.chksize 10\n"),
            (
                2,
                "option 'tune.chksize' is not supported any more (tune.bufsize is used instead)."
                    .into()
            )
        );
        // Accepted silently by 2.6, gone since 2.7: refused with its replacement.
        let (line, msg) = only_error("global\n  stats bind-process 1\n");
        assert_eq!(line, 2);
        assert!(msg.contains("'thread'"), "{msg}");
        // 2.6 warns "deprecated and will be removed in 2.7"; 3.2 refuses it.
        let (_, msg) = only_error("global\n  stats socket /run/a.sock process 1\n");
        assert!(msg.contains("use 'thread' instead"), "{msg}");
    }

    #[test]
    fn already_specified_is_a_warning() {
        // haproxy 2.6: "[ALERT] 'maxconn' already specified. Continuing." and
        // the check passes (exit 2 = valid, no listener): a warning here.
        let (cfg, d) = parse(
            "global\n  maxconn 10\n  maxconn 20\n  user a\n  uid 5\n  chroot /a\n  chroot /b\n",
        );
        assert!(!d.has_errors(), "{:?}", diags(&d));
        assert_eq!(d.warnings().count(), 3);
        assert_eq!(cfg.global.maxconn, Some(10));
        assert_eq!(cfg.global.user, Some(Account::Name("a".into())));
        assert_eq!(cfg.global.chroot.as_deref(), Some("/a"));
        // haproxy 2.6: "uid: string 'abc' is not a number." is a warning.
        let (cfg, d) = parse("global\n  uid abc\n");
        assert!(!d.has_errors());
        assert_eq!(d.warnings().count(), 1);
        assert_eq!(cfg.global.user, None);
        // ca-base twice is fatal in 3.2's cfgparse-ssl.c.
        assert_eq!(
            only_error("global\n  ca-base /a\n  ca-base /b\n"),
            (3, "'ca-base' already specified".into())
        );
    }

    #[test]
    fn value_errors() {
        // Each verified with haproxy 2.6 (same verdict, close wording).
        for (text, want) in [
            (
                "global\n  daemon 1\n",
                "'daemon' cannot handle unexpected argument '1'",
            ),
            (
                "global\n  master-worker foo\n",
                "'master-worker' only supports 'no-exit-on-failure' option",
            ),
            (
                "global\n  nbthread 0\n",
                "'nbthread' value must be between 1 and 1024 (was 0)",
            ),
            (
                "global\n  nbthread abc\n",
                "'nbthread' passed a missing or unparsable integer value in 'abc'",
            ),
            (
                "global\n  spread-checks 60\n",
                "'spread-checks' needs a positive value in range 0..50",
            ),
            (
                "global\n  tune.http.maxhdr 0\n",
                "'tune.http.maxhdr' expects a numeric value between 1 and 32767",
            ),
            (
                "global\n  tune.ssl.default-dh-param 512\n",
                "'tune.ssl.default-dh-param' expects a value >= 1024",
            ),
            (
                "global\n  tune.bufsize 0\n",
                "'tune.bufsize' expects a positive integer argument",
            ),
            (
                "global\n  stats timeout 0\n",
                "'stats timeout' expects a positive value",
            ),
            (
                "global\n  stats maxconn x\n",
                "'stats maxconn' expects a positive value",
            ),
            (
                "global\n  setenv A\n",
                "'setenv' expects a name and a value",
            ),
            (
                "global\n  unsetenv\n",
                "'unsetenv' expects at least one variable name",
            ),
            // 2.6 reads atol("abc") = 0 and says nothing; 3.2 refuses it.
            (
                "global\n  maxconn abc\n",
                "cannot parse 'maxconn' value 'abc', an integer is expected",
            ),
        ] {
            assert_eq!(only_error(text), (2, want.to_string()), "{text}");
        }
        let (_, msg) = only_error("global\n  node a/b\n");
        assert!(
            msg.starts_with("'node' requires a valid node name"),
            "{msg}"
        );
        let (_, msg) = only_error("global\n  hard-stop-after 10x\n");
        assert!(msg.contains("unexpected character 'x'"), "{msg}");
    }

    #[test]
    fn negation() {
        // haproxy 2.6: "negation/default currently supported only for options,
        // log, busy-polling, set-dumpable, strict-limits, insecure-fork-wanted
        // and numa-cpu-mapping."
        let (line, msg) = only_error("global\n  no daemon\n");
        assert_eq!(line, 2);
        assert!(
            msg.starts_with("negation/default is only supported"),
            "{msg}"
        );
        let cfg = clean("global\n  log 127.0.0.1 local0\n  no log\n  log stdout local1\n");
        assert_eq!(cfg.global.logs.len(), 1);
    }

    #[test]
    fn logs() {
        let cfg =
            clean("global\n  log /dev/log local0 notice\n  log ring@r format rfc5424 local1\n");
        assert_eq!(cfg.global.logs.len(), 2);
        assert!(cfg
            .global
            .logs
            .iter()
            .all(|l| matches!(l, LogTarget::Target(_))));
        // haproxy 2.6: "log : 'global' is not supported for a global syslog server"
        assert_eq!(only_error("global\n  log global\n").0, 2);
        assert_eq!(only_error("global\n  log 127.0.0.1 local9\n").0, 2);
    }

    #[test]
    fn env_changes_apply_to_later_lines() {
        let mut host = TestHost::default();
        host.env.insert("KEEP".into(), "k".into());
        host.env.insert("DROP".into(), "d".into());
        // Verified with haproxy 2.6: the node name below comes out as "bar".
        let (cfg, d) = parse_with(
            &host,
            "global\n  setenv FOO bar\n  presetenv FOO baz\n  presetenv NEW new\n  node \"${FOO}\"\n  \
             log-tag \"${NEW}\"\n  unsetenv FOO\n  description \"x${FOO}y\"\n  resetenv KEEP NEW\n  \
             pidfile \"/${KEEP}${DROP}${NEW}\"\n",
        );
        assert!(d.list.is_empty(), "{:?}", diags(&d));
        let g = &cfg.global;
        assert_eq!(g.node.as_deref(), Some("bar"));
        assert_eq!(g.log_tag.as_deref(), Some("new"));
        assert_eq!(g.description.as_deref(), Some("xy"));
        assert_eq!(g.pidfile.as_deref(), Some("/knew"));
        assert_eq!(g.env.len(), 5);
        assert_eq!(
            g.env.first(),
            Some(&EnvOp::Set {
                name: "FOO".into(),
                value: "bar".into(),
                overwrite: true
            })
        );
    }

    #[test]
    fn cpu_maps() {
        let cfg = clean("global\n  cpu-map 1/1-4 0-3\n  cpu-map auto:1/1-4 3,2 1 0\n  cpu-map 1 0-1,5\n  cpu-map all 0\n");
        let m = &cfg.global.cpu_map;
        assert_eq!(m.len(), 4);
        let first = m
            .first()
            .map(|c| (c.auto, c.groups, c.threads, c.cpus.clone()));
        assert_eq!(first, Some((false, 1, 0xf, vec![0, 1, 2, 3])));
        let second = m.get(1).map(|c| (c.auto, c.cpus.clone()));
        assert_eq!(second, Some((true, vec![0, 1, 2, 3])));
        assert_eq!(m.get(2).map(|c| c.threads), Some(u64::MAX));
        // As HAProxy's code (not its manual) decides: one side matching the
        // CPU count is enough, so this one passes (verified with 2.6).
        clean("global\n  cpu-map auto:1/1-4 0\n");
        let (_, msg) = only_error("global\n  cpu-map auto:1/1 0-3\n");
        assert!(msg.contains("must have the same size"), "{msg}");
        // haproxy 2.6 wording for the next three.
        assert_eq!(
            only_error("global\n  cpu-map 1/x 0\n").1,
            "cpu-map : 'x' is not a valid number/range"
        );
        assert_eq!(
            only_error("global\n  cpu-map 1 x\n").1,
            "cpu-map : 'x' is not a CPU range"
        );
        assert_eq!(
            only_error("global\n  cpu-map 65 0\n").1,
            "cpu-map : '65' is not a valid number/range. It supports numbers from 1 to 64"
        );
        assert_eq!(only_error("global\n  cpu-map 1\n").0, 2);
    }

    #[test]
    fn stats_sockets() {
        let cfg = clean(
            "global\n  stats socket /run/haproxy.sock mode 660 level admin expose-fd listeners user haproxy\n  \
             stats socket ipv4@127.0.0.1:9999 level operator thread 1\n  stats timeout 30s\n  stats maxconn 5\n",
        );
        let g = &cfg.global;
        assert_eq!(g.stats_sockets.len(), 2);
        let s = g.stats_sockets.first();
        assert_eq!(
            s.map(|s| (s.level, s.mode, s.expose_fd_listeners)),
            Some((Some(CliLevel::Admin), Some(0o660), true))
        );
        assert_eq!(
            s.and_then(|s| s.user.clone()),
            Some(Account::Name("haproxy".into()))
        );
        let t = g.stats_sockets.get(1);
        assert_eq!(t.map(|s| s.options.len()), Some(1));
        assert_eq!(g.stats_timeout, Some(Duration::from_secs(30)));
        assert_eq!(g.stats_maxconn, Some(5));
        // haproxy 2.6 wordings.
        assert_eq!(
            only_error("global\n  stats socket\n").1,
            "'stats socket' in global section expects an address or a path to a UNIX socket"
        );
        assert_eq!(
            only_error("global\n  stats socket /tmp/x level foo\n").1,
            "'stats socket' : 'level' only supports 'user', 'operator', and 'admin' (got 'foo')"
        );
        assert_eq!(
            only_error("global\n  stats socket /tmp/x mode 0x\n").1,
            "'stats socket' : 'mode' : missing or invalid mode '0x' (octal integer expected)"
        );
        assert!(only_error("global\n  stats socket 127.0.0.1 level admin\n")
            .1
            .contains("missing port"));
        let (_, d) = parse("global\n  stats socket /tmp/x tfoo\n");
        let e = d
            .errors()
            .next()
            .map(|e| (e.message.clone(), e.hint.clone()));
        assert_eq!(
            e,
            Some((
                "'stats socket' : unknown keyword 'tfoo'".into(),
                Some("did you mean 'tfo'?".into())
            ))
        );
        assert_eq!(
            only_error("global\n  stats foo\n").1,
            "'stats' only supports 'socket', 'maxconn' and 'timeout' in 'global' section (got 'foo')"
        );
    }

    #[test]
    fn ssl_defaults() {
        let cfg = clean(
            "global\n  ssl-default-bind-ciphers ECDHE+AESGCM\n  ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256\n  \
             ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets prefer-client-ciphers\n  \
             ssl-default-server-options no-sslv3 force-tlsv12\n  ssl-default-server-curves X25519\n",
        );
        let g = &cfg.global;
        assert_eq!(g.ssl_default_bind.ciphers.as_deref(), Some("ECDHE+AESGCM"));
        assert_eq!(
            g.ssl_default_bind.options,
            vec![
                SslOption::MinVer(TlsVersion::Tls12),
                SslOption::NoTlsTickets,
                SslOption::PreferClientCiphers
            ]
        );
        assert_eq!(
            g.ssl_default_server.options,
            vec![
                SslOption::Disable(TlsVersion::Ssl3),
                SslOption::Force(TlsVersion::Tls12)
            ]
        );
        assert_eq!(g.ssl_default_server.curves.as_deref(), Some("X25519"));
        let cfg = clean("global\n  ssl-default-bind-options strict-sni\n");
        assert_eq!(
            cfg.global.ssl_default_bind.options,
            vec![SslOption::StrictSni]
        );
        assert!(
            only_error("global\n  ssl-default-server-options strict-sni\n")
                .1
                .starts_with("unknown option 'strict-sni'")
        );
        assert_eq!(
            only_error("global\n  ssl-default-server-options prefer-client-ciphers\n").1,
            "unknown option 'prefer-client-ciphers' on global statement 'ssl-default-server-options'"
        );
        assert!(
            only_error("global\n  ssl-default-bind-options ssl-min-ver TLSv9\n")
                .1
                .contains("TLSv1.3")
        );
    }

    #[test]
    fn tune_settings() {
        let cfg = clean(
            "global\n  tune.bufsize 32768\n  tune.maxrewrite 1024\n  tune.http.maxhdr 200\n  tune.ssl.cachesize 50000\n  \
             tune.ssl.lifetime 600\n  tune.ssl.maxrecord 1400\n  tune.ssl.default-dh-param 2048\n  tune.ssl.force-private-cache\n  \
             tune.ssl.capture-buffer-size 96\n  tune.idletimer 100\n",
        );
        let t = &cfg.global.tune;
        assert_eq!(
            (t.bufsize, t.maxrewrite, t.http_maxhdr),
            (Some(32768), Some(1024), Some(200))
        );
        assert_eq!(t.ssl.lifetime, Some(Duration::from_secs(600)));
        assert_eq!(t.ssl.default_dh_param, Some(2048));
        assert!(t.ssl.force_private_cache);
        assert_eq!(t.ssl.capture_buffer_size, Some(96));
        assert_eq!(cfg.global.directives.len(), 1);
        // The manual says <size>: 16k is 16384 (2.6's atol() read 16 and crashed).
        assert_eq!(
            clean("global\n  tune.bufsize 16k\n").global.tune.bufsize,
            Some(16384)
        );
        let (cfg, d) = parse("global\n  tune.ssl.capture-cipherlist-size 64\n");
        assert!(!d.has_errors());
        assert_eq!(d.warnings().count(), 1);
        assert_eq!(cfg.global.tune.ssl.capture_buffer_size, Some(64));
    }

    /// The connected-socket buffer sizes and `noreuseport` are typed: what
    /// HAProxy accepts is accepted (odd values with a warning), the first
    /// non-zero value wins, an empty value or an extra word is refused.
    #[test]
    fn socket_buffers_and_noreuseport() {
        let cfg = clean(
            "global\n  tune.sndbuf.client 4096\n  tune.sndbuf.server 8k\n  tune.rcvbuf.client 0\n  noreuseport\n",
        );
        let t = &cfg.global.tune;
        assert_eq!(
            (
                t.sndbuf_client,
                t.sndbuf_server,
                t.rcvbuf_client,
                t.rcvbuf_server
            ),
            (Some(4096), Some(8192), None, None)
        );
        assert!(cfg.global.noreuseport);
        assert!(cfg.global.directives.is_empty());
        assert!(!clean("global\n  maxconn 10\n").global.noreuseport);
        let (cfg, d) = parse(
            "global\n  tune.rcvbuf.server 30x\n  tune.rcvbuf.server 50\n  tune.sndbuf.client -1\n",
        );
        assert!(!d.has_errors(), "{:?}", diags(&d));
        assert_eq!(d.warnings().count(), 3, "{:?}", diags(&d));
        assert_eq!(
            cfg.global.tune.rcvbuf_server,
            Some(30),
            "the first one wins"
        );
        assert_eq!(cfg.global.tune.sndbuf_client, Some(0x7fff_ffff));
        assert_eq!(
            only_error("global\n  tune.sndbuf.server \"\"\n"),
            (
                2,
                "'tune.sndbuf.server' expects an integer argument".to_string()
            )
        );
        assert_eq!(only_error("global\n  tune.rcvbuf.client 1 2\n").0, 2);
        assert_eq!(only_error("global\n  noreuseport x\n").0, 2);
    }

    #[test]
    fn arity_from_the_table() {
        let (_, d) = parse("global\n  tune.idletimer\n  h1-case-adjust a\n  noepoll x\n");
        let lines: Vec<_> = d
            .errors()
            .map(|e| e.loc.as_ref().map_or(0, |l| l.line))
            .collect();
        assert_eq!(lines, vec![2, 3, 4]);
        let first = d.errors().next().map(|e| e.message.clone());
        assert_eq!(
            first.as_deref(),
            Some("'tune.idletimer' expects 1 argument")
        );
    }

    #[test]
    fn experimental_and_ordering() {
        assert!(only_error("global\n  tune.disable-fast-forward\n")
            .1
            .contains("experimental"));
        clean("global\n  expose-experimental-directives\n  tune.disable-fast-forward\n");
        // 3.2: threads must be set in the first global section.
        let (_, d) = parse("global\n  maxconn 10\nuserlist u\nglobal\n  nbthread 4\n");
        assert_eq!(d.errors().count(), 1);
        assert_eq!(
            d.errors()
                .next()
                .and_then(|e| e.loc.as_ref().map(|l| l.line)),
            Some(5)
        );
    }

    #[test]
    fn localpeer_exports_env() {
        let cfg = clean("global\n  localpeer lb1\n  node \"${HAPROXY_LOCALPEER}\"\n");
        assert_eq!(cfg.global.localpeer.as_deref(), Some("lb1"));
        assert_eq!(cfg.global.node.as_deref(), Some("lb1"));
    }
}

//! HAProxy's command line (management.txt section 3), parsed with clap.
//!
//! HAProxy spells several flags as single-dash words (`-vv`, `-sf`, `-Ws`,
//! `-dM`), which clap cannot express as shorts; `normalize` rewrites them
//! to long options first (`-sf` -> `--sf`), so every flag still gets clap's
//! validation and help text.

use std::ffi::OsString;

use clap::{ArgAction, Parser};

#[derive(Debug, Parser)]
#[command(
    name = "ringlb",
    disable_version_flag = true,
    about = "ringlb: an HAProxy-compatible load balancer on a thread-per-core io_uring engine",
    override_usage = "ringlb [-f <cfgfile|cfgdir>]* [-c] [-d] [-D] [-W] [-Ws] [-p <pidfile>] [-q] [-L <name>] [-sf|-st <pid>*] [-v|-vv] [-cc <expr>]"
)]
pub struct Args {
    /// Configuration file or directory (its *.cfg files, sorted). Repeatable.
    #[arg(short = 'f', value_name = "cfgfile|cfgdir", action = ArgAction::Append)]
    pub files: Vec<String>,

    /// Check the configuration and exit: 0 if valid, 1 otherwise.
    #[arg(short = 'c')]
    pub check: bool,

    /// With -c: the language verdict alone (what `haproxy -c` says), without
    /// refusing settings the engine does not implement yet.
    #[arg(long = "syntax-only")]
    pub syntax_only: bool,

    /// Print the settings the engine cannot honour yet (one key per line).
    #[arg(long = "list-unsupported")]
    pub list_unsupported: bool,

    /// Evaluate a conditional-block expression: exit 0 if true, 1 if false.
    #[arg(long = "cc", value_name = "expr")]
    pub cond_expr: Option<String>,

    /// Foreground debug mode.
    #[arg(short = 'd')]
    pub debug: bool,

    /// Debug options (-dM, -dV, -dr, -dW ...): accepted, most ignored.
    #[arg(long = "debug-opt", value_name = "opt", action = ArgAction::Append, hide = true)]
    pub debug_opts: Vec<String>,

    /// Daemon mode.
    #[arg(short = 'D')]
    pub daemon: bool,

    /// Master-worker mode.
    #[arg(short = 'W')]
    pub master_worker: bool,

    /// Master-worker mode with systemd notify support.
    #[arg(long = "Ws")]
    pub master_worker_systemd: bool,

    /// Write the pids to this file.
    #[arg(short = 'p', value_name = "pidfile")]
    pub pidfile: Option<String>,

    /// Quiet: print nothing on success.
    #[arg(short = 'q')]
    pub quiet: bool,

    /// Local peer name (HAPROXY_LOCALPEER).
    #[arg(short = 'L', value_name = "name")]
    pub local_peer: Option<String>,

    /// Soft-stop these pids once listening.
    #[arg(long = "sf", value_name = "pid", num_args = 1.., action = ArgAction::Append)]
    pub soft_finish: Vec<u32>,

    /// Stop these pids once listening.
    #[arg(long = "st", value_name = "pid", num_args = 1.., action = ArgAction::Append)]
    pub terminate: Vec<u32>,

    /// Print the version.
    #[arg(short = 'v')]
    pub version: bool,

    /// Print the version, build options and features.
    #[arg(long = "vv")]
    pub version_verbose: bool,

    /// Global maxconn override (`-n`).
    #[arg(short = 'n', value_name = "maxconn")]
    pub maxconn: Option<u32>,

    /// Default per-proxy maxconn (`-N`), for frontends that set none.
    #[arg(short = 'N', value_name = "maxconn")]
    pub default_maxconn: Option<u32>,

    /// Verbose.
    #[arg(short = 'V')]
    pub verbose: bool,
}

/// Rewrite HAProxy's single-dash multi-letter flags into clap long options.
/// The expression after `-cc` is passed through untouched, however it
/// starts: `-cc '-1000 && 200'` is an expression (haproxy: true), not an
/// option.
pub fn normalize(argv: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut argv = argv.into_iter().enumerate();
    while let Some((i, a)) = argv.next() {
        let Some(s) = a.to_str().filter(|_| i > 0) else {
            out.push(a);
            continue;
        };
        match s {
            "-vv" => out.push("--vv".into()),
            "-sf" => out.push("--sf".into()),
            "-st" => out.push("--st".into()),
            "-Ws" => out.push("--Ws".into()),
            // One token, `--cc=<expr>`: clap then takes an expression
            // starting with '-' as the value, not as an option.
            "-cc" => match argv.next() {
                Some((_, expr)) => {
                    let mut arg = OsString::from("--cc=");
                    arg.push(expr);
                    out.push(arg);
                }
                None => out.push("--cc".into()),
            },
            _ if s.starts_with("-d") && s.len() > 2 && !s.starts_with("--") => {
                out.push("--debug-opt".into());
                out.push(s.trim_start_matches("-d").to_string().into());
            }
            _ => out.push(a),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &[&str]) -> Args {
        let argv: Vec<OsString> = std::iter::once("ringlb")
            .chain(v.iter().copied())
            .map(OsString::from)
            .collect();
        Args::try_parse_from(normalize(argv)).unwrap()
    }

    #[test]
    fn haproxy_flags() {
        let a = parse(&["-f", "a.cfg", "-f", "dir", "-c", "-q"]);
        assert_eq!(a.files, ["a.cfg", "dir"]);
        assert!(a.check && a.quiet);
        let a = parse(&[
            "-Ws",
            "-f",
            "x",
            "-p",
            "/run/x.pid",
            "-sf",
            "12",
            "13",
            "-dM",
            "-dV",
        ]);
        assert!(a.master_worker_systemd);
        assert_eq!(a.soft_finish, [12, 13]);
        assert_eq!(a.debug_opts, ["M", "V"]);
        assert_eq!(a.pidfile.as_deref(), Some("/run/x.pid"));
        assert!(parse(&["-vv"]).version_verbose);
        assert!(parse(&["-v"]).version);
        assert_eq!(
            parse(&["-cc", "defined(X)"]).cond_expr.as_deref(),
            Some("defined(X)")
        );
        let a = parse(&["-st", "5", "-L", "node1", "-D", "-W", "-d"]);
        assert_eq!(a.terminate, [5]);
        assert!(a.daemon && a.master_worker && a.debug);
    }

    /// Issue 8: `ringlb -cc '-1000 && 200'` was "unexpected argument"
    /// (haproxy 2.6: exit 0, the expression is true).
    #[test]
    fn values_starting_with_a_minus() {
        for expr in [
            "-1000 && 200",
            "-1",
            "-dfoo",
            "-vv",
            "--",
            "-cc",
            "-0x10 || 0",
        ] {
            assert_eq!(parse(&["-cc", expr]).cond_expr.as_deref(), Some(expr));
        }
        // A missing value is still clap's error.
        let argv: Vec<OsString> = ["ringlb", "-cc"].into_iter().map(OsString::from).collect();
        assert!(Args::try_parse_from(normalize(argv)).is_err());
    }
}

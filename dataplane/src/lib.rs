//! `ringlb`: the library behind the binary (`main.rs` only calls
//! [`main_entry`]), so that tests, benches and fuzz targets can link the
//! engine. Today it reads and checks configurations (`-c`) and serves TCP
//! mode; `-c` says exactly which settings it cannot honour yet (see
//! `support`).

// `unsafe` lives in the ringlb-sys crate only (the syscall room).
#![forbid(unsafe_code)]

/// `eprintln!` that never panics: a line to stderr, dropped when stderr is
/// gone (a closed pipe). `eprintln!` panics then, and a core must not die
/// because whoever read its stderr went away.
#[macro_export]
macro_rules! stderr_line {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::writeln!(::std::io::stderr().lock(), $($arg)*);
    }};
}

pub mod accounts;
pub mod args;
// These modules carry the whole of HAProxy's behaviour for their area;
// parts serve HTTP mode and the runtime API, which land in later issues.
#[allow(dead_code)]
pub mod balance;
pub mod engine;
pub mod load;
#[allow(dead_code)]
pub mod log;
#[allow(dead_code)]
pub mod process;
pub mod resolve;
pub mod serve;
pub mod support;

use std::process::ExitCode;

use clap::Parser as _;
use ringlb_config::cond::{eval, CondEnv};
use ringlb_config::lexer::tokenize;
use ringlb_config::{Diagnostic, Severity};

use crate::args::Args;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The command line: what `ringlb`'s `main` runs.
pub fn main_entry() -> ExitCode {
    let args = match Args::try_parse_from(args::normalize(std::env::args_os())) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(1);
        }
    };
    if args.version || args.version_verbose {
        print_version(args.version_verbose);
        return ExitCode::SUCCESS;
    }
    if args.list_unsupported {
        for u in support::UNSUPPORTED {
            println!("{}", u.key);
        }
        return ExitCode::SUCCESS;
    }
    if let Some(expr) = &args.cond_expr {
        return eval_cc(expr);
    }
    if args.files.is_empty() {
        crate::stderr_line!("[ALERT] No configuration file specified (use -f <file>).");
        return ExitCode::from(1);
    }
    let (verdict, cfg) = check(&args);
    if verdict == Verdict::NoListener {
        // HAProxy's wording and exit code for a valid config that cannot start.
        crate::stderr_line!(
            "Configuration file has no error but will not start (no listener) => exit(2)."
        );
        return ExitCode::from(2);
    }
    if args.check {
        if verdict == Verdict::Valid && !args.quiet {
            println!("Configuration file is valid");
        }
        return if verdict == Verdict::Valid {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        };
    }
    match (verdict, cfg) {
        (Verdict::Valid, Some(cfg)) => serve::run(&args, cfg),
        _ => ExitCode::from(1),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Valid,
    Invalid,
    /// Valid, but nothing listens: HAProxy refuses to start (exit 2).
    NoListener,
}

/// Parse, check and report. The configuration comes back when it is
/// valid.
fn check(args: &Args) -> (Verdict, Option<ringlb_config::model::Config>) {
    let files = match load::collect_files(&args.files) {
        Ok(f) => f,
        Err(d) => {
            eprint!("{}", d.render());
            return (Verdict::Invalid, None);
        }
    };
    if files.is_empty() {
        // Directories without a *.cfg file: HAProxy then has no
        // configuration at all and exits 1 (with its usage), as without -f.
        crate::stderr_line!(
            "[ALERT] No configuration file found: {} (a directory contributes its *.cfg files only).",
            args.files.join(", ")
        );
        return (Verdict::Invalid, None);
    }
    let host = load::RealHost::new(
        &files,
        args.local_peer.as_deref(),
        args.master_worker || args.master_worker_systemd,
    );
    let (cfg, mut diags) = ringlb_config::load(&files, &host);
    // As `haproxy -c` does: server host names must resolve now.
    diags.list.extend(resolve::check_names(&cfg));
    diags.list.extend(accounts::check(&cfg));
    // Programs run under the master: master-worker mode, from the config or
    // from -W/-Ws (which the config crate cannot see).
    let mworker =
        cfg.global.master_worker.is_some() || args.master_worker || args.master_worker_systemd;
    if let (Some(prog), false) = (cfg.programs.first(), mworker) {
        diags.push(
            Diagnostic::error(
                &prog.name.loc,
                "Can't use a 'program' section without master worker mode.",
            )
            .with_hint("add 'master-worker' to the global section or start with -W"),
        );
    }
    if !args.syntax_only {
        diags.list.extend(support::check(&cfg));
    }
    let mut errors = 0;
    for d in &diags.list {
        if d.severity == Severity::Error {
            errors += 1;
        }
        if d.severity == Severity::Error || !args.quiet {
            eprint!("{}", d.render());
        }
    }
    if errors > 0 {
        let d = Diagnostic::global_error(format!(
            "{errors} error(s) found in configuration: ringlb will not start"
        ));
        eprint!("{}", d.render());
    }
    if errors > 0 {
        (Verdict::Invalid, None)
    } else if !has_listener(&cfg) {
        (Verdict::NoListener, None)
    } else {
        (Verdict::Valid, Some(cfg))
    }
}

/// Whether anything would listen: an enabled frontend/listen with a bind,
/// or a stats socket (the runtime API is a listener too).
fn has_listener(cfg: &ringlb_config::model::Config) -> bool {
    cfg.proxies
        .iter()
        .any(|p| !p.disabled && p.cap.frontend && !p.binds.is_empty())
        || support::has_stats_socket(cfg)
}

/// `-cc <expr>`: evaluate a conditional-block expression.
fn eval_cc(expr: &str) -> ExitCode {
    struct ProcEnv;
    impl CondEnv for ProcEnv {
        fn var(&self, name: &str) -> Option<String> {
            std::env::var(name).ok()
        }
        fn feature(&self, name: &str) -> bool {
            ringlb_config::FEATURES.contains(&name)
        }
        fn enabled(&self, name: &str) -> bool {
            ringlb_config::ENABLED.contains(&name)
        }
    }
    let env = |n: &str| std::env::var(n).ok();
    let words = match tokenize(expr, &env) {
        Ok(w) => w,
        Err(e) => {
            crate::stderr_line!("[ALERT] failed to parse the condition: {e}");
            return ExitCode::from(2);
        }
    };
    match eval(&words, &ProcEnv) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            crate::stderr_line!("[ALERT] failed to evaluate the condition: {}", e.message);
            ExitCode::from(2)
        }
    }
}

fn print_version(verbose: bool) {
    println!(
        "ringlb version {VERSION} - HAProxy configuration language level {}",
        ringlb_config::LANGUAGE_LEVEL
    );
    if !verbose {
        return;
    }
    println!("Build options :");
    println!(
        "  TARGET  = {}-{}",
        std::env::consts::ARCH,
        std::env::consts::OS
    );
    println!(
        "  PROFILE = {}",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    println!();
    let features: Vec<String> = ringlb_config::FEATURES
        .iter()
        .map(|f| format!("+{f}"))
        .collect();
    println!("Feature list : {}", features.join(" "));
    println!();
    println!(
        "Run-time options enabled : {}",
        ringlb_config::ENABLED.join(" ")
    );
    println!();
    let p = engine::runtime::topology::placement(None);
    let opt = |v: Option<usize>| v.map_or_else(|| "-".to_owned(), |n| n.to_string());
    println!("Topology of the allowed CPUs:");
    println!("  cpu  core  package  numa  l3");
    for c in &p.topology {
        println!(
            "  {:>3}  {:>4}  {:>7}  {:>4}  {:>2}",
            c.cpu,
            c.core,
            c.package,
            opt(c.numa),
            opt(c.l3)
        );
    }
    println!(
        "Executors: {} (pinned to cpus {:?}; one per physical core, `nbthread` overrides)",
        p.cpus.len(),
        p.cpus
    );
    println!("Engine: TCP mode on io_uring (compio); settings not supported yet: `ringlb --list-unsupported`.");
}

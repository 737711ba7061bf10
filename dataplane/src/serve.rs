//! Start-up and run, in the order HAProxy follows so that "if it accepts to
//! start, it will work until it is stopped" (see process/mod.rs):
//!
//! 1. daemon mode: re-run detached and return once the copy is ready;
//! 2. resolve the run-time identity, build the engine plan, size the fd
//!    limit from maxconn;
//! 3. bind every listener (retrying while `-sf`/`-st` old processes
//!    release their ports), open the log targets;
//! 4. pid file, chroot, signal the old processes, drop privileges;
//! 5. start the executors, report readiness, then wait for signals:
//!    SIGUSR1 soft-stops (listeners close, streams finish, `hard-stop-after`
//!    bounds the wait), SIGTERM/SIGINT stop now.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ringlb_config::model::Config;

use crate::args::Args;
use crate::engine::runtime::topology;
use crate::engine::{listener, runtime, Plan, Process};
use crate::process::{self, BindAttempt, FdBudget, ProcessEvent, Role, StopKind};

pub fn run(args: &Args, cfg: Config) -> ExitCode {
    match start(args, &cfg) {
        Ok(code) => code,
        Err(e) => {
            crate::stderr_line!("[ALERT] {e}");
            ExitCode::from(1)
        }
    }
}

fn start(args: &Args, cfg: &Config) -> Result<ExitCode, String> {
    let g = &cfg.global;
    let daemon = (g.daemon || args.daemon) && !args.debug && !args.master_worker_systemd;
    if daemon && !process::is_daemon_child() {
        return process::daemonize();
    }
    // Before any thread exists: every thread inherits the blocked mask and
    // only the watcher thread takes the signals.
    process::block_signals_for_workers()?;
    let daemon_child = if process::is_daemon_child() {
        Some(process::daemon_child_start()?)
    } else {
        None
    };
    let identity = process::Identity::resolve(g.user.as_ref(), g.group.as_ref())?;

    let mut plan = Plan::build(cfg)?;
    if let Some(n) = args.maxconn {
        plan.maxconn = n;
    }
    if let Some(n) = args.default_maxconn {
        for (fe, px) in plan
            .frontends
            .iter_mut()
            .filter_map(|f| cfg.proxy(&f.name.clone()).map(|p| (f, p)))
        {
            if px.maxconn.is_none() {
                fe.maxconn = n;
            }
        }
    }
    let mut placement = topology::placement(g.nbthread);
    topology::apply_cpu_map(&mut placement, &g.cpu_map);
    let executors = placement.cpus.len();

    // File descriptors: two per connection plus HAProxy's extras.
    let listeners: usize = plan
        .frontends
        .iter()
        .flat_map(|f| &f.binds)
        .map(|b| b.addrs.len())
        .sum();
    // The runtime API's sockets: one listener each, and its own maxconn
    // outside the global one (HAProxy's cli.c adds both to maxsock). The
    // checks: one fd per checked server, two per agent (check.c).
    let stats_sockets = g.stats_sockets.len();
    let mut budget = FdBudget {
        listeners: u32::try_from(
            listeners
                .saturating_mul(executors)
                .saturating_add(stats_sockets),
        )
        .unwrap_or(u32::MAX),
        unlimited_conns: if stats_sockets > 0 {
            g.stats_maxconn.unwrap_or(10)
        } else {
            0
        },
        // (The configuration's checks: those of servers added at run time
        // come later, as HAProxy counts the servers of its configuration.)
        checks: u32::try_from(
            plan.checks
                .list
                .iter()
                .filter(|c| c.ctl.configured())
                .count()
                .saturating_add(
                    plan.checks
                        .agents
                        .iter()
                        .filter(|a| a.ctl.configured())
                        .count()
                        .saturating_mul(2),
                ),
        )
        .unwrap_or(u32::MAX),
        threads: u32::try_from(executors).unwrap_or(u32::MAX),
        // A configured maxpipes is counted before an automatic maxconn.
        pipes: plan.maxpipes.unwrap_or(0),
    };
    let splicing = plan
        .frontends
        .iter()
        .map(|f| (f.splice_request, f.splice_response))
        .chain(
            plan.backends
                .iter()
                .map(|b| (b.splice_request, b.splice_response)),
        )
        .any(|(req, res)| req || res);
    if plan.maxconn == 0 {
        let (soft, _) = process::current_nofile()?;
        plan.maxconn = process::ideal_maxconn(soft, None, budget.extra());
        if splicing && plan.maxpipes.is_none() {
            plan.maxconn = process::ideal_maxconn_splicing(plan.maxconn);
        }
    }
    // HAProxy's maxpipes: none without splicing, else a quarter of maxconn;
    // two fds each in the budget.
    let maxpipes = plan.maxpipes.unwrap_or(if splicing {
        process::ideal_maxpipes(plan.maxconn)
    } else {
        0
    });
    plan.maxpipes = Some(maxpipes);
    budget.pipes = maxpipes;
    plan.default_fullconn();
    let maxsock = process::nofile_limit(plan.maxconn, budget.extra());
    process::raise_nofile(g.ulimit_n.map_or(maxsock, u64::from))?;
    process::check_nofile(plan.maxconn, maxsock)?;

    // Bind everything, retrying while old processes release their ports.
    let old: Vec<u32> = args
        .soft_finish
        .iter()
        .chain(&args.terminate)
        .copied()
        .collect();
    let bound =
        process::bind_with_retry(&old, |_last| match listener::bind_all(&plan, executors) {
            Ok(b) => BindAttempt::Bound(b),
            Err(e) if e.in_use => BindAttempt::InUse(e.message),
            Err(e) => BindAttempt::Fatal(e.message),
        })?;
    // The runtime API's sockets, with the listeners (before chroot).
    let cli = crate::engine::cli::Cli::bind(cfg, &plan).map_err(|e| e.message)?;
    // Log sockets (/dev/log, UDP) are opened before chroot.
    let sinks = crate::engine::logging::open(cfg, &plan, executors)
        .map_err(|e| format!("cannot open log targets: {e}"))?;
    for (fe, sink) in plan.frontends.iter_mut().zip(sinks.frontends.iter()) {
        fe.sink = sink.clone();
    }
    for (log, sink) in plan.checks.backends.iter_mut().zip(&sinks.backends) {
        log.sink = sink.clone();
    }

    if daemon {
        if let Some(p) = args.pidfile.as_deref().or(g.pidfile.as_deref()) {
            if let Err(e) = process::write_pidfile(Path::new(p), &[std::process::id()]) {
                let _ = process::resume_old(&old);
                return Err(format!("cannot create pidfile {p}: {e}"));
            }
        }
    }
    if let Some(dir) = &g.chroot {
        if let Err(e) = process::enter_chroot(Path::new(dir)) {
            let _ = process::resume_old(&old);
            return Err(e);
        }
    }
    for w in process::set_identity(&identity)? {
        crate::stderr_line!("[WARNING] {w}");
    }

    let events = process::spawn_signal_thread(Role::Standalone)?;
    let shared = Process::new(plan, placement.cpus.len());
    let executors = runtime::start(&shared, &placement, bound, cli)?;
    // Every executor up, or none serves: a process missing a core would
    // take its share of the clients (SO_REUSEPORT) and never serve them.
    let failed = executors.wait_ready(Duration::from_secs(10));
    if !failed.is_empty() {
        executors.go(false);
        shared.kill();
        for h in executors.handles {
            let _ = h.join();
        }
        let _ = process::resume_old(&old);
        return Err(failed.join("; "));
    }
    executors.go(true);
    // Only now are the old processes told to leave (HAProxy signals them
    // once the new one is ready to serve).
    if !args.soft_finish.is_empty() {
        report_signal_errors(process::signal_old(&args.soft_finish, StopKind::Soft));
    }
    if !args.terminate.is_empty() {
        report_signal_errors(process::signal_old(&args.terminate, StopKind::Hard));
    }
    let handles = executors.handles;
    if let Some(child) = daemon_child {
        child.ready()?;
    }

    let mut hard_deadline: Option<Instant> = None;
    loop {
        if handles.iter().all(std::thread::JoinHandle::is_finished) {
            break;
        }
        if hard_deadline.is_some_and(|d| Instant::now() >= d) {
            shared.kill();
        }
        match events.recv_timeout(Duration::from_millis(100)) {
            Ok(ProcessEvent::Stop {
                kind: StopKind::Soft,
                ..
            }) => {
                if !shared.is_stopping() {
                    shared.stop();
                    hard_deadline = process::hard_stop_deadline(Instant::now(), g.hard_stop_after);
                    crate::engine::logging::report_stopped(cfg, &shared, &sinks);
                }
            }
            Ok(ProcessEvent::Stop {
                kind: StopKind::Hard,
                signal,
            }) => process::die_of(signal),
            Ok(ProcessEvent::DumpPools) => dump_pools(&shared),
            Ok(ProcessEvent::Pause) => pause_listeners(&shared, true),
            Ok(ProcessEvent::Resume) => pause_listeners(&shared, false),
            Ok(_) | Err(flume::RecvTimeoutError::Timeout) => {}
            Err(flume::RecvTimeoutError::Disconnected) => break,
        }
    }
    for h in handles {
        let _ = h.join();
    }
    sinks.flush(Duration::from_secs(1));
    Ok(ExitCode::SUCCESS)
}

/// SIGQUIT: as HAProxy, report the pools on stderr and free what they
/// hold. Each executor owns its pools and its stream registry, so each is
/// asked through its inbox and answers with a snapshot; an executor that
/// does not answer within a second is reported as such.
fn dump_pools(shared: &Process) {
    let asked = shared
        .mesh
        .ask_all(|reply| crate::engine::runtime::mesh::Msg::Snapshot { reply, flush: true });
    let mut snaps = asked.wait_blocking(Duration::from_secs(1));
    snaps.sort_by_key(|s| s.core);
    crate::stderr_line!("Dumping pools usage. Flushing them.");
    for s in &snaps {
        crate::stderr_line!(
            "  - executor {} (cpu {}): {} streams{}, {} timers, flushed {} buffers and {} pipes",
            s.core,
            s.cpu,
            s.streams,
            s.oldest
                .map(|d| format!(" (oldest {:.3} s)", d.as_secs_f64()))
                .unwrap_or_default(),
            s.timers,
            s.flushed_bufs,
            s.flushed_pipes
        );
    }
    if snaps.len() < shared.mesh.cores() {
        crate::stderr_line!(
            "  - {} executors did not answer",
            shared.mesh.cores() - snaps.len()
        );
    }
    crate::stderr_line!(
        "Total: {} streams, {} buffers and {} pipes flushed",
        snaps.iter().map(|s| s.streams).sum::<usize>(),
        snaps.iter().map(|s| s.flushed_bufs).sum::<usize>(),
        snaps.iter().map(|s| s.flushed_pipes).sum::<usize>()
    );
}

/// SIGTTOU / SIGTTIN: every executor pauses (or resumes) its listeners.
fn pause_listeners(shared: &Process, pause: bool) {
    for (core, e) in shared
        .mesh
        .broadcast(&crate::engine::runtime::mesh::Msg::Pause(pause))
    {
        crate::stderr_line!(
            "[WARNING] executor {core} did not get the pause/resume request: {e:?}"
        );
    }
}

fn report_signal_errors(errors: Vec<(u32, std::io::Error)>) {
    for (pid, e) in errors {
        crate::stderr_line!("[WARNING] failed to send a signal to old pid {pid}: {e}");
    }
}

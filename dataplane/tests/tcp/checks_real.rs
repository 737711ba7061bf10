//! The protocol checks against the real servers Debian ships: redis-server
//! (`redis-check`), PostgreSQL (`pgsql-check`), MariaDB (`mysql-check`),
//! Exim (`smtpchk`), OpenLDAP's slapd (`ldap-check`) and OpenSSL's
//! s_server (`ssl-hello-chk`). Each test starts its own servers as plain
//! child processes (each its own process group, no system service) on
//! loopback ports of their own, from configurations in temporary
//! directories, and kills them at the end. `checks.rs` keeps the stub
//! versions of these tests (they pin the bytes each check sends); these
//! show that the verdicts hold against what the servers really say, and,
//! where a server logs it, what it was sent.
//!
//! Each scenario: the proxy starts first, so the server is refused and
//! goes DOWN; the server starts and the check brings it UP with its words;
//! a second proxy whose check the server refuses (an unknown user, or a
//! second server set up to refuse: a password, a connect ACL, no anonymous
//! bind, no TLS) sees it DOWN with HAProxy's reason; the server dies
//! (SIGKILL to its process group) and it goes DOWN again, refused. `fall
//! 3` puts the third failed check at least two `inter` after the death, so
//! its reason is the refused connection even when the first one met a
//! check under way. Each runs on haproxy first and the state-change lines
//! are compared word for word.
//!
//! Figures on the 2-core test machine (Debian 12, other builds running):
//! `apt-get install --no-install-recommends`: redis-server 16 s,
//! mariadb-server 34 s, exim4-daemon-light 11 s, slapd 7 s (postgresql
//! came with the image); then, here, until the server takes connections
//! (or, for those that speak first, greets): redis-server 10-20 ms;
//! initdb 0.8 s quiet, 1.6-5 s loaded, then postgres 25-50 ms;
//! mariadb-install-db 1.7 s quiet, 3-5 s loaded, then mariadbd 150-350 ms;
//! exim 150-950 ms to its first greeting (it listens within 15 ms); slapd
//! 20-60 ms; openssl s_server 70-130 ms. All start within seconds, so none
//! is left to a stub. (OpenSMTPD was tried for SMTP: it installs in 10 s
//! and starts at once, but its control socket is a fixed system path, so
//! two tests cannot each run one at the same time.)
//!
//! A missing server program fails the test under CI (`ci/test` installs
//! them) and is a loud note elsewhere, as a missing haproxy is.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::checks::{down_line, next_check_line, up_line, DEFAULTS};
use crate::harness::{config, start, Proxy, TempDir, DEADLINE};

const REFUSED: &str = "Layer4 connection problem, info: \"Connection refused\"";
const NONE_LEFT: &str = "backend be has no server available!";

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The first of `names` found on PATH, in /usr/sbin or /usr/bin, or in
/// `dirs`. Without it: a failure under CI (naming the Debian package), a
/// loud note (and None) elsewhere.
fn program(test: &str, names: &[&str], dirs: &[PathBuf], package: &str) -> Option<PathBuf> {
    let mut search: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    search.extend(["/usr/sbin", "/usr/bin"].map(PathBuf::from));
    search.extend(dirs.iter().cloned());
    let found = names
        .iter()
        .find_map(|n| search.iter().map(|d| d.join(n)).find(|p| p.is_file()));
    if found.is_none() {
        let what = names.join(" or ");
        cannot_run(
            test,
            &format!("{what} is not installed (CI must install the Debian package '{package}': ci/test does)"),
        );
    }
    found
}

/// A test that cannot run here: a failure under CI, a loud note elsewhere.
fn cannot_run(test: &str, why: &str) {
    assert!(!ci(), "{test}: {why}");
    // The stderr handle, not eprintln!: the test harness captures the
    // print macros of passing tests, and this must be seen.
    let _ = writeln!(
        std::io::stderr().lock(),
        "\n## NOTE: {test} did NOT run: {why}. ##\n"
    );
}

/// PostgreSQL's server programs live in /usr/lib/postgresql/<major>/bin:
/// the highest major installed.
fn postgres_dirs() -> Vec<PathBuf> {
    let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse().ok()?;
            Some((major, e.path().join("bin")))
        })
        .collect();
    majors.sort();
    majors.into_iter().rev().map(|(_, d)| d).collect()
}

/// A free port on 127.0.0.1 for a server to bind: held, then let go. It
/// comes from below the kernel's ephemeral range, as the harness's port
/// ranges do, so no client socket of a parallel test takes it meanwhile.
fn free_port() -> u16 {
    let (held, port) = crate::harness::held_port_range();
    drop(held);
    port
}

/// The uid and gid a server that refuses to run as root (PostgreSQL) runs
/// as when the tests run as root: nobody's.
fn unprivileged() -> Option<(u32, u32)> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    let user = nix::unistd::User::from_name("nobody").ok().flatten();
    Some(user.map_or((65534, 65534), |u| (u.uid.as_raw(), u.gid.as_raw())))
}

/// A server the test started: its own process group, its directory, the
/// port it listens on. Dropping it kills the group.
struct Daemon {
    what: &'static str,
    child: Child,
    port: u16,
    /// A PostgreSQL data directory: its postmaster.pid names the SysV
    /// shared memory segment a SIGKILL leaves behind.
    pg_data: Option<PathBuf>,
    log: PathBuf,
    dir: TempDir,
}

impl Daemon {
    /// Start `cmd` (output to `dir/out.log`) and wait until `port` takes
    /// connections, or, for a server that speaks first (`greets`), until
    /// it says something: the kernel completes connections on a listening
    /// socket before the server takes them, and Exim, loaded, was seen
    /// to greet its first client more than a second after it listened.
    fn spawn(
        what: &'static str,
        mut cmd: Command,
        port: u16,
        greets: bool,
        pg_data: Option<PathBuf>,
        dir: TempDir,
    ) -> Daemon {
        let log = dir.0.join("out.log");
        let out = std::fs::File::create(&log).unwrap();
        cmd.process_group(0)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        let t0 = Instant::now();
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
        let mut d = Daemon {
            what,
            child,
            port,
            pg_data,
            log,
            dir,
        };
        loop {
            if let Some(st) = d.child.try_wait().unwrap() {
                panic!(
                    "{what} exited ({st}) before it listened on {port}:\n{}",
                    d.output()
                );
            }
            if let Ok(mut c) = TcpStream::connect(("127.0.0.1", port)) {
                if !greets {
                    break;
                }
                c.set_read_timeout(Some(DEADLINE)).unwrap();
                let mut b = [0u8; 64];
                if c.read(&mut b).unwrap_or(0) > 0 {
                    break;
                }
            }
            assert!(
                t0.elapsed() < DEADLINE,
                "{what} did not listen on {port} within {DEADLINE:?}:\n{}",
                d.output()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = writeln!(
            std::io::stderr().lock(),
            "{what} listened on {port} after {} ms",
            t0.elapsed().as_millis()
        );
        d
    }

    /// What the server wrote (its out.log, and any other log in its
    /// directory), for a failure message.
    fn output(&self) -> String {
        let mut s = std::fs::read_to_string(&self.log).unwrap_or_default();
        for f in ["mainlog", "paniclog", "err.log"] {
            if let Ok(t) = std::fs::read_to_string(self.dir.0.join(f)) {
                s.push_str(&format!("--- {f}\n{t}"));
            }
        }
        s
    }

    /// The server dies: SIGKILL to its whole group (the server and any
    /// process it forked), so its sockets close at once: a graceful stop
    /// keeps answering for a while ("the database system is shutting
    /// down"), and which answer the checks met would depend on timing.
    fn kill(&mut self) {
        if self.child.try_wait().unwrap().is_some() {
            return;
        }
        let pid = Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        let _ = killpg(pid, Signal::SIGKILL);
        let _ = self.child.wait();
        // PostgreSQL's interlock segment outlives its processes: remove it
        // (postmaster.pid's seventh line: its key and id).
        if let Some(data) = &self.pg_data {
            let pidfile = std::fs::read_to_string(data.join("postmaster.pid")).unwrap_or_default();
            if let Some(id) = pidfile
                .lines()
                .nth(6)
                .and_then(|l| l.split_whitespace().nth(1))
            {
                let _ = Command::new("ipcrm").args(["-m", id]).status();
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// redis-server on `port`, with no persistence; `password` set, every
/// command but AUTH answers "-NOAUTH Authentication required.".
fn redis(bin: &Path, port: u16, password: Option<&str>) -> Daemon {
    let dir = TempDir::new("redis");
    let mut cmd = Command::new(bin);
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .arg("--dir")
        .arg(&dir.0);
    if let Some(p) = password {
        cmd.args(["--requirepass", p]);
    }
    Daemon::spawn("redis-server", cmd, port, false, None, dir)
}

/// A PostgreSQL cluster made by initdb (as nobody when the tests run as
/// root: PostgreSQL refuses root) on `port`: user `postgres` is trusted,
/// user `refused` rejected by pg_hba.conf, anyone else asked for a
/// SCRAM password.
fn postgres(bin: &Path, port: u16) -> Daemon {
    let dir = TempDir::new("pgsql");
    let as_user = unprivileged();
    let run_as = |cmd: &mut Command| {
        if let Some((uid, gid)) = as_user {
            cmd.uid(uid).gid(gid);
        }
    };
    if let Some((uid, gid)) = as_user {
        std::os::unix::fs::chown(&dir.0, Some(uid), Some(gid)).unwrap();
    }
    let data = dir.0.join("data");
    let t0 = Instant::now();
    let mut initdb = Command::new(bin.with_file_name("initdb"));
    initdb
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "-A", "trust", "--no-sync"])
        .args(["-E", "UTF8", "--locale=C"])
        .stdin(Stdio::null())
        .env("HOME", &dir.0);
    run_as(&mut initdb);
    let out = initdb.output().unwrap();
    assert!(
        out.status.success(),
        "initdb: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = writeln!(
        std::io::stderr().lock(),
        "initdb took {} ms",
        t0.elapsed().as_millis()
    );
    // Rewritten in place: the file keeps its owner.
    std::fs::write(
        data.join("pg_hba.conf"),
        "host all postgres 127.0.0.1/32 trust\n\
         host all refused 127.0.0.1/32 reject\n\
         host all all 127.0.0.1/32 scram-sha-256\n",
    )
    .unwrap();
    let mut cmd = Command::new(bin);
    cmd.arg("-D")
        .arg(&data)
        .arg("-k")
        .arg(&dir.0)
        .args(["-p", &port.to_string()])
        .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
        .args(["-c", "shared_buffers=1MB", "-c", "max_connections=10"])
        .args(["-c", "log_connections=on"])
        // Its dynamic shared memory as files in the data directory.
        .args(["-c", "dynamic_shared_memory_type=mmap"])
        .env("HOME", &dir.0);
    run_as(&mut cmd);
    Daemon::spawn("postgres", cmd, port, false, Some(data), dir)
}

const SMALL_INNODB: [&str; 2] = ["--innodb-log-file-size=4M", "--innodb-buffer-pool-size=8M"];

/// MariaDB on `port`, its system tables made by mariadb-install-db; user
/// `haproxy`@127.0.0.1 exists without a password, as HAProxy's manual asks
/// for `mysql-check user haproxy`.
fn mariadb(bin: &Path, install_db: &Path, port: u16) -> Daemon {
    let dir = TempDir::new("mysql");
    let data = dir.0.join("data");
    let root = nix::unistd::geteuid().is_root();
    // Its temporary tables in its own directory, not /tmp: a failed CI
    // run saw the install lose one there ("Could not remove temporary
    // table: '/tmp/#sql-temptable-...', error: 2", then "Unknown table
    // 'mysql.tmp_user_sys'").
    let tmp = dir.0.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let t0 = Instant::now();
    let mut install = Command::new(install_db);
    install
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--tmpdir={}", tmp.display()))
        .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
        .arg("--skip-name-resolve")
        // A 4MB redo log, not 96MB: a fifth of the disk writes.
        .args(SMALL_INNODB)
        .stdin(Stdio::null());
    if root {
        install.arg("--user=root");
    }
    let out = install.output().unwrap();
    assert!(
        out.status.success(),
        "mariadb-install-db: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = writeln!(
        std::io::stderr().lock(),
        "mariadb-install-db took {} ms",
        t0.elapsed().as_millis()
    );
    let init = dir.0.join("init.sql");
    std::fs::write(&init, "CREATE USER IF NOT EXISTS 'haproxy'@'127.0.0.1';\n").unwrap();
    let mut cmd = Command::new(bin);
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--tmpdir={}", tmp.display()))
        .arg(format!("--port={port}"))
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--socket={}", dir.0.join("sock").display()))
        .arg(format!("--pid-file={}", dir.0.join("pid").display()))
        .arg(format!("--init-file={}", init.display()))
        .arg(format!("--log-error={}", dir.0.join("err.log").display()))
        .arg("--skip-name-resolve")
        .args(SMALL_INNODB);
    if root {
        cmd.arg("--user=root");
    }
    Daemon::spawn("mariadbd", cmd, port, true, None, dir)
}

/// Exim as an SMTP daemon on `port` (`-bdf`: in the foreground, no queue
/// runner), its spool and logs in its directory (its mainlog names the
/// commands of each connection that sent no mail); `refuse`, its connect
/// ACL denies every client (a 550 greeting).
fn exim(bin: &Path, port: u16, refuse: bool) -> Daemon {
    let dir = TempDir::new("exim");
    let spool = dir.0.join("spool");
    std::fs::create_dir(&spool).unwrap();
    // Run as root, Exim drops to its own user with a config of the
    // caller's (-C): it must write its spool and logs.
    for d in [&dir.0, &spool] {
        std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    }
    let conf = dir.0.join("exim.conf");
    let d = dir.0.display();
    std::fs::write(
        &conf,
        format!(
            "primary_hostname = ringlb.test\nspool_directory = {d}/spool\nlog_file_path = {d}/%slog\n\
             pid_file_path = {d}/exim.pid\nlocal_interfaces = 127.0.0.1\ntls_advertise_hosts =\n\
             keep_environment =\nacl_smtp_rcpt = deny\nlog_selector = +smtp_connection +smtp_no_mail\n{}",
            if refuse { "acl_smtp_connect = deny\n" } else { "" }
        ),
    )
    .unwrap();
    let mut cmd = Command::new(bin);
    cmd.arg("-bdf")
        .arg("-C")
        .arg(&conf)
        .args(["-oX", &port.to_string()]);
    Daemon::spawn("exim", cmd, port, true, None, dir)
}

/// slapd on `port` with no database: an anonymous bind succeeds, unless
/// `deny_anonymous` (`disallow bind_anon`: resultCode 48,
/// inappropriateAuthentication).
fn slapd(bin: &Path, port: u16, deny_anonymous: bool) -> Daemon {
    let dir = TempDir::new("slapd");
    let conf = dir.0.join("slapd.conf");
    let d = dir.0.display();
    std::fs::write(
        &conf,
        format!(
            "pidfile {d}/slapd.pid\nargsfile {d}/slapd.args\n{}",
            if deny_anonymous {
                "disallow bind_anon\n"
            } else {
                ""
            }
        ),
    )
    .unwrap();
    let mut cmd = Command::new(bin);
    // -d 256: in the foreground, its operations (each BIND and its
    // RESULT) on stderr.
    cmd.args(["-d", "256", "-h", &format!("ldap://127.0.0.1:{port}/")])
        .arg("-f")
        .arg(&conf);
    Daemon::spawn("slapd", cmd, port, false, None, dir)
}

/// `openssl s_server` on `port` with a throwaway P-256 certificate (made
/// by `openssl req`): a TLS server that answers HAProxy's SSLv3 hello
/// with an alert ("version too low"), which ssl-hello-chk takes as a TLS
/// server's answer.
fn tls_server(openssl: &Path, port: u16) -> Daemon {
    let dir = TempDir::new("tls");
    let (cert, key) = (dir.0.join("cert.pem"), dir.0.join("key.pem"));
    let out = Command::new(openssl)
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=ringlb.test", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl req: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut cmd = Command::new(openssl);
    cmd.args([
        "s_server",
        "-quiet",
        "-accept",
        &format!("127.0.0.1:{port}"),
    ])
    .arg("-cert")
    .arg(&cert)
    .arg("-key")
    .arg(&key);
    Daemon::spawn("openssl s_server", cmd, port, false, None, dir)
}

/// The backend's `timeout check` and its server `s1` on 127.0.0.1:`port`,
/// checked every 100ms. Without `timeout check` a check may take `inter`
/// once connected, and a server forking or starting a thread per
/// connection on a loaded machine took longer (MariaDB, seen under the
/// full suite), or answers late on purpose (Exim's reply to QUIT waits
/// 200ms for the kernel's TCP_CORK timer): the first check would be a
/// timeout, not the server's answer.
fn server(port: u16) -> String {
    format!("    timeout check 2s\n    server s1 127.0.0.1:{port} check inter 100 rise 1 fall 3\n")
}

/// One server `s1` on 127.0.0.1:`port` (see [`server`]; `check` holds the
/// backend's check options).
fn checked(check: &str, port: u16) -> String {
    config("", DEFAULTS, &format!("{check}{}", server(port)))
}

/// The next two check lines: `s1` DOWN for `reason`, and no server left
/// (`d`: the server, whose output a failure shows).
fn goes_down(p: &Proxy, reason: &str, what: &str, d: Option<&Daemon>) {
    let line = next_check_line(p, DEADLINE).0;
    assert_eq!(
        line,
        down_line("s1", reason, (0, 0)),
        "{what}; {}",
        d.map(|d| format!("{}:\n{}", d.what, d.output()))
            .unwrap_or_default()
    );
    assert_eq!(next_check_line(p, DEADLINE).0, NONE_LEFT, "{what}");
}

/// A proxy whose check the live server `d` refuses: DOWN at the first
/// check (a server starts up, and one failure takes it down).
fn refused_setup(name: &str, program: &Path, check: &str, d: &Daemon, reason: &str) {
    let p = start(name, program, &checked(check, d.port));
    goes_down(&p, reason, &format!("{name}: {check}"), Some(d));
}

/// The scenario's first half: the proxy checks `port` before the server
/// listens (DOWN, refused), then `serve` starts the server, and the check
/// brings it UP saying `up`.
fn down_then_up(
    name: &str,
    program: &Path,
    check: &str,
    up: &str,
    port: u16,
    serve: impl FnOnce() -> Daemon,
) -> (Proxy, Daemon) {
    let p = start(name, program, &checked(check, port));
    goes_down(
        &p,
        REFUSED,
        &format!("{name}: before the server starts"),
        None,
    );
    let d = serve();
    assert_eq!(
        next_check_line(&p, Duration::from_secs(5)).0,
        up_line("s1", up, (1, 0)),
        "{name}: {}",
        d.output()
    );
    (p, d)
}

/// The scenario's end: the server dies, the check finds it refusing.
fn dies(name: &str, p: &Proxy, mut d: Daemon) {
    d.kill();
    goes_down(
        p,
        REFUSED,
        &format!("{name}: after {} died", d.what),
        Some(&d),
    );
}

/// `option redis-check` against redis-server: "+PONG" is "Redis server is
/// ok"; a server that wants a password answers "-NOAUTH ..." and keeps the
/// connection open, so HAProxy's `expect string +PONG` waits for more
/// until the check times out: a Layer7 timeout, not a wrong status (the
/// stub in checks.rs closes after its "-ERR").
fn redis_check(name: &str, program: &Path) {
    let Some(bin) = program_for(name, &["redis-server"], &[], "redis-server") else {
        return;
    };
    let port = free_port();
    let (p, d) = down_then_up(
        name,
        program,
        "    option redis-check\n",
        "Layer7 check passed, code: 0, info: \"Redis server is ok\"",
        port,
        || redis(&bin, port, None),
    );
    let locked = redis(&bin, free_port(), Some("secret"));
    refused_setup(
        name,
        program,
        "    option redis-check\n",
        &locked,
        "Layer7 timeout",
    );
    dies(name, &p, d);
}
on_both!(redis_check, redis_check_on_haproxy, redis_check_on_ringlb);

/// `option pgsql-check user <name>` against PostgreSQL: AuthenticationOk
/// (a trusted user) is "PostgreSQL server is ok"; pg_hba.conf's `reject`
/// is an ErrorResponse, whose severity is the info. (HAProxy takes any
/// authentication request as a success: a user asked for a password
/// passes, and so does an unknown one under `trust`, which PostgreSQL
/// only refuses after AuthenticationOk.)
fn pgsql_check(name: &str, program: &Path) {
    let Some(bin) = program_for(name, &["postgres"], &postgres_dirs(), "postgresql") else {
        return;
    };
    let port = free_port();
    let (p, d) = down_then_up(
        name,
        program,
        "    option pgsql-check user postgres\n",
        "Layer7 check passed, code: 0, info: \"PostgreSQL server is ok\"",
        port,
        || postgres(&bin, port),
    );
    refused_setup(
        name,
        program,
        "    option pgsql-check user refused\n",
        &d,
        "Layer7 invalid response, info: \"FATAL\"",
    );
    // What PostgreSQL saw: HAProxy's StartupMessage names the user and
    // no database (the user's own).
    let log = d.output();
    assert!(
        log.contains("connection authorized: user=postgres database=postgres"),
        "{name}: {log}"
    );
    assert!(
        log.contains("pg_hba.conf rejects connection for host \"127.0.0.1\", user \"refused\", database \"refused\""),
        "{name}: {log}"
    );
    // A password asked for: HAProxy's rule still passes it.
    let q = start(
        name,
        program,
        &config(
            "",
            &format!("{DEFAULTS}    option log-health-checks\n"),
            &format!("    option pgsql-check user someone\n{}", server(port)),
        ),
    );
    assert_eq!(
        next_check_line(&q, DEADLINE).0,
        "Health check for server be/s1 succeeded, reason: Layer7 check passed, code: 0, info: \"PostgreSQL server is ok\", check duration: Nms, status: 3/3 UP.",
        "{name}"
    );
    drop(q);
    dies(name, &p, d);
}
on_both!(pgsql_check, pgsql_check_on_haproxy, pgsql_check_on_ringlb);

/// `option mysql-check user <name>` against MariaDB: the handshake and
/// the OK after HAProxy's authentication packet pass; an unknown user is
/// MariaDB's error 1045, its SQL state and message the info.
fn mysql_check(name: &str, program: &Path) {
    let Some(bin) = program_for(name, &["mariadbd", "mysqld"], &[], "mariadb-server") else {
        return;
    };
    let Some(install_db) = program_for(
        name,
        &["mariadb-install-db", "mysql_install_db"],
        &[],
        "mariadb-server",
    ) else {
        return;
    };
    let port = free_port();
    let (p, d) = down_then_up(
        name,
        program,
        "    option mysql-check user haproxy post-41\n",
        "Layer7 check passed, code: 0",
        port,
        || mariadb(&bin, &install_db, port),
    );
    refused_setup(
        name,
        program,
        "    option mysql-check user nosuch\n",
        &d,
        "Layer7 wrong status, code: 1045, info: \"#28000Access denied for user 'nosuch'@'127.0.0.1' (using password: NO)\"",
    );
    // Without a user: the handshake alone.
    success_line(name, program, "    option mysql-check\n", port);
    dies(name, &p, d);
}
on_both!(mysql_check, mysql_check_on_haproxy, mysql_check_on_ringlb);

/// `option log-health-checks` on a check the live server passes: the
/// success line. HAProxy's mysql-check and ldap-check report a success
/// twice, the first time with the server's words (its version, "Success"),
/// and log the first; ringlb reports it once, without them
/// (docs/differences.md, "ldap-check and mysql-check count a success
/// once"): the line differs by its info.
fn success_line(name: &str, program: &Path, check: &str, port: u16) {
    let q = start(
        name,
        program,
        &config(
            "",
            &format!("{DEFAULTS}    option log-health-checks\n"),
            &format!("{check}{}", server(port)),
        ),
    );
    let line = next_check_line(&q, DEADLINE).0;
    let info = if name == "haproxy" {
        // The handshake's server version (MariaDB says 5.5.5-<version>),
        // or the bind's "Success".
        let at = line
            .find("info: \"")
            .unwrap_or_else(|| panic!("{name}: {line}"));
        let end = line[at + 7..].find('"').unwrap() + at + 7;
        let words = &line[at + 7..end];
        assert!(
            words == "Success" || words.starts_with("5.5.5-"),
            "{name}: {line}"
        );
        format!(", info: \"{words}\"")
    } else {
        String::new()
    };
    assert_eq!(
        line,
        format!("Health check for server be/s1 succeeded, reason: Layer7 check passed, code: 0{info}, check duration: Nms, status: 3/3 UP."),
        "{name}"
    );
}

/// `option smtpchk` against Exim: its greeting, its reply to HELO or EHLO
/// and to QUIT ("221 ringlb.test closing connection" is the info). Exim
/// answers QUIT 200ms late (its corked socket waits for the kernel's
/// TCP_CORK timer), beyond `inter 100`, the check's timeout were `timeout
/// check` unset. A server whose connect ACL refuses greets with 550: a
/// wrong status with its words.
fn smtp_check(name: &str, program: &Path) {
    let Some(bin) = program_for(name, &["exim4", "exim"], &[], "exim4-daemon-light") else {
        return;
    };
    if !nix::unistd::geteuid().is_root() {
        // Exim says "permission denied" to anyone else's -bd.
        cannot_run(
            &format!("exim on {name}"),
            "only root may start Exim's daemon (CI runs the tests as root)",
        );
        return;
    }
    for check in [
        "    option smtpchk\n",
        "    option smtpchk EHLO ringlb.test\n",
    ] {
        let port = free_port();
        let (p, d) = down_then_up(
            name,
            program,
            check,
            "Layer7 check passed, code: 221, info: \"ringlb.test closing connection\"",
            port,
            || exim(&bin, port, false),
        );
        // Exim logs the commands of each connection that sent no mail:
        // the check's greeting and QUIT, nothing else (the start-up probe
        // sent none).
        let hello = format!(
            " C={},QUIT",
            if check.contains("EHLO") {
                "EHLO"
            } else {
                "HELO"
            }
        );
        let log = std::fs::read_to_string(d.dir.0.join("mainlog")).unwrap_or_default();
        let sent: Vec<&str> = log.lines().filter(|l| l.contains(" C=")).collect();
        assert!(
            !sent.is_empty() && sent.iter().all(|l| l.ends_with(&hello)),
            "{name}: {log}"
        );
        let refusing = exim(&bin, free_port(), true);
        refused_setup(
            name,
            program,
            check,
            &refusing,
            "Layer7 wrong status, code: 550, info: \"Administrative prohibition\"",
        );
        dies(name, &p, d);
    }
}
on_both!(smtp_check, smtp_check_on_haproxy, smtp_check_on_ringlb);

/// `option ldap-check` against slapd: the anonymous bind succeeds
/// (resultCode 0); a server with `disallow bind_anon` answers 48
/// (inappropriateAuthentication), HAProxy's wrong status with its pointer
/// to the RFC.
fn ldap_check(name: &str, program: &Path) {
    let Some(bin) = program_for(name, &["slapd"], &[], "slapd") else {
        return;
    };
    let port = free_port();
    let (p, d) = down_then_up(
        name,
        program,
        "    option ldap-check\n",
        "Layer7 check passed, code: 0",
        port,
        || slapd(&bin, port, false),
    );
    let strict = slapd(&bin, free_port(), true);
    refused_setup(
        name,
        program,
        "    option ldap-check\n",
        &strict,
        "Layer7 wrong status, code: 48, info: \"See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9\"",
    );
    // What slapd saw: an anonymous simple bind (method 128), answered 0,
    // or 48 by the strict one.
    for (server, err) in [(&d, 0), (&strict, 48)] {
        let log = server.output();
        assert!(
            log.contains("op=0 BIND dn=\"\" method=128"),
            "{name}: {log}"
        );
        assert!(
            log.contains(&format!("op=0 RESULT tag=97 err={err} ")),
            "{name}: {log}"
        );
    }
    success_line(name, program, "    option ldap-check\n", port);
    dies(name, &p, d);
}
on_both!(ldap_check, ldap_check_on_haproxy, ldap_check_on_ringlb);

/// `option ssl-hello-chk` against OpenSSL's s_server: its alert to the
/// SSLv3 hello is a TLS record, Layer6 passed. redis-server, not speaking
/// TLS, waits for the end of a command line that never comes: a Layer6
/// timeout.
fn ssl_hello_check(name: &str, program: &Path) {
    let Some(openssl) = program_for(name, &["openssl"], &[], "openssl") else {
        return;
    };
    let Some(redis_bin) = program_for(name, &["redis-server"], &[], "redis-server") else {
        return;
    };
    let port = free_port();
    let (p, d) = down_then_up(
        name,
        program,
        "    option ssl-hello-chk\n",
        "Layer6 check passed",
        port,
        || tls_server(&openssl, port),
    );
    let plain = redis(&redis_bin, free_port(), None);
    refused_setup(
        name,
        program,
        "    option ssl-hello-chk\n",
        &plain,
        "Layer6 timeout",
    );
    // What OpenSSL saw: a hello below its lowest version.
    let log = d.output();
    assert!(log.contains("version too low"), "{name}: {log}");
    dies(name, &p, d);
}
on_both!(
    ssl_hello_check,
    ssl_hello_check_on_haproxy,
    ssl_hello_check_on_ringlb
);

/// [`program`] for a scenario run on `name` (the proxy): the test's name
/// in the note.
fn program_for(name: &str, names: &[&str], dirs: &[PathBuf], package: &str) -> Option<PathBuf> {
    program(&format!("{} on {name}", names[0]), names, dirs, package)
}

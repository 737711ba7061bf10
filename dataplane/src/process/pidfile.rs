//! The pid file (`pidfile` / `-p`), written as HAProxy's `handle_pidfile`
//! does: unlink, create with mode 0644, one pid per line.
//!
//! When: HAProxy 3.2 writes it only in daemon mode (by the daemonized process,
//! after binding, before the chroot, so the path is outside the jail) and, in
//! master-worker mode, from the master once the worker is ready. A foreground
//! process started with `-p` writes nothing (checked on HAProxy 2.6 too).

use std::fs::OpenOptions;
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

/// Replace `path` with `pids`, one per line. The old file is unlinked first
/// (as HAProxy does), so a pid file left by another user or pointing
/// elsewhere through a symlink is replaced, not written through.
pub fn write_pidfile(path: &Path, pids: &[u32]) -> io::Result<()> {
    let ctx = |e: io::Error| {
        io::Error::new(
            e.kind(),
            format!("cannot create pidfile {}: {e}", path.display()),
        )
    };
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(ctx(e)),
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(path)
        .map_err(ctx)?;
    let mut text = String::new();
    for pid in pids {
        text.push_str(&pid.to_string());
        text.push('\n');
    }
    f.write_all(text.as_bytes()).map_err(ctx)
}

/// The pids of a pid file (for `-sf $(cat pidfile)`-style tooling and tests):
/// every line that is a positive number; other lines are skipped.
pub fn read_pidfile(path: &Path) -> io::Result<Vec<u32>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .filter(|&p| p > 0)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("ringlb-pidfile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn one_pid_per_line() {
        let d = temp_dir("lines");
        let p = d.join("haproxy.pid");
        write_pidfile(&p, &[4242, 17]).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "4242\n17\n");
        assert_eq!(read_pidfile(&p).unwrap(), vec![4242, 17]);
        // Rewriting truncates: a shorter list leaves no stale line.
        write_pidfile(&p, &[9]).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "9\n");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & !0o644, 0, "mode {mode:o}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn symlink_is_replaced_not_followed() {
        let d = temp_dir("symlink");
        let target = d.join("victim");
        std::fs::write(&target, "keep me").unwrap();
        let p = d.join("x.pid");
        std::os::unix::fs::symlink(&target, &p).unwrap();
        write_pidfile(&p, &[1]).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "1\n");
        assert!(!std::fs::symlink_metadata(&p)
            .unwrap()
            .file_type()
            .is_symlink());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn error_names_the_file() {
        let d = temp_dir("missing");
        let p = d.join("no/such/dir/x.pid");
        let e = write_pidfile(&p, &[1]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(
            e.to_string()
                .starts_with(&format!("cannot create pidfile {}", p.display())),
            "{e}"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}

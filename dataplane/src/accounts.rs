//! User and group names of the global section, checked at `-c` as
//! `haproxy -c` does ("cannot find user id for 'x'"), with the lookup
//! start-up uses ([`Identity::resolve`]: getpwnam_r / getgrnam_r, through
//! NSS), so that `-c` and a start agree on every account, LDAP/sssd and
//! systemd's included.

use ringlb_config::model::{global::Account, Config};
use ringlb_config::Diagnostic;

use crate::process::Identity;

pub fn check(cfg: &Config) -> Vec<Diagnostic> {
    let g = &cfg.global;
    let mut out = Vec::new();
    let checks = [
        (&g.user, &g.user_loc, "user"),
        (&g.group, &g.group_loc, "group"),
    ];
    for (acc, loc, what) in checks {
        let (Some(acc @ Account::Name(_)), Some(loc)) = (acc, loc) else {
            continue;
        };
        let resolved = if what == "user" {
            Identity::resolve(Some(acc), None)
        } else {
            Identity::resolve(None, Some(acc))
        };
        if let Err(e) = resolved {
            out.push(Diagnostic::error(loc, e).with_hint(format!(
                "no such {what} in the system's {what} database; create it or use a numeric id"
            )));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringlb_config::diag::{Loc, SourceFile};

    fn config(user: Option<&str>, group: Option<&str>) -> Config {
        let file = SourceFile::new("t.cfg", "global\n");
        let mut cfg = Config::default();
        cfg.global.user = user.map(|u| Account::Name(u.into()));
        cfg.global.user_loc = user.map(|_| Loc::new(&file, 2, 4));
        cfg.global.group = group.map(|g| Account::Name(g.into()));
        cfg.global.group_loc = group.map(|_| Loc::new(&file, 3, 4));
        cfg
    }

    #[test]
    fn known_and_unknown_names() {
        assert!(check(&config(Some("root"), Some("root"))).is_empty());
        let d = check(&config(
            Some("no-such-user-ringlb"),
            Some("no-such-group-ringlb"),
        ));
        let msgs: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            msgs,
            [
                "cannot find user id for 'no-such-user-ringlb'",
                "cannot find group id for 'no-such-group-ringlb'"
            ]
        );
    }

    /// Removes a systemd userdb drop-in record when dropped.
    struct DropIn(std::path::PathBuf);

    impl Drop for DropIn {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// Issue 8: `-c` read /etc/passwd by hand while start-up asked NSS, so
    /// an account NSS knows from elsewhere (LDAP, sssd, systemd) failed
    /// `-c` and yet started. A systemd userdb drop-in record is such an
    /// account: `files systemd` in nsswitch.conf (Debian's default) finds it,
    /// /etc/passwd does not have it.
    #[test]
    fn accounts_known_to_nss_only_pass() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: writing a userdb record needs root (CI runs as root)");
            return;
        }
        let name = format!("ringlb-t{}", std::process::id());
        let dir = std::path::Path::new("/run/userdb");
        if std::fs::create_dir_all(dir).is_err() {
            eprintln!("skipped: cannot create {}", dir.display());
            return;
        }
        let record = DropIn(dir.join(format!("{name}.user")));
        let json = format!(
            r#"{{"userName":"{name}","uid":64917,"gid":64917,"disposition":"regular","homeDirectory":"/nonexistent","shell":"/usr/sbin/nologin"}}"#
        );
        std::fs::write(&record.0, json).unwrap();
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        assert!(!passwd.lines().any(|l| l.starts_with(&format!("{name}:"))));
        match Identity::resolve(Some(&Account::Name(name.clone())), None) {
            Ok(id) => assert_eq!(id.uid, Some(64917)),
            Err(_) => {
                eprintln!("skipped: this system's NSS does not read systemd userdb records");
                return;
            }
        }
        // What start-up resolves, -c accepts.
        assert!(check(&config(Some(&name), None)).is_empty());
    }
}

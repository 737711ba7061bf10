//! User and group names of the global section, checked at start-up as
//! `haproxy -c` does ("cannot find user id for 'x'").
//!
//! Hand-written on purpose: HAProxy calls getpwnam/getgrnam (NSS); ringlb
//! reads the local `/etc/passwd` and `/etc/group` databases instead, which
//! needs no `unsafe` FFI and covers every Debian/Ubuntu edge node we target.
//! A site that keeps accounts in LDAP/sssd should use numeric `uid`/`gid`
//! (documented in docs/differences.md).

use ringlb_config::model::{global::Account, Config};
use ringlb_config::Diagnostic;

/// The numeric id of `name` in a passwd/group-format database.
pub fn lookup(db: &str, name: &str) -> Option<u32> {
    db.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let mut f = l.split(':');
        let n = f.next()?;
        let _password = f.next()?;
        let id = f.next()?;
        (n == name).then(|| id.parse().ok()).flatten()
    })
}

pub fn check(cfg: &Config) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let g = &cfg.global;
    let checks = [
        (&g.user, &g.user_loc, "/etc/passwd", "user"),
        (&g.group, &g.group_loc, "/etc/group", "group"),
    ];
    for (acc, loc, db, what) in checks {
        let (Some(Account::Name(name)), Some(loc)) = (acc, loc) else {
            continue;
        };
        let found = std::fs::read_to_string(db)
            .ok()
            .and_then(|d| lookup(&d, name));
        if found.is_none() {
            out.push(
                Diagnostic::error(loc, format!("cannot find {what} id for '{name}'")).with_hint(
                    format!("no such {what} in {db}; create it or use a numeric id"),
                ),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_lookup() {
        let db = "root:x:0:0:root:/root:/bin/bash\n# comment\nhaproxy:x:105:112::/var/lib/haproxy:/usr/sbin/nologin\n";
        assert_eq!(lookup(db, "haproxy"), Some(105));
        assert_eq!(lookup(db, "root"), Some(0));
        assert_eq!(lookup(db, "nobody"), None);
        assert_eq!(lookup("broken", "broken"), None);
    }
}

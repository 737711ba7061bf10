//! HTTP basic authentication against userlists (HAProxy's `auth.c`,
//! `get_http_auth`): the credentials of a request's Authorization header
//! and their check against a `userlist`'s users, for the `http_auth`,
//! `http_auth_group`, `http_auth_type`, `http_auth_user` and
//! `http_auth_pass` fetches.
//!
//! Passwords: `insecure-password` compares as text; `password` hashes are
//! checked as crypt(3) does for the SHA-crypt schemes (`$5$`, `$6$`) and
//! MD5-crypt (`$1$`), computed by the `crypt` module; other schemes (DES, bcrypt,
//! yescrypt) are refused at start-up.

use ringlb_config::model::{Password, Userlist};
use ringlb_proto::msg::Head;

use super::pattern::CompileError;

#[derive(Debug)]
enum Pw {
    Clear(Vec<u8>),
    Crypt(String),
    /// A user without a password never authenticates.
    None,
}

#[derive(Debug)]
struct User {
    name: Vec<u8>,
    pw: Pw,
}

/// The userlists the rules use, compiled.
#[derive(Debug, Default)]
pub struct Userlists {
    lists: Vec<(String, Vec<User>, Userlist)>,
}

/// The scheme of an Authorization header HAProxy knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials {
    Basic {
        user: Vec<u8>,
        pass: Vec<u8>,
    },
    /// The token: what follows the scheme and its blanks.
    Bearer(Vec<u8>),
}

impl Userlists {
    pub fn compile(lists: &[Userlist]) -> Result<Userlists, CompileError> {
        let mut out = Userlists::default();
        for l in lists {
            let mut users = Vec::with_capacity(l.users.len());
            for u in &l.users {
                let pw = match &u.password {
                    None => Pw::None,
                    Some(Password::Insecure(p)) => Pw::Clear(p.as_bytes().to_vec()),
                    Some(Password::Hashed(h)) => {
                        if !super::crypt::supported(h) {
                            return Err(CompileError(format!(
                                "userlist '{}', user '{}': this password hash scheme is not supported yet (only $1$, $5$ and $6$ are)",
                                l.name.name, u.name
                            )));
                        }
                        Pw::Crypt(h.clone())
                    }
                };
                users.push(User {
                    name: u.name.as_bytes().to_vec(),
                    pw,
                });
            }
            out.lists.push((l.name.name.clone(), users, l.clone()));
        }
        Ok(out)
    }

    /// The userlist's name as referenced: whether it is here.
    pub fn has(&self, name: &str) -> bool {
        self.lists.iter().any(|(n, _, _)| n == name)
    }

    /// HAProxy's `check_user`: the user exists in `list` and the password
    /// is its own.
    pub fn check(&self, list: &str, user: &[u8], pass: &[u8]) -> bool {
        let Some((_, users, _)) = self.lists.iter().find(|(n, _, _)| n == list) else {
            return false;
        };
        let Some(u) = users.iter().find(|u| u.name == user) else {
            return false;
        };
        match &u.pw {
            Pw::Clear(p) => p == pass,
            Pw::Crypt(h) => super::crypt::verify(pass, h),
            Pw::None => false,
        }
    }

    /// Whether `user` belongs to one of `groups` in `list`.
    pub fn in_group(&self, list: &str, user: &[u8], groups: &[String]) -> bool {
        let Some((_, _, conf)) = self.lists.iter().find(|(n, _, _)| n == list) else {
            return false;
        };
        let Ok(user) = std::str::from_utf8(user) else {
            return false;
        };
        groups.iter().any(|g| conf.in_group(user, g))
    }
}

/// HAProxy's TX_USE_PX_CONN: the frontend's `option http-use-proxy-header`
/// and a request whose URI begins with neither `/` nor `*` (an absolute
/// URI or a CONNECT authority): the proxy authentication headers (407,
/// Proxy-Authenticate, Proxy-Authorization) are used.
pub fn proxied(req: &Head, env: &dyn super::env::Env) -> bool {
    env.use_proxy_header() && !matches!(req.line_parts()[1].first(), Some(b'/' | b'*'))
}

/// HAProxy's `get_http_auth`: the first value of Authorization, a scheme
/// then blanks then its data; `Basic` data is base64 of `user:pass`
/// (each cut at a NUL, as C strings). The scheme compares as HAProxy's
/// `strncasecmp("Basic", scheme, len(scheme))` does: any prefix of it.
///
/// `proxied` (`option http-use-proxy-header` and a proxied request, see
/// [`proxied`]): Proxy-Authorization instead.
pub fn credentials(req: &Head, proxied: bool) -> Option<Credentials> {
    let name: &[u8] = if proxied {
        b"proxy-authorization"
    } else {
        b"authorization"
    };
    let v = super::fetch::header_values(req, name, false).next()?;
    let sp = memchr::memchr(b' ', v).filter(|i| *i > 0)?;
    let scheme = v.get(..sp)?.to_ascii_lowercase();
    let mut data = v.get(sp..).unwrap_or_default();
    while let Some(rest) = data.strip_prefix(b" ") {
        data = rest;
    }
    let prefix_of = |word: &[u8]| scheme.len() <= word.len() && word.starts_with(&scheme);
    if prefix_of(b"basic") {
        let decoded = super::sample::b64dec(data)?;
        let decoded = decoded.split(|c| *c == 0).next().unwrap_or_default();
        let colon = memchr::memchr(b':', decoded)?;
        Some(Credentials::Basic {
            user: decoded.get(..colon)?.to_vec(),
            pass: decoded.get(colon + 1..)?.to_vec(),
        })
    } else if prefix_of(b"bearer") {
        Some(Credentials::Bearer(data.to_vec()))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(auth: &str) -> Head {
        let mut h = Head::new();
        h.push(b"Authorization", auth.as_bytes());
        h
    }

    fn credentials_of(h: &Head) -> Option<Credentials> {
        credentials(h, false)
    }

    #[test]
    fn basic_credentials_as_haproxy_reads_them() {
        let basic = |u: &str, p: &str| {
            Some(Credentials::Basic {
                user: u.into(),
                pass: p.into(),
            })
        };
        // "u:p w" and "a:b:c"
        assert_eq!(credentials_of(&req("Basic dTpwIHc=")), basic("u", "p w"));
        assert_eq!(credentials_of(&req("basic   YTpiOmM=")), basic("a", "b:c"));
        assert_eq!(
            credentials_of(&req("Bas YTpiOmM=")),
            basic("a", "b:c"),
            "a prefix of Basic"
        );
        assert_eq!(credentials_of(&req("Basic dXNlcg==")), None, "no colon");
        assert_eq!(credentials_of(&req("Basic !!!")), None);
        assert_eq!(
            credentials_of(&req("Bearer  x.y")),
            Some(Credentials::Bearer(b"x.y".to_vec()))
        );
        assert_eq!(credentials_of(&req("Digest x")), None);
        assert_eq!(credentials_of(&req("Basic")), None, "no space");
        assert_eq!(credentials_of(&Head::new()), None);
    }
}

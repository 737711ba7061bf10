//! Listeners: every `bind` address gets one SO_REUSEPORT socket per
//! executor, bound at start-up in the main thread (so a busy address stops
//! the start before anything is served); an inherited `fd@N` socket is
//! shared by every executor (each gets its own dup).

use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

use super::plan::{BindPlan, ListenAddr, Plan};

/// One bound socket, ready to be handed to an executor.
#[derive(Debug)]
pub struct Bound {
    pub socket: BoundSocket,
    pub frontend: usize,
    pub addr: ListenAddr,
}

/// A bound listening socket of either family.
#[derive(Debug)]
pub enum BoundSocket {
    Tcp(std::net::TcpListener),
    Unix(std::os::unix::net::UnixListener),
}

/// Why binding failed; `in_use` is worth retrying while old processes
/// release their ports (`-sf`/`-st`).
#[derive(Debug)]
pub struct BindError {
    pub in_use: bool,
    pub message: String,
}

impl BindError {
    fn fatal(message: String) -> Self {
        BindError {
            in_use: false,
            message,
        }
    }
}

/// Bind every listener of the plan, `executors` times each. The outer Vec
/// is per executor.
pub fn bind_all(plan: &Plan, executors: usize) -> Result<Vec<Vec<Bound>>, BindError> {
    let mut per_exec: Vec<Vec<Bound>> = (0..executors).map(|_| Vec::new()).collect();
    for (fi, fe) in plan.frontends.iter().enumerate() {
        for b in &fe.binds {
            for addr in &b.addrs {
                match addr {
                    ListenAddr::Inet(sa) => {
                        for list in per_exec.iter_mut() {
                            let s = bind_inet(*sa, b).map_err(|e| BindError {
                                in_use: e.kind() == std::io::ErrorKind::AddrInUse,
                                message: format!(
                                    "Starting frontend {}: cannot bind socket [{sa}]: {e}",
                                    fe.name
                                ),
                            })?;
                            list.push(Bound {
                                socket: BoundSocket::Tcp(s),
                                frontend: fi,
                                addr: addr.clone(),
                            });
                        }
                    }
                    ListenAddr::Unix {
                        path,
                        mode,
                        user,
                        group,
                    } => {
                        let base = bind_unix(path, *mode, user.as_deref(), group.as_deref())
                            .map_err(|e| BindError {
                                in_use: false,
                                message: format!(
                                    "Starting frontend {}: cannot bind UNIX socket [{}]: {e}",
                                    fe.name,
                                    path.display()
                                ),
                            })?;
                        for list in per_exec.iter_mut() {
                            let s = base.try_clone().map_err(|e| {
                                BindError::fatal(format!("Starting frontend {}: {e}", fe.name))
                            })?;
                            list.push(Bound {
                                socket: BoundSocket::Unix(s),
                                frontend: fi,
                                addr: addr.clone(),
                            });
                        }
                    }
                    ListenAddr::Fd(n) => {
                        let owned = crate::sys::adopt_listener_fd(*n).map_err(|e| {
                            BindError::fatal(format!("Starting frontend {}: {e}", fe.name))
                        })?;
                        let base = std::net::TcpListener::from(owned);
                        base.set_nonblocking(true).map_err(|e| {
                            BindError::fatal(format!("Starting frontend {}: fd@{n}: {e}", fe.name))
                        })?;
                        // Inherited by accepted sockets (Linux).
                        let _ = socket2::SockRef::from(&base).set_tcp_nodelay(true);
                        for list in per_exec.iter_mut() {
                            let s = base.try_clone().map_err(|e| {
                                BindError::fatal(format!(
                                    "Starting frontend {}: fd@{n}: {e}",
                                    fe.name
                                ))
                            })?;
                            list.push(Bound {
                                socket: BoundSocket::Tcp(s),
                                frontend: fi,
                                addr: addr.clone(),
                            });
                        }
                    }
                }
            }
        }
    }
    Ok(per_exec)
}

/// Bind a UNIX stream socket the way HAProxy does for seamless reloads:
/// bind a temporary name next to the target, set its mode and owner, then
/// rename it over the target, so the path always answers (the old
/// process's socket until the rename, the new one after).
fn bind_unix(
    path: &std::path::Path,
    mode: Option<u32>,
    user: Option<&str>,
    group: Option<&str>,
) -> std::io::Result<std::os::unix::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    let tmp = path.with_file_name(format!(
        "{}.{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    let l = std::os::unix::net::UnixListener::bind(&tmp)?;
    if let Some(m) = mode {
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(m))?;
    }
    let uid = match user {
        Some(u) => Some(lookup_id(
            u,
            nix::unistd::User::from_name(u)
                .ok()
                .flatten()
                .map(|x| x.uid.as_raw()),
        )?),
        None => None,
    };
    let gid = match group {
        Some(g) => Some(lookup_id(
            g,
            nix::unistd::Group::from_name(g)
                .ok()
                .flatten()
                .map(|x| x.gid.as_raw()),
        )?),
        None => None,
    };
    if uid.is_some() || gid.is_some() {
        std::os::unix::fs::chown(&tmp, uid, gid)?;
    }
    std::fs::rename(&tmp, path)?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// A numeric id, or the id a name resolved to.
fn lookup_id(text: &str, by_name: Option<u32>) -> std::io::Result<u32> {
    text.parse::<u32>().ok().or(by_name).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("unknown user or group '{text}'"),
        )
    })
}

fn bind_inet(sa: SocketAddr, b: &BindPlan) -> std::io::Result<std::net::TcpListener> {
    let s = Socket::new(
        Domain::for_address(sa),
        Type::STREAM.nonblocking().cloexec(),
        Some(Protocol::TCP),
    )?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    // Accepted sockets inherit TCP_NODELAY from the listener on Linux: one
    // setsockopt here instead of one per connection.
    s.set_tcp_nodelay(true)?;
    if sa.is_ipv6() {
        if let Some(v6only) = b.v6only {
            s.set_only_v6(v6only)?;
        }
    }
    if b.transparent {
        if sa.is_ipv6() {
            s.set_ip_transparent_v6(true)?;
        } else {
            s.set_ip_transparent_v4(true)?;
        }
    }
    if let Some(iface) = &b.interface {
        s.bind_device(Some(iface.as_bytes()))?;
    }
    if let Some(mss) = b.mss {
        s.set_tcp_mss(mss)?;
    }
    // `defer-accept` (TCP_DEFER_ACCEPT) is an accept-time optimisation that
    // changes no traffic; neither socket2 nor nix exposes it, so it is not
    // set yet (rule zero: noted in docs/differences.md).
    let _ = b.defer_accept;
    s.bind(&sa.into())?;
    s.listen(b.backlog)?;
    Ok(s.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind_plan() -> BindPlan {
        BindPlan {
            addrs: Vec::new(),
            backlog: 16,
            v6only: None,
            transparent: false,
            defer_accept: true,
            interface: None,
            mss: None,
        }
    }

    #[test]
    fn reuseport_lets_executors_share_an_address() {
        let a = bind_inet("127.0.0.1:0".parse().unwrap(), &bind_plan()).unwrap();
        let addr = a.local_addr().unwrap();
        let b = bind_inet(addr, &bind_plan()).unwrap();
        assert_eq!(b.local_addr().unwrap(), addr);
    }

    #[test]
    fn a_busy_address_is_refused() {
        // A plain listener without SO_REUSEPORT holds the port.
        let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = holder.local_addr().unwrap();
        assert!(bind_inet(addr, &bind_plan()).is_err());
    }
}

//! Start-up name resolution for server and bind addresses, with the system
//! resolver (getaddrinfo through std), following each server's `init-addr`
//! methods in order (default `last,libc`), as HAProxy does at start-up and
//! under `-c`. This is the only blocking resolution ringlb does; it happens
//! before any executor starts.

use std::net::ToSocketAddrs;

use ringlb_config::addr::{Address, Host};
use ringlb_config::model::{Config, InitAddr};
use ringlb_config::Diagnostic;

pub fn resolves(name: &str) -> bool {
    (name, 0u16)
        .to_socket_addrs()
        .is_ok_and(|mut a| a.next().is_some())
}

pub fn check_names(cfg: &Config) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for px in &cfg.proxies {
        for s in &px.servers {
            let Address::Inet {
                host: Host::Name(name),
                ..
            } = &s.addr
            else {
                continue;
            };
            let methods = s
                .opts
                .init_addr
                .clone()
                .unwrap_or_else(|| vec![InitAddr::Last, InitAddr::Libc]);
            // `last` needs a server-state file; ringlb has none yet, so it
            // falls through to the next method, as HAProxy does without one.
            let ok = methods.iter().any(|m| match m {
                InitAddr::Last => false,
                InitAddr::Libc => resolves(name),
                InitAddr::None | InitAddr::Ip(_) => true,
            });
            if !ok {
                out.push(
                    Diagnostic::error(&s.loc, format!("'server {}/{}' : could not resolve address '{name}'.", px.name, s.name))
                        .with_hint("use an IP address, fix the name, or add 'init-addr last,libc,none' to start without it"),
                );
            }
        }
        for b in &px.binds {
            for a in &b.addrs {
                if let Address::Inet {
                    host: Host::Name(name),
                    ..
                } = a
                {
                    if !resolves(name) {
                        out.push(Diagnostic::error(
                            &b.loc,
                            format!("'bind' : could not resolve address '{name}'."),
                        ));
                    }
                }
            }
        }
    }
    out
}

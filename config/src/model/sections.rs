//! The sections other than global and proxies.

use std::time::Duration;

use super::{Directive, LogTarget, LogWireFormat, Named, StickTable};
use crate::addr::Address;
use crate::diag::Loc;

/// A section recognised by name and kept as directives (fcgi-app,
/// log-forward, crt-store, traces, acme, log-profile).
#[derive(Clone, Debug)]
pub struct OtherSection {
    pub kind: crate::keywords::Section,
    pub name: Option<String>,
    pub loc: Loc,
    pub directives: Vec<Directive>,
}

/// `userlist <name>` (manual 12.2).
#[derive(Clone, Debug)]
pub struct Userlist {
    pub name: Named,
    pub groups: Vec<UserGroup>,
    pub users: Vec<User>,
}

impl Userlist {
    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name)
    }

    pub fn group(&self, name: &str) -> Option<&UserGroup> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// Whether `user` belongs to `group`, declared on either side (`group
    /// <g> users <u>` or `user <u> groups <g>`).
    pub fn in_group(&self, user: &str, group: &str) -> bool {
        self.group(group)
            .is_some_and(|g| g.users.iter().any(|u| u == user))
            || self
                .user(user)
                .is_some_and(|u| u.groups.iter().any(|g| g == group))
    }
}

/// `group <name> [users <user>,...]`.
#[derive(Clone, Debug)]
pub struct UserGroup {
    pub name: String,
    pub users: Vec<String>,
    pub loc: Loc,
}

/// `user <name> [password|insecure-password <pw>] [groups <g>,...]`.
#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub password: Option<Password>,
    pub groups: Vec<String>,
    pub loc: Loc,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Password {
    /// `password <hash>`: checked with crypt(3) semantics.
    Hashed(String),
    /// `insecure-password <clear text>`.
    Insecure(String),
}

/// `peers <name>` (manual 11.2).
#[derive(Clone, Debug)]
pub struct Peers {
    pub name: Named,
    /// `disabled` (`enabled` reverts it).
    pub disabled: bool,
    /// `peer` and `server` lines, in file order.
    pub peers: Vec<Peer>,
    /// `bind` line: the local peer's listener (exclusive with `peer` lines).
    pub bind: Option<PeersBind>,
    /// `default-bind` options, as words.
    pub default_bind: Vec<String>,
    /// `default-server` options, as words.
    pub default_server: Vec<String>,
    pub shards: Option<u32>,
    pub tables: Vec<PeersTable>,
    pub logs: Vec<LogTarget>,
}

/// A `peer <name> <addr> [param*]` or `server <name> [<addr>] [param*]`
/// line.
#[derive(Clone, Debug)]
pub struct Peer {
    pub name: String,
    /// None on a `server` line naming the local peer (its address comes
    /// from the `bind` line).
    pub addr: Option<Address>,
    /// Declared with `server` rather than `peer`.
    pub server_line: bool,
    /// Server options after the address, as words (checked against the
    /// server keyword table).
    pub options: Vec<String>,
    pub loc: Loc,
}

#[derive(Clone, Debug)]
pub struct PeersBind {
    pub addr: Address,
    /// Bind options after the address, as words.
    pub options: Vec<String>,
    pub loc: Loc,
}

/// `table <name> type ... size ...`: referenced elsewhere as
/// `<peers>/<name>`.
#[derive(Clone, Debug)]
pub struct PeersTable {
    pub name: String,
    pub table: StickTable,
    pub loc: Loc,
}

/// `resolvers <name>` (manual 5.3.2). Unset fields take HAProxy's
/// defaults: retries 3, timeouts 1s, hold 30s (nx, other, refused,
/// timeout), 10s (valid), 0s (obsolete), payload 512.
#[derive(Clone, Debug)]
pub struct Resolvers {
    pub name: Named,
    pub nameservers: Vec<Nameserver>,
    /// `parse-resolv-conf` was given: the binary adds /etc/resolv.conf's
    /// nameservers where the line appeared, i.e. before
    /// `nameservers[resolv_conf_at]`.
    pub parse_resolv_conf: bool,
    pub resolv_conf_at: Option<usize>,
    pub resolve_retries: Option<u32>,
    pub timeout_resolve: Option<Duration>,
    pub timeout_retry: Option<Duration>,
    pub hold: ResolversHold,
    pub accepted_payload_size: Option<u16>,
}

#[derive(Clone, Debug)]
pub struct Nameserver {
    pub name: String,
    /// UDP unless a stream prefix (`tcp@`) was written.
    pub addr: Address,
    /// Server options after the address (TCP nameservers only), as words.
    pub options: Vec<String>,
    pub loc: Loc,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResolversHold {
    pub nx: Option<Duration>,
    pub other: Option<Duration>,
    pub refused: Option<Duration>,
    pub timeout: Option<Duration>,
    pub valid: Option<Duration>,
    pub obsolete: Option<Duration>,
}

/// `http-errors <name>` (manual 12.4).
#[derive(Clone, Debug)]
pub struct HttpErrors {
    pub name: Named,
    /// `errorfile` lines, one per status: a later line for the same status
    /// replaces the earlier one, as in HAProxy.
    pub errorfiles: Vec<SectionErrorFile>,
}

#[derive(Clone, Debug)]
pub struct SectionErrorFile {
    pub status: u16,
    pub path: String,
    /// The raw HTTP response read at parse time (empty: close silently).
    pub content: Vec<u8>,
    pub loc: Loc,
}

/// `cache <name>` (manual 6.2.1).
#[derive(Clone, Debug)]
pub struct Cache {
    pub name: Named,
    /// `total-max-size` in megabytes (mandatory, 1..4095).
    pub total_max_size_mb: Option<u32>,
    /// `max-object-size` in bytes (default: a 256th of the total size).
    pub max_object_size: Option<u32>,
    /// `max-age` in seconds (default 60).
    pub max_age: Option<u32>,
    pub process_vary: Option<bool>,
    /// `max-secondary-entries` (default 10).
    pub max_secondary_entries: Option<u32>,
}

/// `ring <name>` (manual 12.5).
#[derive(Clone, Debug)]
pub struct Ring {
    pub name: Named,
    pub description: Option<String>,
    /// `format` (HAProxy's default for rings is raw).
    pub format: Option<LogWireFormat>,
    /// `size` in bytes (default: the buffer size).
    pub size: Option<u64>,
    pub maxlen: Option<u32>,
    pub backing_file: Option<String>,
    pub timeout_connect: Option<Duration>,
    pub timeout_server: Option<Duration>,
    pub servers: Vec<RingServer>,
}

/// A `server <name> <addr> [param*]` line of a ring: a syslog server the
/// ring's contents are forwarded to.
#[derive(Clone, Debug)]
pub struct RingServer {
    pub name: String,
    pub addr: Address,
    /// Server options, as words (checked against the server keyword table).
    pub options: Vec<String>,
    pub loc: Loc,
}

/// `mailers <name>` (manual 12.3).
#[derive(Clone, Debug)]
pub struct Mailers {
    pub name: Named,
    pub mailers: Vec<Mailer>,
    /// `timeout mail` (default 10s).
    pub timeout_mail: Option<Duration>,
}

#[derive(Clone, Debug)]
pub struct Mailer {
    pub name: String,
    pub addr: Address,
    pub loc: Loc,
}

/// `program <name>` (manual 12.9, deprecated in 3.2).
#[derive(Clone, Debug)]
pub struct Program {
    pub name: Named,
    /// `command <cmd> [args*]`: mandatory.
    pub command: Vec<String>,
    pub user: Option<String>,
    pub group: Option<String>,
    /// `[no] option start-on-reload` (default: start a new instance on
    /// reload).
    pub start_on_reload: bool,
}

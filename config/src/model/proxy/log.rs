//! Log targets: where logs go, in which format, facility and level.

use crate::addr::Address;
use crate::diag::Loc;

/// Where a proxy (or the global section) sends its logs.
#[derive(Clone, Debug)]
pub enum LogTarget {
    /// `log global`: use the global section's targets.
    Global {
        loc: Loc,
    },
    Target(LogTargetSpec),
}

#[derive(Clone, Debug)]
pub struct LogTargetSpec {
    pub dest: LogDest,
    pub max_len: Option<u32>,
    pub format: LogWireFormat,
    /// `sample <ranges>:<size>`.
    pub sample: Option<String>,
    pub facility: Facility,
    pub level: Option<Level>,
    pub min_level: Option<Level>,
    /// `profile <name>` (3.1+).
    pub profile: Option<String>,
    pub loc: Loc,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogDest {
    Stdout,
    Stderr,
    /// A syslog server or UNIX datagram socket.
    Socket(Address),
    /// `ring@<name>`.
    Ring(String),
    /// A `log-forward`/backend of `mode log` servers (`backend@<name>`).
    Backend(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogWireFormat {
    #[default]
    Rfc3164,
    Rfc5424,
    Local,
    Short,
    Priority,
    Timed,
    Iso,
    Raw,
}

impl LogWireFormat {
    pub fn from_keyword(k: &str) -> Option<Self> {
        Some(match k {
            "rfc3164" => LogWireFormat::Rfc3164,
            "rfc5424" => LogWireFormat::Rfc5424,
            "local" => LogWireFormat::Local,
            "short" => LogWireFormat::Short,
            "priority" => LogWireFormat::Priority,
            "timed" => LogWireFormat::Timed,
            "iso" => LogWireFormat::Iso,
            "raw" => LogWireFormat::Raw,
            _ => return None,
        })
    }
}

/// Syslog facilities, numbered as syslog does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facility(pub u8);

impl Facility {
    pub const NAMES: [&'static str; 24] = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2",
        "ftp", "ntp", "audit", "alert", "cron2", "local0", "local1", "local2", "local3", "local4",
        "local5", "local6", "local7",
    ];
    pub fn from_keyword(k: &str) -> Option<Self> {
        Facility::NAMES
            .iter()
            .position(|n| *n == k)
            .and_then(|i| u8::try_from(i).ok())
            .map(Facility)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Emerg,
    Alert,
    Crit,
    Err,
    Warning,
    Notice,
    Info,
    Debug,
}

impl Level {
    pub fn from_keyword(k: &str) -> Option<Self> {
        Some(match k {
            "emerg" => Level::Emerg,
            "alert" => Level::Alert,
            "crit" => Level::Crit,
            "err" => Level::Err,
            "warning" => Level::Warning,
            "notice" => Level::Notice,
            "info" => Level::Info,
            "debug" => Level::Debug,
            _ => return None,
        })
    }
}

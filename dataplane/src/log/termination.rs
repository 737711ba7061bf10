//! The termination state of a stream (manual 8.5, "Stream state at
//! disconnection"): who or what ended it, and in which phase. Logged by
//! `%ts` as two letters ("--", "CD", "sD", "SC", "cR" ...) and by `%tsc`
//! with the two persistence-cookie letters of HTTP mode after them.

use std::fmt;

/// The first event that ended the stream (first letter).
///
/// Letters from HAProxy's `sess_term_cond` (src/log.c).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Cause {
    /// `-`: normal completion, both sides closed with nothing left.
    #[default]
    None,
    /// `L`: processed locally by HAProxy (an applet, a redirect ...).
    Local,
    /// `C`: the client aborted.
    ClientAbort,
    /// `S`: the server aborted or refused.
    ServerAbort,
    /// `P`: the proxy aborted (limits, deny rules, security checks).
    Proxy,
    /// `R`: a resource was exhausted (memory, sockets, source ports).
    Resource,
    /// `I`: internal error (a bug).
    Internal,
    /// `D`: killed because the server went down (`on-marked-down`).
    Down,
    /// `U`: killed on a backup server because an active one came up.
    Up,
    /// `K`: killed by an admin.
    Killed,
    /// `c`: client-side timeout.
    ClientTimeout,
    /// `s`: server-side timeout.
    ServerTimeout,
}

impl Cause {
    pub fn letter(self) -> char {
        match self {
            Cause::None => '-',
            Cause::Local => 'L',
            Cause::ClientAbort => 'C',
            Cause::ServerAbort => 'S',
            Cause::Proxy => 'P',
            Cause::Resource => 'R',
            Cause::Internal => 'I',
            Cause::Down => 'D',
            Cause::Up => 'U',
            Cause::Killed => 'K',
            Cause::ClientTimeout => 'c',
            Cause::ServerTimeout => 's',
        }
    }

    /// Whether the stream counts as an error for `option dontlog-normal` and
    /// `option log-separate-errors`: HAProxy's `strm_log()` treats every
    /// cause past `L` (`SF_ERR_LOCAL`) as one.
    pub fn is_error(self) -> bool {
        !matches!(self, Cause::None | Cause::Local)
    }
}

/// The phase the stream was in when it ended (second letter).
///
/// Letters from HAProxy's `sess_fin_state` (src/log.c).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Phase {
    /// `-`: after the end of the data transfer.
    #[default]
    None,
    /// `R`: waiting for a complete request (HTTP).
    Request,
    /// `Q`: waiting in a queue.
    Queue,
    /// `C`: waiting for the server connection.
    Connect,
    /// `H`: waiting for the response headers (HTTP).
    Headers,
    /// `D`: data phase.
    Data,
    /// `L`: sending the last data to the client.
    Last,
    /// `T`: tarpitted.
    Tarpit,
}

impl Phase {
    pub fn letter(self) -> char {
        match self {
            Phase::None => '-',
            Phase::Request => 'R',
            Phase::Queue => 'Q',
            Phase::Connect => 'C',
            Phase::Headers => 'H',
            Phase::Data => 'D',
            Phase::Last => 'L',
            Phase::Tarpit => 'T',
        }
    }
}

/// How a stream ended; `Display` gives the two letters of `%ts`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Termination {
    pub cause: Cause,
    pub phase: Phase,
}

impl Termination {
    pub const NORMAL: Termination = Termination {
        cause: Cause::None,
        phase: Phase::None,
    };

    pub fn new(cause: Cause, phase: Phase) -> Self {
        Termination { cause, phase }
    }

    pub fn letters(self) -> [char; 2] {
        [self.cause.letter(), self.phase.letter()]
    }
}

impl fmt::Display for Termination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b] = self.letters();
        write!(f, "{a}{b}")
    }
}

/// What the client's persistence cookie said (third letter of `%tsc`).
/// Letters from HAProxy's `sess_cookie`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RequestCookie {
    /// `N`: no cookie.
    #[default]
    None,
    /// `I`: a cookie matching no server.
    Invalid,
    /// `D`: a cookie for a server that was down.
    Down,
    /// `V`: a valid cookie.
    Valid,
    /// `E`: an expired cookie (`maxidle`).
    Expired,
    /// `O`: an old cookie (`maxlife`).
    Old,
    /// `U`: a cookie that was not used (`ignore-persist`, `use-server`).
    Unused,
}

impl RequestCookie {
    pub fn letter(self) -> char {
        match self {
            RequestCookie::None => 'N',
            RequestCookie::Invalid => 'I',
            RequestCookie::Down => 'D',
            RequestCookie::Valid => 'V',
            RequestCookie::Expired => 'E',
            RequestCookie::Old => 'O',
            RequestCookie::Unused => 'U',
        }
    }
}

/// What was done with the server's persistence cookie (fourth letter of
/// `%tsc`). Letters from HAProxy's `sess_set_cookie`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ResponseCookie {
    /// `N`: no cookie set.
    #[default]
    None,
    /// `P`: set by the server and left unchanged (passive).
    Passive,
    /// `D`: deleted.
    Deleted,
    /// `I`: inserted.
    Inserted,
    /// `R`: rewritten.
    Rewritten,
    /// `U`: updated (`maxidle` / `maxlife`).
    Updated,
}

impl ResponseCookie {
    pub fn letter(self) -> char {
        match self {
            ResponseCookie::None => 'N',
            ResponseCookie::Passive => 'P',
            ResponseCookie::Deleted => 'D',
            ResponseCookie::Inserted => 'I',
            ResponseCookie::Rewritten => 'R',
            ResponseCookie::Updated => 'U',
        }
    }
}

/// The persistence cookie letters of `%tsc`, known only when the backend
/// uses a `cookie` (otherwise both letters are `-`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CookieStatus {
    pub request: RequestCookie,
    pub response: ResponseCookie,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cause_letters() {
        let all = [
            (Cause::None, '-'),
            (Cause::Local, 'L'),
            (Cause::ClientAbort, 'C'),
            (Cause::ServerAbort, 'S'),
            (Cause::Proxy, 'P'),
            (Cause::Resource, 'R'),
            (Cause::Internal, 'I'),
            (Cause::Down, 'D'),
            (Cause::Up, 'U'),
            (Cause::Killed, 'K'),
            (Cause::ClientTimeout, 'c'),
            (Cause::ServerTimeout, 's'),
        ];
        for (c, l) in all {
            assert_eq!(c.letter(), l, "{c:?}");
        }
        assert!(!Cause::None.is_error());
        assert!(!Cause::Local.is_error());
        assert!(Cause::ClientTimeout.is_error());
        assert!(Cause::ServerAbort.is_error());
    }

    #[test]
    fn phase_letters() {
        let all = [
            (Phase::None, '-'),
            (Phase::Request, 'R'),
            (Phase::Queue, 'Q'),
            (Phase::Connect, 'C'),
            (Phase::Headers, 'H'),
            (Phase::Data, 'D'),
            (Phase::Last, 'L'),
            (Phase::Tarpit, 'T'),
        ];
        for (p, l) in all {
            assert_eq!(p.letter(), l, "{p:?}");
        }
    }

    #[test]
    fn two_letters() {
        assert_eq!(Termination::NORMAL.to_string(), "--");
        assert_eq!(Termination::default().to_string(), "--");
        let t = |c, p| Termination::new(c, p).to_string();
        assert_eq!(t(Cause::ClientAbort, Phase::Data), "CD");
        assert_eq!(t(Cause::ServerTimeout, Phase::Data), "sD");
        assert_eq!(t(Cause::ServerAbort, Phase::Connect), "SC");
        assert_eq!(t(Cause::ClientTimeout, Phase::Request), "cR");
        assert_eq!(t(Cause::Proxy, Phase::Tarpit), "PT");
        assert_eq!(t(Cause::ServerTimeout, Phase::Queue), "sQ");
        assert_eq!(t(Cause::Killed, Phase::Headers), "KH");
        assert_eq!(t(Cause::ClientAbort, Phase::Last), "CL");
    }

    #[test]
    fn cookie_letters() {
        assert_eq!(RequestCookie::None.letter(), 'N');
        assert_eq!(RequestCookie::Valid.letter(), 'V');
        assert_eq!(RequestCookie::Expired.letter(), 'E');
        assert_eq!(ResponseCookie::Inserted.letter(), 'I');
        assert_eq!(ResponseCookie::Passive.letter(), 'P');
    }
}

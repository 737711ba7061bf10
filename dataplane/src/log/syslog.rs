//! The wire side of a log message, sans IO: the header each `format` of the
//! `log` keyword puts before the text (HAProxy's `build_log_header()`,
//! src/log.c), `len` truncation and the trailing `\n` (`__do_send_log()`,
//! `fd_write_frag_line()`), the level filters and `sample` ranges.
//!
//! Expected strings in the tests were captured from haproxy 2.6.12 (Debian
//! 12, TZ=UTC) sending the same message to a UDP socket once per format:
//!   global
//!       log 127.0.0.1:<port> format rfc3164 local0    (and rfc5424 local1,
//!       short local2, priority local3, timed local4, iso local5, raw local6,
//!       local local7)
//! with `log-send-hostname myhost` / `log-tag mytag` for the host and tag
//! variants, run as `haproxy -d -f h.cfg`, datagrams read back with Python.

use std::fmt::Write as _;
use std::time::SystemTime;

use ringlb_config::model::{Level, LogWireFormat};

use super::time::{DateTime, Zone};

/// HAProxy's `MAX_SYSLOG_LEN`: the `len` of a `log` line without one.
pub const DEFAULT_MAX_LEN: usize = 1024;

/// Syslog severity number (RFC 5424: emerg 0 ... debug 7).
pub fn severity(level: Level) -> u8 {
    match level {
        Level::Emerg => 0,
        Level::Alert => 1,
        Level::Crit => 2,
        Level::Err => 3,
        Level::Warning => 4,
        Level::Notice => 5,
        Level::Info => 6,
        Level::Debug => 7,
    }
}

/// The level filter of one `log` line: `<level>` (the least important level
/// sent, default debug) and `<minlevel>` (the most important level written,
/// more important messages being lowered to it, default emerg).
///
/// Returns the level to write, or `None` when the message is filtered out
/// (HAProxy's `process_send_log()`).
pub fn filter(level: Level, max: Option<Level>, min: Option<Level>) -> Option<Level> {
    if level > max.unwrap_or(Level::Debug) {
        return None;
    }
    Some(level.max(min.unwrap_or(Level::Emerg)))
}

/// What the header of one message says.
#[derive(Clone, Copy, Debug)]
pub struct Header<'a> {
    pub format: LogWireFormat,
    /// Syslog facility number (`local0` is 16).
    pub facility: u8,
    pub level: Level,
    /// `log-send-hostname`: rfc3164 prints `localhost` and rfc5424 `-`
    /// without one.
    pub hostname: Option<&'a str>,
    /// `log-tag` (default: the program name); empty: no tag nor pid.
    pub tag: &'a str,
    pub pid: u32,
    /// When the message was emitted.
    pub date: SystemTime,
    /// RFC 5424 STRUCTURED-DATA (`log-format-sd`); empty prints `-`.
    pub sd: &'a str,
}

impl Header<'_> {
    /// Appends the header, up to the first byte of the message.
    pub fn write(&self, zone: &Zone, out: &mut String) {
        use LogWireFormat as F;
        let sev = severity(self.level);
        let pri = u32::from(self.facility) * 8 + u32::from(sev);
        match self.format {
            F::Rfc3164 | F::Local | F::Rfc5424 | F::Priority => {
                out.push('<');
                let _ = write!(out, "{pri}");
                out.push('>');
            }
            // These formats ignore the facility.
            F::Short | F::Timed => {
                out.push('<');
                let _ = write!(out, "{sev}");
                out.push('>');
            }
            F::Iso | F::Raw => {}
        }
        match self.format {
            F::Rfc3164 | F::Local => {
                DateTime::new(self.date, zone).write_rfc3164(out);
                out.push(' ');
                if self.format == F::Rfc3164 {
                    // The field is mandatory in rfc3164.
                    out.push_str(self.hostname.unwrap_or("localhost"));
                    out.push(' ');
                }
                if !self.tag.is_empty() {
                    out.push_str(self.tag);
                    out.push('[');
                    let _ = write!(out, "{}", self.pid);
                    out.push_str("]: ");
                }
            }
            F::Rfc5424 => {
                out.push_str("1 ");
                DateTime::new(self.date, zone).write_iso_us(out);
                out.push(' ');
                out.push_str(self.hostname.filter(|h| !h.is_empty()).unwrap_or("-"));
                out.push(' ');
                out.push_str(if self.tag.is_empty() { "-" } else { self.tag });
                out.push(' ');
                let _ = write!(out, "{}", self.pid);
                // MSGID: `-`; STRUCTURED-DATA: `log-format-sd`'s without
                // its trailing spaces, else `-` (HAProxy's __send_log).
                out.push_str(" - ");
                let sd = self.sd.trim_end_matches(' ');
                out.push_str(if sd.is_empty() { "-" } else { sd });
                out.push(' ');
            }
            F::Timed | F::Iso => {
                DateTime::new(self.date, zone).write_iso_us(out);
                out.push(' ');
            }
            F::Priority | F::Short | F::Raw => {}
        }
    }
}

/// Frames `msg` for the wire into `out` (cleared first): header, message
/// without its trailing `\n` / NUL, cut so that the whole fits in `max_len`
/// bytes with the `\n` that always ends it (HAProxy 3.2's `__do_send_log()`
/// and `fd_write_frag_line()` keep `max_len - 1` bytes then add `\n`;
/// haproxy 2.6 kept `max_len` bytes of UDP datagrams before the `\n`).
pub fn frame(header: &Header<'_>, zone: &Zone, msg: &str, max_len: usize, out: &mut Vec<u8>) {
    // The header is built in a buffer the thread keeps (the log thread
    // frames every line): no allocation per line.
    thread_local! {
        static HEAD: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    HEAD.with(|head| {
        let mut head = head.borrow_mut();
        head.clear();
        header.write(zone, &mut head);
        let msg = msg.trim_end_matches(['\n', '\0']);
        let keep = max_len.saturating_sub(1);
        out.clear();
        out.extend(head.bytes().chain(msg.bytes()).take(keep));
        out.push(b'\n');
    });
}

/// A `sample <ranges>:<size>` setting: of every `size` messages a target
/// accepts, only those whose position (from 1) is in a range are sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sampling {
    ranges: Vec<(u32, u32)>,
    size: u32,
}

impl Sampling {
    /// Parses `1,3-5:10` with HAProxy's checks (`get_logger_smp_range()`,
    /// `parse_logger()`).
    pub fn parse(text: &str) -> Result<Sampling, String> {
        let Some((ranges_text, size_text)) = text.split_once(':') else {
            return Err("Missing sample size".into());
        };
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        for r in ranges_text.split(',') {
            let bad = || format!("wrong sample range '{r}'");
            let (low, high) = match r.split_once('-') {
                Some((l, h)) => (l.parse::<u32>(), h.parse::<u32>()),
                None => (r.parse::<u32>(), r.parse::<u32>()),
            };
            let (low, high) = (low.map_err(|_| bad())?, high.map_err(|_| bad())?);
            if low == 0 || high < low || (high == low && r.contains('-')) {
                return Err(bad());
            }
            if ranges.iter().any(|(l, h)| low <= *h && *l <= high) {
                return Err("ranges are overlapping".into());
            }
            ranges.push((low, high));
        }
        if ranges.is_empty() {
            return Err("no sampling ranges given".into());
        }
        let size: u32 =
            size_text.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                format!("wrong sample size '{size_text}' for sample range '{text}'")
            })?;
        let max_high = ranges.iter().map(|(_, h)| *h).max().unwrap_or(0);
        if size < max_high {
            return Err(format!(
                "sample size {size} should be greater or equal to {max_high} the maximum of the high ranges limits"
            ));
        }
        ranges.sort_unstable();
        Ok(Sampling { ranges, size })
    }

    /// Whether message number `n` (counting from 0) is sent.
    pub fn picks(&self, n: u64) -> bool {
        let pos = n % u64::from(self.size) + 1;
        self.ranges
            .iter()
            .any(|(l, h)| u64::from(*l) <= pos && pos <= u64::from(*h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    const MSG: &str =
        "127.0.0.1:55052 [23/Nov/2026:19:16:04.977] fe be/s1 1/0/0 12 -- 1/1/0/0/0 0/0";

    fn framed(
        format: LogWireFormat,
        facility: u8,
        host: Option<&str>,
        tag: &str,
        micros: u64,
    ) -> String {
        let h = Header {
            format,
            facility,
            level: Level::Info,
            hostname: host,
            tag,
            pid: 18729,
            date: UNIX_EPOCH + Duration::from_micros(1_795_461_364_000_000 + micros),
            sd: "",
        };
        let mut out = Vec::new();
        frame(&h, &Zone::UTC, MSG, DEFAULT_MAX_LEN, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_format_matches_haproxy() {
        use LogWireFormat as F;
        let cases = [
            (
                F::Rfc3164,
                16,
                978_000,
                "<134>Nov 23 19:16:04 localhost haproxy[18729]: ",
            ),
            (
                F::Rfc5424,
                17,
                978_063,
                "<142>1 2026-11-23T19:16:04.978063+00:00 - haproxy 18729 - - ",
            ),
            (F::Short, 18, 0, "<6>"),
            (F::Priority, 19, 0, "<158>"),
            (
                F::Timed,
                20,
                978_084,
                "<6>2026-11-23T19:16:04.978084+00:00 ",
            ),
            (F::Iso, 21, 978_089, "2026-11-23T19:16:04.978089+00:00 "),
            (F::Raw, 22, 0, ""),
            (F::Local, 23, 0, "<190>Nov 23 19:16:04 haproxy[18729]: "),
        ];
        for (format, facility, micros, head) in cases {
            assert_eq!(
                framed(format, facility, None, "haproxy", micros),
                format!("{head}{MSG}\n"),
                "{format:?}"
            );
        }
    }

    #[test]
    fn hostname_and_tag() {
        use LogWireFormat as F;
        // haproxy 2.6 with log-send-hostname myhost and log-tag mytag.
        assert!(framed(F::Rfc3164, 16, Some("myhost"), "mytag", 0)
            .starts_with("<134>Nov 23 19:16:04 myhost mytag[18729]: 127.0.0.1"));
        assert!(framed(F::Rfc5424, 16, Some("myhost"), "mytag", 5)
            .starts_with("<134>1 2026-11-23T19:16:04.000005+00:00 myhost mytag 18729 - - 127"));
        // No tag: neither tag nor pid in rfc3164, `-` in rfc5424.
        assert!(framed(F::Local, 16, None, "", 0).starts_with("<134>Nov 23 19:16:04 127.0.0.1"));
        assert!(framed(F::Rfc5424, 16, None, "", 0).contains(":00 - - 18729 - - 127"));
    }

    #[test]
    fn truncation_and_newlines() {
        let h = Header {
            format: LogWireFormat::Raw,
            facility: 0,
            level: Level::Info,
            hostname: None,
            tag: "t",
            pid: 1,
            date: UNIX_EPOCH,
            sd: "",
        };
        let mut out = Vec::new();
        // haproxy 2.6 "log stdout len 80 format raw": 79 bytes then '\n'.
        let long = format!("127.0.0.1:56850 {}", "0123456789".repeat(10));
        frame(&h, &Zone::UTC, &long, 80, &mut out);
        assert_eq!(out.len(), 80);
        assert_eq!(
            out,
            b"127.0.0.1:56850 012345678901234567890123456789012345678901234567890123456789012\n"
        );
        // Trailing newlines and NULs of the message are dropped.
        frame(&h, &Zone::UTC, "abc\n\0\n", 80, &mut out);
        assert_eq!(out, b"abc\n");
        // The header counts in the length.
        let h = Header {
            format: LogWireFormat::Short,
            ..h
        };
        frame(&h, &Zone::UTC, "abcdef", 6, &mut out);
        assert_eq!(out, b"<6>ab\n");
        frame(&h, &Zone::UTC, "abcdef", 0, &mut out);
        assert_eq!(out, b"\n");
    }

    #[test]
    fn level_filters() {
        // "log ... local3 info err": info sent as info, emerg lowered to err.
        assert_eq!(
            filter(Level::Info, Some(Level::Info), Some(Level::Err)),
            Some(Level::Info)
        );
        assert_eq!(
            filter(Level::Emerg, Some(Level::Info), Some(Level::Err)),
            Some(Level::Err)
        );
        assert_eq!(filter(Level::Debug, Some(Level::Info), None), None);
        // "... local1 notice": info filtered out (captured: nothing sent).
        assert_eq!(filter(Level::Info, Some(Level::Notice), None), None);
        assert_eq!(filter(Level::Debug, None, None), Some(Level::Debug));
        assert_eq!(severity(Level::Warning), 4);
    }

    #[test]
    fn sampling() {
        let s = Sampling::parse("1,3-4:5").unwrap();
        let picked: Vec<u64> = (0..10).filter(|n| s.picks(*n)).collect();
        assert_eq!(picked, vec![0, 2, 3, 5, 7, 8]);
        assert_eq!(
            Sampling::parse("2:1").unwrap_err(),
            "sample size 1 should be greater or equal to 2 the maximum of the high ranges limits"
        );
        assert_eq!(
            Sampling::parse("1-3,2:5").unwrap_err(),
            "ranges are overlapping"
        );
        assert_eq!(
            Sampling::parse("0:5").unwrap_err(),
            "wrong sample range '0'"
        );
        assert_eq!(
            Sampling::parse("3-3:5").unwrap_err(),
            "wrong sample range '3-3'"
        );
        assert_eq!(
            Sampling::parse("1:x").unwrap_err(),
            "wrong sample size 'x' for sample range '1:x'"
        );
        assert_eq!(Sampling::parse("1").unwrap_err(), "Missing sample size");
    }
}

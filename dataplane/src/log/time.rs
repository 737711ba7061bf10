//! Dates of log lines and syslog headers.
//!
//! HAProxy writes `%t`, `%Tl`, `%tr`, `%trl` and the rfc3164 / rfc5424 /
//! timed / iso header dates in local time (`localtime_r()`), `%T` and `%trg`
//! in UTC. The workspace has no date crate and no `unsafe` for libc's
//! `localtime_r()`, so the local zone is read here, once, the way glibc does:
//! `TZ` (unset: `/etc/localtime`; empty: UTC; `:name` or `name`: a TZif file
//! under `/usr/share/zoneinfo`, else a POSIX TZ rule), TZif version 1 to 4
//! with its POSIX footer for dates after the last transition (RFC 8536).
//!
//! Loading reads a file: [`init_local_zone`] does it at start-up, before the
//! data-path cores run; [`local_zone`] falls back to loading on first use.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A time zone: how many seconds east of UTC local time is at a given date.
#[derive(Clone, Debug, PartialEq)]
pub struct Zone {
    /// Transition dates (UNIX seconds, ascending) and the offset from each.
    transitions: Vec<(i64, i32)>,
    /// Offset before the first transition.
    initial: i32,
    /// Rule for dates after the last transition (or for all dates).
    rule: Option<Rule>,
}

impl Zone {
    pub const UTC: Zone = Zone {
        transitions: Vec::new(),
        initial: 0,
        rule: None,
    };

    /// A zone at a fixed offset east of UTC.
    pub fn fixed(offset: i32) -> Zone {
        Zone {
            transitions: Vec::new(),
            initial: offset,
            rule: None,
        }
    }

    /// Seconds east of UTC at `unix` (UTC seconds).
    pub fn offset_at(&self, unix: i64) -> i32 {
        let after = self.transitions.partition_point(|(t, _)| *t <= unix);
        if after == self.transitions.len() {
            // Past the last transition (or none at all): the footer rule is
            // authoritative (RFC 8536 3.3).
            if let Some(rule) = &self.rule {
                return rule.offset_at(unix);
            }
        }
        match after.checked_sub(1).and_then(|i| self.transitions.get(i)) {
            Some((_, offset)) => *offset,
            None => self.initial,
        }
    }

    /// Parses a TZif file (RFC 8536).
    pub fn from_tzif(data: &[u8]) -> Option<Zone> {
        let (v1, version) = TzifHeader::read(data)?;
        let v1_len = v1.data_len(4);
        if version >= 2 {
            let rest = data.get(44 + v1_len..)?;
            let (v2, _) = TzifHeader::read(rest)?;
            let block = rest.get(44..44 + v2.data_len(8))?;
            let mut zone = v2.parse(block, 8)?;
            let footer = rest.get(44 + v2.data_len(8)..).unwrap_or_default();
            let footer = footer.strip_prefix(b"\n").unwrap_or_default();
            let end = footer
                .iter()
                .position(|b| *b == b'\n')
                .unwrap_or(footer.len());
            let text = std::str::from_utf8(footer.get(..end).unwrap_or_default()).ok()?;
            if !text.is_empty() {
                zone.rule = Rule::parse(text);
            }
            Some(zone)
        } else {
            v1.parse(data.get(44..44 + v1_len)?, 4)
        }
    }

    /// Reads the zone as glibc would from `tz` (the value of `TZ`).
    pub fn load(tz: Option<&str>) -> Zone {
        let name = match tz {
            None => return read_tzif("/etc/localtime").unwrap_or(Zone::UTC),
            Some("") => return Zone::UTC,
            Some(t) => t.strip_prefix(':').unwrap_or(t),
        };
        let path = if name.starts_with('/') {
            name.to_string()
        } else {
            format!("/usr/share/zoneinfo/{name}")
        };
        if !name.contains("..") {
            if let Some(z) = read_tzif(&path) {
                return z;
            }
        }
        Rule::parse(name).map_or(Zone::UTC, |rule| Zone {
            transitions: Vec::new(),
            initial: rule.std_offset,
            rule: Some(rule),
        })
    }
}

fn read_tzif(path: &str) -> Option<Zone> {
    Zone::from_tzif(&std::fs::read(path).ok()?)
}

struct TzifHeader {
    isutcnt: usize,
    isstdcnt: usize,
    leapcnt: usize,
    timecnt: usize,
    typecnt: usize,
    charcnt: usize,
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_be_bytes(s))
}

fn be_i64(b: &[u8], at: usize) -> Option<i64> {
    let s: [u8; 8] = b.get(at..at + 8)?.try_into().ok()?;
    Some(i64::from_be_bytes(s))
}

impl TzifHeader {
    fn read(b: &[u8]) -> Option<(TzifHeader, u8)> {
        if b.get(..4)? != b"TZif" {
            return None;
        }
        let version = match b.get(4)? {
            0 => 1,
            v => v.checked_sub(b'0')?,
        };
        let n = |i: usize| be_u32(b, 20 + 4 * i).and_then(|v| usize::try_from(v).ok());
        Some((
            TzifHeader {
                isutcnt: n(0)?,
                isstdcnt: n(1)?,
                leapcnt: n(2)?,
                timecnt: n(3)?,
                typecnt: n(4)?,
                charcnt: n(5)?,
            },
            version,
        ))
    }

    fn data_len(&self, time_size: usize) -> usize {
        self.timecnt * time_size
            + self.timecnt
            + self.typecnt * 6
            + self.charcnt
            + self.leapcnt * (time_size + 4)
            + self.isstdcnt
            + self.isutcnt
    }

    fn parse(&self, b: &[u8], time_size: usize) -> Option<Zone> {
        let idx_at = self.timecnt * time_size;
        let types_at = idx_at + self.timecnt;
        let offset_of = |i: usize| -> Option<i32> {
            let v = be_u32(b, types_at + 6 * i)?;
            Some(i32::from_be_bytes(v.to_be_bytes()))
        };
        let mut transitions = Vec::with_capacity(self.timecnt);
        for i in 0..self.timecnt {
            let t = if time_size == 8 {
                be_i64(b, i * 8)?
            } else {
                i64::from(i32::from_be_bytes(be_u32(b, i * 4)?.to_be_bytes()))
            };
            let ty = usize::from(*b.get(idx_at + i)?);
            transitions.push((t, offset_of(ty)?));
        }
        Some(Zone {
            transitions,
            // RFC 8536 3.2: local time before the first transition is
            // described by the first time type.
            initial: if self.typecnt > 0 { offset_of(0)? } else { 0 },
            rule: None,
        })
    }
}

/// A POSIX TZ rule (`CET-1CEST,M3.5.0,M10.5.0/3`), offsets east of UTC.
#[derive(Clone, Debug, PartialEq)]
struct Rule {
    std_offset: i32,
    dst: Option<Dst>,
}

#[derive(Clone, Debug, PartialEq)]
struct Dst {
    offset: i32,
    start: (RuleDay, i32),
    end: (RuleDay, i32),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum RuleDay {
    /// `Jn`: day 1..=365, February 29th never counted.
    Julian1(u16),
    /// `n`: day 0..=365, counting February 29th.
    Julian0(u16),
    /// `Mm.w.d`: day `d` (0 Sunday) of week `w` (5: last) of month `m`.
    MonthWeekDay(u8, u8, u8),
}

struct RuleParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl RuleParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn name(&mut self) -> Option<()> {
        if self.eat(b'<') {
            while self.peek()? != b'>' {
                self.i += 1;
            }
            self.i += 1;
            return Some(());
        }
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            self.i += 1;
        }
        (self.i - start >= 3).then_some(())
    }

    fn num(&mut self) -> Option<i32> {
        let start = self.i;
        let mut v: i32 = 0;
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            v = v.checked_mul(10)?.checked_add(i32::from(c - b'0'))?;
            self.i += 1;
        }
        (self.i > start).then_some(v)
    }

    /// `[+-]hh[:mm[:ss]]` in seconds, sign as written.
    fn hms(&mut self) -> Option<i32> {
        let neg = if self.eat(b'-') {
            true
        } else {
            self.eat(b'+');
            false
        };
        let mut secs = self.num()?.checked_mul(3600)?;
        if self.eat(b':') {
            secs += self.num()? * 60;
            if self.eat(b':') {
                secs += self.num()?;
            }
        }
        Some(if neg { -secs } else { secs })
    }

    fn day(&mut self) -> Option<(RuleDay, i32)> {
        let day = if self.eat(b'J') {
            RuleDay::Julian1(u16::try_from(self.num()?).ok()?)
        } else if self.eat(b'M') {
            let m = u8::try_from(self.num()?).ok()?;
            self.eat(b'.').then_some(())?;
            let w = u8::try_from(self.num()?).ok()?;
            self.eat(b'.').then_some(())?;
            let d = u8::try_from(self.num()?).ok()?;
            if !(1..=12).contains(&m) || !(1..=5).contains(&w) || d > 6 {
                return None;
            }
            RuleDay::MonthWeekDay(m, w, d)
        } else {
            RuleDay::Julian0(u16::try_from(self.num()?).ok()?)
        };
        let time = if self.eat(b'/') { self.hms()? } else { 7200 };
        Some((day, time))
    }
}

impl Rule {
    fn parse(text: &str) -> Option<Rule> {
        let mut p = RuleParser {
            s: text.as_bytes(),
            i: 0,
        };
        p.name()?;
        // POSIX offsets are west of UTC: negate.
        let std_offset = -p.hms()?;
        if p.peek().is_none() {
            return Some(Rule {
                std_offset,
                dst: None,
            });
        }
        p.name()?;
        let offset = match p.peek() {
            Some(b',') | None => std_offset + 3600,
            Some(_) => -p.hms()?,
        };
        let (start, end) = if p.eat(b',') {
            let start = p.day()?;
            p.eat(b',').then_some(())?;
            (start, p.day()?)
        } else {
            // glibc's default rule when none is given (US rules).
            (
                (RuleDay::MonthWeekDay(3, 2, 0), 7200),
                (RuleDay::MonthWeekDay(11, 1, 0), 7200),
            )
        };
        if p.peek().is_some() {
            return None;
        }
        Some(Rule {
            std_offset,
            dst: Some(Dst { offset, start, end }),
        })
    }

    fn offset_at(&self, unix: i64) -> i32 {
        let Some(dst) = &self.dst else {
            return self.std_offset;
        };
        let (year, _, _) = civil_from_days((unix + i64::from(self.std_offset)).div_euclid(86400));
        // Transition dates in UTC: the start is given in standard time, the
        // end in daylight time.
        let start =
            rule_day_secs(year, dst.start.0) + i64::from(dst.start.1) - i64::from(self.std_offset);
        let end = rule_day_secs(year, dst.end.0) + i64::from(dst.end.1) - i64::from(dst.offset);
        let in_dst = if start < end {
            start <= unix && unix < end
        } else {
            // Southern hemisphere: daylight time spans the new year.
            !(end <= unix && unix < start)
        };
        if in_dst {
            dst.offset
        } else {
            self.std_offset
        }
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u8) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Midnight (local) of the rule's day in `year`, as seconds since the epoch
/// of the local calendar.
fn rule_day_secs(year: i64, day: RuleDay) -> i64 {
    let jan1 = days_from_civil(year, 1, 1);
    let d = match day {
        RuleDay::Julian1(n) => {
            let n = i64::from(n);
            jan1 + n - 1 + i64::from(is_leap(year) && n >= 60)
        }
        RuleDay::Julian0(n) => jan1 + i64::from(n),
        RuleDay::MonthWeekDay(m, w, wd) => {
            let first = days_from_civil(year, u32::from(m), 1);
            let first_wd = (first + 4).rem_euclid(7);
            let mut day = 1 + (i64::from(wd) - first_wd).rem_euclid(7) + (i64::from(w) - 1) * 7;
            while day > days_in_month(year, m) {
                day -= 7;
            }
            first + day - 1
        }
    };
    d * 86400
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01: (year, month 1..=12, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

/// A broken-down date, as `struct tm` plus the sub-second part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub min: u32,
    pub sec: u32,
    pub micros: u32,
    /// Seconds east of UTC.
    pub offset: i32,
}

impl DateTime {
    /// `t` seen in `zone`.
    pub fn new(t: SystemTime, zone: &Zone) -> DateTime {
        let (secs, micros) = unix_parts(t);
        let offset = zone.offset_at(secs);
        let local = secs + i64::from(offset);
        let (year, month, day) = civil_from_days(local.div_euclid(86400));
        let tod = u32::try_from(local.rem_euclid(86400)).unwrap_or(0);
        DateTime {
            year,
            month,
            day,
            hour: tod / 3600,
            min: tod / 60 % 60,
            sec: tod % 60,
            micros,
            offset,
        }
    }

    pub fn utc(t: SystemTime) -> DateTime {
        DateTime::new(t, &Zone::UTC)
    }

    fn month_name(&self) -> &'static str {
        let i = usize::try_from(self.month.saturating_sub(1)).unwrap_or(0);
        MONTHS.get(i).copied().unwrap_or("Jan")
    }

    /// `23/Nov/2026:19:09:12.345` (`%t`, HAProxy's `date2str_log()`).
    pub fn write_clf_ms(&self, out: &mut String) {
        let _ = write!(
            out,
            "{:02}/{}/{:04}:{:02}:{:02}:{:02}.{:03}",
            self.day,
            self.month_name(),
            self.year,
            self.hour,
            self.min,
            self.sec,
            self.micros / 1000
        );
    }

    /// `23/Nov/2026:19:09:12 +0000` (`%T`, `%Tl`: `gmt2str_log()`,
    /// `localdate2str_log()`).
    pub fn write_clf_zone(&self, out: &mut String) {
        let (sign, off) = sign_abs(self.offset);
        let _ = write!(
            out,
            "{:02}/{}/{:04}:{:02}:{:02}:{:02} {sign}{:02}{:02}",
            self.day,
            self.month_name(),
            self.year,
            self.hour,
            self.min,
            self.sec,
            off / 3600,
            off / 60 % 60
        );
    }

    /// `Nov 23 19:09:12` (rfc3164 header; the day padded with a space).
    pub fn write_rfc3164(&self, out: &mut String) {
        let _ = write!(
            out,
            "{} {:2} {:02}:{:02}:{:02}",
            self.month_name(),
            self.day,
            self.hour,
            self.min,
            self.sec
        );
    }

    /// `2026-11-23T19:09:12.345678+00:00` (rfc5424, timed and iso headers:
    /// HAProxy's `timeofday_as_iso_us()`).
    pub fn write_iso_us(&self, out: &mut String) {
        let (sign, off) = sign_abs(self.offset);
        let _ = write!(
            out,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}{sign}{:02}:{:02}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.min,
            self.sec,
            self.micros,
            off / 3600,
            off / 60 % 60
        );
    }
}

fn sign_abs(offset: i32) -> (char, u32) {
    (if offset < 0 { '-' } else { '+' }, offset.unsigned_abs())
}

/// UNIX seconds and microseconds of `t` (before 1970: negative seconds,
/// positive microseconds).
pub fn unix_parts(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_micros(),
        ),
        Err(e) => {
            let d = e.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            match d.subsec_micros() {
                0 => (-secs, 0),
                us => (-secs - 1, 1_000_000 - us),
            }
        }
    }
}

/// `t` plus `ms` milliseconds.
pub fn add_ms(t: SystemTime, ms: u64) -> SystemTime {
    t.checked_add(Duration::from_millis(ms)).unwrap_or(t)
}

static LOCAL: OnceLock<Zone> = OnceLock::new();

/// Loads the local zone now (start-up), from `TZ` or `/etc/localtime`.
pub fn init_local_zone() -> &'static Zone {
    local_zone()
}

/// The local zone (loaded on first use if [`init_local_zone`] was not
/// called).
pub fn local_zone() -> &'static Zone {
    LOCAL.get_or_init(|| Zone::load(std::env::var("TZ").ok().as_deref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64, micros: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(u64::try_from(secs).unwrap(), micros * 1000)
    }

    // 2026-11-23T19:16:04.977Z, the accept date of a line captured from
    // haproxy 2.6 (see format.rs).
    const T: i64 = 1_795_461_364;

    #[test]
    fn civil_round_trip() {
        for days in [-719_468, -1, 0, 1, 59, 365, 11_016, 20_415, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn formats() {
        let d = DateTime::utc(at(T, 977_123));
        let mut s = String::new();
        d.write_clf_ms(&mut s);
        assert_eq!(s, "23/Nov/2026:19:16:04.977");
        s.clear();
        d.write_clf_zone(&mut s);
        assert_eq!(s, "23/Nov/2026:19:16:04 +0000");
        s.clear();
        d.write_rfc3164(&mut s);
        assert_eq!(s, "Nov 23 19:16:04");
        s.clear();
        d.write_iso_us(&mut s);
        assert_eq!(s, "2026-11-23T19:16:04.977123+00:00");

        // Single-digit days are padded with '0' in CLF dates, with a space
        // in rfc3164 ones.
        let d = DateTime::new(at(1_767_312_000, 5_000), &Zone::fixed(-(3 * 3600 + 1800)));
        s.clear();
        d.write_clf_ms(&mut s);
        assert_eq!(s, "01/Jan/2026:20:30:00.005");
        s.clear();
        d.write_rfc3164(&mut s);
        assert_eq!(s, "Jan  1 20:30:00");
        s.clear();
        d.write_clf_zone(&mut s);
        assert_eq!(s, "01/Jan/2026:20:30:00 -0330");
        s.clear();
        d.write_iso_us(&mut s);
        assert_eq!(s, "2026-01-01T20:30:00.005000-03:30");
    }

    #[test]
    fn before_epoch() {
        let t = UNIX_EPOCH - Duration::from_micros(1_500_000);
        assert_eq!(unix_parts(t), (-2, 500_000));
        let mut s = String::new();
        DateTime::utc(t).write_clf_ms(&mut s);
        assert_eq!(s, "31/Dec/1969:23:59:58.500");
    }

    #[test]
    fn posix_rules() {
        let paris = Rule::parse("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
        // 2026-03-29 01:00Z: CEST starts (02:00 local standard time).
        assert_eq!(paris.offset_at(1_774_745_999), 3600);
        assert_eq!(paris.offset_at(1_774_746_000), 7200);
        // 2026-10-25 01:00Z: CEST ends (03:00 local daylight time).
        assert_eq!(paris.offset_at(1_792_889_999), 7200);
        assert_eq!(paris.offset_at(1_792_890_000), 3600);
        // Southern hemisphere, daylight time over the new year.
        let sydney = Rule::parse("AEST-10AEDT,M10.1.0,M4.1.0/3").unwrap();
        assert_eq!(sydney.offset_at(T), 11 * 3600);
        assert_eq!(sydney.offset_at(T - 180 * 86400), 10 * 3600);
        let ny = Rule::parse("EST5EDT,M3.2.0,M11.1.0").unwrap();
        assert_eq!(ny.offset_at(T), -5 * 3600);
        assert_eq!(ny.offset_at(T - 180 * 86400), -4 * 3600);
        assert_eq!(Rule::parse("<+0530>-5:30").unwrap().offset_at(T), 19800);
        assert_eq!(Rule::parse("UTC0").unwrap().offset_at(T), 0);
        assert!(Rule::parse("X").is_none());
        assert!(Rule::parse("CET-1CEST,M13.5.0,M10.5.0").is_none());
    }

    /// A TZif v2 file built by hand: one transition, then the footer rule.
    #[test]
    fn tzif_v2() {
        fn header(v: u8, timecnt: u32, typecnt: u32, charcnt: u32) -> Vec<u8> {
            let mut h = b"TZif".to_vec();
            h.push(v);
            h.extend([0u8; 15]);
            for n in [0, 0, 0, timecnt, typecnt, charcnt] {
                h.extend(u32::to_be_bytes(n));
            }
            h
        }
        let mut f = header(b'2', 0, 1, 4);
        f.extend([0, 0, 0, 0, 0, 0]);
        f.extend(b"UTC\0");
        f.extend(header(b'2', 1, 2, 8));
        f.extend(i64::to_be_bytes(1_000_000_000));
        f.push(1);
        f.extend(i32::to_be_bytes(3600)); // type 0: LMT-ish +01:00
        f.extend([0, 0]);
        f.extend(i32::to_be_bytes(7200)); // type 1: +02:00
        f.extend([0, 4]);
        f.extend(b"AAA\0BBB\0");
        f.extend(b"\nEST5EDT,M3.2.0,M11.1.0\n");
        let z = Zone::from_tzif(&f).unwrap();
        assert_eq!(z.offset_at(0), 3600);
        // After the last transition, the footer rule.
        assert_eq!(z.offset_at(T), -5 * 3600);
        assert!(Zone::from_tzif(b"nope").is_none());
        assert!(Zone::from_tzif(&f[..50]).is_none());
    }

    #[test]
    fn load_by_name() {
        assert_eq!(Zone::load(Some("")), Zone::UTC);
        let z = Zone::load(Some("EST5EDT"));
        assert_eq!(z.offset_at(T), -5 * 3600);
        // When the system has the tz database, named zones come from it.
        if std::path::Path::new("/usr/share/zoneinfo/Europe/Paris").exists() {
            let z = Zone::load(Some(":Europe/Paris"));
            assert_eq!(z.offset_at(T), 3600);
            assert_eq!(z.offset_at(T - 150 * 86400), 7200);
            // 1990: long before the footer rule takes over.
            assert_eq!(z.offset_at(650_000_000), 7200);
        }
        assert_eq!(Zone::load(Some("../../etc/passwd")).offset_at(T), 0);
    }
}

//! Process management (manual 3.1): `nbthread`, `cpu-map`, `user`/`group`, and the path settings.

use super::{already, non_global_seen, nonempty};
use crate::diag::Diagnostic;
use crate::model::global::{Account, CpuMap};
use crate::parse::{Line, Parser};
use std::collections::BTreeSet;

/// HAProxy's thread limit with its default build: 16 thread groups of 64
/// threads (MAX_TGROUPS * LONGBITS).
const MAX_THREADS: i64 = 1024;
/// Thread groups and threads per group are 64-bit masks (LONGBITS).
const LONGBITS: u32 = 64;
/// Highest CPU number a cpu set may name (CPU_SETSIZE - 1 on Linux).
const MAX_CPU: u32 = 1023;
pub(super) fn nbthread(p: &Parser<'_>, line: &Line<'_>) -> Result<u32, Diagnostic> {
    line.no_more_than(1, 1, "nbthread")?;
    if non_global_seen(p) {
        return Err(line.err(
            0,
            "'nbthread' not allowed if a non-global section was previously defined. This parameter must be declared in the first global section",
        ));
    }
    let text = line.word(1);
    let n: i64 = text.parse().map_err(|_| {
        line.err(
            1,
            format!("'nbthread' passed a missing or unparsable integer value in '{text}'"),
        )
    })?;
    if !(1..=MAX_THREADS).contains(&n) {
        return Err(line.err(
            1,
            format!("'nbthread' value must be between 1 and {MAX_THREADS} (was {n})"),
        ));
    }
    u32::try_from(n).map_err(|_| line.err(1, "'nbthread' value out of range"))
}

/// `cpu-map [auto:]<group>[/<thread-set>] <cpu-set>...`
pub(super) fn cpu_map(line: &Line<'_>) -> Result<CpuMap, Diagnostic> {
    if line.word(1).is_empty() || line.word(2).is_empty() {
        return Err(line.err(
            line.len().min(2),
            format!(
                "cpu-map expects a thread group number ('all', 'odd', 'even', a number from 1 to {LONGBITS} or a range), followed by a list of CPU ranges with numbers from 0 to {}",
                LONGBITS - 1
            ),
        ));
    }
    let spec = line.word(1);
    let (auto, spec) = match spec.strip_prefix("auto:") {
        Some(rest) => (true, rest),
        None => (false, spec),
    };
    let (groups, threads) = match spec.split_once('/') {
        Some((g, t)) => (g, Some(t)),
        None => (spec, None),
    };
    let groups = id_set(groups, LONGBITS).map_err(|e| line.err(1, format!("cpu-map : {e}")))?;
    let threads = match threads {
        Some(t) => id_set(t, LONGBITS).map_err(|e| line.err(1, format!("cpu-map : {e}")))?,
        // No thread set means all threads of the group(s).
        None => u64::MAX,
    };
    let mut cpus = BTreeSet::new();
    for i in 2..line.len() {
        for item in line.word(i).split(',') {
            let (lo, hi) = cpu_range(item).map_err(|e| line.err(i, format!("cpu-map : {e}")))?;
            for c in lo..=hi {
                if let Ok(c) = u16::try_from(c) {
                    cpus.insert(c);
                }
            }
        }
    }
    let n = u32::try_from(cpus.len()).unwrap_or(u32::MAX);
    // As HAProxy 3.2 checks it: one of the two sets must match the CPU
    // count (so "auto:1/1 0-3" is refused but "auto:1/1-4 0" is not).
    if auto && groups.count_ones() != n && threads.count_ones() != n {
        return Err(line.err(
            1,
            "cpu-map : TGROUP/THREAD range and CPU sets must have the same size to be automatically bound",
        ));
    }
    Ok(CpuMap {
        auto,
        groups,
        threads,
        cpus: cpus.into_iter().collect(),
        loc: line.loc.clone(),
    })
}

/// `all | odd | even | <n>[-[<m>]]` with numbers from 1 to `max` (<= 64),
/// as a bit set (HAProxy's parse_process_number()).
fn id_set(text: &str, max: u32) -> Result<u64, String> {
    let all = if max >= 64 {
        u64::MAX
    } else {
        (1u64 << max) - 1
    };
    match text {
        "all" => return Ok(all),
        "odd" => return Ok(0x5555_5555_5555_5555 & all),
        "even" => return Ok(0xAAAA_AAAA_AAAA_AAAA & all),
        _ => {}
    }
    let invalid = || format!("'{text}' is not a valid number/range");
    let out_of_range =
        || format!("'{text}' is not a valid number/range. It supports numbers from 1 to {max}");
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (lo, hi) = match text.split_once('-') {
        Some((a, b)) => (a, Some(b)),
        None => (text, None),
    };
    if !digits(lo) {
        return Err(invalid());
    }
    let lo: u32 = lo.parse().map_err(|_| out_of_range())?;
    let hi: u32 = match hi {
        None => lo,
        Some("") => max,
        Some(h) if digits(h) => h.parse().map_err(|_| out_of_range())?,
        Some(_) => return Err(invalid()),
    };
    let (lo, hi) = if hi < lo { (hi, lo) } else { (lo, hi) };
    if lo < 1 || hi > max {
        return Err(out_of_range());
    }
    let mut bits = 0u64;
    for n in lo..=hi {
        bits |= 1u64.checked_shl(n - 1).unwrap_or(0);
    }
    Ok(bits)
}

/// One CPU range: `<n>`, `<n>-<m>` or `<n>-` (up to 63, as HAProxy).
fn cpu_range(item: &str) -> Result<(u32, u32), String> {
    let bad = || format!("'{item}' is not a CPU range");
    let num = |s: &str| -> Result<u32, String> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse::<u32>().map_err(|_| bad())
    };
    let (lo, hi) = match item.split_once('-') {
        Some((a, "")) => (num(a)?, LONGBITS - 1),
        Some((a, b)) => (num(a)?, num(b)?),
        None => {
            let n = num(item)?;
            (n, n)
        }
    };
    let (lo, hi) = if hi < lo { (hi, lo) } else { (lo, hi) };
    if hi > MAX_CPU {
        return Err(format!("'{item}' names a CPU above {MAX_CPU}"));
    }
    Ok((lo, hi))
}

/// `user`/`uid`/`group`/`gid`. Names are resolved by the binary.
pub(super) fn account(p: &mut Parser<'_>, line: &Line<'_>) -> Result<(), Diagnostic> {
    let kw = line.kw();
    line.no_more_than(1, 1, kw)?;
    let is_user = matches!(kw, "user" | "uid");
    let already_set = if is_user {
        p.cfg.global.user.is_some()
    } else {
        p.cfg.global.group.is_some()
    };
    if already_set {
        // HAProxy: "user/uid already specified. Continuing." (not fatal).
        let what = if is_user { "user/uid" } else { "group/gid" };
        p.push(line.warn(
            0,
            format!("{what} already specified, keeping the first value"),
        ));
        return Ok(());
    }
    let value = match kw {
        "user" | "group" => Account::Name(nonempty(line, 1, &format!("'{kw}' expects a name"))?),
        _ => {
            let text = line.word(1);
            if text.is_empty() {
                return Err(line.err(1, format!("'{kw}' expects an integer argument")));
            }
            match text.parse::<u32>() {
                Ok(n) => Account::Id(n),
                Err(_) => {
                    // A warning in HAProxy: the line is ignored.
                    let named = if is_user { "user" } else { "group" };
                    p.push(
                        line.warn(1, format!("{kw}: string '{text}' is not a number, ignored"))
                            .with_hint(format!(
                                "use '{named} {text}' to give a system {named} name"
                            )),
                    );
                    return Ok(());
                }
            }
        }
    };
    if is_user {
        p.cfg.global.user = Some(value);
        p.cfg.global.user_loc = Some(line.loc_at(1));
    } else {
        p.cfg.global.group = Some(value);
        p.cfg.global.group_loc = Some(line.loc_at(1));
    }
    Ok(())
}

/// `chroot`, `pidfile`, `server-state-file`, `server-state-base`: one path,
/// the first occurrence wins.
pub(super) fn path_setting(p: &mut Parser<'_>, line: &Line<'_>) -> Result<(), Diagnostic> {
    let kw = line.kw();
    line.no_more_than(1, 1, kw)?;
    let what = match kw {
        "chroot" | "server-state-base" => "a directory",
        _ => "a file name",
    };
    let g = &mut p.cfg.global;
    let slot = match kw {
        "chroot" => &mut g.chroot,
        "pidfile" => &mut g.pidfile,
        "server-state-file" => &mut g.server_state_file,
        _ => &mut g.server_state_base,
    };
    if slot.is_some() {
        p.push(already(line));
        return Ok(());
    }
    *slot = Some(nonempty(
        line,
        1,
        &format!("'{kw}' expects {what} as an argument"),
    )?);
    Ok(())
}

//! The stick-counter actions: `track-sc*` and `sc-*`.

use super::Words;
use crate::diag::Diagnostic;
use crate::model::{ScOp, ScUpdate, TrackSc};

/// HAProxy's MAX_SESS_STKCTR - 1: the highest stick counter.
const MAX_SC: u8 = 2;

/// `track-sc0..2 <key> [table <table>]`.
pub(super) fn track_sc(w: &Words<'_, '_>) -> Result<TrackSc, Diagnostic> {
    let n = w.base.trim_start_matches("track-sc");
    let counter = n.parse::<u8>().unwrap_or(u8::MAX);
    if counter > MAX_SC {
        return Err(w.rule_err(
            0,
            format!("{n} track-sc number exceeding {MAX_SC} (MAX_SESS_STKCTR-1) value."),
        ));
    }
    let key = w.expr(0)?;
    let table = match w.arg(1) {
        Some("table") => Some(w.word(2, "table name")?),
        _ => None,
    };
    w.no_more(if table.is_some() { 3 } else { 1 })?;
    Ok(TrackSc {
        counter,
        key,
        table,
    })
}

/// `sc-inc-gpc(<idx>,<sc>)`, `sc-inc-gpc0/1[(<sc>)]`, `sc-add-gpc(<idx>,
/// <sc>) <v>`, `sc-set-gpt(<idx>,<sc>) <v>`, `sc-set-gpt0[(<sc>)] <v>`.
pub(super) fn sc_update(w: &Words<'_, '_>) -> Result<ScUpdate, Diagnostic> {
    let (op, fixed_idx) = match w.base {
        "sc-inc-gpc" => (ScOp::IncGpc, None),
        "sc-inc-gpc0" => (ScOp::IncGpc, Some(0)),
        "sc-inc-gpc1" => (ScOp::IncGpc, Some(1)),
        "sc-add-gpc" => (ScOp::AddGpc, None),
        "sc-set-gpt" => (ScOp::SetGpt, None),
        _ => (ScOp::SetGpt, Some(0)),
    };
    let param = w.param.unwrap_or("");
    let bad_sc = || {
        w.line.err(
            w.start,
            format!(
                "'{} {}' rule : invalid stick table track ID '{}'. The max allowed ID is {MAX_SC}.",
                w.setname, w.written, w.written
            ),
        )
    };
    let (idx, sc_text) = match fixed_idx {
        Some(i) => (i, param),
        None => {
            let (i, sc) = param.split_once(',').ok_or_else(|| {
                w.line.err(
                    w.start,
                    format!(
                        "'{} {}' rule : expects '{}(<idx>,<sc-id>)'",
                        w.setname, w.written, w.base
                    ),
                )
            })?;
            let i = i.trim().parse::<u32>().map_err(|_| {
                w.line.err(
                    w.start,
                    format!(
                        "'{} {}' rule : invalid array index '{i}'",
                        w.setname, w.written
                    ),
                )
            })?;
            (i, sc.trim())
        }
    };
    let counter = if sc_text.is_empty() {
        0
    } else {
        sc_text
            .parse::<u8>()
            .ok()
            .filter(|n| *n <= MAX_SC)
            .ok_or_else(bad_sc)?
    };
    let value = match op {
        ScOp::IncGpc => None,
        ScOp::AddGpc | ScOp::SetGpt if w.arg(0).is_none() => None,
        _ => Some(w.int_or_expr(0)?),
    };
    w.no_more(if value.is_some() { 1 } else { 0 })?;
    Ok(ScUpdate {
        op,
        idx,
        counter,
        value,
    })
}

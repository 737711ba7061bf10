//! What rule actions refer to, checked once the whole configuration is
//! read (HAProxy's post-parse checks of the actions): the stick table of
//! `track-sc*`, the capture slot of `capture ... id`, the resolvers of
//! `do-resolve`.

use crate::diag::{Diagnostic, Diagnostics, Loc};
use crate::model::*;

/// The references of one rule's action.
enum Ref<'a> {
    Track(&'a TrackSc),
    Capture(&'a CaptureSample, Side),
    Resolve(&'a DoResolve),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Request,
    Response,
}

fn refs(px: &Proxy) -> Vec<(Ref<'_>, &Loc)> {
    let r = &px.rules;
    let mut out = Vec::new();
    for rule in &r.tcp_request_connection {
        if let TcpRequestConnectionAction::TrackSc(t) = &rule.action {
            out.push((Ref::Track(t), &rule.loc));
        }
    }
    for rule in &r.tcp_request_session {
        if let TcpRequestSessionAction::TrackSc(t) = &rule.action {
            out.push((Ref::Track(t), &rule.loc));
        }
    }
    for rule in &r.tcp_request_content {
        match &rule.action {
            TcpRequestContentAction::TrackSc(t) => out.push((Ref::Track(t), &rule.loc)),
            TcpRequestContentAction::Capture(c) => {
                out.push((Ref::Capture(c, Side::Request), &rule.loc));
            }
            TcpRequestContentAction::DoResolve(d) => out.push((Ref::Resolve(d), &rule.loc)),
            _ => {}
        }
    }
    for rule in r.http_request.iter().chain(&px.stats.http_request) {
        match &rule.action {
            HttpRequestAction::TrackSc(t) => out.push((Ref::Track(t), &rule.loc)),
            HttpRequestAction::Capture(c) => {
                out.push((Ref::Capture(c, Side::Request), &rule.loc));
            }
            HttpRequestAction::DoResolve(d) => out.push((Ref::Resolve(d), &rule.loc)),
            _ => {}
        }
    }
    for rule in &r.http_response {
        match &rule.action {
            HttpResponseAction::TrackSc(t) => out.push((Ref::Track(t), &rule.loc)),
            HttpResponseAction::Capture(c) => {
                out.push((Ref::Capture(c, Side::Response), &rule.loc));
            }
            _ => {}
        }
    }
    for rule in &r.http_after_response {
        if let HttpAfterResponseAction::Capture(c) = &rule.action {
            out.push((Ref::Capture(c, Side::Response), &rule.loc));
        }
    }
    out
}

/// The capture slots of one side: `capture request|response header`,
/// `declare capture request|response`, and (request side) every capture
/// action with a `len`, in any order (HAProxy counts them all before it
/// checks the ids).
fn capture_slots(px: &Proxy, refs: &[(Ref<'_>, &Loc)], side: Side) -> usize {
    let declared = px
        .captures
        .iter()
        .filter(|c| match c {
            Capture::RequestHeader { .. } => side == Side::Request,
            Capture::ResponseHeader { .. } => side == Side::Response,
            Capture::Declared { response, .. } => *response == (side == Side::Response),
            Capture::Cookie { .. } => false,
        })
        .count();
    let by_rules = refs
        .iter()
        .filter(|(r, _)| {
            matches!(r, Ref::Capture(c, s) if *s == side && matches!(c.slot, CaptureSlot::Len(_)))
        })
        .count();
    declared + by_rules
}

pub(super) fn check_action_refs(cfg: &Config, px: &Proxy, diags: &mut Diagnostics) {
    let refs = refs(px);
    let who = format!("{} '{}'", px.kind.keyword(), px.name);
    for (r, loc) in &refs {
        match r {
            Ref::Track(t) => {
                // Without `table`, the proxy's own table.
                let table = t.table.as_deref().unwrap_or(&px.name);
                if !super::table_exists(cfg, table) {
                    diags.push(Diagnostic::error(
                        loc,
                        format!(
                            "{who}: unable to find table '{table}' referenced by track-sc{}.",
                            t.counter
                        ),
                    ));
                }
            }
            Ref::Capture(c, side) => {
                let CaptureSlot::Id(id) = c.slot else {
                    continue;
                };
                let slots = capture_slots(px, &refs, *side);
                if usize::try_from(id).map_or(true, |id| id >= slots) {
                    let set = if *side == Side::Request {
                        "http-request"
                    } else {
                        "http-response"
                    };
                    diags.push(Diagnostic::error(
                        loc,
                        format!("{who}: unable to find capture id '{id}' referenced by {set} capture rule."),
                    ));
                }
            }
            Ref::Resolve(d) => {
                if !cfg.resolvers.iter().any(|r| r.name.name == d.resolvers) {
                    diags.push(Diagnostic::error(
                        loc,
                        format!(
                            "{who}: Can't find resolvers section '{}' for do-resolve action.",
                            d.resolvers
                        ),
                    ));
                }
            }
        }
    }
}

//! The `stats` keywords of proxies.

use super::rules;
use super::{allowed_kw, cond_at, Ctx};
use crate::diag::{did_you_mean, Diagnostic};
use crate::keywords::{self, RuleSet};
use crate::parse::common::Line;
use crate::parse::words_from;
use crate::units::TimeUnit;

pub(super) fn parse_stats(cx: &mut Ctx<'_>, line: &Line<'_>) -> Result<(), Diagnostic> {
    let sub = line.word(1);
    if sub == "socket" || sub == "timeout" || sub == "maxconn" {
        return Err(line.err(
            1,
            format!("'stats {sub}' is only allowed in 'global' section"),
        ));
    }
    let kwname = format!("stats {sub}");
    if keywords::proxy_keyword(&kwname).is_none() && !matches!(sub, "http-request") {
        let subs = [
            "admin",
            "auth",
            "enable",
            "hide-version",
            "http-request",
            "realm",
            "refresh",
            "scope",
            "show-desc",
            "show-legends",
            "show-modules",
            "show-node",
            "uri",
        ];
        let mut d = line.err(1, format!("'stats' expects 'admin', 'auth', 'enable', 'hide-version', 'http-request', 'realm', 'refresh', 'scope', 'show-desc', 'show-legends', 'show-modules', 'show-node' or 'uri' (got '{sub}')"));
        if let Some(h) = did_you_mean(sub, subs) {
            d = d.with_hint(format!("did you mean '{h}'?"));
        }
        return Err(d);
    }
    if !allowed_kw(cx, line, &kwname)? {
        return Ok(());
    }
    let st = &mut cx.px.stats;
    match sub {
        "enable" => st.enabled = true,
        "hide-version" => st.hide_version = true,
        "show-legends" => st.show_legends = true,
        "show-modules" => st.show_modules = true,
        "show-node" => st.show_node = Some(line.word(2).to_string()),
        "show-desc" => st.show_desc = Some(words_from(line.words, 2).join(" ")),
        "uri" => {
            let u = line
                .arg(2)
                .ok_or_else(|| line.err(2, "'stats uri' expects an URI prefix"))?;
            st.uri = Some(u.to_string());
            st.enabled = true;
        }
        "realm" => {
            let r = line
                .arg(2)
                .ok_or_else(|| line.err(2, "'stats realm' expects a realm name"))?;
            st.realm = Some(r.to_string());
            st.enabled = true;
        }
        "auth" => {
            let a = line
                .arg(2)
                .ok_or_else(|| line.err(2, "'stats auth' expects <user>:<password>"))?;
            let (u, pw) = a
                .split_once(':')
                .ok_or_else(|| line.err(2, "'stats auth' expects <user>:<password>"))?;
            st.auth.push((u.to_string(), pw.to_string()));
            st.enabled = true;
        }
        "refresh" => {
            let d = line.duration(2, "stats refresh", TimeUnit::Seconds)?;
            st.refresh = Some(d);
            st.enabled = true;
        }
        "scope" => {
            let s = line
                .arg(2)
                .ok_or_else(|| line.err(2, "'stats scope' expects a proxy name"))?;
            st.scope.push(s.to_string());
        }
        "admin" => {
            let c = cond_at(line, 2)?.ok_or_else(|| {
                line.err(
                    2,
                    "'stats admin' requires either 'if' or 'unless' followed by a condition.",
                )
            })?;
            st.admin.push(c);
        }
        "http-request" => {
            let r = rules::parse_rule(line, 2, RuleSet::HttpRequest)?;
            let r = rules::for_set(
                r,
                line,
                2,
                RuleSet::HttpRequest,
                crate::model::HttpRequestAction::from_any,
            )?;
            cx.px.stats.http_request.push(r);
        }
        _ => {}
    }
    Ok(())
}

//! Rule sets: `http-request`, `tcp-request` ... rules and their actions.

use crate::acl::Condition;
use crate::diag::Loc;
use crate::logformat::LogFormat;
use crate::sample::SampleExpr;
use std::time::Duration;

/// A rule of one rule set: an action with its arguments and an optional
/// condition.
#[derive(Clone, Debug)]
pub struct Rule {
    pub action: Action,
    pub cond: Option<Condition>,
    pub loc: Loc,
}

/// An action as written: its name (`set-header`), the argument in
/// parentheses some actions take (`set-var(txn.x)` -> `txn.x`), and the
/// words before the condition. Values that are log-format strings or sample
/// expressions are parsed into `formats` / `exprs` by the rule parser.
#[derive(Clone, Debug)]
pub struct Action {
    pub name: String,
    pub param: Option<String>,
    pub args: Vec<String>,
    pub formats: Vec<LogFormat>,
    pub exprs: Vec<SampleExpr>,
}

#[derive(Clone, Debug, Default)]
pub struct Rules {
    pub http_request: Vec<Rule>,
    pub http_response: Vec<Rule>,
    pub http_after_response: Vec<Rule>,
    pub tcp_request_connection: Vec<Rule>,
    pub tcp_request_session: Vec<Rule>,
    pub tcp_request_content: Vec<Rule>,
    pub tcp_request_inspect_delay: Option<Duration>,
    pub tcp_response_content: Vec<Rule>,
    pub tcp_response_inspect_delay: Option<Duration>,
}

impl Rules {
    pub fn is_empty(&self) -> bool {
        self.http_request.is_empty()
            && self.http_response.is_empty()
            && self.http_after_response.is_empty()
            && self.tcp_request_connection.is_empty()
            && self.tcp_request_session.is_empty()
            && self.tcp_request_content.is_empty()
            && self.tcp_response_content.is_empty()
    }
}

//! Rules: ACLs, sample fetches and converters, and the HTTP rule sets.
//! [`pattern`]: patterns compiled for the lookups; [`sample`]: sample
//! values, HAProxy's casts, and the converters; [`expr`]: expressions
//! compiled once and the converters that need the stream; [`fetch`] and
//! [`fetch_stream`]: sample fetches; [`acl`]: ACLs and conditions;
//! [`map`]: maps read from files; [`env`](mod@env): what the engine tells the
//! rules, the variables and the captures; [`logfmt`]: log formats
//! rendered mid-stream; [`rewrite`]: head rewrites; [`auth`] (with
//! `crypt`): userlists; [`names`]: what the rules compute;
//! [`engine_act`]: the actions the engine applies; [`http`]: a proxy's
//! HTTP rule sets, compiled and run (with `exec`).

pub mod acl;
pub mod auth;
mod content;
mod crypt;
pub mod engine_act;
pub mod env;
mod exec;
pub mod expr;
pub mod fetch;
pub mod fetch_stream;
pub mod http;
pub mod logfmt;
pub mod map;
pub mod names;
pub mod patref;
pub mod pattern;
pub mod rewrite;
pub mod sample;
pub mod tcp;

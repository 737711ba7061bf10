//! Rules: the ACL engine and, next, the rule sets and their actions (the
//! HTTP issue). [`pattern`]: patterns compiled for the lookups;
//! [`sample`]: sample values, HAProxy's casts, and the converters;
//! [`fetch`]: sample fetches over a request head; [`acl`]: ACLs and
//! conditions over a request; [`map`]: maps read from files.

pub mod acl;
pub mod auth;
mod crypt;
pub mod env;
mod exec;
pub mod expr;
pub mod fetch;
pub mod fetch_stream;
pub mod http;
pub mod logfmt;
pub mod map;
pub mod names;
pub mod pattern;
pub mod rewrite;
pub mod sample;

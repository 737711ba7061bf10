//! Rules: the ACL engine and, next, the rule sets and their actions (the
//! HTTP issue). [`pattern`]: patterns compiled for the lookups;
//! [`sample`]: sample values, HAProxy's casts, and the converters.

pub mod pattern;
pub mod sample;

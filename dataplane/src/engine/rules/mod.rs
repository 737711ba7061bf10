//! Rules: the ACL engine and, next, the rule sets and their actions (the
//! HTTP issue). [`pattern`]: patterns compiled for the lookups.

pub mod pattern;

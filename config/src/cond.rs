//! Conditional blocks (HAProxy manual 2.4). Being written.

//! Splits one configuration line into words (HAProxy manual 2.2, 2.3).
//! Being written: see the Word / tokenize contract in the crate docs.

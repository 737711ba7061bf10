//! Server selection (being written).

//! Process management (being written).

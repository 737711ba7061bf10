//! `ringlb`: the binary. Everything lives in the library (`lib.rs`).
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    ringlb::main_entry()
}

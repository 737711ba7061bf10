//! The whole configuration front end (lexer, conditional blocks, section
//! parsers, expressions, cross-reference checks, diagnostics rendering) on
//! arbitrary text: it must never panic, and every diagnostic must point
//! inside the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringlb_config::{Host, SourceFile};

struct FuzzHost;

impl Host for FuzzHost {
    fn env(&self, name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/root".into()),
            "LIST" => Some("a b  c".into()),
            "PORT" => Some("8080".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }
    fn read_file(&self, path: &str) -> Result<Vec<u8>, String> {
        if path.contains("missing") {
            Err("No such file or directory".into())
        } else {
            Ok(b"HTTP/1.0 503 Service Unavailable\r\n\r\n".to_vec())
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let file = SourceFile::new("fuzz.cfg", text.as_ref());
    let lines = u32::try_from(text.split('\n').count()).unwrap_or(u32::MAX);
    let (_cfg, diags) = ringlb_config::load(&[file], &FuzzHost);
    for d in &diags.list {
        let _ = d.render();
        if let Some(loc) = &d.loc {
            assert!(loc.line <= lines, "diagnostic past the end of the file: {d:?}");
        }
    }
});

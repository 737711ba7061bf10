//! Arbitrary bytes (lossy UTF-8) through the expression parsers: sample
//! expressions (whole and prefix), log formats (literal and merged spaces),
//! and, once split into words by the lexer, `acl` lines and `if`/`unless`
//! conditions. Checks that nothing panics and that error positions point
//! inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringlb_config::acl::{parse_acl, parse_condition};
use ringlb_config::lexer::tokenize;
use ringlb_config::logformat::{parse_log_format, parse_log_format_with, LogFormatOptions};
use ringlb_config::sample::{parse_sample, parse_sample_prefix};

fn no_env(_: &str) -> Option<String> {
    None
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    let len = text.len();

    match parse_sample(text) {
        Ok(e) => assert_eq!(e.text, text),
        Err(e) => assert!(e.offset as usize <= len),
    }
    match parse_sample_prefix(text) {
        Ok((e, end)) => {
            assert!(end <= len && text.is_char_boundary(end));
            assert_eq!(Some(e.text.as_str()), text.get(..end));
        }
        Err(e) => assert!(e.offset as usize <= len),
    }

    for res in [
        parse_log_format(text),
        parse_log_format_with(text, LogFormatOptions { merge_spaces: true }),
    ] {
        match res {
            Ok(f) => assert_eq!(f.text, text),
            Err(e) => assert!(e.offset as usize <= len),
        }
    }

    for line in text.lines() {
        let Ok(words) = tokenize(line, &no_env) else {
            continue;
        };
        if let Err(e) = parse_acl(&words) {
            assert!(e.word <= words.len());
        }
        if let Err(e) = parse_condition(&words) {
            assert!(e.word <= words.len());
        }
        // The same words behind an `if`, so that conditions get exercised
        // whatever the first word is.
        let mut cond = tokenize("if", &no_env).unwrap_or_default();
        cond.extend(words);
        if let Err(e) = parse_condition(&cond) {
            assert!(e.word <= cond.len());
        }
    }
});

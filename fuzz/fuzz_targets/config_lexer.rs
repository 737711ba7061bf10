//! Arbitrary bytes (lossy UTF-8, split into lines) through the lexer, the
//! `.if` evaluator and the conditional-block state machine, checking that
//! nothing panics and a few invariants hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringlb_config::cond::{eval, CondEnv, Preproc};
use ringlb_config::lexer::{tokenize, Word};
use ringlb_config::{Diagnostics, Loc, SourceFile};

/// A fixed environment with the shapes that matter to the lexer: set,
/// empty, with blanks (for `[*]`), with a NUL, and the pseudo-variables.
fn env(name: &str) -> Option<String> {
    let v = match name {
        "A" | "ONE" => "1",
        "ZERO" => "0",
        "EMPTY" => "",
        "LIST" => " a  b\tc ",
        "NUL" => "x\0y",
        "Q" => "\"'\\$#",
        ".LINE" => "1",
        ".FILE" => "fuzz.cfg",
        ".SECTION" => "global",
        _ => return None,
    };
    Some(v.to_owned())
}

struct Env;

impl CondEnv for Env {
    fn var(&self, name: &str) -> Option<String> {
        env(name)
    }
    fn feature(&self, name: &str) -> bool {
        matches!(name, "OPENSSL" | "LUA")
    }
    fn enabled(&self, name: &str) -> bool {
        name == "SPLICE"
    }
}

/// C's isspace() in the "C" locale.
fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r')
}

fn check_line(line: &str, words: &[Word]) {
    for w in words {
        let col = usize::try_from(w.col).unwrap_or(usize::MAX);
        assert!(col < line.len(), "word {w:?} starts past the line {line:?}");
    }
    // Oracle: without quotes, escapes, comments, variables or line
    // terminators, the words are exactly the blank-separated fields.
    if !line.contains(['"', '\'', '\\', '#', '$', '\0', '\r', '\n']) {
        let expected: Vec<&str> = line.split(is_c_space).filter(|s| !s.is_empty()).collect();
        let got: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(got, expected, "line {line:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let file = SourceFile::new("fuzz.cfg", text.as_ref());
    let mut pre = Preproc::new();
    let mut diags = Diagnostics::default();
    for (n, line) in text.split('\n').enumerate() {
        let loc = Loc::new(&file, u32::try_from(n + 1).unwrap_or(u32::MAX), 0);
        match tokenize(line, &env) {
            Ok(words) => {
                check_line(line, &words);
                // Every line also as a bare `-cc` expression.
                if let Err(e) = eval(&words, &Env) {
                    assert!(!e.message.is_empty());
                }
                pre.feed(&words, &loc, &Env, &mut diags);
            }
            Err(e) => {
                let col = usize::try_from(e.col()).unwrap_or(usize::MAX);
                assert!(col <= line.len(), "{e} past the line {line:?}");
                assert!(!e.to_string().is_empty());
            }
        }
    }
    pre.finish(&file, &mut diags);
    for d in &diags.list {
        let _ = d.render();
    }
});

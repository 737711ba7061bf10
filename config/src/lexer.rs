//! Splits one configuration line into words (HAProxy manual 2.2 "Quoting and
//! escaping" and 2.3 "Environment variables").
//!
//! This is a port of HAProxy's `parse_line()` (src/tools.c) with the options
//! `readcfgfile()` passes to it (`PARSE_OPT_ENV | PARSE_OPT_DQUOTE |
//! PARSE_OPT_SQUOTE | PARSE_OPT_BKSLASH | PARSE_OPT_SHARP |
//! PARSE_OPT_WORD_EXPAND`), preceded by the leading-blank skip
//! `readcfgfile()` does itself. Where the manual and the code disagree the
//! code wins, because that is what users' configurations were tested
//! against; each such place carries a comment.
//!
//! In short:
//! - words are split on runs of unquoted blanks (space, tab, and the other C
//!   `isspace()` characters);
//! - an unquoted `#` (even in the middle of a word) starts a comment;
//! - a NUL, CR or LF ends the line, even inside quotes;
//! - `"..."` (weak quoting) keeps blanks, `#` and `'`, and expands `$VAR`,
//!   `${VAR}`, `${VAR-default}` and `${VAR[*]}`;
//! - `'...'` (strong quoting) keeps everything literally;
//! - outside single quotes, `\` escapes ` `, `\`, `#`, `'`, `"`, gives
//!   `\r`, `\n`, `\t`, `\xNN`, and `\$` inside double quotes; before any other
//!   character the backslash is kept (`\1` stays `\1`);
//! - environment variables are NOT expanded outside double quotes:
//!   `${HOME}` unquoted is the literal text `${HOME}` (manual 2.3: "Those
//!   variables are interpreted only within double quotes");
//! - adjacent quoted and unquoted parts form one word: `"a"b'c'` is `abc`.

use std::fmt;

/// One word of a configuration line, quotes removed, escapes and variables
/// resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    /// 0-based byte offset in the line where the word started (its first
    /// quote or character). Words produced by a `"${VAR[*]}"` expansion after
    /// the first one point at the `$`.
    pub col: u32,
}

impl fmt::Display for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why a line could not be split into words. The messages are HAProxy's;
/// "position" is 1-based like HAProxy's, `col()` is the 0-based byte offset.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LexError {
    /// A `"` or `'` that is never closed on the line. `col` is the opening
    /// quote.
    #[error("unmatched quote at position {}", pos(.col))]
    UnmatchedQuote { col: u32 },
    /// `${` without its `}`. `col` is the `{`.
    #[error("unmatched brace in environment variable name at position {}", pos(.col))]
    UnmatchedBrace { col: u32 },
    /// `$` inside double quotes not followed by a letter, `_` or `.`, or an
    /// unknown pseudo-variable (`${.FOO}`). `col` is the offending character
    /// (for a pseudo-variable, its dot).
    #[error("forbidden first char in environment variable name at position {}", pos(.col))]
    BadVarName { col: u32 },
    /// `\x` not followed by two hexadecimal digits. `col` is the backslash.
    #[error("truncated or invalid hexadecimal sequence at position {}", pos(.col))]
    BadHex { col: u32 },
    /// `${VAR[` not followed by `*]`. `col` is the `[`.
    #[error("truncated or invalid word expansion sequence at position {}", pos(.col))]
    BadWordExpansion { col: u32 },
}

/// 1-based position for messages; u64 so that `col + 1` cannot overflow.
fn pos(col: &u32) -> u64 {
    u64::from(*col) + 1
}

impl LexError {
    /// 0-based byte offset in the line of the character the error is about.
    pub fn col(&self) -> u32 {
        match self {
            LexError::UnmatchedQuote { col }
            | LexError::UnmatchedBrace { col }
            | LexError::BadVarName { col }
            | LexError::BadHex { col }
            | LexError::BadWordExpansion { col } => *col,
        }
    }
}

/// The pseudo-variables HAProxy resolves itself (manual 2.3). They are the
/// only names that may start with a dot; `tokenize` asks `env` for them like
/// for any other variable, and an unanswered one expands to nothing.
pub const PSEUDO_VARIABLES: [&str; 3] = [".FILE", ".LINE", ".SECTION"];

/// C's `isspace()` in the "C" locale. `\n` and `\r` never reach the
/// separator test (they end the line first) but are blanks inside a
/// `[*]` expansion, as in HAProxy.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn col32(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// The word being built.
struct Pending {
    bytes: Vec<u8>,
    col: usize,
    /// An opening quote was seen in this word: `""` is then an empty word
    /// rather than nothing.
    quoted: bool,
}

impl Pending {
    fn new(col: usize) -> Self {
        Pending {
            bytes: Vec::new(),
            col,
            quoted: false,
        }
    }

    fn into_word(mut self) -> Word {
        // HAProxy's words are C strings: a `\x00` ends the word there.
        if let Some(nul) = self.bytes.iter().position(|&c| c == 0) {
            self.bytes.truncate(nul);
        }
        // `\xNN` can produce bytes that are not UTF-8 (`\xff`); they become
        // U+FFFD. Valid sequences (`\xc3\xa9`) decode normally.
        let text = match String::from_utf8(self.bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        Word {
            text,
            col: col32(self.col),
        }
    }
}

/// Split one physical line (without its newline) into words.
///
/// `env` looks up environment variables (the caller layers `setenv` from the
/// configuration on top of the process environment) and should also answer
/// the pseudo-variables `.FILE`, `.LINE` and `.SECTION`.
///
/// A line that is blank or only a comment gives no words. The number of
/// words is not limited here (HAProxy refuses more than 64; the caller
/// checks).
///
/// Two deliberate differences from HAProxy's `parse_line()`:
/// - a trailing `""` (or `"${UNSET}"`) is kept as an empty word; HAProxy
///   cannot tell it from trailing blanks and drops it. Elsewhere on the
///   line HAProxy keeps empty words too, and since an empty word ends
///   HAProxy's argument list, callers must treat it the same way either way.
/// - HAProxy 2.6 reports a spurious "unmatched brace" for `${VAR-default}`
///   on a line longer than every previous one (it writes a NUL over the `}`
///   and then parses the line a second time into a bigger buffer). That
///   bug is not reproduced.
pub fn tokenize(line: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<Word>, LexError> {
    let b = line.as_bytes();
    let at = |i: usize| b.get(i).copied();
    let mut i = 0;
    // readcfgfile() skips leading blanks before calling parse_line().
    while at(i).is_some_and(is_space) {
        i += 1;
    }

    let mut words = Vec::new();
    let mut cur = Pending::new(i);
    let mut squote = false;
    let mut dquote = false;
    // Offset of the currently open quote, for "unmatched quote".
    let mut open_quote: Option<usize> = None;

    while let Some(c) = at(i) {
        match c {
            // End of line, even inside quotes (parse_line() does the same).
            0 | b'\n' | b'\r' => break,
            b'#' if !squote && !dquote => break,
            b'"' if !squote => {
                dquote = !dquote;
                open_quote = dquote.then_some(i);
                cur.quoted |= dquote;
                i += 1;
            }
            b'\'' if !dquote => {
                squote = !squote;
                open_quote = squote.then_some(i);
                cur.quoted |= squote;
                i += 1;
            }
            b'\\' if !squote => {
                let (out, used) = match at(i + 1) {
                    Some(e @ (b' ' | b'\\' | b'#' | b'\'' | b'"')) => (e, 2),
                    Some(b't') => (b'\t', 2),
                    Some(b'n') => (b'\n', 2),
                    Some(b'r') => (b'\r', 2),
                    // `\$` only means `$` inside double quotes, where `$`
                    // would start a variable. Outside, both characters stay:
                    // the manual's table lists `\$` as a way to write `$`
                    // unquoted, but parse_line() keeps the backslash
                    // (verified on haproxy 2.6: `\$x` gives `\$x`).
                    Some(b'$') if dquote => (b'$', 2),
                    Some(b'x') => {
                        match (at(i + 2).and_then(hex_val), at(i + 3).and_then(hex_val)) {
                            (Some(hi), Some(lo)) => ((hi << 4) | lo, 4),
                            _ => return Err(LexError::BadHex { col: col32(i) }),
                        }
                    }
                    // Any other character, including a tab and the end of
                    // the line: the backslash is kept as is. (The manual
                    // lists `\<TAB>` as an escaped tab, but parse_line() has
                    // no such case; verified on haproxy 2.6: `a\<TAB>b` is
                    // the two words `a\` and `b`.)
                    _ => (b'\\', 1),
                };
                cur.bytes.push(out);
                i += used;
            }
            c if is_space(c) && !squote && !dquote => {
                while at(i).is_some_and(is_space) {
                    i += 1;
                }
                // A separator always ends a word, even an empty one (only
                // possible after a `[*]` expansion of a value starting with
                // a blank, or a quoted empty string).
                words.push(std::mem::replace(&mut cur, Pending::new(i)).into_word());
            }
            b'$' if dquote => {
                i = expand_var(line, i, env, &mut cur, &mut words)?;
            }
            _ => {
                cur.bytes.push(c);
                i += 1;
            }
        }
    }

    if let Some(q) = open_quote {
        return Err(LexError::UnmatchedQuote { col: col32(q) });
    }
    if !cur.bytes.is_empty() || cur.quoted {
        words.push(cur.into_word());
    }
    Ok(words)
}

/// Expand the variable whose `$` is at `dollar` (inside double quotes) into
/// `cur`, splitting into several words for `${VAR[*]}`. Returns the offset
/// just after the variable reference.
fn expand_var(
    line: &str,
    dollar: usize,
    env: &dyn Fn(&str) -> Option<String>,
    cur: &mut Pending,
    words: &mut Vec<Word>,
) -> Result<usize, LexError> {
    let b = line.as_bytes();
    let at = |i: usize| b.get(i).copied();
    let mut i = dollar + 1;

    let brace = if at(i) == Some(b'{') {
        i += 1;
        Some(i - 1)
    } else {
        None
    };

    // Variable names: a letter or `_`, then letters, digits and `_`; or a
    // dot then the same for pseudo-variables. Non-ASCII bytes are not
    // letters (C locale).
    if !at(i).is_some_and(|c| c.is_ascii_alphabetic() || c == b'_' || c == b'.') {
        return Err(LexError::BadVarName { col: col32(i) });
    }
    let name_start = i;
    if at(i) == Some(b'.') {
        i += 1;
    }
    while at(i).is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_') {
        i += 1;
    }
    // The name is ASCII, so these are char boundaries; get() keeps it
    // panic-free regardless.
    let name = line.get(name_start..i).unwrap_or("");
    let mut value = if name.starts_with('.') {
        if !PSEUDO_VARIABLES.contains(&name) {
            return Err(LexError::BadVarName {
                col: col32(name_start),
            });
        }
        Some(env(name).unwrap_or_default())
    } else {
        env(name)
    };

    // `[*]` (only inside braces) splits the value on blanks into words.
    let mut word_expand = false;
    if brace.is_some() && at(i) == Some(b'[') {
        if at(i + 1) == Some(b'*') && at(i + 2) == Some(b']') {
            word_expand = true;
            i += 3;
        } else {
            return Err(LexError::BadWordExpansion { col: col32(i) });
        }
    }

    if let Some(brace) = brace {
        let unmatched = LexError::UnmatchedBrace { col: col32(brace) };
        if at(i) == Some(b'-') {
            // `${VAR-default}`: the default is the raw text up to the first
            // `}` (no escapes, no nested variables), used only when VAR is
            // not set, not when it is empty (manual 2.3).
            let rest = b.get(i..).unwrap_or_default();
            let end = match rest.iter().position(|&c| c == b'}' || c == 0) {
                Some(off) if rest.get(off) == Some(&b'}') => i + off,
                _ => return Err(unmatched),
            };
            if value.is_none() {
                value = Some(line.get(i + 1..end).unwrap_or("").to_owned());
            }
            i = end;
        } else if at(i) != Some(b'}') {
            return Err(unmatched);
        }
        // skip the `}`
        i += 1;
    }

    if let Some(value) = value {
        let v = value.as_bytes();
        let mut k = 0;
        // A C string stops at its first NUL.
        while let Some(&c) = v.get(k).filter(|&&c| c != 0) {
            if word_expand && is_space(c) {
                words.push(std::mem::replace(cur, Pending::new(dollar)).into_word());
                while v.get(k).copied().is_some_and(is_space) {
                    k += 1;
                }
            } else {
                cur.bytes.push(c);
                k += 1;
            }
        }
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/root".into()),
            "EMPTY" => Some(String::new()),
            "LIST" => Some("a  b".into()),
            "PADDED" => Some(" a b ".into()),
            "SP" => Some("x y".into()),
            ".LINE" => Some("7".into()),
            ".FILE" => Some("t.cfg".into()),
            _ => None,
        }
    }

    fn words(line: &str) -> Vec<(String, u32)> {
        tokenize(line, &env)
            .unwrap_or_else(|e| panic!("{line:?}: {e}"))
            .into_iter()
            .map(|w| (w.text, w.col))
            .collect()
    }

    fn texts(line: &str) -> Vec<String> {
        words(line).into_iter().map(|(t, _)| t).collect()
    }

    fn err(line: &str) -> LexError {
        match tokenize(line, &env) {
            Ok(w) => panic!("{line:?} tokenized to {w:?}"),
            Err(e) => e,
        }
    }

    fn w(t: &str, c: u32) -> (String, u32) {
        (t.to_owned(), c)
    }

    #[test]
    fn splits_on_blanks_and_skips_leading_ones() {
        assert_eq!(
            words("  server  s1\t10.0.0.1:80 "),
            vec![w("server", 2), w("s1", 10), w("10.0.0.1:80", 13)]
        );
        assert!(words("").is_empty());
        assert!(words(" \t ").is_empty());
        // vertical tab and form feed are blanks too (C isspace)
        assert_eq!(texts("a\x0bb\x0cc"), vec!["a", "b", "c"]);
    }

    #[test]
    fn comments() {
        assert!(words("# only a comment").is_empty());
        assert!(words("   # indented comment").is_empty());
        assert_eq!(
            words("mode http # trailing"),
            vec![w("mode", 0), w("http", 5)]
        );
        // verified on haproxy 2.6: `.notice a#b` says 'a'
        assert_eq!(texts("a#b c"), vec!["a"]);
        assert_eq!(texts("\"a\"#b c"), vec!["a"]);
        // quoted or escaped `#` is a character
        assert_eq!(texts("\"a#b\" 'c#d' e\\#f"), vec!["a#b", "c#d", "e#f"]);
    }

    #[test]
    fn double_quotes() {
        assert_eq!(
            words("log-format \"%ci:%cp [%t]\" x"),
            vec![w("log-format", 0), w("%ci:%cp [%t]", 11), w("x", 26)]
        );
        assert_eq!(texts("\"it's\""), vec!["it's"]);
        assert_eq!(texts("\"a\tb\""), vec!["a\tb"]);
        assert_eq!(texts(r#""a\"b""#), vec!["a\"b"]);
    }

    #[test]
    fn single_quotes_are_literal() {
        assert_eq!(
            texts(r#"'a\x41 $HOME ${HOME} \\ # \"'"#),
            vec![r#"a\x41 $HOME ${HOME} \\ # \""#]
        );
        assert_eq!(texts("'say \"hi\"'"), vec!["say \"hi\""]);
        // verified on haproxy 2.6: `'\x41'` stays `\x41`, `'$V'` stays `$V`
        assert_eq!(texts(r"'\x41' '$HOME'"), vec![r"\x41", "$HOME"]);
    }

    #[test]
    fn adjacent_parts_concatenate() {
        // verified on haproxy 2.6: `.notice "a"b'c'` says 'abc'
        assert_eq!(words(r#"x "a"b'c'"#), vec![w("x", 0), w("abc", 2)]);
        // the manual's five equivalent log-format lines
        let expected = "%{+Q}o %t %s %{-Q}r";
        for line in [
            r"log-format %{+Q}o\ %t\ %s\ %{-Q}r",
            r#"log-format "%{+Q}o %t %s %{-Q}r""#,
            r"log-format '%{+Q}o %t %s %{-Q}r'",
            r#"log-format "%{+Q}o %t"' %s %{-Q}r'"#,
            r#"log-format "%{+Q}o %t"' %s'\ %{-Q}r"#,
        ] {
            assert_eq!(texts(line), vec!["log-format", expected], "{line}");
        }
    }

    #[test]
    fn empty_quoted_strings_are_words() {
        assert_eq!(words(r#"a "" b"#), vec![w("a", 0), w("", 2), w("b", 5)]);
        assert_eq!(words("a ''"), vec![w("a", 0), w("", 2)]);
        assert_eq!(words(r#""""#), vec![w("", 0)]);
        // but an unquoted empty remainder is not a word
        assert_eq!(words("a   "), vec![w("a", 0)]);
    }

    #[test]
    fn backslash_escapes() {
        assert_eq!(texts(r"a\ b"), vec!["a b"]);
        assert_eq!(texts(r"a\\b"), vec![r"a\b"]);
        assert_eq!(texts(r"\#x"), vec!["#x"]);
        assert_eq!(texts(r#"\'x\""#), vec![r#"'x""#]);
        assert_eq!(texts(r"\r\n\t"), vec!["\r\n\t"]);
        assert_eq!(texts(r"\x41\x6a\x4A"), vec!["AjJ"]);
        // same inside double quotes
        assert_eq!(texts(r#""\ \\\#\'\"\r\n\t\x41""#), vec![" \\#'\"\r\n\tA"]);
        // other characters keep the backslash (verified on haproxy 2.6:
        // `"\q\1"` gives `\q\1`)
        assert_eq!(texts(r#""\q\1" \1"#), vec![r"\q\1", r"\1"]);
        // a trailing backslash is kept (no line continuation)
        assert_eq!(texts(r"a\"), vec![r"a\"]);
        // `\$`: only an escape inside double quotes (verified on 2.6)
        assert_eq!(texts(r#"\$x "\$x""#), vec![r"\$x", "$x"]);
        // backslash-tab is not an escape (verified on 2.6), the tab splits
        assert_eq!(texts("a\\\tb"), vec!["a\\", "b"]);
        // the manual's table, unquoted column
        assert_eq!(
            texts(r"\x09 \x0a \x0d \x20 \x22 \x23 \x24 \x27 \x5c"),
            vec!["\t", "\n", "\r", " ", "\"", "#", "$", "'", "\\"]
        );
    }

    #[test]
    fn hex_escapes_outside_ascii() {
        assert_eq!(texts(r"\xc3\xa9"), vec!["é"]);
        assert_eq!(texts(r"\xff"), vec!["\u{fffd}"]);
        // `\x00` ends the word like in C (the word still exists)
        assert_eq!(words(r"a\x00b c"), vec![w("a", 0), w("c", 7)]);
        assert_eq!(words(r"\x00"), vec![w("", 0)]);
    }

    #[test]
    fn bad_hex_escape() {
        // verified on haproxy 2.6: position 9 for `.notice \xZZ` and 10 for
        // `.notice "\x4"` (the backslash)
        assert_eq!(err(r".notice \xZZ"), LexError::BadHex { col: 8 });
        assert_eq!(err(r#".notice "\x4""#), LexError::BadHex { col: 9 });
        assert_eq!(err(r"\x"), LexError::BadHex { col: 0 });
        assert_eq!(
            err(r".notice \xZZ").to_string(),
            "truncated or invalid hexadecimal sequence at position 9"
        );
        // the first error on the line wins, even before an unmatched quote
        assert_eq!(err(r#""abc \xZZ"#), LexError::BadHex { col: 5 });
    }

    #[test]
    fn unmatched_quotes() {
        // verified on haproxy 2.6: "unmatched quote at position 11"
        let e = err("  .notice \"abc");
        assert_eq!(e, LexError::UnmatchedQuote { col: 10 });
        assert_eq!(e.col(), 10);
        assert_eq!(e.to_string(), "unmatched quote at position 11");
        assert_eq!(err("  .notice 'abc"), LexError::UnmatchedQuote { col: 10 });
        // the innermost open quote is reported: `'` inside `"` is literal
        assert_eq!(err(r#"a "b'c"#), LexError::UnmatchedQuote { col: 2 });
        // a trailing backslash does not escape the end of line
        assert_eq!(err(r#""abc\"#), LexError::UnmatchedQuote { col: 0 });
        // `\'` is not an escape inside single quotes (verified on 2.6:
        // `.notice 'a\'b'` is an unmatched quote at position 14)
        assert_eq!(err(r".notice 'a\'b'"), LexError::UnmatchedQuote { col: 13 });
    }

    #[test]
    fn cr_lf_and_nul_end_the_line() {
        assert_eq!(texts("a b\r"), vec!["a", "b"]);
        assert_eq!(texts("a\rb"), vec!["a"]);
        assert_eq!(texts("a\0b"), vec!["a"]);
        assert_eq!(err("\"a\rb\""), LexError::UnmatchedQuote { col: 0 });
    }

    #[test]
    fn variables_only_inside_double_quotes() {
        // verified on haproxy 2.6: `.notice ${HOME}` gives `${HOME}`, and
        // `"${HOME}"` gives the value
        assert_eq!(texts("${HOME} $HOME"), vec!["${HOME}", "$HOME"]);
        assert_eq!(
            texts(r#""${HOME}" "$HOME/x" "a${HOME}b""#),
            vec!["/root", "/root/x", "a/rootb"]
        );
        assert_eq!(
            words(r#"bind "fd@${HOME}""#),
            vec![w("bind", 0), w("fd@/root", 5)]
        );
        assert_eq!(
            texts(r#""$HOME$HOME" "${HOME}${HOME}""#),
            vec!["/root/root", "/root/root"]
        );
        // names stop at the first character that is not alnum or `_`
        assert_eq!(texts(r#""$HOME-x" "$HOMEx""#), vec!["/root-x", ""]);
    }

    #[test]
    fn undefined_and_empty_variables() {
        // `"$UNSET"` is an empty word (HAProxy 3.2 warns about it being empty
        // and ending the argument list; that is the caller's business)
        assert_eq!(
            words(r#"a "$UNSET" b"#),
            vec![w("a", 0), w("", 2), w("b", 11)]
        );
        assert_eq!(words(r#"a "${EMPTY}""#), vec![w("a", 0), w("", 2)]);
        assert_eq!(texts(r#""x${UNSET}y""#), vec!["xy"]);
    }

    #[test]
    fn default_values() {
        // verified on haproxy 2.6: `"${UNDEF_X-def val}"` gives `def val`
        assert_eq!(texts(r#""${UNSET-def val}""#), vec!["def val"]);
        assert_eq!(
            texts(r#"log "${LOCAL_SYSLOG-127.0.0.1}:514" local0"#),
            vec!["log", "127.0.0.1:514", "local0"]
        );
        // the default replaces only unset variables, not empty ones
        assert_eq!(texts(r#"x "${EMPTY-def}""#), vec!["x", ""]);
        assert_eq!(texts(r#""${HOME-def}""#), vec!["/root"]);
        assert_eq!(texts(r#""${UNSET-}" y"#), vec!["", "y"]);
        // the default is raw text up to the first `}` (verified on 2.6:
        // `"${U-${V}}"` gives `${V}` and `"${U-a}b}"` gives `ab}`)
        assert_eq!(texts(r#""${UNSET-${HOME}}""#), vec!["${HOME}"]);
        assert_eq!(texts(r#""${UNSET-a}b}""#), vec!["ab}"]);
        assert_eq!(texts(r#""${UNSET-\x41 'q'}""#), vec![r"\x41 'q'"]);
        // only with braces
        assert_eq!(texts(r#""$UNSET-x""#), vec!["-x"]);
    }

    #[test]
    fn word_expansion() {
        // one word per blank-separated element (manual 2.3)
        assert_eq!(
            words(r#"x "${LIST[*]}" y"#),
            vec![w("x", 0), w("a", 2), w("b", 3), w("y", 15)]
        );
        // surrounding text sticks to the first and last elements (verified
        // on haproxy 2.6: `"x${V[*]}y"` with V='a b' gives `xa` and `by`)
        assert_eq!(texts(r#""x${LIST[*]}y""#), vec!["xa", "by"]);
        // a leading blank makes an empty first word, a trailing one at the
        // end of the line adds nothing (verified on 2.6 with V=' a  b ':
        // args `''` then `a`; with V='a ': `a` only)
        assert_eq!(texts(r#""${PADDED[*]}""#), vec!["", "a", "b"]);
        assert_eq!(texts(r#""${PADDED[*]}" z"#), vec!["", "a", "b", "", "z"]);
        // an empty or unset list is one empty (quoted) word
        assert_eq!(texts(r#""${EMPTY[*]}" z"#), vec!["", "z"]);
        assert_eq!(texts(r#""${UNSET[*]}""#), vec![""]);
        // [*] then default; the default is split too (verified on 2.6)
        assert_eq!(texts(r#""${UNSET[*]-p q}""#), vec!["p", "q"]);
        assert_eq!(texts(r#""${UNSET-p q}[*]""#), vec!["p q[*]"]);
        // without braces `[*]` is plain text (verified on 2.6)
        assert_eq!(texts(r#""$SP[*]""#), vec!["x y[*]"]);
        // without [*] blanks stay inside the word
        assert_eq!(texts(r#""${LIST}""#), vec!["a  b"]);
    }

    #[test]
    fn bad_word_expansion() {
        // verified on haproxy 2.6: `.notice "${X[*}"` -> position 13 (the `[`)
        let e = err(r#".notice "${X[*}""#);
        assert_eq!(e, LexError::BadWordExpansion { col: 12 });
        assert_eq!(
            e.to_string(),
            "truncated or invalid word expansion sequence at position 13"
        );
        assert_eq!(err(r#""${X[""#), LexError::BadWordExpansion { col: 4 });
    }

    #[test]
    fn unmatched_braces() {
        // verified on haproxy 2.6: position 11 (the `{`) for both
        let e = err(r#".notice "${FOO""#);
        assert_eq!(e, LexError::UnmatchedBrace { col: 10 });
        assert_eq!(
            e.to_string(),
            "unmatched brace in environment variable name at position 11"
        );
        assert_eq!(
            err(r#".notice "${FOO-x""#),
            LexError::UnmatchedBrace { col: 10 }
        );
        assert_eq!(err(r#""${HOME[*]""#), LexError::UnmatchedBrace { col: 2 });
        assert_eq!(err(r#""${HOME x}""#), LexError::UnmatchedBrace { col: 2 });
        // NUL ends the default value
        assert_eq!(err("\"${U-a\0}\""), LexError::UnmatchedBrace { col: 2 });
    }

    #[test]
    fn bad_variable_names() {
        // verified on haproxy 2.6: `.notice "$1"` -> position 11, `"$"` ->
        // position 11 (the closing quote), `"${.BAD}"` -> position 12 (the dot)
        let e = err(r#".notice "$1""#);
        assert_eq!(e, LexError::BadVarName { col: 10 });
        assert_eq!(
            e.to_string(),
            "forbidden first char in environment variable name at position 11"
        );
        assert_eq!(err(r#".notice "$""#), LexError::BadVarName { col: 10 });
        assert_eq!(
            err(r#".notice "${.BAD}""#),
            LexError::BadVarName { col: 11 }
        );
        assert_eq!(err(r#""${}""#), LexError::BadVarName { col: 3 });
        assert_eq!(err(r#""cost: 5$""#), LexError::BadVarName { col: 9 });
        assert_eq!(err("\"$é\""), LexError::BadVarName { col: 2 });
        // `\$` is the way to write a dollar in double quotes
        assert_eq!(texts(r#""cost: 5\$""#), vec!["cost: 5$"]);
    }

    #[test]
    fn pseudo_variables() {
        // verified on haproxy 2.6: `"${.SECTION}|${.FILE}|$.LINE"` before any
        // section gives `|t.cfg|1`
        assert_eq!(texts(r#""${.SECTION}|${.FILE}|$.LINE""#), vec!["|t.cfg|7"]);
        assert_eq!(texts(r#""${.LINE-x}""#), vec!["7"]);
    }

    #[test]
    fn non_ascii_text_passes_through() {
        assert_eq!(
            words("desc «é» x"),
            vec![w("desc", 0), w("«é»", 5), w("x", 12)]
        );
        // U+00A0 and U+0085 are not C blanks
        assert_eq!(texts("a\u{a0}b\u{85}c"), vec!["a\u{a0}b\u{85}c"]);
    }

    #[test]
    fn many_words_are_all_returned() {
        let line = vec!["w"; 100].join(" ");
        assert_eq!(tokenize(&line, &env).unwrap().len(), 100);
    }
}

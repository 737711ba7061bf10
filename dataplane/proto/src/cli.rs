//! The runtime API's request framing (HAProxy's cli_io_handler and
//! cli_parse_request in src/cli.c), sans-IO: requests end at an LF or an
//! unescaped `;`, a line ending in `<<` takes a payload up to an empty
//! line, and words split on blanks with backslash escapes. The engine's
//! CLI task hands in the bytes it read. Fuzzed by
//! `fuzz/fuzz_targets/cli_request.rs`.

/// One request taken from the input: the line (without its delimiter), or
/// a line ending in `<<` and its payload.
pub fn next_request(input: &mut Vec<u8>) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    // A line ends at an LF or an unescaped `;` (an escaped one stays).
    let mut i = 0;
    let mut end = None;
    while let Some(&c) = input.get(i) {
        match c {
            b'\\' => i += 2,
            b'\n' | b';' => {
                end = Some(i);
                break;
            }
            _ => i += 1,
        }
    }
    let end = end?;
    let mut line: Vec<u8> = input.get(..end).unwrap_or_default().to_vec();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    if line.ends_with(b"<<") {
        // A payload follows, up to an empty line (LFs only).
        let rest = input.get(end + 1..).unwrap_or_default();
        let mut pos = 0;
        let mut payload = Vec::new();
        loop {
            let nl = rest.get(pos..)?.iter().position(|&c| c == b'\n')?;
            let mut l = rest.get(pos..pos + nl).unwrap_or_default();
            if l.last() == Some(&b'\r') {
                l = l.get(..l.len() - 1).unwrap_or_default();
            }
            pos += nl + 1;
            if l.is_empty() {
                break;
            }
            payload.extend_from_slice(l);
            payload.push(b'\n');
        }
        input.drain(..end + 1 + pos);
        line.truncate(line.len() - 2);
        // The payload's last LF goes, as HAProxy's.
        payload.pop();
        return Some((line, Some(payload)));
    }
    input.drain(..=end);
    Some((line, None))
}

/// Split a request into words as cli_parse_request: spaces and tabs
/// separate, a backslash escapes the next character.
pub fn split_args(line: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    args.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        args.push(cur);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::{next_request, split_args};

    #[test]
    fn requests_end_at_lf_or_unescaped_semicolon() {
        let mut i = b"show info; show stat\nhelp".to_vec();
        assert_eq!(
            next_request(&mut i).map(|r| r.0),
            Some(b"show info".to_vec())
        );
        assert_eq!(
            next_request(&mut i).map(|r| r.0),
            Some(b" show stat".to_vec())
        );
        assert_eq!(next_request(&mut i), None, "no LF yet");
        let mut i = b"set map m k a\\;b\r\n".to_vec();
        assert_eq!(
            next_request(&mut i).map(|r| r.0),
            Some(b"set map m k a\\;b".to_vec())
        );
        assert!(i.is_empty());
    }

    #[test]
    fn a_payload_runs_to_an_empty_line() {
        let mut i = b"add map m <<\nk1 v1\nk2 v2\n\nshow info\n".to_vec();
        let (line, payload) = next_request(&mut i).unwrap();
        assert_eq!(line, b"add map m ");
        assert_eq!(payload.unwrap(), b"k1 v1\nk2 v2");
        assert_eq!(i, b"show info\n");
        let mut i = b"add map m <<\nk1 v1\n".to_vec();
        assert_eq!(next_request(&mut i), None, "payload not ended yet");
    }

    #[test]
    fn words_split_on_blanks_with_escapes() {
        assert_eq!(
            split_args("  set  server\tbe/s1 "),
            ["set", "server", "be/s1"]
        );
        assert_eq!(split_args("a\\ b c\\\\d"), ["a b", "c\\d"]);
    }
}

//! Maps (`map`, `map_str`, `map_beg`, `map_sub`, `map_dir`, `map_dom`,
//! `map_end`, `map_reg`, `map_ip`, `map_int`, and their `_int` / `_ip`
//! output variants): a file of `key value` lines, read once at start-up,
//! its keys compiled as patterns of the map's match method, looked up
//! with [`Patterns`] (which gives the matching key's index: its value).
//!
//! A file line as HAProxy reads it (`pat_ref_read_from_file_smp`): blanks
//! before the key skipped, `#` lines and empty lines ignored, the key up to
//! the first blank, the value after the blanks that follow, to the end of
//! the line.

use ringlb_config::acl::{parse_file_pattern, MatchMethod};
use ringlb_config::keywords::SmpType;

use super::pattern::{CompileError, Patterns, Value};
use super::sample::Smp;

/// A loaded map.
#[derive(Debug)]
pub struct Map {
    patterns: Patterns,
    values: Vec<Vec<u8>>,
}

/// The match method and the output type of a `map*` converter name, or
/// None when the name is not a map converter.
pub fn kind(converter: &str) -> Option<(MatchMethod, SmpType)> {
    let rest = converter.strip_prefix("map")?;
    let (method, out) = match rest.strip_prefix('_') {
        None if rest.is_empty() => ("str", "str"),
        None => return None,
        Some(r) => match r.split_once('_') {
            Some((m, o)) => (m, o),
            None => (r, "str"),
        },
    };
    let method = match method {
        "str" => MatchMethod::Str,
        "beg" => MatchMethod::Beg,
        "sub" => MatchMethod::Sub,
        "dir" => MatchMethod::Dir,
        "dom" => MatchMethod::Dom,
        "end" => MatchMethod::End,
        "reg" | "regm" => MatchMethod::Reg,
        "ip" => MatchMethod::Ip,
        "int" => MatchMethod::Int,
        _ => return None,
    };
    let out = match out {
        "str" => SmpType::Str,
        "int" => SmpType::Int,
        "ip" => SmpType::Addr,
        _ => return None,
    };
    Some((method, out))
}

impl Map {
    /// A map of `method` from a file's text; the first bad key is an
    /// error naming its line.
    pub fn parse(text: &str, method: MatchMethod) -> Result<Map, CompileError> {
        let mut keys = Vec::new();
        let mut values = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_start_matches([' ', '\t']);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let key_end = line.find(char::is_whitespace).unwrap_or(line.len());
            let (key, rest) = line.split_at(key_end);
            let value = rest
                .trim_start_matches([' ', '\t'])
                .trim_end_matches(['\r', '\n']);
            let pattern = parse_file_pattern(method, key, true)
                .map_err(|e| CompileError(format!("line {}: {e}", n + 1)))?
                .ok_or_else(|| CompileError(format!("line {}: no pattern", n + 1)))?;
            keys.push(pattern);
            values.push(value.as_bytes().to_vec());
        }
        Ok(Map {
            patterns: Patterns::compile(method, false, &keys)?,
            values,
        })
    }

    /// The value mapped to `key`, typed as the converter outputs it
    /// (`_int`, `_ip`), or None.
    pub fn lookup(&self, key: Value<'_>, out: SmpType) -> Option<Smp> {
        let i = self.patterns.lookup(key)?;
        let v = self.values.get(i)?;
        Smp::Str(v.clone()).cast(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converter_names() {
        assert_eq!(kind("map"), Some((MatchMethod::Str, SmpType::Str)));
        assert_eq!(kind("map_beg"), Some((MatchMethod::Beg, SmpType::Str)));
        assert_eq!(kind("map_ip_int"), Some((MatchMethod::Ip, SmpType::Int)));
        assert_eq!(kind("mapx"), None);
        assert_eq!(kind("map_foo"), None);
    }

    #[test]
    fn a_file_of_keys_and_values() {
        let m = Map::parse(
            "# comment\n\n  /api   backend_api  \n/static static\n/ default\n",
            MatchMethod::Beg,
        )
        .unwrap();
        let look = |k: &str| m.lookup(Value::Str(k.as_bytes()), SmpType::Str);
        assert_eq!(
            look("/api/v1"),
            Some(Smp::Str(b"backend_api  ".to_vec())),
            "the value keeps trailing blanks"
        );
        assert_eq!(look("/static/x"), Some(Smp::Str(b"static".to_vec())));
        assert_eq!(look("/other"), Some(Smp::Str(b"default".to_vec())));
        assert_eq!(look("x"), None);
        let ips = Map::parse("10.0.0.0/8 1\n10.1.0.0/16 2\n", MatchMethod::Ip).unwrap();
        assert_eq!(
            ips.lookup(Value::Ip("10.1.2.3".parse().unwrap()), SmpType::Int),
            Some(Smp::Int(2))
        );
        assert!(Map::parse("not-an-ip x\n", MatchMethod::Ip).is_err());
    }
}

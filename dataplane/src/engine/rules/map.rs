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

/// A loaded map: its slot among the pattern references' users (see
/// `patref`: the runtime API may replace its contents on every core) and
/// its start-up contents.
#[derive(Debug)]
pub struct Map {
    slot: usize,
    initial: std::sync::Arc<MapData>,
}

/// A map's compiled keys and their values.
#[derive(Debug)]
pub struct MapData {
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
    /// The map `file` read by a converter of `method` and output `out`
    /// (start-up): registered as a user of its pattern reference, its
    /// current entries compiled.
    pub fn load(file: &str, method: MatchMethod, out: SmpType) -> Result<Map, CompileError> {
        let (slot, entries) =
            super::patref::register(file, method, super::patref::UseKind::Map(out), || {
                let text = std::fs::read_to_string(file)
                    .map_err(|e| CompileError(format!("cannot read map '{file}': {e}")))?;
                Ok(super::patref::read_lines(&text, true))
            })?;
        let initial = std::sync::Arc::new(
            MapData::compile(&entries, method)
                .map_err(|e| CompileError(format!("map '{file}': {}", e.0)))?,
        );
        super::patref::set_initial(slot, super::patref::Compiled::Map(initial.clone()));
        Ok(Map { slot, initial })
    }

    /// A map of `method` from a file's text, outside the registry (tests).
    pub fn parse(text: &str, method: MatchMethod) -> Result<Map, CompileError> {
        Ok(Map {
            slot: usize::MAX,
            initial: std::sync::Arc::new(MapData::compile(
                &super::patref::read_lines(text, true),
                method,
            )?),
        })
    }

    /// The value mapped to `key`, typed as the converter outputs it
    /// (`_int`, `_ip`), or None: from this core's current contents.
    pub fn lookup(&self, key: Value<'_>, out: SmpType) -> Option<Smp> {
        super::patref::with_map(self.slot, &self.initial, |m| m.lookup(key, out))
    }
}

impl MapData {
    /// Compile `entries` (key, value) for `method`; the first bad key is
    /// an error naming its entry.
    pub fn compile(
        entries: &[(String, Option<String>)],
        method: MatchMethod,
    ) -> Result<MapData, CompileError> {
        let mut keys = Vec::with_capacity(entries.len());
        let mut values = Vec::with_capacity(entries.len());
        for (n, (key, value)) in entries.iter().enumerate() {
            let pattern = parse_file_pattern(method, key, true)
                .map_err(|e| CompileError(format!("entry {}: {e}", n + 1)))?
                .ok_or_else(|| CompileError(format!("entry {}: no pattern", n + 1)))?;
            keys.push(pattern);
            values.push(value.as_deref().unwrap_or("").as_bytes().to_vec());
        }
        Ok(MapData {
            patterns: Patterns::compile(method, false, &keys)?,
            values,
        })
    }

    /// The value mapped to `key`, typed as `out`.
    pub fn lookup(&self, key: Value<'_>, out: SmpType) -> Option<Smp> {
        let i = self.patterns.lookup(key)?;
        let v = self.values.get(i)?;
        Smp::Str(v.clone()).cast(out)
    }

    /// The index of the entry `key` matches (`get map`).
    pub fn find(&self, key: Value<'_>) -> Option<usize> {
        self.patterns.lookup(key)
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

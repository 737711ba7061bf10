//! Reading the configuration: the files named by `-f` (a directory means its
//! `*.cfg` files in name order, as HAProxy does), the environment HAProxy
//! exposes to configurations, and the real-filesystem `Host`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use ringlb_config::{Diagnostic, SourceFile};

/// HAProxy's predefined log formats, exported as environment variables
/// (manual 2.3) so configurations can build on them.
const TCP_LOG_FMT: &str = "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq";
const HTTP_LOG_FMT: &str = "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r";
const HTTPS_LOG_FMT: &str = "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r %[fc_err]/%[ssl_fc_err,hex]/%[ssl_c_err]/%[ssl_c_ca_err]/%[ssl_fc_is_resumed] %[ssl_fc_sni]/%sslv/%sslc";

/// The configuration files to read, in order.
pub fn collect_files(args: &[String]) -> Result<Vec<Arc<SourceFile>>, Diagnostic> {
    let mut out = Vec::new();
    for a in args {
        let path = Path::new(a);
        if path.is_dir() {
            let mut names: Vec<_> = std::fs::read_dir(path)
                .map_err(|e| {
                    Diagnostic::global_error(format!(
                        "Cannot open configuration directory '{a}' : {e}"
                    ))
                })?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "cfg"))
                .collect();
            names.sort();
            for p in names {
                out.push(read_one(&p.to_string_lossy())?);
            }
        } else {
            out.push(read_one(a)?);
        }
    }
    Ok(out)
}

fn read_one(path: &str) -> Result<Arc<SourceFile>, Diagnostic> {
    let bytes = std::fs::read(path).map_err(|e| {
        Diagnostic::global_error(format!("Could not open configuration file {path} : {e}"))
    })?;
    // HAProxy reads bytes; invalid UTF-8 is kept visible rather than refused.
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Ok(SourceFile::new(path, text))
}

/// The process environment plus the variables HAProxy defines for
/// configurations (HAPROXY_CFGFILES, HAPROXY_LOCALPEER, the log formats ...).
#[derive(Debug)]
pub struct RealHost {
    extra: BTreeMap<&'static str, String>,
}

impl RealHost {
    pub fn new(files: &[Arc<SourceFile>], local_peer: Option<&str>, master_worker: bool) -> Self {
        let mut extra = BTreeMap::new();
        extra.insert(
            "HAPROXY_CFGFILES",
            files
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(";"),
        );
        let peer = local_peer
            .map(str::to_string)
            .or_else(hostname)
            .unwrap_or_else(|| "localhost".into());
        extra.insert("HAPROXY_LOCALPEER", peer);
        extra.insert("HAPROXY_TCP_LOG_FMT", TCP_LOG_FMT.into());
        extra.insert("HAPROXY_HTTP_LOG_FMT", HTTP_LOG_FMT.into());
        extra.insert("HAPROXY_HTTPS_LOG_FMT", HTTPS_LOG_FMT.into());
        extra.insert("HAPROXY_BRANCH", ringlb_config::LANGUAGE_LEVEL.into());
        if master_worker {
            extra.insert("HAPROXY_MWORKER", "1".into());
        }
        RealHost { extra }
    }
}

impl ringlb_config::Host for RealHost {
    fn env(&self, name: &str) -> Option<String> {
        if let Some(v) = self.extra.get(name) {
            return Some(v.clone());
        }
        std::env::var(name).ok()
    }

    fn read_file(&self, path: &str) -> Result<Vec<u8>, String> {
        std::fs::read(path).map_err(|e| e.to_string())
    }
}

/// The host name, as HAPROXY_LOCALPEER defaults to it.
fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

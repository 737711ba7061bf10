//! The sample fetches and converters the rules compute, so a
//! configuration using another one is refused at start-up (its sample
//! would silently be missing otherwise: `redirect scheme https unless {
//! ssl_fc }` would loop) unless the engine declares it serves it.

/// Fetches of [`super::fetch`] and [`super::fetch_stream`].
pub const FETCHES: &[&str] = &[
    // the connection, the request head
    "src",
    "dst",
    "src_port",
    "dst_port",
    "fe_name",
    "url",
    "url_param",
    "urlp",
    "path",
    "pathq",
    "query",
    "base",
    "method",
    "req.ver",
    "req_ver",
    "req.hdr",
    "hdr",
    "req.fhdr",
    "req.cook",
    "cook",
    "cookie",
    "req.cook_cnt",
    "cook_cnt",
    "req.hdr_ip",
    "hdr_ip",
    "req.hdr_val",
    "hdr_val",
    "req.hdr_cnt",
    "hdr_cnt",
    "req.fhdr_cnt",
    "req.hdrs",
    "req.proto_http",
    "req_proto_http",
    "req.cook_val",
    "cook_val",
    "urlp_val",
    "base32",
    "url32",
    "base32+src",
    "url32+src",
    // the response
    "status",
    "res.ver",
    "resp_ver",
    "res.hdr",
    "shdr",
    "res.fhdr",
    "res.hdr_ip",
    "shdr_ip",
    "res.hdr_val",
    "shdr_val",
    "res.hdr_cnt",
    "shdr_cnt",
    "res.fhdr_cnt",
    "res.cook",
    "scook",
    "res.cook_cnt",
    "scook_cnt",
    "res.cook_val",
    "scook_val",
    // the channels' content (TCP mode; no sample over HTTP)
    "req.payload",
    "payload",
    "req.payload_lv",
    "payload_lv",
    "req.ssl_sni",
    "req_ssl_sni",
    "req.ssl_ver",
    "req_ssl_ver",
    "req.ssl_hello_type",
    "req_ssl_hello_type",
    "res.len",
    "res.payload",
    "res.payload_lv",
    "res.ssl_hello_type",
    "rep_ssl_hello_type",
    "req.rdp_cookie",
    "rdp_cookie",
    "req.rdp_cookie_cnt",
    "rdp_cookie_cnt",
    // the stream through Env
    "req.body",
    "req.len",
    "req_len",
    "fe_id",
    "be_name",
    "be_id",
    "srv_name",
    "srv_id",
    "nbsrv",
    "be_conn",
    "connslots",
    "fe_conn",
    "srv_is_up",
    "unique-id",
    // variables, captures, authentication
    "var",
    "capture.req.hdr",
    "capture.res.hdr",
    "http_auth",
    "http_auth_group",
    "http_auth_type",
    "http_auth_user",
    "http_auth_pass",
    "http_auth_bearer",
    // constants and clocks
    "always_true",
    "always_false",
    "str",
    "int",
    "bool",
    "env",
    "date",
    "rand",
    "uuid",
];

/// Converters of [`super::sample`] and [`super::expr`] (the `map*`
/// family is [`super::map::kind`]'s).
pub const CONVERTERS: &[&str] = &[
    "lower",
    "upper",
    "length",
    "hex",
    "base64",
    "b64dec",
    "bytes",
    "field",
    "word",
    "add",
    "sub",
    "mul",
    "div",
    "mod",
    "neg",
    "not",
    "bool",
    "odd",
    "even",
    "sdbm",
    "djb2",
    "wt6",
    "crc32",
    "crc32c",
    "url_dec",
    "url_enc",
    "xxh32",
    "xxh64",
    "xxh3",
    "json",
    "utime",
    "regsub",
    "ipmask",
    "concat",
    "strcmp",
    "secure_memcmp",
    "ltime",
    "and",
    "or",
    "xor",
    "cpl",
    "ltrim",
    "rtrim",
    "http_date",
    "sha2",
    "set-var",
    "unset-var",
];

pub fn fetch_supported(name: &str, engine: &[&str]) -> bool {
    FETCHES.contains(&name) || engine.contains(&name)
}

pub fn converter_supported(name: &str) -> bool {
    CONVERTERS.contains(&name) || super::map::kind(name).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name is one HAProxy knows (a typo would refuse a valid
    /// configuration or let a wrong one pass).
    #[test]
    fn every_name_is_a_keyword() {
        let unknown: Vec<_> = FETCHES
            .iter()
            .filter(|f| ringlb_config::keywords::fetch(f).is_none())
            .chain(
                CONVERTERS
                    .iter()
                    .filter(|c| ringlb_config::keywords::converter(c).is_none()),
            )
            .collect();
        assert!(unknown.is_empty(), "{unknown:?}");
        assert!(converter_supported("map_beg_int"));
        assert!(!converter_supported("set-var-fmt"));
        assert!(!fetch_supported("ssl_fc", &[]));
        assert!(fetch_supported("ssl_fc", &["ssl_fc"]));
    }
}

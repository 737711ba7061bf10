//! Health checks: the check kind and the `tcp-check`/`http-check` steps.

use crate::addr::Address;
use crate::diag::Loc;

/// The health-check kind a backend's `check` servers run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckKind {
    /// A plain TCP connect (no option given).
    Tcp,
    Http {
        method: Option<String>,
        uri: Option<String>,
        version: Option<String>,
    },
    SslHello,
    Mysql {
        user: Option<String>,
        post_41: bool,
    },
    Pgsql {
        user: String,
    },
    Redis,
    Smtp {
        hello: Option<(String, String)>,
    },
    Ldap,
    Spop,
    /// `option tcp-check`: the `tcp-check` rules.
    TcpCheck,
    External,
}
/// One step of an `http-check` / `tcp-check` sequence.
#[derive(Clone, Debug)]
pub struct CheckStep {
    pub kind: CheckStepKind,
    /// `comment <msg>` on the step.
    pub comment: Option<String>,
    pub loc: Loc,
}

#[derive(Clone, Debug)]
pub enum CheckStepKind {
    Connect(CheckConnect),
    /// `http-check send`.
    HttpSend {
        method: Option<String>,
        uri: Option<String>,
        uri_lf: bool,
        version: Option<String>,
        headers: Vec<(String, String)>,
        body: Option<String>,
        body_lf: bool,
    },
    /// `tcp-check send <data>` / `send-lf`.
    Send {
        data: String,
        lf: bool,
    },
    /// `tcp-check send-binary <hex>` / `send-binary-lf`.
    SendBinary {
        data: Vec<u8>,
        lf: Option<String>,
    },
    Expect(CheckExpect),
    /// `http-check disable-on-404`, `tcp-check comment`, `set-var`,
    /// `unset-var`: kept as words.
    Other {
        keyword: String,
        args: Vec<String>,
    },
}

#[derive(Clone, Debug, Default)]
pub struct CheckConnect {
    pub default: bool,
    pub port: Option<String>,
    pub addr: Option<Address>,
    pub send_proxy: bool,
    pub via_socks4: bool,
    pub ssl: bool,
    pub sni: Option<String>,
    pub alpn: Option<String>,
    pub proto: Option<String>,
    pub linger: bool,
}

#[derive(Clone, Debug)]
pub struct CheckExpect {
    pub negate: bool,
    pub kind: ExpectKind,
    pub pattern: String,
    pub min_recv: Option<i64>,
    pub ok_status: Option<String>,
    pub error_status: Option<String>,
    pub tout_status: Option<String>,
    pub on_success: Option<String>,
    pub on_error: Option<String>,
    pub status_code: Option<String>,
    /// `hdr`/`fhdr`: `name [-m <meth>] <pattern> [value [-m <meth>]
    /// <pattern>]` as written.
    pub hdr: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectKind {
    Status,
    RStatus,
    Hdr,
    Fhdr,
    String,
    RString,
    Binary,
    RBinary,
    StringLf,
    BinaryLf,
    Custom,
}

impl ExpectKind {
    pub fn from_keyword(k: &str) -> Option<Self> {
        Some(match k {
            "status" => ExpectKind::Status,
            "rstatus" => ExpectKind::RStatus,
            "hdr" => ExpectKind::Hdr,
            "fhdr" => ExpectKind::Fhdr,
            "string" => ExpectKind::String,
            "rstring" => ExpectKind::RString,
            "binary" => ExpectKind::Binary,
            "rbinary" => ExpectKind::RBinary,
            "string-lf" => ExpectKind::StringLf,
            "binary-lf" => ExpectKind::BinaryLf,
            _ => return None,
        })
    }
}

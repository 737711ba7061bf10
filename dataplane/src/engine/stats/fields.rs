//! HAProxy 2.6's stats fields (include/haproxy/stats-t.h `enum stat_field`,
//! src/stats.c `stat_fields`): their order, names and descriptions.
#![allow(dead_code)] // every index is named; not every one is filled

pub const TOTAL: usize = 103;

pub const PXNAME: usize = 0;
pub const SVNAME: usize = 1;
pub const QCUR: usize = 2;
pub const QMAX: usize = 3;
pub const SCUR: usize = 4;
pub const SMAX: usize = 5;
pub const SLIM: usize = 6;
pub const STOT: usize = 7;
pub const BIN: usize = 8;
pub const BOUT: usize = 9;
pub const DREQ: usize = 10;
pub const DRESP: usize = 11;
pub const EREQ: usize = 12;
pub const ECON: usize = 13;
pub const ERESP: usize = 14;
pub const WRETR: usize = 15;
pub const WREDIS: usize = 16;
pub const STATUS: usize = 17;
pub const WEIGHT: usize = 18;
pub const ACT: usize = 19;
pub const BCK: usize = 20;
pub const CHKFAIL: usize = 21;
pub const CHKDOWN: usize = 22;
pub const LASTCHG: usize = 23;
pub const DOWNTIME: usize = 24;
pub const QLIMIT: usize = 25;
pub const PID: usize = 26;
pub const IID: usize = 27;
pub const SID: usize = 28;
pub const THROTTLE: usize = 29;
pub const LBTOT: usize = 30;
pub const TRACKED: usize = 31;
pub const TYPE: usize = 32;
pub const RATE: usize = 33;
pub const RATE_LIM: usize = 34;
pub const RATE_MAX: usize = 35;
pub const CHECK_STATUS: usize = 36;
pub const CHECK_CODE: usize = 37;
pub const CHECK_DURATION: usize = 38;
pub const HRSP_1XX: usize = 39;
pub const HRSP_2XX: usize = 40;
pub const HRSP_3XX: usize = 41;
pub const HRSP_4XX: usize = 42;
pub const HRSP_5XX: usize = 43;
pub const HRSP_OTHER: usize = 44;
pub const HANAFAIL: usize = 45;
pub const REQ_RATE: usize = 46;
pub const REQ_RATE_MAX: usize = 47;
pub const REQ_TOT: usize = 48;
pub const CLI_ABRT: usize = 49;
pub const SRV_ABRT: usize = 50;
pub const COMP_IN: usize = 51;
pub const COMP_OUT: usize = 52;
pub const COMP_BYP: usize = 53;
pub const COMP_RSP: usize = 54;
pub const LASTSESS: usize = 55;
pub const LAST_CHK: usize = 56;
pub const LAST_AGT: usize = 57;
pub const QTIME: usize = 58;
pub const CTIME: usize = 59;
pub const RTIME: usize = 60;
pub const TTIME: usize = 61;
pub const AGENT_STATUS: usize = 62;
pub const AGENT_CODE: usize = 63;
pub const AGENT_DURATION: usize = 64;
pub const CHECK_DESC: usize = 65;
pub const AGENT_DESC: usize = 66;
pub const CHECK_RISE: usize = 67;
pub const CHECK_FALL: usize = 68;
pub const CHECK_HEALTH: usize = 69;
pub const AGENT_RISE: usize = 70;
pub const AGENT_FALL: usize = 71;
pub const AGENT_HEALTH: usize = 72;
pub const ADDR: usize = 73;
pub const COOKIE: usize = 74;
pub const MODE: usize = 75;
pub const ALGO: usize = 76;
pub const CONN_RATE: usize = 77;
pub const CONN_RATE_MAX: usize = 78;
pub const CONN_TOT: usize = 79;
pub const INTERCEPTED: usize = 80;
pub const DCON: usize = 81;
pub const DSES: usize = 82;
pub const WREW: usize = 83;
pub const CONNECT: usize = 84;
pub const REUSE: usize = 85;
pub const CACHE_LOOKUPS: usize = 86;
pub const CACHE_HITS: usize = 87;
pub const SRV_ICUR: usize = 88;
pub const SRV_ILIM: usize = 89;
pub const QT_MAX: usize = 90;
pub const CT_MAX: usize = 91;
pub const RT_MAX: usize = 92;
pub const TT_MAX: usize = 93;
pub const EINT: usize = 94;
pub const IDLE_CONN_CUR: usize = 95;
pub const SAFE_CONN_CUR: usize = 96;
pub const USED_CONN_CUR: usize = 97;
pub const NEED_CONN_EST: usize = 98;
pub const UWEIGHT: usize = 99;
pub const AGG_SRV_STATUS: usize = 100;
pub const AGG_SRV_CHECK_STATUS: usize = 101;
pub const AGG_CHECK_STATUS: usize = 102;

/// (name, description) of each field, in order.
pub const FIELDS: [(&str, &str); TOTAL] = [
    ("pxname", "Proxy name"),
    ("svname", "Server name"),
    ("qcur", "Number of current queued connections"),
    ("qmax", "Highest value of queued connections encountered since process started"),
    ("scur", "Number of current sessions on the frontend, backend or server"),
    ("smax", "Highest value of current sessions encountered since process started"),
    ("slim", "Frontend/listener/server's maxconn, backend's fullconn"),
    ("stot", "Total number of sessions since process started"),
    ("bin", "Total number of request bytes since process started"),
    ("bout", "Total number of response bytes since process started"),
    ("dreq", "Total number of denied requests since process started"),
    ("dresp", "Total number of denied responses since process started"),
    ("ereq", "Total number of invalid requests since process started"),
    ("econ", "Total number of failed connections to server since the worker process started"),
    ("eresp", "Total number of invalid responses since the worker process started"),
    ("wretr", "Total number of server connection retries since the worker process started"),
    ("wredis", "Total number of server redispatches due to connection failures since the worker process started"),
    ("status", "Frontend/listen status: OPEN/WAITING/FULL/STOP; backend: UP/DOWN; server: last check status"),
    ("weight", "Server's effective weight, or sum of active servers' effective weights for a backend"),
    ("act", "Total number of active UP servers with a non-zero weight"),
    ("bck", "Total number of backup UP servers with a non-zero weight"),
    ("chkfail", "Total number of failed individual health checks per server/backend, since the worker process started"),
    ("chkdown", "Total number of failed checks causing UP to DOWN server transitions, per server/backend, since the worker process started"),
    ("lastchg", "How long ago the last server state changed, in seconds"),
    ("downtime", "Total time spent in DOWN state, for server or backend"),
    ("qlimit", "Limit on the number of connections in queue, for servers only (maxqueue argument)"),
    ("pid", "Relative worker process number (1)"),
    ("iid", "Frontend or Backend numeric identifier ('id' setting)"),
    ("sid", "Server numeric identifier ('id' setting)"),
    ("throttle", "Throttling ratio applied to a server's maxconn and weight during the slowstart period (0 to 100%)"),
    ("lbtot", "Total number of requests routed by load balancing since the worker process started (ignores queue pop and stickiness)"),
    ("tracked", "Name of the other server this server tracks for its state"),
    ("type", "Type of the object (Listener, Frontend, Backend, Server)"),
    ("rate", "Total number of sessions processed by this object over the last second (sessions for listeners/frontends, requests for backends/servers)"),
    ("rate_lim", "Limit on the number of sessions accepted in a second (frontend only, 'rate-limit sessions' setting)"),
    ("rate_max", "Highest value of sessions per second observed since the worker process started"),
    ("check_status", "Status report of the server's latest health check, prefixed with '*' if a check is currently in progress"),
    ("check_code", "HTTP/SMTP/LDAP status code reported by the latest server health check"),
    ("check_duration", "Total duration of the latest server health check, in milliseconds"),
    ("hrsp_1xx", "Total number of HTTP responses with status 100-199 returned by this object since the worker process started"),
    ("hrsp_2xx", "Total number of HTTP responses with status 200-299 returned by this object since the worker process started"),
    ("hrsp_3xx", "Total number of HTTP responses with status 300-399 returned by this object since the worker process started"),
    ("hrsp_4xx", "Total number of HTTP responses with status 400-499 returned by this object since the worker process started"),
    ("hrsp_5xx", "Total number of HTTP responses with status 500-599 returned by this object since the worker process started"),
    ("hrsp_other", "Total number of HTTP responses with status <100, >599 returned by this object since the worker process started (error -1 included)"),
    ("hanafail", "Total number of failed checks caused by an 'on-error' directive after an 'observe' condition matched"),
    ("req_rate", "Number of HTTP requests processed over the last second on this object"),
    ("req_rate_max", "Highest value of http requests observed since the worker process started"),
    ("req_tot", "Total number of HTTP requests processed by this object since the worker process started"),
    ("cli_abrt", "Total number of requests or connections aborted by the client since the worker process started"),
    ("srv_abrt", "Total number of requests or connections aborted by the server since the worker process started"),
    ("comp_in", "Total number of bytes submitted to the HTTP compressor for this object since the worker process started"),
    ("comp_out", "Total number of bytes emitted by the HTTP compressor for this object since the worker process started"),
    ("comp_byp", "Total number of bytes that bypassed HTTP compression for this object since the worker process started (CPU/memory/bandwidth limitation)"),
    ("comp_rsp", "Total number of HTTP responses that were compressed for this object since the worker process started"),
    ("lastsess", "How long ago some traffic was seen on this object on this worker process, in seconds"),
    ("last_chk", "Short description of the latest health check report for this server (see also check_desc)"),
    ("last_agt", "Short description of the latest agent check report for this server (see also agent_desc)"),
    ("qtime", "Time spent in the queue, in milliseconds, averaged over the 1024 last requests (backend/server)"),
    ("ctime", "Time spent waiting for a connection to complete, in milliseconds, averaged over the 1024 last requests (backend/server)"),
    ("rtime", "Time spent waiting for a server response, in milliseconds, averaged over the 1024 last requests (backend/server)"),
    ("ttime", "Total request+response time (request+queue+connect+response+processing), in milliseconds, averaged over the 1024 last requests (backend/server)"),
    ("agent_status", "Status report of the server's latest agent check, prefixed with '*' if a check is currently in progress"),
    ("agent_code", "Status code reported by the latest server agent check"),
    ("agent_duration", "Total duration of the latest server agent check, in milliseconds"),
    ("check_desc", "Textual description of the latest health check report for this server"),
    ("agent_desc", "Textual description of the latest agent check report for this server"),
    ("check_rise", "Number of successful health checks before declaring a server UP (server 'rise' setting)"),
    ("check_fall", "Number of failed health checks before declaring a server DOWN (server 'fall' setting)"),
    ("check_health", "Current server health check level (0..fall-1=DOWN, fall..rise-1=UP)"),
    ("agent_rise", "Number of successful agent checks before declaring a server UP (server 'rise' setting)"),
    ("agent_fall", "Number of failed agent checks before declaring a server DOWN (server 'fall' setting)"),
    ("agent_health", "Current server agent check level (0..fall-1=DOWN, fall..rise-1=UP)"),
    ("addr", "Server's address:port, shown only if show-legends is set, or at levels oper/admin for the CLI"),
    ("cookie", "Backend's cookie name or Server's cookie value, shown only if show-legends is set, or at levels oper/admin for the CLI"),
    ("mode", "'mode' setting (tcp/http/health/cli)"),
    ("algo", "Backend's load balancing algorithm, shown only if show-legends is set, or at levels oper/admin for the CLI"),
    ("conn_rate", "Number of new connections accepted over the last second on the frontend for this worker process"),
    ("conn_rate_max", "Highest value of connections per second observed since the worker process started"),
    ("conn_tot", "Total number of new connections accepted on this frontend since the worker process started"),
    ("intercepted", "Total number of HTTP requests intercepted on the frontend (redirects/stats/services) since the worker process started"),
    ("dcon", "Total number of incoming connections blocked on a listener/frontend by a tcp-request connection rule since the worker process started"),
    ("dses", "Total number of incoming sessions blocked on a listener/frontend by a tcp-request connection rule since the worker process started"),
    ("wrew", "Total number of failed HTTP header rewrites since the worker process started"),
    ("connect", "Total number of outgoing connection attempts on this backend/server since the worker process started"),
    ("reuse", "Total number of reused connection on this backend/server since the worker process started"),
    ("cache_lookups", "Total number of HTTP requests looked up in the cache on this frontend/backend since the worker process started"),
    ("cache_hits", "Total number of HTTP requests not found in the cache on this frontend/backend since the worker process started"),
    ("srv_icur", "Current number of idle connections available for reuse on this server"),
    ("src_ilim", "Limit on the number of available idle connections on this server (server 'pool_max_conn' directive)"),
    ("qtime_max", "Maximum observed time spent in the queue, in milliseconds (backend/server)"),
    ("ctime_max", "Maximum observed time spent waiting for a connection to complete, in milliseconds (backend/server)"),
    ("rtime_max", "Maximum observed time spent waiting for a server response, in milliseconds (backend/server)"),
    ("ttime_max", "Maximum observed total request+response time (request+queue+connect+response+processing), in milliseconds (backend/server)"),
    ("eint", "Total number of internal errors since process started"),
    ("idle_conn_cur", "Current number of unsafe idle connections"),
    ("safe_conn_cur", "Current number of safe idle connections"),
    ("used_conn_cur", "Current number of connections in use"),
    ("need_conn_est", "Estimated needed number of connections"),
    ("uweight", "Server's user weight, or sum of active servers' user weights for a backend"),
    ("agg_server_status", "Backend's aggregated gauge of servers' status"),
    ("agg_server_check_status", "Backend's aggregated gauge of servers' state check status"),
    ("agg_check_status", "Backend's aggregated gauge of servers' state check status"),
];

//! Typed settings from flags and `TESSERA_*` variables. Everything is checked here, so a bad
//! value ends start-up with one clear line.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine;
use clap::{Args, Parser, Subcommand, ValueEnum};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use url::Url;

use crate::catalog::Catalog;

const MIN_SESSION_KEY_BYTES: usize = 64;

#[derive(Debug, Parser)]
#[command(
    name = "tessera",
    version,
    about = "Organization-scoped API credentials: console and API",
    after_help = "Every flag can also be set by its environment variable (shown in each command's --help, e.g. \
                  --database-url as TESSERA_DATABASE_URL).\nServer settings (address, public URL, OpenID Connect, \
                  session key, limits): `tessera serve --help`.\nFirst try: `tessera demo`, then open http://127.0.0.1:8080."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// `sqlite://PATH` or `postgres://…`
    #[arg(
        long,
        env = "TESSERA_DATABASE_URL",
        default_value = "sqlite://tessera.db",
        global = true,
        hide_env_values = true
    )]
    pub database_url: String,
    /// Path of the catalog TOML (scopes, permissions, prefixes, plan caps, setup variables)
    #[arg(long, env = "TESSERA_CATALOG", global = true)]
    pub catalog: Option<PathBuf>,
    /// Log lines as plain text or as one JSON object each
    #[arg(long, env = "TESSERA_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Seed a demo organization into the database and serve it with dev sign-in
    Demo(ServerArgs),
    /// Serve the console and the API
    Serve(ServerArgs),
    /// Apply pending database migrations and exit
    Migrate,
    /// Operator commands for organizations
    #[command(subcommand)]
    Org(OrgCommand),
    /// Operator commands for platform resource servers (introspection callers)
    #[command(subcommand, name = "resource-server")]
    ResourceServer(ResourceServerCommand),
    /// Operator commands for people
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Make a person a platform operator: they may read every org, and write only where a member
    MakeOperator {
        /// The person's email address
        email: String,
    },
    /// Take the platform operator flag away
    RemoveOperator {
        /// The person's email address
        email: String,
    },
    /// End every console session of a person at once (their credentials keep working)
    SignOut {
        /// The person's email address
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ResourceServerCommand {
    /// Create one and print its secret once
    Create {
        /// A name to recognise it by, e.g. "api-gateway"
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an org (API access starts off)
    Create {
        /// Short name used in URLs, e.g. acme
        slug: String,
        /// Display name, e.g. "Acme Corp"
        name: String,
        /// free, team, growth or enterprise
        #[arg(long, default_value = "free")]
        plan: String,
        /// Make this person the org's owner (a new account is made for an unknown email,
        /// linked to their identity at first sign-in)
        #[arg(long)]
        owner: Option<String>,
    },
    /// Set an org's plan, and optionally its own cap of live credentials per kind
    SetPlan {
        /// The org's slug
        slug: String,
        /// free, team, growth or enterprise
        plan: String,
        /// Live credentials per kind for this org, instead of the plan's cap
        #[arg(long)]
        cap: Option<u32>,
    },
    /// Open or close the API-access gate (API key creation)
    ApiAccess {
        /// The org's slug
        slug: String,
        /// on or off
        state: OnOff,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Listen address
    #[arg(long, env = "TESSERA_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// External base URL of the console (default: http:// + bind)
    #[arg(long, env = "TESSERA_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Base URL shown in setup scripts (default: the public URL)
    #[arg(long, env = "TESSERA_API_URL")]
    pub api_url: Option<String>,
    /// OpenID provider's issuer URL (discovery is read from it); the redirect URI to register
    /// there is the public URL + /auth/callback
    #[arg(long, env = "TESSERA_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// Client id registered at the OpenID provider
    #[arg(long, env = "TESSERA_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,
    /// Client secret registered at the OpenID provider
    #[arg(long, env = "TESSERA_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<String>,
    /// Base64 key of 64 bytes or more that encrypts session cookies, e.g. the output of
    /// `openssl rand -base64 64` (line breaks are ignored)
    #[arg(long, env = "TESSERA_SESSION_KEY", hide_env_values = true)]
    pub session_key: Option<String>,
    /// Offer a sign-in form listing the seeded users (loopback only)
    #[arg(long, env = "TESSERA_DEV_LOGIN", num_args = 0..=1, default_missing_value = "true")]
    pub dev_login: Option<bool>,
    /// Minutes without a request after which a console session ends
    #[arg(long, env = "TESSERA_SESSION_IDLE_MINUTES", default_value_t = 480)]
    pub session_idle_minutes: u32,
    /// Hours after sign-in after which a console session ends, active or not
    #[arg(long, env = "TESSERA_SESSION_ABSOLUTE_HOURS", default_value_t = 168)]
    pub session_absolute_hours: u32,
    /// Default requests per minute per credential
    #[arg(long, env = "TESSERA_RATE_LIMIT_PER_MINUTE", default_value_t = 600)]
    pub rate_limit_per_minute: u32,
    /// Seconds a verification cache may go without reading the change feed before it stops
    /// answering from its entries (then every request is verified against the database)
    #[arg(long, env = "TESSERA_CACHE_STALENESS_SECONDS", default_value_t = 5)]
    pub cache_staleness_seconds: u32,
    /// Bearer token that GET /metrics requires (16 characters or more); without it /metrics is
    /// open, like /healthz
    #[arg(long, env = "TESSERA_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Serve GET /api/v1/bench/baseline?bytes=N, an unauthenticated JSON body of N bytes that
    /// benchmarks compare the authenticated path against. Off unless asked for.
    #[arg(long, hide = true)]
    pub bench_baseline: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(String),
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if let Some(path) = raw.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(
                    "TESSERA_DATABASE_URL: sqlite:// needs a file path, e.g. sqlite://tessera.db".into()
                );
            }
            Ok(Self::Sqlite(path.to_owned()))
        } else if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            Url::parse(raw).map_err(|e| format!("TESSERA_DATABASE_URL: not a valid PostgreSQL URL ({e})"))?;
            Ok(Self::Postgres(raw.to_owned()))
        } else {
            Err("TESSERA_DATABASE_URL must start with sqlite:// or postgres://".into())
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{path}"),
            Self::Postgres(_) => f.write_str("postgres://…"),
        }
    }
}

/// The bearer token a Prometheus scraper presents on `/metrics`. Never printed; compared in
/// constant time.
#[derive(Clone)]
pub struct MetricsToken([u8; 32]);

impl MetricsToken {
    const MIN_CHARS: usize = 16;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.chars().count() < Self::MIN_CHARS {
            return Err(format!("TESSERA_METRICS_TOKEN must be at least {} characters", Self::MIN_CHARS));
        }
        Ok(Self(Sha256::digest(raw.as_bytes()).into()))
    }

    /// Digests are compared, so neither the token's length nor a common prefix shows in timing.
    pub fn matches(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        bool::from(self.0.ct_eq(&digest))
    }
}

impl fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MetricsToken(****)")
    }
}

/// The cookie-signing key. Never printed.
#[derive(Clone)]
pub struct SessionKey(Vec<u8>);

impl SessionKey {
    pub fn parse_base64(raw: &str) -> Result<Self, String> {
        // `openssl rand -base64 64` prints two lines: whitespace anywhere is not part of the key.
        let compact: String = raw.split_whitespace().collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|_| "TESSERA_SESSION_KEY must be base64".to_owned())?;
        if bytes.len() < MIN_SESSION_KEY_BYTES {
            return Err(format!(
                "TESSERA_SESSION_KEY must decode to at least {MIN_SESSION_KEY_BYTES} bytes (it has {})",
                bytes.len()
            ));
        }
        Ok(Self(bytes))
    }

    pub fn generate() -> Self {
        use rand::TryRngCore;
        let mut bytes = vec![0u8; MIN_SESSION_KEY_BYTES];
        rand::rngs::OsRng.unwrap_err().try_fill_bytes(&mut bytes).unwrap_or(());
        Self(bytes)
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(****)")
    }
}

#[derive(Clone)]
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
}

impl fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// How long a session lives: since its last request, and since sign-in whatever happens.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    pub idle_seconds: i64,
    pub absolute_seconds: i64,
}

/// Everything a server needs, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database: DatabaseUrl,
    pub bind: SocketAddr,
    pub public_url: Url,
    pub api_url: Url,
    pub oidc: Option<OidcSettings>,
    pub session_key: SessionKey,
    pub catalog: Arc<Catalog>,
    pub dev_login: bool,
    pub session_limits: SessionLimits,
    pub rate_limit_per_minute: u32,
    pub bench_baseline: bool,
    /// When set, `/metrics` answers only a scraper presenting it as a bearer token.
    pub metrics_token: Option<MetricsToken>,
    /// How long the verification cache is trusted after the change feed was last read.
    pub cache_staleness: std::time::Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Demo,
    Serve,
}

pub fn load_catalog(path: Option<&PathBuf>) -> Result<Catalog, String> {
    path.map_or_else(|| Ok(Catalog::built_in()), |p| Catalog::load(p))
}

impl Settings {
    pub fn from_args(global: &GlobalArgs, args: &ServerArgs, mode: Mode) -> Result<Self, String> {
        let database = DatabaseUrl::parse(&global.database_url)?;
        let bind: SocketAddr = args
            .bind
            .parse()
            .map_err(|_| format!("TESSERA_BIND: {:?} is not an address like 127.0.0.1:8080", args.bind))?;
        let public_url = parse_base_url(
            "TESSERA_PUBLIC_URL",
            args.public_url.clone().unwrap_or_else(|| format!("http://{bind}")),
        )?;
        let api_url = match &args.api_url {
            Some(raw) => parse_base_url("TESSERA_API_URL", raw.clone())?,
            None => public_url.clone(),
        };
        let oidc = oidc_settings(args)?;
        let dev_login = args.dev_login.unwrap_or(mode == Mode::Demo);
        if dev_login && !bind.ip().is_loopback() {
            return Err(format!("dev sign-in is for loopback only, but TESSERA_BIND is {bind}"));
        }
        if oidc.is_none() && !dev_login {
            return Err("no sign-in configured: set TESSERA_OIDC_ISSUER, TESSERA_OIDC_CLIENT_ID and TESSERA_OIDC_CLIENT_SECRET, or pass --dev-login on a loopback address".into());
        }
        let session_key = match (&args.session_key, mode) {
            (Some(raw), _) => SessionKey::parse_base64(raw)?,
            (None, Mode::Demo) => SessionKey::generate(),
            (None, Mode::Serve) => return Err("TESSERA_SESSION_KEY is required (base64 of 64 or more random bytes, e.g. `openssl rand -base64 64`)".into()),
        };
        if args.session_idle_minutes == 0 || args.session_absolute_hours == 0 {
            return Err(
                "TESSERA_SESSION_IDLE_MINUTES and TESSERA_SESSION_ABSOLUTE_HOURS must be at least 1".into()
            );
        }
        let session_limits = SessionLimits {
            idle_seconds: i64::from(args.session_idle_minutes) * 60,
            absolute_seconds: i64::from(args.session_absolute_hours) * 3600,
        };
        if args.rate_limit_per_minute == 0 {
            return Err("TESSERA_RATE_LIMIT_PER_MINUTE must be at least 1".into());
        }
        if args.cache_staleness_seconds == 0 {
            return Err("TESSERA_CACHE_STALENESS_SECONDS must be at least 1".into());
        }
        Ok(Self {
            database,
            bind,
            public_url,
            api_url,
            oidc,
            session_key,
            catalog: Arc::new(load_catalog(global.catalog.as_ref())?),
            dev_login,
            session_limits,
            rate_limit_per_minute: args.rate_limit_per_minute,
            bench_baseline: args.bench_baseline,
            metrics_token: args.metrics_token.as_deref().map(MetricsToken::parse).transpose()?,
            cache_staleness: std::time::Duration::from_secs(u64::from(args.cache_staleness_seconds)),
        })
    }

    /// Cookies are marked `Secure`, and answers carry `Strict-Transport-Security`, when the
    /// console is served over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// Wrong passphrases a credential may receive per minute before it is locked out.
    pub fn wrong_passphrase_limit(&self) -> u32 {
        self.catalog
            .wrong_passphrases_per_minute
            .unwrap_or(crate::catalog::DEFAULT_WRONG_PASSPHRASES_PER_MINUTE)
    }

    /// Requests per minute for a credential with no override of its own.
    pub fn default_rate_limit(&self) -> u32 {
        self.catalog.rate_limit_per_minute.unwrap_or(self.rate_limit_per_minute)
    }
}

fn parse_base_url(var: &str, raw: String) -> Result<Url, String> {
    let url = Url::parse(&raw).map_err(|e| format!("{var}: {raw:?} is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("{var}: {raw:?} must be an http or https URL"));
    }
    Ok(url)
}

fn oidc_settings(args: &ServerArgs) -> Result<Option<OidcSettings>, String> {
    match (&args.oidc_issuer, &args.oidc_client_id, &args.oidc_client_secret) {
        (None, None, None) => Ok(None),
        (Some(issuer), Some(client_id), Some(client_secret)) => Ok(Some(OidcSettings {
            // Kept as written: the provider's metadata must name exactly this issuer, and a
            // parsed URL would add a trailing slash to a bare host.
            issuer: parse_base_url("TESSERA_OIDC_ISSUER", issuer.clone()).map(|_| issuer.clone())?,
            client_id: client_id.clone(),
            client_secret: client_secret.clone(),
        })),
        _ => Err("set all three of TESSERA_OIDC_ISSUER, TESSERA_OIDC_CLIENT_ID and TESSERA_OIDC_CLIENT_SECRET, or none".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls() {
        assert_eq!(DatabaseUrl::parse("sqlite://x.db"), Ok(DatabaseUrl::Sqlite("x.db".into())));
        assert_eq!(DatabaseUrl::parse("sqlite:///tmp/x.db"), Ok(DatabaseUrl::Sqlite("/tmp/x.db".into())));
        assert!(matches!(DatabaseUrl::parse("postgres://u:pw@h/db"), Ok(DatabaseUrl::Postgres(_))));
        assert!(DatabaseUrl::parse("mysql://h/db").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
        let shown = format!("{:?}", DatabaseUrl::parse("postgres://u:hunter2@h/db").unwrap());
        assert!(!shown.contains("hunter2"));
    }

    #[test]
    fn session_keys_must_be_long_base64() {
        assert!(SessionKey::parse_base64("c2hvcnQ=").unwrap_err().contains("64 bytes"));
        assert!(SessionKey::parse_base64("!!!").is_err());
        let long = base64::engine::general_purpose::STANDARD.encode([7u8; 64]);
        assert!(SessionKey::parse_base64(&long).is_ok());
        // As `openssl rand -base64 64` prints it: wrapped at 64 characters.
        let wrapped = format!("{}\n{}\n", &long[..64], &long[64..]);
        assert_eq!(SessionKey::parse_base64(&wrapped).unwrap().bytes(), [7u8; 64]);
        assert_eq!(format!("{:?}", SessionKey::generate()), "SessionKey(****)");
    }

    #[test]
    fn metrics_tokens_are_long_and_never_printed() {
        assert!(MetricsToken::parse("short").unwrap_err().contains("16"));
        let token = MetricsToken::parse("scrape-me-please-0123").unwrap();
        assert!(token.matches("scrape-me-please-0123"));
        assert!(!token.matches("scrape-me-please-012"));
        assert!(!token.matches(""));
        assert_eq!(format!("{token:?}"), "MetricsToken(****)");
    }
}

//! The PostgreSQL store's configuration, as it appears under `[stores.<name>.config]`.

use std::time::Duration;

use metaxy_core::{Error, Result};
use serde::Deserialize;
use sqlx::postgres::PgConnectOptions;

/// How to reach the database: a URL (`postgres://user:password@host:5432/db`) or parameters.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    /// A connection URL; Metaxy's `connection_string` is accepted too.
    #[serde(default, alias = "connection_string")]
    pub url: Option<String>,
    /// Host (default from the URL, else `localhost`).
    #[serde(default)]
    pub host: Option<String>,
    /// Port (default 5432).
    #[serde(default)]
    pub port: Option<u16>,
    /// User.
    #[serde(default)]
    pub user: Option<String>,
    /// Password (never printed).
    #[serde(default)]
    pub password: Option<String>,
    /// Database.
    #[serde(default)]
    pub database: Option<String>,
    /// The schema holding the feature tables (default `public`).
    #[serde(default = "default_schema")]
    pub schema: String,
    /// Create the schema when it does not exist (write mode only; default false).
    #[serde(default)]
    pub create_schema: bool,
    /// Pool size (default 5).
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// Seconds to wait for a connection before failing (default 10).
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    /// Whether resolves with `md5` or `sha256` hashing run inside PostgreSQL (the versioning
    /// pushdown: only the increment is sent back); `false` computes every increment in the
    /// core engine. Both give identical results. Default true.
    #[serde(default = "default_pushdown")]
    pub pushdown: bool,
}

fn default_pushdown() -> bool {
    true
}

fn default_schema() -> String {
    "public".into()
}

fn default_max_connections() -> u32 {
    5
}

fn default_connect_timeout() -> u64 {
    10
}

impl std::fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display())
    }
}

impl PostgresConfig {
    /// A configuration from a URL, with the default schema and pool.
    pub fn url(url: impl Into<String>) -> Self {
        PostgresConfig {
            url: Some(url.into()),
            host: None,
            port: None,
            user: None,
            password: None,
            database: None,
            schema: default_schema(),
            create_schema: false,
            max_connections: default_max_connections(),
            connect_timeout_secs: default_connect_timeout(),
            pushdown: default_pushdown(),
        }
    }

    /// The same configuration with another schema.
    pub fn with_schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// The connection options (session time zone UTC).
    pub fn connect_options(&self) -> Result<PgConnectOptions> {
        let mut opts = match &self.url {
            Some(u) => u.parse::<PgConnectOptions>().map_err(|e| {
                Error::config(
                    None,
                    Some("url"),
                    format!("not a valid PostgreSQL URL ({}): {e}", mask(u)),
                )
            })?,
            None => PgConnectOptions::new(),
        };
        if let Some(h) = &self.host {
            opts = opts.host(h);
        }
        if let Some(p) = self.port {
            opts = opts.port(p);
        }
        if let Some(u) = &self.user {
            opts = opts.username(u);
        }
        if let Some(p) = &self.password {
            opts = opts.password(p);
        }
        if let Some(d) = &self.database {
            opts = opts.database(d);
        }
        Ok(opts.options([("timezone", "UTC")]))
    }

    /// The connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs.max(1))
    }

    /// `postgres://user:***@host:port/db (schema)` — never the password.
    pub fn display(&self) -> String {
        let base = match &self.url {
            Some(u) => mask(u),
            None => format!(
                "postgres://{}{}@{}:{}/{}",
                self.user.clone().unwrap_or_default(),
                if self.password.is_some() { ":***" } else { "" },
                self.host.clone().unwrap_or_else(|| "localhost".into()),
                self.port.unwrap_or(5432),
                self.database.clone().unwrap_or_default()
            ),
        };
        format!("{base} schema={}", self.schema)
    }
}

/// Replaces the password of a URL with `***`.
pub fn mask(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((auth, host)) = rest.rsplit_once('@') else {
        return url.to_string();
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_never_shown() {
        assert_eq!(
            mask("postgres://bob:s3cret@db:5432/x"),
            "postgres://bob:***@db:5432/x"
        );
        assert_eq!(mask("postgres://bob@db/x"), "postgres://bob@db/x");
        let c = PostgresConfig {
            password: Some("hunter2".into()),
            user: Some("bob".into()),
            ..PostgresConfig::url("postgres://a:b@h/d")
        };
        assert!(
            !c.display().contains("hunter2") && !c.display().contains(":b@"),
            "{}",
            c.display()
        );
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}

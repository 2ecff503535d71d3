//! Throw-away schemas for tests: each backend gets its own schema, dropped afterwards, so
//! tests run in parallel against one server and leave nothing behind.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use metaxy_core::{Error, Result};
use sqlx::Connection;

use crate::sql::{audited, ident};
use crate::{PostgresBackend, PostgresConfig};

/// Creates uniquely named schemas on one server and drops them on [`drop_all`](Self::drop_all).
#[derive(Debug)]
pub struct TemporarySchemas {
    url: String,
    prefix: String,
    created: Mutex<Vec<String>>,
    counter: AtomicUsize,
}

impl TemporarySchemas {
    /// Schemas named `metaxy_test_<pid>_<n>` on the server at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        TemporarySchemas {
            url: url.into(),
            prefix: format!("metaxy_test_{}", std::process::id()),
            created: Mutex::new(Vec::new()),
            counter: AtomicUsize::new(0),
        }
    }

    /// The server URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn config(&self) -> PostgresConfig {
        PostgresConfig::url(&self.url)
    }

    async fn connect(&self) -> Result<sqlx::PgConnection> {
        let config = self.config();
        sqlx::PgConnection::connect_with(&config.connect_options()?)
            .await
            .map_err(|e| crate::backend::pg_error(&config, e))
    }

    /// Creates a fresh schema and returns its name (it is dropped by `drop_all`).
    pub async fn create(&self) -> Result<String> {
        let name = format!(
            "{}_{}",
            self.prefix,
            self.counter.fetch_add(1, Ordering::SeqCst)
        );
        let mut conn = self.connect().await?;
        for sql in [
            format!("DROP SCHEMA IF EXISTS {} CASCADE", ident(&name)),
            format!("CREATE SCHEMA {}", ident(&name)),
        ] {
            sqlx::query(audited(sql))
                .execute(&mut conn)
                .await
                .map_err(|e| crate::backend::pg_error(&self.config(), e))?;
        }
        self.remember(name.clone());
        Ok(name)
    }

    /// Registers a schema created elsewhere for dropping.
    pub fn remember(&self, schema: String) {
        self.created
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(schema);
    }

    /// A backend on a fresh schema.
    pub async fn backend(&self) -> Result<PostgresBackend> {
        let schema = self.create().await?;
        Ok(PostgresBackend::new(self.config().with_schema(schema)))
    }

    /// Drops every schema created or remembered so far.
    pub async fn drop_all(&self) -> Result<()> {
        let names: Vec<String> = self
            .created
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect();
        if names.is_empty() {
            return Ok(());
        }
        let mut conn = self.connect().await?;
        for n in names {
            sqlx::query(audited(format!(
                "DROP SCHEMA IF EXISTS {} CASCADE",
                ident(&n)
            )))
            .execute(&mut conn)
            .await
            .map_err(|e| {
                Error::backend("PostgreSQL", format!("cannot drop test schema {n}: {e}"))
            })?;
        }
        Ok(())
    }
}

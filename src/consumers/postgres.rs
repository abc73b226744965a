//! PostgreSQL for the kpi and billing consumers: tokio-postgres (no ORM, no
//! compile-time checked queries that would need a database at build time),
//! one connection per consumer, made again when it drops, and the
//! migrations each consumer runs at start.

use super::error::ConsumeError;
use crate::config::ConsumersSection;
use tokio_postgres::{Client, NoTls};

/// One schema change, applied once per database.
pub(crate) struct Migration {
    pub(crate) name: &'static str,
    pub(crate) sql: &'static str,
}

/// Every migration, in order. Several consumers starting at once take turns
/// (an advisory lock), and each migration runs once (`arc_schema_migrations`).
pub(crate) const MIGRATIONS: [Migration; 2] = [
    Migration {
        name: "001_kpi",
        sql: include_str!("migrations/001_kpi.sql"),
    },
    Migration {
        name: "002_billing",
        sql: include_str!("migrations/002_billing.sql"),
    },
];

/// Lock id the migrations hold while they run ("arc" in ASCII).
const MIGRATION_LOCK: i64 = 0x617263;

/// A connection that comes back after the database went away.
pub(crate) struct Pg {
    url: String,
    client: Option<Client>,
}

impl Pg {
    /// Connects and applies the migrations.
    pub(crate) async fn start(cfg: &ConsumersSection) -> Result<Pg, ConsumeError> {
        let mut pg = Pg {
            url: cfg.postgres_url.clone(),
            client: None,
        };
        let client = pg.client().await.map_err(|source| ConsumeError::Postgres {
            url: crate::config::redacted_url(&cfg.postgres_url),
            source,
        })?;
        migrate(client).await?;
        Ok(pg)
    }

    /// The connection, made again if it dropped.
    pub(crate) async fn client(&mut self) -> Result<&mut Client, tokio_postgres::Error> {
        let client = match self.client.take() {
            Some(c) if !c.is_closed() => c,
            _ => {
                let (client, conn) = tokio_postgres::connect(&self.url, NoTls).await?;
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::warn!(error = %e, "PostgreSQL connection ended");
                    }
                });
                client
            }
        };
        Ok(self.client.insert(client))
    }
}

async fn migrate(client: &mut Client) -> Result<(), ConsumeError> {
    let failed = |name| move |source| ConsumeError::Migration { name, source };
    let tx = client.transaction().await.map_err(failed("lock"))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(failed("lock"))?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS arc_schema_migrations (
             name TEXT PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW())",
    )
    .await
    .map_err(failed("arc_schema_migrations"))?;
    for m in &MIGRATIONS {
        let done = tx
            .query_opt(
                "SELECT 1 FROM arc_schema_migrations WHERE name = $1",
                &[&m.name],
            )
            .await
            .map_err(failed(m.name))?
            .is_some();
        if done {
            continue;
        }
        tx.batch_execute(m.sql).await.map_err(failed(m.name))?;
        tx.execute(
            "INSERT INTO arc_schema_migrations (name) VALUES ($1)",
            &[&m.name],
        )
        .await
        .map_err(failed(m.name))?;
        tracing::info!(migration = m.name, "PostgreSQL migration applied");
    }
    tx.commit().await.map_err(failed("commit"))
}

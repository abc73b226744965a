//! PostgreSQL for tests and benches: the machine's server (127.0.0.1:5432,
//! user postgres, trust) and a database of the caller's own, dropped at the end.

/// The server's maintenance database, where databases are made and dropped.
pub const ADMIN_DB: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A connection to `url`; panics naming the server when it cannot connect.
pub async fn pg(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {url}: {e}"));
    tokio::spawn(conn);
    client
}

/// A fresh database `<prefix>_<uuid>`.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn create(prefix: &str) -> TestDb {
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        pg(ADMIN_DB)
            .await
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        TestDb {
            url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
            name,
        }
    }

    /// Drops it (connections still open are closed by the server).
    pub async fn drop_it(self) {
        let _ = pg(ADMIN_DB)
            .await
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await;
    }
}

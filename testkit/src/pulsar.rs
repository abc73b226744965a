//! pulsar-lite brokers (the Pulsar wire protocol, from the `pulsar-lite`
//! Python package that scripts/setup-test.sh installs), each on its own port and
//! data dir, stopped on drop.

use crate::process;
use crate::wait::{free_port, listening, wait_port};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn pulsar_lite_binary() -> PathBuf {
    let out = Command::new("python3")
        .args(["-c", "import pulsar_lite,os;print(os.path.join(os.path.dirname(pulsar_lite.__file__),'bin','pulsar-lite'))"])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "pulsar-lite is not installed: run scripts/setup-test.sh"
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// A pulsar-lite broker (Pulsar wire protocol) on its own port and data dir.
pub struct PulsarLite {
    child: Option<Child>,
    pub port: u16,
    pub db: PathBuf,
    config: PathBuf,
}

impl PulsarLite {
    /// Start on `port` with `db`; `default_partitions` for topics it auto-creates.
    pub fn start_raw(db: &Path, port: u16, default_partitions: u32, extra: &str) -> PulsarLite {
        std::fs::create_dir_all(db).expect("db dir");
        let config = db.with_extension("toml");
        std::fs::write(
            &config,
            format!(
                "default_partitions = {default_partitions}\n{extra}\n[metrics]\nenabled = false\n"
            ),
        )
        .expect("config");
        let log = std::fs::File::create(db.with_extension("log")).expect("log file");
        let child = Command::new(pulsar_lite_binary())
            .arg("--config")
            .arg(&config)
            .args(["--addr", &format!("127.0.0.1:{port}")])
            .arg("--db-path")
            .arg(db)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("pulsar-lite starts");
        assert!(
            wait_port(port, Duration::from_secs(20)),
            "pulsar-lite did not listen on {port}"
        );
        PulsarLite {
            child: Some(child),
            port,
            db: db.to_path_buf(),
            config,
        }
    }

    /// [`PulsarLite::start_provisioned_on`] a free port.
    pub fn start_provisioned(dir: &Path) -> PulsarLite {
        Self::start_provisioned_on(dir, free_port())
    }

    /// Start on `port`, its data in `dir/pulsar-db`, with the seed's
    /// partitioned topics already created (16/4/8/32), and the realtime
    /// topic's 16. pulsar-lite has no
    /// admin API; it keeps partitioned-topic metadata in
    /// `<db>.metadata.json`, which is what `pulsar-admin topics
    /// create-partitioned-topic` would have produced.
    pub fn start_provisioned_on(dir: &Path, port: u16) -> PulsarLite {
        let db = dir.join("pulsar-db");
        let mut topics = serde_json::Map::new();
        for t in arc_actors::events::PulsarTopic::ALL {
            if t.seed_partitions() > 0 {
                topics.insert(
                    t.name().to_string(),
                    serde_json::json!({ "partitions": t.seed_partitions() }),
                );
            }
        }
        topics.insert(
            arc_actors::events::REALTIME_TOPIC.to_string(),
            serde_json::json!({ "partitions": 16 }),
        );
        let meta = serde_json::json!({ "version": 2, "partitioned_topics": topics });
        std::fs::write(db.with_extension("metadata.json"), meta.to_string()).expect("metadata");
        Self::start_raw(&db, port, 0, "")
    }

    pub fn url(&self) -> String {
        format!("pulsar://127.0.0.1:{}", self.port)
    }

    /// Stop gracefully (pulsar-lite keeps its partition metadata only on a clean stop).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            process::stop(&mut c, Duration::from_secs(10));
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && listening(self.port) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Start again on the same port and data (after `stop`).
    pub fn restart(&mut self) {
        let child = Command::new(pulsar_lite_binary())
            .arg("--config")
            .arg(&self.config)
            .args(["--addr", &format!("127.0.0.1:{}", self.port)])
            .arg("--db-path")
            .arg(&self.db)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pulsar-lite restarts");
        assert!(wait_port(self.port, Duration::from_secs(20)));
        self.child = Some(child);
    }
}

impl Drop for PulsarLite {
    fn drop(&mut self) {
        self.stop();
    }
}

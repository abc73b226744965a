//! An S3-compatible store for tests: moto's server (`moto[server]`, from
//! PyPI, installed by scripts/setup-test.sh) on its own port, stopped on
//! drop, and an independent reader of its objects (boto3, moto's own
//! dependency) for checking what ARC wrote.

use crate::python;
use crate::wait::{free_port, wait_port};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The credentials moto accepts (any); the test's own.
pub const S3_KEY_ID: &str = "arc-test";
pub const S3_SECRET: &str = "arc-test-secret";
pub const S3_REGION: &str = "us-east-1";

/// A moto S3 server.
pub struct MotoS3 {
    child: Option<Child>,
    pub port: u16,
}

impl MotoS3 {
    pub fn start() -> MotoS3 {
        let port = free_port();
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m moto.server starts (scripts/setup-test.sh installs moto[server])");
        assert!(
            wait_port(port, Duration::from_secs(30)),
            "moto did not listen on {port}: run scripts/setup-test.sh"
        );
        MotoS3 {
            child: Some(child),
            port,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment an S3 client of ARC's needs to reach it.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", S3_KEY_ID.to_string()),
            ("AWS_SECRET_ACCESS_KEY", S3_SECRET.to_string()),
            ("AWS_REGION", S3_REGION.to_string()),
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Create `bucket`.
    pub fn create_bucket(&self, bucket: &str) {
        self.s3(&["create", bucket]);
    }

    /// Every object of `bucket` downloaded under `dir` (keys as paths);
    /// returns the keys.
    pub fn download(&self, bucket: &str, dir: &Path) -> Vec<String> {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).expect("download dir");
        self.s3(&["download", bucket, &dir.display().to_string()])
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn s3(&self, args: &[&str]) -> String {
        let mut all = vec![self.endpoint()];
        all.extend(args.iter().map(|a| a.to_string()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        python::run_ok("s3_objects.py", &all, None, "s3_objects.py failed: ")
    }
}

impl Drop for MotoS3 {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

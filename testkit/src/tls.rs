//! [`TestCa`]: certificates a TLS test makes for itself with the `openssl`
//! command: a CA, and a server certificate for `localhost` and 127.0.0.1
//! signed by it (the NATS and Pulsar TLS tests; a second CA is the
//! untrusted one).

use std::path::{Path, PathBuf};
use std::process::Command;

/// A CA and a server certificate it signed, as PEM files in a folder.
pub struct TestCa {
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl TestCa {
    /// A new CA named `name` and a `localhost` certificate, under `dir`.
    pub fn make(dir: &Path, name: &str) -> TestCa {
        std::fs::create_dir_all(dir).unwrap();
        let ca_key = format!("{name}-ca.key");
        let ca_cert = format!("{name}-ca.pem");
        let key = format!("{name}-server.key");
        let csr = format!("{name}-server.csr");
        let cert = format!("{name}-server.pem");
        let ext = format!("{name}-ext.cnf");
        std::fs::write(
            dir.join(&ext),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        let subj = format!("/CN={name} test CA");
        openssl(
            dir,
            &[
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", &ca_key,
                "-out", &ca_cert, "-subj", &subj,
            ],
        );
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                "/CN=localhost",
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca_cert,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &cert,
                "-extfile",
                &ext,
            ],
        );
        TestCa {
            ca_cert: dir.join(ca_cert),
            server_cert: dir.join(cert),
            server_key: dir.join(key),
        }
    }
}

//! What is installed, without fetching: [`status`] behind `arc-agent models list`.

use super::verify::verify_file;
use crate::manifest::Manifest;
use std::fs;
use std::path::Path;

/// How one model stands in the models directory.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelStatus {
    pub name: String,
    pub kind: String,
    pub source: String,
    pub license: String,
    /// Bytes of the files present.
    pub bytes: u64,
    /// `ok`, `missing: <file>`, `corrupt: <file>` (with `verify`), `not converted`.
    pub state: String,
}

impl ModelStatus {
    pub fn is_ok(&self) -> bool {
        self.state == "ok"
    }
}

/// What is present, without fetching. `verify` hashes every file (slower).
pub fn status(manifest: &Manifest, dir: &Path, verify: bool) -> Vec<ModelStatus> {
    manifest
        .models
        .iter()
        .map(|m| {
            let mut bytes = 0;
            let mut state = "ok".to_string();
            for f in &m.files {
                let path = dir.join(&m.name).join(&f.dest);
                match fs::metadata(&path) {
                    Ok(meta) if meta.is_file() => {
                        bytes += meta.len();
                        if verify && state == "ok" && verify_file(&path, &f.sha256).is_err() {
                            state = format!("corrupt: {}", f.dest);
                        }
                    }
                    _ => {
                        if state == "ok" || state.starts_with("corrupt") {
                            state = format!("missing: {}", f.dest);
                        }
                    }
                }
            }
            if let Some(c) = &m.convert {
                let out = dir.join(&m.name).join(&c.output);
                match fs::metadata(&out) {
                    Ok(meta) if meta.is_file() && meta.len() > 0 => {
                        bytes += meta.len();
                        if let (true, Some(expected)) = (verify && state == "ok", &c.sha256) {
                            if verify_file(&out, expected).is_err() {
                                state = format!("corrupt: {}", c.output);
                            }
                        }
                    }
                    _ if state == "ok" => state = format!("not converted: {}", c.output),
                    _ => {}
                }
            }
            ModelStatus {
                name: m.name.clone(),
                kind: m.kind.clone(),
                source: format!("pypi:{}=={}", m.package, m.version),
                license: m.license.clone(),
                bytes,
                state,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_reports_missing_models() {
        let dir = tempfile::tempdir().unwrap();
        let m = Manifest::embedded().unwrap();
        let st = status(&m, dir.path(), false);
        assert_eq!(st.len(), m.models.len());
        assert!(st.iter().all(|s| s.state.starts_with("missing")));
    }
}

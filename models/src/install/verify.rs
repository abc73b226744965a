//! Hash checks of installed model files: [`sha256_file`] and [`verify_file`].

use crate::manifest::ModelFileError;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::{self, Read};
use std::path::Path;

/// The sha256 of a file, hex.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut f = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks one fetched file against its sha256.
pub fn verify_file(path: &Path, expected: &str) -> Result<(), ModelFileError> {
    let actual = match sha256_file(path) {
        Ok(h) => h,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(ModelFileError::Missing {
                path: path.to_path_buf(),
            })
        }
        Err(source) => {
            return Err(ModelFileError::Unreadable {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(ModelFileError::Corrupt {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            actual,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{require, FIX_COMMAND};

    #[test]
    fn missing_and_corrupt_files_name_the_file_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let err = require(dir.path(), "silero-vad", "silero_vad.onnx").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("silero_vad.onnx") && msg.contains(FIX_COMMAND),
            "{msg}"
        );

        let path = dir.path().join("f.bin");
        fs::write(&path, b"not the model").unwrap();
        let msg = verify_file(&path, &"0".repeat(64)).unwrap_err().to_string();
        assert!(msg.contains("corrupt") && msg.contains("f.bin"), "{msg}");
        assert!(msg.contains(FIX_COMMAND), "{msg}");
    }
}

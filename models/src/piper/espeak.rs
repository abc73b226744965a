//! espeak-ng, piper's phonemizer: its data directory found and set once per
//! process, and every call into it under one lock (it is not thread-safe).

use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// What espeak-rs reads to find espeak-ng's data: a directory *containing*
/// `espeak-ng-data`.
pub(super) const ESPEAK_ENV: &str = "PIPER_ESPEAKNG_DATA_DIRECTORY";
/// Where distributions install espeak-ng's data (each holds `espeak-ng-data`).
const ESPEAK_DIRS: [&str; 6] = [
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib",
    "/usr/share",
    "/usr/local/share",
    "/usr/local/lib",
];

/// espeak-ng keeps global state and is not thread-safe: every call into it
/// (phonemization, and its one-time initialization) holds this lock.
static ESPEAK: Mutex<()> = Mutex::new(());
/// The espeak data directory chosen by the first successful load (espeak
/// reads it once per process).
static ESPEAK_DIR: OnceLock<PathBuf> = OnceLock::new();

/// Points espeak-rs at espeak-ng's data (once per process) and phonemizes a
/// word, so a broken install fails at load rather than at the first reply.
/// The error says what is wrong ([`TtsLoadError::Espeak`](super::TtsLoadError)
/// at the caller).
pub(super) fn init_espeak(configured: Option<&Path>, voice: &str) -> Result<(), String> {
    let dir = match ESPEAK_DIR.get() {
        Some(dir) => dir,
        None => {
            let found = find_espeak_data(configured)?;
            let _guard = ESPEAK.lock();
            ESPEAK_DIR.get_or_init(|| {
                // espeak-rs reads the variable when it initializes espeak-ng,
                // which happens under the lock held here, after this. Set only
                // when needed: writing the environment races with readers.
                if std::env::var_os(ESPEAK_ENV).as_deref() != Some(found.as_os_str()) {
                    std::env::set_var(ESPEAK_ENV, &found);
                }
                found
            })
        }
    };
    if let Some(wanted) = configured {
        if wanted != dir {
            tracing::warn!(
                wanted = %wanted.display(),
                using = %dir.display(),
                "espeak-ng data directory is fixed by the first voice loaded"
            );
        }
    }
    phonemize("test", voice)
        .map(|_| ())
        .map_err(|e| format!("{e} (data from {})", dir.display()))
}

/// The directory holding `espeak-ng-data`: the configured one, else
/// `$PIPER_ESPEAKNG_DATA_DIRECTORY`, else the usual install places.
fn find_espeak_data(configured: Option<&Path>) -> Result<PathBuf, String> {
    let has_data = |d: &Path| d.join("espeak-ng-data").join("phontab").is_file();
    if let Some(d) = configured {
        return if has_data(d) {
            Ok(d.to_path_buf())
        } else {
            Err(format!("{} has no espeak-ng-data/phontab", d.display()))
        };
    }
    std::env::var_os(ESPEAK_ENV)
        .map(PathBuf::from)
        .filter(|d| has_data(d))
        .or_else(|| ESPEAK_DIRS.iter().map(PathBuf::from).find(|d| has_data(d)))
        .ok_or_else(|| format!("no espeak-ng-data found in ${ESPEAK_ENV} or {ESPEAK_DIRS:?}"))
}

/// espeak-ng phonemes of `text`, one string per sentence.
pub(super) fn phonemize(text: &str, voice: &str) -> Result<Vec<String>, String> {
    let _guard = ESPEAK.lock();
    espeak_rs::text_to_phonemes(text, voice, None).map_err(|e| e.to_string())
}

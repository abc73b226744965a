//! espeak-ng, piper's phonemizer: its data directory found and set once per
//! process, and every call into it under one lock (it is not thread-safe).
//! Its own formant voice is synthesized here too (under the same lock).

use parking_lot::Mutex;
use std::ffi::{c_int, c_short, CString};
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

/// Why espeak-ng's own voice could not speak.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum SynthFailure {
    /// espeak-ng has no voice of that name.
    NoVoice,
    Failed(String),
}

/// Collects espeak-ng's 16-bit samples into the `Vec<i16>` whose address
/// [`synthesize`] passed as `user_data`. Returns 0: go on.
unsafe extern "C" fn collect_samples(
    wav: *mut c_short,
    count: c_int,
    events: *mut espeak_rs_sys::espeak_EVENT,
) -> c_int {
    if wav.is_null() || count <= 0 || events.is_null() {
        return 0;
    }
    // SAFETY: espeak-ng hands its event list, whose first entry carries the
    // user_data of the espeak_Synth call: the vector `synthesize` owns, alive
    // and not otherwise touched for the whole (synchronous) call; `wav` holds
    // `count` samples.
    unsafe {
        let samples = (*events).user_data.cast::<Vec<i16>>();
        if let Some(samples) = samples.as_mut() {
            samples.extend_from_slice(std::slice::from_raw_parts(wav, count as usize));
        }
    }
    0
}

/// espeak-ng's own voice `voice` (e.g. "en-us") saying `text` at
/// `words_per_minute`, synthesized in this process: mono samples in -1..1
/// and their rate. espeak-ng must have been set up by [`init_espeak`].
pub(super) fn synthesize(
    text: &str,
    voice: &str,
    words_per_minute: u32,
) -> Result<(Vec<f32>, u32), SynthFailure> {
    use espeak_rs_sys as sys;
    let voice = CString::new(voice).map_err(|_| SynthFailure::NoVoice)?;
    let text = CString::new(text)
        .map_err(|_| SynthFailure::Failed("the text holds a NUL character".into()))?;
    let wpm = words_per_minute.clamp(sys::espeakRATE_MINIMUM, sys::espeakRATE_MAXIMUM) as c_int;
    let mut samples: Vec<i16> = Vec::new();
    let _guard = ESPEAK.lock();
    // SAFETY: every call into espeak-ng holds ESPEAK; espeak-ng was
    // initialized by espeak-rs (init_espeak). Synchronous output makes
    // espeak_Synth return only once every sample went to the callback, so the
    // pointer to `samples` it carries is not used after this block. The C
    // strings outlive the calls that read them.
    let rate = unsafe {
        // espeak-rs set up asynchronous retrieval; phonemizing does not care,
        // and synthesis here must be synchronous.
        let status = sys::espeak_ng_InitializeOutput(
            sys::espeak_ng_OUTPUT_MODE_ENOUTPUT_MODE_SYNCHRONOUS,
            0,
            std::ptr::null(),
        );
        if status != sys::espeak_ng_STATUS_ENS_OK {
            return Err(SynthFailure::Failed(format!(
                "espeak-ng output setup failed (status {status:#x})"
            )));
        }
        sys::espeak_SetSynthCallback(Some(collect_samples));
        // A voice name or file ("en-us"), else a language ("en-gb"), as the
        // espeak-ng command does.
        if sys::espeak_SetVoiceByName(voice.as_ptr()) != sys::espeak_ERROR_EE_OK {
            let mut by_language: sys::espeak_VOICE = std::mem::zeroed();
            by_language.languages = voice.as_ptr();
            if sys::espeak_SetVoiceByProperties(&mut by_language) != sys::espeak_ERROR_EE_OK {
                return Err(SynthFailure::NoVoice);
            }
        }
        sys::espeak_SetParameter(sys::espeak_PARAMETER_espeakRATE, wpm, 0);
        let err = sys::espeak_Synth(
            text.as_ptr().cast(),
            text.as_bytes_with_nul().len(),
            0,
            sys::espeak_POSITION_TYPE_POS_CHARACTER,
            0,
            sys::espeakCHARS_UTF8,
            std::ptr::null_mut(),
            (&mut samples as *mut Vec<i16>).cast(),
        );
        if err != sys::espeak_ERROR_EE_OK {
            return Err(SynthFailure::Failed(format!(
                "espeak_Synth failed (error {err})"
            )));
        }
        sys::espeak_ng_GetSampleRate()
    };
    let rate = u32::try_from(rate)
        .ok()
        .filter(|r| *r > 0)
        .ok_or_else(|| SynthFailure::Failed(format!("espeak-ng reports a rate of {rate} Hz")))?;
    Ok((
        samples.iter().map(|s| f32::from(*s) / 32_768.0).collect(),
        rate,
    ))
}

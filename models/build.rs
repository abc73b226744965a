//! Link facts for the engines (see scripts/setup.sh):
//! - espeak-rs-sys links Debian's libsonic (apt libsonic-dev) instead of cloning it,
//!   and then needs `-lsonic` on the final link.
//! - onnxruntime comes from the PyPI wheel, unpacked by setup into
//!   `.cache/onnxruntime` and linked dynamically (ORT_LIB_LOCATION in
//!   .cargo/config.toml); the tests of this crate find it through an rpath.
fn main() {
    println!("cargo:rustc-link-lib=sonic");
    println!("cargo:rerun-if-env-changed=ORT_LIB_LOCATION");
    if let Ok(dir) = std::env::var("ORT_LIB_LOCATION") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
    println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN");
}

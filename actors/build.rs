//! The integration tests of this crate use `arc-testkit`, whose `models`
//! feature (on in a workspace build, where the root crate's tests ask for it)
//! links arc-models and with it onnxruntime from the PyPI wheel
//! (`.cache/onnxruntime`, see scripts/setup.sh): the test binaries find it
//! through an rpath, as arc-models' own do. The library itself links nothing.
fn main() {
    println!("cargo:rerun-if-env-changed=ORT_LIB_LOCATION");
    if let Ok(dir) = std::env::var("ORT_LIB_LOCATION") {
        println!("cargo:rustc-link-arg-tests=-Wl,-rpath,{dir}");
    }
}

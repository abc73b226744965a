//! The targets link onnxruntime (through the node's engines) and find it as
//! the node's binaries do (the root build.rs): an rpath to the project's
//! `.cache/onnxruntime`, from .cargo/config.toml's ORT_LIB_LOCATION.
fn main() {
    println!("cargo:rerun-if-env-changed=ORT_LIB_LOCATION");
    if let Ok(dir) = std::env::var("ORT_LIB_LOCATION") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}

//! The node binary, its tests and benches find onnxruntime (from the PyPI
//! wheel, see scripts/setup.sh) by themselves: an rpath to the project's
//! `.cache/onnxruntime` where it was built, and `$ORIGIN` / `$ORIGIN/../lib`
//! for an installed copy (the container puts it beside the binary).
fn main() {
    println!("cargo:rerun-if-env-changed=ORT_LIB_LOCATION");
    if let Ok(dir) = std::env::var("ORT_LIB_LOCATION") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
    println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN:$ORIGIN/../lib");
}

//! Generates the Rust types of LiveKit's FFI protocol (package `livekit.proto`)
//! with prost from the FileDescriptorSet that `scripts/setup.sh` writes out of
//! the official `livekit` wheel, so the types always match the library beside
//! them. No protoc and no .proto files are needed.

use prost::Message;
use std::path::PathBuf;

fn main() {
    let dir = match std::env::var_os("ARC_LIVEKIT_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.cache/livekit"),
    };
    println!("cargo:rerun-if-env-changed=ARC_LIVEKIT_DIR");
    let fds_path = dir.join("livekit_ffi.fds");
    let lib_path = dir.join("liblivekit_ffi.so");
    println!("cargo:rerun-if-changed={}", fds_path.display());
    let bytes = std::fs::read(&fds_path).unwrap_or_else(|e| {
        panic!(
            "arc-rooms: cannot read LiveKit's FFI protocol at {}: {e}\n\
             run `bash scripts/setup.sh` first (it unpacks liblivekit_ffi.so and the protocol \
             from the pinned `livekit` PyPI wheel into .cache/livekit)",
            fds_path.display()
        )
    });
    let fds = prost_types::FileDescriptorSet::decode(bytes.as_slice()).unwrap_or_else(|e| {
        panic!(
            "arc-rooms: {} is not a FileDescriptorSet ({e}); rerun `bash scripts/setup.sh`",
            fds_path.display()
        )
    });
    prost_build::Config::new()
        .compile_fds(fds)
        .unwrap_or_else(|e| panic!("arc-rooms: generating the LiveKit FFI types: {e}"));
    // The library setup unpacked beside the protocol: the default at run time.
    let lib = lib_path.canonicalize().unwrap_or(lib_path);
    println!("cargo:rustc-env=ARC_LIVEKIT_FFI_DEFAULT={}", lib.display());
}

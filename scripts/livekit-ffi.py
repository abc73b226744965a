#!/usr/bin/env python3
"""Unpack LiveKit's FFI library and its protocol from the official `livekit` wheel.

Usage: livekit-ffi.py WHEEL OUT_DIR

Writes OUT_DIR/liblivekit_ffi.so (LiveKit's own Rust SDK behind a C ABI) and
OUT_DIR/livekit_ffi.fds: a FileDescriptorSet of the FFI protocol, which
rooms/build.rs feeds to prost-build. The descriptors are the serialized
FileDescriptorProtos the wheel's generated `*_pb2.py` modules carry; they are
read as Python literals (ast), so no protobuf package is needed, and written
dependencies first.
"""
import ast
import os
import re
import sys
import zipfile

PROTO_DIR = "livekit/rtc/_proto/"
LIB = "livekit/rtc/resources/liblivekit_ffi.so"


def serialized_descriptor(source: str, name: str) -> bytes:
    tree = ast.parse(source, name)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "AddSerializedFile"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, bytes)
        ):
            return node.args[0].value
    raise SystemExit(f"{name}: no AddSerializedFile(b'...') descriptor found")


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    wheel, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    modules = {}
    deps = {}
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if name.startswith(PROTO_DIR) and name.endswith("_pb2.py"):
                mod = name[len(PROTO_DIR) : -len(".py")]
                src = z.read(name).decode("utf-8")
                modules[mod] = serialized_descriptor(src, name)
                deps[mod] = re.findall(r"^from \. import (\w+_pb2) as", src, re.M)
        lib = z.read(LIB)
    if "ffi_pb2" not in modules:
        raise SystemExit(f"{wheel}: no {PROTO_DIR}ffi_pb2.py")

    order = []

    def visit(mod: str, path: tuple) -> None:
        if mod in order:
            return
        if mod in path:
            raise SystemExit(f"import cycle: {' -> '.join(path + (mod,))}")
        for d in deps.get(mod, []):
            if d not in modules:
                raise SystemExit(f"{mod} imports {d}, which the wheel lacks")
            visit(d, path + (mod,))
        order.append(mod)

    for mod in sorted(modules):
        visit(mod, ())

    # FileDescriptorSet { repeated FileDescriptorProto file = 1; }
    fds = b"".join(b"\x0a" + varint(len(modules[m])) + modules[m] for m in order)
    for fname, data in (("livekit_ffi.fds", fds), ("liblivekit_ffi.so", lib)):
        tmp = os.path.join(out, fname + ".part")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, os.path.join(out, fname))
    print(f"livekit-ffi: {len(order)} proto files, {len(lib)} bytes of library into {out}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Smart Turn's reference features: pipecat's numpy copy of transformers'
WhisperFeatureExtractor (`_whisper_features.py`, in the same pipecat-ai wheel
as the model), run on the float32 samples in argv[1] (raw little-endian, 16
kHz, already the 8 s window); the 80 x 800 features go to argv[2] as raw
float32. The wheel is fetched by pip (its cache makes this quick) into
argv[3]; the file is read from it without importing pipecat (which pulls in
half of its dependencies)."""
import glob
import os
import subprocess
import sys
import types
import zipfile

import numpy as np

WHEEL = "pipecat-ai==1.14.0"
MEMBER = "pipecat/audio/turn/smart_turn/_whisper_features.py"


def main() -> int:
    src, dst, cache = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(cache, exist_ok=True)
    wheels = glob.glob(os.path.join(cache, "pipecat_ai-1.14.0-*.whl"))
    if not wheels:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
             "--disable-pip-version-check", WHEEL, "-d", cache],
            check=True, stdout=sys.stderr)
        wheels = glob.glob(os.path.join(cache, "pipecat_ai-1.14.0-*.whl"))
    code = zipfile.ZipFile(wheels[0]).read(MEMBER).decode("utf-8")
    module = types.ModuleType("whisper_features")
    exec(compile(code, MEMBER, "exec"), module.__dict__)
    audio = np.fromfile(src, dtype="<f4")
    features = module.compute_whisper_log_mel_features(audio, do_normalize=True)
    np.asarray(features, dtype="<f4").tofile(dst)
    print(features.shape[0], features.shape[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The local brain's two model servers side by side, same model, same flags,
one after the other in one run: `arc-agent llm-server` (llama.cpp's prebuilt
libraries from npm, nothing to build) and llama.cpp's own `llama-server`
(built from source by scripts/build-llama-server.sh, ~9 min on 2 cores).

For each: start until /health answers, time to first token and decode speed
over the caller questions (streamed, greedy, the default system prompt), the
server's peak memory (VmHWM), and what killing it does (the node's supervisor
restarts it: tests/brain.rs).

  python3 scripts/llm-runtime-bench.py [--arc target/debug/arc-agent]
      [--llama-server ~/.cache/arc/tools/llama-server-11434.0.0] [--rounds 2]
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.environ.get("ARC_MODELS_DIR") or os.path.expanduser("~/.cache/arc/models")
GGUF = os.path.join(MODELS, "smollm2-135m-instruct", "SmolLM2-135M-Instruct.Q4_1.gguf")
LIB = os.path.join(MODELS, "llama-cpp-linux-x64")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_health(port, proc, timeout=60):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if r.status == 200:
                    return time.time() - t0
        except Exception:
            time.sleep(0.02)
    raise RuntimeError("not ready")


def ask(port, system, question):
    body = {
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": question}],
        "max_tokens": 64, "temperature": 0, "stream": True,
        "stream_options": {"include_usage": True},
    }
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/chat/completions", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"})
    t0 = time.time()
    first, tokens, pieces = None, None, 0
    with urllib.request.urlopen(req, timeout=120) as r:
        for line in r:
            line = line.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                tokens = chunk["usage"]["completion_tokens"]
            for c in chunk.get("choices", []):
                if c.get("delta", {}).get("content"):
                    pieces += 1
                    if first is None:
                        first = time.time() - t0
    total = time.time() - t0
    return first or total, total, tokens or pieces


def hwm_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def bench(name, cmd, questions, system, rounds):
    port = free_port()
    proc = subprocess.Popen(cmd + ["--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ready = wait_health(port, proc)
        ask(port, system, "Hi")  # warm-up, as the node's supervisor does
        ttft, speed = [], []
        for _ in range(rounds):
            for q in questions:
                first, total, tokens = ask(port, system, q)
                ttft.append(first * 1000)
                if tokens > 1 and total > first:
                    speed.append((tokens - 1) / (total - first))
        return {
            "server": name, "ready_ms": round(ready * 1000),
            "ttft_p50_ms": round(pct(ttft, 50)), "ttft_p95_ms": round(pct(ttft, 95)),
            "tokens_per_s": round(sum(speed) / len(speed), 1), "peak_rss_mb": round(hwm_kb(proc.pid) / 1024),
            "requests": len(ttft),
        }
    finally:
        proc.kill()
        proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arc", default=os.path.join(ROOT, "target", "debug", "arc-agent"))
    ap.add_argument("--llama-server", default=os.path.expanduser("~/.cache/arc/tools/llama-server-11434.0.0"))
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    with open(os.path.join(ROOT, "benches", "questions", "caller.toml"), "rb") as f:
        questions = [q["text"] for q in tomllib.load(f)["question"]]
    with open(os.path.join(ROOT, "config", "default.toml"), "rb") as f:
        system = tomllib.load(f)["session"]["brain"]["system_prompt"]
    common = ["--model", GGUF, "--ctx-size", "2048", "--parallel", "1", "--threads", "2", "--no-webui"]
    rows = [bench("arc-agent llm-server (npm prebuilt llama.cpp)",
                  [args.arc, "llm-server", "--lib-dir", LIB] + common, questions, system, args.rounds)]
    if os.path.exists(args.llama_server):
        rows.append(bench("llama-server (built from source)", [args.llama_server] + common,
                          questions, system, args.rounds))
    else:
        print(f"(no {args.llama_server}: build it with scripts/build-llama-server.sh to compare)")
    print("| server | ready | first token p50 / p95 | decode | peak RSS | requests |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['server']} | {r['ready_ms']} ms | {r['ttft_p50_ms']} / {r['ttft_p95_ms']} ms "
              f"| {r['tokens_per_s']} tokens/s | {r['peak_rss_mb']} MB | {r['requests']} |")


if __name__ == "__main__":
    sys.exit(main())

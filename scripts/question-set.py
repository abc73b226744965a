#!/usr/bin/env python3
"""The caller question set (benches/questions/caller.toml), asked of the agent
and checked automatically: is each answer acceptable to a caller?

An answer is acceptable when it is
  - English (no common function word of another language, and no word with
    letters outside plain ASCII: "está", "cité"),
  - short: one or two sentences, at most 40 words, not empty, not the fallback,
  - on topic: it contains one of the question's expected words (whole words,
    any case).

Two ways to ask:
  --converse BIN   the whole voice loop: `BIN converse --text Q` (the question
                   spoken by the TTS, heard by whisper, answered by the brain,
                   spoken back); the reply text is read from its output. This is
                   the score BENCHMARKS.md reports.
  --llm URL        the brain alone: the same messages the Brain sends (system
                   prompt, examples, the question; max_tokens and temperature)
                   to an OpenAI-compatible endpoint at URL (…/v1), cut at
                   max_sentences as the Brain does; for quick prompt experiments.

  python3 scripts/question-set.py --converse target/debug/arc-agent [--config f.toml]
  python3 scripts/question-set.py --llm http://127.0.0.1:8080/v1 [--config f.toml]

Prints one line per question and `score: N/20 (P %)`; --json FILE writes the
details. Exit status 0 always (it measures; it does not judge).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FOREIGN = {
    # French, Spanish, Italian, German, Portuguese function words that do not
    # occur as English words.
    "le", "les", "est", "des", "du", "une", "je", "vous", "nous", "avec", "pour",
    "dans", "sont", "c'est", "et", "el", "los", "las", "es", "por", "una", "muy",
    "il", "di", "della", "del", "sono", "und", "der", "die", "das", "ist", "ein",
    "eine", "nicht", "mit", "não", "também", "capitale", "città", "ciudad",
}
FALLBACK_PREFIX = "I'm having trouble processing that"


def check(answer, expect):
    """(ok, reasons): the three rules above."""
    reasons = []
    text = answer.strip()
    words = re.findall(r"[^\W_][\w'’-]*", text.lower())
    if not text:
        return False, ["empty"]
    if text.startswith(FALLBACK_PREFIX):
        return False, ["fallback"]
    foreign = sorted({w for w in words if w in FOREIGN or not w.isascii()})
    if foreign:
        reasons.append("not English" + (f" ({', '.join(foreign)})" if foreign else ""))
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text) if re.search(r"\w", s)]
    if len(sentences) > 2 or len(words) > 40:
        reasons.append(f"too long ({len(sentences)} sentences, {len(words)} words)")
    lowered = " " + " ".join(words) + " "
    if not any(re.search(r"\b" + re.escape(e.lower()) + r"\b", lowered) for e in expect):
        reasons.append("expected one of: " + ", ".join(expect))
    return not reasons, reasons


def brain_settings(config_path):
    with open(os.path.join(ROOT, "config", "default.toml"), "rb") as f:
        brain = tomllib.load(f)["session"]["brain"]
    if config_path:
        with open(config_path, "rb") as f:
            brain.update(tomllib.load(f).get("session", {}).get("brain", {}))
    return brain


def ask_llm(url, brain, question, min_p=None):
    messages = [{"role": "system", "content": brain["system_prompt"]}]
    for ex in brain.get("examples", []):
        messages.append({"role": "user", "content": ex[0]})
        messages.append({"role": "assistant", "content": ex[1]})
    messages.append({"role": "user", "content": question})
    body = {
        "model": "local",
        "messages": messages,
        "max_tokens": brain["max_tokens"],
        "temperature": brain["temperature"],
    }
    if brain.get("stop"):
        body["stop"] = brain["stop"]
    if min_p is not None:
        body["min_p"] = min_p
    req = urllib.request.Request(
        url.rstrip("/") + "/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=120) as r:
        answer = json.load(r)["choices"][0]["message"]["content"] or ""
    # As the Brain does: the reply ends after max_sentences sentences.
    limit = brain.get("max_sentences", 0)
    if limit:
        parts = re.split(r"(?<=[.!?])\s+", answer.strip())
        answer = " ".join(parts[:limit])
    return answer, None


def ask_converse(binary, config_path, question):
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [binary, "converse", "--text", question, "--out", os.path.join(tmp, "a.wav")]
        if config_path:
            cmd += ["--config", config_path]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        tail = (p.stderr.strip().splitlines() or ["?"])[-1]
        return "", f"converse failed: {tail}"
    heard, reply = None, None
    for line in p.stdout.splitlines():
        m = re.match(r"\s*(?:turn \d+\s+)?(heard|agent|user|reply)\s*:\s*(.*)$", line, re.I)
        if not m:
            continue
        kind, text = m.group(1).lower(), m.group(2).strip().strip('"')
        if kind in ("heard", "user") and heard is None:
            heard = text
        elif kind in ("agent", "reply") and reply is None:
            reply = text
    if reply is None:
        return "", "no reply line in converse's output"
    return reply, heard


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    how = ap.add_mutually_exclusive_group(required=True)
    how.add_argument("--converse", metavar="BIN")
    how.add_argument("--llm", metavar="URL")
    ap.add_argument("--config", help="a TOML over config/default.toml")
    ap.add_argument("--questions", default=os.path.join(ROOT, "benches", "questions", "caller.toml"))
    ap.add_argument("--json", help="write the details here")
    ap.add_argument("--repeat", type=int, default=1, help="ask the whole set N times (sampling varies)")
    ap.add_argument("--min-p", type=float, help="--llm: llama.cpp's min_p for each request")
    args = ap.parse_args()

    with open(args.questions, "rb") as f:
        questions = tomllib.load(f)["question"]
    brain = brain_settings(args.config)
    results = []
    t0 = time.time()
    for q in questions * args.repeat:
        started = time.time()
        try:
            if args.llm:
                answer, heard = ask_llm(args.llm, brain, q["text"], args.min_p)
            else:
                answer, heard = ask_converse(args.converse, args.config, q["text"])
        except Exception as e:  # a failed request is an unacceptable answer
            answer, heard = "", f"error: {e}"
        ok, reasons = check(answer, q["expect"])
        results.append({
            "question": q["text"], "kind": q["kind"], "heard": heard, "answer": answer,
            "ok": ok, "reasons": reasons, "seconds": round(time.time() - started, 2),
        })
        mark = "ok " if ok else "BAD"
        extra = "" if ok else "  <- " + "; ".join(reasons)
        heard_note = f" [heard: {heard}]" if heard and args.converse else ""
        print(f"{mark} {q['text']}{heard_note}\n    {answer!r}{extra}", flush=True)
    good = sum(r["ok"] for r in results)
    by_kind = {}
    for r in results:
        k = by_kind.setdefault(r["kind"], [0, 0])
        k[0] += r["ok"]
        k[1] += 1
    print("by kind: " + ", ".join(f"{k} {a}/{n}" for k, (a, n) in by_kind.items()))
    print(f"score: {good}/{len(results)} ({100 * good / len(results):.0f} %) in {time.time() - t0:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"score": good, "of": len(results), "results": results}, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())

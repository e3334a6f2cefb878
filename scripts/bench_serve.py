#!/usr/bin/env python3
"""Load test of `autojudge serve` on loopback: bounded, stops by itself, prints a table.

Starts `autojudge serve` with the given model flags (once per method), then for each number of
concurrent clients sends the same fixed requests (GSM8K test questions, greedy, streamed so time
to first token is measured) and reports requests/s, tokens/s, p50/p99 latency and time to first
token, the server's resident memory before and after, and whether every response arrived once
with the text the same request gets alone (greedy decoding: batching must not change it).

  python3 scripts/bench_serve.py [--check] --bin target/release/autojudge \
      --server-args "--model M.gguf --draft D.gguf --judge J.safetensors" \
      --methods lossless,autojudge --clients 1,4,16 --requests 32 --max-tokens 64 \
      --data data/gsm8k/test.jsonl [--out docs/results/serve/RUN.json]

The table goes to stdout (Markdown); `--out` also writes every figure as JSON.
"""
import argparse
import asyncio
import json
import os
import shlex
import signal
import statistics
import sys
import time

import openai

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_process import start_server  # noqa: E402


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def start(args, method):
    cmd = [args.bin, "serve", *shlex.split(args.server_args), "--port", "0",
           "--method", method, "--max-concurrent", str(max(args.clients)),
           "--max-queue", str(args.requests)]
    return start_server(cmd)


async def one(client, name, prompt, max_tokens):
    t0 = time.perf_counter()
    first = None
    text = []
    usage = None
    stream = await client.completions.create(model=name, prompt=prompt, max_tokens=max_tokens,
                                             stream=True)
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].text:
            if first is None:
                first = time.perf_counter() - t0
            text.append(chunk.choices[0].text)
        if chunk.usage is not None:
            usage = chunk.usage
    return {"latency": time.perf_counter() - t0, "ttft": first, "text": "".join(text),
            "tokens": usage.completion_tokens if usage else 0,
            "extra": (usage.model_extra or {}) if usage else {}}


async def run_clients(addr, name, prompts, clients, max_tokens):
    client = openai.AsyncOpenAI(base_url=f"http://{addr}/v1", api_key="unused", max_retries=0,
                                timeout=3600)
    queue = list(enumerate(prompts))
    results = {}

    async def worker():
        while queue:
            i, p = queue.pop(0)
            if i in results:
                raise RuntimeError(f"request {i} served twice")
            results[i] = await one(client, name, p, max_tokens)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    wall = time.perf_counter() - t0
    await client.close()
    return wall, [results[i] for i in range(len(prompts))]


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--server-args", required=True)
    p.add_argument("--methods", default="lossless")
    p.add_argument("--clients", default="1,4,16")
    p.add_argument("--requests", type=int, default=32)
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--data", default="data/gsm8k/test.jsonl")
    p.add_argument("--out")
    p.add_argument("--check", action="store_true",
                   help="exit 1 unless every response arrived once with the text it gets alone")
    args = p.parse_args()
    args.clients = [int(c) for c in args.clients.split(",")]
    with open(args.data) as f:
        questions = [json.loads(l)["question"] for l in f][: args.requests]
    prompts = [f"Question: {q}\nAnswer:" for q in questions]
    rows = []
    for method in args.methods.split(","):
        proc, name, addr = start(args, method)
        try:
            rss0 = rss_mib(proc.pid)
            alone = None
            for c in args.clients:
                wall, res = asyncio.run(run_clients(addr, name, prompts, c, args.max_tokens))
                texts = [r["text"] for r in res]
                if alone is None:
                    alone = texts
                tokens = sum(r["tokens"] for r in res)
                ex = [r["extra"] for r in res]
                cycles = sum(e.get("cycles", 0) for e in ex)
                rows.append({
                    "method": method, "clients": c, "requests": len(res),
                    "requests_per_s": len(res) / wall, "tokens_per_s": tokens / wall,
                    "p50_latency_s": statistics.median(r["latency"] for r in res),
                    "p99_latency_s": pct([r["latency"] for r in res], 0.99),
                    "p50_ttft_s": statistics.median(r["ttft"] for r in res if r["ttft"] is not None),
                    "accepted_per_cycle": sum(e.get("accepted_tokens", 0) for e in ex) / max(cycles, 1),
                    "tokens_per_target_call": tokens / max(sum(e.get("target_calls", 0) for e in ex), 1),
                    "same_text_as_one_at_a_time": sum(a == b for a, b in zip(texts, alone)),
                    "rss_mib_before": rss0, "rss_mib_after": rss_mib(proc.pid), "wall_s": wall,
                })
                r = rows[-1]
                print(f"{method} x{c}: {r['requests_per_s']:.3f} req/s, {r['tokens_per_s']:.1f} tok/s, "
                      f"p50 {r['p50_latency_s']:.2f} s, same text {r['same_text_as_one_at_a_time']}/{len(res)}",
                      file=sys.stderr, flush=True)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=600)
    print("| method | clients | requests | requests/s | tokens/s | p50 latency (s) | p99 latency (s) "
          "| p50 time to first token (s) | accepted/cycle | tokens/target call "
          "| same text as one at a time | RSS MiB before → after |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['method']} | {r['clients']} | {r['requests']} | {r['requests_per_s']:.3f} "
              f"| {r['tokens_per_s']:.1f} | {r['p50_latency_s']:.2f} | {r['p99_latency_s']:.2f} "
              f"| {r['p50_ttft_s']:.2f} | {r['accepted_per_cycle']:.2f} "
              f"| {r['tokens_per_target_call']:.2f} | {r['same_text_as_one_at_a_time']}/{r['requests']} "
              f"| {r['rss_mib_before']:.0f} → {r['rss_mib_after']:.0f} |")
    bad = [r for r in rows if r["same_text_as_one_at_a_time"] != r["requests"]]
    if args.check and bad:
        print(f"{len(bad)} run(s) changed or lost responses under load", file=sys.stderr)
        return 1
    if args.out:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        with open(args.out, "w") as f:
            json.dump({"command": sys.argv, "cpu": open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": "),
                       "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

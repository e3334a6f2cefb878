#!/usr/bin/env python3
"""`autojudge serve` through the official `openai` Python client, as its users call it.

Starts `autojudge serve` on a free loopback port with MODEL (and a draft: the model's own
first layers, `self:exit:N`), then checks with `openai.OpenAI`:
  - completions and chat completions, whole and streamed (the streamed text equals the whole);
  - the greedy text equals `autojudge generate` for target-only and lossless decoding;
  - stop strings, `usage` and its extension fields, `/v1/models`;
  - errors: the client raises BadRequestError (400) for max_tokens 0, a threshold outside
    [0, 1] and an empty prompt, NotFoundError (404) for another model, with OpenAI error bodies;
  - SIGTERM: the server exits 0.
Exit status 0 when every check passes; each failure is printed.

  python3 scripts/serve_openai_client.py --bin target/debug/autojudge --model MODEL.gguf \
      [--draft self:exit:24]
"""
import argparse
import json
import os
import signal
import subprocess
import sys

import openai

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_process import start_server  # noqa: E402

PROMPT = "Question: Tom has 3 apples and buys 5 more. How many apples does he have?\nAnswer:"
FAILURES = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILURES.append(what)


def start(args):
    return start_server([args.bin, "serve", "--model", args.model, "--port", "0",
                         "--draft", args.draft, "--k", "4", "--max-concurrent", "4"])


def generate(args, extra):
    out = subprocess.run(
        [args.bin, "generate", "--model", args.model, "--prompt", PROMPT,
         "--max-new-tokens", str(args.max_tokens)] + extra,
        check=True, capture_output=True, text=True).stdout
    return out[:-1] if out.endswith("\n") else out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--draft", default="self:exit:24")
    p.add_argument("--max-tokens", type=int, default=24)
    args = p.parse_args()
    proc, name, addr = start(args)
    try:
        client = openai.OpenAI(base_url=f"http://{addr}/v1", api_key="unused", max_retries=0)
        models = client.models.list()
        check([m.id for m in models.data] == [name], f"/v1/models lists `{name}`")

        n = args.max_tokens
        want = {
            "target-only": generate(args, []),
            "lossless": generate(args, ["--draft", args.draft, "--k", "4"]),
        }
        for method, text in want.items():
            r = client.completions.create(model=name, prompt=PROMPT, max_tokens=n,
                                          extra_body={"method": method})
            check(r.choices[0].text == text,
                  f"completions, {method}: text equals `autojudge generate` ({text!r})")
            u, fin = r.usage, r.choices[0].finish_reason
            check(u.prompt_tokens > 0 and 0 < u.completion_tokens <= n
                  and u.total_tokens == u.prompt_tokens + u.completion_tokens
                  and (fin != "length" or u.completion_tokens == n),
                  f"completions, {method}: usage {u.prompt_tokens}+{u.completion_tokens}, "
                  f"finish_reason {fin}")
            extra = r.usage.model_extra or {}
            check(extra.get("method") == method and "accepted_tokens" in extra,
                  f"completions, {method}: usage extensions {json.dumps(extra)}")
            stream = client.completions.create(model=name, prompt=PROMPT, max_tokens=n,
                                               stream=True, extra_body={"method": method})
            pieces = [c.choices[0].text for c in stream if c.choices]
            check("".join(pieces) == text and len(pieces) > 1,
                  f"completions, {method}, streamed in {len(pieces)} chunks: the same text")

        # A stop string: cut from the text, finish_reason "stop".
        full = want["target-only"]
        words = full.split()
        if len(words) >= 3:
            stop = words[2]
            r = client.completions.create(model=name, prompt=PROMPT, max_tokens=n, stop=[stop],
                                          extra_body={"method": "target-only"})
            check(r.choices[0].text == full[:full.find(stop)] and r.choices[0].finish_reason == "stop",
                  f"stop string {stop!r}: text cut before it, finish_reason stop")

        messages = [{"role": "user", "content": "Name three colours."}]
        r = client.chat.completions.create(model=name, messages=messages, max_tokens=n)
        whole = r.choices[0].message.content
        check(r.choices[0].message.role == "assistant" and len(whole) > 0,
              f"chat: an assistant message ({whole!r})")
        stream = client.chat.completions.create(model=name, messages=messages, max_tokens=n,
                                                stream=True)
        streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        check(streamed == whole, "chat, streamed: the same text")

        def refused(kind, status, **kw):
            try:
                client.completions.create(model=kw.pop("model", name), **kw)
            except kind as e:
                body = e.body if isinstance(e.body, dict) else {}
                check(e.status_code == status and "message" in body,
                      f"{kind.__name__} {status} with an OpenAI error body: {body.get('message')}")
            else:
                check(False, f"{kind.__name__} expected for {kw}")

        refused(openai.BadRequestError, 400, prompt=PROMPT, max_tokens=0)
        refused(openai.BadRequestError, 400, prompt=PROMPT, max_tokens=n,
                extra_body={"judge_threshold": 1.5, "method": "lossless"})
        refused(openai.BadRequestError, 400, prompt="", max_tokens=n)
        refused(openai.BadRequestError, 400, prompt=PROMPT, max_tokens=10**7)
        refused(openai.NotFoundError, 404, model="gpt-4", prompt=PROMPT, max_tokens=n)
        r = client.completions.create(model=name, prompt=PROMPT, max_tokens=n,
                                      extra_body={"method": "target-only"})
        check(r.choices[0].text == want["target-only"], "after the errors the server answers as before")
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    check(code == 0, f"SIGTERM: the server exits 0 (exit {code})")
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed", file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

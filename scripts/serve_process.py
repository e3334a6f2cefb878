"""Starting `autojudge serve` from a script: the shared piece of scripts/serve_openai_client.py
and scripts/bench_serve.py."""
import re
import subprocess
import sys
import threading


def start_server(cmd):
    """Runs `cmd` (an `autojudge serve ... --port 0` command line) and waits until it listens.

    Returns (process, served model id, host:port). Its stderr keeps being drained so the
    server never blocks on a full pipe."""
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    for line in proc.stderr:
        m = re.search(r"serving `(.+?)` on http://(\S+)", line)
        if m:
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return proc, m.group(1), m.group(2)
        sys.stderr.write(line)
    raise SystemExit("autojudge serve exited before listening: " + " ".join(cmd))

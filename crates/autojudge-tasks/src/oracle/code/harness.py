# The harness the code sandbox runs with `python3 -I -B -c`. It reads one line (the run's
# nonce) and then the program from stdin, points stdin, stdout and stderr at /dev/null,
# keeps a private copy of the original stdout as the report channel, runs the program in a
# fresh module namespace (not "__main__", as in HumanEval's own harness) and writes the nonce
# to the report channel only when the program, its unit tests included, returned normally.
# `sys.exit`, `os._exit`, an exception or an `atexit` hook never produce the nonce, so the
# exit status decides nothing.
import os
import sys


def _autojudge_harness():
    data = sys.stdin.buffer.read()
    nonce, _, source = data.partition(b"\n")
    report = os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    os.write(report, b"started\n")
    namespace = {"__name__": "__autojudge_solution__", "__builtins__": __builtins__}
    try:
        exec(compile(source, "solution.py", "exec"), namespace)
    except BaseException:
        os._exit(1)
    os.write(report, nonce + b"\n")
    os._exit(0)


_autojudge_harness()

"""Sampling profiles of the live server with py-spy: ``authserver serve`` under wrk load.

py-spy reads the workers' stacks from outside (no hooks in the process), so unlike an
in-process profiler it does not inflate Python-heavy code against C calls (signing, SQLite).
Collapsed stacks are reduced to the top functions by self and by inclusive time.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

_FRAME_LINE = re.compile(r":\d+\)$")
_PATH = re.compile(r"\((?:.*/site-packages/|.*/lib/python3\.\d+/|.*/work/main/)?")


def py_spy() -> str | None:
    """The py-spy next to this interpreter (``pip install py-spy`` into the venv), or on PATH."""
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def record(pid: int, seconds: float, out: Path, rate: int = 250) -> subprocess.Popen[bytes]:
    """Start sampling ``pid`` and its children (the gunicorn workers) for ``seconds``."""
    exe = py_spy()
    assert exe is not None
    cmd = [exe, "record", "--pid", str(pid), "--subprocesses", "--duration", str(int(seconds)),
           "--rate", str(rate), "--format", "raw", "--output", str(out), "--nonblocking"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _frame(raw: str) -> str:
    return _PATH.sub("(", _FRAME_LINE.sub(")", raw.strip()))


def summarize(collapsed: Path, top: int = 40) -> list[str]:
    """Self and inclusive shares of the busy samples, per function (line numbers merged)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame(f) for f in stack.split(";") if not f.startswith("process ")]
        if not frames:
            continue
        total += n
        own[frames[-1]] += n
        for f in set(frames):
            inclusive[f] += n
    out = [f"{total} busy samples", "", "## self time (top functions)"]
    out += [f"{n / total:6.1%}  {f}" for f, n in own.most_common(top)]
    out += ["", "## inclusive time (function and its callees)"]
    out += [f"{n / total:6.1%}  {f}" for f, n in inclusive.most_common(top * 2)]
    return out

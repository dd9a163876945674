"""Atomic writes: a write killed midway leaves nothing behind once the file is written again."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from ganlab.io import atomic_dir, write_json


def test_a_write_killed_midway_leaves_no_temporary_after_the_next_write(tmp_path):
    """A real process killed with SIGKILL inside atomic_path: its temporary stays (no `finally`
    runs); the next write of the same file removes it, and leaves other files alone."""
    target = tmp_path / "metrics.json"
    code = ("import os, sys, time; from ganlab.io import atomic_path\n"
            f"with atomic_path({str(target)!r}) as tmp:\n"
            "    tmp.write_text('half'); print('writing', flush=True); time.sleep(60)\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stale = list(tmp_path.glob(".metrics.json.*.tmp"))
    assert len(stale) == 1 and not target.exists()
    other = tmp_path / ".other.json.abc.tmp"
    other.write_text("another file's temporary")

    write_json(target, {"fid": 1.0})
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.json.abc.tmp", "metrics.json"]


def test_a_killed_directory_write_is_cleaned_too(tmp_path):
    stale = tmp_path / ".best.xyz.tmp"
    (stale / "sub").mkdir(parents=True)
    with atomic_dir(tmp_path / "best") as tmp:
        (tmp / "model.json").write_text("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best"]

"""`kubefacade` keeps compiled bytecode outside the source tree even under PYTHONDONTWRITEBYTECODE."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_bytecode_is_cached_under_the_cache_home(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "XDG_CACHE_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "facade.cli", "serve", "--help"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    cache = tmp_path / "kubefacade" / "pycache"
    # registering the subcommands imports runtime/cli.py after the cache is set up: its bytecode is kept
    root = Path(__file__).resolve().parents[1]
    kept = list((cache / root.relative_to("/") / "runtime").glob("cli.*.pyc"))
    assert kept, sorted(str(p) for p in cache.rglob("*.pyc"))[:10]

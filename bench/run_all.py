"""Runs every benchmark in turn and prints each one's numbers (`make bench`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ("bench_dialogs.py", "bench_rest.py", "bench_pdf.py", "bench_telegram.py", "bench_echo_baseline.py")


def main() -> int:
    failed = 0
    for name in BENCHES:
        print(f"\n=== {name}", flush=True)
        failed += subprocess.call([sys.executable, str(HERE / name)], timeout=1800) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

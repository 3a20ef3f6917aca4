"""The README's 5-minute tour, run as written, in a scratch folder.

The bash block under "A 5-minute tour" is read from README.md; each `reidbench ...` line runs
through the CLI's entry point in one interpreter (so the tour costs its commands' work rather
than a dozen imports of torch), other lines in a subprocess. Only the parity report runs
on a smaller synthetic problem than the README's (the README's takes ~10 s on its own); every
other command runs exactly as a reader would type it.
"""

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"

#: Extra options per command prefix, appended so the test stays quick (documented above).
QUICK = {("metrics", "parity"): ["--queries", "60", "--gallery", "600", "--boot", "50"]}


def tour_lines() -> list[str]:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"## A 5-minute tour.*?```bash\n(.*?)```", text, re.S)
    assert block, "README.md has no bash block under '## A 5-minute tour'"
    return [line for line in block.group(1).splitlines() if line.strip()]


# Runs the steps in one interpreter started with OMP_WAIT_POLICY=PASSIVE, as the `reidbench`
# command is (pytest's own interpreter imported torch long ago, with spinning OpenMP threads that
# made this tour 5x slower on a busy 2-core machine).
RUNNER = """
import contextlib, io, json, subprocess, sys
from reidbench.cli import main
for argv, redirect in json.loads(sys.argv[1]):
    if argv[0] == "python":
        r = subprocess.run([sys.executable, *argv[1:]], capture_output=True, text=True)
        rc, err = r.returncode, r.stderr
    else:
        buf, errbuf = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(errbuf):
            rc = main(argv[1:])
        err = errbuf.getvalue()
        if redirect:
            open(redirect, "w").write(buf.getvalue())
    if rc != 0 or "Traceback" in err:
        print(json.dumps({"failed": argv, "rc": rc, "stderr": err[-2000:]}))
        sys.exit(1)
print(json.dumps({"ok": True}))
"""


def test_the_tour_runs_in_a_scratch_folder(tmp_path):
    lines = tour_lines()
    assert lines[0].startswith(". .venv/bin/activate")
    assert lines[1].startswith('cd "$(mktemp -d)"'), "the tour must work in a scratch folder"
    steps = []
    for line in lines[2:]:
        argv = shlex.split(line, comments=True)
        redirect = None
        if ">" in argv:
            k = argv.index(">")
            argv, redirect = argv[:k], argv[k + 1]
        assert argv[0] in ("reidbench", "python"), f"a line this test cannot run: {line}"
        for prefix, extra in QUICK.items():
            if tuple(argv[1:1 + len(prefix)]) == prefix:
                argv = [*argv, *extra]
        steps.append((argv, redirect))
    assert {"train", "evaluate", "compare"} <= {argv[1] for argv, _ in steps if len(argv) > 1}
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    r = subprocess.run([sys.executable, "-c", RUNNER, json.dumps(steps)], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    summary = json.loads((tmp_path / "runs" / "stmn" / "train.json").read_text())
    assert summary["epochs_done"] == 2  # the small run, not the paper's 200 epochs
    for name in ("ids.txt", "feats.npz", "results/mine", "results/stmn", "MARS"):
        assert (tmp_path / name).exists(), name
    # the README's export example names the checkpoint this tour's training wrote
    export = re.search(r"^reidbench export stmn --checkpoint (\S+)", README.read_text(), re.M)
    assert export and (tmp_path / export.group(1)).is_file(), export and export.group(1)

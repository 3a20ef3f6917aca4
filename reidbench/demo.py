"""The whole product in one call, on the built-in synthetic dataset (what ``reidbench demo`` runs).

1. synthesise a small MARS-layout copy (the real MARS parser reads it);
2. train a small STMN (the quickest faithful baseline) for a fixed number of iterations (60 by
   default; the whole demo takes 20-30 s on 2 CPU cores) at 64x32, so the result does not depend
   on the machine's speed or load;
3. evaluate the untrained and the trained model under ``mars/v2v@1``;
4. write result records, a leaderboard and a retrieval gallery under ``out_dir``.

This module sits above ``report`` (it uses the engine, the leaderboard and the report layers) and
below the CLI, which only renders what :func:`run_demo` returns.

Example:
    >>> from reidbench.demo import run_demo
    >>> run = run_demo("demo-out", quick=True)  # doctest: +SKIP
    >>> run.results["trained"].value("mAP")  # doctest: +SKIP
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reidbench.errors import InputError, describe

__all__ = ["DemoRun", "run_demo"]

#: Frame size of the demo's training and evaluation (small enough for a CPU).
DEMO_SIZE = (64, 32)


@dataclass(frozen=True)
class DemoRun:
    """What :func:`run_demo` produced.

    Attributes:
        root: The demo's output folder.
        baseline: The baseline trained.
        results: ``{"untrained": EvalResult, "trained": EvalResult}``.
        train_summary: The training summary (``train.json``'s content).
        reports: Paths of the ``leaderboard`` table, the retrieval ``gallery`` and the ``html``
            index.
        seconds: Wall time of the whole demo.
    """

    root: Path
    baseline: str
    results: dict[str, Any]
    train_summary: dict[str, Any]
    reports: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0

    def result_dir(self, label: str) -> Path:
        """The result folder of ``label`` (``"untrained"`` or ``"trained"``)."""
        return self.root / "results" / f"{self.baseline}-{label}"


def run_demo(out_dir: str | Path = "demo-out", *, ids: int = 40, iters: int = 60,
             max_minutes: float | None = None, baseline: str = "stmn", seed: int = 0,
             quick: bool = False, published: str | Path | None = None,
             progress: Callable[[str, int, int], None] | None = None,
             notify: Callable[[str], None] | None = None) -> DemoRun:
    """Synthesise MARS, train a small baseline, evaluate it under ``mars/v2v@1``, report.

    Args:
        out_dir: Folder for the dataset, the run, the results and the reports.
        ids: Identities in the synthetic MARS copy (checked by the synthesiser).
        iters: Training iterations, in two equal epochs (rounded up to even). A fixed count keeps
            the result independent of the machine's speed.
        max_minutes: Optional wall-time cap on training (the result then depends on the speed).
        baseline: The baseline to train (with ``backbone="small"``).
        seed: Seed of the data, the training and the bootstrap.
        quick: Tiny sizes (4 iterations, 200 bootstrap resamples, no validation), for tests.
        published: A folder of published leaderboard records to rank the demo model beside
            (default: the records shipped with reidbench, so it works from any folder).
        progress: Progress callback ``(stage, done, total)``.
        notify: Receives one-line notes (each step, the data written).

    Returns:
        A :class:`DemoRun`.

    Raises:
        InputError: ``iters`` below 1 or ``max_minutes`` not positive (or ``ids`` out of the
            synthesiser's range).
    """
    from reidbench.datasets.synthetic import write_dataset
    from reidbench.engine import AdapterSource, evaluate
    from reidbench.engine.train import TrainOptions, train

    if iters < 1:
        raise InputError(describe("iters", "run_demo", "at least 1 iteration", iters, ""),
                         param="iters")
    if max_minutes is not None and not max_minutes > 0:
        raise InputError(describe("max_minutes", "run_demo", "a positive number of minutes",
                                  max_minutes, "leave it out for no cap"), param="max_minutes")
    say = notify or (lambda line: None)
    t0 = time.perf_counter()
    root = Path(out_dir)
    data = root / "MARS"
    say(f"1/4 synthesising a MARS-layout copy with {ids} identities in {data}")
    if not (data / "info").is_dir():
        s = write_dataset("mars", data, ids=ids, seed=seed, overwrite=True)
        say(f"   {s.num_tracklets} tracklets, {s.num_frames} frames "
            f"({s.frames_per_second:.0f} frames/s)")
    model_config = {"backbone": "small"}
    run = root / "runs" / baseline
    iters = 4 if quick else 2 * max(1, -(-iters // 2))  # two equal epochs
    P, K = 4, 2
    h, w = DEMO_SIZE
    say(f"2/4 training {baseline} (small backbone, {P}x{K} clips of {h}x{w} frames) for "
        f"{iters} iterations on CPU")
    # The paper's lr (1e-4) assumes an ImageNet-initialised ResNet-50; the small backbone starts
    # from scratch and needs a larger step to learn in tens of iterations. Small frames and small
    # batches keep each iteration cheap; a fixed count keeps the result independent of the load.
    options = TrainOptions(epochs=2, iters_per_epoch=iters // 2, lr=1e-3, input_size=DEMO_SIZE,
                           max_minutes=max_minutes, seed=seed, P=P, K=K, device="cpu",
                           val_fraction=0.0 if quick else 0.15, resume=False)
    summary = train(baseline, data, "mars", run, model_config=model_config, options=options,
                    progress=progress,
                    notify=None if quick else (lambda line: say(f"   {line}")))
    results: dict[str, Any] = {}
    for step, (label, ckpt) in enumerate((("untrained", None), ("trained", summary["checkpoint"])),
                                         start=3):
        say(f"{step}/4 evaluating the {label} model under mars/v2v@1")
        config = dict(model_config, num_classes=summary["config"]["num_classes"])
        source = AdapterSource(baseline, ckpt, config if ckpt is None else None, device="cpu",
                               batch_size=16)
        result = evaluate("mars/v2v@1", data, source, procedure={"input_size": DEMO_SIZE},
                          bootstrap=200 if quick else 1000, seed=seed, progress=progress)
        result.write(root / "results" / f"{baseline}-{label}")
        results[label] = result
    demo = DemoRun(root=root, baseline=baseline, results=results, train_summary=summary)
    reports = _reports(demo, data, quick, published)
    return DemoRun(root=root, baseline=baseline, results=results, train_summary=summary,
                   reports=reports, seconds=time.perf_counter() - t0)


def _reports(demo: DemoRun, data: Path, quick: bool,
             published: str | Path | None) -> dict[str, Path]:
    """Build the demo's leaderboard, retrieval gallery and HTML report.

    The trained result is filed beside the published records (marked as synthetic).
    """
    from reidbench.leaderboard.add import add_submission
    from reidbench.leaderboard.io import published_dir
    from reidbench.report.gallery import write_gallery
    from reidbench.report.site import build_tables, write_html_report

    boards = demo.root / "leaderboards"
    if boards.exists():
        shutil.rmtree(boards)
    source = published_dir(None, published)  # default: the records shipped with reidbench
    if source.is_dir():  # rank the demo model beside the papers
        shutil.copytree(source, boards / "published")
    add_submission(demo.result_dir("trained"), boards)
    out = demo.root / "reports"
    paths = build_tables(boards, out, formats=("md", "html"), protocols=["mars/v2v@1"])
    board = next((p for p in paths if p.name == "leaderboard-mars-v2v-1.md"), paths[-1])
    gallery = write_gallery(demo.result_dir("trained"), data,
                            out / "galleries" / f"{demo.baseline}-trained",
                            queries=2 if quick else 5, topk=5 if quick else 10, worst_first=True)
    html = write_html_report(out, title="reidbench demo")
    return {"leaderboard": board, "gallery": gallery[-1], "html": html}

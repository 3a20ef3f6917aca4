"""`reidbench demo`: the whole product in one command, on the built-in synthetic dataset.

1. synthesise a small MARS-layout copy (the real MARS parser reads it);
2. train a small STMN (the quickest faithful baseline) for a fixed number of iterations (60 by
   default; the whole demo takes 20-30 s on 2 CPU cores) at 64x32, so the result does not depend
   on the machine's speed or load;
3. evaluate the untrained and the trained model under ``mars/v2v@1`` and print the result table;
4. write result records, and (when the report layer is installed) a leaderboard and a retrieval
   gallery, under ``--out``.

``reidbench demo --parity`` instead runs the metric parity report (why papers' numbers differ).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

app = typer.Typer()


def _step(msg: str) -> None:
    typer.echo(f"\n== {msg}", err=True)


@app.command("demo")
def demo_cmd(
    out: str = typer.Option("demo-out", "--out", help="Folder for the dataset, runs and reports."),
    ids: int = typer.Option(40, "--ids", help="Identities in the synthetic MARS copy."),
    iters: int = typer.Option(60, "--iters", help="Training iterations, in 2 epochs (fixed, so "
                              "the result does not depend on the machine's speed)."),
    minutes: float = typer.Option(None, "--minutes", help="Optional wall-time cap on training "
                                  "(the result then depends on the machine's speed)."),
    baseline: str = typer.Option("stmn", "--baseline", help="Baseline to train."),
    seed: int = typer.Option(0, "--seed"),
    quick: bool = typer.Option(False, "--quick", help="Tiny sizes (for tests)."),
    parity: bool = typer.Option(False, "--parity", help="Run the metric parity report instead."),
    as_json: bool = typer.Option(False, "--json", help="Print the final records as JSON."),
) -> None:
    """Synthesise MARS, train a small baseline, evaluate it under mars/v2v@1, report."""
    if parity:
        from reidbench.cli.metrics import run_parity_command

        run_parity_command(seed=seed, as_json=as_json)
        return
    from reidbench.cli.train import calm_openmp

    calm_openmp()
    from reidbench.cli.evaluate import _progress_printer, format_summary
    from reidbench.datasets.synthetic import write_dataset
    from reidbench.engine import AdapterSource, evaluate
    from reidbench.engine.train import TrainOptions, train

    t0 = time.perf_counter()
    root = Path(out)
    size = (64, 32)
    data = root / "MARS"
    _step(f"1/4 synthesising a MARS-layout copy with {ids} identities in {data}")
    if not (data / "info").is_dir():
        s = write_dataset("mars", data, ids=ids, seed=seed, overwrite=True)
        typer.echo(f"   {s.num_tracklets} tracklets, {s.num_frames} frames "
                   f"({s.frames_per_second:.0f} frames/s)", err=True)
    model_config = {"backbone": "small"}
    run = root / "runs" / baseline
    iters = 4 if quick else 2 * max(1, -(-iters // 2))  # two equal epochs
    P, K = 4, 2
    _step(f"2/4 training {baseline} (small backbone, {P}x{K} clips of {size[0]}x{size[1]} "
          f"frames) for {iters} iterations on CPU")
    # The paper's lr (1e-4) assumes an ImageNet-initialised ResNet-50; the small backbone starts
    # from scratch and needs a larger step to learn in tens of iterations. Small frames and small
    # batches keep each iteration cheap; a fixed count keeps the result independent of the load.
    options = TrainOptions(epochs=2, iters_per_epoch=iters // 2, lr=1e-3, input_size=size,
                           max_minutes=minutes, seed=seed, P=P, K=K,
                           val_fraction=0.0 if quick else 0.15, resume=False)
    summary = train(baseline, data, "mars", run, model_config=model_config, options=options,
                    progress=_progress_printer(),
                    notify=None if quick else lambda line: typer.echo(f"   {line}", err=True))
    overrides = {"input_size": size}
    results = {}
    for label, ckpt in (("untrained", None), ("trained", summary["checkpoint"])):
        _step(f"{3 if label == 'untrained' else 4}/4 evaluating the {label} model under mars/v2v@1")
        config = dict(model_config, num_classes=summary["config"]["num_classes"])
        source = AdapterSource(baseline, ckpt, config if ckpt is None else None, batch_size=16)
        result = evaluate("mars/v2v@1", data, source, procedure=overrides,
                          bootstrap=200 if quick else 1000, seed=seed,
                          progress=_progress_printer())
        result.write(root / "results" / f"{baseline}-{label}")
        results[label] = result
    reports = _reports(root, data, baseline, quick)
    if as_json:
        typer.echo(json.dumps({k: r.record for k, r in results.items()}, indent=2))
        return
    typer.echo("")
    typer.echo(format_summary(results["trained"].record))
    before, after = results["untrained"].value("mAP"), results["trained"].value("mAP")
    typer.echo(f"\n{baseline}: mAP {100 * before:.2f} untrained -> {100 * after:.2f} after "
               f"{summary['epochs_done']} epochs ({time.perf_counter() - t0:.0f} s in all)")
    typer.echo(f"leaderboard: {reports['leaderboard']}")
    typer.echo(f"retrieval gallery: {reports['gallery']}")
    typer.echo(f"HTML report: {reports['html']}")
    typer.echo(f"results in {root / 'results'}; try `reidbench compare "
               f"{root / 'results' / (baseline + '-untrained')} "
               f"{root / 'results' / (baseline + '-trained')}`")


def _reports(root: Path, data: Path, baseline: str, quick: bool) -> dict[str, Path]:
    """Build the demo's leaderboard, retrieval gallery and HTML report.

    The trained result is filed beside the published records (marked as synthetic).
    """
    import shutil

    from reidbench.leaderboard.add import add_submission
    from reidbench.report.gallery import write_gallery
    from reidbench.report.site import build_tables, write_html_report

    boards = root / "leaderboards"
    if boards.exists():
        shutil.rmtree(boards)
    published = Path("leaderboards") / "published"
    if published.is_dir():  # running from a checkout: rank the demo model beside the papers
        shutil.copytree(published, boards / "published")
    add_submission(root / "results" / f"{baseline}-trained", boards)
    out = root / "reports"
    paths = build_tables(boards, out, formats=("md", "html"), protocols=["mars/v2v@1"])
    board = next((p for p in paths if p.name == "leaderboard-mars-v2v-1.md"), paths[-1])
    gallery = write_gallery(root / "results" / f"{baseline}-trained", data,
                            out / "galleries" / f"{baseline}-trained",
                            queries=2 if quick else 5, topk=5 if quick else 10, worst_first=True)
    html = write_html_report(out, title="reidbench demo")
    return {"leaderboard": board, "gallery": gallery[-1], "html": html}

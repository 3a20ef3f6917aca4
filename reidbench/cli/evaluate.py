"""`reidbench evaluate` and `reidbench compare`: the first main job."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

app = typer.Typer()


class _ProgressLine:
    """A progress callback that redraws one line on stderr with an ETA.

    The timer restarts when the stage changes; text after ``" | "`` (e.g. a running loss) is shown
    but is not part of the stage. :meth:`close` ends a line left open (a run that stops with an
    error), so the error message starts on a line of its own.
    """

    def __init__(self) -> None:
        self.stage: str | None = None
        self.t0 = 0.0
        self.open = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        import time

        now = time.perf_counter()
        key = stage.split(" | ")[0]
        if key != self.stage:
            self.close()
            self.stage, self.t0 = key, now
        elapsed = now - self.t0
        eta = elapsed / done * (total - done) if done else 0.0
        self.open = done < total
        end = "" if self.open else "\n"
        sys.stderr.write(f"\r{stage}: {done}/{total}  {elapsed:5.1f}s  eta {eta:5.1f}s   {end}")
        sys.stderr.flush()

    def close(self) -> None:
        """End the current line if it is still open."""
        if self.open:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.open = False


def _progress_printer() -> _ProgressLine:
    """A progress callback that redraws one line on stderr (see :class:`_ProgressLine`)."""
    return _ProgressLine()


def format_summary(record: dict[str, Any]) -> str:
    """Format a result record's headline metrics (percent) as a small text table."""
    m = record["metrics"]
    lines = [f"protocol  {record['protocol']['id']}  (fingerprint "
             f"{record['protocol']['fingerprint']}, headline AP {record['headline_ap']})",
             f"queries   {record['n_queries']}  skipped {record['n_skipped']}"]
    for key in ("mAP", "rank1", "rank5", "rank10", "rank20", "mINP"):
        v = m[key]
        extra = ""
        if v.get("std") is not None:
            extra = f" +- {100 * v['std']:.2f} (over {len(v['per_split'])} splits)"
        elif v.get("ci"):
            extra = f"  [{100 * v['ci'][0]:.2f}, {100 * v['ci'][1]:.2f}] 95% CI"
        lines.append(f"{key:<9} {100 * v['value']:6.2f}{extra}")
    others = ", ".join(f"{var} {100 * vals['mAP']:.2f}"
                       for var, vals in record["metrics_by_variant"].items()
                       if var != record["headline_ap"])
    lines.append(f"mAP under other AP variants: {others}")
    return "\n".join(lines)


@app.command("evaluate")
def evaluate_cmd(
    protocol: str = typer.Option(..., "--protocol", "-p", help="Protocol id, e.g. mars/v2v@1."),
    data: str = typer.Option(..., "--data", help="Root of the dataset copy (official layout)."),
    out: str = typer.Option(..., "--out", help="Result directory to write."),
    features: str = typer.Option(None, "--features", help="Features .npz (use {split} for "
                                 "multi-split protocols)."),
    adapter: str = typer.Option(None, "--adapter", help="Adapter name or module:Class."),
    checkpoint: str = typer.Option(None, "--checkpoint", help="Checkpoint (use {split} for "
                                   "multi-split protocols)."),
    config: str = typer.Option(None, "--config", help="Adapter options as JSON."),
    device: str = typer.Option("auto", "--device", help="auto (the GPU when torch sees one), "
                               "cpu, cuda or cuda:N."),
    batch_size: int = typer.Option(32, "--batch-size"),
    workers: int = typer.Option(0, "--workers"),
    cache: str = typer.Option(None, "--cache", help="Feature cache folder."),
    seq_len: int = typer.Option(None, "--seq-len", help="Override the clip length."),
    sampling: str = typer.Option(None, "--sampling", help="Override the sampling strategy."),
    height: int = typer.Option(None, "--height", help="Override the frame height (default: the "
                               "checkpoint's training size, else the protocol's)."),
    width: int = typer.Option(None, "--width", help="Override the frame width (with --height)."),
    distance: str = typer.Option(None, "--distance", help="Override the distance."),
    rerank: bool = typer.Option(None, "--rerank/--no-rerank", help="k-reciprocal re-ranking."),
    bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap resamples (0: no CI)."),
    seed: int = typer.Option(0, "--seed"),
    as_json: bool = typer.Option(False, "--json", help="Print the record as JSON."),
) -> None:
    """Evaluate a features file or a model checkpoint under a protocol and write the result."""
    from reidbench.engine import AdapterSource, FeaturesSource, evaluate
    from reidbench.engine.distributed import is_main, maybe_init
    from reidbench.engine.results import check_out_dir
    from reidbench.errors import InputError, describe

    maybe_init()

    if (features is None) == (adapter is None):
        raise InputError(describe("--features/--adapter", "reidbench evaluate", "exactly one of "
                                  "them", "both" if features else "neither",
                                  "pass --features FILE or --adapter NAME --checkpoint FILE"))
    check_out_dir(out)  # before any computing: a result that cannot be written is not computed
    if features:
        if checkpoint or config:
            raise InputError(describe("--checkpoint/--config", "reidbench evaluate --features",
                                      "no model options (the features are given)",
                                      "--checkpoint" if checkpoint else "--config",
                                      "drop them, or evaluate the model with --adapter"))
        source: Any = FeaturesSource(features)
    else:
        source = AdapterSource(adapter, checkpoint, _parse_config(config), device, batch_size,
                               workers, cache)
    if (height is None) != (width is None):
        raise InputError(describe("--height/--width", "reidbench evaluate", "both or neither",
                                  f"only --{'height' if width is None else 'width'}",
                                  "pass both, e.g. --height 256 --width 128"))
    overrides = {"seq_len": seq_len, "sampling": sampling, "distance": distance,
                 "rerank": rerank, "input_size": (height, width) if height else None}
    progress = None if as_json else _progress_printer()
    try:
        result = evaluate(protocol, data, source, procedure=overrides, bootstrap=bootstrap,
                          seed=seed, progress=progress)
    finally:
        if progress is not None:
            progress.close()
    if not is_main():
        return
    for warning in result.record.get("warnings", []):
        typer.echo(f"warning: {warning}", err=True)
    result.write(out)
    if as_json:
        typer.echo(json.dumps(result.record, indent=2))
    else:
        typer.echo(format_summary(result.record))
        typer.echo(f"written to {out}/results.json and {out}/per_query.npz")


def _parse_config(config: str | None) -> dict[str, Any]:
    """``--config`` as a JSON object of adapter options."""
    from reidbench.errors import InputError, describe

    if not config:
        return {}
    try:
        options = json.loads(config)
    except json.JSONDecodeError as exc:
        raise InputError(describe("--config", "reidbench evaluate", "a JSON object",
                                  f"invalid JSON ({exc.msg})",
                                  "quote it, e.g. --config '{\"M\": 10}'")) from None
    if not isinstance(options, dict):
        raise InputError(describe("--config", "reidbench evaluate", "a JSON object of adapter "
                                  "options", f"a JSON {type(options).__name__}",
                                  "pass e.g. --config '{\"M\": 10}'"))
    return options


@app.command("compare")
def compare_cmd(
    result_a: str = typer.Argument(..., help="First result directory."),
    result_b: str = typer.Argument(..., help="Second result directory."),
    resamples: int = typer.Option(10000, "--resamples"),
    seed: int = typer.Option(0, "--seed"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Paired significance test on per-query AP; refuses results of different protocols."""
    from reidbench.engine.compare import compare_results

    report = compare_results(result_a, result_b, resamples=resamples, seed=seed)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    typer.echo(f"protocol {report['protocol']}  ({report['n_queries']} paired queries, "
               f"headline AP {report['ap']})")
    typer.echo(f"mAP  A {100 * report['map_a']:.2f}   B {100 * report['map_b']:.2f}   "
               f"B - A {100 * report['diff']:+.2f}  95% CI [{100 * report['ci'][0]:+.2f}, "
               f"{100 * report['ci'][1]:+.2f}]  p = {report['p_value']:.4g}")

"""`reidbench evaluate` and `reidbench compare`: the first main job."""

from __future__ import annotations

import json
from typing import Any

import typer

from reidbench.cli._common import (
    CONFIG_HELP,
    DEVICE_HELP,
    JSON_HELP,
    SEED_HELP,
    SPLIT_HELP,
    SUBMISSION_HELP,
)

app = typer.Typer()


@app.command("evaluate")
def evaluate_cmd(
    protocol: list[str] = typer.Option(..., "--protocol", "-p", help="Protocol id, e.g. "  # noqa: B008
                                       "mars/v2v@1. Repeat it or give a comma list to evaluate "
                                       "several; each result then goes to OUT/<protocol>/."),
    data: str = typer.Option(..., "--data", help="Root of the dataset copy (official layout)."),
    out: str = typer.Option(..., "--out", "-o", help="Result directory to write."),
    features: str = typer.Option(None, "--features", help="Features .npz (use {split} for "
                                 "multi-split protocols)."),
    adapter: str = typer.Option(None, "--adapter", help="Adapter name or module:Class."),
    model: str = typer.Option(None, "--model", help="ONNX or TorchScript model file declaring "
                              "its input in reidbench.* metadata (use {split} for multi-split "
                              "protocols); no Python of the submitter's runs."),
    query_model: str = typer.Option(None, "--query-model", help="A second model file that "
                                    "embeds the query images (I2V, two-network methods)."),
    checkpoint: str = typer.Option(None, "--checkpoint", help="Checkpoint (use {split} for "
                                   "multi-split protocols)."),
    config: str = typer.Option(None, "--config", help=CONFIG_HELP),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    batch_size: int = typer.Option(32, "--batch-size", help="Clips per forward pass."),
    workers: str = typer.Option("auto", "--workers", help="Worker processes decoding frames: "
                                "auto (from the cores available; none for a tiny job) or N (0: "
                                "in the main process)."),
    autocast: bool = typer.Option(True, "--autocast/--no-autocast", help="Autocast on a GPU "
                                  "(bfloat16 where supported, else float16); no effect on CPU."),
    max_matrix_mb: float = typer.Option(None, "--max-matrix-mb", help="Largest query x gallery "
                                        "distance matrix built whole, in MiB (default 1024); "
                                        "past it, distances and metrics stream in query "
                                        "blocks."),
    cache: str = typer.Option(None, "--cache", help="Feature cache folder (reused across runs "
                              "of the same model and procedure)."),
    split: str = typer.Option(None, "--split", help=SPLIT_HELP + " Default: every split."),
    limit: int = typer.Option(None, "--limit", help="Quick check: N queries per split and a "
                              "gallery scaled down alike. Recorded in the result, which can "
                              "never be filed in a leaderboard."),
    seq_len: int = typer.Option(None, "--seq-len", help="Override the clip length."),
    sampling: str = typer.Option(None, "--sampling", help="Override the sampling strategy."),
    height: int = typer.Option(None, "--height", help="Override the frame height (default: the "
                               "checkpoint's training size, else the adapter card's)."),
    width: int = typer.Option(None, "--width", help="Override the frame width (with --height)."),
    distance: str = typer.Option(None, "--distance", help="Override the distance."),
    rerank: bool = typer.Option(None, "--rerank/--no-rerank", help="k-reciprocal re-ranking."),
    bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap resamples (0: no CI)."),
    seed: int = typer.Option(0, "--seed", help=SEED_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a result already in "
                                   "--out (without it, such an --out is refused)."),
    name: str = typer.Option(None, "--name", help=SUBMISSION_HELP["name"]),
    description: str = typer.Option(None, "--description", help=SUBMISSION_HELP["description"]),
    backbone: str = typer.Option(None, "--backbone", help=SUBMISSION_HELP["backbone"]),
    url: str = typer.Option(None, "--url", help=SUBMISSION_HELP["url"]),
    as_json: bool = typer.Option(False, "--json", help="Print the record as JSON."),
) -> None:
    """Evaluate a features file or a model checkpoint under a protocol and write the result."""
    from pathlib import Path

    from reidbench.cli._common import (
        ProgressLine,
        calm_openmp,
        check_frame_size,
        check_option,
        check_result_out,
        format_summary,
        parse_config,
        parse_protocols,
        protocol_folder,
        split_name,
    )

    calm_openmp()  # decoding workers share the cores with torch's threads (PROFILE.md)
    from reidbench.engine import AdapterSource, FeaturesSource, evaluate
    from reidbench.engine.distributed import is_main, maybe_init
    from reidbench.engine.modelfile import ModelFileSource
    from reidbench.protocols import get_protocol
    from reidbench.records import check_out_dir

    command = "reidbench evaluate"
    maybe_init()
    given = [flag for flag, v in (("--features", features), ("--adapter", adapter),
                                  ("--model", model)) if v is not None]
    check_option(len(given) == 1, "--features/--adapter/--model", command, "exactly one of them",
                 " and ".join(given) or "none", "pass --features FILE, --adapter NAME "
                 "--checkpoint FILE, or --model FILE")
    if features:
        check_option(not (checkpoint or config), "--checkpoint/--config",
                     command + " --features", "no model options (the features are given)",
                     "--checkpoint" if checkpoint else "--config",
                     "drop them, or evaluate the model with --adapter")
    if model:
        check_option(not (checkpoint or config), "--checkpoint/--config", command + " --model",
                     "no adapter options (the file holds the network and its metadata)",
                     "--checkpoint" if checkpoint else "--config",
                     "drop them; a sidecar FILE.json overrides the file's metadata")
    check_option(not query_model or bool(model), "--query-model", command, "a --model beside it",
                 "no --model", "pass --model FILE --query-model FILE")
    check_frame_size(height, width, command)
    check_option(1 <= batch_size <= 65536, "--batch-size", command, "clips in 1..65536",
                 batch_size)
    text = workers.strip().lower()
    check_option(text == "auto" or (text.isdigit() and int(text) <= 256), "--workers", command,
                 "auto or a number of workers in 0..256", repr(workers))
    n_workers: int | str = "auto" if text == "auto" else int(text)
    check_option(0 <= bootstrap <= 1_000_000, "--bootstrap", command, "resamples in "
                 "0..1,000,000", bootstrap)
    check_option(0 <= seed < 2**32, "--seed", command, "a whole number in 0..2**32-1", seed)
    check_option(limit is None or limit >= 1, "--limit", command, "a number of queries >= 1",
                 limit, "leave it out to evaluate every query")
    from reidbench.records import SubmissionInfo

    submission = SubmissionInfo.from_options(name=name, description=description,
                                             backbone=backbone, url=url)
    protocols = [get_protocol(pid) for pid in parse_protocols(protocol)]
    check_option(bool(protocols), "--protocol", command, "a protocol id", repr(protocol), "")
    outs = {p.id: Path(out) if len(protocols) == 1 else Path(out) / protocol_folder(p.id)
            for p in protocols}
    for target in outs.values():  # before any computing: a result that cannot be written
        check_out_dir(target)
        check_result_out(target, overwrite, command)
    splits = [split_name(split)] if split else None
    for proto in protocols:  # before any model is built
        check_option(splits is None or splits[0] in proto.evaluation.splits, "--split",
                     f"{command} -p {proto.id}", f"one of {list(proto.evaluation.splits)}",
                     repr(split), "3 means split3; single-split protocols need no --split")
    source: Any
    if features:
        source = FeaturesSource(features)
    elif model:
        source = ModelFileSource(model, query_model, device, batch_size, n_workers, cache,
                                 autocast=None if autocast else False)
    else:
        source = AdapterSource(adapter, checkpoint, parse_config(config, command), device,
                               batch_size, n_workers, cache,
                               autocast=None if autocast else False)
    budget = {} if max_matrix_mb is None else {"max_matrix_mb": max_matrix_mb}
    overrides = {"seq_len": seq_len, "sampling": sampling, "distance": distance,
                 "rerank": rerank, "input_size": (height, width) if height else None}
    for proto in protocols:
        progress = None if as_json else ProgressLine()
        try:
            result = evaluate(proto, data, source, procedure=overrides, splits=splits,
                              bootstrap=bootstrap, seed=seed, limit=limit, progress=progress,
                              submission=submission, **budget)
        finally:
            if progress is not None:
                progress.close()
        if not is_main():
            continue
        for warning in result.record.warnings:
            typer.echo(f"warning: {warning}", err=True)
        result.write(outs[proto.id])
        if as_json:
            typer.echo(json.dumps(result.record.to_json(), indent=2))
        else:
            typer.echo(format_summary(result.record))
            typer.echo(f"written to {outs[proto.id]}/results.json and "
                       f"{outs[proto.id]}/per_query.npz")


@app.command("compare")
def compare_cmd(
    result_a: str = typer.Argument(..., help="First result directory."),
    result_b: str = typer.Argument(..., help="Second result directory."),
    resamples: int = typer.Option(10000, "--resamples", help="Paired bootstrap resamples of the "
                                  "mAP difference."),
    seed: int = typer.Option(0, "--seed", help=SEED_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Paired significance test on per-query AP; refuses results of different protocols."""
    from reidbench.cli._common import check_option
    from reidbench.engine.compare import compare_results

    check_option(0 <= seed < 2**32, "--seed", "reidbench compare", "a whole number in "
                 "0..2**32-1", seed)
    report = compare_results(result_a, result_b, resamples=resamples, seed=seed)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    typer.echo(f"protocol {report['protocol']}  ({report['n_queries']} paired queries, "
               f"headline AP {report['ap']})")
    typer.echo(f"mAP  A {100 * report['map_a']:.2f}   B {100 * report['map_b']:.2f}   "
               f"B - A {100 * report['diff']:+.2f}  95% CI [{100 * report['ci'][0]:+.2f}, "
               f"{100 * report['ci'][1]:+.2f}]  p = {report['p_value']:.4g}")

"""`reidbench import-weights`: convert a method's official checkpoint into a reidbench one."""

from __future__ import annotations

import typer

app = typer.Typer()


@app.command("import-weights")
def import_weights_cmd(
    baseline: str = typer.Argument(..., help="Baseline whose official code saved FILE (stmn, "
                                   "cosam, read)."),
    file: str = typer.Argument(..., help="The checkpoint the official code saved or its "
                               "authors released."),
    out: str = typer.Option(..., "--out", "-o", help="Where to write the reidbench checkpoint "
                            "(.safetensors)."),
    train_dataset: str = typer.Option(None, "--train-dataset", help="Dataset the weights were "
                                      "trained on (stored; cross-dataset protocols check it)."),
) -> None:
    """Convert an official checkpoint (read with weights_only=True) into OUT.safetensors.

    Keys are mapped to the reidbench model's names, every tensor must be used and every shape
    match; the config is derived from the shapes and the provenance (source repository, original
    sha256) stored in the checkpoint. Evaluate it with
    `reidbench evaluate --adapter BASELINE --checkpoint OUT.safetensors`.
    """
    from reidbench.adapters import import_weights

    meta = import_weights(baseline, file, out, train_dataset=train_dataset)
    info = meta["imported"]
    typer.echo(f"wrote {out}: {info['tensors']} tensors from {info['original_file']} "
               f"(sha256 {info['original_sha256'][:12]}, {info['source']})")
    typer.echo(f"evaluate it with: reidbench evaluate --adapter {baseline} --checkpoint {out} "
               "--protocol PROTOCOL --data ROOT")

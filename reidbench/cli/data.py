"""`reidbench data ...`: Dataset copies: verify a copy, synthesize a miniature one."""

from __future__ import annotations

import typer

app = typer.Typer(help="Dataset copies: verify a copy, synthesize a miniature one.",
                  no_args_is_help=True)


# --------------------------------------------------------------------------- synth


@app.command("synth")
def synth(
    dataset: str = typer.Option(None, "--dataset", help="Layout to write: mars, dukev, "
                                "ilidsvid, prid2011 or lsvid."),
    out: str = typer.Option(..., "--out", "-o", help="Directory to create (the dataset root)."),
    ids: int = typer.Option(12, "--ids", help="Number of labelled identities."),
    seed: int = typer.Option(0, "--seed", help="Seed; the same seed gives byte-identical files."),
    height: int = typer.Option(128, "--height", help="Frame height in pixels."),
    width: int = typer.Option(64, "--width", help="Frame width in pixels."),
    clean: bool = typer.Option(False, "--clean", help="Switch every nuisance off first."),
    knob: list[str] = typer.Option(  # noqa: B008 - typer idiom; knob is never mutated
        [], "--knob", help="A difficulty knob NAME=VALUE (repeatable), e.g. occlusion_prob=0.5."),
    variant: str = typer.Option(None, "--variant",
                                help="mars: float64; dukev: old_names; prid2011: mat_splits."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if it exists."),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    layout: str = typer.Option(None, "--layout", hidden=True, help="Deprecated: --dataset."),
) -> None:
    """Write a synthetic miniature copy of a dataset in its official on-disk layout."""
    from reidbench.cli._common import deprecated_alias

    layout = deprecated_alias(dataset, "--dataset", layout, "--layout", "reidbench data synth")
    import dataclasses
    import json
    from pathlib import Path

    from reidbench.datasets.synthetic import SynthConfig, write_dataset
    from reidbench.errors import InputError, describe

    fields = {f.name: f.type for f in dataclasses.fields(SynthConfig)}
    changes: dict = {"height": height, "width": width}
    for item in knob:
        name, sep, value = item.partition("=")
        if not sep or name not in fields:
            raise InputError(describe("--knob", "data synth", f"NAME=VALUE with NAME in "
                                      f"{sorted(fields)}", repr(item), "see SynthConfig"))
        try:
            changes[name] = int(value) if fields[name] in ("int", int) else float(value)
        except ValueError as exc:
            raise InputError(describe(f"--knob {name}", "data synth", "a number", repr(value),
                                      "")) from exc
    config = SynthConfig.clean(**changes) if clean else SynthConfig(**changes)
    target = Path(out)
    if not overwrite and target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InputError(describe("--out", "reidbench data synth", "a new or empty directory",
                                  out, "choose another --out or pass --overwrite to replace it"))
    s = write_dataset(layout, out, ids=ids, seed=seed, config=config, variant=variant,
                      overwrite=overwrite)
    if json_out:
        print(json.dumps({k: v for k, v in dataclasses.asdict(s).items() if k != "manifest"}))
        return
    counts = ", ".join(f"{k} {v}" for k, v in s.counts.items())
    print(f"wrote {s.layout} copy at {s.root}: {s.num_tracklets} tracklets ({counts}), "
          f"{s.num_frames} frames in {s.seconds:.2f} s ({s.frames_per_second:.0f} frames/s)")
    print(f"ground truth: {s.manifest_path}")


# --------------------------------------------------------------------------- verify


@app.command("verify")
def verify_cmd(
    dataset: str = typer.Option(None, "--dataset", help="Layout: mars, dukev, ilidsvid, "
                                "prid2011 or lsvid."),
    data: str = typer.Option(None, "--data", help="Root of the copy."),
    expect: str = typer.Option("auto", "--expect", help="official | synthetic | none | auto "
                               "(synthetic when _reidbench_synth.json is there, else official)."),
    full: bool = typer.Option(False, "--full", help="Decode every frame completely."),
    manifest: tuple[str, str] | None = typer.Option(
        None, "--manifest", help="write FILE | check FILE: sha256 of every file "
        "(sorted, with a total digest) to compare copies between labs."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    old_args: list[str] = typer.Argument(None, hidden=True, help="Deprecated: NAME ROOT."),  # noqa: B008
) -> None:
    """Check a dataset copy: counts, every frame present and decodable, metadata consistent."""
    import json

    from reidbench.cli._common import check_option, deprecated_alias

    command = "reidbench data verify"
    old = list(old_args or [])
    check_option(len(old) in (0, 2), "NAME ROOT", command, "--dataset NAME --data ROOT",
                 " ".join(old), "e.g. reidbench data verify --dataset mars --data /data/MARS")
    name = deprecated_alias(dataset, "--dataset", old[0] if old else None, "positional NAME",
                            command)
    root = deprecated_alias(data, "--data", old[1] if old else None, "positional ROOT", command)
    from reidbench.datasets.verify import check_manifest, verify, write_manifest

    mode, path = manifest if manifest else (None, None)
    if mode is not None and mode not in ("write", "check"):
        from reidbench.errors import InputError, describe

        raise InputError(describe("--manifest", "reidbench data verify", "'write FILE' or "
                                  "'check FILE'", repr(mode), "e.g. --manifest write mars.json"))
    report = verify(name, root, expect=expect, full=full)
    said = None  # what the manifest step did, in one line
    if mode == "write":
        m = write_manifest(root, path)
        report.facts["manifest"] = {"written": path, "total": m["total"]}
        said = f"manifest: wrote {path} ({len(m['files'])} files, total sha256 {m['total'][:16]})"
    elif mode == "check":
        found = check_manifest(root, path)
        report.problems += found
        report.facts["manifest"] = {"checked": path, "differences": len(found)}
        said = (f"manifest: {len(found)} file(s) differ from {path}" if found
                else f"manifest: every file matches {path}")
    if json_out:
        typer.echo(json.dumps({"ok": report.ok, "problems": report.problems,
                               "facts": report.facts, "notes": report.notes}, indent=2))
    else:
        facts = ", ".join(f"{k} {v}" for k, v in report.facts.items() if not isinstance(v, dict))
        typer.echo(f"{name} at {root}" + (f": {facts}" if facts else ""))
        for problem in report.problems:
            typer.echo(f"problem: {problem}")
        for note in report.notes:
            typer.echo(f"note: {note}")
        if said:
            typer.echo(said)
        typer.echo("ok" if report.ok else f"{len(report.problems)} problem(s)")
    if not report.ok:
        raise typer.Exit(1)

"""What every ``reidbench`` command shares: option parsing, checks, progress, error lines.

One module so that the commands agree: ``--config`` reads the same everywhere (a JSON object or
``k=v,k2=v2`` pairs, as lm-evaluation-harness's ``--model_args``), ``--split 3`` always means
``split3``, a bad option is one line naming the flag, and a library error that names a parameter
(``device``, ``out_dir``) is printed with the flag that sets it (:data:`PARAM_FLAGS`, the one
table). Nothing here imports the library at module level, so ``reidbench --help`` stays fast.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reidbench.errors import InputError, ReidbenchError, describe

if TYPE_CHECKING:
    from reidbench.records import ResultRecord

__all__ = [
    "PARAM_FLAGS",
    "ProgressLine",
    "calm_openmp",
    "check_option",
    "flag_for",
    "format_summary",
    "parse_config",
    "parse_protocols",
    "render_error",
    "split_name",
]

#: Library parameter -> command-line flag, where the flag is not ``--`` + the parameter with
#: dashes for underscores (``batch_size`` -> ``--batch-size`` needs no entry). The only place the
#: CLI's spelling of a library parameter is written down.
PARAM_FLAGS: dict[str, str] = {
    "out_dir": "--out",
    "data_root": "--data",
    "dataset_name": "--dataset",
    "model_config": "--config",
    "config": "--config",
    "adapter_name": "--adapter",
    "num_workers": "--workers",
    "cache_dir": "--cache",
    "iters": "--iters-per-epoch",
    "input_size": "--height/--width",
    "n_boot": "--boot",
    "resume": "--no-resume",
    "target": "--verify",
    "formats": "--format",
}


#: Help texts of the options several commands share (one wording everywhere).
CONFIG_HELP = ("Model options: a JSON object ('{\"backbone\": \"small\", \"M\": 10}') or "
               "key=value pairs (backbone=small,M=10).")
DEVICE_HELP = "auto (the GPU when torch sees one; the default), cpu, cuda or cuda:N."
SPLIT_HELP = ("Split of a multi-split protocol: split0..split9, or just the number (3 means "
              "split3).")
SEED_HELP = "Seed of every random choice (bootstrap, sampling); the same seed gives the same bytes."
JSON_HELP = "Machine-readable output (JSON on stdout)."
#: Help of the submission options, shared by `evaluate` and `leaderboard add`.
SUBMISSION_HELP = {
    "name": "Name the result is shown under in leaderboards, figure legends and galleries "
            "(default: the adapter's name, or 'features').",
    "description": "How the model was made (training data, recipe, changes); shown with the "
                   "leaderboard row.",
    "backbone": "Backbone for the leaderboards' Backbone column (default: the checkpoint's "
                "config, else 'unknown').",
    "url": "An http(s) address (paper, code or model page); shown with the leaderboard row.",
}
PUBLISHED_HELP = ("Folder of published leaderboard records (*.json) to use instead of the ones "
                  "shipped with reidbench (default: <leaderboards>/published if it exists, else "
                  "the shipped records).")


def flag_for(param: str) -> str:
    """The flag that sets library parameter ``param`` (``"out_dir"`` -> ``"--out"``)."""
    return PARAM_FLAGS.get(param, "--" + param.replace("_", "-"))


def render_error(exc: ReidbenchError) -> str:
    """The one line the CLI prints for ``exc``: its message, with parameters spelled as flags.

    A message about parameter ``p`` (``exc.param``) starts with ``p``; that head becomes the flag,
    and ``p=value`` mentions in the rest of the line become ``--flag value``.

    Example:
        >>> render_error(InputError("device in evaluate: expected 'cpu', got 'tpu'. Use "
        ...                         "device='cpu'.", param="device"))
        "--device in evaluate: expected 'cpu', got 'tpu'. Use --device cpu."
    """
    msg = str(exc)
    param = getattr(exc, "param", None)
    if not param:
        return msg
    flag = flag_for(param)
    named = msg.startswith(param + " ")
    if named:
        msg = flag + msg[len(param):]
    if "/" not in flag:
        base = flag.removeprefix("--no-").removeprefix("--")

        def as_flag(m: re.Match[str]) -> str:
            value = m.group(2)
            if value.lower() in ("true", "false"):
                return f"--{base}" if value.lower() == "true" else f"--no-{base}"
            return f"{flag} {value}"

        msg, n = re.subn(rf"\b{re.escape(param)}=(['\"]?)([^'\"\s,;)]*[^'\"\s,;).])\1", as_flag,
                         msg)
        named = named or n > 0
    return msg if named else f"{msg} (option {flag})"


#: Parameter names that library notices (warnings passed to ``notify``) may mention by name.
_NOTICE_PARAMS = ("val_fraction", "max_minutes", "iters_per_epoch", "seq_len", "out_dir",
                  "model_config", "data_root")


def render_notice(line: str) -> str:
    """A library notice with the parameters it names spelled as flags.

    Example:
        >>> render_notice("raise val_fraction")
        'raise --val-fraction'
    """
    for name in _NOTICE_PARAMS:
        line = re.sub(rf"(?<![\w-]){name}\b", flag_for(name), line)
    return line


def check_option(ok: bool, flag: str, command: str, expected: str, got: object,
                 fix: str = "") -> None:
    """Raise one :class:`InputError` line naming ``flag`` unless ``ok``.

    Args:
        ok: The check's outcome.
        flag: The option, e.g. ``"--epochs"``.
        command: The command, e.g. ``"reidbench train"``.
        expected: What the option takes, in words.
        got: What was given.
        fix: How to fix it.
    """
    if not ok:
        raise InputError(describe(flag, command, expected, got, fix))


# --------------------------------------------------------------------------- option parsing


def _split_pairs(text: str) -> list[str]:
    """Split ``a=1,b=[2,3],c="x,y"`` at the commas outside brackets and quotes."""
    parts, depth, quote, cur = [], 0, "", []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def _pair_value(text: str, flag: str, command: str) -> Any:
    """A ``k=v`` value: JSON when it reads as JSON (numbers, true/false/null, lists), else text."""
    low = text.lower()
    if low in ("true", "false", "null", "none"):
        return {"true": True, "false": False}.get(low)
    from reidbench.fileio import JSONBoundError, loads_bounded

    try:
        return loads_bounded(text, max_chars=1 << 20, finite=True)
    except JSONBoundError as exc:
        raise InputError(describe(flag, command, "key=value pairs with finite JSON values of "
                                  "sane size and nesting", str(exc), "pass plain numbers, "
                                  "strings and short lists")) from None
    except json.JSONDecodeError:
        return text.strip("'\"") if len(text) >= 2 and text[0] == text[-1] in "'\"" else text


def parse_config(text: str | None, command: str, flag: str = "--config") -> dict[str, Any]:
    """Model options given on the command line, as a dict.

    Two spellings are accepted: a JSON object (``'{"backbone": "small", "M": 10}'``) or
    comma-separated ``key=value`` pairs (``backbone=small,M=10``; values are read as JSON when
    they can be, so ``M=10`` is a number, ``flip=false`` a boolean and ``input_size=[256,128]`` a
    list, and as text otherwise).

    Args:
        text: The option's value (None or empty: no options).
        command: The command, for the error line.
        flag: The option's name, for the error line.

    Returns:
        The options (a new dict).

    Raises:
        InputError: Neither a JSON object nor ``key=value`` pairs.

    Example:
        >>> parse_config("backbone=small,M=10,input_size=[64,32]", "reidbench train")
        {'backbone': 'small', 'M': 10, 'input_size': [64, 32]}
    """
    if text is None or not text.strip():
        return {}
    fix = f"pass a JSON object, e.g. {flag} '{{\"backbone\": \"small\"}}', or pairs, e.g. " \
          f"{flag} backbone=small,M=10"
    stripped = text.strip()
    if stripped[0] in "{[\"" or stripped[0].isdigit() or stripped in ("true", "false", "null"):
        from reidbench.fileio import JSONBoundError, loads_bounded

        try:
            value = loads_bounded(stripped, max_chars=1 << 20, finite=True)
        except json.JSONDecodeError as exc:
            raise InputError(describe(flag, command, "a JSON object or key=value pairs",
                                      f"invalid JSON ({exc.msg} at character {exc.pos})",
                                      fix)) from None
        except JSONBoundError as exc:
            raise InputError(describe(flag, command, "a JSON object of finite values, of sane "
                                      "size and nesting", str(exc), fix)) from None
        if not isinstance(value, dict):
            raise InputError(describe(flag, command, "a JSON object or key=value pairs",
                                      f"a JSON {_json_kind(value)}", fix))
        return value
    options: dict[str, Any] = {}
    for part in _split_pairs(stripped):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise InputError(describe(flag, command, "a JSON object or key=value pairs",
                                      repr(part)[:80], fix))
        if key in options:
            raise InputError(describe(flag, command, "each key once", f"{key!r} twice", ""))
        options[key] = _pair_value(value.strip(), flag, command)
    return options


def _json_kind(value: Any) -> str:
    return {list: "array", str: "string", bool: "boolean", int: "number", float: "number",
            type(None): "null"}.get(type(value), type(value).__name__)


def split_name(split: str | None) -> str | None:
    """``--split`` as a split name: a whole number ``K`` means ``"splitK"`` (every command)."""
    if split is None:
        return None
    split = split.strip()
    return f"split{int(split)}" if split.isdigit() else split


def parse_protocols(values: Sequence[str]) -> list[str]:
    """Protocol ids from ``-p a -p b`` and/or comma lists (``-p a,b``), each once, in order."""
    out: list[str] = []
    for value in values:
        for pid in value.split(","):
            pid = pid.strip()
            if pid and pid not in out:
                out.append(pid)
    return out


def protocol_folder(protocol_id: str) -> str:
    """The subfolder of ``--out`` for one protocol of several (``mars/v2v@1`` -> ``mars-v2v-1``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", protocol_id).strip("-")


def check_result_out(out: str | Path, overwrite: bool, command: str) -> None:
    """Refuse an ``--out`` that already holds a result unless ``--overwrite`` was given.

    Raises:
        InputError: ``out`` holds a ``results.json`` and ``overwrite`` is false.
    """
    if not overwrite and (Path(out) / "results.json").is_file():
        raise InputError(describe("--out", command, "a folder without a result",
                                  f"{out}, which holds a result already",
                                  "pass --overwrite to replace it, or choose another --out"))


def check_frame_size(height: int | None, width: int | None, command: str,
                     both: bool = True) -> None:
    """``--height``/``--width``: positive, at most 4096, and (``both``) given together."""
    for flag, v in (("--height", height), ("--width", width)):
        check_option(v is None or 1 <= v <= 4096, flag, command, "pixels in 1..4096", v)
    if both:
        check_option((height is None) == (width is None), "--height/--width", command,
                     "both or neither", f"only --{'height' if width is None else 'width'}",
                     "pass both, e.g. --height 256 --width 128")


# --------------------------------------------------------------------------- rendering


def format_summary(record: ResultRecord) -> str:
    """Format a result record's headline metrics (percent) as a small text table."""
    lines = [f"protocol  {record.protocol.id}  (fingerprint "
             f"{record.protocol.fingerprint}, headline AP {record.headline_ap})",
             f"queries   {record.n_queries}  skipped {record.n_skipped}"]
    for key, v in record.metrics.items():  # the protocol's summary metrics, in report order
        extra = ""
        if v.std is not None:
            extra = f" +- {100 * v.std:.2f} (over {len(v.per_split or ())} splits)"
        elif v.ci:
            extra = f"  [{100 * v.ci[0]:.2f}, {100 * v.ci[1]:.2f}] 95% CI"
        lines.append(f"{key:<9} {100 * v.value:6.2f}{extra}")
    others = ", ".join(f"{var} {100 * vals['mAP']:.2f}"
                       for var, vals in record.metrics_by_variant.items()
                       if var != record.headline_ap)
    lines.append(f"mAP under other AP variants: {others}")
    return "\n".join(lines)


def deprecated_alias(value: Any, flag: str, old_value: Any, old_flag: str, command: str) -> Any:
    """The value of ``flag``, or of its deprecated spelling ``old_flag`` (with a note on stderr).

    Raises:
        InputError: Neither spelling was given, or both with different values.
    """
    if old_value is not None:
        check_option(value is None or value == old_value, flag, command, f"{flag} or "
                     f"{old_flag} (deprecated), not both", f"{value!r} and {old_value!r}")
        print(f"note: {old_flag} is deprecated in {command}; use {flag}", file=sys.stderr)
        return old_value
    check_option(value is not None, flag, command, "a value", "none",
                 f"pass {flag}, e.g. {flag} mars" if flag == "--dataset" else f"pass {flag}")
    return value


# --------------------------------------------------------------------------- runtime


def calm_openmp() -> None:
    """Let torch's idle OpenMP threads sleep instead of spin; call before torch is imported.

    By default the threads spin while they wait. When another process keeps one of two cores busy,
    every parallel region then waits for a descheduled spinner: a small-backbone STMN training
    step took 4.7 s instead of 0.07 s on this project's 2-core machine. With
    ``OMP_WAIT_POLICY=PASSIVE`` it took 0.1-0.3 s. A value the user set is kept; once torch is
    imported this changes nothing.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class ProgressLine:
    """A progress callback that redraws one line on stderr with an ETA.

    The timer restarts when the stage changes; text after ``" | "`` (e.g. a running loss) is shown
    but is not part of the stage. The ETA comes from the rate since the stage (re)started: a stage
    that resumes part-way (training's second epoch after a validation pass, a resumed sweep)
    counts only the items done since, and until one more is done the ETA is shown as ``?``.
    :meth:`close` ends a line left open (a run that stops with an error), so the error message
    starts on a line of its own.
    """

    def __init__(self, stream: Any = None, clock: Any = time.perf_counter) -> None:
        self.stream = stream
        self.clock = clock
        self.stage: str | None = None
        self.t0 = 0.0
        self.done0 = 0
        self.open = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        stream = self.stream or sys.stderr
        now = self.clock()
        key = stage.split(" | ")[0]
        if key != self.stage:
            self.close()
            self.stage, self.t0, self.done0 = key, now, done
        elapsed = now - self.t0
        if done >= total:
            eta = "  0.0s"
        elif done > self.done0:
            eta = f"{elapsed / (done - self.done0) * (total - done):5.1f}s"
        else:
            eta = "     ?"
        self.open = done < total
        end = "" if self.open else "\n"
        stream.write(f"\r{stage}: {done}/{total}  {elapsed:5.1f}s  eta {eta}   {end}")
        stream.flush()

    def close(self) -> None:
        """End the current line if it is still open."""
        if self.open:
            stream = self.stream or sys.stderr
            stream.write("\n")
            stream.flush()
            self.open = False

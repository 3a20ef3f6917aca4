"""Leaderboard entries: candidate rows from published records and evaluated submissions.

* :func:`published_entries`: the comparison rows of the published tables (ablation rows left out),
  each with a check of its provenance against a reference protocol (``yes``, ``unverified``,
  ``no``);
* :func:`evaluated_entry`: a submission's result record;
* :func:`deduplicate`: one result quoted by several papers (records sharing a ``method_key``) is
  listed once, from the method's own paper where the suite has it, the other tables named as
  "also quoted in".

:mod:`reidbench.leaderboard.build` turns entries into ranked tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from reidbench.leaderboard.records import LeaderboardFile, decimals
from reidbench.leaderboard.schema import METRICS
from reidbench.metrics.options import short_label
from reidbench.records import ResultRecord

__all__ = ["Entry", "published_entries", "evaluated_entry", "result_label", "deduplicate",
           "cell_text",
           "METRIC_ORDER", "METRIC_HEADERS", "DATASET_NAMES"]

METRIC_ORDER = METRICS  # the leaderboard schema's metric names, in column order
METRIC_HEADERS = {name: short_label(name) for name in METRICS}  # mAP, R1, R5, R10, R20, mINP
DATASET_NAMES = {"mars": "MARS", "dukev": "DukeV", "ilidsvid": "iLIDS-VID",
                 "prid2011": "PRID-2011", "lsvid": "LS-VID"}


def cell_text(cell: dict[str, Any]) -> str:
    """A published cell as printed: ``"79.61"``, or ``"90.5 ± 0.2"`` for mean ± std."""
    text = str(cell["printed"])
    if cell.get("std_printed") is not None:
        text += f" ± {cell['std_printed']}"
    return text


@dataclass(frozen=True)
class Entry:
    """One candidate leaderboard row.

    Attributes:
        label: Method name (a published record's ``method``, never the paper's printed row label:
            "Ours" or a bracketed reference number means something only inside that paper).
        source: ``published`` or ``evaluated``.
        origin: Where it comes from (``DenseIL T2`` or the submission's folder name).
        backbone: Backbone or ``unknown``.
        dataset: Test dataset.
        mode: ``v2v`` or ``i2v``.
        train_dataset: Training dataset for cross-dataset rows, else None.
        cells: ``{metric: (value in percent, printed text)}``.
        check: ``callable(protocol) -> (status, reason)``, status in ``yes|unverified|no``.
        protocol_id: The suite protocol it was computed under (evaluated) or matches (published).
        method_key: Canonical key of the method's paper (published records), so one result quoted
            by several papers is listed once.
        own: True when the table is the method's own paper (a published record citing nothing).
        also: Origins of the other published records of the same result (``"also quoted in"``).
        differs: Cells where those other records disagree beyond rounding (``"R1 80.1 in X"``).
        level: Verification level (leaderboards/SCHEMA.md): ``published`` (a paper's number),
            ``self-reported`` (a submission's own record) or ``verified`` (a submission whose
            evaluation ``leaderboard add --verify`` re-ran with every number matching).
        cited: The citing paper's reference for a quoted number (``"[43]"``), else ``""``.
        provenance: One line on where the row's numbers come from and how they were measured
            (shown on hover in the HTML leaderboards).
        note: A footnote of the table for this row (a submission's description and url).
    """

    label: str
    source: str
    origin: str
    backbone: str
    dataset: str
    mode: str
    train_dataset: str | None
    cells: dict[str, tuple[float, str]]
    check: Any
    protocol_id: str | None = None
    method_key: str | None = None
    own: bool = False
    also: tuple[str, ...] = ()
    differs: tuple[str, ...] = ()
    level: str = "published"
    cited: str = ""
    provenance: str = ""
    note: str = ""


def _published_check(rec: dict[str, Any]) -> Any:
    from reidbench.protocols import get_protocol

    def check(proto: Any) -> tuple[str, str]:
        p = rec["protocol"]
        ev = proto.evaluation
        unknown: list[str] = []
        differs: list[str] = []
        suite = p.get("suite_protocol")
        if suite == proto.id or (suite and get_protocol(suite).fingerprint == proto.fingerprint):
            pass
        elif suite:
            differs.append(f"protocol {suite}")
        elif p.get("gallery") in (None, "unknown"):
            unknown.append("gallery")
        elif p["gallery"] != ev.gallery:
            differs.append(f"gallery {p['gallery']}")
        else:
            unknown.append("protocol")
        ap = rec.get("ap_variant")
        if "mAP" in rec["metrics"]:
            if ap in (None, "unknown"):
                unknown.append("AP formula")
            elif ap != ev.ap:
                differs.append(f"AP {ap}")
        if differs:
            return "no", f"{', '.join(differs)} vs {proto.id} ({ev.gallery}, AP {ev.ap})"
        reasons = [f"{' and '.join(unknown)} not established"] if unknown else []
        if suite and p.get("assumed"):
            reasons.append(f"assumed {p['assumed']}")
        if reasons:
            return "unverified", "; ".join(reasons)
        return "yes", ""

    return check


def published_entries(files: Iterable[LeaderboardFile]) -> list[Entry]:
    """Leaderboard entries from published comparison records (ablation rows left out)."""
    out = []
    for f in files:
        if f.kind != "published_results":
            continue
        origin = f"{_paper_name(f)} T{f.data['table']['number']}"
        for rec in f.records:
            if str(rec.get("setting", "")).startswith("ablation"):
                continue
            cells = {m: (float(c["value"]), cell_text(c)) for m, c in rec["metrics"].items()}
            cited = rec.get("cited") or {}
            out.append(Entry(rec["method"], "published", origin, rec["backbone"], rec["dataset"],
                             rec["protocol"]["mode"], rec["protocol"].get("train_dataset"), cells,
                             _published_check(rec), rec["protocol"].get("suite_protocol"),
                             rec.get("method_key"), "cited" not in rec,
                             cited=str(cited.get("ref") or ""),
                             provenance=_published_provenance(f, rec)))
    return out


def _published_provenance(f: LeaderboardFile, rec: dict[str, Any]) -> str:
    paper = f.data["paper"]
    parts = [f"{paper['authors']} ({paper['venue']} {paper['year']}), Table "
             f"{f.data['table']['number']}, printed as {rec['label']!r}"]
    if rec.get("setting"):
        parts.append(str(rec["setting"]))
    if rec["protocol"].get("basis"):
        parts.append(f"protocol: {rec['protocol']['basis']}")
    if rec.get("ap_basis"):
        parts.append(f"AP: {rec['ap_basis']}")
    return "; ".join(parts)


def _disagreements(keep: Entry, other: Entry) -> list[str]:
    """Cells of ``other`` that ``keep`` does not match to ``other``'s printed precision."""
    out = []
    for m, (value, text) in other.cells.items():
        half_step = 0.5 * 10.0 ** -decimals(text.split(" ")[0])
        if m in keep.cells and abs(keep.cells[m][0] - value) > half_step + 1e-9:
            out.append(f"{METRIC_HEADERS[m]} {text} in {other.origin}")
    return out


def deduplicate(entries: Sequence[Entry]) -> list[Entry]:
    """List each published result once: records sharing a ``method_key`` become one entry.

    The kept record is the method's own paper where one is present, else the one with the most
    cells, else the first in file order; the others are named in :attr:`Entry.also` (and any cell
    on which they disagree beyond rounding in :attr:`Entry.differs`). Entries without a key
    (evaluated submissions, older records) are kept as they are. Call it on the entries of one
    leaderboard track (dataset, mode, training set).
    """
    groups: dict[str, list[int]] = {}
    for i, e in enumerate(entries):
        if e.source == "published" and e.method_key:
            groups.setdefault(e.method_key, []).append(i)
    drop: set[int] = set()
    merged: dict[int, Entry] = {}
    for idx in groups.values():
        if len(idx) < 2:
            continue
        best = min(idx, key=lambda i: (not entries[i].own, -len(entries[i].cells), i))
        others = [entries[i] for i in idx if i != best]
        keep = entries[best]
        diffs = [d for o in others for d in _disagreements(keep, o)]
        merged[best] = replace(keep, also=tuple(o.origin for o in others), differs=tuple(diffs))
        drop.update(i for i in idx if i != best)
    return [merged.get(i, e) for i, e in enumerate(entries) if i not in drop]


def _paper_name(f: LeaderboardFile) -> str:
    names = {"denseil": "DenseIL", "cosam": "COSAM", "stmn": "STMN", "read": "READ",
             "stan": "STAN"}
    key = f.data["paper"]["key"]
    return names.get(key, key)


def result_label(record: ResultRecord) -> str:
    """The name a result is shown under: its submission name, else the adapter, else the kind.

    ``submission.name`` (``reidbench evaluate --name``) wins; then the adapter's registered name
    (``stmn``); then ``features`` for a features file, ``model`` for anything else. A model
    submitted as a file (``evaluate --model``) shows its format: ``osnet [onnx]``.
    """
    adapter = record.source.adapter
    sub = record.submission
    name = (sub.name if sub is not None else None) or (
        adapter.name if adapter is not None and adapter.name else
        "features" if record.source.kind == "features" else "model")
    model = record.source.model
    if model is not None:  # a model submitted as a file: its format beside the name
        return f"{name} [{model.format}]"
    return str(name)


def evaluated_entry(record: ResultRecord, origin: str, level: str = "self-reported") -> Entry:
    """A leaderboard entry from an evaluated result record.

    ``level`` is the submission's verification level (``self-reported`` or ``verified``).

    Values are converted from fractions to percent and printed with two decimals, followed by the
    bootstrap 95% CI (``79.61 [78.90, 80.30]``) or, for multi-split protocols, ``± std``.
    """
    proto = record.protocol
    ev = proto.evaluation
    cells: dict[str, tuple[float, str]] = {}
    for m, cell in record.metrics.items():
        if m not in METRIC_ORDER:
            continue
        v = 100.0 * float(cell.value)
        text = f"{v:.2f}"
        if cell.std is not None:
            text += f" ± {100.0 * float(cell.std):.2f}"
        elif cell.ci:
            lo, hi = cell.ci
            text += f" [{100.0 * lo:.2f}, {100.0 * hi:.2f}]"
        cells[m] = (v, text)
    adapter = record.source.adapter
    label = result_label(record)
    fingerprint = proto.fingerprint
    dataset = record.dataset

    def check(p: Any) -> tuple[str, str]:
        if dataset.synthetic:
            return "no", (f"evaluated on a synthetic {ev['dataset']} copy (dataset fingerprint "
                          f"{dataset.fingerprint}), not the real dataset")
        if p.fingerprint == fingerprint:
            return "yes", ""
        return "no", f"evaluated under {proto.id} (fingerprint {fingerprint}), not {p.id}"

    card = (adapter.card if adapter is not None else None) or {}
    config = ((adapter.checkpoint_meta if adapter is not None else None) or {}).get("config") or {}
    sub = record.submission
    backbone = str((sub.backbone if sub is not None else None) or config.get("backbone")
                   or (card.get("defaults") or {}).get("backbone", "unknown"))
    note = ""
    if sub is not None and (sub.description or sub.url):
        note = f"{label} ({origin}): " + " ".join(x for x in (sub.description, sub.url) if x)
    return Entry(label, "evaluated", origin, backbone, ev["dataset"], ev["mode"],
                 ev.get("train_dataset"), cells, check, proto.id, level=level,
                 provenance=_evaluated_provenance(record.to_json(), origin, level), note=note)


def _evaluated_provenance(record: dict[str, Any], origin: str, level: str) -> str:
    """One line: submission, protocol, data, what was evaluated (sha256), how it was scored.

    ``record`` is the result record's JSON form (``ResultRecord.to_json()``).
    """
    proto, src = record["protocol"], record.get("source") or {}
    dataset = record.get("dataset") or {}
    sub = record.get("submission") or {}
    parts = [f"submission {origin} ({level})"]
    parts += [f"{k}: {sub[k]}" for k in ("name", "description", "backbone", "url")
              if sub.get(k)]
    parts.append(f"protocol {proto['id']} (fingerprint {proto['fingerprint']})")
    parts.append(f"dataset {dataset.get('name', '?')} fingerprint {dataset.get('fingerprint')}"
                 + (" (synthetic copy)" if dataset.get("synthetic") else ""))
    adapter = src.get("adapter") or {}
    shas = (src.get("features_sha256") or adapter.get("checkpoint_sha256")
            or src.get("model_sha256") or {})
    if isinstance(shas, dict):
        shas = ", ".join(f"{k} {str(v)[:12]}" for k, v in sorted(shas.items()))
    elif shas:
        shas = str(shas)[:12]
    what = adapter.get("name") or src.get("kind", "?")
    parts.append(f"{what} sha256 {shas}" if shas else str(what))
    if record.get("procedure"):
        proc = record["procedure"]
        keys = ("sampling", "seq_len", "pooling", "distance", "flip", "rerank")
        parts.append("procedure " + ", ".join(f"{k}={proc[k]}" for k in keys
                                              if proc.get(k) is not None))
    if record.get("created"):
        parts.append(f"evaluated {record['created']}")
    return "; ".join(parts)

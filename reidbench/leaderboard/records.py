"""Published records as flat rows: the shape the table builder (pandas) and the figures consume.

A leaderboard file keeps the paper and table once and the records below them; these helpers merge
the two so that every row carries its full provenance, and offer one row per printed cell (long
form: ``pandas.DataFrame(cells).pivot(...)`` rebuilds any printed table).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reidbench.leaderboard.io import leaderboard_files, published_dir, read_leaderboard

__all__ = ["LeaderboardFile", "load_leaderboards", "result_rows", "cell_rows", "statistic_rows",
           "decimals"]


def decimals(printed: str) -> int:
    """Number of decimals of a printed number (``"79.61"`` -> 2, ``"80.0"`` -> 1, ``"73"`` -> 0)."""
    return len(printed.split(".", 1)[1]) if "." in printed else 0


@dataclass(frozen=True)
class LeaderboardFile:
    """One validated leaderboard file.

    Attributes:
        path: Where it was read from.
        data: The parsed JSON (schema ``reidbench.leaderboard/1``).
    """

    path: Path
    data: dict[str, Any]

    @property
    def kind(self) -> str:
        """``published_results`` or ``dataset_statistics``."""
        return str(self.data["kind"])

    @property
    def key(self) -> str:
        """The file's stem, e.g. ``cosam-table4``: the table's id in rows."""
        return self.path.stem

    @property
    def records(self) -> list[dict[str, Any]]:
        """The records as stored."""
        return list(self.data["records"])

    def provenance(self) -> dict[str, Any]:
        """Paper and table fields shared by every record of the file, flattened."""
        paper, table = self.data["paper"], self.data["table"]
        return {"table_key": self.key, "paper": paper["key"], "paper_title": paper["title"],
                "authors": paper["authors"], "venue": paper["venue"], "year": paper["year"],
                "document": paper["document"], "table": table["number"],
                "caption": table["caption"]}


def load_leaderboards(root: str | Path | None = None,
                      published: str | Path | None = None) -> list[LeaderboardFile]:
    """Read and validate every published leaderboard file.

    Args:
        root: A leaderboard root; its ``published/`` folder is read when it exists.
        published: A folder of published files (or one file), which wins over ``root``.
            With neither, the records shipped with reidbench are read
            (:func:`~reidbench.leaderboard.io.published_dir`).

    Raises:
        DataError: On the first file that fails to parse or validate (file and field named).
    """
    if published is None and root is not None and Path(root).is_file():
        published = root  # a single leaderboard file
    folder = published_dir(root, published)
    return [LeaderboardFile(p, read_leaderboard(p)) for p in leaderboard_files(folder)]


def _results(files: Iterable[LeaderboardFile]) -> Iterable[tuple[LeaderboardFile, dict[str, Any]]]:
    for f in files:
        if f.kind == "published_results":
            for rec in f.records:
                yield f, rec


def result_rows(files: Iterable[LeaderboardFile]) -> list[dict[str, Any]]:
    """One flat row per published result record, with provenance and one column per metric.

    Metric ``m`` gives columns ``m`` (value), ``m_printed``, ``m_std``, ``m_std_printed`` and
    ``m_mark`` (absent cells are None). Axes are prefixed ``axis_``, protocol fields ``protocol_``.
    """
    rows = []
    for f, rec in _results(files):
        row = f.provenance()
        row.update({k: rec.get(k) for k in ("id", "row", "method", "label", "dataset", "backbone",
                                             "setting", "ap_variant", "ap_basis", "units",
                                             "source", "trials", "notes")})
        row.update({f"protocol_{k}": rec["protocol"].get(k) for k in
                    ("mode", "gallery", "suite_protocol", "train_dataset", "basis")})
        row.update({f"axis_{k}": v for k, v in rec.get("axes", {}).items()})
        row.update({f"fixed_{k}": v for k, v in rec.get("fixed", {}).items()})
        cited = rec.get("cited") or {}
        row["cited_ref"], row["cited_venue"] = cited.get("ref"), cited.get("venue")
        for name, cell in rec["metrics"].items():
            row[name] = cell["value"]
            row[f"{name}_printed"] = cell["printed"]
            row[f"{name}_std"] = cell.get("std")
            row[f"{name}_std_printed"] = cell.get("std_printed")
            row[f"{name}_mark"] = cell.get("mark")
        rows.append(row)
    return rows


def cell_rows(files: Iterable[LeaderboardFile]) -> list[dict[str, Any]]:
    """One row per printed metric cell (long form), not-reported cells included.

    Keys: ``table_key``, ``table``, ``paper``, ``id``, ``row``, ``method``, ``label``, ``dataset``,
    ``metric``, ``reported``, ``value``, ``printed``, ``decimals``, ``std``, ``std_printed``,
    ``mark``, ``ap_variant``, ``gallery``, ``suite_protocol``, ``mode``.
    """
    out = []
    for f, rec in _results(files):
        prov = f.provenance()
        base = {"table_key": prov["table_key"], "table": prov["table"], "paper": prov["paper"],
                "id": rec["id"], "row": rec["row"], "method": rec["method"],
                "label": rec["label"], "dataset": rec["dataset"], "ap_variant": rec["ap_variant"],
                "gallery": rec["protocol"]["gallery"], "mode": rec["protocol"]["mode"],
                "suite_protocol": rec["protocol"]["suite_protocol"]}
        for name, cell in rec["metrics"].items():
            out.append({**base, "metric": name, "reported": True, "value": cell["value"],
                        "printed": cell["printed"], "decimals": decimals(cell["printed"]),
                        "std": cell.get("std"), "std_printed": cell.get("std_printed"),
                        "mark": cell.get("mark")})
        for name, placeholder in rec["not_reported"].items():
            out.append({**base, "metric": name, "reported": False, "value": None,
                        "printed": placeholder, "decimals": None, "std": None,
                        "std_printed": None, "mark": None})
    return out


def statistic_rows(files: Iterable[LeaderboardFile]) -> list[dict[str, Any]]:
    """One row per dataset-statistics cell: ``dataset``, ``field``, ``header``, value, printed."""
    out = []
    for f in files:
        if f.kind != "dataset_statistics":
            continue
        headers = {fld["name"]: fld["header"] for fld in f.data["table"]["fields"]}
        for rec in f.records:
            for name, cell in rec["statistics"].items():
                out.append({"table_key": f.key, "paper": f.data["paper"]["key"],
                            "table": f.data["table"]["number"], "dataset": rec["dataset"],
                            "label": rec["label"], "field": name, "header": headers[name],
                            "value": cell["value"], "printed": cell["printed"]})
    return out

"""Versioned evaluation protocols: ``get_protocol("mars/v2v@1")``, ``list_protocols()``."""

from __future__ import annotations

from reidbench.errors import ProtocolError, describe
from reidbench.protocols.catalog import BUILTIN_PROTOCOLS
from reidbench.protocols.record import (
    I2V_QUERY_SUFFIX,
    Evaluation,
    Procedure,
    Protocol,
    canonical_json,
    split_item_id,
)
from reidbench.registry import Registry, suggest

__all__ = [
    "Evaluation",
    "I2V_QUERY_SUFFIX",
    "Procedure",
    "Protocol",
    "PROTOCOLS",
    "canonical_json",
    "get_protocol",
    "list_protocols",
    "split_item_id",
]

PROTOCOLS: Registry[Protocol] = Registry("protocol", base=Protocol)
for _p in BUILTIN_PROTOCOLS:
    PROTOCOLS.register(_p.id, _p)


def get_protocol(protocol_id: str) -> Protocol:
    """Return a registered protocol by id.

    ``"mars/v2v"`` without a version resolves to the newest version.

    Raises:
        ProtocolError: If no protocol has that id (with close-match suggestions).
    """
    if "@" not in protocol_id:
        versions = [PROTOCOLS.get(n) for n in PROTOCOLS.names() if n.split("@")[0] == protocol_id]
        if versions:
            return max(versions, key=lambda p: p.version)
    if protocol_id in PROTOCOLS:
        return PROTOCOLS.get(protocol_id)
    names = PROTOCOLS.names()
    raise ProtocolError(describe(f"protocol {protocol_id!r}", "the protocol registry",
                                 "a registered id (see `reidbench protocols list`)",
                                 "an unknown id", suggest(protocol_id, names)))


def list_protocols() -> list[Protocol]:
    """Return every registered protocol, sorted by id."""
    return [PROTOCOLS.get(n) for n in PROTOCOLS.names()]

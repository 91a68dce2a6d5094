"""``pod-template-hash``: the name suffix of a Deployment's ReplicaSets (controller.ComputeHash).

Upstream hashes the pod template with 32-bit FNV-1a, adds the Deployment's ``collisionCount``
(as 8 little-endian bytes) when it is set, and spells the decimal value of the sum with
``rand.SafeEncodeString``: each character maps into an alphabet without vowels, so no word is
ever spelled. The bytes hashed upstream are go-spew's dump of the Go struct, which depends on the
Go types of one Kubernetes release; here the template's canonical JSON (keys sorted, empty values
dropped) is hashed, so the hash is as stable and collision-resistant, though not byte-identical.
"""

from __future__ import annotations

import struct
from typing import Any

import orjson

#: k8s.io/apimachinery/pkg/util/rand: consonants and digits that cannot spell words
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

FNV32_OFFSET = 0x811C9DC5
FNV32_PRIME = 0x01000193


def fnv32a(data: bytes, h: int = FNV32_OFFSET) -> int:
    for b in data:
        h = ((h ^ b) * FNV32_PRIME) & 0xFFFFFFFF
    return h


def safe_encode(s: str) -> str:
    """rand.SafeEncodeString: every byte picks a character of SAFE_ALPHABET."""
    return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in s.encode())


def prune(value: Any) -> Any:
    """Drop nulls, empty maps and empty lists: Go's semantic equality treats them as absent."""
    if isinstance(value, dict):
        out = {k: prune(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [prune(v) for v in value]
    return value


def compute_hash(template: dict[str, Any], collision_count: int | None = None) -> str:
    data = orjson.dumps(prune(template), option=orjson.OPT_SORT_KEYS)
    h = fnv32a(data)
    if collision_count is not None:
        h = fnv32a(struct.pack("<I", collision_count & 0xFFFFFFFF) + b"\x00" * 4, h)
    return safe_encode(str(h))

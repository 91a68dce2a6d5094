"""ControllerRevisions: the template history of StatefulSets and DaemonSets.

As pkg/controller/history: a revision's ``data`` is the patch that restores the pod template
(``{"spec": {"template": {..., "$patch": "replace"}}}``); its name is ``<owner>-<hash>`` with a
32-bit FNV-1a hash of that data and the collision count, spelled in the "safe" alphabet that
avoids vowels (rand.SafeEncodeString). An identical template reuses its revision and moves it to
the newest revision number; revisions beyond ``revisionHistoryLimit`` that no pod uses are deleted.
"""

from __future__ import annotations

from typing import Any

import orjson

from controllers.client import Client
from controllers.workload_util import controller_ref
from facade.errors import APIError

Obj = dict[str, Any]

REVISION_LABEL = "controller-revision-hash"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def _fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    return "".join(_SAFE[ord(c) % len(_SAFE)] for c in text)


def revision_data(owner: Obj) -> Obj:
    template = dict(((owner.get("spec") or {}).get("template")) or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def revision_hash(data: Obj, collision_count: int = 0) -> str:
    raw = orjson.dumps(data, option=orjson.OPT_SORT_KEYS) + str(collision_count).encode()
    return safe_encode(str(_fnv32a(raw)))


def template_of(revision: Obj) -> Obj:
    """The pod template a revision holds."""
    template = dict((((revision.get("data") or {}).get("spec") or {}).get("template")) or {})
    template.pop("$patch", None)
    return template


async def owned_revisions(client: Client, owner: Obj) -> list[Obj]:
    items, _ = await client.list("apps/v1", "controllerrevisions", owner["metadata"]["namespace"])
    uid = owner["metadata"]["uid"]
    return sorted([r for r in items if any(ref.get("uid") == uid and ref.get("controller")
                                           for ref in r["metadata"].get("ownerReferences") or [])],
                  key=lambda r: int(r.get("revision") or 0))


async def ensure_update_revision(client: Client, owner: Obj, revisions: list[Obj]) -> tuple[Obj, list[Obj]]:
    """The revision of the owner's current template (created or bumped to newest); all revisions after."""
    ns = owner["metadata"]["namespace"]
    data = revision_data(owner)
    newest = max([int(r.get("revision") or 0) for r in revisions] or [0])
    for r in revisions:
        if r.get("data") == data:
            if int(r.get("revision") or 0) < newest:
                r = dict(r)
                r["revision"] = newest + 1
                r = await client.update("apps/v1", "controllerrevisions", r, ns)
                revisions = [x for x in revisions if x["metadata"]["uid"] != r["metadata"]["uid"]] + [r]
            return r, revisions
    collision = int((owner.get("status") or {}).get("collisionCount") or 0)
    labels = dict(((((owner.get("spec") or {}).get("template")) or {}).get("metadata") or {}).get("labels") or {})
    for attempt in range(5):
        name = f"{owner['metadata']['name']}-{revision_hash(data, collision + attempt)}"
        labels[REVISION_LABEL] = name.rsplit("-", 1)[1]
        body = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
                "metadata": {"name": name, "namespace": ns, "labels": labels,
                             "ownerReferences": [controller_ref(owner)]},
                "data": data, "revision": newest + 1}
        try:
            created = await client.create("apps/v1", "controllerrevisions", body, ns)
            return created, [*revisions, created]
        except APIError as e:
            if e.code != 409:
                raise
            existing = await client.get("apps/v1", "controllerrevisions", name, ns)
            if existing.get("data") == data:
                return existing, [*revisions, existing]
    raise RuntimeError("could not name a ControllerRevision")


async def truncate_history(client: Client, owner: Obj, revisions: list[Obj], in_use: set[str]) -> None:
    limit = int((owner.get("spec") or {}).get("revisionHistoryLimit", 10) or 0)
    unused = [r for r in revisions if r["metadata"]["name"] not in in_use]
    for r in unused[: max(0, len(unused) - limit)]:
        try:
            await client.delete("apps/v1", "controllerrevisions", r["metadata"]["name"], r["metadata"]["namespace"])
        except APIError as e:
            if e.code != 404:
                raise

"""The IngressClass ``kubefacade``: made at start-up, before the proxy (and its imports) is loaded."""

from __future__ import annotations

import contextlib
from typing import Any

from facade.admission_ingress import DEFAULT_CLASS_ANNOTATION
from facade.errors import APIError

Obj = dict[str, Any]
CLASS_NAME = "kubefacade"
CONTROLLER_NAME = "kubefacade.io/ingress-controller"
NET = "networking.k8s.io/v1"


def ingress_class() -> Obj:
    return {"apiVersion": NET, "kind": "IngressClass",
            "metadata": {"name": CLASS_NAME, "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}},
            "spec": {"controller": CONTROLLER_NAME}}


async def ensure_class(client: Any) -> None:
    """Create the class when it is missing (one the user deleted returns on the next start)."""
    try:
        await client.get(NET, "ingressclasses", CLASS_NAME)
    except APIError as e:
        if e.code != 404:
            raise
        with contextlib.suppress(APIError):  # created concurrently: fine
            await client.create(NET, "ingressclasses", ingress_class())

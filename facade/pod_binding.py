"""Binding a pod to a node (POST pods/{name}/binding, POST namespaces/{ns}/bindings) as BindingREST does.

kube-apiserver's BindingREST validates the Binding, then changes the stored pod directly through the
storage layer's GuaranteedUpdate: no field manager runs (a bound pod has no managedFields entry of
the scheduler), no pod strategy or admission, and the Binding itself is never stored; the answer is
a Success Status. A pod changed in between is read again and the binding retried.
"""

from __future__ import annotations

from typing import Any

from facade import errors
from facade.kinds.core_misc import BindingStrategy, apply_binding
from facade.rest import RestStore, object_key
from storage.interface import KeyNotFound, PreconditionFailed

Obj = dict[str, Any]

RETRIES = 5


def check_binding(binding: Any, name: str) -> Obj:
    """The Binding body, or the 400/422 upstream answers for it."""
    if not isinstance(binding, dict):
        raise errors.bad_request("the body must be a Binding object")
    errs = BindingStrategy().validate(binding)
    if errs:
        raise errors.invalid_error("Binding", "", name, errs)
    return binding


async def bind_pod(rest: RestStore, namespace: str, name: str, binding: Obj, dry_run: bool = False) -> None:
    """Assign pod ``namespace/name`` to ``binding.target.name`` (404 if no such pod, 409 if bound)."""
    info = rest.table.get("", "v1", "pods")
    assert info is not None
    key = object_key(namespace, name)
    for _ in range(RETRIES):
        current = await rest.get(info, namespace, name)
        pod = info.load(current.data)
        apply_binding(pod, binding)
        if dry_run:
            return
        try:
            await rest.put(info, key, pod, current)
            return
        except PreconditionFailed:
            continue
        except KeyNotFound:
            raise errors.not_found_error(info.plural, info.group, name) from None
    raise errors.conflict(info.plural, info.group, name, errors.MODIFIED)

"""The Pod strategy: defaults, the admission plugins a real cluster runs on every pod, status, update rules.

kube-apiserver's default admission chain changes every Pod it creates: DefaultTolerationSeconds adds
the not-ready/unreachable tolerations, ServiceAccount sets ``serviceAccountName: default`` and mounts
the ``kube-api-access-*`` token volume, Priority sets ``priority``/``preemptionPolicy``. Users see
them in ``kubectl get pod -o yaml``, so they are done here at create time, in that order.
"""

from __future__ import annotations

import asyncio
import copy
import random
from typing import Any

import orjson

from facade import errors
from facade.errors import FieldError, forbidden, invalid, required
from facade.kinds.core_fields import MAX_INT32, as_dict, as_list, child, idx, inclusive_range_error
from facade.kinds.core_pod import (
    default_pod,
    default_pod_spec,
    pod_qos_class,
    validate_ephemeral_containers,
    validate_pod_spec,
    validate_volumes,
)
from facade.resource_table import Strategy

Obj = dict[str, Any]

NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
DEFAULT_TOLERATION_SECONDS = 300
SA_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"
#: the classes kube-apiserver bootstraps; used when the store has no PriorityClass objects
SYSTEM_PRIORITY_CLASSES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
PRIORITY_CLASSES_KEY = "priorityclasses.scheduling.k8s.io"
SERVICE_ACCOUNTS_KEY = "serviceaccounts"

UPDATABLE_POD_FIELDS = ",".join(
    [
        "`spec.containers[*].image`",
        "`spec.initContainers[*].image`",
        "`spec.activeDeadlineSeconds`",
        "`spec.tolerations` (only additions to existing tolerations)",
        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
    ]
)


def add_default_tolerations(spec: Obj) -> None:
    """DefaultTolerationSeconds admission: tolerate not-ready/unreachable NoExecute taints for 300 s."""
    tolerations = spec.get("tolerations") if isinstance(spec.get("tolerations"), list) else []
    not_ready = unreachable = False
    for t in tolerations:
        t = as_dict(t)
        if t.get("effect") not in (None, "", "NoExecute"):
            continue
        if t.get("key") in (None, "", NOT_READY_TAINT):
            not_ready = True
        if t.get("key") in (None, "", UNREACHABLE_TAINT):
            unreachable = True
    for taint, present in ((NOT_READY_TAINT, not_ready), (UNREACHABLE_TAINT, unreachable)):
        if not present:
            tolerations.append(
                {"key": taint, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": DEFAULT_TOLERATION_SECONDS}
            )
    spec["tolerations"] = tolerations


def service_account_token_volume(name: str) -> Obj:
    """The projected volume ServiceAccount admission adds: token, cluster CA bundle, namespace."""
    return {
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {
                    "downwardAPI": {
                        "items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}]
                    }
                },
            ],
        },
    }


def _containers(spec: Obj) -> list[Obj]:
    return [c for g in ("initContainers", "containers") for c in as_list(spec.get(g)) if isinstance(c, dict)]


def mount_service_account_token(spec: Obj) -> None:
    """ServiceAccount admission: account "default" unless named, and its token volume in every container."""
    if not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = "default"
    spec["serviceAccount"] = spec["serviceAccountName"]
    if spec.get("automountServiceAccountToken") is False:
        return
    containers = _containers(spec)
    if all(any(as_dict(m).get("mountPath") == SA_MOUNT_PATH for m in as_list(c.get("volumeMounts"))) for c in containers):
        return
    existing = {as_dict(v).get("name") for v in as_list(spec.get("volumes"))}
    name = ""
    while not name or name in existing:
        name = "kube-api-access-" + "".join(random.choices(_SUFFIX_CHARS, k=5))
    volumes = spec.get("volumes") if isinstance(spec.get("volumes"), list) else []
    volumes.append(service_account_token_volume(name))
    spec["volumes"] = volumes
    for c in containers:
        mounts = c.get("volumeMounts") if isinstance(c.get("volumeMounts"), list) else []
        if any(as_dict(m).get("mountPath") == SA_MOUNT_PATH for m in mounts):
            continue
        mounts.append({"mountPath": SA_MOUNT_PATH, "name": name, "readOnly": True})
        c["volumeMounts"] = mounts


def unmount_service_account_token(spec: Obj) -> None:
    """Take the token volume out again (the ServiceAccount says automountServiceAccountToken: false)."""
    names = {
        as_dict(v).get("name")
        for v in as_list(spec.get("volumes"))
        if str(as_dict(v).get("name", "")).startswith("kube-api-access-") and "projected" in as_dict(v)
    }
    if not names:
        return
    spec["volumes"] = [v for v in as_list(spec.get("volumes")) if as_dict(v).get("name") not in names]
    if not spec["volumes"]:
        del spec["volumes"]
    for c in _containers(spec):
        if isinstance(c.get("volumeMounts"), list):
            c["volumeMounts"] = [m for m in c["volumeMounts"] if as_dict(m).get("name") not in names]
            if not c["volumeMounts"]:
                del c["volumeMounts"]


def _go_field(name: str) -> str:
    return name[:1].upper() + name[1:]


def spec_diff(old: Obj, new: Obj) -> str:
    """A readable stand-in for the ``cmp.Diff`` upstream appends to the forbidden-update message."""
    lines = ["  core.PodSpec{"]
    same = 0
    for k in sorted(set(old) | set(new)):
        if old.get(k) == new.get(k):
            same += 1
            continue
        if k in old:
            lines.append(f"- \t{_go_field(k)}: {_go_value(old[k])},")
        if k in new:
            lines.append(f"+ \t{_go_field(k)}: {_go_value(new[k])},")
    if same:
        lines.append(f"  \t... // {same} identical fields")
    lines.append("  }")
    return "\n".join(lines)


def _go_value(v: Any) -> str:
    return orjson.dumps(v).decode()


def _munged_spec(new: Obj, old: Obj) -> Obj:
    """The new spec with every field a pod update may change put back to its old value."""
    m = copy.deepcopy(new)
    for group in ("containers", "initContainers"):
        for c_new, c_old in zip(as_list(m.get(group)), as_list(old.get(group)), strict=False):
            if isinstance(c_new, dict) and isinstance(c_old, dict):
                if "image" in c_old:
                    c_new["image"] = c_old["image"]
                else:
                    c_new.pop("image", None)
    for f in ("activeDeadlineSeconds", "tolerations", "schedulingGates"):
        if f in old:
            m[f] = old[f]
        else:
            m.pop(f, None)
    old_tgp = old.get("terminationGracePeriodSeconds")
    if isinstance(old_tgp, int) and old_tgp < 0 and m.get("terminationGracePeriodSeconds") == 1:
        m["terminationGracePeriodSeconds"] = old_tgp
    return m


def _toleration_key(t: Any) -> tuple:
    t = as_dict(t)
    return (t.get("key") or "", t.get("operator") or "", t.get("value") or "", t.get("effect") or "")


def validate_pod_update(new: Obj, old: Obj) -> list[FieldError]:
    """ValidatePodUpdate's spec rules (after the full spec validation)."""
    errs: list[FieldError] = []
    ns, os_ = as_dict(new.get("spec")), as_dict(old.get("spec"))
    for group in ("containers", "initContainers"):
        nc, oc = as_list(ns.get(group)), as_list(os_.get(group))
        path = child("spec", group)
        if len(nc) != len(oc):
            return errs + [forbidden(path, "pod updates may not add or remove containers")]
        for i, c in enumerate(nc):
            image = as_dict(c).get("image")
            if not image:
                errs.append(required(child(idx(path, i), "image"), ""))
            elif image.strip() != image:
                errs.append(invalid(child(idx(path, i), "image"), image, "must not have leading or trailing whitespace"))
    ads, old_ads = ns.get("activeDeadlineSeconds"), os_.get("activeDeadlineSeconds")
    if ads is not None:
        if not isinstance(ads, int) or ads < 0 or ads > MAX_INT32:
            return errs + [invalid("spec.activeDeadlineSeconds", ads, inclusive_range_error(0, MAX_INT32))]
        if isinstance(old_ads, int) and old_ads < ads:
            return errs + [invalid("spec.activeDeadlineSeconds", ads, "must be less than or equal to previous value")]
    elif old_ads is not None:
        errs.append(invalid("spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value"))
    new_tol = as_list(ns.get("tolerations"))
    for t in as_list(os_.get("tolerations")):
        if not any(_toleration_key(t) == _toleration_key(n) for n in new_tol):
            errs.append(forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds"))
            break
    old_gates = [as_dict(g).get("name") for g in as_list(os_.get("schedulingGates"))]
    for g in as_list(ns.get("schedulingGates")):
        if as_dict(g).get("name") not in old_gates:
            gate = as_dict(g).get("name")
            errs.append(forbidden("spec.schedulingGates", f"only deletion is allowed, but found new scheduling gate '{gate}'"))
    if ns == os_:
        return errs
    munged = _munged_spec(ns, os_)
    if munged != os_:
        errs.append(
            forbidden(
                "spec",
                f"pod updates may not change fields other than {UPDATABLE_POD_FIELDS}\n{spec_diff(os_, munged)}",
            )
        )
    return errs


class PodStrategy(Strategy):
    """Pods: pkg/registry/core/pod/strategy.go plus the default admission plugins."""

    has_status = True
    return_deleted_object = True

    def defaults(self, obj: Obj) -> None:
        default_pod(obj)

    def prepare_for_create(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict):
            mount_service_account_token(spec)
            add_default_tolerations(spec)
        super().prepare_for_create(obj)

    def initial_status(self, obj: Obj) -> None:
        spec = as_dict(obj.get("spec"))
        status: Obj = {"phase": "Pending", "qosClass": pod_qos_class(spec)}
        if spec.get("schedulingGates"):
            status["conditions"] = [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "lastProbeTime": None,
                    "lastTransitionTime": None,
                    "reason": "SchedulingGated",
                    "message": "Scheduling is blocked due to non-empty scheduling gates",
                }
            ]
        obj["status"] = status

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = obj.get("spec")
        errs = validate_pod_spec(spec if isinstance(spec, dict) else {}, "spec")
        if isinstance(spec, dict) and spec.get("ephemeralContainers"):
            errs.append(forbidden("spec.ephemeralContainers", "cannot be set on create"))
        return errs

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        spec = new.get("spec")
        errs = validate_pod_spec(spec if isinstance(spec, dict) else {}, "spec")
        return errs + validate_pod_update(new, old)

    def prepare_for_ephemeral_containers_update(self, new: Obj, old: Obj) -> None:
        """The ``ephemeralcontainers`` subresource: only spec.ephemeralContainers comes from the request."""
        ephemeral = as_dict(new.get("spec")).get("ephemeralContainers")
        for k in list(new):
            if k not in ("metadata", "apiVersion", "kind"):
                del new[k]
        for k, v in old.items():
            if k not in ("metadata", "apiVersion", "kind"):
                new[k] = copy.deepcopy(v)
        if ephemeral is None:
            new["spec"].pop("ephemeralContainers", None)
        else:
            new["spec"]["ephemeralContainers"] = ephemeral
        default_pod_spec(new["spec"])

    def validate_ephemeral_containers_update(self, new: Obj, old: Obj) -> list[FieldError]:
        """ValidatePodEphemeralContainersUpdate: new ones are validated, existing ones are frozen."""
        spec = as_dict(new.get("spec"))
        volumes, _ = validate_volumes(spec.get("volumes"), "spec.volumes")
        errs = validate_ephemeral_containers(spec, volumes, "spec.ephemeralContainers")
        by_name = {as_dict(c).get("name"): c for c in as_list(spec.get("ephemeralContainers"))}
        for c in as_list(as_dict(old.get("spec")).get("ephemeralContainers")):
            name = as_dict(c).get("name")
            if name not in by_name:
                errs.append(forbidden("spec.ephemeralContainers", f'existing ephemeral containers "{name}" may not be removed\n'))
            elif by_name[name] != c:
                errs.append(forbidden("spec.ephemeralContainers", f'existing ephemeral containers "{name}" may not be changed\n'))
        return errs

    def deletion_grace(self, obj: Obj, requested: int | None) -> int:
        """CheckGracefulDelete: the requested or spec grace period; 0 when unscheduled or finished."""
        spec, status = as_dict(obj.get("spec")), as_dict(obj.get("status"))
        period = requested if requested is not None else int(spec.get("terminationGracePeriodSeconds") or 0)
        if not spec.get("nodeName") or status.get("phase") in ("Failed", "Succeeded"):
            period = 0
        return 1 if period < 0 else period

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        spec, status = as_dict(obj.get("spec")), as_dict(obj.get("status"))
        pod_ips = as_list(status.get("podIPs"))
        pod_ip = as_dict(pod_ips[0]).get("ip", "") if pod_ips else status.get("podIP", "")
        return {
            "spec.nodeName": spec.get("nodeName") or "",
            "spec.restartPolicy": spec.get("restartPolicy") or "",
            "spec.schedulerName": spec.get("schedulerName") or "",
            "spec.serviceAccountName": spec.get("serviceAccountName") or "",
            "spec.hostNetwork": "true" if spec.get("hostNetwork") else "false",
            "status.phase": status.get("phase") or "",
            "status.podIP": pod_ip or "",
            "status.nominatedNodeName": status.get("nominatedNodeName") or "",
        }

    async def before_create(self, obj: Obj, ctx: Any) -> None:
        """The admission steps that need the store: the ServiceAccount's existence and opt-out, priority."""
        meta = as_dict(obj.get("metadata"))
        spec = obj.setdefault("spec", {})
        name, namespace = meta.get("name", ""), meta.get("namespace", "")
        list_all = getattr(ctx, "list_all", None)
        if list_all is None or not isinstance(spec, dict):
            return
        mirror = "kubernetes.io/config.mirror" in as_dict(meta.get("annotations"))
        if not mirror:
            await self._check_service_account(spec, name, namespace, list_all)
        await self._admit_priority(spec, name, list_all)

    async def _check_service_account(self, spec: Obj, name: str, namespace: str, list_all: Any) -> None:
        sa_name = spec.get("serviceAccountName") or "default"
        # Upstream waits a little for the "default" account, which its controller creates with the namespace.
        attempts = 10 if sa_name == "default" else 1
        for attempt in range(attempts):
            accounts = await _safe_list(list_all, SERVICE_ACCOUNTS_KEY)
            if accounts is None or not accounts:
                return  # no ServiceAccount objects at all: no account controller runs here, nothing to check
            sa = next(
                (a for a in accounts if as_dict(a.get("metadata")).get("namespace") == namespace
                 and as_dict(a.get("metadata")).get("name") == sa_name),
                None,
            )
            if sa is not None:
                if spec.get("automountServiceAccountToken") is None and sa.get("automountServiceAccountToken") is False:
                    unmount_service_account_token(spec)
                return
            if attempt + 1 < attempts:
                await asyncio.sleep(0.1)
        raise errors.forbidden_error(
            "pods", "", name,
            f'error looking up service account {namespace}/{sa_name}: serviceaccount "{sa_name}" not found',
        )

    async def _admit_priority(self, spec: Obj, name: str, list_all: Any) -> None:
        classes = await _safe_list(list_all, PRIORITY_CLASSES_KEY) or []
        by_name = {as_dict(c.get("metadata")).get("name"): c for c in classes}
        pc_name = spec.get("priorityClassName") or ""
        policy: str | None = "PreemptLowerPriority"
        if not pc_name:
            default = next((c for c in classes if c.get("globalDefault")), None)
            if default is not None:
                pc_name = as_dict(default.get("metadata")).get("name", "")
                spec["priorityClassName"] = pc_name
                priority = int(default.get("value") or 0)
                policy = default.get("preemptionPolicy") or "PreemptLowerPriority"
            else:
                priority = 0
        elif pc_name in by_name:
            priority = int(by_name[pc_name].get("value") or 0)
            policy = by_name[pc_name].get("preemptionPolicy") or "PreemptLowerPriority"
        elif pc_name in SYSTEM_PRIORITY_CLASSES:
            priority = SYSTEM_PRIORITY_CLASSES[pc_name]
        else:
            raise errors.forbidden_error("pods", "", name, f"no PriorityClass with name {pc_name} was found")
        given = spec.get("priority")
        if given is not None and given != priority:
            raise errors.forbidden_error(
                "pods", "", name,
                f"the integer value of priority ({given}) must not be provided in pod spec; priority admission "
                f"controller computed {priority} from the given PriorityClass name",
            )
        spec["priority"] = priority
        given_policy = spec.get("preemptionPolicy")
        if policy is not None:
            if given_policy is not None and given_policy != policy:
                raise errors.forbidden_error(
                    "pods", "", name,
                    f"the string value of PreemptionPolicy ({given_policy}) must not be provided in pod spec; "
                    f"priority admission controller computed {policy} from the given PriorityClass name",
                )
            spec["preemptionPolicy"] = policy


async def _safe_list(list_all: Any, store_key: str) -> list[Obj] | None:
    """``ctx.list_all`` or None when the resource is not served in this server."""
    try:
        return await list_all(store_key)
    except Exception:  # an unknown store key: that kind is not served here
        return None

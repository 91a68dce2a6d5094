"""Pod and pod-template defaults and validation (pkg/apis/core/v1/defaults.go, core/validation).

``default_pod_spec`` and ``validate_pod_spec`` are shared by every kind that embeds a pod template
(ReplicationController, PodTemplate, and the apps/batch kinds), so they take the spec alone. What
real Kubernetes does only for Pods (requests copied from limits, enableServiceLinks, host ports
under hostNetwork, the admission plugins' tolerations, service-account token volume and priority)
lives in ``default_pod`` and ``PodStrategy``.
"""

from __future__ import annotations

from typing import Any

from facade.kinds import core_quantity
from facade.kinds.core_fields import VOLUME_SOURCES, as_dict, as_list, canonicalize_requirements
from facade.kinds.core_pod_validation import (  # re-exported: one import for defaults and validation
    validate_ephemeral_containers,
    validate_pod_spec,
    validate_tolerations,
    validate_volumes,
)

Obj = dict[str, Any]

__all__ = [
    "default_container",
    "default_pod",
    "default_pod_spec",
    "default_pvc_spec",
    "default_volume",
    "image_tag",
    "pod_qos_class",
    "validate_ephemeral_containers",
    "validate_pod_spec",
    "validate_tolerations",
    "validate_volumes",
]

# -- defaults ---------------------------------------------------------------------------------------


def image_tag(image: str) -> str:
    """The tag ParseImageName reports: "latest" when the reference has neither tag nor digest."""
    ref, _, digest = image.partition("@")
    last = ref.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    if not tag and not digest:
        tag = "latest"
    return tag


def _default_field_ref(ref: Any) -> None:
    if isinstance(ref, dict) and not ref.get("apiVersion"):
        ref["apiVersion"] = "v1"


def _default_resource_field_ref(ref: Any) -> None:
    if isinstance(ref, dict):
        ref["divisor"] = core_quantity.canonicalize(ref.get("divisor", "0"))


def _default_http_get(action: Any) -> None:
    if isinstance(action, dict):
        if not action.get("path"):
            action["path"] = "/"
        if not action.get("scheme"):
            action["scheme"] = "HTTP"


def _default_probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    for f, v in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1), ("failureThreshold", 3)):
        if not probe.get(f):
            probe[f] = v
    _default_http_get(probe.get("httpGet"))
    grpc = probe.get("grpc")
    if isinstance(grpc, dict) and grpc.get("service") is None:
        grpc["service"] = ""


def default_container(c: Any) -> None:
    """SetDefaults_Container and the generated defaulters of everything a container holds."""
    if not isinstance(c, dict):
        return
    if not c.get("imagePullPolicy"):
        c["imagePullPolicy"] = "Always" if image_tag(c.get("image") or "") == "latest" else "IfNotPresent"
    if not c.get("terminationMessagePath"):
        c["terminationMessagePath"] = "/dev/termination-log"
    if not c.get("terminationMessagePolicy"):
        c["terminationMessagePolicy"] = "File"
    for p in as_list(c.get("ports")):
        if isinstance(p, dict) and not p.get("protocol"):
            p["protocol"] = "TCP"
    for e in as_list(c.get("env")):
        vf = as_dict(e).get("valueFrom") if isinstance(e, dict) else None
        if isinstance(vf, dict):
            _default_field_ref(vf.get("fieldRef"))
            _default_resource_field_ref(vf.get("resourceFieldRef"))
    if not isinstance(c.get("resources"), dict):
        c["resources"] = {}
    canonicalize_requirements(c["resources"])
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(c.get(probe))
    lifecycle = c.get("lifecycle")
    if isinstance(lifecycle, dict):
        for hook in ("postStart", "preStop"):
            if isinstance(lifecycle.get(hook), dict):
                _default_http_get(lifecycle[hook].get("httpGet"))




def _default_downward_items(items: Any) -> None:
    for it in as_list(items):
        if isinstance(it, dict):
            _default_field_ref(it.get("fieldRef"))
            _default_resource_field_ref(it.get("resourceFieldRef"))


def default_volume(v: Any) -> None:
    """SetDefaults_Volume and the per-source defaulters (modes 0644, emptyDir when no source...)."""
    if not isinstance(v, dict):
        return
    if not any(v.get(s) is not None for s in VOLUME_SOURCES):
        v["emptyDir"] = {}
    if isinstance(v.get("hostPath"), dict) and v["hostPath"].get("type") is None:
        v["hostPath"]["type"] = ""
    for src in ("secret", "configMap", "downwardAPI", "projected"):
        s = v.get(src)
        if isinstance(s, dict) and s.get("defaultMode") is None:
            s["defaultMode"] = 420
    if isinstance(v.get("downwardAPI"), dict):
        _default_downward_items(v["downwardAPI"].get("items"))
    if isinstance(v.get("projected"), dict):
        for s in as_list(v["projected"].get("sources")):
            if not isinstance(s, dict):
                continue
            if isinstance(s.get("downwardAPI"), dict):
                _default_downward_items(s["downwardAPI"].get("items"))
            sat = s.get("serviceAccountToken")
            if isinstance(sat, dict) and sat.get("expirationSeconds") is None:
                sat["expirationSeconds"] = 3600
    iscsi = v.get("iscsi")
    if isinstance(iscsi, dict) and not iscsi.get("iscsiInterface"):
        iscsi["iscsiInterface"] = "default"
    rbd = v.get("rbd")
    if isinstance(rbd, dict):
        for f, d in (("pool", "rbd"), ("user", "admin"), ("keyring", "/etc/ceph/keyring")):
            if not rbd.get(f):
                rbd[f] = d
    azd = v.get("azureDisk")
    if isinstance(azd, dict):
        for f, d in (("cachingMode", "ReadWrite"), ("kind", "Shared"), ("fsType", "ext4"), ("readOnly", False)):
            if azd.get(f) is None:
                azd[f] = d
    sio = v.get("scaleIO")
    if isinstance(sio, dict):
        for f, d in (("storageMode", "ThinProvisioned"), ("fsType", "xfs")):
            if not sio.get(f):
                sio[f] = d
    eph = v.get("ephemeral")
    if isinstance(eph, dict) and isinstance(eph.get("volumeClaimTemplate"), dict):
        spec = eph["volumeClaimTemplate"].setdefault("spec", {})
        if isinstance(spec, dict):
            default_pvc_spec(spec)
    img = v.get("image")
    if isinstance(img, dict) and not img.get("pullPolicy"):
        img["pullPolicy"] = "Always" if image_tag(img.get("reference") or "") == "latest" else "IfNotPresent"


def default_pvc_spec(spec: Obj) -> None:
    """SetDefaults_PersistentVolumeClaimSpec: volumeMode Filesystem; quantities canonical."""
    if spec.get("volumeMode") is None:
        spec["volumeMode"] = "Filesystem"
    if not isinstance(spec.get("resources"), dict):
        spec["resources"] = {}
    canonicalize_requirements(spec["resources"])


def default_pod_spec(spec: dict) -> None:
    """SetDefaults_PodSpec plus the generated defaulters of a PodSpec (pods and pod templates alike).

    Mutates ``spec`` in place: restartPolicy Always, dnsPolicy ClusterFirst, securityContext {},
    terminationGracePeriodSeconds 30, schedulerName default-scheduler, and every container's,
    probe's and volume's defaults.
    """
    if not isinstance(spec, dict):
        return
    if not spec.get("dnsPolicy"):
        spec["dnsPolicy"] = "ClusterFirst"
    if not spec.get("restartPolicy"):
        spec["restartPolicy"] = "Always"
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = 30
    if not spec.get("schedulerName"):
        spec["schedulerName"] = "default-scheduler"
    for v in as_list(spec.get("volumes")):
        default_volume(v)
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for c in as_list(spec.get(group)):
            default_container(c)
    core_quantity.canonicalize_list(spec.get("overhead"))
    if isinstance(spec.get("resources"), dict):
        canonicalize_requirements(spec["resources"])
    # v1 conversion: the deprecated serviceAccount fills serviceAccountName and always mirrors it back
    if not spec.get("serviceAccountName") and spec.get("serviceAccount"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    if spec.get("serviceAccountName"):
        spec["serviceAccount"] = spec["serviceAccountName"]


def default_pod(pod: Obj) -> None:
    """SetObjectDefaults_Pod: the pod-spec defaults plus what only a Pod (not a template) gets."""
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        spec = pod["spec"] = {}
    for group in ("containers", "initContainers"):
        for c in as_list(spec.get(group)):
            res = as_dict(c.get("resources")) if isinstance(c, dict) else {}
            limits = res.get("limits")
            if isinstance(limits, dict) and limits:
                requests = res.setdefault("requests", {})
                if isinstance(requests, dict):
                    for k, v in limits.items():
                        requests.setdefault(k, v)
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    if spec.get("hostNetwork"):
        for group in ("containers", "initContainers"):
            for c in as_list(spec.get(group)):
                for p in as_list(as_dict(c).get("ports")):
                    if isinstance(p, dict) and not p.get("hostPort") and p.get("containerPort"):
                        p["hostPort"] = p["containerPort"]
    default_pod_spec(spec)


# -- QoS -------------------------------------------------------------------------------------------


def pod_qos_class(spec: Obj) -> str:
    """GetPodQOS: BestEffort, Guaranteed or Burstable from containers' cpu/memory requests and limits."""
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    guaranteed = True
    for c in as_list(spec.get("containers")) + as_list(spec.get("initContainers")):
        res = as_dict(as_dict(c).get("resources"))
        for name, raw in as_dict(res.get("requests")).items():
            v = core_quantity.value_of(raw)
            if name in ("cpu", "memory") and v is not None and v > 0:
                requests[name] = requests.get(name, 0) + v
        found = set()
        for name, raw in as_dict(res.get("limits")).items():
            v = core_quantity.value_of(raw)
            if name in ("cpu", "memory") and v is not None and v > 0:
                found.add(name)
                limits[name] = limits.get(name, 0) + v
        if found != {"cpu", "memory"}:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed:
        for name, req in requests.items():
            if limits.get(name) != req:
                guaranteed = False
                break
    if guaranteed and len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"

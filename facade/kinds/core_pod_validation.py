"""Pod-spec validation (pkg/apis/core/validation ValidatePodSpec and what it calls), upstream's messages.

Shared by Pods and every kind embedding a pod template; ``facade.kinds.core_pod`` re-exports
``validate_pod_spec`` so callers need one import for the defaults and the validation.
"""

from __future__ import annotations

from typing import Any

from facade.errors import FieldError, duplicate, forbidden, invalid, not_found, not_supported, required
from facade.kinds import core_quantity
from facade.kinds.core_fields import (
    MAX_INT32,
    VOLUME_SOURCES,
    as_dict,
    as_list,
    child,
    config_key_errors,
    idx,
    inclusive_range_error,
    label_errors,
    nonnegative,
    port_name_errors,
    port_num_errors,
    subdomain_errors,
    validate_port_num_or_name,
    validate_resource_requirements,
)
from facade.validation import label_value_errors, qualified_name_errors, validate_labels

Obj = dict[str, Any]

# -- containers -------------------------------------------------------------------------------------

_SUPPORTED_PROTOCOLS = ("SCTP", "TCP", "UDP")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
_TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
_ENV_FIELD_PATHS = (
    "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP",
    "status.podIPs",
)
_VOLUME_FIELD_PATHS = ("metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid")
_TOLERATION_OPERATORS = ("Equal", "Exists")
_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def _validate_ports(ports: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, p in enumerate(as_list(ports)):
        ip = idx(path, i)
        if not isinstance(p, dict):
            continue
        name = p.get("name") or ""
        if name:
            msgs = port_name_errors(name)
            if msgs:
                errs += [invalid(child(ip, "name"), name, m) for m in msgs]
            elif name in names:
                errs.append(duplicate(child(ip, "name"), name))
            else:
                names.add(name)
        cp = p.get("containerPort")
        if not cp:
            errs.append(required(child(ip, "containerPort"), ""))
        else:
            errs += [invalid(child(ip, "containerPort"), cp, m) for m in port_num_errors(cp)]
        hp = p.get("hostPort")
        if hp:
            errs += [invalid(child(ip, "hostPort"), hp, m) for m in port_num_errors(hp)]
        proto = p.get("protocol") or ""
        if not proto:
            errs.append(required(child(ip, "protocol"), ""))
        elif proto not in _SUPPORTED_PROTOCOLS:
            errs.append(not_supported(child(ip, "protocol"), proto, _SUPPORTED_PROTOCOLS))
    return errs


def _env_name_errors(name: str) -> list[str]:
    """IsRelaxedEnvVarName (RelaxedEnvironmentVariableValidation is on by default in 1.32)."""
    for ch in name:
        if ord(ch) > 127 or not ch.isprintable() or ch == "=":
            return ["a valid environment variable name must consist only of printable ASCII characters other than '='"]
    return []


def _validate_field_ref(ref: Obj, paths: tuple[str, ...], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    fp = ref.get("fieldPath") or ""
    if not ref.get("apiVersion"):
        errs.append(required(child(path, "apiVersion"), ""))
    if not fp:
        errs.append(required(child(path, "fieldPath"), ""))
        return errs
    base, sep, sub = fp.partition("[")
    if sep and base in ("metadata.labels", "metadata.annotations"):
        k = sub.rstrip("]").strip("'")
        if base == "metadata.labels":
            errs += [invalid(child(path, "fieldPath"), k, m) for m in qualified_name_errors(k)]
        else:
            errs += [invalid(child(path, "fieldPath"), k, m) for m in qualified_name_errors(k.lower())]
        return errs
    if fp not in paths:
        errs.append(not_supported(child(path, "fieldPath"), fp, paths))
    return errs


def _validate_key_selector(sel: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not sel.get("name"):
        errs.append(required(child(path, "name"), ""))
    k = sel.get("key") or ""
    if not k:
        errs.append(required(child(path, "key"), ""))
    else:
        errs += [invalid(child(path, "key"), k, m) for m in config_key_errors(k)]
    return errs


def _validate_env(env: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, e in enumerate(as_list(env)):
        ip = idx(path, i)
        if not isinstance(e, dict):
            continue
        name = e.get("name") or ""
        if not name:
            errs.append(required(child(ip, "name"), ""))
        else:
            errs += [invalid(child(ip, "name"), name, m) for m in _env_name_errors(name)]
        vf = e.get("valueFrom")
        if not isinstance(vf, dict):
            continue
        vp = child(ip, "valueFrom")
        n = 0
        if isinstance(vf.get("fieldRef"), dict):
            n += 1
            errs += _validate_field_ref(vf["fieldRef"], _ENV_FIELD_PATHS, child(vp, "fieldRef"))
        if isinstance(vf.get("resourceFieldRef"), dict):
            n += 1
            rf = vf["resourceFieldRef"]
            if not rf.get("resource"):
                errs.append(required(child(child(vp, "resourceFieldRef"), "resource"), ""))
        for sel in ("configMapKeyRef", "secretKeyRef"):
            if isinstance(vf.get(sel), dict):
                n += 1
                errs += _validate_key_selector(vf[sel], child(vp, sel))
        if n == 0:
            errs.append(
                invalid(vp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`")
            )
        elif e.get("value"):
            errs.append(invalid(vp, "", "may not be specified when `value` is not empty"))
        elif n > 1:
            errs.append(invalid(vp, "", "may not have more than one field specified at a time"))
    return errs


def _validate_env_from(env_from: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, e in enumerate(as_list(env_from)):
        ip = idx(path, i)
        if not isinstance(e, dict):
            continue
        if e.get("prefix"):
            errs += [invalid(child(ip, "prefix"), e["prefix"], m) for m in _env_name_errors(e["prefix"])]
        n = 0
        for ref in ("configMapRef", "secretRef"):
            if isinstance(e.get(ref), dict):
                n += 1
                if not e[ref].get("name"):
                    errs.append(required(child(child(ip, ref), "name"), ""))
                else:
                    errs += subdomain_errors(e[ref]["name"], child(child(ip, ref), "name"))
        if n == 0:
            errs.append(invalid(ip, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif n > 1:
            errs.append(invalid(ip, "", "may not have more than one field specified at a time"))
    return errs


def _validate_volume_mounts(mounts: Any, volumes: dict[str, Obj], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, m in enumerate(as_list(mounts)):
        ip = idx(path, i)
        if not isinstance(m, dict):
            continue
        name = m.get("name") or ""
        if not name:
            errs.append(required(child(ip, "name"), ""))
        if name not in volumes:
            errs.append(not_found(child(ip, "name"), name))
        mp = m.get("mountPath") or ""
        if not mp:
            errs.append(required(child(ip, "mountPath"), ""))
        if mp in seen:
            errs.append(invalid(child(ip, "mountPath"), mp, "must be unique"))
        seen.add(mp)
        sp = m.get("subPath") or ""
        if sp:
            errs += _local_descending_path(sp, child(path, "subPath"))
    return errs


def _local_descending_path(p: str, path: str) -> list[FieldError]:
    errs = []
    if p.startswith("/"):
        errs.append(invalid(path, p, "must be a relative path"))
    if ".." in p.replace("\\", "/").split("/"):
        errs.append(invalid(path, p, "must not contain '..'"))
    return errs


def _validate_handler(h: Obj, path: str, kinds: tuple[str, ...]) -> list[FieldError]:
    errs: list[FieldError] = []
    n = 0
    for k in kinds:
        a = h.get(k)
        if a is None:
            continue
        if n > 0:
            errs.append(forbidden(child(path, k), "may not specify more than 1 handler type"))
            continue
        n += 1
        a = as_dict(a)
        ap = child(path, k)
        if k == "exec":
            if not a.get("command"):
                errs.append(required(child(ap, "command"), ""))
        elif k == "httpGet":
            if not a.get("path"):
                errs.append(required(child(ap, "path"), ""))
            errs += validate_port_num_or_name(a.get("port", 0), child(ap, "port"))
            scheme = a.get("scheme") or ""
            if scheme not in ("HTTP", "HTTPS"):
                errs.append(not_supported(child(ap, "scheme"), scheme, ["HTTP", "HTTPS"]))
        elif k == "tcpSocket":
            errs += validate_port_num_or_name(a.get("port", 0), child(ap, "port"))
        elif k == "grpc":
            port = a.get("port", 0)
            errs += [invalid(child(ap, "port"), port, m) for m in port_num_errors(port)]
        elif k == "sleep":
            secs = a.get("seconds", 0)
            if not isinstance(secs, int) or secs <= 0:
                errs.append(invalid(child(ap, "seconds"), secs, "must be greater than 0"))
    if n == 0:
        errs.append(required(path, "must specify a handler type"))
    return errs


def _validate_probe(probe: Any, path: str, success_must_be_one: bool) -> list[FieldError]:
    if not isinstance(probe, dict):
        return []
    errs = _validate_handler(probe, path, ("exec", "httpGet", "tcpSocket", "grpc"))
    for f in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        errs += nonnegative(probe.get(f, 0), child(path, f))
    tgp = probe.get("terminationGracePeriodSeconds")
    if tgp is not None and isinstance(tgp, int) and tgp <= 0:
        errs.append(invalid(child(path, "terminationGracePeriodSeconds"), tgp, "must be greater than 0"))
    if success_must_be_one and probe.get("successThreshold", 1) != 1:
        errs.append(invalid(child(path, "successThreshold"), probe.get("successThreshold"), "must be 1"))
    return errs


def _validate_lifecycle(lc: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if isinstance(lc, dict):
        for hook in ("postStart", "preStop"):
            if isinstance(lc.get(hook), dict):
                errs += _validate_handler(lc[hook], child(path, hook), ("exec", "httpGet", "tcpSocket", "sleep"))
    return errs


def _validate_container_common(c: Obj, volumes: dict[str, Obj], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    name = c.get("name") or ""
    if not name:
        errs.append(required(child(path, "name"), ""))
    else:
        errs += label_errors(name, child(path, "name"))
    image = c.get("image")
    if not image:
        errs.append(required(child(path, "image"), ""))
    tmp = c.get("terminationMessagePolicy") or ""
    if not tmp:
        errs.append(required(child(path, "terminationMessagePolicy"), ""))
    elif tmp not in _TERMINATION_MESSAGE_POLICIES:
        errs.append(not_supported(child(path, "terminationMessagePolicy"), tmp, _TERMINATION_MESSAGE_POLICIES))
    errs += _validate_ports(c.get("ports"), child(path, "ports"))
    errs += _validate_env(c.get("env"), child(path, "env"))
    errs += _validate_env_from(c.get("envFrom"), child(path, "envFrom"))
    errs += _validate_volume_mounts(c.get("volumeMounts"), volumes, child(path, "volumeMounts"))
    ipp = c.get("imagePullPolicy") or ""
    if not ipp:
        errs.append(required(child(path, "imagePullPolicy"), ""))
    elif ipp not in _PULL_POLICIES:
        errs.append(not_supported(child(path, "imagePullPolicy"), ipp, _PULL_POLICIES))
    errs += validate_resource_requirements(c.get("resources"), child(path, "resources"))
    return errs


def _validate_volume_source(v: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    n = 0
    for src in VOLUME_SOURCES:
        s = v.get(src)
        if s is None:
            continue
        if n > 0:
            errs.append(forbidden(child(path, src), "may not specify more than 1 volume type"))
            continue
        n += 1
        s = as_dict(s)
        sp = child(path, src)
        if src == "hostPath":
            if not s.get("path"):
                errs.append(required(child(sp, "path"), ""))
            t = s.get("type") or ""
            types = ("", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket")
            if t not in types:
                errs.append(not_supported(child(sp, "type"), t, types))
        elif src == "secret":
            if not s.get("secretName"):
                errs.append(required(child(sp, "secretName"), ""))
            errs += _validate_mode_and_items(s, sp)
        elif src == "configMap":
            if not s.get("name"):
                errs.append(required(child(sp, "name"), ""))
            errs += _validate_mode_and_items(s, sp)
        elif src == "persistentVolumeClaim":
            if not s.get("claimName"):
                errs.append(required(child(sp, "claimName"), ""))
        elif src == "nfs":
            if not s.get("server"):
                errs.append(required(child(sp, "server"), ""))
            if not s.get("path"):
                errs.append(required(child(sp, "path"), ""))
            elif not s["path"].startswith("/"):
                errs.append(invalid(child(sp, "path"), s["path"], "must be an absolute path"))
        elif src == "emptyDir":
            medium = s.get("medium") or ""
            if medium not in ("", "Memory", "HugePages") and not medium.startswith("HugePages-"):
                errs.append(not_supported(child(sp, "medium"), medium, ["", "Memory", "HugePages"]))
            if s.get("sizeLimit") is not None:
                try:
                    if core_quantity.parse(s["sizeLimit"]).value < 0:
                        errs.append(forbidden(child(sp, "sizeLimit"), "SizeLimit field must be a valid resource quantity"))
                except core_quantity.QuantityError as e:
                    errs.append(invalid(child(sp, "sizeLimit"), s["sizeLimit"], str(e)))
        elif src in ("downwardAPI", "projected"):
            errs += _validate_default_mode(s.get("defaultMode"), child(sp, "defaultMode"))
        elif src == "csi":
            if not s.get("driver"):
                errs.append(required(child(sp, "driver"), ""))
    if n == 0:
        errs.append(required(path, "must specify a volume type"))
    return errs


def _validate_default_mode(mode: Any, path: str) -> list[FieldError]:
    if mode is not None and (not isinstance(mode, int) or mode < 0 or mode > 0o777):
        return [invalid(path, mode, "must be a number between 0 and 0777 (octal), both inclusive")]
    return []


def _validate_mode_and_items(s: Obj, path: str) -> list[FieldError]:
    errs = _validate_default_mode(s.get("defaultMode"), child(path, "defaultMode"))
    for i, it in enumerate(as_list(s.get("items"))):
        ip = idx(child(path, "items"), i)
        it = as_dict(it)
        if not it.get("key"):
            errs.append(required(child(ip, "key"), ""))
        p = it.get("path") or ""
        if not p:
            errs.append(required(child(ip, "path"), ""))
        else:
            errs += _local_descending_path(p, child(ip, "path"))
        errs += _validate_default_mode(it.get("mode"), child(ip, "mode"))
    return errs


def validate_volumes(volumes: Any, path: str) -> tuple[dict[str, Obj], list[FieldError]]:
    """ValidateVolumes: the valid volumes by name (for volumeMounts) and the errors."""
    errs: list[FieldError] = []
    good: dict[str, Obj] = {}
    for i, v in enumerate(as_list(volumes)):
        ip = idx(path, i)
        if not isinstance(v, dict):
            continue
        el = _validate_volume_source(v, ip)
        name = v.get("name") or ""
        if not name:
            el.append(required(child(ip, "name"), ""))
        else:
            el += label_errors(name, child(ip, "name"))
        if name in good:
            el.append(duplicate(child(ip, "name"), name))
        if not el:
            good[name] = v
        errs += el
    return good, errs


def validate_tolerations(tolerations: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, t in enumerate(as_list(tolerations)):
        ip = idx(path, i)
        t = as_dict(t)
        k = t.get("key") or ""
        if k:
            errs += [invalid(child(ip, "key"), k, m) for m in qualified_name_errors(k)]
        op = t.get("operator") or ""
        if not k and op != "Exists":
            errs.append(
                invalid(
                    child(ip, "operator"), op,
                    'operator must be Exists when `key` is empty, which means "match all values and all keys"',
                )
            )
        if t.get("tolerationSeconds") is not None and t.get("effect") != "NoExecute":
            errs.append(
                invalid(child(ip, "effect"), t.get("effect") or "", "effect must be 'NoExecute' when `tolerationSeconds` is set")
            )
        if op in ("", "Equal"):
            errs += [invalid(child(ip, "value"), t.get("value") or "", m) for m in label_value_errors(t.get("value") or "")]
        elif op == "Exists":
            if t.get("value"):
                errs.append(invalid(child(ip, "operator"), t["value"], "value must be empty when `operator` is 'Exists'"))
        else:
            errs.append(not_supported(child(ip, "operator"), op, _TOLERATION_OPERATORS))
        eff = t.get("effect") or ""
        if eff and eff not in _TAINT_EFFECTS:
            errs.append(not_supported(child(ip, "effect"), eff, _TAINT_EFFECTS))
    return errs


_EPHEMERAL_FORBIDDEN = ("ports", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle", "resizePolicy",
                        "restartPolicy")


def validate_ephemeral_containers(spec: Obj, volumes: dict[str, Obj], path: str) -> list[FieldError]:
    """validateEphemeralContainers: unique names across all containers, no ports/probes/resources."""
    errs: list[FieldError] = []
    others = {as_dict(c).get("name") for g in ("containers", "initContainers") for c in as_list(spec.get(g))}
    seen: set[str] = set()
    for i, c in enumerate(as_list(spec.get("ephemeralContainers"))):
        ip = idx(path, i)
        if not isinstance(c, dict):
            continue
        errs += _validate_container_common(c, volumes, ip)
        name = c.get("name") or ""
        if name in others:
            errs.append(invalid(child(ip, "name"), name, "must be unique among all containers, init containers and ephemeral containers"))
        elif name in seen:
            errs.append(duplicate(child(ip, "name"), name))
        else:
            seen.add(name)
        target = c.get("targetContainerName") or ""
        if target and target not in others:
            errs.append(not_found(child(ip, "targetContainerName"), target))
        for f in _EPHEMERAL_FORBIDDEN:
            if c.get(f):
                errs.append(forbidden(child(ip, f), "cannot be set for an Ephemeral Container"))
        if as_dict(c.get("resources")):
            errs.append(forbidden(child(ip, "resources"), "cannot be set for an Ephemeral Container"))
        for j, m in enumerate(as_list(c.get("volumeMounts"))):
            for f in ("subPath", "subPathExpr"):
                if as_dict(m).get(f):
                    errs.append(forbidden(child(idx(child(ip, "volumeMounts"), j), f), "cannot be set for an Ephemeral Container"))
    return errs


def validate_pod_spec(spec: dict, path: str) -> list[FieldError]:
    """ValidatePodSpec for what users touch, with upstream's paths and messages.

    ``path`` is where the spec sits ("spec" for a Pod, "spec.template.spec" for a Deployment).
    Expects defaulted input (as the API server validates after defaulting).
    """
    errs: list[FieldError] = []
    if not isinstance(spec, dict):
        return [required(path, "")]
    volumes, verrs = validate_volumes(spec.get("volumes"), child(path, "volumes"))
    errs += verrs
    names: set[str] = set()
    cpath = child(path, "containers")
    containers = as_list(spec.get("containers"))
    for i, c in enumerate(containers):
        ip = idx(cpath, i)
        if not isinstance(c, dict):
            errs.append(invalid(ip, c, "must be an object"))
            continue
        errs += _validate_container_common(c, volumes, ip)
        name = c.get("name") or ""
        if name in names:
            errs.append(duplicate(child(ip, "name"), name))
        else:
            names.add(name)
        errs += _validate_lifecycle(c.get("lifecycle"), child(ip, "lifecycle"))
        errs += _validate_probe(c.get("livenessProbe"), child(ip, "livenessProbe"), True)
        errs += _validate_probe(c.get("readinessProbe"), child(ip, "readinessProbe"), False)
        errs += _validate_probe(c.get("startupProbe"), child(ip, "startupProbe"), True)
        if c.get("restartPolicy") is not None:
            errs.append(forbidden(child(ip, "restartPolicy"), "may not be set for non-init containers"))
    if not containers:
        errs.append(required(cpath, ""))
    ipath = child(path, "initContainers")
    for i, c in enumerate(as_list(spec.get("initContainers"))):
        ip = idx(ipath, i)
        if not isinstance(c, dict):
            continue
        errs += _validate_container_common(c, volumes, ip)
        name = c.get("name") or ""
        if name in names:
            errs.append(duplicate(child(ip, "name"), name))
        elif name:
            names.add(name)
        rp = c.get("restartPolicy")
        if rp is not None and rp != "Always":
            errs.append(not_supported(child(ip, "restartPolicy"), rp, ["Always"]))
        sidecar = rp == "Always"
        if sidecar:
            errs += _validate_lifecycle(c.get("lifecycle"), child(ip, "lifecycle"))
            errs += _validate_probe(c.get("livenessProbe"), child(ip, "livenessProbe"), True)
            errs += _validate_probe(c.get("readinessProbe"), child(ip, "readinessProbe"), False)
            errs += _validate_probe(c.get("startupProbe"), child(ip, "startupProbe"), True)
        else:
            for f in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if c.get(f) is not None:
                    errs.append(forbidden(child(ip, f), "may not be set for init containers without restartPolicy=Always"))
    errs += validate_ephemeral_containers(spec, volumes, child(path, "ephemeralContainers"))
    rp = spec.get("restartPolicy") or ""
    if not rp:
        errs.append(required(child(path, "restartPolicy"), ""))
    elif rp not in _RESTART_POLICIES:
        errs.append(not_supported(child(path, "restartPolicy"), rp, _RESTART_POLICIES))
    dp = spec.get("dnsPolicy") or ""
    if not dp:
        errs.append(required(child(path, "dnsPolicy"), ""))
    elif dp not in _DNS_POLICIES:
        errs.append(not_supported(child(path, "dnsPolicy"), dp, _DNS_POLICIES))
    errs += validate_labels(spec.get("nodeSelector"), child(path, "nodeSelector"))
    if dp == "None" and not isinstance(spec.get("dnsConfig"), dict):
        errs.append(required(child(path, "dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None"))
    for i, s in enumerate(as_list(spec.get("imagePullSecrets"))):
        if not as_dict(s).get("name"):
            errs.append(required(child(idx(child(path, "imagePullSecrets"), i), "name"), ""))
    for f in ("serviceAccountName", "nodeName", "priorityClassName"):
        v = spec.get(f)
        if v:
            errs += subdomain_errors(v, child(path, f))
    ads = spec.get("activeDeadlineSeconds")
    if ads is not None and (not isinstance(ads, int) or ads < 1 or ads > MAX_INT32):
        errs.append(invalid(child(path, "activeDeadlineSeconds"), ads, inclusive_range_error(1, MAX_INT32)))
    for f in ("hostname", "subdomain"):
        v = spec.get(f)
        if v:
            errs += label_errors(v, child(path, f))
    errs += validate_tolerations(spec.get("tolerations"), child(path, "tolerations"))
    pp = spec.get("preemptionPolicy")
    if pp is not None and pp not in ("PreemptLowerPriority", "Never"):
        errs.append(not_supported(child(path, "preemptionPolicy"), pp, ["Never", "PreemptLowerPriority"]))
    for i, g in enumerate(as_list(spec.get("schedulingGates"))):
        n = as_dict(g).get("name") or ""
        errs += [invalid(child(idx(child(path, "schedulingGates"), i), "name"), n, m) for m in qualified_name_errors(n)]
    return errs



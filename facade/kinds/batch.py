"""batch/v1: Jobs and CronJobs.

Defaults follow pkg/apis/batch/v1/defaults.go; validation pkg/apis/batch/validation; the Job
strategy (pkg/registry/batch/job/strategy.go) generates the selector and the
``batch.kubernetes.io/controller-uid`` / ``job-name`` labels from the Job's uid on create.
CronJob schedules are parsed as robfig/cron's standard parser does, with its error messages,
because kube-apiserver reports them verbatim (``spec.schedule: Invalid value: "x": ...``).
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Any

from facade.errors import FieldError, invalid, not_supported, required
from facade.kinds.group_support import (
    default_object_meta_in_template,
    default_pod_template,
    go_label_selector,
    go_str,
    go_string_map,
    go_struct,
    immutable,
    invalid_raw,
    is_int,
    nonnegative,
    selector_matches,
    selector_parses,
    spec_of,
    validate_label_selector,
    validate_pod_template,
)
from facade.resource_table import ResourceInfo, Strategy
from facade.validation import dns1123_label_errors

Obj = dict[str, Any]

GROUP = "batch"
VERSION = "v1"

LEGACY_JOB_NAME_LABEL = "job-name"
LEGACY_CONTROLLER_UID_LABEL = "controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"

MAX_PARALLELISM_FOR_INDEXED_JOB = 100_000
MAX_INT32 = 2**31 - 1


# ------------------------------------------------------------------------------------ Job defaults


def default_job_spec_fields(obj: Obj) -> None:
    """SetDefaults_Job: completions/parallelism, backoffLimit, completionMode, suspend, ..."""
    spec = spec_of(obj)
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else 6
    template = spec.get("template") if isinstance(spec.get("template"), dict) else {}
    tlabels = (template.get("metadata") or {}).get("labels")
    meta = obj.setdefault("metadata", {})
    if tlabels is not None and not meta.get("labels"):
        meta["labels"] = dict(tlabels)
    if spec.get("completionMode") is None:
        spec["completionMode"] = "NonIndexed"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    pfp = spec.get("podFailurePolicy")
    if isinstance(pfp, dict):
        for rule in pfp.get("rules") or []:
            for pattern in (rule or {}).get("onPodConditions") or []:
                if isinstance(pattern, dict) and not pattern.get("status"):
                    pattern["status"] = "True"
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if pfp is not None else "TerminatingOrFailed"
    if spec.get("manualSelector") is None:
        spec["manualSelector"] = False


def generate_selector(obj: Obj) -> None:
    """generateSelector: template labels and spec.selector that tie the Job's pods to its uid."""
    meta = obj.get("metadata") or {}
    name, uid = meta.get("name", ""), meta.get("uid", "")
    spec = spec_of(obj)
    template = spec.get("template")
    if not isinstance(template, dict):
        template = spec["template"] = {}
    tmeta = template.get("metadata")
    if not isinstance(tmeta, dict):
        tmeta = template["metadata"] = {}
    labels = tmeta.get("labels")
    if not isinstance(labels, dict):
        labels = tmeta["labels"] = {}
    for key in (LEGACY_JOB_NAME_LABEL, JOB_NAME_LABEL):
        labels.setdefault(key, name)
    for key in (LEGACY_CONTROLLER_UID_LABEL, CONTROLLER_UID_LABEL):
        labels.setdefault(key, uid)
    sel = spec.get("selector")
    if not isinstance(sel, dict):
        sel = spec["selector"] = {}
    ml = sel.get("matchLabels")
    if not isinstance(ml, dict):
        ml = sel["matchLabels"] = {}
    ml.setdefault(CONTROLLER_UID_LABEL, uid)


# ---------------------------------------------------------------------------------- Job validation


def _has_label(labels: Obj | None, key: str, expected: str) -> list[FieldError]:
    """apivalidation.ValidateHasLabel at spec.template.metadata.labels[key]."""
    path = f"spec.template.metadata.labels[{key}]"
    labels = labels if isinstance(labels, dict) else {}
    if key not in labels:
        return [required(path, expected)]
    if labels[key] != expected:
        return [invalid_raw(path, go_string_map(labels), f"must be '{expected}'")]
    return []


def validate_generated_selector(obj: Obj, require_prefixed_labels: bool) -> list[FieldError]:
    spec = obj.get("spec") or {}
    if spec.get("manualSelector"):
        return []
    sel = spec.get("selector")
    if sel is None:
        return []
    meta = obj.get("metadata") or {}
    uid, name = meta.get("uid", ""), meta.get("name", "")
    errs: list[FieldError] = []
    if not uid:
        errs.append(required("metadata.uid", ""))
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    errs += _has_label(labels, LEGACY_CONTROLLER_UID_LABEL, uid)
    errs += _has_label(labels, LEGACY_JOB_NAME_LABEL, name)
    expected: dict[str, str] = {}
    if require_prefixed_labels:
        errs += _has_label(labels, CONTROLLER_UID_LABEL, uid)
        errs += _has_label(labels, JOB_NAME_LABEL, name)
        expected[CONTROLLER_UID_LABEL] = uid
    else:
        expected[LEGACY_CONTROLLER_UID_LABEL] = uid
    if selector_parses(sel) and not selector_matches(sel, expected):
        errs.append(invalid_raw("spec.selector", go_label_selector(sel), "`selector` not auto-generated"))
    return errs


def validate_job_spec_fields(spec: Obj, path: str) -> list[FieldError]:
    """validateJobSpec: counts, completionMode, podReplacementPolicy, template and restartPolicy."""
    errs: list[FieldError] = []
    for f in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished"):
        errs += nonnegative(spec.get(f), f"{path}.{f}")
    mode = spec.get("completionMode")
    blpi = spec.get("backoffLimitPerIndex")
    if blpi is not None:
        errs += nonnegative(blpi, f"{path}.backoffLimitPerIndex")
        if mode != "Indexed":
            errs.append(invalid(f"{path}.backoffLimitPerIndex", blpi, "requires indexed completion mode"))
    mfi = spec.get("maxFailedIndexes")
    if mfi is not None:
        errs += nonnegative(mfi, f"{path}.maxFailedIndexes")
        if blpi is None:
            errs.append(required(f"{path}.backoffLimitPerIndex", "when maxFailedIndexes is specified"))
        if mode != "Indexed":
            errs.append(invalid(f"{path}.maxFailedIndexes", mfi, "requires indexed completion mode"))
    if mode is not None:
        if mode not in ("NonIndexed", "Indexed"):
            errs.append(not_supported(f"{path}.completionMode", mode, ["NonIndexed", "Indexed"]))
        if mode == "Indexed":
            if spec.get("completions") is None:
                errs.append(required(f"{path}.completions", "when completion mode is Indexed"))
            par = spec.get("parallelism")
            if is_int(par) and par > MAX_PARALLELISM_FOR_INDEXED_JOB:
                errs.append(invalid(f"{path}.parallelism", par,
                                    f"must be less than or equal to {MAX_PARALLELISM_FOR_INDEXED_JOB} when "
                                    "completion mode is Indexed"))
    prp = spec.get("podReplacementPolicy")
    if prp is not None:
        allowed = ["Failed"] if spec.get("podFailurePolicy") is not None else ["Failed", "TerminatingOrFailed"]
        if prp not in allowed:
            errs.append(not_supported(f"{path}.podReplacementPolicy", prp, allowed))
    template = spec.get("template")
    errs += validate_pod_template(template if isinstance(template, dict) else {}, f"{path}.template")
    rp = ((template or {}).get("spec") or {}).get("restartPolicy", "")
    rp_path = f"{path}.template.spec.restartPolicy"
    if rp in ("Always", ""):
        errs.append(required(rp_path, 'valid values: "OnFailure", "Never"'))
    elif rp not in ("OnFailure", "Never"):
        errs.append(not_supported(rp_path, rp, ["OnFailure", "Never"]))
    elif spec.get("podFailurePolicy") is not None and rp != "Never":
        errs.append(invalid(rp_path, rp, 'only "Never" is supported when podFailurePolicy is specified'))
    return errs


def validate_job(obj: Obj, require_prefixed_labels: bool = True) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errs = validate_generated_selector(obj, require_prefixed_labels)
    errs += validate_job_spec_fields(spec, "spec")
    sel = spec.get("selector")
    if sel is None:
        errs.append(required("spec.selector", ""))
    else:
        errs += validate_label_selector(sel, "spec.selector")
    if selector_parses(sel):
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
        if not selector_matches(sel, labels):
            errs.append(invalid_raw("spec.template.metadata.labels", go_string_map(labels),
                                    "`selector` does not match template `labels`"))
    completions = spec.get("completions")
    if spec.get("completionMode") == "Indexed" and is_int(completions) and completions > 0:
        name = (obj.get("metadata") or {}).get("name", "")
        hostname = f"{name}-{completions - 1}"
        if dns1123_label_errors(hostname):
            errs.append(invalid("metadata.name", name,
                                f"will not able to create pod with invalid DNS label: {hostname}"))
    return errs


class JobStrategy(Strategy):
    has_status = True
    tracks_generation = True

    def defaults(self, obj: Obj) -> None:
        default_job_spec_fields(obj)
        default_pod_template(spec_of(obj).setdefault("template", {}))

    def initial_status(self, obj: Obj) -> None:
        obj["status"] = {}

    def prepare_for_create(self, obj: Obj) -> None:
        spec = spec_of(obj)
        if not spec.get("manualSelector"):
            generate_selector(obj)
        super().prepare_for_create(obj)
        # the stored Job is defaulted again when read: labels copy from the generated template labels
        tlabels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
        meta = obj.setdefault("metadata", {})
        if tlabels is not None and not meta.get("labels"):
            meta["labels"] = dict(tlabels)

    def generation_changed(self, new: Obj, old: Obj) -> bool:
        return new.get("spec") != old.get("spec")

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_job(obj, True)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        old_labels = ((((old.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels")) or {}
        prefixed = JOB_NAME_LABEL in old_labels and CONTROLLER_UID_LABEL in old_labels
        errs = validate_job(new, prefixed)
        ns, os_ = new.get("spec") or {}, old.get("spec") or {}
        errs += _validate_completions_update(ns, os_)
        errs += immutable(ns.get("selector"), os_.get("selector"), "spec.selector", go_label_selector(ns.get("selector")))
        errs += _validate_template_update(ns, os_, old)
        for f in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy", "successPolicy"):
            errs += immutable(ns.get(f), os_.get(f), f"spec.{f}")
        return errs

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        return {"status.successful": str((obj.get("status") or {}).get("succeeded") or 0)}


def _validate_completions_update(ns: Obj, os_: Obj) -> list[FieldError]:
    """Completions are immutable, except for Indexed Jobs scaled in tandem with parallelism."""
    new_c, old_c = ns.get("completions"), os_.get("completions")
    if ns.get("completionMode") != "Indexed":
        return immutable(new_c, old_c, "spec.completions")
    if new_c == old_c or new_c is None:
        return []
    if new_c != ns.get("parallelism"):
        return [invalid("spec.completions", new_c, "can only be modified in tandem with spec.parallelism")]
    return []


_SCHEDULING_FIELDS = ("nodeSelector", "affinity", "tolerations", "schedulingGates")


def _validate_template_update(ns: Obj, os_: Obj, old: Obj) -> list[FieldError]:
    """The pod template is immutable, except scheduling directives of a suspended, never-started Job."""
    new_t, old_t = ns.get("template"), os_.get("template")
    if new_t == old_t:
        return []
    suspended = bool(os_.get("suspend"))
    not_started = not (old.get("status") or {}).get("startTime")
    if suspended and not_started and isinstance(new_t, dict) and isinstance(old_t, dict):
        nt = {**new_t, "spec": {k: v for k, v in (new_t.get("spec") or {}).items() if k not in _SCHEDULING_FIELDS}}
        ot = {**old_t, "spec": {k: v for k, v in (old_t.get("spec") or {}).items() if k not in _SCHEDULING_FIELDS}}
        nt["metadata"] = {k: v for k, v in (new_t.get("metadata") or {}).items() if k not in ("labels", "annotations")}
        ot["metadata"] = {k: v for k, v in (old_t.get("metadata") or {}).items() if k not in ("labels", "annotations")}
        if nt == ot:
            return []
    return immutable(new_t, old_t, "spec.template", "core.PodTemplateSpec" + go_struct(new_t))


# ----------------------------------------------------------------------------------- cron parsing


_BOUNDS = {
    "minute": (0, 59, None),
    "hour": (0, 23, None),
    "dom": (1, 31, None),
    "month": (1, 12, {m: i + 1 for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}),
    "dow": (0, 6, {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}),
}
_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


class CronError(ValueError):
    """A schedule robfig/cron rejects; the message is the one kube-apiserver reports."""


def _atoi(expr: str) -> int:
    """Go's strconv.Atoi, with its error text."""
    if not re.fullmatch(r"[+-]?[0-9]+", expr):
        raise CronError(f'failed to parse int from {expr}: strconv.Atoi: parsing {go_str(expr)}: invalid syntax')
    n = int(expr)
    if not -(2**63) <= n < 2**63:
        raise CronError(f'failed to parse int from {expr}: strconv.Atoi: parsing {go_str(expr)}: value out of range')
    if n < 0:
        raise CronError(f"negative number ({n}) not allowed: {expr}")
    return n


def _int_or_name(expr: str, names: dict[str, int] | None) -> int:
    if names and expr.lower() in names:
        return names[expr.lower()]
    return _atoi(expr)


def _parse_range(expr: str, lo: int, hi: int, names: dict[str, int] | None) -> None:
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    if low_high[0] in ("*", "?"):
        start, end = lo, hi
    else:
        start = _int_or_name(low_high[0], names)
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _int_or_name(low_high[1], names)
        else:
            raise CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _atoi(range_and_step[1])
        if len(low_high) == 1:
            end = hi
    else:
        raise CronError(f"too many slashes: {expr}")
    if start < lo:
        raise CronError(f"beginning of range ({start}) below minimum ({lo}): {expr}")
    if end > hi:
        raise CronError(f"end of range ({end}) above maximum ({hi}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")


_DURATION = re.compile(r"([0-9]*(?:\.[0-9]*)?)([a-zµμ]*)")
_UNITS = {"ns", "us", "µs", "μs", "ms", "s", "m", "h"}


def _check_go_duration(text: str) -> None:
    """time.ParseDuration's acceptance and error messages (for ``@every <duration>``)."""
    orig, s = text, text
    if s[:1] in ("+", "-"):
        s = s[1:]
    if s == "0":
        return
    if not s:
        raise CronError(f"time: invalid duration {go_str(orig)}")
    while s:
        m = _DURATION.match(s)
        num, unit = (m.group(1), m.group(2)) if m else ("", "")
        if not num or num == ".":
            raise CronError(f"time: invalid duration {go_str(orig)}")
        if not unit:
            raise CronError(f"time: missing unit in duration {go_str(orig)}")
        if unit not in _UNITS:
            raise CronError(f"time: unknown unit {go_str(unit)} in duration {go_str(orig)}")
        s = s[m.end():] if m else ""


def _load_location(name: str) -> None:
    if name in ("", "UTC", "Local"):
        return
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as e:
        raise CronError(f"unknown time zone {name}") from e


def parse_standard_schedule(spec: str) -> None:
    """robfig/cron ParseStandard: raise CronError with its message when ``spec`` is not valid."""
    if not spec:
        raise CronError("empty spec string")
    if spec.startswith("TZ=") or spec.startswith("CRON_TZ="):
        i = spec.find(" ")
        eq = spec.find("=")
        loc = spec[eq + 1 : i] if i >= 0 else spec[eq + 1 :]
        try:
            _load_location(loc)
        except CronError as e:
            raise CronError(f"provided bad location {loc}: {e}") from None
        spec = spec[i:].strip() if i >= 0 else ""
    if spec.startswith("@"):
        if spec in _DESCRIPTORS:
            return
        if spec.startswith("@every "):
            try:
                _check_go_duration(spec[len("@every "):])
            except CronError as e:
                raise CronError(f"failed to parse duration {spec}: {e}") from None
            return
        raise CronError(f"unrecognized descriptor: {spec}")
    fields = spec.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    for text, place in zip(fields, ("minute", "hour", "dom", "month", "dow"), strict=True):
        lo, hi, names = _BOUNDS[place]
        for expr in [r for r in text.split(",") if r]:
            _parse_range(expr, lo, hi, names)


def _validate_schedule(schedule: str, allow_tz: bool, time_zone: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    try:
        parse_standard_schedule(schedule)
    except CronError as e:
        errs.append(invalid(path, schedule, str(e)))
    if allow_tz and "TZ" in schedule and time_zone is not None:
        errs.append(invalid(path, schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
    elif not allow_tz and "TZ" in schedule:
        errs.append(invalid(path, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
    return errs


_TZ_PART = re.compile(r"^[A-Za-z\.\-_0-9+]{1,14}$")


def _validate_time_zone(tz: Any, path: str) -> list[FieldError]:
    if tz is None:
        return []
    if tz == "":
        return [invalid(path, tz, "timeZone must be nil or non-empty string")]
    for part in str(tz).split("/"):
        if part in (".", "..") or part.startswith("-") or not _TZ_PART.match(part):
            return [invalid(path, tz, f"unknown time zone {tz}")]
    errs: list[FieldError] = []
    if str(tz).lower() == "local":
        errs.append(invalid(path, tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"))
    try:
        _load_location(str(tz))
    except CronError as e:
        errs.append(invalid(path, tz, str(e)))
    return errs


# ---------------------------------------------------------------------------------------- CronJob


def _validate_job_template(jt: Obj, path: str) -> list[FieldError]:
    """ValidateJobTemplateSpec: the Job spec rules, and the selector is always generated."""
    spec = jt.get("spec") or {}
    errs = validate_job_spec_fields(spec, f"{path}.spec")
    if spec.get("selector") is not None:
        errs.append(invalid_raw(f"{path}.spec.selector", go_label_selector(spec["selector"]),
                                "`selector` will be auto-generated"))
    if spec.get("manualSelector"):
        errs.append(not_supported(f"{path}.spec.manualSelector", True, ["nil", "false"]))
    return errs


def validate_cronjob_spec(spec: Obj, old_spec: Obj | None) -> list[FieldError]:
    errs: list[FieldError] = []
    schedule = spec.get("schedule") or ""
    if not schedule:
        errs.append(required("spec.schedule", ""))
    else:
        allow_tz = old_spec is not None and "TZ" in (old_spec.get("schedule") or "")
        errs += _validate_schedule(schedule, allow_tz, spec.get("timeZone"), "spec.schedule")
    errs += nonnegative(spec.get("startingDeadlineSeconds"), "spec.startingDeadlineSeconds")
    if old_spec is None or old_spec.get("timeZone") != spec.get("timeZone"):
        errs += _validate_time_zone(spec.get("timeZone"), "spec.timeZone")
    cp = spec.get("concurrencyPolicy", "")
    if cp == "":
        errs.append(required("spec.concurrencyPolicy", ""))
    elif cp not in ("Allow", "Forbid", "Replace"):
        errs.append(not_supported("spec.concurrencyPolicy", cp, ["Allow", "Forbid", "Replace"]))
    jt = spec.get("jobTemplate")
    errs += _validate_job_template(jt if isinstance(jt, dict) else {}, "spec.jobTemplate")
    errs += nonnegative(spec.get("successfulJobsHistoryLimit"), "spec.successfulJobsHistoryLimit")
    errs += nonnegative(spec.get("failedJobsHistoryLimit"), "spec.failedJobsHistoryLimit")
    return errs


class CronJobStrategy(Strategy):
    has_status = True
    tracks_generation = True

    def defaults(self, obj: Obj) -> None:
        spec = spec_of(obj)
        if not spec.get("concurrencyPolicy"):
            spec["concurrencyPolicy"] = "Allow"
        if spec.get("suspend") is None:
            spec["suspend"] = False
        if spec.get("successfulJobsHistoryLimit") is None:
            spec["successfulJobsHistoryLimit"] = 3
        if spec.get("failedJobsHistoryLimit") is None:
            spec["failedJobsHistoryLimit"] = 1
        jt = spec.get("jobTemplate")
        if not isinstance(jt, dict):
            jt = spec["jobTemplate"] = {}
        default_object_meta_in_template(jt)
        jspec = jt.get("spec")
        if not isinstance(jspec, dict):
            jspec = jt["spec"] = {}
        default_pod_template(jspec.setdefault("template", {}))

    def initial_status(self, obj: Obj) -> None:
        obj["status"] = {}

    def generation_changed(self, new: Obj, old: Obj) -> bool:
        return new.get("spec") != old.get("spec")

    def validate(self, obj: Obj) -> list[FieldError]:
        errs = validate_cronjob_spec(obj.get("spec") or {}, None)
        name = (obj.get("metadata") or {}).get("name", "")
        if len(name) > 52:
            errs.append(invalid("metadata.name", name, "must be no more than 52 characters"))
        return errs

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return validate_cronjob_spec(new.get("spec") or {}, old.get("spec") or {})


RESOURCES: list[ResourceInfo] = [
    ResourceInfo(GROUP, VERSION, "Job", "jobs", "job", True, (), ("all",), subresources=("status",),
                 strategy=JobStrategy()),
    ResourceInfo(GROUP, VERSION, "CronJob", "cronjobs", "cronjob", True, ("cj",), ("all",), subresources=("status",),
                 strategy=CronJobStrategy()),
]

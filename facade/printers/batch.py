"""Table printers for batch/v1: Job (STATUS, COMPLETIONS, DURATION) and CronJob."""

from __future__ import annotations

from typing import Any

from facade.printers.core import CONTAINERS_DOC, IMAGES_DOC
from facade.printers.format import (
    NONE,
    Obj,
    age,
    age_column,
    dig,
    doc,
    format_label_selector,
    human_duration,
    layout_containers,
    meta,
    name,
    name_column,
    now,
    obj_age,
    parse_time,
    print_bool,
)
from facade.resource_table import Column, Printer


def _has_condition(conditions: list[Obj], ctype: str) -> bool:
    """hasJobCondition: the first condition of that type decides."""
    for c in conditions:
        if c.get("type") == ctype:
            return c.get("status") == "True"
    return False


def job_status(job: Obj) -> str:
    """Complete, Failed, Terminating, Suspended, FailureTarget or Running, in upstream's order."""
    conditions = dig(job, "status", "conditions", default=[])
    if _has_condition(conditions, "Complete"):
        return "Complete"
    if _has_condition(conditions, "Failed"):
        return "Failed"
    if meta(job).get("deletionTimestamp") is not None:
        return "Terminating"
    if _has_condition(conditions, "Suspended"):
        return "Suspended"
    if _has_condition(conditions, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def job_completions(job: Obj) -> str:
    """"succeeded/completions"; for work queues "n/1", or "n/1 of parallelism" when parallel."""
    succeeded = dig(job, "status", "succeeded", default=0)
    completions = dig(job, "spec", "completions")
    if completions is not None:
        return f"{succeeded}/{completions}"
    parallelism = dig(job, "spec", "parallelism", default=0)
    if parallelism > 1:
        return f"{succeeded}/1 of {parallelism}"
    return f"{succeeded}/1"


def job_duration(job: Obj) -> str:
    """Time from startTime to completionTime (or to now while running); "" before it starts."""
    start = parse_time(dig(job, "status", "startTime"))
    if start is None:
        return ""
    end = parse_time(dig(job, "status", "completionTime"))
    return human_duration(((end or now()) - start).total_seconds())


def jobs() -> Printer:
    def cells(obj: Obj) -> list[Any]:
        names, images = layout_containers(dig(obj, "spec", "template", "spec", "containers"))
        return [
            name(obj),
            job_status(obj),
            job_completions(obj),
            job_duration(obj),
            obj_age(obj),
            names,
            images,
            format_label_selector(dig(obj, "spec", "selector")),
        ]

    return Printer(
        columns=[
            name_column(),
            Column("Status", "string", "", "Status of the job."),
            Column("Completions", "string", "", doc("batch.v1.JobStatus", "succeeded")),
            Column("Duration", "string", "", "Time required to complete the job."),
            age_column(),
            Column("Containers", "string", "", CONTAINERS_DOC, 1),
            Column("Images", "string", "", IMAGES_DOC, 1),
            Column("Selector", "string", "", doc("batch.v1.JobSpec", "selector"), 1),
        ],
        cells=cells,
    )


def cron_jobs() -> Printer:
    def cells(obj: Obj) -> list[Any]:
        spec = obj.get("spec") or {}
        last = dig(obj, "status", "lastScheduleTime")
        job_spec = dig(spec, "jobTemplate", "spec", default={})
        names, images = layout_containers(dig(job_spec, "template", "spec", "containers"))
        return [
            name(obj),
            spec.get("schedule", ""),
            spec.get("timeZone") if spec.get("timeZone") is not None else NONE,
            print_bool(spec.get("suspend")),
            len(dig(obj, "status", "active", default=[])),
            age(last) if last is not None else NONE,
            obj_age(obj),
            names,
            images,
            format_label_selector(job_spec.get("selector")),
        ]

    return Printer(
        columns=[
            name_column(),
            Column("Schedule", "string", "", doc("batch.v1.CronJobSpec", "schedule")),
            Column("Timezone", "string", "", doc("batch.v1.CronJobSpec", "timeZone")),
            Column("Suspend", "boolean", "", doc("batch.v1.CronJobSpec", "suspend")),
            Column("Active", "integer", "", doc("batch.v1.CronJobStatus", "active")),
            Column("Last Schedule", "string", "", doc("batch.v1.CronJobStatus", "lastScheduleTime")),
            age_column(),
            Column("Containers", "string", "", CONTAINERS_DOC, 1),
            Column("Images", "string", "", IMAGES_DOC, 1),
            Column("Selector", "string", "", doc("batch.v1.JobSpec", "selector"), 1),
        ],
        cells=cells,
    )


PRINTERS = {"Job": jobs, "CronJob": cron_jobs}

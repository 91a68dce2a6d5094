"""The HorizontalPodAutoscaler controller (pkg/controller/podautoscaler/horizontal.go), autoscaling/v2.

Every 15 s on the controllers' clock (``--horizontal-pod-autoscaler-sync-period``) each HPA is
reconciled: read the target's ``scale``, list its pods by the scale's selector, turn their
metrics.k8s.io samples into a proposal per metric (``hpa_calculator``), normalize it
(``hpa_normalize``), PUT the scale when the count changes, and write status, conditions and Events
as upstream does. As upstream's rate-limited queue, a change to an HPA never triggers an immediate
sync: it is picked up at its next period, so a FakeClock advance of 15 s is one sync.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from controllers.base import Controller, WorkQueue
from controllers.client import Client
from controllers.clock import Clock
from controllers.event_recorder import NORMAL, WARNING, EventRecorder
from controllers.hpa_metrics import MetricError, compute_metric
from controllers.hpa_normalize import History, normalize, record_scale, set_condition
from controllers.hpa_replicas import Recommendation
from controllers.hpa_sources import sources_for
from facade.errors import APIError
from storage.selectors import LabelSelector, SelectorError, parse_label_selector

log = logging.getLogger("kubefacade.controllers")

Obj = dict[str, Any]

SYNC_SECONDS = 15.0  # --horizontal-pod-autoscaler-sync-period
DOWNSCALE_STABILIZATION_SECONDS = 300.0  # --horizontal-pod-autoscaler-downscale-stabilization
COMPONENT = "horizontal-pod-autoscaler"
API_VERSION = "autoscaling/v2"
PLURAL = "horizontalpodautoscalers"


class ClockQueue(WorkQueue):
    """NewDefaultHPARateLimiter's queue: every add is due one period later on the clock; a key already
    waiting is not added twice, so each HPA is reconciled once per period however often it changes."""

    def __init__(self, clock: Clock, period: float) -> None:
        super().__init__()
        self.clock = clock
        self.period = period
        self._waiting: set[str] = set()

    def add(self, key: str) -> None:
        if key in self._waiting:
            return
        self._waiting.add(key)
        self.clock.call_later(self.period, lambda: self._due(key))

    def _due(self, key: str) -> None:
        self._waiting.discard(key)
        super().add(key)

    def retry(self, key: str) -> None:
        self.add(key)


class HorizontalController(Controller):
    api_version = API_VERSION
    plural = PLURAL
    name = "horizontal-pod-autoscaler"

    def __init__(self, client: Client, clock: Clock, sync_seconds: float = SYNC_SECONDS,
                 downscale_stabilization: float = DOWNSCALE_STABILIZATION_SECONDS) -> None:
        super().__init__(client)
        self.clock = clock
        self.queue = ClockQueue(clock, sync_seconds)
        self.downscale_stabilization = downscale_stabilization
        self.scales, self.metrics = sources_for(client, clock)
        self.recorder = EventRecorder(client, COMPONENT, clock)
        self.history: dict[str, History] = {}
        self.selectors: dict[str, LabelSelector] = {}

    def _forget(self, key: str) -> None:
        self.history.pop(key, None)
        self.selectors.pop(key, None)

    async def reconcile(self, key: str) -> None:
        if key not in self.cache:
            self._forget(key)
            return
        namespace, _, name = key.partition("/")
        try:
            hpa = await self.client.get(API_VERSION, PLURAL, name, namespace)
        except APIError as e:
            if e.code == 404:
                self._forget(key)
                return
            raise
        self.queue.add(key)  # the next sync, one period on (due before anything of this one shows)
        await self._reconcile(key, hpa)

    # -- one sync --------------------------------------------------------------------------------

    async def _reconcile(self, key: str, hpa: Obj) -> None:
        before = copy.deepcopy(hpa.get("status"))
        hpa.setdefault("status", {})
        spec = hpa.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        namespace = hpa["metadata"]["namespace"]
        now_text = self.clock.rfc3339()
        api_version = ref.get("apiVersion") or ""
        try:
            if api_version.count("/") > 1:
                raise APIError(400, "BadRequest", f"unexpected GroupVersion string: {api_version}")
            scale, plural = await self.scales.get(api_version, ref.get("kind", ""), namespace, ref.get("name", ""))
        except APIError as e:
            await self.recorder.event(hpa, WARNING, "FailedGetScale", e.message)
            set_condition(hpa, "AbleToScale", "False", "FailedGetScale",
                          f"the HPA controller was unable to get the target's current scale: {e.message}", now_text)
            await self._write_status(hpa, before)
            return
        set_condition(hpa, "AbleToScale", "True", "SucceededGetScale",
                      "the HPA controller was able to get the target's current scale", now_text)
        current = int((scale.get("spec") or {}).get("replicas") or 0)
        history = self.history.get(key)
        if history is None:  # recordInitialRecommendation
            history = self.history[key] = History([Recommendation(current, self.clock.now())])
        min_replicas = int(spec["minReplicas"]) if spec.get("minReplicas") is not None else 1
        max_replicas = int(spec.get("maxReplicas") or 0)
        rescale, desired, reason = True, 0, ""
        statuses: list[Obj] | None = None
        if current == 0 and min_replicas != 0:
            rescale = False
            set_condition(hpa, "ScalingActive", "False", "ScalingDisabled",
                          "scaling is disabled since the replica count of the target is zero", now_text)
        elif current > max_replicas:
            reason, desired = "Current number of replicas above Spec.MaxReplicas", max_replicas
        elif current < min_replicas:
            reason, desired = "Current number of replicas below Spec.MinReplicas", min_replicas
        else:
            proposal, metric, statuses, error = await self._compute_replicas(key, hpa, scale, now_text)
            if error and proposal == -1:
                self._set_status(hpa, current, int(hpa["status"].get("desiredReplicas") or 0), statuses, False)
                await self._write_status(hpa, before)
                await self.recorder.event(hpa, WARNING, "FailedComputeMetricsReplicas", error)
                return
            if proposal > desired:
                desired = proposal
            if desired > current:
                reason = f"{metric} above target"
            if desired < current:
                reason = "All metrics below target"
            desired = normalize(hpa, history, current, desired, min_replicas, self.clock.now(), now_text,
                                self.downscale_stabilization)
            rescale = desired != current
        if rescale:
            scale.setdefault("spec", {})["replicas"] = desired
            try:
                await self.scales.update(api_version, plural, namespace, scale)
            except APIError as e:
                await self.recorder.event(hpa, WARNING, "FailedRescale",
                                          f"New size: {desired}; reason: {reason}; error: {e.message}")
                set_condition(hpa, "AbleToScale", "False", "FailedUpdateScale",
                              f"the HPA controller was unable to update the target scale: {e.message}", now_text)
                self._set_status(hpa, current, int(hpa["status"].get("desiredReplicas") or 0), statuses, False)
                await self._write_status(hpa, before)
                return
            set_condition(hpa, "AbleToScale", "True", "SucceededRescale",
                          f"the HPA controller was able to update the target scale to {desired}", now_text)
            await self.recorder.event(hpa, NORMAL, "SuccessfulRescale", f"New size: {desired}; reason: {reason}")
            record_scale(hpa, history, current, desired, self.clock.now())
        else:
            desired = current
        self._set_status(hpa, current, desired, statuses, rescale)
        await self._write_status(hpa, before)

    async def _compute_replicas(self, key: str, hpa: Obj, scale: Obj,
                                now_text: str) -> tuple[int, str, list[Obj] | None, str]:
        """computeReplicasForMetrics: (replicas or -1, metric name, metric statuses, error text)."""
        namespace = hpa["metadata"]["namespace"]
        selector_text = (scale.get("status") or {}).get("selector") or ""
        if not selector_text:
            await self.recorder.event(hpa, WARNING, "SelectorRequired", "selector is required")
            set_condition(hpa, "ScalingActive", "False", "InvalidSelector",
                          "the HPA target's scale is missing a selector", now_text)
            return -1, "", None, "selector is required"
        try:
            selector = parse_label_selector(selector_text)
        except SelectorError as e:
            message = f"couldn't convert selector into a corresponding internal selector object: {e.message}"
            await self.recorder.event(hpa, WARNING, "InvalidSelector", message)
            set_condition(hpa, "ScalingActive", "False", "InvalidSelector", message, now_text)
            return -1, "", None, message
        self.selectors[key] = selector
        pods, _ = await self.client.list("v1", "pods", namespace, label_selector=str(selector))
        others = sorted(k for k, sel in self.selectors.items() if k.startswith(f"{namespace}/")
                        and any(sel.matches(p["metadata"].get("labels") or {}) for p in pods))
        if len(others) > 1:
            keys = " ".join("{" + k.partition("/")[2] + " " + namespace + "}" for k in others)
            message = f"pods by selector {selector_text} are controlled by multiple HPAs: [{keys}]"
            await self.recorder.event(hpa, WARNING, "AmbiguousSelector", message)
            set_condition(hpa, "ScalingActive", "False", "AmbiguousSelector", message, now_text)
            return -1, "", None, message
        specs = (hpa.get("spec") or {}).get("metrics") or []
        spec_replicas = int((scale.get("spec") or {}).get("replicas") or 0)
        statuses: list[Obj] = [{"type": ""} for _ in specs]
        replicas, metric = 0, ""
        invalid, first_error, first_reason, first_detail = 0, "", "", ""
        items: list[Obj] | None = None
        fetch_error = ""
        for i, spec in enumerate(specs):
            try:
                if items is None and not fetch_error and spec.get("type") in ("Resource", "ContainerResource"):
                    items, fetch_error = await self._pod_metrics(namespace, str(selector))
                proposal, name, statuses[i] = compute_metric(spec, spec_replicas, pods, items, self.clock.now(),
                                                             fetch_error)
            except MetricError as e:
                await self.recorder.event(hpa, WARNING, e.reason, e.detail)
                if invalid == 0:
                    first_error, first_reason, first_detail = e.message, e.reason, e.detail
                invalid += 1
                continue
            if replicas == 0 or proposal > replicas:
                replicas, metric = proposal, name
        error = f"invalid metrics ({invalid} invalid out of {len(specs)}), first error is: {first_error}" if invalid else ""
        if invalid >= len(specs) or (invalid and replicas < spec_replicas):
            set_condition(hpa, "ScalingActive", "False", first_reason,
                          f"the HPA was unable to compute the replica count: {first_detail}", now_text)
            return -1, "", statuses, error
        set_condition(hpa, "ScalingActive", "True", "ValidMetricFound",
                      f"the HPA was able to successfully calculate a replica count from {metric}", now_text)
        return replicas, metric, statuses, error

    async def _pod_metrics(self, namespace: str, selector: str) -> tuple[list[Obj] | None, str]:
        """The pods' samples, or why the metrics API did not answer."""
        try:
            return await self.metrics.list(namespace, selector), ""
        except APIError as e:
            return None, e.message

    # -- status ----------------------------------------------------------------------------------

    def _set_status(self, hpa: Obj, current: int, desired: int, statuses: list[Obj] | None, rescale: bool) -> None:
        """setStatus: rebuilt from the counts and metrics, keeping lastScaleTime and the conditions."""
        old = hpa.get("status") or {}
        status: Obj = {}
        generation = hpa["metadata"].get("generation")
        if generation:
            status["observedGeneration"] = generation
        if rescale:
            status["lastScaleTime"] = self.clock.rfc3339()
        elif old.get("lastScaleTime"):
            status["lastScaleTime"] = old["lastScaleTime"]
        if current:
            status["currentReplicas"] = current
        status["desiredReplicas"] = desired
        status["currentMetrics"] = statuses
        if old.get("conditions"):
            status["conditions"] = old["conditions"]
        hpa["status"] = status

    async def _write_status(self, hpa: Obj, before: Obj | None) -> None:
        """updateStatusIfNeeded: one PUT of the status subresource when anything changed."""
        if hpa.get("status") == before:
            return
        try:
            await self.client.update_status(API_VERSION, PLURAL, hpa, hpa["metadata"]["namespace"])
        except APIError as e:
            await self.recorder.event(hpa, WARNING, "FailedUpdateStatus", e.message)
            log.debug("%s: status of %s not written: %s", self.name, hpa["metadata"]["name"], e.message)


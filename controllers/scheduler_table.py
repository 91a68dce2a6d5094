"""The scheduler's node table: what filtering and scoring read of every node, as numpy columns.

kube-scheduler filters and scores a few hundred nodes per pod in Go; the same loop in Python was a
fifth of a busy 1,000-node cluster's CPU. For a pod that needs nothing but node-level checks (the
static filters, the pod count, cpu/memory requests) and plain scoring (no preferred node affinity,
no PreferNoSchedule taint among the candidates), this table answers with a few array operations:
the same nodes examined in the same rotating order, the same scores (the same IEEE operations in
the same order as scheduler_scoring.py), the same tie-break. Anything else returns None and the
scheduler takes the per-node path.

The NodeInfos stay the truth: every change to one is copied into its row (``sync_pods`` when pods
come and go, ``sync_node`` when the Node object changes). Quantities are kept as exact integers
(cpu in nanocores, memory in bytes); a quantity finer than that sends the pods to the per-node path.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from controllers.scheduler_cache import NodeInfo, PodFacts
from controllers.scheduler_filters import static_verdict

Obj = dict[str, Any]

MAX = 100.0
NANO = 10**9
_LIMIT = 2**62
MASK_CAP = 256


def _exact(q: Fraction, scale: int) -> int | None:
    v = q * scale
    if v.denominator != 1 or not -_LIMIT < v.numerator < _LIMIT:
        return None
    return v.numerator


class NodeTable:
    """Row ``i`` mirrors ``nodes[i]`` (the scheduler's node list, sorted by name)."""

    def __init__(self, nodes: list[NodeInfo]) -> None:
        self.nodes = nodes
        n = self.size = len(nodes)
        self.pod_count = np.zeros(n, np.int64)
        self.pod_limit = np.full(n, np.inf)
        self.nz_cpu = np.zeros(n)
        self.nz_memory = np.zeros(n)
        self.cpu = np.zeros(n)  # NodeFacts.cpu / .memory: allocatable as floats, for scoring
        self.memory = np.zeros(n)
        self.free_cpu = np.zeros(n, np.int64)  # allocatable - requested, exact
        self.free_memory = np.zeros(n, np.int64)
        self.inexact = np.zeros(n, bool)
        self.soft_taints = np.zeros(n, bool)
        self.groups: dict[str, np.ndarray] = {}
        self._group_totals: dict[str, int] = {}
        #: static-filter verdicts per pod signature: (passes, known) per row
        self.masks: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
        for i, ni in enumerate(nodes):
            ni.table_row = (self, i)
            self.sync_node(ni, i)
            self.sync_pods(ni, i, None)
            for g, count in ni.groups.items():
                self._set_group(i, g, count)

    # -- keeping rows current -------------------------------------------------------------------

    def sync_node(self, ni: NodeInfo, i: int) -> None:
        facts = ni.facts()
        self.pod_limit[i] = facts.pod_limit
        self.cpu[i] = facts.cpu
        self.memory[i] = facts.memory
        self.soft_taints[i] = bool(facts.soft_taints)
        for _passes, known in self.masks.values():
            known[i] = False
        self._sync_free(ni, i)

    def sync_pods(self, ni: NodeInfo, i: int, group: str | None) -> None:
        self.pod_count[i] = len(ni.pods)
        self.nz_cpu[i] = ni.nz_cpu
        self.nz_memory[i] = ni.nz_memory
        self._sync_free(ni, i)
        if group is not None:
            self._set_group(i, group, ni.groups.get(group, 0))

    def _sync_free(self, ni: NodeInfo, i: int) -> None:
        alloc, used = ni.allocatable, ni.requested
        cpu = _exact(alloc.get("cpu", Fraction(0)) - used.get("cpu", Fraction(0)), NANO)
        memory = _exact(alloc.get("memory", Fraction(0)) - used.get("memory", Fraction(0)), 1)
        self.inexact[i] = cpu is None or memory is None
        self.free_cpu[i] = cpu or 0
        self.free_memory[i] = memory or 0

    def _set_group(self, i: int, group: str, count: int) -> None:
        counts = self.groups.get(group)
        if counts is None:
            if not count:
                return
            counts = self.groups[group] = np.zeros(self.size, np.int32)
            self._group_totals[group] = 0
        total = self._group_totals[group] + count - int(counts[i])
        counts[i] = count
        if total:
            self._group_totals[group] = total
        else:  # a group with no pod left anywhere (an old ReplicaSet): drop its column
            del self.groups[group], self._group_totals[group]

    def detach(self) -> None:
        for ni in self.nodes:
            if ni.table_row is not None and ni.table_row[0] is self:
                ni.table_row = None

    # -- filtering ------------------------------------------------------------------------------

    def _static(self, pod: Obj, facts: PodFacts) -> np.ndarray:
        """Which rows pass the static filters for this pod's signature."""
        entry = self.masks.get(facts.signature)
        if entry is None:
            if len(self.masks) >= MASK_CAP:
                self.masks.clear()
            entry = self.masks[facts.signature] = (np.zeros(self.size, bool), np.zeros(self.size, bool))
        passes, known = entry
        if not known.all():
            for i in np.flatnonzero(~known).tolist():
                passes[i] = static_verdict(pod, self.nodes[i]) is None
                known[i] = True
        return passes

    def feasible_rows(self, pod: Obj, facts: PodFacts, start: int, enough: int) -> tuple[np.ndarray, int] | None:
        """(rows that fit, in the order examined from ``start`` round; how many rows were examined),
        or None when this pod needs the per-node path (or nothing fits: the per-node path words why)."""
        want_cpu = want_memory = 0
        for name, want in facts.checked_requests:
            exact = _exact(want, NANO if name == "cpu" else 1) if name in ("cpu", "memory") else None
            if exact is None:
                return None
            if name == "cpu":
                want_cpu = exact
            else:
                want_memory = exact
        fits = self._static(pod, facts) & (self.pod_count + 1 <= self.pod_limit)
        if want_cpu or want_memory:
            if self.inexact.any():
                return None
            fits &= (want_cpu <= self.free_cpu) & (want_memory <= self.free_memory)
        n = self.size
        rotated = np.concatenate((fits[start:], fits[:start])) if start else fits
        pos = np.flatnonzero(rotated)
        if not len(pos):
            return None
        if len(pos) >= enough:
            pos = pos[:enough]
            examined = int(pos[-1]) + 1
        else:
            examined = n
        rows = pos + start
        rows[rows >= n] -= n
        return rows, examined

    # -- scoring --------------------------------------------------------------------------------

    def best(self, facts: PodFacts, rows: np.ndarray) -> NodeInfo | None:
        """scheduler_scoring.best_node for a pod without preferred node affinity, or None when a
        candidate has a PreferNoSchedule taint (the per-node scoring handles those)."""
        if self.soft_taints[rows].any():
            return None
        column = self.groups.get(facts.group) if facts.group else None
        counts = column[rows].astype(np.float64) if column is not None else np.zeros(len(rows))
        top = float(counts.max())
        spread = MAX - counts * MAX / top if top > 0 else np.full(len(rows), MAX)
        cpu, memory = self.cpu[rows], self.memory[rows]
        with np.errstate(divide="ignore", invalid="ignore"):
            f_cpu = np.where(cpu > 0, (self.nz_cpu[rows] + facts.nz_cpu) / cpu, 1.0)
            f_mem = np.where(memory > 0, (self.nz_memory[rows] + facts.nz_memory) / memory, 1.0)
        least = (np.maximum(0.0, 1.0 - f_cpu) * MAX + np.maximum(0.0, 1.0 - f_mem) * MAX) / 2
        a, b = np.minimum(f_cpu, 1.0), np.minimum(f_mem, 1.0)
        mean = (a + b) / 2
        balanced = (1 - np.sqrt(((a - mean) ** 2 + (b - mean) ** 2) / 2)) * MAX
        totals = (least + balanced) + 2 * spread + 3 * MAX
        top_total = float(totals.max())
        # compared rounded to 6 decimals: only totals within a rounding step of the best can tie
        near = np.flatnonzero(totals >= top_total - 2e-6)
        if len(near) > 1:
            best_score = round(top_total, 6)
            values = totals[near]
            tied = [v for v in np.unique(values).tolist() if round(v, 6) == best_score]
            near = near[np.isin(values, tied)]
            tied_rows = rows[near]
            # fewest pods first, then the name: rows are in name order
            pick = int(tied_rows[np.argmin(self.pod_count[tied_rows] * self.size + tied_rows)])
        else:
            pick = int(rows[near[0]])
        return self.nodes[pick]

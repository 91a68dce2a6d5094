"""The HPA's replica arithmetic: tolerance, stabilization windows, rate policies and limits."""

from controllers.hpa_replicas import (
    Recommendation,
    ScaleEvent,
    average_value_replicas,
    limit,
    rescale_reason,
    stabilize,
    utilization_replicas,
)


def test_utilization_above_target_scales_to_ceiling_of_ratio() -> None:
    # 2 pods at 400m of a 200m request = 200% against a 50% target: 4x the pods.
    assert utilization_replicas(2, [0.4, 0.4], [0.2, 0.2], 50) == (8, 200)


def test_utilization_within_tolerance_keeps_current_replicas() -> None:
    assert utilization_replicas(3, [0.105] * 3, [0.2] * 3, 50) == (3, 52)


def test_average_value_scales_on_total_over_target() -> None:
    assert average_value_replicas(2, [300.0, 300.0], 100.0) == (6, 300.0)
    assert average_value_replicas(2, [105.0, 100.0], 100.0)[0] == 2


def test_scale_down_waits_for_the_highest_recommendation_in_window() -> None:
    history = [Recommendation(6, 100.0), Recommendation(3, 200.0)]
    assert stabilize(6, 2, history, now=350.0, up_window=0, down_window=300) == 6
    assert stabilize(6, 2, history, now=401.0, up_window=0, down_window=300) == 3


def test_scale_up_is_immediate_by_default() -> None:
    assert stabilize(2, 8, [Recommendation(2, 90.0)], now=100.0, up_window=0, down_window=300) == 8


def test_default_scale_up_policy_caps_at_double_or_plus_four() -> None:
    got = limit(2, 20, 1, 50, {}, [], now=0.0)
    assert (got.replicas, got.reason) == (6, "ScaleUpLimit")


def test_max_replicas_limits_with_too_many_replicas() -> None:
    got = limit(2, 8, 1, 5, {}, [], now=0.0)
    assert (got.replicas, got.reason) == (5, "TooManyReplicas")
    assert got.message == "the desired replica count is more than the maximum replica count"


def test_min_replicas_limits_with_too_few_replicas() -> None:
    got = limit(4, 1, 2, 10, {}, [], now=0.0)
    assert (got.replicas, got.reason) == (2, "TooFewReplicas")


def test_pods_policy_counts_recent_scale_events() -> None:
    behavior = {"scaleUp": {"policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}]}}
    got = limit(4, 10, 1, 20, behavior, [ScaleEvent(2, 30.0)], now=60.0)
    assert (got.replicas, got.reason) == (4, "ScaleUpLimit")
    got = limit(4, 10, 1, 20, behavior, [ScaleEvent(2, 30.0)], now=100.0)
    assert got.replicas == 6


def test_disabled_scale_down_keeps_current() -> None:
    got = limit(5, 1, 1, 10, {"scaleDown": {"selectPolicy": "Disabled"}}, [], now=0.0)
    assert got.replicas == 5


def test_within_range_reason() -> None:
    got = limit(3, 4, 1, 10, {}, [], now=0.0)
    assert (got.replicas, got.reason) == (4, "DesiredWithinRange")


def test_rescale_event_reason_text() -> None:
    assert rescale_reason("cpu", True) == "cpu resource utilization (percentage of request) above target"

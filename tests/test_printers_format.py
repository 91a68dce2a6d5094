"""Cell formatting helpers render exactly what kube-apiserver's printers render."""

from datetime import UTC, datetime

import pytest

from facade.printers.format import (
    age,
    format_label_selector,
    format_labels,
    human_duration,
    label_selector_string,
    layout_containers,
    pinned_now,
    quantity_string,
    service_ports,
    until,
)

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (59, "59s"),
        (119, "119s"),
        (120, "2m"),
        (200, "3m20s"),
        (9 * 60 + 59, "9m59s"),
        (10 * 60 + 30, "10m"),
        (179 * 60, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 25 * 60, "3h25m"),
        (8 * 3600 + 59 * 60, "8h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (50 * 3600, "2d2h"),
        (8 * 86400, "8d"),
        (729 * 86400, "729d"),
        (3 * 365 * 86400 + 45 * 86400, "3y45d"),
        (4 * 365 * 86400, "4y"),
        (10 * 365 * 86400 + 100 * 86400, "10y"),
    ],
)
def test_human_duration_matches_apimachinery(seconds, expected):
    assert human_duration(seconds) == expected


def test_age_is_unknown_without_timestamp_and_measured_from_pinned_now():
    assert age(None, NOW) == "<unknown>"
    assert age("", NOW) == "<unknown>"
    assert age("2024-05-01T11:56:40Z", NOW) == "3m20s"
    with pinned_now(NOW):
        assert age("2024-04-29T12:00:00Z") == "2d"
        assert age("2024-05-01T11:59:59.123456Z") == "0s"
    assert until("2024-05-01T12:05:00Z", NOW) == "5m"


def test_format_labels_sorted_or_none():
    assert format_labels({"tier": "web", "app": "x"}) == "app=x,tier=web"
    assert format_labels({}) == "<none>"
    assert format_labels(None) == "<none>"


def test_label_selector_strings_sorted_by_key_with_set_operators():
    sel = {
        "matchLabels": {"z": "1", "app": "web"},
        "matchExpressions": [
            {"key": "env", "operator": "In", "values": ["prod", "dev"]},
            {"key": "gone", "operator": "DoesNotExist"},
            {"key": "has", "operator": "Exists"},
            {"key": "tier", "operator": "NotIn", "values": ["db"]},
        ],
    }
    assert label_selector_string(sel) == "app=web,env in (dev,prod),!gone,has,tier notin (db),z=1"
    assert format_label_selector({}) == "<none>"
    assert format_label_selector(None) == "<none>"
    assert format_label_selector({"matchExpressions": [{"key": "a", "operator": "Bogus"}]}) == "<error>"


def test_layout_containers_joins_names_and_images():
    assert layout_containers([{"name": "a", "image": "nginx"}, {"name": "b", "image": "busybox:1.36"}]) == (
        "a,b",
        "nginx,busybox:1.36",
    )
    assert layout_containers([]) == ("", "")


def test_service_ports_with_and_without_node_ports():
    ports = [
        {"port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 30080},
        {"port": 53, "protocol": "UDP", "targetPort": 53},
    ]
    assert service_ports(ports) == "80:30080/TCP,53/UDP"
    assert service_ports([]) == ""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1Gi", "1Gi"),
        ("1.5Gi", "1536Mi"),
        ("1024Mi", "1Gi"),
        ("512", "512"),
        ("1024", "1024"),
        ("100Ki", "100Ki"),
        ("1000", "1k"),
        ("1500", "1500"),
        ("0.5", "500m"),
        ("100m", "100m"),
        ("2000000", "2M"),
        ("10G", "10G"),
        ("1e3", "1e3"),
        ("0", "0"),
        ("0Gi", "0"),
        (3, "3"),
        ("0.1Ki", "102400m"),
    ],
)
def test_quantity_string_is_canonical(raw, expected):
    assert quantity_string(raw) == expected

"""The meta.k8s.io/v1 Table object: columns, rows, includeObject and list metadata, as kube-apiserver."""

from datetime import UTC, datetime

import orjson
import pytest

from facade.errors import APIError
from facade.printers import default_printer, printer_for, table

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def cm(name, rv="41"):
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": "0b8f-" + name,
            "resourceVersion": rv,
            "creationTimestamp": "2024-05-01T11:59:00Z",
            "labels": {"app": "web"},
            "managedFields": [{"manager": "kubectl", "operation": "Apply", "apiVersion": "v1"}],
        },
        "data": {"a": "1"},
    }


def test_list_table_with_default_metadata_rows():
    t = table(printer_for("", "ConfigMap"), [cm("a"), cm("b")], "Metadata", {"resourceVersion": "57"}, now=NOW)
    assert list(t) == ["kind", "apiVersion", "metadata", "columnDefinitions", "rows"]
    assert t["kind"] == "Table" and t["apiVersion"] == "meta.k8s.io/v1"
    assert t["metadata"] == {"resourceVersion": "57"}
    assert t["columnDefinitions"][0] == {
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": t["columnDefinitions"][0]["description"],
        "priority": 0,
    }
    assert t["columnDefinitions"][0]["description"].startswith("Name must be unique within a namespace.")
    assert t["rows"][0]["cells"] == ["a", 1, "60s"]
    assert t["rows"][0]["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": cm("a")["metadata"],
    }


def test_empty_include_object_means_metadata():
    t = table(printer_for("", "ConfigMap"), [cm("a")], "", None, now=NOW)
    assert t["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_include_object_object_and_none():
    full = table(printer_for("", "ConfigMap"), [cm("a")], "Object", None, now=NOW)
    assert full["rows"][0]["object"] == cm("a")
    bare = table(printer_for("", "ConfigMap"), [cm("a")], "None", None, now=NOW)
    assert bare["rows"][0]["object"] is None
    assert b'"object":null' in orjson.dumps(bare)


def test_unknown_include_object_is_a_bad_request():
    with pytest.raises(APIError) as err:
        table(printer_for("", "ConfigMap"), [cm("a")], "Everything", None, now=NOW)
    status = err.value.status()
    assert status["code"] == 400
    assert status["reason"] == "BadRequest"
    assert status["message"] == 'unrecognized includeObject value: "Everything"'


def test_single_object_table_takes_the_object_resource_version():
    t = table(printer_for("", "ConfigMap"), [cm("a", rv="99")], "None", None, now=NOW)
    assert t["metadata"] == {"resourceVersion": "99"}


def test_list_metadata_continue_and_remaining_count():
    meta = {"resourceVersion": "120", "continue": "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ", "remainingItemCount": 3}
    t = table(printer_for("", "ConfigMap"), [cm("a")], "None", meta, now=NOW)
    assert t["metadata"] == meta


def test_empty_list_rows_are_an_empty_array_for_printers_and_null_for_default_convertor():
    assert table(printer_for("", "ConfigMap"), [], "Metadata", {"resourceVersion": "5"}, now=NOW)["rows"] == []
    assert table(default_printer(), [], "Metadata", {"resourceVersion": "5"}, now=NOW)["rows"] is None


def test_no_headers_leaves_column_definitions_null():
    t = table(printer_for("", "ConfigMap"), [cm("a")], "None", None, now=NOW, no_headers=True)
    assert t["columnDefinitions"] is None
    assert t["rows"][0]["cells"] == ["a", 1, "60s"]


def test_missing_printer_falls_back_to_default_convertor():
    t = table(None, [cm("a")], "None", {"resourceVersion": "1"}, now=NOW)
    assert [c["name"] for c in t["columnDefinitions"]] == ["Name", "Created At"]
    assert t["rows"][0]["cells"] == ["a", "2024-05-01T11:59:00Z"]


def test_ages_use_one_clock_reading_when_now_is_not_given():
    t = table(printer_for("", "ConfigMap"), [cm("a"), cm("b")], "None", {"resourceVersion": "1"})
    assert t["rows"][0]["cells"][2] == t["rows"][1]["cells"][2]


def test_every_printer_row_has_one_cell_per_column():
    from facade.printers import _FACTORIES

    for (group, kind) in _FACTORIES:
        printer = printer_for(group, kind)
        cells = table(printer, [{"metadata": {"name": "x"}}], "None", None, now=NOW)["rows"][0]["cells"]
        assert len(cells) == len(printer.columns), (group, kind)
        assert cells[0] == "x" or kind == "Event", (group, kind)

"""Label and field selectors: what a client sees for a labelSelector/fieldSelector query parameter."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facade.errors import APIError
from storage.selectors import (
    DOES_NOT_EXIST,
    DOUBLE_EQUALS,
    EQUALS,
    EXISTS,
    GREATER_THAN,
    IN,
    LESS_THAN,
    NOT_EQUALS,
    NOT_IN,
    FieldSelector,
    LabelSelector,
    Requirement,
    check_supported,
    parse_field_selector,
    parse_label_selector,
    selector_from_label_selector,
    selector_from_set,
)

LABEL_VALUE_HELP = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
    "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
NAME_PART_HELP = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


def label_error(text: str) -> str:
    with pytest.raises(APIError) as info:
        parse_label_selector(text)
    assert info.value.code == 400
    assert info.value.reason == "BadRequest"
    return info.value.message


def field_error(text: str) -> str:
    with pytest.raises(APIError) as info:
        parse_field_selector(text)
    assert (info.value.code, info.value.reason) == (400, "BadRequest")
    return info.value.message


# ------------------------------------------------------------------------------ label parsing


def test_label_selector_parses_every_operator_and_prints_sorted_by_key():
    s = parse_label_selector("tier notin (cache, db),app=web,env in (prod,dev), !legacy , zone, x==y, n>3, m<9")
    assert str(s) == "app=web,env in (dev,prod),!legacy,m<9,n>3,tier notin (cache,db),x==y,zone"
    ops = {r.key: r.operator for r in s.requirements}
    assert ops == {
        "app": EQUALS,
        "env": IN,
        "legacy": DOES_NOT_EXIST,
        "m": LESS_THAN,
        "n": GREATER_THAN,
        "tier": NOT_IN,
        "x": DOUBLE_EQUALS,
        "zone": EXISTS,
    }


def test_empty_label_selector_is_empty_and_matches_everything():
    s = parse_label_selector("")
    assert s.empty and str(s) == ""
    assert s.matches(None) and s.matches({"a": "b"})


def test_label_values_may_be_empty_or_keywords():
    assert parse_label_selector("a=").requirements == (Requirement("a", EQUALS, ("",)),)
    assert parse_label_selector("a in ()").requirements == (Requirement("a", IN, ("",)),)
    assert parse_label_selector("a in (,b)").requirements == (Requirement("a", IN, ("", "b")),)
    assert parse_label_selector("in==notin").requirements == (Requirement("in", DOUBLE_EQUALS, ("notin",)),)


def test_label_syntax_errors_read_as_upstream_parser_words_them():
    assert label_error("a b") == "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"
    assert label_error("a=b,") == "found '', expected: identifier after ','"
    assert label_error("a=b c") == "found 'c', expected: ',' or 'end of string'"
    assert label_error("=a") == "found '=', expected: !, identifier, or 'end of string'"
    assert label_error("!") == "unable to parse requirement: found '', expected: identifier"
    assert label_error("x in a") == "unable to parse requirement: found 'a' expected: '('"
    assert label_error("x in (a b)") == "unable to parse requirement: found 'b', expected: ',' or ')'"
    assert label_error("x in (a,,)") == "unable to parse requirement: found ')', expected: ',', or identifier"
    assert label_error("x in (=)") == "unable to parse requirement: found '=', expected: ',', ')' or identifier"
    assert label_error("x=(") == "unable to parse requirement: found '(', expected: identifier"


def test_invalid_label_key_is_reported_with_a_nil_path():
    assert label_error("a/=x") == (
        'unable to parse requirement: <nil>: Invalid value: "a/": name part must be non-empty; ' + NAME_PART_HELP
    )
    assert label_error("-a") == 'unable to parse requirement: <nil>: Invalid value: "-a": ' + NAME_PART_HELP


def test_invalid_label_value_is_reported_under_values_index_and_key():
    assert label_error("env=prod-") == (
        'unable to parse requirement: values[0][env]: Invalid value: "prod-": ' + LABEL_VALUE_HELP
    )


def test_gt_with_a_non_integer_reports_both_errors_as_an_aggregate():
    assert label_error("n>a-") == (
        "unable to parse requirement: [values[0]: Invalid value: \"a-\": for 'Gt', 'Lt' operators, the value "
        'must be an integer, values[0][n]: Invalid value: "a-": ' + LABEL_VALUE_HELP + "]"
    )


# ------------------------------------------------------------------------------ label matching


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("app=web", {"app": "web"}, True),
        ("app=web", {"app": "db"}, False),
        ("app=web", None, False),
        ("app!=web", {}, True),
        ("app!=web", {"app": "web"}, False),
        ("env in (a,b)", {"env": "b"}, True),
        ("env in (a,b)", {}, False),
        ("env notin (a,b)", {}, True),
        ("env notin (a,b)", {"env": "a"}, False),
        ("env", {"env": ""}, True),
        ("!env", {"env": ""}, False),
        ("n>3", {"n": "4"}, True),
        ("n>3", {"n": "3"}, False),
        ("n>3", {"n": "x"}, False),
        ("n>3", {}, False),
        ("n<3", {"n": "-7"}, True),
        ("app=web,env", {"app": "web"}, False),
        ("app=web,env", {"app": "web", "env": "x"}, True),
    ],
)
def test_label_selector_matches_as_upstream(selector, labels, expected):
    assert parse_label_selector(selector).matches(labels) is expected


def test_requires_exact_match_finds_the_one_allowed_value():
    s = parse_label_selector("app=web,env in (a,b),tier in (x)")
    assert s.requires_exact_match("app") == "web"
    assert s.requires_exact_match("tier") == "x"
    assert s.requires_exact_match("env") is None
    assert s.requires_exact_match("missing") is None


def test_matching_a_hundred_thousand_label_sets_is_fast():
    s = parse_label_selector("app=web,env in (prod,staging),!legacy")
    objs = [{"app": "web" if i % 2 else "db", "env": "prod", "pod-template-hash": str(i)} for i in range(100_000)]
    start = time.perf_counter()
    hits = sum(1 for labels in objs if s.matches(labels))
    elapsed = time.perf_counter() - start
    assert hits == 50_000
    assert elapsed < 1.0, elapsed


# ------------------------------------------------------------------------------ metav1.LabelSelector


def test_metav1_label_selector_combines_match_labels_and_expressions():
    s = selector_from_label_selector(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "env", "operator": "In", "values": ["prod", "dev"]},
                {"key": "legacy", "operator": "DoesNotExist"},
                {"key": "tier", "operator": "NotIn", "values": ["db"]},
                {"key": "zone", "operator": "Exists"},
            ],
        }
    )
    assert str(s) == "app=web,env in (dev,prod),!legacy,tier notin (db),zone"
    assert s.matches({"app": "web", "env": "dev", "zone": "z"})
    assert not s.matches({"app": "web", "env": "dev", "zone": "z", "legacy": "1"})


def test_nil_metav1_selector_selects_nothing_and_empty_selects_everything():
    nothing = selector_from_label_selector(None)
    assert not nothing.matches({}) and not nothing.empty
    everything = selector_from_label_selector({})
    assert everything.empty and everything.matches({"a": "b"})
    assert selector_from_label_selector({"matchLabels": {}, "matchExpressions": []}).empty


def test_metav1_selector_errors_use_upstream_messages():
    with pytest.raises(APIError) as info:
        selector_from_label_selector({"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["x"]}]})
    assert info.value.message == '"Equals" is not a valid label selector operator'
    with pytest.raises(APIError) as info:
        selector_from_label_selector({"matchExpressions": [{"key": "a", "operator": "In"}]})
    assert info.value.message == "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"
    with pytest.raises(APIError) as info:
        selector_from_label_selector({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]})
    assert info.value.message == 'values: Invalid value: []string{"x"}: values set must be empty for exists and does not exist'
    with pytest.raises(APIError) as info:
        selector_from_label_selector({"matchLabels": {"a b": "x"}})
    assert info.value.message == 'key: Invalid value: "a b": ' + NAME_PART_HELP


def test_selector_from_set_requires_every_pair():
    s = selector_from_set({"b": "2", "a": "1"})
    assert str(s) == "a=1,b=2"
    assert s.matches({"a": "1", "b": "2", "c": "3"}) and not s.matches({"a": "1"})


# ------------------------------------------------------------------------------ field selectors


def test_field_selector_parses_equals_double_equals_and_not_equals_in_sorted_term_order():
    s = parse_field_selector("status.phase!=Running,metadata.name==web")
    assert s.requirements == (("metadata.name", "=", "web"), ("status.phase", "!=", "Running"))
    assert str(s) == "metadata.name=web,status.phase!=Running"


def test_field_selector_values_unescape_commas_equals_and_backslashes():
    s = parse_field_selector(r"metadata.name=a\,b\=c\\d")
    assert s.requirements == (("metadata.name", "=", "a,b=c\\d"),)
    assert str(s) == r"metadata.name=a\,b\=c\\d"


def test_field_selector_errors_read_as_upstream():
    assert field_error("ab") == "invalid selector: 'ab'; can't understand 'ab'"
    assert field_error("a=b,cd") == "invalid selector: 'a=b,cd'; can't understand 'cd'"
    assert field_error("a=b=c") == "invalid field selector: unescaped character in value: 61"
    assert field_error(r"a=b\q") == r"invalid field selector: invalid escape sequence: \q"
    assert field_error("a=b\\") == "invalid field selector: invalid escape sequence: \\"


def test_empty_terms_and_bare_operators_select_everything():
    assert parse_field_selector("").empty
    assert parse_field_selector(",,").empty
    assert parse_field_selector("=").empty


def test_field_selector_matching_reads_missing_fields_as_empty():
    assert parse_field_selector("spec.nodeName=").matches({"metadata.name": "a"})
    assert parse_field_selector("spec.nodeName!=n1").matches({})
    s = parse_field_selector("metadata.name=a,status.phase!=Failed")
    assert s.matches({"metadata.name": "a", "status.phase": "Running"})
    assert not s.matches({"metadata.name": "a", "status.phase": "Failed"})
    assert not s.matches({"metadata.name": "b"})


def test_unsupported_field_label_messages_depend_on_the_kind():
    sel = parse_field_selector("spec.foo=x")
    cases = {
        "Pod": "field label not supported: spec.foo",
        "Node": "field label not supported: spec.foo",
        "ConfigMap": '"spec.foo" is not a known field selector: only "metadata.name", "metadata.namespace"',
        "Deployment": '"spec.foo" is not a known field selector: only "metadata.name", "metadata.namespace"',
        "Job": 'field label "spec.foo" not supported for batchv1.Job',
    }
    for kind, message in cases.items():
        with pytest.raises(APIError) as info:
            check_supported(sel, {"metadata.name", "metadata.namespace"}, kind)
        assert (info.value.code, info.value.reason, info.value.message) == (400, "BadRequest", message), kind
    with pytest.raises(APIError) as info:
        check_supported(sel, {"metadata.name"}, "Widget", custom=True)
    assert info.value.message == "field label not supported: spec.foo"


def test_supported_field_labels_pass_and_pod_spec_host_means_node_name():
    sel = parse_field_selector("metadata.name=a")
    assert check_supported(sel, {"metadata.name"}, "ConfigMap") is sel
    renamed = check_supported(parse_field_selector("spec.host=n1"), {"metadata.name", "spec.nodeName"}, "Pod")
    assert renamed.requirements == (("spec.nodeName", "=", "n1"),)


# ------------------------------------------------------------------------------ properties

_key_name = st.from_regex(r"[a-z0-9]([a-z0-9._-]{0,8}[a-z0-9])?", fullmatch=True)
_key = st.one_of(_key_name, st.builds(lambda p, n: f"{p}/{n}", st.sampled_from(["example.com", "k8s.io"]), _key_name))
_value = st.one_of(st.just(""), st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,6}[A-Za-z0-9])?", fullmatch=True))
_small_keys = st.sampled_from(["a", "b", "c", "example.com/d"])
_small_values = st.sampled_from(["", "x", "y", "1", "7", "42"])


def _requirement(keys: st.SearchStrategy[str], values: st.SearchStrategy[str]) -> st.SearchStrategy[Requirement]:
    ints = st.integers(min_value=0, max_value=99).map(str)
    return st.one_of(
        st.builds(lambda k, op, v: Requirement(k, op, (v,)), keys, st.sampled_from([EQUALS, DOUBLE_EQUALS, NOT_EQUALS]), values),
        st.builds(
            lambda k, op, vs: Requirement(k, op, tuple(sorted(vs))),
            keys,
            st.sampled_from([IN, NOT_IN]),
            st.sets(values, min_size=1, max_size=3),
        ),
        st.builds(lambda k, op: Requirement(k, op, ()), keys, st.sampled_from([EXISTS, DOES_NOT_EXIST])),
        st.builds(lambda k, op, v: Requirement(k, op, (v,)), keys, st.sampled_from([GREATER_THAN, LESS_THAN]), ints),
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(_requirement(_key, _value), max_size=5))
def test_printing_then_parsing_a_label_selector_gives_an_equal_selector(reqs):
    s = LabelSelector(reqs)
    assert parse_label_selector(str(s)) == s


def _model_matches(reqs: list[Requirement], labels: dict[str, str]) -> bool:
    for r in reqs:
        present = r.key in labels
        v = labels.get(r.key)
        if r.operator in (EQUALS, DOUBLE_EQUALS, IN):
            ok = present and v in r.values
        elif r.operator in (NOT_EQUALS, NOT_IN):
            ok = not present or v not in r.values
        elif r.operator == EXISTS:
            ok = present
        elif r.operator == DOES_NOT_EXIST:
            ok = not present
        else:
            ok = present and v.isdigit() and (int(v) > int(r.values[0]) if r.operator == GREATER_THAN else int(v) < int(r.values[0]))
        if not ok:
            return False
    return True


@settings(max_examples=500, deadline=None)
@given(st.lists(_requirement(_small_keys, _small_values), max_size=4), st.dictionaries(_small_keys, _small_values))
def test_label_matches_agrees_with_a_straightforward_model(reqs, labels):
    assert LabelSelector(reqs).matches(labels) == _model_matches(reqs, labels)


_field = st.sampled_from(["metadata.name", "metadata.namespace", "spec.nodeName", "status.phase"])
_field_value = st.text(alphabet="ab,=\\!x ", max_size=6)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_field, st.sampled_from(["=", "!="]), _field_value), max_size=4))
def test_printing_then_parsing_a_field_selector_keeps_every_term(terms):
    s = FieldSelector(terms)
    assert sorted(parse_field_selector(str(s)).requirements) == sorted(terms)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(_field, st.sampled_from(["=", "!="]), st.sampled_from(["", "a", "b"])), max_size=4),
    st.dictionaries(_field, st.sampled_from(["", "a", "b"])),
)
def test_field_matches_agrees_with_a_straightforward_model(terms, fields):
    expected = all((fields.get(f, "") == v) == (op == "=") for f, op, v in terms)
    assert FieldSelector(terms).matches(fields) == expected

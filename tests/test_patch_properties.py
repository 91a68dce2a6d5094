"""Properties of the patch types against small models of their documented behaviour."""

from hypothesis import given, settings
from hypothesis import strategies as st

from facade.patch import apply_json_patch, apply_merge_patch, apply_strategic_merge_patch

# A schema with one merge-by-name list of flat maps, the shape of containers or env.
SCHEMA = {
    "type": "object",
    "properties": {
        "items": {
            "type": "array",
            "items": {"type": "object", "additionalProperties": {"type": "string"}},
            "x-kubernetes-patch-strategy": "merge",
            "x-kubernetes-patch-merge-key": "name",
        }
    },
}

names = st.sampled_from(["a", "b", "c", "d", "e"])
fields = st.sampled_from(["x", "y", "z"])
values = st.text(alphabet="pqr", min_size=1, max_size=2)


@st.composite
def item_lists(draw, nullable: bool, min_size: int = 0):
    chosen = draw(st.lists(names, unique=True, min_size=min_size, max_size=5))
    value = st.one_of(values, st.none()) if nullable else values
    return [{"name": n, **draw(st.dictionaries(fields, value, max_size=3))} for n in chosen]


def model_merge(original: list, patch: list) -> dict:
    """By name: existing items get the patch's fields (null deletes), new items are taken as sent."""
    out = {item["name"]: dict(item) for item in original}
    for item in patch:
        if item["name"] in out:
            for k, v in item.items():
                if v is None:
                    out[item["name"]].pop(k, None)
                else:
                    out[item["name"]][k] = v
        else:
            out[item["name"]] = dict(item)
    return out


def is_subsequence(sub: list, seq: list) -> bool:
    it = iter(seq)
    return all(any(x == y for y in it) for x in sub)


@settings(max_examples=300)
@given(item_lists(nullable=False), item_lists(nullable=True))
def test_merge_by_name_matches_the_model_and_keeps_both_orders(original, patch):
    out = apply_strategic_merge_patch({"items": original}, {"items": patch}, SCHEMA)["items"]
    assert {item["name"]: item for item in out} == model_merge(original, patch)
    assert len(out) == len({item["name"] for item in out})
    result_names = [item["name"] for item in out]
    assert is_subsequence([i["name"] for i in patch], result_names)
    assert is_subsequence([i["name"] for i in original if i["name"] not in {p["name"] for p in patch}], result_names)


@settings(max_examples=200)
@given(item_lists(nullable=False, min_size=1), st.lists(names, unique=True))
def test_set_element_order_gives_exactly_that_order_for_the_items_it_names(original, order):
    # (an empty list with an empty order is an error upstream: "no elements in any of the given slices")
    names_in_list = [i["name"] for i in original]
    order = [n for n in order if n in names_in_list]
    out = apply_strategic_merge_patch(
        {"items": original}, {"$setElementOrder/items": [{"name": n} for n in order]}, SCHEMA
    )["items"]
    assert sorted(i["name"] for i in out) == sorted(names_in_list)
    assert [i["name"] for i in out if i["name"] in order] == order


json_scalars = st.one_of(st.text(max_size=3), st.integers(-5, 5), st.booleans())
no_list_docs = st.recursive(
    json_scalars, lambda inner: st.dictionaries(st.text("kl", min_size=1, max_size=2), inner, max_size=3), max_leaves=10
)
no_list_patches = st.recursive(
    st.one_of(json_scalars, st.none()),
    lambda inner: st.dictionaries(st.text("kl", min_size=1, max_size=2), inner, max_size=3),
    max_leaves=10,
)
objects = st.dictionaries(st.text("kl", min_size=1, max_size=2), no_list_docs, max_size=4)
patches = st.dictionaries(st.text("kl", min_size=1, max_size=2), no_list_patches, max_size=4)


@settings(max_examples=300)
@given(objects)
def test_empty_patch_is_the_identity(obj):
    assert apply_strategic_merge_patch(obj, {}, SCHEMA) == obj
    assert apply_merge_patch(obj, {}) == obj
    assert apply_json_patch(obj, []) == obj


@settings(max_examples=300)
@given(objects, patches)
def test_without_lists_merge_patch_and_strategic_merge_patch_agree(obj, patch):
    assert apply_strategic_merge_patch(obj, patch, None) == apply_merge_patch(obj, patch)


@settings(max_examples=200)
@given(objects, st.text("kl", min_size=1, max_size=2), no_list_docs)
def test_json_patch_add_then_remove_restores_an_absent_member(obj, key, value):
    obj = {k: v for k, v in obj.items() if k != key}
    path = "/" + key
    assert apply_json_patch(obj, [{"op": "add", "path": path, "value": value}])[key] == value
    assert apply_json_patch(obj, [{"op": "add", "path": path, "value": value}, {"op": "remove", "path": path}]) == obj

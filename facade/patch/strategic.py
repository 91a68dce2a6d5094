"""Strategic merge patch (``application/strategic-merge-patch+json``) as kube-apiserver applies it.

The merge follows k8s.io/apimachinery/pkg/util/strategicpatch (``StrategicMergeMapPatch`` with
``MergeParallelList`` and ``IgnoreUnmatchedNulls``), with merge keys and strategies read from the
kind's schema (``x-kubernetes-patch-strategy`` / ``x-kubernetes-patch-merge-key``) instead of Go
struct tags:

- maps merge, ``null`` deletes; ``$patch: replace`` / ``$patch: delete`` replace or empty a map;
- lists with strategy ``merge`` merge by the merge key (lists of maps) or as a set (primitives),
  ``$patch: delete`` items remove by key, a ``$patch: replace`` item replaces the list; other lists
  are replaced; ``$setElementOrder/<list>`` orders the result, ``$deleteFromPrimitiveList/<list>``
  removes primitives, ``$retainKeys`` drops the fields it does not name;
- order of a merged list: patch items in patch order, interleaved with the items only the server
  has in their server order; items new to the list come before the server's remaining items unless
  ``$setElementOrder`` says otherwise (what kubectl sends).

Without schema information (``schema=None``, untyped or preserve-unknown nodes) lists are replaced and
maps merged. Errors carry kube-apiserver's code and text: malformed directives are 400 BadRequest,
lists of lists 422, and everything the Go code reports as a plain error (a missing merge key, an
unknown ``$patch`` value, ``$patch: merge``) is a 500 whose message is the Go error text.
"""

from __future__ import annotations

from typing import Any

from facade import schemas
from facade.errors import APIError, bad_request
from facade.patch import gojson
from facade.patch.json_patch import invalid_patch

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ELEMENT_ORDER = "$setElementOrder"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"

_UNPROCESSABLE = "the server rejected our request due to an error in our request"
_MAP_TYPE = "map[string]interface {}"
_LIST_TYPE = "[]interface {}"

Node = dict[str, Any] | None


def apply_strategic_merge_patch(
    obj: dict,
    patch: dict,
    schema: dict | None,
    *,
    field_validation: str = "Warn",
    warnings: list[str] | None = None,
    duplicates: list[str] | None = None,
) -> dict:
    """Apply a decoded strategic merge patch to ``obj`` using the kind's schema node; return a new object.

    ``duplicates`` are the body's duplicate-field errors (``gojson.duplicate_fields``): warnings under
    fieldValidation Warn, a 422 under Strict, ignored under Ignore.
    """
    if patch is None:
        patch = {}
    if not isinstance(patch, dict):
        raise bad_request(gojson.type_error(patch, _MAP_TYPE))
    result = _merge_map(gojson.deep_copy(obj), gojson.deep_copy(patch), schema)
    _strip_directives(result)
    if duplicates and field_validation != "Ignore":
        if field_validation == "Strict":
            raise invalid_patch(gojson.go_format(patch), "strict decoding error: " + ", ".join(duplicates))
        if warnings is not None:
            warnings.extend(duplicates)
    return result


# ---------------------------------------------------------------------------------------------------
# Errors, named as the Go code names them.


def _plain(message: str) -> APIError:
    """A Go error that is not an API status: kube-apiserver answers 500 with an empty reason."""
    return APIError(500, "", message)


def _bad_arg_type(expected: str, actual: Any) -> APIError:
    return _plain(f"expected a {expected}, but received a {gojson.go_type(actual) or '%!s(<nil>)'}")


def _no_merge_key(item: dict, key: str) -> APIError:
    return _plain(f"map: {gojson.go_format(item)} does not contain declared merge key: {key}")


def _bad_patch_type(value: Any, item: dict) -> APIError:
    return _plain(f"unknown patch type: {gojson.go_format(value, 's')} in map: {gojson.go_format(item)}")


def _extract_key(key: str, prefix: str) -> str:
    parts = key.split("/", 1)
    if len(parts) <= 1 or parts[0] != prefix:
        if prefix == DELETE_FROM_PRIMITIVE_LIST:
            raise bad_request("invalid patch format of primitive list")
        raise bad_request("invalid patch format of setElementOrder list")
    return parts[1]


# ---------------------------------------------------------------------------------------------------
# Schema look-ups: what Go reads from struct tags.


def _struct_meta(node: Node, key: str) -> tuple[Node, list[str]]:
    sub = schemas.field(node, key) if node is not None else None
    return sub, schemas.patch_strategy(sub)


def _slice_meta(node: Node, key: str) -> tuple[Node, list[str], str]:
    sub = schemas.field(node, key) if node is not None else None
    return schemas.items(sub), schemas.patch_strategy(sub), schemas.patch_merge_key(sub) or ""


def _strategy(strategies: list[str]) -> str:
    """The strategy other than retainKeys (``extractRetainKeysPatchStrategy``)."""
    if not strategies:
        return ""
    if len(strategies) == 1:
        return "" if strategies[0] == "retainKeys" else strategies[0]
    if len(strategies) == 2 and "retainKeys" in strategies:
        return strategies[1] if strategies[0] == "retainKeys" else strategies[0]
    raise _plain(f"unexpected patch strategy: [{' '.join(strategies)}]")


def _kind_name(node: Node) -> str:
    """Go's ``reflect.Kind`` name of a list's element type, for one error message."""
    if node is None:
        return "interface"
    t = schemas.types(node)
    node = schemas.resolve(node)
    if "object" in t or "properties" in node:
        return "struct" if "properties" in node else "map"
    if t == {"string"}:
        return "string"
    if t == {"integer"}:
        return "int32" if node.get("format") == "int32" else "int64"
    if t == {"number"}:
        return "float64"
    if t == {"boolean"}:
        return "bool"
    return "interface"


# ---------------------------------------------------------------------------------------------------
# Maps.


def _merge_map(original: dict | None, patch: dict, node: Node) -> dict:
    if DIRECTIVE in patch:
        directive = patch[DIRECTIVE]
        if gojson.go_equal(directive, "replace"):
            del patch[DIRECTIVE]
            return patch
        if gojson.go_equal(directive, "delete"):
            return {}
        raise _bad_patch_type(directive, patch)
    if original is None:
        original = {}
    _apply_retain_keys(original, patch)
    _merge_set_element_order(original, patch, node)

    for key in list(patch):
        patch_value = patch[key]
        is_delete_list = False
        if key.startswith(DELETE_FROM_PRIMITIVE_LIST):
            key = _extract_key(key, DELETE_FROM_PRIMITIVE_LIST)
            is_delete_list = True
        if patch_value is None:
            original.pop(key, None)
            continue
        if key not in original or type(original[key]) is not type(patch_value):
            if not is_delete_list:
                _discard_nulls(patch_value)
                value, keep = _remove_directives(patch_value)
                if keep:
                    original[key] = value
                else:
                    original.pop(key, None)
            continue
        current = original[key]
        if isinstance(current, dict):
            sub, strategies = _struct_meta(node, key)
            if _strategy(strategies) != "replace":
                original[key] = _merge_map(current, patch_value, sub)
            else:
                original[key] = patch_value
        elif isinstance(current, list):
            sub, strategies, merge_key = _slice_meta(node, key)
            if _strategy(strategies) == "merge" or is_delete_list:
                original[key] = _merge_list(current, patch_value, sub, merge_key, is_delete_list)
            else:
                original[key] = patch_value
        else:
            original[key] = patch_value
    return original


def _apply_retain_keys(original: dict, patch: dict) -> None:
    if RETAIN_KEYS not in patch:
        return
    retain = patch.pop(RETAIN_KEYS)
    if not isinstance(retain, list):
        raise bad_request("invalid patch format of retainKeys")
    keep = {k for k in retain if isinstance(k, str)}
    for key, value in patch.items():
        if value is None or key.startswith(DELETE_FROM_PRIMITIVE_LIST) or key.startswith(SET_ELEMENT_ORDER):
            continue
        if key not in keep:
            raise bad_request("invalid patch format of retainKeys")
    for key in [k for k in original if k not in keep]:
        del original[key]


def _merge_set_element_order(original: dict, patch: dict, node: Node) -> None:
    """Merge each list that has a ``$setElementOrder/<list>``, then order it as the directive says."""
    for directive_key in [k for k in patch if k.startswith(SET_ELEMENT_ORDER)]:
        order = patch.pop(directive_key)
        if not isinstance(order, list):
            raise _bad_arg_type(_LIST_TYPE, order)
        key = _extract_key(directive_key, SET_ELEMENT_ORDER)
        found_original, found_patch = key in original, key in patch
        original_list = original.get(key)
        patch_list = patch.get(key)
        if found_original and not isinstance(original_list, list):
            raise _bad_arg_type(_LIST_TYPE, original_list)
        if found_patch and not isinstance(patch_list, list):
            raise _bad_arg_type(_LIST_TYPE, patch_list)
        sub, strategies, merge_key = _slice_meta(node, key)
        strategy = _strategy(strategies)
        _validate_order(patch_list or [], order, merge_key)
        if found_original and not found_patch:
            merged = original_list
        elif found_patch and not found_original:
            merged = _remove_directives(patch_list)[0]
        elif found_original:
            if strategy == "merge":
                view = list(original_list)
                merged = _merge_list(original_list, patch_list, sub, merge_key, False, view)
                original_list = view
            else:
                merged = patch_list
        else:
            continue
        if merge_key:
            patch_items, server_only = _partition_maps(merged, order, merge_key)
        else:
            patch_items, server_only = _partition_primitives(merged, order)
        is_map = _element_type(original_list or [], patch_list or []) is dict
        original[key] = _normalize_order(patch_items, server_only, order, original_list or [], merge_key, is_map)
        patch.pop(key, None)


def _validate_order(patch_list: list, order: list, merge_key: str) -> None:
    """The patch list's items must appear in ``$setElementOrder`` and in the same relative order."""
    if not order or not patch_list:
        return
    items = _split_deletions(patch_list)[0] if merge_key else patch_list
    pi = oi = 0
    while pi < len(items) and oi < len(order):
        item = items[pi]
        if isinstance(item, dict) and DIRECTIVE in item:
            pi += 1
            continue
        if _merge_key_equal(item, order[oi], merge_key):
            pi += 1
        oi += 1
    if pi < len(items) and oi >= len(order):
        raise _plain(
            f"The order in patch list:\n{gojson.go_format(patch_list)}\n doesn't match "
            f"{SET_ELEMENT_ORDER} list:\n{gojson.go_format(order)}\n"
        )


def _merge_key_equal(left: Any, right: Any, merge_key: str) -> bool:
    if not merge_key:
        return gojson.go_equal(left, right)
    for item in (left, right):
        if not isinstance(item, dict):
            raise _bad_arg_type(_MAP_TYPE, item)
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
    return gojson.go_equal(left[merge_key], right[merge_key])


def _discard_nulls(value: Any) -> None:
    if isinstance(value, dict):
        for key in [k for k, v in value.items() if v is None]:
            del value[key]
        for v in value.values():
            _discard_nulls(v)
    elif isinstance(value, list):
        for v in value:
            _discard_nulls(v)


def _remove_directives(value: Any) -> tuple[Any, bool]:
    """Drop maps carrying ``$patch`` (at any depth); False when ``value`` itself is one."""
    if isinstance(value, dict):
        if DIRECTIVE in value:
            return None, False
        for key in list(value):
            new, keep = _remove_directives(value[key])
            if keep:
                value[key] = new
            else:
                del value[key]
        return value, True
    if isinstance(value, list):
        out = []
        for v in value:
            new, keep = _remove_directives(v)
            if keep:
                out.append(new)
        return out, True
    return value, True


def _is_directive_key(key: str) -> bool:
    return (
        key in (DIRECTIVE, RETAIN_KEYS)
        or key.startswith(SET_ELEMENT_ORDER + "/")
        or key.startswith(DELETE_FROM_PRIMITIVE_LIST + "/")
    )


def _strip_directives(value: Any) -> None:
    """Remove directive fields left in the result (kube-apiserver drops them decoding into the kind)."""
    if isinstance(value, dict):
        for key in [k for k in value if k.startswith("$") and _is_directive_key(k)]:
            del value[key]
        for v in value.values():
            _strip_directives(v)
    elif isinstance(value, list):
        for v in value:
            _strip_directives(v)


# ---------------------------------------------------------------------------------------------------
# Lists.


def _element_type(*lists: list) -> type:
    """The one Python type of every element (Go's ``sliceElementType``)."""
    found: type | None = None
    for items in lists:
        for v in items:
            t = type(v)
            if found is None:
                if v is None:
                    raise APIError(500, "InternalError", "Internal error occurred: invalid nil list element")
                if t is list:
                    raise APIError(422, "Invalid", _UNPROCESSABLE)
                found = t
            elif t is not found:
                raise _plain(f"list element types are not identical: {gojson.go_format(list(lists))}")
    if found is None:
        raise _plain("no elements in any of the given slices")
    return found


def _merge_list(
    original: list, patch: list, node: Node, merge_key: str, is_delete_list: bool, view: list | None = None
) -> list:
    """Merge two lists (Go's ``mergeSlice``).

    ``view``, when given, receives what the caller's own reference to ``original`` holds afterwards:
    Go deletes list items by shifting them within the same array and appends new items into the room
    that frees, and ``$setElementOrder`` then orders the result by that mutated array.
    """
    if not original and not patch:
        return original
    is_map = _element_type(original, patch) is dict
    if not is_map:
        if is_delete_list:
            return [v for v in original if not any(gojson.go_equal(v, d) for d in patch)]
        merged = _dedupe(original + patch)
        order_patch: list = patch
        server_order = original
    else:
        if not merge_key:
            raise _plain(f"cannot merge lists without merge key for {_kind_name(node)}")
        backing = list(original)  # the array Go's slice of ``original`` points at (len == cap)
        length, plain, replace = _apply_list_directives(backing, patch, merge_key)
        if replace:
            merged = server_order = plain
            order_patch = []
        else:
            server_order = backing[:length]
            order_patch = plain
            merged = backing  # appended into while there is room, then a new array
            for item in plain:
                if merge_key not in item:
                    raise _no_merge_key(item, merge_key)
                idx = _find_by_key(merged[:length], merge_key, item[merge_key])
                if idx is not None:
                    merged[idx] = _merge_map(merged[idx], item, node)
                elif merged is backing and length < len(backing):
                    backing[length] = item
                    length += 1
                else:
                    if merged is backing:
                        merged = backing[:length]
                    merged.append(item)
                    length += 1
            merged = merged[:length]
        if view is not None:
            view[:] = backing
    if merge_key:
        patch_items, server_only = _partition_maps(merged, order_patch, merge_key)
    else:
        patch_items, server_only = _partition_primitives(merged, order_patch)
    return _normalize_order(patch_items, server_only, order_patch, server_order, merge_key, is_map)


def _apply_list_directives(backing: list, patch: list, merge_key: str) -> tuple[int, list, bool]:
    """Handle ``$patch`` items of a list of maps; return the list's new length, the other patch items
    and whether a ``replace`` item makes those items the whole list.

    Deletions shift the items left within ``backing`` (Go's ``append(s[:i], s[i+1:]...)``).
    """
    plain: list = []
    replace = False
    length = len(backing)
    for item in patch:
        if DIRECTIVE not in item:
            plain.append(item)
            continue
        directive = item[DIRECTIVE]
        if gojson.go_equal(directive, "delete"):
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
            value = item[merge_key]
            while (idx := _find_by_key(backing[:length], merge_key, value)) is not None:
                backing[idx:length - 1] = backing[idx + 1:length]
                length -= 1
        elif gojson.go_equal(directive, "replace"):
            replace = True
        elif gojson.go_equal(directive, "merge"):
            raise _plain("merging lists cannot yet be specified in the patch")
        else:
            raise _bad_patch_type(directive, item)
    return length, plain, replace


def _find_by_key(items: list, merge_key: str, value: Any) -> int | None:
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise _plain(f"value for key {i} is not a map")
        if merge_key in item and gojson.go_equal(item[merge_key], value):
            return i
    return None


def _dedupe(items: list) -> list:
    out: list = []
    for v in items:
        if not any(gojson.go_equal(v, o) for o in out):
            out.append(v)
    return out


def _partition_primitives(merged: list, by: list) -> tuple[list, list]:
    inside, outside = [], []
    for v in merged:
        (inside if any(gojson.go_equal(v, b) for b in by) else outside).append(v)
    return inside, outside


def _partition_maps(merged: list, by: list, merge_key: str) -> tuple[list, list]:
    inside, outside = [], []
    for v in merged:
        if not isinstance(v, dict):
            raise _bad_arg_type(_MAP_TYPE, v)
        if merge_key not in v:
            raise _no_merge_key(v, merge_key)
        (inside if _find_by_key(by, merge_key, v[merge_key]) is not None else outside).append(v)
    return inside, outside


def _split_deletions(items: list) -> tuple[list, list]:
    keep, delete = [], []
    for v in items:
        if not isinstance(v, dict):
            raise _bad_arg_type(_MAP_TYPE, v)
        (delete if gojson.go_equal(v.get(DIRECTIVE), "delete") else keep).append(v)
    return keep, delete


class _Positions:
    """First position of each element (or of its merge-key value) in a list: Go's ``index``."""

    def __init__(self, items: list, merge_key: str, is_map: bool) -> None:
        self.merge_key = merge_key
        self.is_map = is_map
        self.fast: dict[tuple[type, Any], int] = {}
        for i, item in enumerate(items):
            key = self._value(item)
            try:
                self.fast.setdefault((type(key), key), i)
            except TypeError:
                pass

    def _value(self, item: Any) -> Any:
        if self.is_map:
            return item.get(self.merge_key) if isinstance(item, dict) else None
        return item

    def index(self, item: Any) -> int:
        key = self._value(item)
        try:
            return self.fast.get((type(key), key), -1)
        except TypeError:
            return -1


def _sort_by(items: list, order: list, merge_key: str, is_map: bool) -> list:
    if is_map:
        for v in items + order:
            if not isinstance(v, dict):
                raise _bad_arg_type(_MAP_TYPE, v)
            if merge_key not in v:
                raise _no_merge_key(v, merge_key)
        items, deletions = _split_deletions(items)
    else:
        deletions = []
    positions = _Positions(order, merge_key, is_map)
    return sorted(items, key=positions.index) + deletions


def _normalize_order(
    patch_items: list, server_only: list, patch_order: list, server_order: list, merge_key: str, is_map: bool
) -> list:
    """Patch items in patch order, server-only items in server order, interleaved by server order."""
    right = _sort_by(patch_items, patch_order, merge_key, is_map)
    left = _sort_by(server_only, server_order, merge_key, is_map)
    positions = _Positions(server_order, merge_key, is_map)
    out: list = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li, ri = positions.index(left[i]), positions.index(right[j])
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out

"""Cell formatting shared by every printer, rendered the way kube-apiserver renders it.

kubectl prints the strings the server puts in Table cells verbatim, so ages ("3m20s"), selectors
("app=web,tier in (a,b)"), quantities ("512Mi") and the "<none>"/"<unset>"/"<unknown>" markers must
be byte-for-byte what upstream's printers produce. The current time is read once per Table through
``now()``; tests (and ``table()``) pin it with ``pinned_now``.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any

from facade import schemas
from facade.resource_table import Column

Obj = dict[str, Any]

NONE = "<none>"
UNSET = "<unset>"
UNKNOWN = "<unknown>"

_NOW: contextvars.ContextVar[datetime | None] = contextvars.ContextVar("printers_now", default=None)


def now() -> datetime:
    """The time ages are measured against: the pinned time inside ``pinned_now``, else the clock."""
    pinned = _NOW.get()
    return pinned if pinned is not None else datetime.now(UTC)


@contextlib.contextmanager
def pinned_now(when: datetime) -> Iterator[datetime]:
    """Measure every age against ``when`` (one clock reading per Table, and fixed times in tests)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    token = _NOW.set(when)
    try:
        yield when
    finally:
        _NOW.reset(token)


# --------------------------------------------------------------------------------------- durations


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery duration.HumanDuration: ~2-3 significant figures ("3m20s", "2d", "3y45d")."""
    s = int(seconds)  # Go truncates toward zero
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rem = s % 60
        return f"{minutes}m" if rem == 0 else f"{minutes}m{rem}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rem = minutes % 60
        return f"{hours}h" if rem == 0 else f"{hours}h{rem}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rem = hours % 24
        return f"{hours // 24}d" if rem == 0 else f"{hours // 24}d{rem}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (metav1.Time or MicroTime) as an aware datetime; None when unset/invalid."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Python before 3.11 limits fractions to 6 digits; RFC 3339 allows nanoseconds.
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(.*)$", text)
    if m and m.group(2) and len(m.group(2)) > 7:
        text = m.group(1) + m.group(2)[:7] + m.group(3)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def age(timestamp: Any, at: datetime | None = None) -> str:
    """translateTimestampSince: time elapsed since ``timestamp``, "<unknown>" when it is missing."""
    t = parse_time(timestamp)
    if t is None:
        return UNKNOWN
    return human_duration(((at or now()) - t).total_seconds())


def until(timestamp: Any, at: datetime | None = None) -> str:
    """translateTimestampUntil: time left until ``timestamp``."""
    t = parse_time(timestamp)
    if t is None:
        return UNKNOWN
    return human_duration((t - (at or now())).total_seconds())


def created_at(obj: Obj) -> str:
    """The creationTimestamp as the default table convertor renders it (RFC 3339, UTC, seconds)."""
    t = parse_time(meta(obj).get("creationTimestamp"))
    if t is None:
        return "0001-01-01T00:00:00Z"  # Go's zero time formatted as RFC 3339
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ----------------------------------------------------------------------------------------- objects


def meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def name(obj: Obj) -> str:
    return meta(obj).get("name", "")


def obj_age(obj: Obj) -> str:
    """AGE of an object: the time since its creationTimestamp."""
    return age(meta(obj).get("creationTimestamp"))


def dig(obj: Any, *path: str | int, default: Any = None) -> Any:
    """obj[path[0]][path[1]]...; ``default`` when any step is missing or null."""
    cur = obj
    for key in path:
        if isinstance(key, int):
            if not isinstance(cur, list) or not -len(cur) <= key < len(cur):
                return default
            cur = cur[key]
        else:
            if not isinstance(cur, dict):
                return default
            cur = cur.get(key)
        if cur is None:
            return default
    return cur


def or_none(value: Any, marker: str = NONE) -> Any:
    """The value, or the marker upstream prints for an empty one ("<none>" by default)."""
    return marker if value in (None, "", [], {}) else value


def print_bool(value: Any) -> str:
    """printBoolPtr: "True"/"False", "<unset>" for a nil pointer."""
    if value is None:
        return UNSET
    return "True" if value else "False"


def list_with_more(items: list[str], total: int, limit: int = 3, empty: str = UNSET) -> str:
    """listWithMoreString: the first ``limit`` items, then " + N more..."; ``empty`` when there are none."""
    shown = ",".join(items[:limit])
    if total > limit:
        return f"{shown} + {total - limit} more..."
    return shown or empty


# ---------------------------------------------------------------------------- labels and selectors


def format_labels(labels: Mapping[str, str] | None) -> str:
    """labels.FormatLabels: "k=v" pairs sorted and comma-joined; "<none>" when empty."""
    text = ",".join(sorted(f"{k}={v}" for k, v in (labels or {}).items()))
    return text or NONE


_OPERATORS = {"In": " in ", "NotIn": " notin ", "Exists": "", "DoesNotExist": ""}


class InvalidSelector(ValueError):
    """A LabelSelector that LabelSelectorAsSelector rejects (unknown operator, wrong value count)."""


def label_selector_string(selector: Obj | None) -> str:
    """LabelSelectorAsSelector(selector).String(): requirements sorted by key; "" for nil or empty."""
    if not selector:
        return ""
    reqs: list[tuple[str, str]] = []
    for key, value in (selector.get("matchLabels") or {}).items():
        reqs.append((key, f"{key}={value}"))
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key", ""), expr.get("operator"), list(expr.get("values") or [])
        if op not in _OPERATORS:
            raise InvalidSelector(f"{op!r} is not a valid label selector operator")
        if op in ("In", "NotIn"):
            if not values:
                raise InvalidSelector("for 'in', 'notin' operators, values set can't be empty")
            shown = values[0] if len(values) == 1 else ",".join(sorted(values))
            reqs.append((key, f"{key}{_OPERATORS[op]}({shown})"))
        elif values:
            raise InvalidSelector("values set must be empty for exists and does not exist")
        else:
            reqs.append((key, key if op == "Exists" else f"!{key}"))
    reqs.sort(key=lambda r: r[0])
    return ",".join(text for _, text in reqs)


def format_label_selector(selector: Obj | None) -> str:
    """metav1.FormatLabelSelector: the selector string, "<none>" when empty, "<error>" when invalid."""
    try:
        text = label_selector_string(selector)
    except InvalidSelector:
        return "<error>"
    return text or NONE


# ------------------------------------------------------------------------------------- containers


def layout_containers(containers: Iterable[Obj] | None) -> tuple[str, str]:
    """layoutContainerCells: container names and images, each comma-joined."""
    cs = list(containers or [])
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def template_containers(obj: Obj, *path: str) -> list[Obj]:
    """The containers of the pod template at ``path`` (e.g. "spec", "template")."""
    return dig(obj, *path, "spec", "containers", default=[])


# ------------------------------------------------------------------------------------- IntOrString


def int_or_string(value: Any) -> str:
    """intstr.IntOrString.String(): the integer or the string ("50%")."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    return "" if value is None else str(value)


# ---------------------------------------------------------------------------------------- ports


def service_ports(ports: Iterable[Obj] | None) -> str:
    """makePortString: "80/TCP", or "80:30080/TCP" with a node port; comma-joined."""
    pieces = []
    for p in ports or []:
        proto = p.get("protocol", "TCP")
        node_port = p.get("nodePort") or 0
        if node_port > 0:
            pieces.append(f"{p.get('port', 0)}:{node_port}/{proto}")
        else:
            pieces.append(f"{p.get('port', 0)}/{proto}")
    return ",".join(pieces)


def join_host_port(host: str, port: int) -> str:
    """net.JoinHostPort: IPv6 hosts get brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# ------------------------------------------------------------------------------------- quantities

_DEC_SUFFIX = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BIN_SUFFIX = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DEC_BY_EXP = {v: k for k, v in _DEC_SUFFIX.items()}
_BIN_BY_EXP = {v: k for k, v in _BIN_SUFFIX.items()}
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$")


def _strip_factors(value: int, base: int) -> tuple[int, int]:
    times = 0
    while value != 0 and value % base == 0:
        value //= base
        times += 1
    return value, times


def quantity_string(value: Any) -> str:
    """resource.Quantity.String(): the canonical form ("1.5Gi" -> "1536Mi", "1000" -> "1k", "0.5" -> "500m").

    The suffix family of the input decides the format (binary, decimal SI, or exponent), as upstream.
    Precision below a nano is rounded up, as ParseQuantity does. Unparseable input is returned as is.
    """
    if value is None:
        return "0"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        text = repr(value) if isinstance(value, float) else str(value)
    else:
        text = str(value).strip()
    m = _QUANTITY.match(text)
    if not m:
        return text
    number, suffix = m.group(1), m.group(2) or ""
    try:
        amount = Decimal(number)
    except InvalidOperation:
        return text
    if suffix in _BIN_SUFFIX:
        fmt = "binary"
        amount *= Decimal(1024) ** _BIN_SUFFIX[suffix]
    elif suffix[:1] in ("e", "E"):
        fmt = "exponent"
        amount = amount.scaleb(int(suffix[1:]))
    else:
        fmt = "decimal"
        amount = amount.scaleb(_DEC_SUFFIX[suffix])
    # ParseQuantity keeps nano precision at most, rounding away from zero's floor (up).
    amount = amount.quantize(Decimal("1e-9"), rounding=ROUND_CEILING) if amount.as_tuple().exponent < -9 else amount
    if amount == 0:
        return "0"
    if fmt == "binary":
        if -1024 < amount < 1024 or amount != amount.to_integral_value():
            fmt = "decimal"
        else:
            mantissa, times = _strip_factors(int(amount), 1024)
            if times in _BIN_BY_EXP:
                return f"{mantissa}{_BIN_BY_EXP[times]}"
            return f"{mantissa * 1024 ** (times - 6)}Ei"
    # decimal mantissa * 10**exponent with the exponent a multiple of 3
    sign, digits, exp = amount.normalize().as_tuple()
    mantissa = int("".join(map(str, digits))) * (-1 if sign else 1)
    exponent = int(exp)
    if exponent % 3 == 1:
        mantissa, exponent = mantissa * 10, exponent - 1
    elif exponent % 3 == 2:
        mantissa, exponent = mantissa * 100, exponent - 2
    if fmt == "exponent":
        return f"{mantissa}" if exponent == 0 else f"{mantissa}e{exponent}"
    if exponent in _DEC_BY_EXP:
        return f"{mantissa}{_DEC_BY_EXP[exponent]}"
    return f"{mantissa}e{exponent}"


# ------------------------------------------------------------------------------------ descriptions


def doc(definition: str, *path: str) -> str:
    """A field's description from the 1.32 OpenAPI schemas (what upstream's SwaggerDoc() returns).

    ``definition`` is the short name after ``io.k8s.api.`` (e.g. "core.v1.PodSpec") or a full name.
    """
    full = definition if definition.startswith("io.k8s.") else f"io.k8s.api.{definition}"
    node: Obj | None = schemas.definitions().get(full)
    for i, key in enumerate(path):
        node = schemas.field(node, key)
        if node is None:
            return ""
        if i == len(path) - 1:
            return node.get("description") or schemas.resolve(node).get("description", "")
    return ""


META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def name_doc() -> str:
    return doc(META, "name")


def created_doc() -> str:
    return doc(META, "creationTimestamp")


def name_column() -> Column:
    """The NAME column every upstream printer starts with."""
    return Column("Name", "string", "name", name_doc())


def age_column() -> Column:
    """The AGE column (time since creationTimestamp)."""
    return Column("Age", "string", "", created_doc())

"""Name, label and annotation rules, with the messages of k8s.io/apimachinery/pkg/util/validation.

Each ``*_errors`` function returns the list of messages Kubernetes would give (empty when valid);
callers wrap them into ``FieldError``s at the right field path.
"""

from __future__ import annotations

import re
from typing import Any

from facade.errors import FieldError, invalid, required, too_long

DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE_FMT = "(" + QUALIFIED_NAME_FMT + ")?"

_label = re.compile("^" + DNS1123_LABEL_FMT + "$")
_subdomain = re.compile("^" + DNS1123_SUBDOMAIN_FMT + "$")
_dns1035 = re.compile("^" + DNS1035_LABEL_FMT + "$")
_qualified = re.compile("^" + QUALIFIED_NAME_FMT + "$")
_label_value = re.compile("^" + LABEL_VALUE_FMT + "$")


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """apimachinery's RegexError: ``msg (e.g. 'a',  or 'b', regex used for validation is 'fmt')``."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    s = msg + " (e.g. "
    for i, ex in enumerate(examples):
        if i > 0:
            s += " or "
        s += f"'{ex}', "
    return s + f"regex used for validation is '{fmt}')"


def max_len_error(n: int) -> str:
    return f"must be no more than {n} characters"


def dns1123_label_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(max_len_error(63))
    if not _label.match(value):
        errs.append(
            regex_error(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                "and must start and end with an alphanumeric character",
                DNS1123_LABEL_FMT,
                "my-name",
                "123-abc",
            )
        )
    return errs


def dns1123_subdomain_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 253:
        errs.append(max_len_error(253))
    if not _subdomain.match(value):
        errs.append(
            regex_error(
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                "and must start and end with an alphanumeric character",
                DNS1123_SUBDOMAIN_FMT,
                "example.com",
            )
        )
    return errs


def dns1035_label_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(max_len_error(63))
    if not _dns1035.match(value):
        errs.append(
            regex_error(
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                "start with an alphabetic character, and end with an alphanumeric character",
                DNS1035_LABEL_FMT,
                "my-name",
                "abc-123",
            )
        )
    return errs


def path_segment_errors(value: str) -> list[str]:
    """apimachinery/pkg/api/validation/path.IsValidPathSegmentName."""
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    errs = []
    for bad in ("/", "%"):
        if bad in value:
            errs.append(f"may not contain '{bad}'")
    return errs


NAME_RULES = {
    "subdomain": dns1123_subdomain_errors,
    "label": dns1123_label_errors,
    "dns1035": dns1035_label_errors,
    "path": path_segment_errors,
}


def qualified_name_errors(value: str) -> list[str]:
    """IsQualifiedName: ``[prefix/]name`` as label keys and annotation keys are."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in dns1123_subdomain_errors(prefix))
    else:
        return [
            regex_error(
                "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and "
                "end with an alphanumeric character",
                QUALIFIED_NAME_FMT,
                "MyName",
                "my.name",
                "123-abc",
            )
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + max_len_error(63))
    if not _qualified.match(name):
        errs.append(
            "name part "
            + regex_error(
                "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                "alphanumeric character",
                QUALIFIED_NAME_FMT,
                "MyName",
                "my.name",
                "123-abc",
            )
        )
    return errs


def label_value_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(max_len_error(63))
    if not _label_value.match(value):
        errs.append(
            regex_error(
                "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                "and must start and end with an alphanumeric character",
                LABEL_VALUE_FMT,
                "MyValue",
                "my_value",
                "12345",
            )
        )
    return errs


def validate_labels(labels: Any, path: str) -> list[FieldError]:
    out: list[FieldError] = []
    if not isinstance(labels, dict):
        return out
    for k, v in labels.items():
        for m in qualified_name_errors(k):
            out.append(invalid(path, k, m))
        if not isinstance(v, str):
            out.append(invalid(f"{path}[{k}]", v, "must be a string"))
            continue
        for m in label_value_errors(v):
            out.append(invalid(path, v, m))
    return out


TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024


def validate_annotations(annotations: Any, path: str) -> list[FieldError]:
    out: list[FieldError] = []
    if not isinstance(annotations, dict):
        return out
    total = 0
    for k, v in annotations.items():
        for m in qualified_name_errors(k.lower()):
            out.append(invalid(path, k, m))
        total += len(k) + len(v if isinstance(v, str) else "")
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        out.append(too_long(path, "", TOTAL_ANNOTATION_SIZE_LIMIT))
    return out


def validate_name(name: Any, rule: str, path: str = "metadata.name") -> list[FieldError]:
    if not name:
        return [required(path, "name or generateName is required")]
    return [invalid(path, name, m) for m in NAME_RULES[rule](name)]

"""Build ``fields.json``, the wire schema of every Kubernetes protobuf message, from a kubectl binary.

Why from kubectl: the binary embeds, through gogo's registration, the gzipped FileDescriptorProto of
every ``k8s.io/api/*/generated.proto`` (field numbers and wire types), and Go's reflection data for
the structs those messages are generated from. The descriptors alone do not say how a decoded
message becomes JSON; the Go structs do: which fields are pointers (a zero that was *sent* must be
kept, e.g. ``replicas: 0``), which are ``omitempty`` (a zero is dropped), which are inlined
(``Volume`` carries its ``VolumeSource`` fields at its own level) and what the JSON name is. Both
are read here once, at development time; the server only reads the JSON this writes.

    python -m facade.protobuf.extract [--kubectl PATH] [--out FILE]

Needs the ``protobuf`` package (for ``FileDescriptorProto``); the server does not.
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from facade import schemas

# Field flags stored in the table; decode.py reads the same bits.
REPEATED = 1
POINTER = 2  # Go pointer: present on the wire means set, even to zero
OMITEMPTY = 4  # json ",omitempty": a zero scalar / empty list is not shown
INLINE = 8  # json ",inline": the message's fields belong to the parent object
MAP = 16  # a proto map; type_name is the entry message (key = 1, value = 2)

GZIP_MAGIC = b"\x1f\x8b\x08\x00\x00\x00\x00\x00"
DEFAULT_OUT = Path(__file__).with_name("fields.json")

# Go reflect kinds (internal/abi) that matter here.
_K_POINTER, _K_SLICE, _K_ARRAY, _K_MAP, _K_STRUCT = 22, 23, 17, 21, 25
# Size of abi.Type plus the kind-specific part, i.e. where the "uncommon" data (package path) starts;
# only the kinds a proto message can come from (structs, and slices such as metav1.Verbs).
_UNCOMMON_AT = {_K_STRUCT: 80, _K_SLICE: 56}


class ExtractError(Exception):
    """The binary does not hold what this tool expects (not a Go ELF binary, unknown Go layout...)."""


class _Image:
    """A Go ELF executable: virtual addresses to bytes."""

    def __init__(self, data: bytes) -> None:
        if data[:4] != b"\x7fELF" or data[4] != 2:
            raise ExtractError("not a 64-bit ELF executable")
        self.data = data
        shoff = struct.unpack_from("<Q", data, 0x28)[0]
        entsize, count, names_index = struct.unpack_from("<HHH", data, 0x3A)
        headers = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * entsize) for i in range(count)]
        names_at = headers[names_index][4]
        self.sections: dict[str, tuple[int, int, int]] = {}
        for h in headers:
            start = names_at + h[0]
            name = data[start:data.index(b"\0", start)].decode()
            self.sections[name] = (h[3], h[4], h[5])  # address, file offset, size
        self._spans = sorted(v for v in self.sections.values() if v[0] and v[1])

    def at(self, addr: int) -> int:
        for a, o, s in self._spans:
            if a <= addr < a + s:
                return addr - a + o
        raise ExtractError(f"address {addr:#x} is in no section")

    def u8(self, addr: int) -> int:
        return self.data[self.at(addr)]

    def u64(self, addr: int) -> int:
        return struct.unpack_from("<Q", self.data, self.at(addr))[0]

    def i32(self, addr: int) -> int:
        return struct.unpack_from("<i", self.data, self.at(addr))[0]

    def uvarint(self, addr: int) -> tuple[int, int]:
        value = shift = 0
        while True:
            b = self.u8(addr)
            addr += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return value, addr

    def name(self, addr: int) -> tuple[int, str, str]:
        """A Go ``abi.Name``: flags byte, varint length, bytes, then (flag 2) varint length and tag."""
        flags = self.u8(addr)
        n, p = self.uvarint(addr + 1)
        text = self.data[self.at(p):self.at(p) + n].decode("utf-8", "replace")
        tag = ""
        if flags & 2:
            n2, p2 = self.uvarint(p + n)
            tag = self.data[self.at(p2):self.at(p2) + n2].decode("utf-8", "replace")
        return flags, text, tag


@dataclass
class GoField:
    name: str
    tag: str
    kind: int
    embedded: bool


@dataclass
class GoType:
    kind: int
    fields: list[GoField]


def go_types(image: _Image) -> dict[tuple[str, str], GoType]:
    """Named struct and slice types by (package path, name), found from the module's type links.

    Assumes the abi.Type layout of Go 1.21 and later (kind byte at offset 23, name offset at 40).
    """
    rodata = image.sections.get(".rodata")
    links = image.sections.get(".typelink")
    if rodata is None or links is None:
        raise ExtractError("no .rodata/.typelink sections: not a Go binary")
    base = rodata[0]
    offsets = struct.unpack_from(f"<{links[2] // 4}i", image.data, links[1])

    def kind(t: int) -> int:
        return image.u8(t + 23) & 0x1F

    def type_name(t: int) -> str:
        _, text, _ = image.name(base + image.i32(t + 40))
        return text[1:] if image.u8(t + 20) & 2 else text  # tflag ExtraStar

    seen: set[int] = set()
    found: dict[tuple[str, str], GoType] = {}
    stack = [base + o for o in offsets]
    while stack:
        t = stack.pop()
        if t in seen:
            continue
        seen.add(t)
        k = kind(t)
        fields: list[GoField] = []
        if k in (_K_POINTER, _K_SLICE, _K_ARRAY):
            stack.append(image.u64(t + 48))
        elif k == _K_MAP:
            stack += [image.u64(t + 48), image.u64(t + 56)]
        elif k == _K_STRUCT:
            array, count = image.u64(t + 56), image.u64(t + 64)
            for i in range(count):
                name_at, typ, _ = struct.unpack_from("<QQQ", image.data, image.at(array + 24 * i))
                flags, name, tag = image.name(name_at)
                fields.append(GoField(name, tag, kind(typ), bool(flags & 8)))
                stack.append(typ)
        uncommon = _UNCOMMON_AT.get(k)
        if uncommon is None or not image.u8(t + 20) & 1 or k == _K_POINTER:
            continue
        _, pkg, _ = image.name(base + image.i32(t + uncommon))
        if pkg.startswith("k8s.io/"):
            found[(pkg, type_name(t).rsplit(".", 1)[-1])] = GoType(k, fields)
    if not found:
        raise ExtractError("no k8s.io Go types found; unexpected Go runtime layout")
    return found


def file_descriptors(data: bytes) -> list[Any]:
    """Every embedded gzipped FileDescriptorProto whose name ends in ``generated.proto``."""
    from google.protobuf import descriptor_pb2  # development-time dependency only

    out = {}
    i = data.find(GZIP_MAGIC)
    while i >= 0:
        try:
            raw = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data[i:i + 4_000_000])
            fd = descriptor_pb2.FileDescriptorProto.FromString(raw)
        except Exception:  # noqa: BLE001 - most gzip magics in a binary are not descriptors
            fd = None
        if fd is not None and fd.name.endswith("generated.proto"):
            out[fd.name] = fd
        i = data.find(GZIP_MAGIC, i + 1)
    if not out:
        raise ExtractError("no embedded generated.proto descriptors found")
    return [out[k] for k in sorted(out)]


def _tags(tag: str) -> dict[str, str]:
    """Go struct tag ``json:"a,omitempty" protobuf:"bytes,1,opt,name=a"`` -> {"json": ..., "protobuf": ...}."""
    out = {}
    rest = tag.strip()
    while rest:
        key, sep, rest = rest.partition(':"')
        if not sep:
            break
        value, _, rest = rest.partition('"')
        out[key.strip()] = value
        rest = rest.strip()
    return out


def _field_flags(go: GoType | None, number: int, fallback_json: str) -> tuple[str, int]:
    if go is None:
        return fallback_json, OMITEMPTY
    for f in go.fields:
        tags = _tags(f.tag)
        pb = tags.get("protobuf", "").split(",")
        if len(pb) < 2 or not pb[1].isdigit() or int(pb[1]) != number:
            continue
        json_name, *opts = tags.get("json", fallback_json).split(",")
        flags = (POINTER if f.kind == _K_POINTER else 0) | (OMITEMPTY if "omitempty" in opts else 0)
        if not json_name and "inline" in opts:
            flags |= INLINE
        return json_name or fallback_json, flags
    if any(_tags(f.tag).get("protobuf", "-") != "-" for f in go.fields):  # else its own codec (Time...)
        print(f"warning: no Go field for proto field {number} ({fallback_json})", file=sys.stderr)
    return fallback_json, OMITEMPTY


def build_table(data: bytes) -> dict[str, Any]:
    """The whole table written to fields.json."""
    image = _Image(data)
    types = go_types(image)
    messages: dict[str, list[list[Any]]] = {}
    lists: list[str] = []

    def add(prefix: str, pkg: str, msg: Any, go_name: str | None) -> None:
        full = f"{prefix}.{msg.name}"
        go = types.get((pkg, go_name)) if go_name else None
        if go is not None and go.kind == _K_SLICE:
            lists.append(full)
        nested = {f"{full}.{n.name}" for n in msg.nested_type if n.options.map_entry}
        rows = []
        for f in msg.field:
            type_name = f.type_name.lstrip(".")
            ptype = f.Type.Name(f.type)[5:].lower()
            if go_name is None or (go is not None and go.kind == _K_SLICE):
                json_name, flags = f.json_name or f.name, 0
            else:
                json_name, flags = _field_flags(go, f.number, f.json_name or f.name)
            if f.label == f.LABEL_REPEATED:
                flags |= REPEATED
            if type_name in nested:
                flags |= MAP
            rows.append([f.number, json_name, ptype, type_name, flags])
        messages[full] = rows
        for n in msg.nested_type:
            add(full, pkg, n, None)

    for fd in file_descriptors(data):
        pkg = fd.options.go_package or fd.name.rsplit("/", 1)[0]
        for msg in fd.message_type:
            add(fd.package, pkg, msg, msg.name)

    kinds: dict[str, str] = {}
    for name, node in schemas.definitions().items():
        proto = "k8s.io." + name[len("io.k8s."):] if name.startswith("io.k8s.") else name
        if proto not in messages:
            continue
        for gvk in node.get("x-kubernetes-group-version-kind", ()):
            kinds.setdefault(f"{gvk['group']}/{gvk['version']}/{gvk['kind']}", proto)
    return {"messages": messages, "lists": sorted(lists), "kinds": dict(sorted(kinds.items()))}


def _version(kubectl: str) -> str:
    try:
        out = subprocess.run([kubectl, "version", "--client", "-o", "json"], capture_output=True, text=True,
                             timeout=20, check=False).stdout
        return orjson.loads(out)["clientVersion"]["gitVersion"]
    except Exception:  # noqa: BLE001 - the version is only a note in the output
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubectl", default=None, help="kubectl binary (default: the one on PATH)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="where to write the table")
    args = parser.parse_args(argv)
    kubectl = args.kubectl or shutil.which("kubectl")
    if not kubectl:
        parser.error("kubectl not found on PATH; pass --kubectl")
    path = os.path.realpath(kubectl)
    try:
        table = build_table(Path(path).read_bytes())
    except ExtractError as e:
        print(f"error: {path}: {e}", file=sys.stderr)
        return 1
    table = {"kubectl": _version(kubectl), **table}
    Path(args.out).write_bytes(orjson.dumps(table) + b"\n")
    print(f"{args.out}: {len(table['messages'])} messages, {len(table['kinds'])} kinds from {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

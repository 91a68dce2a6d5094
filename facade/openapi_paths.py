"""The REST operations of each served resource, described once and rendered as Swagger 2.0 or OpenAPI 3.0.

kube-apiserver derives its paths from the installed REST storage; here they come from the resource table:
one ``ResourceInfo`` gives the collection, item and watch paths, and each named subresource its own. Names
(operationId, tags, descriptions) follow the apiserver's endpoint installer, because clients key on them:
kubectl's field-validation check looks for ``fieldValidation`` among the PATCH operation's own parameters
of the path whose ``x-kubernetes-group-version-kind`` is the kind, and kubectl apply reads the PATCH
content types to decide whether a kind takes strategic merge patch.

Parameters shared by every operation of a path are hoisted to the path, as kube-openapi does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from facade import schemas
from facade.openapi_parameters import PARAMETERS
from facade.resource_table import ResourceInfo

Node = dict[str, Any]

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
STATUS = META + "Status"
DELETE_OPTIONS = META + "DeleteOptions"
PATCH = META + "Patch"
WATCH_EVENT = META + "WatchEvent"
API_RESOURCE_LIST = META + "APIResourceList"

OBJECT_MEDIA = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
LIST_MEDIA = OBJECT_MEDIA + ("application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch")
PATCH_MEDIA = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)
# Custom resources take no strategic merge patch: kubectl apply falls back to a JSON merge patch for them.
CUSTOM_PATCH_MEDIA = tuple(m for m in PATCH_MEDIA if "strategic" not in m)

_LIST_PARAMS = (
    "allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "resourceVersion",
    "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch",
)  # fmt: skip
_DELETE_PARAMS = ("dryRun", "gracePeriodSeconds", "orphanDependents", "propagationPolicy")
_WRITE_PARAMS = ("dryRun", "fieldManager", "fieldValidation")

# Subresources that read and write the object (or a view of it) like the main resource does:
# name -> (group, version, kind) of the body, or None for the resource's own kind.
_RW_SUBRESOURCES: dict[str, tuple[str, str, str] | None] = {
    "status": None,
    "scale": ("autoscaling", "v1", "Scale"),
    "ephemeralcontainers": None,
    "resize": None,
    "approval": None,
}
# Subresources that only accept a create (POST) of another kind.
_CREATE_SUBRESOURCES: dict[str, tuple[str, str, str]] = {
    "binding": ("", "v1", "Binding"),
    "eviction": ("policy", "v1", "Eviction"),
    "token": ("authentication.k8s.io", "v1", "TokenRequest"),
}
# Streaming subresources served by "connect" (GET and POST upgrade to a stream).
_CONNECT_SUBRESOURCES: dict[str, str] = {
    "exec": "PodExecOptions",
    "attach": "PodAttachOptions",
    "portforward": "PodPortForwardOptions",
}


@dataclass(frozen=True)
class Param:
    name: str
    where: str  # "query", "path" or "body"
    type: str = "string"
    description: str = ""
    required: bool = False
    schema: str = ""  # body parameters: the definition name

    @property
    def key(self) -> tuple[str, str, str, str, bool, str]:
        return (self.name, self.where, self.type, self.description, self.required, self.schema)


@dataclass
class Operation:
    method: str  # get, put, post, patch, delete
    operation_id: str
    description: str
    action: str | None  # x-kubernetes-action
    gvk: dict[str, str] | None
    params: list[Param]
    tags: list[str]
    body: Param | None = None
    consumes: tuple[str, ...] = ("*/*",)
    produces: tuple[str, ...] = OBJECT_MEDIA
    # status code -> definition name, or "" for a plain string body, or None for no body
    responses: dict[str, str | None] = field(default_factory=dict)


@dataclass
class PathItem:
    path: str
    operations: list[Operation]
    params: list[Param] = field(default_factory=list)

    def hoist(self) -> None:
        """Move parameters every operation shares to the path, as kube-openapi's builder does."""
        if not self.operations:
            return
        common = {p.key for p in self.operations[0].params}
        for op in self.operations[1:]:
            common &= {p.key for p in op.params}
        shared = [p for p in self.operations[0].params if p.key in common]
        self.params = sorted(self.params + shared, key=lambda p: p.name)
        for op in self.operations:
            op.params = [p for p in op.params if p.key not in common]


def _query(name: str, alias: str = "") -> Param:
    where, typ, text = PARAMETERS[alias or name]
    return Param(name=name, where=where, type=typ, description=text, required=where == "path")


def group_camel(group: str) -> str:
    """``rbac.authorization.k8s.io`` -> ``RbacAuthorization``; the core group is ``Core``."""
    if not group:
        return "Core"
    trimmed = group.removesuffix(".k8s.io")
    parts = [p for p in trimmed.replace("-", ".").split(".") if p]
    return "".join(p[:1].upper() + p[1:] for p in parts)


def group_tag(group: str) -> str:
    camel = group_camel(group)
    return camel[:1].lower() + camel[1:]


def gv_tag(group: str, version: str) -> str:
    return f"{group_tag(group)}_{version}"


def _prefix(group: str, version: str) -> str:
    return f"/api/{version}" if not group else f"/apis/{group}/{version}"


def _article(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeiou" else "a"


def _gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "kind": kind, "version": version}


def _name_param(kind: str) -> Param:
    return Param("name", "path", description=f"name of the {kind}", required=True)


def _object_responses(ref: str, *codes: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {c: ref for c in codes}
    out["401"] = None
    return out


class _Builder:
    """Builds the PathItems of one resource, given the definition names of its kind and list kind."""

    def __init__(self, info: ResourceInfo, def_name: str, list_def_name: str | None, custom: bool) -> None:
        self.info = info
        self.def_name = def_name
        self.list_def_name = list_def_name
        self.custom = custom
        self.gv = group_camel(info.group) + info.version[:1].upper() + info.version[1:]
        self.tags = [gv_tag(info.group, info.version)]
        self.gvk = _gvk(info.group, info.version, info.kind)
        self.prefix = _prefix(info.group, info.version)
        self.pretty = _query("pretty")
        self.ns = _query("namespace")
        self.patch_media = CUSTOM_PATCH_MEDIA if custom else PATCH_MEDIA

    def _op(self, method: str, verb: str, scope: str, suffix: str, **kw: Any) -> Operation:
        kind = self.info.kind
        return Operation(
            method=method,
            operation_id=f"{verb}{self.gv}{scope}{kind}{suffix}",
            tags=self.tags,
            **kw,
        )

    def _scoped(self, base_params: list[Param]) -> tuple[str, str, list[Param]]:
        if self.info.namespaced:
            return f"{self.prefix}/namespaces/{{namespace}}/{self.info.plural}", "Namespaced", [self.ns, *base_params]
        return f"{self.prefix}/{self.info.plural}", "", list(base_params)

    def build(self) -> list[PathItem]:
        info = self.info
        verbs = set(info.verbs)
        kind = info.kind
        items: list[PathItem] = []
        collection, scope, scoped = self._scoped([self.pretty])
        list_params = [_query(n) for n in _LIST_PARAMS]
        write = [_query(n) for n in _WRITE_PARAMS]
        patch_write = [_query("dryRun"), _query("fieldManager", "fieldManager.patch"), _query("fieldValidation"),
                       _query("force")]  # fmt: skip
        body = Param("body", "body", required=True, schema=self.def_name)
        delete_body = Param("body", "body", schema=DELETE_OPTIONS)

        # the collection: list, create, deletecollection
        ops: list[Operation] = []
        if "list" in verbs and self.list_def_name:
            ops.append(self._op(
                "get", "list", scope, "", description=f"list or watch objects of kind {kind}", action="list",
                gvk=self.gvk, params=scoped + list_params, produces=LIST_MEDIA,
                responses=_object_responses(self.list_def_name, "200"),
            ))  # fmt: skip
        if "create" in verbs:
            ops.append(self._op(
                "post", "create", scope, "", description=f"create {_article(kind)} {kind}", action="post",
                gvk=self.gvk, params=scoped + write, body=body,
                responses=_object_responses(self.def_name, "200", "201", "202"),
            ))  # fmt: skip
        if "deletecollection" in verbs:
            dc = [_query(n) for n in ("continue", "dryRun", "fieldSelector", "gracePeriodSeconds", "labelSelector",
                                      "limit", "orphanDependents", "propagationPolicy", "resourceVersion",
                                      "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds")]  # fmt: skip
            op = self._op(
                "delete", "delete", scope, "", description=f"delete collection of {kind}",
                action="deletecollection", gvk=self.gvk, params=scoped + dc, body=delete_body,
                responses=_object_responses(STATUS, "200"),
            )  # fmt: skip
            op.operation_id = f"delete{self.gv}Collection{scope}{kind}"
            ops.append(op)
        if ops:
            items.append(PathItem(collection, ops))

        # the item: read, replace, patch, delete
        item_path = collection + "/{name}"
        named = [_name_param(kind), *scoped]
        ops = []
        if "get" in verbs:
            ops.append(self._op(
                "get", "read", scope, "", description=f"read the specified {kind}", action="get", gvk=self.gvk,
                params=list(named), responses=_object_responses(self.def_name, "200"),
            ))  # fmt: skip
        if "update" in verbs:
            ops.append(self._op(
                "put", "replace", scope, "", description=f"replace the specified {kind}", action="put",
                gvk=self.gvk, params=named + write, body=body,
                responses=_object_responses(self.def_name, "200", "201"),
            ))  # fmt: skip
        if "patch" in verbs:
            ops.append(self._op(
                "patch", "patch", scope, "", description=f"partially update the specified {kind}",
                action="patch", gvk=self.gvk, params=named + patch_write,
                body=Param("body", "body", required=True, schema=PATCH), consumes=self.patch_media,
                responses=_object_responses(self.def_name, "200", "201"),
            ))  # fmt: skip
        if "delete" in verbs:
            ops.append(self._op(
                "delete", "delete", scope, "", description=f"delete {_article(kind)} {kind}", action="delete",
                gvk=self.gvk, params=named + [_query(n) for n in _DELETE_PARAMS], body=delete_body,
                responses=_object_responses(STATUS, "200", "202"),
            ))  # fmt: skip
        if ops:
            items.append(PathItem(item_path, ops))

        # deprecated watch paths, still published (and still served by kube-apiserver)
        if "watch" in verbs:
            watch_prefix = f"{self.prefix}/watch"
            if info.namespaced:
                wcoll = f"{watch_prefix}/namespaces/{{namespace}}/{info.plural}"
                wscoped = [self.ns, self.pretty]
            else:
                wcoll = f"{watch_prefix}/{info.plural}"
                wscoped = [self.pretty]
            items.append(PathItem(wcoll, [self._op(
                "get", "watch", scope, "List",
                description=f"watch individual changes to a list of {kind}. deprecated: use the 'watch' "
                "parameter with a list operation instead.",
                action="watchlist", gvk=self.gvk, params=wscoped + list_params, produces=LIST_MEDIA,
                responses=_object_responses(WATCH_EVENT, "200"),
            )]))  # fmt: skip
            items.append(PathItem(wcoll + "/{name}", [self._op(
                "get", "watch", scope, "",
                description=f"watch changes to an object of kind {kind}. deprecated: use the 'watch' parameter "
                "with a list operation instead, filtered to a single item with the 'fieldSelector' parameter.",
                action="watch", gvk=self.gvk, params=[_name_param(kind), *wscoped, *list_params],
                produces=LIST_MEDIA, responses=_object_responses(WATCH_EVENT, "200"),
            )]))  # fmt: skip
            if info.namespaced:
                items.append(PathItem(f"{watch_prefix}/{info.plural}", [Operation(
                    method="get", operation_id=f"watch{self.gv}{kind}ListForAllNamespaces", tags=self.tags,
                    description=f"watch individual changes to a list of {kind}. deprecated: use the 'watch' "
                    "parameter with a list operation instead.",
                    action="watchlist", gvk=self.gvk, params=[self.pretty, *list_params], produces=LIST_MEDIA,
                    responses=_object_responses(WATCH_EVENT, "200"),
                )]))  # fmt: skip
        if info.namespaced and "list" in verbs and self.list_def_name:
            items.append(PathItem(f"{self.prefix}/{info.plural}", [Operation(
                method="get", operation_id=f"list{self.gv}{kind}ForAllNamespaces", tags=self.tags,
                description=f"list or watch objects of kind {kind}", action="list", gvk=self.gvk,
                params=[self.pretty, *list_params], produces=LIST_MEDIA,
                responses=_object_responses(self.list_def_name, "200"),
            )]))  # fmt: skip

        for sub in info.subresources:
            items.extend(self._subresource(sub, item_path, scope, scoped, write, patch_write))
        return items

    def _subresource(
        self,
        sub: str,
        item_path: str,
        scope: str,
        scoped: list[Param],
        write: list[Param],
        patch_write: list[Param],
    ) -> list[PathItem]:
        kind = self.info.kind
        path = f"{item_path}/{sub}"
        suffix = sub[:1].upper() + sub[1:]
        if sub in _RW_SUBRESOURCES:
            body_gvk = _RW_SUBRESOURCES[sub] or (self.info.group, self.info.version, self.info.kind)
            ref = self.def_name if _RW_SUBRESOURCES[sub] is None else _builtin_name(*body_gvk)
            if ref is None:
                return []
            gvk = _gvk(*body_gvk)
            named = [_name_param(body_gvk[2]), *scoped]
            ops = [
                self._op("get", "read", scope, suffix, description=f"read {sub} of the specified {kind}",
                         action="get", gvk=gvk, params=list(named), responses=_object_responses(ref, "200")),
                self._op("put", "replace", scope, suffix, description=f"replace {sub} of the specified {kind}",
                         action="put", gvk=gvk, params=named + write,
                         body=Param("body", "body", required=True, schema=ref),
                         responses=_object_responses(ref, "200", "201")),
                self._op("patch", "patch", scope, suffix,
                         description=f"partially update {sub} of the specified {kind}", action="patch", gvk=gvk,
                         params=named + patch_write, body=Param("body", "body", required=True, schema=PATCH),
                         consumes=self.patch_media, responses=_object_responses(ref, "200", "201")),
            ]  # fmt: skip
            return [PathItem(path, ops)]
        if sub == "finalize":
            named = [_name_param(kind), *scoped]
            return [PathItem(path, [self._op(
                "put", "replace", scope, suffix, description=f"replace {sub} of the specified {kind}",
                action="put", gvk=self.gvk, params=named + write,
                body=Param("body", "body", required=True, schema=self.def_name),
                responses=_object_responses(self.def_name, "200", "201"),
            )])]  # fmt: skip
        if sub in _CREATE_SUBRESOURCES:
            body_gvk = _CREATE_SUBRESOURCES[sub]
            ref = _builtin_name(*body_gvk)
            if ref is None:
                return []
            named = [_name_param(body_gvk[2]), *scoped]
            return [PathItem(path, [self._op(
                "post", "create", scope, suffix, description=f"create {sub} of {_article(kind)} {kind}",
                action="post", gvk=_gvk(*body_gvk), params=named + write,
                body=Param("body", "body", required=True, schema=ref),
                responses=_object_responses(ref, "200", "201", "202"),
            )])]  # fmt: skip
        if sub == "log":
            named = [_name_param(kind), *scoped]
            extra = [_query(k.split(".", 1)[1], k) for k in sorted(PARAMETERS) if k.startswith("log.")]
            op = self._op(
                "get", "read", scope, suffix, description=f"read {sub} of the specified {kind}", action="get",
                gvk=self.gvk, params=named + extra, produces=("text/plain", *OBJECT_MEDIA),
                responses={"200": "", "401": None},
            )  # fmt: skip
            return [PathItem(path, [op])]
        if sub in _CONNECT_SUBRESOURCES:
            opts = _CONNECT_SUBRESOURCES[sub]
            gvk = _gvk(self.info.group, self.info.version, opts)
            extra = [_query(k.split(".", 1)[1], k) for k in sorted(PARAMETERS) if k.startswith(sub + ".")]
            named = [_name_param(opts), self.ns] if self.info.namespaced else [_name_param(opts)]
            ops = []
            for method in ("get", "post"):
                m = method.capitalize()
                ops.append(Operation(
                    method=method, operation_id=f"connect{self.gv}{m}{scope}{kind}{suffix}", tags=self.tags,
                    description=f"connect {method.upper()} requests to {sub} of {kind}", action="connect",
                    gvk=gvk, params=named + extra, consumes=("*/*",), produces=("*/*",),
                    responses={"200": "", "401": None},
                ))  # fmt: skip
            return [PathItem(path, ops)]
        return []


def _builtin_name(group: str, version: str, kind: str) -> str | None:
    return schemas.definition_name(group, version, kind)


def resource_paths(info: ResourceInfo, def_name: str, list_def_name: str | None, custom: bool) -> list[PathItem]:
    """Every path of one resource, parameters hoisted."""
    items = _Builder(info, def_name, list_def_name, custom).build()
    for item in items:
        item.hoist()
    return items


def api_resources_path(group: str, version: str) -> PathItem:
    """``GET /apis/<group>/<version>/`` (APIResourceList), present in every group-version document."""
    gv = group_camel(group) + version[:1].upper() + version[1:]
    op = Operation(
        method="get",
        operation_id=f"get{gv}APIResources",
        description="get available resources",
        action=None,
        gvk=None,
        params=[],
        tags=[gv_tag(group, version)],
        consumes=("application/json", "application/yaml", "application/vnd.kubernetes.protobuf"),
        responses=_object_responses(API_RESOURCE_LIST, "200"),
    )
    return PathItem(_prefix(group, version) + "/", [op])


def discovery_path(path: str, operation_id: str, description: str, tag: str, ref: str, json_only: bool = False) -> PathItem:
    """A discovery endpoint (``/api/``, ``/apis/``, ``/apis/<group>/``, ``/version/``)."""
    media = ("application/json",) if json_only else OBJECT_MEDIA
    op = Operation(
        method="get",
        operation_id=operation_id,
        description=description,
        action=None,
        gvk=None,
        params=[],
        tags=[tag],
        consumes=media,
        produces=media,
        responses=_object_responses(ref, "200"),
    )
    return PathItem(path, [op])

"""The storage contract, run against every backend (DESIGN.md contract 5)."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.interface import Expired, KeyExists, KeyNotFound, PreconditionFailed
from storage.memory import MemoryStore

BACKENDS = {"memory": lambda: MemoryStore(history=50)}


@pytest.fixture(params=sorted(BACKENDS))
def store(request):
    return BACKENDS[request.param]()


def run(coro):
    return asyncio.run(coro)


def cm(name: str, ns: str = "default", **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns, "uid": name},
            "data": data}


def test_every_write_takes_a_strictly_greater_resource_version(store):
    async def go():
        a = await store.create("configmaps", "default/a", cm("a"), None)
        b = await store.create("configmaps", "default/b", cm("b"), None)
        c = await store.update("configmaps", "default/a", cm("a", x="1"), None)
        d = await store.delete("configmaps", "default/b")
        return [a.rv, b.rv, c.rv, d.rv]

    rvs = run(go())
    assert rvs == sorted(rvs) and len(set(rvs)) == 4


def test_stored_bytes_carry_the_resource_version(store):
    s = run(store.create("configmaps", "default/a", cm("a"), None))
    assert orjson.loads(s.data)["metadata"]["resourceVersion"] == str(s.rv)


def test_create_of_an_existing_key_fails(store):
    async def go():
        await store.create("configmaps", "default/a", cm("a"), None)
        await store.create("configmaps", "default/a", cm("a"), None)

    with pytest.raises(KeyExists):
        run(go())


def test_update_with_a_stale_resource_version_is_refused_and_keeps_the_object(store):
    async def go():
        first = await store.create("configmaps", "default/a", cm("a"), None)
        await store.update("configmaps", "default/a", cm("a", v="2"), None, expected_rv=first.rv)
        with pytest.raises(PreconditionFailed):
            await store.update("configmaps", "default/a", cm("a", v="3"), None, expected_rv=first.rv)
        return await store.get("configmaps", "default/a")

    assert orjson.loads(run(go()).data)["data"] == {"v": "2"}


def test_delete_with_a_wrong_uid_precondition_is_refused(store):
    async def go():
        await store.create("configmaps", "default/a", cm("a"), None)
        with pytest.raises(PreconditionFailed):
            await store.delete("configmaps", "default/a", expected_uid="other")
        await store.delete("configmaps", "default/a", expected_uid="a")
        with pytest.raises(KeyNotFound):
            await store.delete("configmaps", "default/a")

    run(go())


def test_list_is_in_key_order_and_scoped_by_namespace_prefix(store):
    async def go():
        for key in ["b/x", "a/z", "a-b/y", "a/y"]:
            ns, name = key.split("/")
            await store.create("configmaps", key, cm(name, ns), None)
        everything, _, _ = await store.list("configmaps")
        in_a, _, _ = await store.list("configmaps", "a/")
        return [s.key for s in everything], [s.key for s in in_a]

    everything, in_a = run(go())
    assert everything == ["a-b/y", "a/y", "a/z", "b/x"]
    assert in_a == ["a/y", "a/z"]


def test_paged_list_continues_over_the_snapshot_of_its_first_page(store):
    async def go():
        for i in range(10):
            await store.create("configmaps", f"default/c{i}", cm(f"c{i}"), None)
        page1, nxt, rv = await store.list("configmaps", "default/", limit=4)
        # the world changes between pages
        await store.delete("configmaps", "default/c5")
        await store.create("configmaps", "default/c55", cm("c55"), None)
        await store.update("configmaps", "default/c7", cm("c7", changed="yes"), None)
        page2, nxt2, rv2 = await store.list("configmaps", "default/", start=nxt, limit=4, at_rv=rv)
        page3, nxt3, _ = await store.list("configmaps", "default/", start=nxt2, limit=4, at_rv=rv)
        return page1, page2, page3, nxt3, rv, rv2

    page1, page2, page3, nxt3, rv, rv2 = run(go())
    names = [s.key for s in page1 + page2 + page3]
    assert names == [f"default/c{i}" for i in range(10)]
    assert nxt3 is None and rv2 == rv
    assert all(s.rv <= rv for s in page1 + page2 + page3)


def test_a_list_at_a_revision_older_than_the_history_is_expired(store):
    async def go():
        first = await store.create("configmaps", "default/a", cm("a"), None)
        for i in range(200):
            await store.update("configmaps", "default/a", cm("a", i=str(i)), None)
        await store.list("configmaps", at_rv=first.rv)

    with pytest.raises(Expired):
        run(go())


def test_watch_resumes_from_a_revision_and_sees_every_later_event_in_order(store):
    async def go():
        a = await store.create("configmaps", "default/a", cm("a"), None)
        await store.update("configmaps", "default/a", cm("a", v="1"), None)
        w = store.watch("configmaps", "", a.rv, None)
        await store.delete("configmaps", "default/a")
        events = []
        async for ev in w:
            events.append((ev.type, ev.obj.key))
            if len(events) == 2:
                w.close()
        return events

    assert run(go()) == [("MODIFIED", "default/a"), ("DELETED", "default/a")]


def test_watch_from_a_revision_outside_the_history_is_expired(store):
    async def go():
        first = await store.create("configmaps", "default/a", cm("a"), None)
        for i in range(200):
            await store.update("configmaps", "default/a", cm("a", i=str(i)), None)
        store.watch("configmaps", "", first.rv - 1, None)

    with pytest.raises(Expired):
        run(go())


def test_watch_with_a_predicate_sees_objects_entering_and_leaving_as_added_and_deleted(store):
    async def go():
        w = store.watch("configmaps", "", store.rv, lambda s: (s.labels or {}).get("app") == "web")
        obj = cm("a")
        await store.create("configmaps", "default/a", obj, None)
        obj = cm("a")
        obj["metadata"]["labels"] = {"app": "web"}
        await store.update("configmaps", "default/a", obj, None)
        obj = cm("a")
        obj["metadata"]["labels"] = {"app": "db"}
        await store.update("configmaps", "default/a", obj, None)
        w.close()
        return [(ev.type, orjson.loads(ev.obj.data)["metadata"].get("labels")) for ev in w.drain()]

    assert run(go()) == [("ADDED", {"app": "web"}), ("DELETED", {"app": "web"})]


keys = st.sampled_from([f"ns{i % 2}/o{i}" for i in range(6)])
ops = st.lists(st.tuples(st.sampled_from(["create", "update", "delete"]), keys, st.integers(0, 3)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(ops=ops, limit=st.integers(1, 4))
def test_store_agrees_with_a_dictionary_model_and_pages_cover_the_list(ops, limit):
    """Random writes: get/list match a plain dict; paged lists at one revision equal the unpaged list."""

    async def go():
        store = MemoryStore(history=1000)
        model: dict[str, str] = {}
        for op, key, val in ops:
            ns, name = key.split("/")
            obj = cm(name, ns, v=str(val))
            try:
                if op == "create":
                    await store.create("configmaps", key, obj, None)
                    assert key not in model
                elif op == "update":
                    await store.update("configmaps", key, obj, None)
                    assert key in model
                else:
                    await store.delete("configmaps", key)
                    assert key in model
                    del model[key]
                    continue
                model[key] = str(val)
            except KeyExists:
                assert key in model
            except KeyNotFound:
                assert key not in model
        full, _, rv = await store.list("configmaps")
        assert {s.key: orjson.loads(s.data)["data"]["v"] for s in full} == model
        assert [s.key for s in full] == sorted(model)
        paged, start = [], ""
        while True:
            page, nxt, _ = await store.list("configmaps", start=start, limit=limit, at_rv=rv)
            paged += page
            if nxt is None:
                break
            start = nxt
        assert [s.key for s in paged] == [s.key for s in full]

    asyncio.run(go())


def test_a_decoding_kept_on_a_version_is_dropped_a_while_after_it_is_superseded(store):
    from storage.interface import RETIRED
    from storage.memory import RECENTLY_SUPERSEDED

    async def go():
        first = await store.create("configmaps", "default/a", cm("a"), None)
        first.decoded = {"parsed": 1}  # a reader's decoding, shared while this version is current
        second = await store.update("configmaps", "default/a", cm("a", x="1"), None)
        assert first.decoded == {"parsed": 1}  # superseded moments ago: lagging watchers still share it
        assert second.decoded is None
        for i in range(RECENTLY_SUPERSEDED):
            await store.update("configmaps", "default/a", cm("a", x=str(i + 2)), None)
        assert first.decoded is RETIRED  # the history keeps the version, not its decoding
        current = await store.get("configmaps", "default/a")
        assert current.decoded is None

    run(go())


def test_in_process_watchers_share_one_parsed_dict_per_pod_version():
    from controllers.client import InProcessClient
    from facade.kinds import builtin_table
    from facade.rest import RestStore

    async def go():
        rest = RestStore(MemoryStore(), builtin_table())
        client = InProcessClient(rest, "test")
        await client.create("v1", "namespaces", {"metadata": {"name": "ns"}})
        watches = [client.watch("v1", "pods", "1", "ns") for _ in range(3)]
        pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
        await client.create("v1", "pods", pod, "ns")
        seen = [await anext(w) for w in watches]
        assert [t for t, _ in seen] == ["ADDED"] * 3
        assert seen[0][1] is seen[1][1] is seen[2][1]
        assert "managedFields" not in seen[0][1]["metadata"]
        # a reader that asks for the shared result of its patch gets the dict the watchers get
        out = await client.patch("v1", "pods", "p", {"metadata": {"labels": {"a": "b"}}}, "ns", shared=True)
        events = [await anext(w) for w in watches]
        assert all(obj is out for _, obj in events)
        for w in watches:
            await w.aclose()

    run(go())

"""Node agents running in this process, by node name: how ``pods/log`` reaches a pod's node.

kube-apiserver dials the kubelet at the address the Node publishes; an agent inside ``kubefacade
serve`` is reached directly through this registry instead, with no socket in between.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runtime.agent import NodeAgent

_agents: dict[str, NodeAgent] = {}


def register(agent: NodeAgent) -> None:
    _agents[agent.name] = agent


def unregister(agent: NodeAgent) -> None:
    if _agents.get(agent.name) is agent:
        del _agents[agent.name]


def get(node: str) -> NodeAgent | None:
    return _agents.get(node)

"""What a publish takes from the graph the client posts.

``PipelineCreationInfo.Graph`` is the graph that gets published (contract section 2), so the
emulator publishes the posted module nodes, not a copy of the graph it stored: a step whose
node is left out is left out of the pipeline, and a node that names no step of the source
graph, or names it inconsistently, is refused. The source graph (``Graph.Id``) supplies what
each node's module executes.
"""

from __future__ import annotations

import dataclasses

from airflow_provider_mlpipelines.api.graph import GraphEntity, GraphModuleNode
from airflow_provider_mlpipelines.api.models import PipelineCreationInfo
from airflow_provider_mlpipelines.emulator.bodies import wire_key
from airflow_provider_mlpipelines.emulator.errors import bad_request
from airflow_provider_mlpipelines.emulator.render import module_id_for, node_id_for
from airflow_provider_mlpipelines.emulator.spec_model import PipelineSpec, StepSpec

_NODES_FIELD = f"{wire_key(PipelineCreationInfo, 'graph')}.{wire_key(GraphEntity, 'module_nodes')}"
_ID_KEY = wire_key(GraphModuleNode, "id")
_MODULE_KEY = wire_key(GraphModuleNode, "module_id")
_COMMENT_KEY = wire_key(GraphModuleNode, "comment")
_INVALID_GRAPH = "InvalidGraph"


def posted_steps(spec: PipelineSpec, entity: GraphEntity, graph_id: str) -> PipelineSpec:
    """``spec`` with the steps that the posted graph's module nodes name, in their order.

    :param spec: the pipeline of the source graph (with the published defaults applied).
    :param entity: the posted graph.
    :param graph_id: the source graph's id, for messages.
    :raises EmulatorError: 400 ``InvalidGraph`` for no nodes, an unknown or repeated node, or a
        node whose module or comment is not its step's.
    """
    if not entity.module_nodes:
        raise bad_request(
            f"{_NODES_FIELD} is empty: a pipeline needs at least one step; post the graph that "
            f"GET Graphs/{graph_id} returns",
            _INVALID_GRAPH,
            _NODES_FIELD,
        )
    by_node = {node_id_for(spec.name, step.name): step for step in spec.steps}
    steps: list[StepSpec] = []
    seen: set[str] = set()
    for index, node in enumerate(entity.module_nodes):
        where = f"{_NODES_FIELD}[{index}]"
        step = by_node.get(node.id)
        if step is None:
            raise bad_request(
                f"{where}.{_ID_KEY} '{node.id}' is not a node of graph '{graph_id}' (its "
                f"nodes: {', '.join(by_node)})",
                _INVALID_GRAPH,
                where,
            )
        _check_node(node, step, module_id_for(spec.name, step.name), where)
        if node.id in seen:
            raise bad_request(f"{where}: node '{node.id}' appears twice", _INVALID_GRAPH, where)
        seen.add(node.id)
        steps.append(step)
    return dataclasses.replace(spec, steps=tuple(steps))


def _check_node(node: GraphModuleNode, step: StepSpec, module_id: str, where: str) -> None:
    if node.module_id != module_id:
        raise bad_request(
            f"{where}.{_MODULE_KEY} '{node.module_id}' is not the module of node '{node.id}' "
            f"(step '{step.name}'): expected '{module_id}'",
            _INVALID_GRAPH,
            where,
        )
    # The step names that clients show come from the comment; a changed one would mislabel.
    if node.comment is not None and node.comment != step.name:
        raise bad_request(
            f"{where}.{_COMMENT_KEY} '{node.comment}' is not the name of the step of node "
            f"'{node.id}': expected '{step.name}'",
            _INVALID_GRAPH,
            where,
        )

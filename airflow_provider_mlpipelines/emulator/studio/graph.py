"""A pipeline's step graph laid out in layers, for the studio's server-side SVG.

Each step sits in the layer of its longest path from a source (a step waiting for nothing), so
fan-out spreads a layer wide and fan-in waits for its deepest input. Edges come from
``StepSpec.after``; an empty ``after`` means "after the previous step" (the v1 chaining).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from airflow_provider_mlpipelines.emulator.spec_model import StepSpec

#: Box size and gaps of the drawing, in SVG units (pixels at 100 %).
NODE_WIDTH = 180
NODE_HEIGHT = 54
LAYER_GAP = 70
ROW_GAP = 24
MARGIN = 16


@dataclass(frozen=True)
class GraphNode:
    """A step placed on the drawing.

    :param name: the step's name.
    :param layer: its column (0: the sources).
    :param row: its place in the column.
    :param x: left edge.
    :param y: top edge.
    """

    name: str
    layer: int
    row: int
    x: int
    y: int

    @property
    def cx(self) -> int:
        return self.x + NODE_WIDTH // 2

    @property
    def cy(self) -> int:
        return self.y + NODE_HEIGHT // 2


@dataclass(frozen=True)
class GraphEdge:
    """An edge from the right side of ``source`` to the left side of ``target``."""

    source: str
    target: str
    x1: int
    y1: int
    x2: int
    y2: int

    @property
    def path(self) -> str:
        """An SVG cubic curve between the two ends."""
        bend = (self.x2 - self.x1) // 2
        return (
            f"M{self.x1},{self.y1} C{self.x1 + bend},{self.y1} "
            f"{self.x2 - bend},{self.y2} {self.x2},{self.y2}"
        )


@dataclass(frozen=True)
class GraphLayout:
    """Nodes and edges with the drawing's size."""

    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]
    width: int
    height: int


def step_edges(steps: Sequence[StepSpec]) -> list[tuple[str, str]]:
    """The graph's edges ``(source, target)``: ``after`` names, or the previous step.

    :param steps: the pipeline's steps in their (topological) order.
    """
    edges: list[tuple[str, str]] = []
    known = {step.name for step in steps}
    for index, step in enumerate(steps):
        if step.after:
            edges.extend((source, step.name) for source in step.after if source in known)
        elif index > 0:
            edges.append((steps[index - 1].name, step.name))
    return edges


def layers(names: Sequence[str], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Each node's layer: the length of its longest path from a source.

    Nodes are visited in the given order, which must be topological (steps are held that way);
    an edge pointing backwards (a cycle) is ignored rather than looping.

    :param names: the nodes in topological order.
    :param edges: ``(source, target)`` pairs.
    """
    order = {name: index for index, name in enumerate(names)}
    incoming: dict[str, list[str]] = {name: [] for name in names}
    for source, target in edges:
        if source in order and target in order and order[source] < order[target]:
            incoming[target].append(source)
    layer: dict[str, int] = {}
    for name in names:
        layer[name] = max((layer[source] + 1 for source in incoming[name]), default=0)
    return layer


def layout(steps: Sequence[StepSpec]) -> GraphLayout:
    """Place the steps in longest-path layers, left to right, and route the edges.

    :param steps: the pipeline's steps in their (topological) order.
    """
    names = [step.name for step in steps]
    edges = step_edges(steps)
    layer_of = layers(names, edges)
    rows: dict[int, int] = {}
    nodes: dict[str, GraphNode] = {}
    for name in names:
        column = layer_of[name]
        row = rows.get(column, 0)
        rows[column] = row + 1
        nodes[name] = GraphNode(
            name=name,
            layer=column,
            row=row,
            x=MARGIN + column * (NODE_WIDTH + LAYER_GAP),
            y=MARGIN + row * (NODE_HEIGHT + ROW_GAP),
        )
    placed = [
        GraphEdge(
            source,
            target,
            nodes[source].x + NODE_WIDTH,
            nodes[source].cy,
            nodes[target].x,
            nodes[target].cy,
        )
        for source, target in edges
        if source in nodes and target in nodes and layer_of[source] < layer_of[target]
    ]
    columns = max(rows, default=-1) + 1
    tallest = max(rows.values(), default=0)
    width = 2 * MARGIN + max(columns * NODE_WIDTH + (columns - 1) * LAYER_GAP, 0)
    height = 2 * MARGIN + max(tallest * NODE_HEIGHT + (tallest - 1) * ROW_GAP, 0)
    return GraphLayout(tuple(nodes.values()), tuple(placed), width, height)

"""EXPLAIN (FORMAT JSON) output as a typed tree: pure code, tested on recorded plans.

Checks ask questions of the plan ("is there a Sort?", "which index?") and must not care
whether it came from ANALYZE (actual rows, buffers) or a plain EXPLAIN (estimates only), so
actual figures are optional and absent ones stay None rather than zero.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


class PlanParseError(ValueError):
    """The text is not the JSON that ``EXPLAIN (FORMAT JSON)`` prints."""


@dataclass(frozen=True, slots=True)
class PlanNode:
    """One node of a plan, with the fields the checks read and the rest kept in ``raw``."""

    node_type: str
    relation_name: str | None = None
    index_name: str | None = None
    plan_rows: float = 0.0
    total_cost: float = 0.0
    actual_rows: float | None = None
    actual_loops: float | None = None
    heap_fetches: int | None = None
    rows_removed_by_filter: float | None = None
    shared_hit_blocks: int | None = None
    shared_read_blocks: int | None = None
    sort_key: tuple[str, ...] = ()
    filter: str | None = None
    index_cond: str | None = None
    children: tuple[PlanNode, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def walk(self) -> Iterator[PlanNode]:
        """This node, then every descendant, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()

    @property
    def buffers(self) -> int | None:
        """Shared blocks hit plus read: cumulative, so the root's value covers the whole plan."""
        if self.shared_hit_blocks is None and self.shared_read_blocks is None:
            return None
        return (self.shared_hit_blocks or 0) + (self.shared_read_blocks or 0)

    def label(self) -> str:
        """``Index Only Scan using ix_a on t``, as EXPLAIN's text format names a node."""
        text = self.node_type
        if self.index_name:
            text += f" using {self.index_name}"
        if self.relation_name:
            text += f" on {self.relation_name}"
        return text


@dataclass(frozen=True, slots=True)
class Plan:
    """A whole plan: the root node and the timings EXPLAIN ANALYZE adds."""

    root: PlanNode
    planning_time_ms: float | None = None
    execution_time_ms: float | None = None

    def nodes(self) -> Iterator[PlanNode]:
        return self.root.walk()

    @property
    def analyzed(self) -> bool:
        return self.root.actual_rows is not None

    def index_names(self) -> list[str]:
        """Indexes the plan reads, in plan order, without repeats."""
        seen: dict[str, None] = {}
        for node in self.nodes():
            if node.index_name:
                seen.setdefault(node.index_name, None)
        return list(seen)

    def node_types(self) -> list[str]:
        return [node.node_type for node in self.nodes()]

    @property
    def heap_fetches(self) -> int | None:
        values = [n.heap_fetches for n in self.nodes() if n.heap_fetches is not None]
        return sum(values) if values else None

    @property
    def rows_removed_by_filter(self) -> float | None:
        values = [
            (n.rows_removed_by_filter or 0) * (n.actual_loops or 1)
            for n in self.nodes()
            if n.rows_removed_by_filter is not None
        ]
        return sum(values) if values else None

    def summary(self) -> str:
        """One line for a report: the chain of node labels, e.g. ``Limit > Index Scan using ix``."""
        return " > ".join(node.label() for node in self.nodes())


def _opt_float(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    return None if value is None else float(value)


def _opt_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    return None if value is None else int(value)


def _node(data: Any, path: str) -> PlanNode:
    if not isinstance(data, Mapping) or "Node Type" not in data:
        raise PlanParseError(f"{path}: expected a plan node with a 'Node Type'")
    children = data.get("Plans", [])
    if not isinstance(children, list):
        raise PlanParseError(f"{path}: 'Plans' is not a list")
    sort_key = data.get("Sort Key", [])
    try:
        return PlanNode(
            node_type=str(data["Node Type"]),
            relation_name=data.get("Relation Name"),
            index_name=data.get("Index Name"),
            plan_rows=float(data.get("Plan Rows", 0)),
            total_cost=float(data.get("Total Cost", 0)),
            actual_rows=_opt_float(data, "Actual Rows"),
            actual_loops=_opt_float(data, "Actual Loops"),
            heap_fetches=_opt_int(data, "Heap Fetches"),
            rows_removed_by_filter=_opt_float(data, "Rows Removed by Filter"),
            shared_hit_blocks=_opt_int(data, "Shared Hit Blocks"),
            shared_read_blocks=_opt_int(data, "Shared Read Blocks"),
            sort_key=tuple(str(k) for k in sort_key),
            filter=data.get("Filter"),
            index_cond=data.get("Index Cond"),
            children=tuple(_node(c, f"{path}.Plans[{i}]") for i, c in enumerate(children)),
            raw=data,
        )
    except (TypeError, ValueError) as exc:
        raise PlanParseError(f"{path}: {exc}") from None


def parse_plan(document: str | bytes | list[Any] | Mapping[str, Any]) -> Plan:
    """Parse what ``EXPLAIN (FORMAT JSON)`` returns: the text, or psycopg's decoded list."""
    data: Any = document
    if isinstance(document, str | bytes):
        try:
            data = json.loads(document)
        except json.JSONDecodeError as exc:
            raise PlanParseError(f"not JSON: {exc}") from None
    if isinstance(data, list):
        if len(data) != 1:
            raise PlanParseError(f"expected one plan, got {len(data)}")
        data = data[0]
    if not isinstance(data, Mapping) or "Plan" not in data:
        raise PlanParseError("expected an object with a 'Plan' key")
    return Plan(
        root=_node(data["Plan"], "Plan"),
        planning_time_ms=_opt_float(data, "Planning Time"),
        execution_time_ms=_opt_float(data, "Execution Time"),
    )

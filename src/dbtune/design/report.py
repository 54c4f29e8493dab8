"""What ``advise`` prints (a table, Markdown or JSON) and the one revision it writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbtune.design.budget import size_text
from dbtune.migrations.chain import current_head
from dbtune.migrations.revision_file import LINE, RevisionFile, new_revision_id
from dbtune.sql.helper_calls import wrapped

if TYPE_CHECKING:
    from dbtune.design import Design
    from dbtune.design.solver import Selection
    from dbtune.query.advice import Suggestion


def to_dict(design: Design) -> dict[str, Any]:
    selection = design.selection
    return {
        "target": design.target,
        "engine": design.engine,
        "passed": design.passed,
        "per_query_suggestions": design.per_query,
        "design_indexes": len(design.chosen),
        "cost_before": round(selection.cost_before, 2),
        "cost_after": round(selection.cost_after, 2),
        "solver": {"optimal": selection.optimal, "seconds": round(selection.seconds, 3)},
        **_sizes(design),
        "candidates": [
            {
                **c.suggestion.to_dict(),
                "sources": list(c.sources),
                "aliases": list(c.aliases),
                "chosen": i in selection.chosen,
                "estimated_bytes": c.bytes,
                "overhead": design.overheads[c.suggestion].to_dict(),
            }
            for i, c in enumerate(design.candidates)
        ],
        "measured": design.measured is not None,
        "figures": _figures(design),
        "existing_serves": [
            {"candidate": s.name, "existing": i.name, "definition": i.definition}
            for s, i in design.existing
        ],
        "renamed": [{"from": a, "to": b} for a, b in design.renamed],
        "refused": [r.to_dict() for r in design.refused],
        "redundant_existing": [r.to_dict() for r in design.redundant],
        "drops": [
            {
                "index": d.index.name,
                "table": d.index.table,
                "schema": d.index.schema,
                "owner": d.owner,
                "why": d.why,
                "call": d.call().text(),
                "undo": (u.text() if (u := d.undo()) else None),
            }
            for d in design.drops
        ],
        "queries": [_query(design, p.key) for p in design.profiles],
        "unfixable": list(selection.unfixable),
        "skipped": design.skipped,
    }


def _sizes(design: Design) -> dict[str, Any]:
    """The design's cost relative to today, its bytes against the budget, the what-ifs it
    took, and the budget curve."""
    selection = design.selection
    return {
        "relative_cost": round(selection.relative_cost, 4),
        "what_if": {"calls": design.what_if.calls, "seconds": round(design.what_if.seconds, 3)},
        "data_bytes": design.data_bytes,
        "budget_bytes": selection.budget_bytes,
        "existing_bytes": design.existing_bytes,
        "design_bytes": selection.chosen_bytes(design.candidates),
        "budget_curve": [_budget(design, s) for s in design.curve],
    }


def _budget(design: Design, selection: Selection) -> dict[str, Any]:
    """One point of the budget curve: the design the budget allows, from the same costs."""
    return {
        "budget_bytes": selection.budget_bytes,
        "relative_cost": round(selection.relative_cost, 4),
        "cost_after": round(selection.cost_after, 2),
        "optimal": selection.optimal,
        "design_bytes": selection.chosen_bytes(design.candidates),
        "indexes": [
            {
                "name": (c := design.candidates[i]).suggestion.name,
                "definition": c.suggestion.statement(),
                "estimated_bytes": c.bytes,
            }
            for i in selection.chosen
        ],
    }


def _figures(design: Design) -> str:
    if design.measured is not None:
        return "measured: EXPLAIN (ANALYZE, BUFFERS), medians"
    if not design.chosen and not design.drops:
        return "nothing new to measure"
    return "estimates only: nothing was built, so nothing could be executed"


def _query(design: Design, key: str) -> dict[str, Any]:
    before, after = design.before[key], design.after.get(key)
    served = design.selection.served_by.get(key, ())
    return {
        "query": key,
        "weight": next(p.weight for p in design.profiles if p.key == key),
        "before": {
            "cost": before.plan.root.total_cost if before.plan else None,
            "passed": before.passed,
            "plan": before.plan.summary() if before.plan else None,
        },
        "after": None
        if after is None
        else {
            "cost": after.plan.root.total_cost if after.plan else None,
            "passed": after.passed,
            "plan": after.plan.summary() if after.plan else None,
            "error": after.error,
        },
        "served_by": [design.candidates[i].suggestion.name for i in served],
        "measured": m.to_dict() if (m := (design.measured or {}).get(key)) else None,
    }


def render_json(design: Design) -> str:
    return json.dumps(to_dict(design), indent=2)


def render_markdown(design: Design) -> str:
    data = to_dict(design)
    verdict = "every query passes" if data["passed"] else "SOME QUERIES FAIL"
    solved = "optimal" if data["solver"]["optimal"] else "time limit"
    lines = [
        f"# Index design for {data['target']} ({data['engine']} what-if)",
        "",
        f"{data['design_indexes']} new indexes (the per-query advice: "
        f"{data['per_query_suggestions']}), {len(data['drops'])} dropped; workload cost "
        f"{data['cost_before']:,.0f} -> {data['cost_after']:,.0f} "
        f"({data['relative_cost']:.1%}), {size_text(data['design_bytes'])}"
        f"{_within(data['budget_bytes'], data['existing_bytes'])}; {verdict}; solver {solved} in "
        f"{data['solver']['seconds']:.2f} s; {data['what_if']['calls']:,} what-if plans in "
        f"{data['what_if']['seconds']:.1f} s",
        "",
    ]
    if data["design_indexes"] or data["drops"]:
        lines += ["| index | on | serves | write overhead | HOT lost on |", "|---|---|---|---|---|"]
    else:
        lines.append("Nothing to build or drop: the existing indexes serve the workload.")
    for c in data["candidates"]:
        if c["chosen"]:
            serves = ", ".join(q["query"] for q in data["queries"] if c["name"] in q["served_by"])
            o = c["overhead"]
            lines.append(
                f"| {c['name']} | {c['schema']}.{c['table']} | {serves} | "
                f"{o['ratio']:.1%} | {', '.join(o['hot_columns']) or '-'} |"
            )
    for d in data["drops"]:
        lines.append(
            f"| drop {d['index']} ({d['owner']}) | {d['schema']}.{d['table']} | {d['why']} | | |"
        )
    lines += ["", f"Figures: {data['figures']}.", ""]
    lines += [
        "| query | weight | cost before | cost after | passes before | after | measured |",
        "|---|---|---|---|---|---|---|",
    ]
    for q in data["queries"]:
        after = q["after"] or {}
        lines.append(
            f"| {q['query']} | {q['weight']:g} | {q['before']['cost'] or 0:,.1f} | "
            f"{after.get('cost') or 0:,.1f} | {'yes' if q['before']['passed'] else 'no'} | "
            f"{'yes' if after.get('passed') else 'no'} | {_measured_cell(q['measured'])} |"
        )
    lines += _curve(data)
    lines += _notes(data)
    return "\n".join(lines) + "\n"


def _within(budget: int | None, existing: int) -> str:
    if budget is None:
        return ""
    held = f", {size_text(existing)} of it dbtune's indexes already built" if existing else ""
    return f" within a budget of {size_text(budget)}{held}"


def _curve(data: dict[str, Any]) -> list[str]:
    """The budget curve as a table: each budget's relative cost and its indexes."""
    if not data["budget_curve"]:
        return []
    lines = ["", f"Budget curve (1x = the workload's tables, {size_text(data['data_bytes'])}):",
             "", "| budget | relative cost | size | indexes |", "|---|---|---|---|"]  # fmt: skip
    for point in data["budget_curve"]:
        names = ", ".join(i["name"] for i in point["indexes"]) or "-"
        lines.append(
            f"| {size_text(point['budget_bytes'])} | {point['relative_cost']:.1%} | "
            f"{size_text(point['design_bytes'])} | {names} |"
        )
    return lines


def _measured_cell(m: dict[str, Any] | None) -> str:
    if not m:
        return "-"
    b, a = m["before"], m["after"]
    return (
        f"{b['median_ms']:.3f} -> {a['median_ms']:.3f} ms, {b['buffers']:,} -> "
        f"{a['buffers']:,} buffers ({m['verdict']})"
    )


def _notes(data: dict[str, Any]) -> list[str]:
    """What the existing indexes and the measurements said, one line each."""
    lines = [""]
    lines += [
        f"- not proposed: {e['candidate']} is already there as {e['existing']}"
        for e in data["existing_serves"]
    ]
    lines += [f"- renamed {r['from']} -> {r['to']}: the database has an index of that name"
              for r in data["renamed"]]  # fmt: skip
    lines += [f"- left out: {r['index']}: {r['why']}" for r in data["refused"]]
    lines += [
        f"- {r['index']} ({r['owner']}) leads the key of the new {r['made_redundant_by']}; "
        f"{r['note']}"
        for r in data["redundant_existing"]
    ]
    lines += [f"- skipped (could not be planned): {s}" for s in data["skipped"]]
    return lines if len(lines) > 1 else []


def _index_lines(design: Design, position: int, s: Suggestion) -> list[str]:
    lines = [f"{s.name}: for {', '.join(design.selection.serving(position))}"]
    for key in design.selection.serving(position):
        m = (design.measured or {}).get(key)
        if m is not None:
            lines.append(f"  {m.text()}")
    if s.allow_wide and "allow_wide:" in s.reason:
        lines.append("  allow_wide:" + s.reason.split("allow_wide:", 1)[1])
    return lines


def revision(design: Design, versions: Path, command: str) -> Path:
    """One revision for the design: the chosen indexes built online, the drops dropped
    online; its downgrade undoes both exactly."""
    chosen = [(i, design.candidates[i].suggestion) for i in design.selection.chosen]
    create = [s.helper_call() for _, s in chosen]
    undo_create = [c.undo for c in create if c.undo is not None]
    drop = [d.call() for d in design.drops]
    undo_drop = [u for d in drop if (u := d.undo) is not None]
    figures = (
        "Measured before -> after: EXPLAIN (ANALYZE, BUFFERS), medians."
        if design.measured is not None
        else "Estimates only (HypoPG): nothing was built or executed; `--what-if build` measures."
    )
    lines = [
        f"The index design of dbtune advise: {len(create)} new indexes, {len(drop)} dropped.",
        "",
        figures,
        "",
        *(line for i, s in chosen for line in _index_lines(design, i, s)),
        *(f"drop {d.index.name} ({d.owner}): {d.why}" for d in design.drops),
        *(
            f"{r.index.name} ({r.owner}) leads the key of {r.by}; {r.kept_because}"
            for r in design.redundant
        ),
        "",
        "Produced by:",
        f"    {command}",
    ]
    doc = "\n".join(wrapped(lines, LINE - 3))
    steps = [("build the design's indexes", create), ("drop what no query uses", drop)]
    undo = [("", undo_drop), ("", undo_create)]
    made = RevisionFile(
        new_revision_id(), current_head(versions), doc,
        [(c, k) for c, k in steps if k], [(c, k) for c, k in undo if k],
    )  # fmt: skip
    return made.write(versions, "index_design")

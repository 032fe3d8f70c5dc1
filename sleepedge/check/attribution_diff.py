"""Layer-by-layer deltas of two attributions (:mod:`sleepedge.check.layers`) and the largest changes named."""
from __future__ import annotations

from typing import Any

QUANTITIES = ("weight_bytes", "output_bytes", "macs", "params")  # per layer, in this order
LABELS = {"weight_bytes": "weights", "output_bytes": "output", "macs": "MACs", "params": "params"}
N_LARGEST = 3


def delta(base: float | None, new: float | None) -> dict[str, Any]:
    """``{base, new, delta, delta_pct}`` (None where a side is missing; ``delta_pct`` None when base is 0)."""
    if base is None or new is None:
        return {"base": base, "new": new, "delta": None, "delta_pct": None}
    d = new - base
    pct = 0.0 if d == 0 else (100.0 * d / abs(base) if base else None)
    return {"base": base, "new": new, "delta": d, "delta_pct": pct}


def human(kind: str, v: float, signed: bool = True) -> str:
    """``+12.0 KiB`` / ``-512 B`` for bytes, ``+1.25 M`` / ``+640`` for counts."""
    sign = "+" if signed and v > 0 else ("-" if v < 0 else "")
    a = abs(v)
    if kind == "bytes":
        return f"{sign}{a:,.0f} B" if a < 1024 else (f"{sign}{a / 1024:,.1f} KiB" if a < 1 << 20 else
                                                        f"{sign}{a / (1 << 20):,.2f} MiB")
    return f"{sign}{a:,.0f}" if a < 10_000 else (f"{sign}{a / 1e3:,.1f} k" if a < 1e6 else f"{sign}{a / 1e6:,.2f} M")


def _kind(quantity: str) -> str:
    return "bytes" if quantity.endswith("_bytes") else "count"


def _layer_rows(base: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name in list(dict.fromkeys(list(new) + list(base))):
        b, n = base.get(name) or {}, new.get(name) or {}
        row: dict[str, Any] = {"layer": name, "side": "both" if name in base and name in new else (
            "new only" if name in new else "base only")}
        for q in QUANTITIES:  # a layer or quantity missing on one side counts as 0 there (added or removed)
            row[q] = delta(b.get(q, 0), n.get(q, 0)) if (q in b or q in n) else None
        rows.append(row)
    return rows


def _describe(row: dict[str, Any]) -> str:
    parts = []
    for q in QUANTITIES:
        d = row.get(q)
        if d and d["delta"]:
            pct = f" ({d['delta_pct']:+.1f} %)" if d["delta_pct"] is not None else " (new)"
            parts.append(f"{LABELS[q]} {human(_kind(q), d['delta'])}{pct}")
    tag = "" if row["side"] == "both" else f" [{row['side']}]"
    return f"{row['layer']}{tag}: " + ", ".join(parts)


def _score(row: dict[str, Any]) -> tuple[float, float, float]:
    def mag(q: str) -> float:
        d = row.get(q)
        return abs(d["delta"]) if d and d["delta"] else 0.0
    return mag("weight_bytes"), mag("macs"), mag("output_bytes")


def _arena(base: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any] | None:
    if not base or not new:
        return None
    out = {k: delta(base.get(k), new.get(k)) for k in ("total", "head", "tail")}
    classes = list(dict.fromkeys(list(new.get("classes", {})) + list(base.get("classes", {}))))
    out["classes"] = {c: delta(base.get("classes", {}).get(c), new.get("classes", {}).get(c)) for c in classes}
    return out


def layer_deltas(base: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    """``{"layers": [...], "arena": {...} or None, "largest": [text], "layer_notes": [...]}`` of one model."""
    notes = list((new or {}).get("notes", [])) + [f"base: {n}" for n in (base or {}).get("notes", [])]
    if not base or not new:
        notes.append("no per-layer attribution on " + ("either side" if not base and not new
                                                        else "the base" if not base else "the new side"))
        return {"layers": [], "arena": None, "largest": [], "layer_notes": notes}
    rows = _layer_rows(base.get("layers", {}), new.get("layers", {}))
    changed = sorted((r for r in rows if any(r.get(q) and r[q]["delta"] for q in QUANTITIES)), key=_score, reverse=True)
    largest = [_describe(r) for r in changed[:N_LARGEST]]
    arena = _arena(base.get("arena"), new.get("arena"))
    if arena and arena["total"]["delta"]:
        d = arena["total"]
        largest.append(f"TFLite Micro arena: {human('bytes', d['delta'])}"
                       + (f" ({d['delta_pct']:+.1f} %)" if d["delta_pct"] is not None else ""))
    return {"layers": rows, "arena": arena, "largest": largest, "layer_notes": notes}

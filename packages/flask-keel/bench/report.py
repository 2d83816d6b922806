"""The results as a Markdown table and a PNG chart."""

from __future__ import annotations

from pathlib import Path


def markdown(rows: list[dict], extras: list[tuple[str, str, str, bool]], header: str) -> str:
    """Each row: a server ("template" unless `server_name` says) against its baseline, in the
    same run; a row without a budget (None) is the floor, shown for what the libraries cost."""
    lines = [header, "", "| scenario | server | req/s | baseline | baseline req/s | ratio | budget | p99 ms (s/b) "
             "| errors (s/b) | ok |", "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | :-: |"]
    for row in rows:
        budget = row.get("budget_text") or ("floor, none" if row["budget"] is None else f">= {row['budget']:.2f}")
        lines.append(
            f"| {row['name']} | {row.get('server_name', 'template')} | {row['template'].requests_per_second:,.0f} | "
            f"{row['baseline_name']} | {row['baseline'].requests_per_second:,.0f} | {row['ratio']:.2f} | {budget} | "
            f"{row['template'].latency_p99_ms:.1f} / {row['baseline'].latency_p99_ms:.1f} | "
            f"{row['template'].non_2xx + row['template'].socket_errors} / "
            f"{row['baseline'].non_2xx + row['baseline'].socket_errors} | {'yes' if row['ok'] else 'NO'} |")
    lines += ["", "| measure | value | budget | ok |", "| --- | ---: | ---: | :-: |"]
    lines += [f"| {name} | {value} | {budget} | {'yes' if ok else 'NO'} |" for name, value, budget, ok in extras]
    return "\n".join(lines) + "\n"


def chart(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(max(10, 0.75 * len(rows)), 4.6))
    names = [row["name"] for row in rows]
    positions = range(len(rows))
    axis.bar([p - 0.2 for p in positions], [row["baseline"].requests_per_second for row in rows], 0.4,
             label="baseline (conventional build; floor: bare Flask / PyMySQL; scaling: 1 worker)", color="#9aa5b8")
    axis.bar([p + 0.2 for p in positions], [row["template"].requests_per_second for row in rows], 0.4,
             label="template (floor rows: the conventional build)", color="#2756c5")
    for position, row in zip(positions, rows, strict=True):
        axis.annotate(f"{row['ratio']:.2f}x", (position + 0.2, row["template"].requests_per_second),
                      ha="center", va="bottom", fontsize=9)
    axis.set_xticks(list(positions), [name.replace(": ", ":\n", 1) for name in names], fontsize=7, rotation=15)
    axis.set_ylabel("requests / s")
    axis.set_title("Template vs the conventional build, and the bare floor; same gunicorn config, same run")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)

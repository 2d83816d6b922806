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
    """Horizontal bars, one pair per row of the table and in its order, so every name reads whole."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(12, 1.2 + 0.5 * len(rows)))
    positions = [-index for index in range(len(rows))]  # the table's first row on top
    axis.barh([p + 0.2 for p in positions], [row["baseline"].requests_per_second for row in rows], 0.4,
              label="baseline (conventional build; floor: bare Flask / PyMySQL; scaling: 1 worker; "
                    "stretch: FastAPI)", color="#9aa5b8")
    axis.barh([p - 0.2 for p in positions], [row["template"].requests_per_second for row in rows], 0.4,
              label="template (floor rows: the conventional build)", color="#2756c5")
    for position, row in zip(positions, rows, strict=True):
        axis.annotate(f" {row['ratio']:.2f}x", (row["template"].requests_per_second, position - 0.2),
                      ha="left", va="center", fontsize=8)
    axis.set_yticks(positions, [row["name"] for row in rows], fontsize=8)
    axis.set_xlabel("requests / s")
    axis.margins(x=0.08)
    figure.suptitle("The template against the conventional build, and the bare floor: same gunicorn command, "
                    "same run", fontsize=10)
    axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.6 / len(rows) - 0.04), ncol=1, fontsize=8,
                frameon=False)
    figure.tight_layout()
    figure.savefig(path, dpi=120)

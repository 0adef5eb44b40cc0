"""report.md and chart.png from result.json (also runnable alone: python -m bench.report DIR)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench import operator_tools
from bench.common import log

DB_TITLE = {"pg": "PostgreSQL", "sqlite": "SQLite"}
COLORS = {"pg": "#336791", "sqlite": "#d08c2f"}


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        text = f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}" if abs(value) < 1000 else f"{value:,.0f}"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def _verdict(passed: bool | None) -> str:
    return "–" if passed is None else ("**pass**" if passed else "**MISS**")


def _load_row(label: str, run: dict[str, Any], ceiling_rps: float, ceiling_p99: float) -> str:
    lat = run["latency_ms"]
    cpu = run["cpu"]
    return (
        f"| {label} | {run['rps']:,.0f} | {run['rps'] / ceiling_rps:.3f} | {lat['mean']:.2f} | "
        f"{lat['p50']:.2f} | "
        f"{lat['p99']:.2f} | {lat['p99'] / ceiling_p99:.2f} | {run['errors']} | "
        f"{_fmt(cpu['server_us_per_req'])} | "
        f"{_fmt(cpu['postgres_us_per_req'])} | {_fmt(cpu['other_cores'])}{' ⚠' if _disturbed(run) else ''} | "
        f"{_fmt(run.get('calib_ms'))} |"
    )


DISTURBED_CORES = 0.3


def _disturbed(run: dict[str, Any]) -> bool:
    """Other processes used a noticeable share of the 2 CPUs during this load."""
    return (run["cpu"].get("other_cores") or 0) > DISTURBED_CORES


def markdown(doc: dict[str, Any], chart: str | None) -> str:
    env = doc["environment"]
    cfg = doc["config"]
    out: list[str] = []
    w = out.append
    w("# Benchmark report\n")
    w(
        f"Run {doc['started_at'][:19]}Z, `{doc['command']}`: {doc['seconds_total'] / 60:.1f} min in all, "
        f"of which {doc['seconds_generation'] / 60:.1f} min building or checking the databases.\n"
    )
    w(
        f"Server: `ugs serve --workers {cfg['workers']}` (uvicorn) on 127.0.0.1; load: `wrk "
        f"-t{cfg['threads']} "
        f"-c{cfg['connections']} --latency`, {cfg['warmup']:g} s warm-up then "
        f"{cfg['duration']:g} s measured per "
        "load. Ceiling = `GET /healthz` of the same server (constant JSON, no database), "
        "measured before and after "
        f"each authorize repetition; every ratio is against the mean of the ceilings around it.\n"
    )
    w("## Targets\n")
    w("| database | what | measured | target | result |")
    w("|---|---|---:|---:|---|")
    for row in doc["targets"]:
        w(
            f"| {DB_TITLE[row['db']]} | {row['title']} | {_fmt(row['measured'], row['unit'])} | "
            f"{row['target']} | "
            f"{_verdict(row['pass'])} |"
        )
    w("")
    if chart:
        w(
            "![throughput and latency as ratios of the ceiling; list and history latency "
            f"against size]({chart})\n"
        )

    for kind, res in doc["results"].items():
        title = DB_TITLE[kind]
        w(f"## {title}\n")
        code = res.get("code")
        if code:
            changes = f" + {len(code['uncommitted'])} uncommitted change(s)" if code["uncommitted"] else ""
            w(
                f"Code measured: commit {code['commit']}{changes} (app/ + migrations/ fingerprint "
                f"{code['fingerprint']}), loaded at {code['at']}.\n"
            )
        if "authorize" not in res:  # --operator-tools-only
            out.extend(operator_tools.markdown(res))
            continue
        ceiling_rps = res["ceiling_rps_mean"]
        ceiling_p99 = res["ceiling_p99_ms_median"]
        w(
            "Every load: requests per second, ratio to the ceiling, latency in ms (wrk), errors (non-2xx and "
            "socket), CPU time per request of the server process and of all PostgreSQL processes, CPU cores "
            "used by other processes during the run (should be ~0), and the CPU-speed probe (ms; this VM "
            "switches between ~12 and ~22).\n"
        )
        w(
            "| load | rps | × ceiling | mean | p50 | p99 | p99 / ceiling p99 | errors | server µs/req | "
            "PG µs/req | other cores | calib ms |"
        )
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for i, run in enumerate(res["ceiling"]):
            w(_load_row(f"ceiling #{i + 1}", run, ceiling_rps, ceiling_p99))
        for i, run in enumerate(res["authorize"]["runs"]):
            w(_load_row(f"authorize #{i + 1}", run, ceiling_rps, ceiling_p99))
        for endpoint in ("list", "history"):
            for size in ("full", "small"):
                for i, run in enumerate(res["scaling"][endpoint]["runs"][size]):
                    w(_load_row(f"{endpoint} {size} #{i + 1}", run, ceiling_rps, ceiling_p99))
        w("")
        loads = [
            *res["ceiling"],
            *res["authorize"]["runs"],
            *(
                run
                for e in ("list", "history")
                for z in ("full", "small")
                for run in res["scaling"][e]["runs"][z]
            ),
        ]
        disturbed = [run for run in [*loads, res["cards"]["single"]] if _disturbed(run)]
        others = [r.get("other_cores") for r in res["cards"]["bulk"]["requests"]]
        if "export" in res:
            others.append(res["export"].get("other_cores"))
        disturbed += [value for value in others if value is not None and value > DISTURBED_CORES]
        if disturbed:
            w(
                f"⚠ {len(disturbed)} measurements (of {len(loads) + len(others) + 1}) ran while other "
                "processes used more than "
                f"{DISTURBED_CORES} cores (the harness waited up to --quiet-wait seconds for the machine "
                "to be idle, then went on): read those rows with care, or rerun on a quiet machine.\n"
            )
        a = res["authorize"]
        w(
            f"**Authorize**: ratio per repetition {', '.join(f'{r:.3f}' for r in a['ratios'])} → median "
            f"**{a['ratio_median']:.3f}** ({a['rps_median']:,.0f} rps against a ceiling of "
            f"{ceiling_rps:,.0f}); "
            f"p50 {a['p50_ms_median']:.1f} ms, p99 **{a['p99_ms_median']:.1f} ms**; {a['errors']} errors; "
            f"server CPU {a['server_cpu_us_per_req']:.0f} µs per request.\n"
        )
        mix = res["authorize_mix"]
        w(
            "Mix sent (share of bodies): "
            f"{', '.join(f'{k} {v:.0%}' for k, v in mix['planned_share'].items())}. "
            f"Check of the first {mix['checked']} bodies against the live server: "
            f"{', '.join(f'{k} {v}' for k, v in sorted(mix['observed'].items()))}; "
            f"{mix['mismatches']} answers differed from the expected status. "
            + "Sequential latency of those requests (one connection, ms): "
            + "; ".join(
                f"by {form} p50 {v['p50']:.2f}, max {v['max']:.2f} (n={v['n']})"
                for form, v in mix.get("sequential_ms", {}).items()
            )
            + ".\n"
        )
        w(
            "**Latency against organization size** (ms; per size the median over its loads; "
            "full / small = the median over adjacent pairs of the ratio within the pair):\n"
        )
        w("| endpoint | metric | 1/100 size | full size | full / small | target |")
        w("|---|---|---:|---:|---:|---|")
        for endpoint, label in (
            ("list", "`GET /v1/user-groups?limit=50`"),
            ("history", "`GET /v1/user-groups/{id}/history?limit=50`"),
        ):
            s = res["scaling"][endpoint]
            for metric in ("mean", "p50", "p99"):
                w(
                    f"| {label} | {metric} | {s['small'][f'{metric}_ms']:.2f} | "
                    f"{s['full'][f'{metric}_ms']:.2f} | "
                    f"{s['factor'][metric]:.2f} | ≤ 1.3 |"
                )
            pairs = "; ".join(
                f"{metric} " + ", ".join(f"{v:.2f}" for v in values)
                for metric, values in s.get("pair_factors", {}).items()
            )
            w(f"| {label} | full / small per pair | | | {pairs} | |")
            w(
                f"| {label} | rps (× ceiling) | {s['small']['rps']:,.0f} "
                f"({s['small']['ratio_to_ceiling']:.3f}) | "
                f"{s['full']['rps']:,.0f} ({s['full']['ratio_to_ceiling']:.3f}) | | |"
            )
        w("")
        cards = res["cards"]
        single = cards["single"]
        w("**Adding cards** (full-size database, one connection):\n")
        w(
            f"* one card per request (`POST /v1/user-groups/{{id}}/cards`, wrk -c1 for "
            f"{single['seconds']:.0f} s, {single['requests']:,} cards into random groups): "
            f"{single['rps']:.0f} cards/s, **{_fmt(cards['single_ms_per_card'])} ms per card** "
            f"(p99 {single['latency_ms']['p99']:.1f} ms), CPU "
            f"{cards['single_cpu_us_per_card']:.0f} µs per card "
            f"(server + PostgreSQL), {single['errors']} errors;"
        )
        bulk = cards["bulk"]
        times = ", ".join(f"{r['seconds']:.2f} s" for r in bulk["requests"])
        w(
            f"* {len(bulk['requests'])} bulk requests of {bulk['requests'][0]['cards']:,} new cards each "
            f"(`POST /v1/user-groups/{{id}}/cards/bulk`): {times} → "
            f"**{cards['bulk_ms_per_card']:.4f} ms per card**, "
            f"CPU {cards['bulk_cpu_us_per_card']:.0f} µs per card;"
        )
        if "cost_ratio" in cards:
            w(
                f"* bulk / single cost per card: **{cards['cost_ratio']:.3f}** in wall time "
                f"({cards['cpu_cost_ratio']:.3f} in CPU time); target ≤ 0.10.\n"
            )
        if "export" in res:
            e = res["export"]
            w(
                f"**CSV export** (`GET /v1/sessions/export.csv`, all sessions): {e['rows']:,} rows, "
                f"{e['bytes'] / 1e6:.1f} MB in **{e['seconds']:.1f} s** ({e['rows_per_s']:,.0f} "
                "rows/s, first byte "
                f"after {e['first_byte_s']:.2f} s); worker RSS {e['rss_before_mb']:.0f} MB before, peak "
                f"{e['rss_peak_mb']:.0f} MB (**+{e['rss_growth_mb']:.1f} MB**, "
                f"{e['rss_samples']} samples at 100 ms); "
                f"server CPU {e['server_cpu_s']:.1f} s"
                + (
                    f", PostgreSQL CPU {e['postgres_cpu_s']:.1f} s"
                    if e.get("postgres_cpu_s") is not None
                    else ""
                )
                + ".\n"
            )
        out.extend(operator_tools.markdown(res))
        rss = ", ".join(f"{v:.0f}" for v in res["rss_after_authorize_mb"].values() if v is not None)
        idle = ", ".join(f"{v:.0f}" for v in res["rss_idle_mb"].values() if v is not None)
        end = ", ".join(f"{v:.0f}" for v in res.get("rss_end_mb", {}).values() if v is not None)
        w(
            f"**Memory per worker** (VmRSS, MB): {idle} at start, **{rss} after the authorize "
            f"load**, {end} at the end.\n"
        )

    w("## Data\n")
    w("Rows generated per table (same seed for both databases):\n")
    kinds = list(doc["data"])
    first = doc["data"][kinds[0]]
    labels = list(first)
    w("| table | " + " | ".join(labels) + " |")
    w("|---|" + "---:|" * len(labels))
    tables = list(first[labels[0]].get("rows", {}))
    for table in tables:
        w(
            f"| {table} | "
            + " | ".join(_fmt(first[label].get("rows", {}).get(table)) for label in labels)
            + " |"
        )
    w("")
    w("| database | size | generated at | generation (all targets of that size) | database size |")
    w("|---|---|---|---:|---:|")
    for kind in kinds:
        for label, meta in doc["data"][kind].items():
            w(
                f"| {DB_TITLE[kind]} | {label} (scale {meta.get('scale')}) | "
                f"{str(meta.get('generated_at'))[:19]} | "
                f"{_fmt(meta.get('seconds_total'), 's')} | "
                f"{_fmt((meta.get('database_bytes') or 0) / 1e6, 'MB')} |"
            )
    w("")
    w("## Environment\n")
    packages = ", ".join(f"{k} {v}" for k, v in env["packages"].items())
    w(
        f"* {env['cpus']} CPUs ({env['cpu_model']}), Python {env['python']}, SQLite "
        f"{env['sqlite']}, {env['wrk']}"
    )
    w(f"* {packages}")
    if "postgresql" in env:
        w(f"* PostgreSQL: {', '.join(f'{k} {v}' for k, v in env['postgresql'].items())}")
    git = env["git"]
    changed = git["changed_app_files"]
    w(
        f"* code at the end of the run: commit {git['commit']}"
        + (
            f", with {len(changed)} uncommitted change(s) under app/ or "
            f"migrations/ (the working tree was measured): {', '.join(c.strip() for c in changed)}"
            if changed
            else ", clean"
        )
    )
    waits = [
        run["quiet"]["waited_s"]
        for res in doc["results"].values()
        for run in [*res.get("ceiling", []), *res.get("authorize", {}).get("runs", [])]
        if "quiet" in run
    ]
    w(
        f"* before each load the harness waited for the machine to be idle (other processes < 0.3 cores): "
        f"{sum(waits):.0f} s waited in all\n"
    )
    return "\n".join(out) + "\n"


def chart(doc: dict[str, Any], path: Path) -> bool:
    if any("authorize" not in res for res in doc["results"].values()):
        return False  # --operator-tools-only: no loads to draw
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib is missing: no chart (bench/run.sh installs it)")
        return False
    results = doc["results"]
    kinds = list(results)
    endpoints = [
        ("authorize", "POST\nauthorize"),
        ("list full", "GET list\nfull"),
        ("list small", "GET list\n1/100"),
        ("history full", "GET history\nfull"),
        ("history small", "GET history\n1/100"),
    ]

    def figures(res: dict[str, Any]) -> dict[str, tuple[float, float]]:
        ceiling_rps, ceiling_p99 = res["ceiling_rps_mean"], res["ceiling_p99_ms_median"]
        out = {
            "authorize": (res["authorize"]["ratio_median"], res["authorize"]["p99_ms_median"] / ceiling_p99)
        }
        for endpoint in ("list", "history"):
            for size in ("full", "small"):
                s = res["scaling"][endpoint][size]
                out[f"{endpoint} {size}"] = (s["rps"] / ceiling_rps, s["p99_ms"] / ceiling_p99)
        return out

    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    width = 0.8 / max(1, len(kinds))
    for panel, (ax, index, title, log_scale) in enumerate(
        (
            (axes[0][0], 0, "Throughput as a ratio of the ceiling (GET /healthz rps)", False),
            (axes[0][1], 1, "p99 latency as a ratio of the ceiling's p99", True),
        )
    ):
        for k, kind in enumerate(kinds):
            values = figures(results[kind])
            xs = [i + (k - (len(kinds) - 1) / 2) * width for i in range(len(endpoints))]
            heights = [values[key][index] for key, _ in endpoints]
            bars = ax.bar(xs, heights, width, label=DB_TITLE[kind], color=COLORS[kind])
            for bar, height in zip(bars, heights, strict=True):
                ax.annotate(
                    f"{height:.2f}" if height < 10 else f"{height:.0f}",
                    (bar.get_x() + bar.get_width() / 2, height),
                    ha="center",
                    va="bottom",
                    fontsize=8,
                )
            if panel == 0:
                goal = doc["targets_definition"]["authorize_ratio"][kind]
                x0 = xs[0]
                ax.plot(
                    [x0 - width / 2, x0 + width / 2],
                    [goal, goal],
                    color="red",
                    linewidth=2,
                    label="authorize target" if k == 0 else None,
                )
        ax.set_xticks(range(len(endpoints)))
        ax.set_xticklabels([label for _, label in endpoints], fontsize=8)
        ax.set_title(title, fontsize=10)
        if log_scale:
            ax.set_yscale("log")
        else:
            ax.axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
        ax.legend(fontsize=8)
    for ax, endpoint, title in (
        (axes[1][0], "list", "GET /v1/user-groups?limit=50: latency against size"),
        (axes[1][1], "history", "GET /v1/user-groups/{id}/history?limit=50: latency against size"),
    ):
        for kind in kinds:
            s = results[kind]["scaling"][endpoint]
            data = doc["data"][kind]
            labels = list(data)
            sizes = [data[label]["rows"]["cards"] for label in labels]
            order = sorted(range(len(labels)), key=lambda i: sizes[i])
            xs = [sizes[i] for i in order]
            size_keys = ["small" if sizes[i] == min(sizes) else "full" for i in order]
            for metric, style in (("p50", "-o"), ("p99", "--s"), ("mean", ":^")):
                ys = [s[key][f"{metric}_ms"] for key in size_keys]
                ax.plot(xs, ys, style, color=COLORS[kind], label=f"{DB_TITLE[kind]} {metric}")
            limit = 1.3 * s["small"]["p99_ms"]
            ax.plot([max(xs)], [limit], marker="_", markersize=25, color=COLORS[kind], alpha=0.6)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("cards in the organization (user groups = cards / 100)")
        ax.set_ylabel("latency at 32 connections (ms)")
        ax.set_title(title + "\n(bar at full size: 1.3 × the p99 at 1/100 size)", fontsize=10)
        ax.legend(fontsize=7)
    fig.suptitle(
        f"User groups service benchmark, {doc['started_at'][:16]}Z (1 worker, wrk -c32)", fontsize=12
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write(doc: dict[str, Any], run_dir: Path) -> None:
    has_chart = chart(doc, run_dir / "chart.png")
    (run_dir / "report.md").write_text(markdown(doc, "chart.png" if has_chart else None))


if __name__ == "__main__":
    directory = Path(sys.argv[1])
    write(json.loads((directory / "result.json").read_text()), directory)

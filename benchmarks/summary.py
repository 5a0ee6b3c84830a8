"""The human summary of a `python -m benchmarks run` document (markdown tables)."""

from __future__ import annotations

from typing import Any


def _row(name: str, level: dict[str, Any], extra: str = "") -> str:
    return (
        f"| {name} | {level.get('concurrency', '')} | {level.get('rps', '')} | {level.get('p50_ms', '')} "
        f"| {level.get('p99_ms', '')} | {level.get('errors', '')} | {extra} |"
    )


def scenario_rows(scenarios: dict[str, Any]) -> list[str]:
    rows = []
    listing = scenarios.get("list", {})
    for level in listing.get("levels", []):
        sql = listing.get("sql_statements_per_request")
        rows.append(
            _row(
                "console list (GraphQL)",
                level["graphql"],
                f"{level.get('ratio_to_baseline')} × baseline; {sql} SQL/req",
            )
        )
        if "baseline" in level:
            rows.append(_row("console list (baseline)", level["baseline"], "1 SQL/req"))
    detail = scenarios.get("detail", {})
    for level in detail.get("levels", []):
        rows.append(_row("ticket detail", level, f"{detail.get('sql_statements_per_request')} SQL/req"))
    intake = scenarios.get("intake", {})
    for level in intake.get("levels", []):
        rows.append(_row("createTicket", level, f"{intake.get('sql_statements_per_request')} SQL/req"))
    for level in intake.get("idempotent_levels", []):
        rows.append(
            _row(
                "createTicket + idempotency key",
                level,
                f"{intake.get('sql_statements_per_request_idempotent')} SQL/req",
            )
        )
    lifecycle = scenarios.get("lifecycle", {})
    for level in lifecycle.get("levels", []):
        rows.append(_row("lifecycle transitions", level, f"{lifecycle.get('sql_statements_per_request')} SQL/req"))
    automations = scenarios.get("automations", {})
    if "ratio" in automations:
        rows.append(_row("createTicket, no automations", automations["without"]))
        lag = automations["lag_when_load_stopped"]
        cpu = automations.get("server_cpu_ms_per_ticket", {})
        rows.append(
            _row(
                f"createTicket, {automations['automations']} automations + {automations['webhooks']} webhooks",
                automations["with_automations_and_webhooks"],
                f"{automations['ratio']} × (target {automations['target_ratio']}, met: {automations['met']}); "
                f"events behind at the end {lag['events_behind']}, "
                f"caught up in {automations['caught_up_after_seconds']} s; server CPU per ticket "
                f"{cpu.get('without')} → {cpu.get('with_automations_and_webhooks')} ms",
            )
        )
        helper = automations["with_a_consumers_process"]
        rows.append(
            _row(
                "  the same + a consumers process",
                helper["create_ticket"],
                f"{helper['ratio']} × (met: {helper['met']}); events behind at the end "
                f"{helper['lag_when_load_stopped']['events_behind']}, "
                f"caught up in {helper['caught_up_after_seconds']} s",
            )
        )
    for name, value in scenarios.items():
        if isinstance(value, dict) and "error" in value and "levels" not in value:
            rows.append(f"| {name} | failed: {value['error'][:100]} ||||||")
    return rows


def table(document: dict[str, Any]) -> str:
    lines = []
    machine = document.get("machine", {})
    lines.append(
        f"\nhelpdesk benchmark ({document.get('profile')}): {machine.get('cpus')} CPUs, "
        f"{machine.get('memory_gib')} GiB, PostgreSQL {machine.get('postgresql')}, load average "
        f"{machine.get('load_average_1m_at_start')} → {machine.get('load_average_1m_at_end')}, "
        f"{document.get('wall_seconds')} s"
    )
    run = document.get("run")
    if run:
        lines.append(f"\n{run['tickets']} tickets ({run['database']}, seeded now: {run['seeded_now']})\n")
        lines.append("| scenario | concurrency | req/s | p50 ms | p99 ms | errors | notes |")
        lines.append("|---|---:|---:|---:|---:|---:|---|")
        lines.extend(scenario_rows(run["scenarios"]))
        subs = run["scenarios"].get("subscriptions", {})
        if subs.get("results"):
            lines.append("\n| subscribers | delivered to all | p50 ms | p99 ms | RSS / connection |")
            lines.append("|---:|:---:|---:|---:|---:|")
            for r in subs["results"]:
                if "error" in r:
                    lines.append(f"| {r['subscribers']} | failed: {r['error'][:80]} |||")
                    continue
                latency = r.get("latency_ms", {})
                lines.append(
                    f"| {r['subscribers']} | {'yes' if r.get('received_all') else 'no'} | {latency.get('p50')} "
                    f"| {latency.get('p99')} | {r.get('rss_per_connection_kb')} KB |"
                )
    scale = document.get("scale")
    if scale:
        lines.append(
            "\n| tickets | concurrency | req/s | p50 ms | p99 ms | baseline req/s | baseline p50 ms | × baseline |"
        )
        lines.append("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for size in scale["sizes"]:
            for level in size.get("levels", []):
                g, b = level["graphql"], level.get("baseline", {})
                lines.append(
                    f"| {size['tickets']} | {g['concurrency']} | {g['rps']} | {g['p50_ms']} | {g['p99_ms']} "
                    f"| {b.get('rps')} | {b.get('p50_ms')} | {level.get('ratio_to_baseline')} |"
                )
    for name, value in (document.get("extra") or {}).items():
        lines.append(f"\n{name}: {'failed' if 'error' in value else 'see the JSON'} ({value.get('command')})")
    return "\n".join(lines)

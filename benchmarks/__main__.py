"""`python -m benchmarks run [--quick] [--size 10k|100k|1m] [--scenario ...] [--output FILE]`.

Seeds (or reuses) a helpdesk of the chosen size in PostgreSQL (HELPDESK_BENCH_DATABASE_URL,
else HELPDESK_TEST_DATABASE_URL, else DATABASE_URL, else postgresql://postgres@127.0.0.1:5432/
postgres names the server; the data set gets its own database), starts `helpdesk serve` and the
baseline (benchmarks/baseline.py), drives each scenario from a separate load process over
loopback, prints one JSON document (stdout or --output) and a summary table (stderr).

Scenarios: list, detail, intake, lifecycle, subscriptions (the default set), web_form
(submitWebForm against createTicket at concurrency 16, same run), automations (createTicket at
concurrency 16 without, then with 100 automations and 5 webhooks to a local receiver), scale (the console list at
10k, 100k and 1M tickets; in the full run by default), kb, report, sla, email_imap, csv_export,
custom_field_filter, automation_preview (single-purpose benchmarks, run as they are; the last
three over 1M tickets loaded by benchmarks/million_tickets.py). --quick: 10k tickets, short windows, 100
subscribers; it finishes in about a minute and a half on two cores. email_imap: 1,000 messages
(200 with --quick) in a private dovecot drained by a `helpdesk worker`.
"""

from __future__ import annotations

import argparse
import sys

from benchmarks import runner, seed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="seed, serve, load, report")
    run.add_argument("--quick", action="store_true", help="10k tickets, short windows, small fan-out (CI)")
    run.add_argument("--size", choices=sorted(seed.SIZES), help="data set (default 10k quick, 100k full)")
    run.add_argument(
        "--scenario",
        action="append",
        choices=runner.ALL_SCENARIOS,
        help="run only these (repeat the option); default: list detail intake lifecycle subscriptions (+ scale)",
    )
    run.add_argument("--output", help="write the JSON here instead of stdout")
    args = parser.parse_args(argv)
    return runner.main(args.quick, args.size, args.scenario, args.output)


if __name__ == "__main__":
    sys.exit(main())

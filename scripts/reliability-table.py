#!/usr/bin/env python3
"""Prints the reliability table from the rows the fault-injection suite wrote to
target/reliability/*.json (system-tests/src/faults/check.rs, `Row::report`), and writes it to
target/reliability/table.md. Run by scripts/test.sh and scripts/reliability.sh after the suite.

    python3 scripts/reliability-table.py STREAM_SIZE
"""
import json
import pathlib
import platform
import sys

folder = pathlib.Path(__file__).resolve().parent.parent / "target" / "reliability"
rows = [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]
lines = [
    f"Stream: {sys.argv[1]} acknowledged changes per scenario; {platform.node()}, "
    f"{platform.machine()}, debug builds, Apache Kafka 4.0 (KRaft) and mongo-java-server on "
    "127.0.0.1.",
    "",
    "| Scenario | Acknowledged | Applied downstream | Duplicated | Dead-lettered | Lost "
    "| Records per event | Recovery (s) |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
]
for row in rows:
    factor = "n/a" if row["records_per_event"] is None else f"{row['records_per_event']:.3f}"
    lines.append(
        f"| {row['scenario']} | {row['acknowledged']} | {row['applied']} | {row['duplicated']} "
        f"| {row['dead_lettered']} | {row['lost']} | {factor} | {row['recovery_seconds']:.1f} |"
    )
lines.append("")
lines.extend(f"- {row['scenario']}: {row['notes']}" for row in rows)
table = "\n".join(lines) + "\n"
print("\n" + table)
(folder / "table.md").write_text(table)

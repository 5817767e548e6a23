"""The Grafana dashboard parses, its queries parse (promtool), and they use only exported
metrics and labels."""

import json
import re
from pathlib import Path

import yaml

from common import Report


PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or",
    "unless", "inf", "nan", "atan2",
}
GRAFANA_SUBSTITUTIONS = {
    "$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h", "${datasource}": "", "$application": ".*",
}


def read_exported_metrics(path):
    families = {}
    for line in Path(path).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, kind, *labels = line.split()
        families[name] = {"type": kind, "labels": set(labels) | {"application"}}
    series = {}
    for name, family in families.items():
        if family["type"] == "histogram":
            series[f"{name}_bucket"] = (name, family["labels"] | {"le"})
            series[f"{name}_sum"] = (name, family["labels"])
            series[f"{name}_count"] = (name, family["labels"])
        else:
            series[name] = (name, family["labels"])
    return families, series


def promql_parts(expr):
    """(metric names, label names used in matchers and grouping clauses) of a PromQL expression."""
    labels = set()
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    for matchers in re.findall(r"\{([^}]*)\}", text):
        labels |= set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", matchers))
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    for clause in re.findall(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", text):
        labels |= {l.strip() for l in clause.split(",") if l.strip()}
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\boffset\s+\S+", " ", text)
    metrics = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = match.group(0)
        following = text[match.end():].lstrip()
        if word.lower() in PROMQL_WORDS or following.startswith("("):
            continue
        before = text[:match.start()]
        if before and (before[-1].isdigit() or before[-1] == "."):
            continue
        metrics.add(word)
    return metrics, labels


def panels_of(panels):
    for panel in panels:
        yield panel
        yield from panels_of(panel.get("panels", []))


def cmd_dashboard(dashboard_file, metrics_file, rules_out, scrape_files):
    report = Report()
    try:
        dashboard = json.loads(Path(dashboard_file).read_text())
        report.ok(f"{dashboard_file} parses as JSON")
    except json.JSONDecodeError as error:
        report.fail(f"{dashboard_file} does not parse: {error}")
        report.exit()
    families, series = read_exported_metrics(metrics_file)

    queries = []
    stray_sources = []
    for panel in panels_of(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            if target.get("expr"):
                queries.append((panel.get("title", "?"), target["expr"]))
        if panel.get("type") != "row" and (panel.get("datasource") or {}).get("uid") != "${datasource}":
            stray_sources.append(panel.get("title", "?"))
    variables = {}
    for variable in dashboard.get("templating", {}).get("list", []):
        variables[variable["name"]] = variable
        query = variable.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        match = re.match(r"^\s*label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*,\s*([A-Za-z_]\w*)\s*\)\s*$", query or "")
        if variable.get("type") == "query":
            if match:
                queries.append((f"variable {variable['name']}", f'{match.group(1)}{{{match.group(2)}!=""}}'))
            else:
                report.fail(f"variable {variable['name']}: unsupported query {query!r}")
    report.check(
        variables.get("datasource", {}).get("type") == "datasource" and not stray_sources,
        "every panel queries the Prometheus chosen by the datasource variable (no data source uid baked in)",
        "panels with another data source: " + ", ".join(stray_sources),
    )
    report.check(len(queries) > 0, f"the dashboard has {len(queries)} queries")

    used = set()
    rules = []
    for where, expr in queries:
        metrics, labels = promql_parts(expr)
        unknown = sorted(m for m in metrics if m not in series)
        allowed = set().union(*(series[m][1] for m in metrics if m in series)) | {"instance", "job"} if metrics else {"instance", "job"}
        # Labels are judged only against known metrics; an unknown metric is reported instead.
        stray = [] if unknown else sorted(labels - allowed)
        used |= {series[m][0] for m in metrics if m in series}
        report.check(not unknown and not stray and metrics, f"'{where}': {', '.join(sorted(metrics)) or 'no metric'}",
                     "; ".join(filter(None, [unknown and f"not exported: {', '.join(unknown)}", stray and f"labels not on these metrics: {', '.join(stray)}"])))
        substituted = expr
        for grafana, value in GRAFANA_SUBSTITUTIONS.items():
            substituted = substituted.replace(grafana, value)
        rules.append({"record": f"storefront:check:{len(rules)}", "expr": substituted})
    unused = sorted(set(families) - used)
    report.check(not unused, "every exported metric is on the dashboard", "not shown: " + ", ".join(unused))
    Path(rules_out).write_text(yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}, sort_keys=False))
    print(f"wrote the {len(rules)} queries to {rules_out} for promtool to parse")

    # Live scrapes: together (accounts consumes nothing, so it has no consumer metrics, and a
    # labelled series appears once first used) they must expose every metric the dashboard uses,
    # each series labelled with its application.
    exposed, unlabelled = set(), set()
    scraped_labels = {}
    for scrape in scrape_files:
        source, _, file = scrape.partition("=")
        for line in Path(file).read_text().splitlines():
            if line.startswith("# TYPE "):
                exposed.add(line.split()[2])
            if line.startswith("#") or not line.strip():
                continue
            name = re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group(0)
            exposed.add(name)
            if name in series and 'application="' not in line:
                unlabelled.add(f"{name} ({source})")
            if name in series:
                matchers = re.match(r"[^{\s]*\{(.*)\}", line)
                names = set(re.findall(r'([A-Za-z_][A-Za-z0-9_]*)="', matchers.group(1))) if matchers else set()
                scraped_labels.setdefault(series[name][0], set()).update(names - {"le"})
    if scrape_files:
        missing = sorted(
            name for name in used
            if not any(s in exposed for s, (family, _) in series.items() if family == name) and name not in exposed
        )
        report.check(
            not missing,
            f"the {len(scrape_files)} live scrape(s) together expose every metric of the dashboard",
            "missing (a labelled series appears after its first use: load the sample data first): " + ", ".join(missing),
        )
        report.check(not unlabelled, "every scraped series of these metrics has an application label", ", ".join(sorted(unlabelled)))
        differ = [
            f"{family}: scraped {sorted(labels)}, listed {sorted(families[family]['labels'])}"
            for family, labels in sorted(scraped_labels.items()) if labels != families[family]["labels"]
        ]
        report.check(not differ, f"the scraped label names are those of {metrics_file}", "; ".join(differ))
    report.exit()

#!/usr/bin/env python3
"""The storefront's data lake from Python (docs/lake.md): its Iceberg tables, made from the event
contract, and the questions they answer. Runs in the lake's own venv, which scripts/setup.sh
makes (dev/lake.sh and the tests call it from there).

  lake.py create-tables          the bucket, the namespace and one table per topic, from
                                 shared-events/schemas; tables already there are kept
  lake.py register               puts dev/lake/iceberg-sink.json on the Connect worker through
                                 its REST API, unless the worker has that configuration already
                                 (a worker started again after a crash), and waits until the
                                 connector and its task run
  lake.py status                 the connector's and its task's state (exit 1 unless RUNNING)
  lake.py report [--json] [--chart FILE]
                                 status transitions per day and approval-to-received time, as a
                                 table (or JSON), and a chart of both (PNG or SVG by its name)
  lake.py counts                 JSON: per table, rows and distinct (topic, partition, offset),
                                 and the order status changes per status, each event once
  lake.py expire-snapshots --older-than-hours N
                                 drops the snapshots older than that (keeping the current one)
  lake.py compact --table NAME --day YYYY-MM-DD
                                 rewrites one day of a table (one partition) into one data file

Where the lake is comes from --lake-dir (default $STOREFRONT_DATA_DIR/lake, else .data/lake):
dev/lake.sh writes its settings there (settings.json: catalog, bucket endpoint and keys, Connect
URL, topics). In a container (docker-compose.yml's lake profile, the Kubernetes Job of
k8s/lake/minikube) --from-environment takes them from the variables the connector reads too:
LAKE_CATALOG_URI (jdbc:sqlite:FILE), LAKE_WAREHOUSE, LAKE_S3_ENDPOINT, LAKE_S3_ACCESS_KEY,
LAKE_S3_SECRET_KEY, LAKE_S3_REGION (us-east-1), LAKE_CONNECT_URL, LAKE_NAME (storefront-lake)
and LAKE_COMMIT_INTERVAL_MS (60000); the topics are the contract's.
"""

import argparse
import datetime
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import duckdb
import pyarrow
import pyarrow.fs
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import NamespaceAlreadyExistsError, TableAlreadyExistsError
from pyiceberg.expressions import And, GreaterThanOrEqual, LessThan
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import DayTransform
from pyiceberg.types import (
    DecimalType,
    IntegerType,
    ListType,
    LongType,
    NestedField,
    StringType,
    StructType,
    TimestamptzType,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = REPO_ROOT / "shared-events" / "schemas"
CONNECTOR_CONFIG = REPO_ROOT / "dev" / "lake" / "iceberg-sink.json"
NAMESPACE = "storefront"
# Each topic of the contract (shared-events/src/topics.rs) and the JSON Schema of its values;
# the table each goes to is the connector's (dev/lake/iceberg-sink.json, its route-regex).
TOPIC_SCHEMAS = {
    "accounts.customer.change": "customer-change-event.json",
    "orders.order.fulfill": "fulfillment-request-event.json",
    "fulfillment.order.change": "order-status-change-event.json",
}
# Money, the contract's only fractional number: exact, at most 15 significant digits; nine
# decimals keep any such amount of a currency unit's fractions, 38 digits the largest sums.
MONEY = DecimalType(38, 9)
# The shipping method of an order received before the contract carried it.
NOT_RECORDED = "not recorded"
# What the connector's transforms add to every row (dev/lake/iceberg-sink.json).
METADATA_COLUMNS = [
    ("kafka_topic", StringType()),
    ("kafka_partition", IntegerType()),
    ("kafka_offset", LongType()),
    ("kafka_timestamp", TimestamptzType()),
]


class FieldIds:
    """Hands out the field ids of one schema; the catalog assigns its own on create."""

    def __init__(self):
        self.last = 0

    def next(self):
        self.last += 1
        return self.last


def iceberg_type(node, defs, ids):
    """The Iceberg type of a JSON Schema node of the contract's subset (object, array, string,
    integer, number, nullable unions, $ref into $defs)."""
    if "oneOf" in node:
        branches = [branch for branch in node["oneOf"] if branch.get("type") != "null"]
        if len(branches) != 1:
            raise SystemExit(f"a union of {len(branches)} schemas has no Iceberg type")
        return iceberg_type(branches[0], defs, ids)
    if "$ref" in node:
        return iceberg_type(defs[node["$ref"].rsplit("/", 1)[1]], defs, ids)
    kinds = node.get("type")
    if isinstance(kinds, list):
        kinds = [kind for kind in kinds if kind != "null"]
        if len(kinds) != 1:
            raise SystemExit(f"a union of {kinds} has no Iceberg type")
        kinds = kinds[0]
    if kinds == "object":
        return StructType(*object_fields(node, defs, ids))
    if kinds == "array":
        return ListType(ids.next(), iceberg_type(node["items"], defs, ids), element_required=False)
    if kinds == "string":
        return StringType()
    if kinds == "integer":
        return IntegerType() if node.get("format") == "int32" else LongType()
    if kinds == "number":
        return MONEY
    raise SystemExit(f"the JSON Schema type {kinds!r} has no Iceberg type here")


def object_fields(node, defs, ids):
    # Every column is optional: the lake keeps what reached the topic, including upstream's
    # events that lack a field the contract now requires (the tolerant reader of the contract).
    fields = []
    for name, child in node["properties"].items():
        field_id = ids.next()
        fields.append(NestedField(field_id, name, iceberg_type(child, defs, ids), required=False))
    return fields


def table_schema(schema_file):
    contract = json.loads((SCHEMAS / schema_file).read_text())
    ids = FieldIds()
    fields = object_fields(contract, contract.get("$defs", {}), ids)
    fields += [NestedField(ids.next(), name, kind, required=False) for name, kind in METADATA_COLUMNS]
    return Schema(*fields)


def environment_settings():
    """settings.json's content from the LAKE_ variables (see the top of this file)."""
    env = os.environ
    missing = [name for name in ("LAKE_CATALOG_URI", "LAKE_WAREHOUSE", "LAKE_S3_ENDPOINT", "LAKE_S3_ACCESS_KEY",
                                 "LAKE_S3_SECRET_KEY") if not env.get(name)]
    if missing:
        raise SystemExit(f"--from-environment: set {', '.join(missing)}")
    if not env["LAKE_CATALOG_URI"].startswith("jdbc:sqlite:"):
        raise SystemExit(f"LAKE_CATALOG_URI={env['LAKE_CATALOG_URI']}: a jdbc:sqlite: catalog, the one lake.py reads")
    name = env.get("LAKE_NAME", "storefront-lake")
    return {
        "name": name,
        "topics": {topic: topic for topic in TOPIC_SCHEMAS},
        "control_topic": f"{name}.control",
        "dead_letter_topic": f"{name}.DLT",
        "commit_interval_ms": int(env.get("LAKE_COMMIT_INTERVAL_MS", "60000")),
        "catalog_file": env["LAKE_CATALOG_URI"].removeprefix("jdbc:sqlite:"),
        "warehouse": env["LAKE_WAREHOUSE"],
        "connect_url": env.get("LAKE_CONNECT_URL", ""),
        "s3": {"endpoint": env["LAKE_S3_ENDPOINT"], "region": env.get("LAKE_S3_REGION", "us-east-1"),
               "access_key": env["LAKE_S3_ACCESS_KEY"], "secret_key": env["LAKE_S3_SECRET_KEY"]},
    }


class Lake:
    def __init__(self, lake_dir, from_environment=False):
        if from_environment:
            self.settings = environment_settings()
        else:
            settings_file = Path(lake_dir) / "settings.json"
            if not settings_file.exists():
                raise SystemExit(f"{settings_file} missing: start the lake with dev/lake.sh start")
            self.settings = json.loads(settings_file.read_text())
        s3 = self.settings["s3"]
        self.s3_properties = {
            "s3.endpoint": s3["endpoint"],
            "s3.access-key-id": s3["access_key"],
            "s3.secret-access-key": s3["secret_key"],
            "s3.region": s3["region"],
        }
        self.catalog = SqlCatalog(
            "lake",
            uri=f"sqlite:///{self.settings['catalog_file']}",
            warehouse=self.settings["warehouse"],
            **self.s3_properties,
        )

    def tables(self):
        """Table name -> the contract topic it holds, from the connector's configuration."""
        config = json.loads(CONNECTOR_CONFIG.read_text())
        routes = {}
        for table in config["iceberg.tables"].split(","):
            regex = config[f"iceberg.table.{table}.route-regex"]
            routes[table] = regex.replace("\\.", ".")
        return routes

    def topic(self, contract_topic):
        """The topic this lake reads for a topic of the contract (a test runs on its own)."""
        return self.settings["topics"][contract_topic]

    def create_bucket(self):
        s3 = self.settings["s3"]
        filesystem = pyarrow.fs.S3FileSystem(
            endpoint_override=s3["endpoint"],
            access_key=s3["access_key"],
            secret_key=s3["secret_key"],
            region=s3["region"],
            allow_bucket_creation=True,
        )
        bucket = self.settings["warehouse"].removeprefix("s3://").split("/", 1)[0]
        filesystem.create_dir(bucket)

    def create_tables(self):
        self.create_bucket()
        try:
            self.catalog.create_namespace(NAMESPACE)
        except NamespaceAlreadyExistsError:
            pass
        for table, topic in self.tables().items():
            schema = table_schema(TOPIC_SCHEMAS[topic])
            day = PartitionSpec(
                PartitionField(
                    source_id=schema.find_field("kafka_timestamp").field_id,
                    field_id=1000,
                    transform=DayTransform(),
                    name="kafka_day",
                )
            )
            try:
                self.catalog.create_table(table, schema=schema, partition_spec=day)
                print(f"created {table} for {topic}")
            except TableAlreadyExistsError:
                self.evolve(table, schema)

    def evolve(self, table, schema):
        """Adds to a table the columns a new version of the contract added (all optional, so
        the rows already written read them as null); never drops or retypes one."""
        existing = self.catalog.load_table(table)
        before = set(existing.schema().column_names)
        with existing.update_schema() as update:
            update.union_by_name(schema)
        added = sorted(set(existing.schema().column_names) - before)
        print(f"{table}: added {', '.join(added)}" if added else f"{table} already there")

    def scan(self, table):
        return self.catalog.load_table(table).scan().to_arrow()

    def connect(self, path, method="GET", body=None):
        request = urllib.request.Request(
            self.settings["connect_url"] + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def connector_config(self):
        """The committed configuration with this lake's topics, control topic and groups."""
        config = json.loads(CONNECTOR_CONFIG.read_text())
        topics = []
        for table, contract_topic in self.tables().items():
            topic = self.topic(contract_topic)
            topics.append(topic)
            config[f"iceberg.table.{table}.route-regex"] = topic.replace(".", "\\.")
        config["topics"] = ",".join(topics)
        # Predicates that pick a topic of the contract pick this lake's topic instead.
        for key, value in list(config.items()):
            if key.startswith("predicates.") and key.endswith(".pattern"):
                config[key] = self.topic(value.replace("\\.", ".")).replace(".", "\\.")
        name = self.settings["name"]
        config["errors.deadletterqueue.topic.name"] = self.settings["dead_letter_topic"]
        config["iceberg.control.topic"] = self.settings["control_topic"]
        config["iceberg.control.group-id-prefix"] = f"{name}-control"
        config["iceberg.coordinator.transactional.prefix"] = f"{name}-"
        config["iceberg.control.commit.interval-ms"] = str(self.settings["commit_interval_ms"])
        return config

    def status(self):
        return self.connect(f"/connectors/{self.settings['name']}/status")

    def put_config(self, name):
        """Puts the configuration unless the worker has it already: a put restarts the
        connector even when nothing changed."""
        config = self.connector_config()
        try:
            if self.connect(f"/connectors/{name}/config") == {**config, "name": name}:
                return
        except urllib.error.HTTPError as error:
            if error.code != 404:
                raise
        self.connect(f"/connectors/{name}/config", "PUT", config)

    def register(self, deadline_seconds):
        name = self.settings["name"]
        deadline = time.monotonic() + deadline_seconds
        registered = False
        while True:
            try:
                if not registered:
                    # 200 once the worker has joined its group and read its configuration
                    # topic (KIP-1017); before that a connector it has looks missing.
                    self.connect("/health")
                    self.put_config(name)
                    registered = True
                status = self.status()
                states = [status["connector"]["state"]] + [task["state"] for task in status["tasks"]]
                if status["tasks"] and all(state == "RUNNING" for state in states):
                    print(f"connector {name}: RUNNING with {len(status['tasks'])} task(s)")
                    return
                failed = [task for task in status["tasks"] if task["state"] == "FAILED"]
                if failed:
                    raise SystemExit(f"connector {name}: task failed: {failed[0].get('trace', '')[:3000]}")
            except urllib.error.HTTPError as error:
                # Until the worker has joined its group and read its configuration topic it
                # answers 404 (no such connector yet), 409 (rebalancing) or 503.
                if error.code not in (404, 409, 503):
                    raise SystemExit(f"Connect answered {error.code}: {error.read().decode()[:3000]}")
            except urllib.error.URLError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"connector {name} not running after {deadline_seconds} s")
            time.sleep(0.5)


def status_changes(lake, con):
    """View `changes`: the order status changes, one row per event. The relays publish at least
    once, and the event id travels in a header, which no stock transform copies into a schemaless
    value; an order's status change is told apart by the order, the status and its time, which
    a republished event repeats exactly. `shipping_method` is set from SHIPPED on, and null in
    rows written before the contract carried it."""
    con.register("status_changes", lake.scan(f"{NAMESPACE}.order_status_changes"))
    con.sql(
        """
        SELECT DISTINCT guid,
               orderStatusEvent.orderStatusType AS status,
               epoch_ms(orderStatusEvent.timestamp) AS changed_at,
               shippingMethod AS shipping_method
        FROM status_changes
        """
    ).create_view("changes")


def approvals(lake, con):
    """View `approved`: when each order was approved, from the APPROVED entry of its
    fulfillment request."""
    con.register("fulfillment_requests", lake.scan(f"{NAMESPACE}.fulfillment_requests"))
    con.sql(
        """
        SELECT order_guid AS guid, min(epoch_ms(entry.timestamp)) AS approved_at
        FROM (SELECT "order".guid AS order_guid, unnest("order".orderStatusEvents) AS entry
              FROM fulfillment_requests)
        WHERE entry.orderStatusType = 'APPROVED'
        GROUP BY order_guid
        """
    ).create_view("approved")


def report(lake):
    con = duckdb.connect()
    status_changes(lake, con)
    approvals(lake, con)
    transitions = con.sql(
        "SELECT CAST(changed_at AS DATE) AS day, status, count(*) AS changes "
        "FROM changes GROUP BY ALL ORDER BY day, status"
    ).fetchall()
    received = con.sql(
        f"""
        SELECT CAST(a.approved_at AS DATE) AS day,
               coalesce(r.shipping_method, '{NOT_RECORDED}') AS shipping_method, count(*) AS orders,
               median(epoch(r.received_at) - epoch(a.approved_at)) AS median_seconds,
               max(epoch(r.received_at) - epoch(a.approved_at)) AS max_seconds
        FROM approved a
        JOIN (SELECT guid, min(changed_at) AS received_at, any_value(shipping_method) AS shipping_method
              FROM changes WHERE status = 'RECEIVED' GROUP BY guid) r
          USING (guid)
        GROUP BY ALL ORDER BY day, shipping_method
        """
    ).fetchall()
    return {
        "status_transitions_per_day": [
            {"day": day.isoformat(), "status": status, "changes": count}
            for day, status, count in transitions
        ],
        "approval_to_received": [
            {
                "day": day.isoformat(),
                "shipping_method": method,
                "orders": orders,
                "median_seconds": float(median),
                "max_seconds": float(longest),
            }
            for day, method, orders, median, longest in received
        ],
    }


def print_report(result):
    print("Status transitions per day (each event once)")
    print(f"{'day':<12} {'status':<12} {'changes':>8}")
    for row in result["status_transitions_per_day"]:
        print(f"{row['day']:<12} {row['status']:<12} {row['changes']:>8}")
    print()
    print("Approval to received, by day of approval and shipping method")
    print(f"{'day':<12} {'shipping':<12} {'orders':>7} {'median s':>10} {'max s':>10}")
    for row in result["approval_to_received"]:
        print(
            f"{row['day']:<12} {row['shipping_method']:<12} {row['orders']:>7} "
            f"{row['median_seconds']:>10.1f} {row['max_seconds']:>10.1f}"
        )


def status_order():
    """The order statuses in the contract's order, from CREATED on."""
    contract = json.loads((SCHEMAS / "order-status-change-event.json").read_text())
    return contract["$defs"]["OrderStatusType"]["enum"]


def write_chart(result, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    days = sorted({row["day"] for row in result["status_transitions_per_day"]})
    seen = {row["status"] for row in result["status_transitions_per_day"]}
    statuses = [status for status in status_order() if status in seen]
    counts = {(row["day"], row["status"]): row["changes"] for row in result["status_transitions_per_day"]}
    bottoms = [0] * len(days)
    for status in statuses:
        heights = [counts.get((day, status), 0) for day in days]
        left.bar(days, heights, bottom=bottoms, label=status)
        bottoms = [b + h for b, h in zip(bottoms, heights)]
    left.set_title("Order status transitions per day")
    left.set_ylabel("status changes")
    left.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    received = result["approval_to_received"]
    received_days = sorted({row["day"] for row in received})
    methods = sorted({row["shipping_method"] for row in received})
    width = 0.8 / max(len(methods), 1)
    for index, method in enumerate(methods):
        rows = [row for row in received if row["shipping_method"] == method]
        places = [received_days.index(row["day"]) + (index - (len(methods) - 1) / 2) * width for row in rows]
        right.bar(places, [row["median_seconds"] for row in rows], width=width, label=method)
        right.scatter(places, [row["max_seconds"] for row in rows], color="black", marker="_", zorder=3)
    right.set_xticks(range(len(received_days)), received_days)
    right.set_title("Approval to received: median (bar) and max (dash)")
    right.set_ylabel("seconds")
    right.legend(fontsize="small", title="shipping", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.tight_layout()
    figure.savefig(path)
    print(f"chart: {path}", file=sys.stderr)


def counts(lake):
    con = duckdb.connect()
    tables = {}
    for table, contract_topic in lake.tables().items():
        con.register("rows", lake.scan(table))
        rows, distinct_offsets = con.sql(
            "SELECT count(*), count(DISTINCT (kafka_topic, kafka_partition, kafka_offset)) FROM rows"
        ).fetchall()[0]
        tables[table] = {
            "topic": lake.topic(contract_topic),
            "rows": rows,
            "distinct_offsets": distinct_offsets,
        }
        con.unregister("rows")
    status_changes(lake, con)
    per_status = dict(con.sql("SELECT status, count(*) FROM changes GROUP BY status").fetchall())
    return {"tables": tables, "order_status_changes_per_status": per_status}


def expire_snapshots(lake, hours):
    cutoff = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=hours)
    for table in lake.tables():
        loaded = lake.catalog.load_table(table)
        before = len(loaded.metadata.snapshots)
        loaded.maintenance.expire_snapshots().older_than(cutoff).commit()
        after = len(lake.catalog.load_table(table).metadata.snapshots)
        print(f"{table}: {before} snapshots, {after} left")


def compact(lake, table, day):
    start = datetime.datetime.combine(day, datetime.time(), datetime.timezone.utc)
    end = start + datetime.timedelta(days=1)
    loaded = lake.catalog.load_table(table)
    within = And(
        GreaterThanOrEqual("kafka_timestamp", start.isoformat()),
        LessThan("kafka_timestamp", end.isoformat()),
    )
    files_before = len(list(loaded.scan(row_filter=within).plan_files()))
    rows = loaded.scan(row_filter=within).to_arrow()
    # One commit that replaces the day's files with its rows written anew. It asserts the
    # snapshot it read is still the table's current one: if the sink committed in the meantime,
    # it fails and changes nothing, and can simply be run again.
    loaded.overwrite(rows, overwrite_filter=within)
    files_after = len(list(lake.catalog.load_table(table).scan(row_filter=within).plan_files()))
    print(f"{table} {day}: {rows.num_rows} rows, {files_before} data files, now {files_after}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_dir = Path(os.environ.get("STOREFRONT_DATA_DIR", REPO_ROOT / ".data")) / "lake"
    parser.add_argument("--lake-dir", default=default_dir)
    parser.add_argument("--from-environment", action="store_true",
                        help="the lake's settings from the LAKE_ variables instead of --lake-dir")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("create-tables")
    register = commands.add_parser("register")
    register.add_argument("--deadline-seconds", type=int, default=120)
    commands.add_parser("status")
    report_parser = commands.add_parser("report")
    report_parser.add_argument("--json", action="store_true")
    report_parser.add_argument("--chart")
    commands.add_parser("counts")
    expire = commands.add_parser("expire-snapshots")
    expire.add_argument("--older-than-hours", type=float, required=True)
    compact_parser = commands.add_parser("compact")
    compact_parser.add_argument("--table", required=True)
    compact_parser.add_argument("--day", type=datetime.date.fromisoformat, required=True)
    args = parser.parse_args()

    lake = Lake(args.lake_dir, args.from_environment)
    if args.command == "create-tables":
        lake.create_tables()
    elif args.command == "register":
        lake.register(args.deadline_seconds)
    elif args.command == "status":
        status = lake.status()
        print(json.dumps(status, indent=2))
        states = [status["connector"]["state"]] + [task["state"] for task in status["tasks"]]
        sys.exit(0 if status["tasks"] and set(states) == {"RUNNING"} else 1)
    elif args.command == "report":
        result = report(lake)
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            print_report(result)
        if args.chart:
            write_chart(result, args.chart)
    elif args.command == "counts":
        print(json.dumps(counts(lake), indent=2))
    elif args.command == "expire-snapshots":
        expire_snapshots(lake, args.older_than_hours)
    elif args.command == "compact":
        compact(lake, args.table, args.day)


if __name__ == "__main__":
    main()

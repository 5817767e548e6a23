#!/usr/bin/env python3
"""Loads the storefront's sample data: the seven sample calls, in order, each one's effect
awaited with a deadline before the next.

By default it talks to the three local ports; pass --base to go through one gateway URL (the
services serve under their own base paths, so one host serves all three), or --accounts,
--orders and --fulfillment to name each service's URL. Behind a gateway that requires a JWT
(istio/jwt), set STOREFRONT_TOKEN to one. Uses the standard library only.
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request

DEADLINE_SECONDS = 60
POLL_SECONDS = 0.25


# A JWT for a gateway that requires one (istio/jwt): STOREFRONT_TOKEN.
TOKEN = os.environ.get("STOREFRONT_TOKEN")


def request(method, url):
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    if TOKEN:
        req.add_header("Authorization", f"Bearer {TOKEN}")
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError as error:
        return None, str(error)


def get_json(url):
    status, body = request("GET", url)
    if status != 200:
        return None
    return json.loads(body)


def wait_for(what, check):
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        result = check()
        if result:
            print(f"    ok: {what}")
            return result
        if time.monotonic() > deadline:
            sys.exit(f"    gave up after {DEADLINE_SECONDS} s waiting for {what}")
        time.sleep(POLL_SECONDS)


def call(step, url, expected):
    status, body = request("GET", url)
    print(f"{step}. GET {url}\n    {status} {body}")
    if status not in expected:
        sys.exit(f"    expected {expected}")


def fifth_orders(orders):
    summary = get_json(f"{orders}/customers/summary") or {"customers": []}
    return [copy["orders"][4] for copy in summary["customers"] if len(copy["orders"]) >= 5]


def all_fifth_orders_are(orders, count, status):
    fifth = fifth_orders(orders)
    return len(fifth) == count and all(
        order["orderStatusEvents"][-1]["orderStatusType"] == status for order in fifth
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", help="one URL for all three services, e.g. a gateway")
    parser.add_argument("--accounts", default="http://127.0.0.1:8085")
    parser.add_argument("--orders", default="http://127.0.0.1:8090")
    parser.add_argument("--fulfillment", default="http://127.0.0.1:8095")
    args = parser.parse_args()
    roots = [args.base] * 3 if args.base else [args.accounts, args.orders, args.fulfillment]
    accounts, orders, fulfillment = (
        f"{root.rstrip('/')}/{name}"
        for root, name in zip(roots, ["accounts", "orders", "fulfillment"])
    )

    for url in (accounts, orders, fulfillment):
        health = f"{url}/actuator/health"
        wait_for(f"{health} is UP", lambda: (get_json(health) or {}).get("status") == "UP")

    call(1, f"{accounts}/customers/sample", [201])
    customers = len(get_json(f"{accounts}/customers/summary")["customers"])
    wait_for(
        f"orders holds the {customers} customers",
        lambda: len((get_json(f"{orders}/customers/summary") or {"customers": []})["customers"])
        == customers,
    )
    call(2, f"{orders}/customers/sample/orders", [200])
    call(3, f"{orders}/customers/sample/fulfill", [200])
    approved = {order["guid"] for order in fifth_orders(orders)}

    def fulfilled():
        summary = get_json(f"{fulfillment}/fulfillments/summary") or {"fulfillments": []}
        return approved <= {f["order"]["guid"] for f in summary["fulfillments"]}

    wait_for(f"fulfillment holds the {len(approved)} approved orders", fulfilled)
    steps = [
        ("process", "PROCESSING"),
        ("ship", "SHIPPED"),
        ("in-transit", "IN_TRANSIT"),
        ("receive", "RECEIVED"),
    ]
    for number, (step, status) in enumerate(steps, start=4):
        call(number, f"{fulfillment}/fulfillment/sample/{step}", [200])
        wait_for(
            f"orders shows every fifth order {status}",
            lambda: all_fifth_orders_are(orders, customers, status),
        )
    print("Sample data loaded.")


if __name__ == "__main__":
    main()

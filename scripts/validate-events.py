#!/usr/bin/env python3
"""Validates event payloads against the committed JSON Schemas, with the Python `jsonschema`
package (scripts/setup.sh --test installs it): an implementation of JSON Schema 2020-12 that is
not ours.

    validate-events.py SCHEMAS_DIR CASES.json

CASES.json is a list of {"what": "...", "schema": "customer-change-event.json", "instance": ...}.
Each schema is first checked against the 2020-12 metaschema. Prints one line per failure and
exits 1 if there was any.
"""
import json
import pathlib
import sys

from jsonschema import Draft202012Validator


def main(folder, cases_file):
    cases = json.loads(pathlib.Path(cases_file).read_text())
    validators = {}
    failures = []
    for case in cases:
        name = case["schema"]
        if name not in validators:
            schema = json.loads((pathlib.Path(folder) / name).read_text())
            Draft202012Validator.check_schema(schema)
            validators[name] = Draft202012Validator(
                schema, format_checker=Draft202012Validator.FORMAT_CHECKER
            )
        for error in validators[name].iter_errors(case["instance"]):
            where = "/".join(str(part) for part in error.absolute_path) or "(root)"
            failures.append(f"{case['what']} against {name}: {error.message} at {where}")
    print(f"{len(cases)} payloads checked against {len(validators)} schemas")
    for failure in failures:
        print(failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

#!/usr/bin/env python3
"""Validates every docs/examples/{valid,invalid}/*.json against docs/checkin.schema.json and prints
one line per file: `valid NAME`, or `invalid NAME: MESSAGE`. Exit 3 when jsonschema is missing."""
import json
import pathlib
import sys

try:
    import jsonschema
except ImportError:
    print("python jsonschema is not installed", file=sys.stderr)
    sys.exit(3)

docs = pathlib.Path(sys.argv[1])
schema = json.loads((docs / "checkin.schema.json").read_text())
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
for path in sorted((docs / "examples").glob("*/*.json")):
    errors = list(validator.iter_errors(json.loads(path.read_text())))
    name = f"{path.parent.name}/{path.name}"
    print(f"invalid {name}: {errors[0].message}" if errors else f"valid {name}")

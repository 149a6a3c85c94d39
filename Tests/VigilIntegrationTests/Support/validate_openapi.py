#!/usr/bin/env python3
"""Validates recorded answers of `vigil api` against docs/api.yaml.

Usage: validate_openapi.py API.yaml ANSWERS.json
ANSWERS.json: a list of {"path": "/v1/worklist" (the spec's path template), "method": "get",
"status": 200, "body": <the JSON answer>}. Prints one line per answer ("ok PATH STATUS" or
"invalid PATH STATUS: why"); exit 0 when every answer matches its schema, 1 otherwise, 3 when
python's yaml or jsonschema is missing.
"""

import json
import os
import sys

try:
    import jsonschema
    import yaml
except ImportError:
    sys.exit(3)


def resolve(node, spec, base):
    """The schema with every $ref inlined: into the spec, or to a JSON file beside it."""
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            if ref.startswith("#/"):
                target = spec
                for part in ref[2:].split("/"):
                    target = target[part]
                return resolve(target, spec, base)
            with open(os.path.join(base, ref)) as file:
                return json.load(file)
        return {key: resolve(value, spec, base) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(item, spec, base) for item in node]
    return node


def main():
    spec_path, answers_path = sys.argv[1], sys.argv[2]
    with open(spec_path) as file:
        spec = yaml.safe_load(file)
    with open(answers_path) as file:
        answers = json.load(file)
    base = os.path.dirname(spec_path)
    failed = False
    for answer in answers:
        where = f"{answer['method'].upper()} {answer['path']} {answer['status']}"
        try:
            response = spec["paths"][answer["path"]][answer["method"]]["responses"][str(answer["status"])]
            response = resolve(response, spec, base)
            schema = response["content"]["application/json"]["schema"]
        except KeyError as missing:
            print(f"invalid {where}: not documented ({missing})")
            failed = True
            continue
        errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(answer["body"]), key=str)
        if errors:
            print(f"invalid {where}: " + "; ".join(e.message for e in errors[:5]))
            failed = True
        else:
            print(f"ok {where}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Helm's own engine (Helm v4's Go library, through PyPI's helm-python-sdk),
driven by the end-to-end tests of the chart (tests/e2e/chart.rs).

    python3 helm.py render CHART NAMESPACE [--set EXPR]...   -> JSON list of documents
    python3 helm.py lint CHART                               -> JSON report (strict)
    python3 helm.py package CHART DEST                       -> the archive's path
    python3 helm.py push ARCHIVE oci://HOST/REPO             -> (plain HTTP, loopback)
    python3 helm.py pull oci://HOST/REPO/NAME VERSION DEST   -> the archive's path

Each `--set` is parsed by Helm's own `--set` parser and merged in order, as
`helm install --set` does. A Helm error is printed on stderr and exits 1.
"""

import json
import sys

import helm_python
import yaml


def merge(into, values):
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value


def render(chart_dir, namespace, sets):
    values = {}
    for expression in sets:
        merge(values, helm_python.parse_set_string(expression))
    chart = helm_python.Chart.load(chart_dir)
    rendered = chart.render(values, name="kamaji-telemetry", namespace=namespace, is_install=True)
    documents = []
    for path in sorted(rendered):
        if path.endswith("NOTES.txt"):
            continue
        documents.extend(d for d in yaml.safe_load_all(rendered[path]) if d)
    notes = next((text for path, text in rendered.items() if path.endswith("NOTES.txt")), "")
    return {"documents": documents, "notes": notes}


def main(argv):
    command, args = argv[1], argv[2:]
    if command == "render":
        chart_dir, namespace, rest = args[0], args[1], args[2:]
        sets = [rest[i + 1] for i in range(0, len(rest), 2) if rest[i] == "--set"]
        result = render(chart_dir, namespace, sets)
    elif command == "lint":
        result = helm_python.lint(args[0], strict=True)
    elif command == "package":
        result = helm_python.package(args[0], destination=args[1])
    elif command == "push":
        result = helm_python.push(args[0], args[1], plain_http=True)
    elif command == "pull":
        result = helm_python.pull(args[0], version=args[1], destination=args[2], plain_http=True)
    else:
        raise SystemExit(f"unknown command {command}")
    json.dump(result, sys.stdout, default=str)


if __name__ == "__main__":
    try:
        main(sys.argv)
    except helm_python.HelmError as error:
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)

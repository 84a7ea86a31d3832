#!/usr/bin/env python3
"""Derive herokuops' compact endpoint table from Heroku's Platform API schema.

Heroku publishes its Platform API as a JSON hyper-schema (served at https://api.heroku.com/schema
with `Accept: application/vnd.heroku+json; version=3`). That file is Heroku's and is not
committed here: give its path with --schema FILE or the environment variable
HEROKU_PLATFORM_SCHEMA. This script reads it and writes fixtures/heroku/platform-endpoints.json:
for every link of the
resources herokuops uses, the method, a readable path template, the request body's properties
with their JSON types and the required ones, and per resource the response fields (the
resource's property names, nested objects as dotted paths).

The conformance tests (wiremock-tests/conformance.rs) check every Platform API request the
client makes, and every model field it reads, against that table.

tests/endpoint_table.rs runs `--check` when HEROKU_PLATFORM_SCHEMA is set, and reports the check
as skipped (scripts/test names it in its summary) when it is not.

Usage:
    python3 scripts/derive-endpoint-table.py --schema FILE            # (re)write the table
    python3 scripts/derive-endpoint-table.py --schema FILE --check    # exit 1 if it is stale
    (or HEROKU_PLATFORM_SCHEMA=FILE instead of --schema FILE; exit 2 without either)

Body property descriptors in the table:
    {"type": ["null", "string"]}         JSON types as the schema lists them (nullable kept)
    {"identity": ["id", "name"]}         an anyOf of id/name references: a string, or (as the
                                         official CLI sends it) an object with only these keys,
                                         each a string, e.g. {"name": "postgresql-1"}
    {"any_of": [...]}                    any other anyOf
    "properties"/"required"              an object's declared keys (no others are accepted)
    "pattern_properties"                 key regex -> descriptor of the values
    "additional_properties"              descriptor of the values of undeclared keys
    "items"                              descriptor of an array's elements
    "enum"                               the allowed values
Only the standard library is used.
"""

import argparse
import difflib
import json
import os
import re
import sys
from pathlib import Path
from urllib.parse import unquote

REPO = Path(__file__).resolve().parent.parent
SCHEMA_ENV = "HEROKU_PLATFORM_SCHEMA"
DEFAULT_OUT = REPO / "fixtures" / "heroku" / "platform-endpoints.json"

# The Platform API resources herokuops talks to (see src/api/).
RESOURCES = [
    "account",
    "add-on",
    "add-on-attachment",
    "app",
    "config-var",
    "dyno",
    "formation",
    "log-session",
    "rate-limit",
    "release",
]

PLACEHOLDER = re.compile(r"\{\((%23[^)]*)\)\}")
IDENTITY_KEYS = {"id", "name"}


class Schema:
    def __init__(self, doc):
        self.doc = doc

    def pointer(self, ref):
        if not ref.startswith("#/"):
            raise SystemExit(f"unsupported $ref {ref!r} (only local references are)")
        node = self.doc
        for part in ref[2:].split("/"):
            node = node[part]
        return node

    def resolve(self, node, seen=()):
        """Follows a chain of $refs; returns (node, refs followed)."""
        refs = list(seen)
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if ref in refs:
                raise SystemExit(f"circular $ref {ref!r}")
            refs.append(ref)
            node = self.pointer(ref)
        return node, refs


def types_of(node):
    t = node.get("type")
    if t is None:
        return None
    return [t] if isinstance(t, str) else list(t)


def snake(name):
    name = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    return name.replace("-", "_").lower()


def path_template(href):
    """`/apps/{(%23%2Fdefinitions%2Fapp%2Fdefinitions%2Fidentity)}` -> `/apps/{app_identity}`."""

    def name(match):
        ref = unquote(match.group(1))
        parts = ref.lstrip("#/").split("/")
        # #/definitions/<resource>/definitions/<name>
        if len(parts) != 4 or parts[0] != "definitions" or parts[2] != "definitions":
            raise SystemExit(f"unexpected placeholder {ref!r} in {href!r}")
        return "{" + snake(parts[1]) + "_" + snake(parts[3]) + "}"

    return PLACEHOLDER.sub(name, href)


def identity_keys(schema, alternatives):
    """The id/name keys of an anyOf that only references id or name strings, else None."""
    keys = []
    for alt in alternatives:
        ref = alt.get("$ref") if isinstance(alt, dict) else None
        if ref is None or set(alt) != {"$ref"}:
            return None
        key = ref.rsplit("/", 1)[-1]
        target, _ = schema.resolve(alt)
        if key not in IDENTITY_KEYS or "string" not in (types_of(target) or []):
            return None
        keys.append(key)
    return sorted(set(keys)) if keys else None


def describe(schema, node, seen=()):
    """A compact descriptor of what a request body value may be."""
    node, refs = schema.resolve(node, seen)
    if "anyOf" in node:
        keys = identity_keys(schema, node["anyOf"])
        if keys:
            return {"identity": keys}
        return {"any_of": [describe(schema, alt, refs) for alt in node["anyOf"]]}
    out = {}
    types = types_of(node)
    if types is not None:
        out["type"] = types
    if "enum" in node:
        out["enum"] = node["enum"]
    if "properties" in node:
        out["properties"] = {
            key: describe(schema, sub, refs) for key, sub in sorted(node["properties"].items())
        }
        if node.get("required"):
            out["required"] = sorted(node["required"])
    if "patternProperties" in node:
        out["pattern_properties"] = {
            pattern: describe(schema, sub, refs)
            for pattern, sub in sorted(node["patternProperties"].items())
        }
    additional = node.get("additionalProperties")
    if isinstance(additional, dict):
        out["additional_properties"] = describe(schema, additional, refs)
    if "items" in node and isinstance(node["items"], dict):
        out["items"] = describe(schema, node["items"], refs)
    if not out:
        raise SystemExit(f"cannot describe schema node {json.dumps(node)[:200]}")
    return out


def response_fields(schema, node, prefix="", seen=(), depth=0):
    """Dotted paths of a resource's properties, nested objects included (`addon.app.name`)."""
    node, refs = schema.resolve(node, seen)
    fields = []
    for key, sub in sorted((node.get("properties") or {}).items()):
        path = f"{prefix}{key}"
        fields.append(path)
        target, sub_refs = schema.resolve(sub, refs)
        if depth >= 6:
            continue
        if "properties" in target:
            fields += response_fields(schema, target, path + ".", sub_refs, depth + 1)
        elif isinstance(target.get("items"), dict):
            item, item_refs = schema.resolve(target["items"], sub_refs)
            if "properties" in item:
                fields += response_fields(schema, item, path + "[].", item_refs, depth + 1)
    return fields


def derive(doc):
    schema = Schema(doc)
    definitions = doc["definitions"]
    resources = {}
    for name in RESOURCES:
        if name not in definitions:
            raise SystemExit(f"resource {name!r} is not in the schema")
        resource = definitions[name]
        links = []
        for link in resource.get("links", []):
            body = None
            if "schema" in link:
                body = describe(schema, link["schema"])
            links.append(
                {
                    "body": body,
                    "method": link["method"].upper(),
                    "path": path_template(link["href"]),
                    "resource": name,
                    "title": link["title"],
                }
            )
        entry = {
            "links": links,
            "response_fields": response_fields(schema, resource),
        }
        if "patternProperties" in resource:
            entry["response_pattern_properties"] = sorted(resource["patternProperties"])
        resources[name] = entry
    return {
        "_comment": (
            "Derived from Heroku's Platform API schema (platform-api-schema.json, kept outside "
            "this repository) by scripts/derive-endpoint-table.py. Do not edit by hand: rerun "
            "the script. Checked by wiremock-tests/conformance.rs and tests/endpoint_table.rs."
        ),
        "schema": {"id": doc.get("id"), "title": doc.get("title")},
        "resources": resources,
    }


def render(table):
    """Stable, diffable text: one line per link and per response field list."""
    dumps = lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False)  # noqa: E731
    lines = ["{"]
    lines.append(f'  "_comment": {dumps(table["_comment"])},')
    lines.append(f'  "schema": {dumps(table["schema"])},')
    lines.append('  "resources": {')
    names = list(table["resources"])
    for i, name in enumerate(names):
        entry = table["resources"][name]
        lines.append(f"    {dumps(name)}: {{")
        lines.append('      "links": [')
        for j, link in enumerate(entry["links"]):
            comma = "," if j + 1 < len(entry["links"]) else ""
            lines.append(f"        {dumps(link)}{comma}")
        lines.append("      ],")
        extra = entry.get("response_pattern_properties")
        comma = "," if extra is not None else ""
        lines.append(f'      "response_fields": {dumps(entry["response_fields"])}{comma}')
        if extra is not None:
            lines.append(f'      "response_pattern_properties": {dumps(extra)}')
        lines.append("    }" + ("," if i + 1 < len(names) else ""))
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def summarize(old, new):
    """What changed between two tables, link by link."""
    out = []
    old_res = (old or {}).get("resources", {})
    new_res = new["resources"]
    for name in sorted(set(old_res) | set(new_res)):
        if name not in old_res:
            out.append(f"resource {name}: missing from the committed table")
            continue
        if name not in new_res:
            out.append(f"resource {name}: in the committed table but no longer derived")
            continue
        key = lambda link: (link["method"], link["path"], link["title"])  # noqa: E731
        before = {key(link): link for link in old_res[name].get("links", [])}
        after = {key(link): link for link in new_res[name]["links"]}
        for k in sorted(set(before) | set(after)):
            label = f"{name} {k[2]!r} {k[0]} {k[1]}"
            if k not in before:
                out.append(f"link added in the schema: {label}")
            elif k not in after:
                out.append(f"link gone from the schema: {label}")
            elif before[k] != after[k]:
                out.append(f"link changed: {label}")
        fb = set(old_res[name].get("response_fields", []))
        fa = set(new_res[name]["response_fields"])
        if fa - fb:
            out.append(f"{name}: new response fields {sorted(fa - fb)}")
        if fb - fa:
            out.append(f"{name}: response fields gone {sorted(fb - fa)}")
        if old_res[name].get("response_pattern_properties") != new_res[name].get(
            "response_pattern_properties"
        ):
            out.append(f"{name}: response pattern properties changed")
    for key in ("_comment", "schema"):
        if (old or {}).get(key) != new.get(key):
            out.append(f"top-level {key!r} differs")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--schema",
        type=Path,
        default=os.environ.get(SCHEMA_ENV) or None,
        help=f"Heroku's Platform API schema (default: ${SCHEMA_ENV})",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the table to write/check")
    parser.add_argument(
        "--check", action="store_true", help="only compare; exit 1 if the table is stale"
    )
    args = parser.parse_args()
    if args.schema is None:
        print(
            f"error: no schema given: pass --schema FILE or set {SCHEMA_ENV}=FILE, the path of "
            "Heroku's Platform API schema (https://api.heroku.com/schema), which is not in this "
            "repository",
            file=sys.stderr,
        )
        return 2

    try:
        doc = json.loads(args.schema.read_text(encoding="utf-8"))
    except FileNotFoundError:
        print(f"error: no schema at {args.schema} (pass --schema FILE)", file=sys.stderr)
        return 2
    except json.JSONDecodeError as e:
        print(f"error: {args.schema} is not JSON: {e}", file=sys.stderr)
        return 2
    table = derive(doc)
    text = render(table)

    if not args.check:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        links = sum(len(r["links"]) for r in table["resources"].values())
        print(f"wrote {args.out} ({len(table['resources'])} resources, {links} links)")
        return 0

    try:
        committed = args.out.read_text(encoding="utf-8")
    except FileNotFoundError:
        committed = ""
    if committed == text:
        links = sum(len(r["links"]) for r in table["resources"].values())
        print(f"{args.out} agrees with {args.schema} ({links} links)")
        return 0
    try:
        old = json.loads(committed) if committed else None
    except json.JSONDecodeError:
        old = None
    print(
        f"error: {args.out} does not agree with {args.schema}; "
        "regenerate it with `python3 scripts/derive-endpoint-table.py` and review the change",
        file=sys.stderr,
    )
    for line in summarize(old, table) or ["formatting differs"]:
        print(f"  - {line}", file=sys.stderr)
    diff = list(
        difflib.unified_diff(
            committed.splitlines(), text.splitlines(), "committed", "derived", lineterm="", n=0
        )
    )
    for line in diff[:40]:
        print(f"    {line[:200]}", file=sys.stderr)
    if len(diff) > 40:
        print(f"    ... {len(diff) - 40} more diff lines", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

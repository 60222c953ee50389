"""Extract the operations the hotline calls from Twilio's OpenAPI description.

Usage (from the repository root, with the full description downloaded):

    npm pack @twilio/cli-core && tar xzf twilio-cli-core-*.tgz
    python tests/twilio_oai/extract.py package/src/services/twilio-api/twilio_api_v2010.json

The full file is about 2 MB; the hotline only creates messages and calls and fetches
recordings, so `twilio_api_v2010.extract.json` keeps those operations exactly as published
(request bodies, parameters, responses) plus every component they reference, and nothing
else. Rerun this script on a newer description to refresh it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
OUT = HERE / "twilio_api_v2010.extract.json"

#: path -> the methods of it the hotline uses
OPERATIONS: dict[str, tuple[str, ...]] = {
    "/2010-04-01/Accounts/{AccountSid}/Messages.json": ("post",),
    "/2010-04-01/Accounts/{AccountSid}/Calls.json": ("post",),
    "/2010-04-01/Accounts/{AccountSid}/Recordings/{Sid}.json": ("get",),
}
PATH_KEYS = ("servers", "description", "x-twilio")


def refs(node: Any) -> set[str]:
    """Every local $ref under `node`."""
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            found.add(ref)
        for value in node.values():
            found |= refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= refs(value)
    return found


def resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def extract(doc: dict[str, Any]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for path, methods in OPERATIONS.items():
        item = doc["paths"][path]
        kept = {k: item[k] for k in PATH_KEYS if k in item}
        kept.update({m: item[m] for m in methods})
        paths[path] = kept
    out: dict[str, Any] = {
        "openapi": doc["openapi"],
        "info": doc["info"],
        "servers": doc.get("servers", []),
        "paths": paths,
        "components": {},
    }
    if "security" in doc:
        out["security"] = doc["security"]
    todo = refs(paths) | refs(out.get("security"))
    for scheme in doc.get("components", {}).get("securitySchemes", {}):
        todo.add(f"#/components/securitySchemes/{scheme}")
    seen: set[str] = set()
    while todo:
        ref = todo.pop()
        if ref in seen:
            continue
        seen.add(ref)
        target = resolve(doc, ref)
        _, section, name = ref[2:].split("/", 2)
        out["components"].setdefault(section, {})[name] = target
        todo |= refs(target) - seen
    out["x-extracted-from"] = {
        "source": "npm @twilio/cli-core, src/services/twilio-api/twilio_api_v2010.json "
        "(the same file as github twilio/twilio-oai spec/json/twilio_api_v2010.json)",
        "operations": {p: list(m) for p, m in OPERATIONS.items()},
        "licence": "MIT, see LICENSE beside this file",
    }
    return out


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit(__doc__)
    doc = json.loads(Path(argv[1]).read_text())
    OUT.write_text(json.dumps(extract(doc), indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main(sys.argv)

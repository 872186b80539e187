"""Regenerate thalex_schemas.json from Thalex's official openapi.json.

    python tests/exchange/protocol/data/extract_schemas.py /path/to/openapi.json

Keeps what the protocol tests validate against: the result schema of every WebSocket RPC
method, the payload schema of every subscription channel, and the component schemas they
reference, without descriptions and examples (which only make the file large).
"""

import json
import sys
from pathlib import Path
from typing import Any

_DROP = {"description", "example", "examples", "summary", "title", "x-additionalPropertiesName"}


def _strip(node: Any, names: bool = False) -> Any:
    """Drop annotations; under "properties" the keys are field names and all stay."""
    if isinstance(node, dict):
        return {
            k: _strip(v, names=k == "properties" and not names)
            for k, v in node.items()
            if names or k not in _DROP
        }
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def main(source: str) -> None:
    spec = json.loads(Path(source).read_text())
    methods = {}
    for path, item in spec["paths"].items():
        op = item.get("rpc")
        if op is None:
            continue
        success = op["responses"]["default"]["content"]["application/json"]["schema"]["oneOf"][0]
        for part in success.get("allOf", []):
            if "result" in part.get("properties", {}):
                methods[path] = part["properties"]["result"]
    schemas = spec["components"]["schemas"]
    channels = {k[: -len("_payload")]: v for k, v in schemas.items() if k.endswith("_payload")}
    components = {k: v for k, v in schemas.items() if not k.endswith(("_payload", "_params"))}
    out = {
        "source": "Thalex openapi.json (https://thalex.com/docs/api.yaml), info.title: "
        + spec["info"].get("title", ""),
        "methods": _strip(methods),
        "channels": _strip(channels),
        "components": {"schemas": _strip(components)},
    }
    target = Path(__file__).with_name("thalex_schemas.json")
    target.write_text(json.dumps(out, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"wrote {target} ({target.stat().st_size} bytes, {len(methods)} methods)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/thalex-api/openapi.json")

"""Validate frames against Thalex's official schemas (extracted from openapi.json).

`data/thalex_schemas.json` holds, from the spec: the result schema of each WebSocket method
(`methods`), the payload schema of each channel (`channels`, keyed by the spec's templates
such as ``ticker.<instrument>.<delay>``) and the component schemas they reference. The spec is
OpenAPI 3.1, i.e. JSON Schema 2020-12.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

_ROOT: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "thalex_schemas.json").read_text()
)


def _fix_spec_defects(root: dict[str, Any]) -> None:
    """Known defects of the official schema, fixed so valid messages validate.

    ``instruments``: the items are ``oneOf`` {added} | {removed}, but neither alternative
    requires its key, so every item matches both and ``oneOf`` always fails.
    """
    items = root["channels"]["instruments"]["properties"]["notification"]["items"]
    for alternative in items["oneOf"]:
        alternative["required"] = list(alternative["properties"])


_fix_spec_defects(_ROOT)
_TEMPLATES = {
    "ticker": "ticker.<instrument>.<delay>",
    "lwt": "lwt.<instrument>.<delay>",
    "book": "book.<instrument>.<grouping>.<nlevels>.<delay>",
    "price_index": "price_index.<underlying>",
    "recent_trades": "recent_trades.<target>.<category>",
}
_validators: dict[str, Draft202012Validator] = {}


def _validator(pointer: str) -> Draft202012Validator:
    validator = _validators.get(pointer)
    if validator is None:
        schema = {"$ref": pointer, "components": _ROOT["components"], "methods": _ROOT["methods"]}
        schema["channels"] = _ROOT["channels"]
        Draft202012Validator.check_schema(schema)
        validator = _validators[pointer] = Draft202012Validator(schema)
    return validator


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def channel_template(channel_name: str) -> str:
    head = channel_name.split(".", 1)[0]
    return _TEMPLATES.get(head, channel_name)


def has_method(method: str) -> bool:
    return method in _ROOT["methods"]


def check_result(method: str, result: Any) -> None:
    """Raise jsonschema.ValidationError if ``result`` does not match the method's schema."""
    if method not in _ROOT["methods"]:
        raise KeyError(f"the spec has no method {method!r}")
    _validator(f"#/methods/{_escape(method)}").validate(result)


def check_notification(message: dict[str, Any]) -> None:
    """Validate a whole ``{"channel_name", "notification", "snapshot"?}`` frame."""
    assert set(message) <= {"channel_name", "notification", "snapshot"}, message.keys()
    if "snapshot" in message:
        assert message["snapshot"] is True, "snapshot must be present only when true"
    template = channel_template(message["channel_name"])
    if template not in _ROOT["channels"]:
        raise KeyError(f"the spec has no channel {template!r}")
    _validator(f"#/channels/{_escape(template)}").validate(message)


def check_error(message: dict[str, Any]) -> None:
    assert set(message) == {"id", "error"}, message
    error = message["error"]
    assert isinstance(error["code"], int) and not isinstance(error["code"], bool)
    assert isinstance(error["message"], str) and error["message"]


def check_frame(message: dict[str, Any], method_of: dict[Any, str] | None = None) -> None:
    """Validate any frame; replies need ``method_of[id]`` to know their result schema."""
    if "channel_name" in message:
        check_notification(message)
        return
    assert "id" in message, f"reply without id: {message}"
    if "error" in message:
        check_error(message)
        return
    assert set(message) == {"id", "result"}, message
    key = message["id"]
    if method_of is not None and isinstance(key, int | str) and key in method_of:
        check_result(method_of[key], message["result"])

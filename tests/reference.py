"""The vendors' own contracts, read in place from ``../shared/reference`` (never copied).

``SMS_BRIDGE_SHARED`` points elsewhere. When the folder is missing the contract tests are
skipped, unless ``SMS_BRIDGE_REQUIRE_SHARED=1`` (CI), where they fail.
"""

from __future__ import annotations

import copy
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

SHARED = Path(os.environ.get("SMS_BRIDGE_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def reference_file(name: str) -> Path:
    path = SHARED / "reference" / name
    if not path.is_file():
        if os.environ.get("SMS_BRIDGE_REQUIRE_SHARED") == "1":
            pytest.fail(f"{path} is missing (SMS_BRIDGE_REQUIRE_SHARED=1)")
        pytest.skip(f"{path} not found; set SMS_BRIDGE_SHARED to the shared/ folder")
    return path


@cache
def _openapi() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(reference_file("voipbin-openapi.json").read_text())
    return document


def voipbin_openapi() -> dict[str, Any]:
    """VoIPbin's OpenAPI document with the two known bugs patched in memory (reference §8):
    ``destinations.items`` carries a stray ``type: string`` beside its ``$ref``, and the
    ``tm_*`` timestamps are ``null`` in real answers though the spec says string."""
    document = copy.deepcopy(_openapi())
    body = document["paths"]["/messages"]["post"]["requestBody"]["content"]["application/json"]
    body["schema"]["properties"]["destinations"]["items"].pop("type", None)
    schemas = document["components"]["schemas"]
    for name in ("MessageManagerMessage", "MessageManagerTarget"):
        for field, spec in schemas[name]["properties"].items():
            if field.startswith("tm_"):
                spec["nullable"] = True
    return document


def slack_manifest_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(reference_file("slack-manifest.schema.json").read_text())
    return schema

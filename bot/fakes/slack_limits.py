"""What real Slack refuses: Block Kit and argument limits, as one pure function.

``refusal(method, params)`` answers None when Slack would accept the call, else the
:class:`SlackRefusal` Slack would answer: its error code and a human-readable list of what broke,
one line per problem, each starting with a JSON pointer into ``params``::

    >>> r = refusal("chat.postMessage", {"channel": "C1", "text": "hi", "blocks": blocks})
    >>> r.error, r.problems
    ('invalid_blocks', ('/blocks/3/text/text: 3,412 characters, at most 3,000',))

It is used by the fake Slack (bot/fakes/slack.py) for every call that carries blocks, a view or
text, and by the test harness for the HTTP answers the app gives Slack (``"ack"``). It is pure:
no I/O, no state; ``params`` is never changed.

Methods understood (any other method is accepted unchecked):

- ``chat.postMessage``, ``chat.update``, ``chat.postEphemeral``, ``chat.scheduleMessage`` and
  ``"response_url"`` (a post to an interaction's or a command's response_url): top-level
  ``text`` at most 40,000 characters (``msg_too_long``); ``blocks`` a list (else
  ``invalid_blocks_format``) of at most 50 valid blocks (``invalid_blocks``) whose text adds up
  to at most 12,000 characters (``msg_blocks_too_long``);
- ``views.open``, ``views.push``, ``views.update``, ``views.publish``: ``view`` a valid modal
  (home for publish) of at most 100 blocks (``invalid_arguments``, pointers under ``/view``);
- ``"ack"``: the body of the app's HTTP answer to a slash command or an interaction (a dict,
  a string, or None for an empty body): a message as for ``response_url``, or a
  ``response_action`` of ``"update"`` / ``"push"`` (with a valid modal ``view``), ``"errors"``
  (a non-empty ``{block_id: message}``) or ``"clear"``.

Counts are characters of the string as sent (``len``), so mrkdwn escapes (``&amp;`` ``&lt;``
``&gt;``) count in full, as Slack counts them. The limits are those documented at
https://api.slack.com/reference/block-kit/blocks, .../reference/block-kit/block-elements,
.../reference/block-kit/composition-objects, .../reference/surfaces/views and
https://api.slack.com/methods/chat.postMessage; slack_sdk's own models
(``Block.parse(...).validate_json()``, ``View(...).validate_json()``) check structure and some
of them, and a block or view slack_sdk reads differently from what was sent (an unknown field, a
wrong type) is refused too.

Slack accepts blocks without a top-level ``text`` fallback (slack_sdk only warns, client side,
"The top-level `text` argument is missing"); pass ``warnings=[]`` to be told
(``"missing_text_in_blocks"``) without the call being refused.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MESSAGE_METHODS = frozenset(
    {"chat.postMessage", "chat.update", "chat.postEphemeral", "chat.scheduleMessage"}
)
VIEW_METHODS = frozenset({"views.open", "views.push", "views.update", "views.publish"})

MAX_MESSAGE_TEXT = 40_000
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
# Undocumented: Slack's engineers quote "12,000 text characters with a buffer for block
# containers" (github.com/slackapi/bolt-js/issues/2509, #2867); reports there show 15,561
# characters of blocks JSON accepted, so it is the text that is counted, not the JSON.
MAX_BLOCKS_TEXT = 12_000

_SELECTS = frozenset({"static_select", "multi_static_select"})
_WITH_OPTIONS = _SELECTS | {"overflow", "radio_buttons", "checkboxes"}
_MAX_OPTIONS = {"overflow": 5, "radio_buttons": 10, "checkboxes": 10}


@dataclass(frozen=True)
class SlackRefusal:
    """Slack's refusal of one call: ``error`` (e.g. ``invalid_blocks``), ``problems`` (one
    line per thing that broke, ``"<json pointer>: <what>"``), and the HTTP ``status`` Slack
    answers with (200 for the Web API; 400 for a response_url post, answered in plain text)."""

    error: str
    problems: tuple[str, ...]
    status: int = 200

    def body(self) -> dict[str, Any]:
        """The Web API's JSON answer: ``ok: false``, the error, the problems as ``errors`` and
        as ``response_metadata.messages`` (``[ERROR] ...``), the shape Slack answers with."""
        return {
            "ok": False,
            "error": self.error,
            "errors": list(self.problems),
            "response_metadata": {"messages": [f"[ERROR] {p}" for p in self.problems]},
        }

    def __str__(self) -> str:
        return f"{self.error}: " + "; ".join(self.problems)


def refusal(
    method: str, params: Mapping[str, Any] | str | None, *, warnings: list[str] | None = None
) -> SlackRefusal | None:
    """None if Slack accepts ``method`` called with ``params``, else what it answers.

    ``method`` is a Web API method name, ``"response_url"`` or ``"ack"`` (see the module
    docstring); ``params`` are the call's parameters as Slack receives them (blocks and view
    already decoded from JSON; an ack body may also be a string or None). If ``warnings`` is
    given, warnings about an accepted call (``"missing_text_in_blocks"``) are appended to it.
    """
    if method == "ack":
        return _check_ack(params, warnings)
    if not isinstance(params, Mapping):
        return SlackRefusal("invalid_arguments", ("/: the parameters must be an object",))
    if method in MESSAGE_METHODS:
        return _check_message(params, warnings)
    if method == "response_url":
        found = _check_message(params, warnings)
        return None if found is None else SlackRefusal(found.error, found.problems, 400)
    if method in VIEW_METHODS:
        kind = "home" if method == "views.publish" else "modal"
        if method == "views.update":
            kind = "any"
        problems = _check_view(params.get("view"), "/view", kind)
        return SlackRefusal("invalid_arguments", tuple(problems)) if problems else None
    return None


# -- messages ---------------------------------------------------------------------------------


def _check_message(params: Mapping[str, Any], warnings: list[str] | None) -> SlackRefusal | None:
    text = params.get("text")
    if isinstance(text, str) and len(text) > MAX_MESSAGE_TEXT:
        return SlackRefusal("msg_too_long", (_too_long("/text", len(text), MAX_MESSAGE_TEXT),))
    blocks = params.get("blocks")
    if blocks is None:
        return None
    if not isinstance(blocks, list):
        return SlackRefusal("invalid_blocks_format", ("/blocks: must be a JSON array of blocks",))
    problems = _check_blocks(blocks, "/blocks", MAX_MESSAGE_BLOCKS)
    if problems:
        return SlackRefusal("invalid_blocks", tuple(problems))
    total = sum(len(s) for s in _texts(blocks))
    if total > MAX_BLOCKS_TEXT:
        return SlackRefusal(
            "msg_blocks_too_long", (f"/blocks: {total:,} characters of text, at most 12,000",)
        )
    if blocks and not (isinstance(text, str) and text.strip()) and warnings is not None:
        warnings.append("missing_text_in_blocks")
    return None


def _texts(node: Any) -> list[str]:
    """Every ``text`` string inside blocks (text objects, rich text, markdown blocks)."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "text" and isinstance(value, str):
                found.append(value)
            else:
                found.extend(_texts(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_texts(item))
    return found


# -- ack bodies -------------------------------------------------------------------------------


def _check_ack(body: Any, warnings: list[str] | None) -> SlackRefusal | None:
    if body is None or isinstance(body, str):
        if isinstance(body, str) and len(body) > MAX_MESSAGE_TEXT:
            return SlackRefusal("msg_too_long", (_too_long("/", len(body), MAX_MESSAGE_TEXT),))
        return None
    if not isinstance(body, Mapping):
        return SlackRefusal("invalid_arguments", ("/: an ack body is an object or text",))
    action = body.get("response_action")
    if action is None:
        return _check_message(body, warnings)
    problems: list[str] = []
    if action in ("update", "push"):
        problems = _check_view(body.get("view"), "/view", "modal")
    elif action == "errors":
        errors = body.get("errors")
        if not isinstance(errors, Mapping) or not errors:
            problems = ["/errors: must be a non-empty object of block_id -> message"]
        else:
            problems = [
                f"/errors/{key}: must be a non-empty string"
                for key, value in errors.items()
                if not isinstance(value, str) or not value
            ]
    elif action != "clear":
        problems = [f"/response_action: {action!r} is not update, push, errors or clear"]
    return SlackRefusal("invalid_arguments", tuple(problems)) if problems else None


# -- views ------------------------------------------------------------------------------------


def _check_view(view: Any, at: str, kind: str) -> list[str]:
    if not isinstance(view, dict):
        return [f"{at}: a view object is required"]
    problems: list[str] = []
    vtype = view.get("type")
    if kind != "any" and vtype != kind:
        problems.append(f"{at}/type: {vtype!r}, must be {kind!r}")
    elif vtype not in ("modal", "home"):
        problems.append(f"{at}/type: {vtype!r}, must be 'modal' or 'home'")
    if vtype == "modal" and not isinstance(view.get("title"), dict):
        problems.append(f"{at}/title: a modal needs a title")
    for key in ("title", "submit", "close"):
        if key in view:
            problems += _text_object(view[key], f"{at}/{key}", 24, plain_only=True)
    if vtype == "home" and ("submit" in view or "close" in view):
        problems.append(f"{at}: a home view has no submit or close")
    for key, most in (("private_metadata", 3000), ("callback_id", 255), ("external_id", 255)):
        problems += _string(view, key, at, most)
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        problems.append(f"{at}/blocks: must be a JSON array of blocks")
        return problems
    problems += _check_blocks(blocks, f"{at}/blocks", MAX_VIEW_BLOCKS)
    if not problems:
        problems += _sdk_view(view, at)
    return problems


def _sdk_view(view: dict[str, Any], at: str) -> list[str]:
    """slack_sdk's own reading of the view (its blocks are checked one by one already)."""
    try:
        parsed = View(**view)
        parsed.validate_json()
    except (SlackObjectFormationError, TypeError, ValueError, KeyError, AttributeError) as exc:
        return [f"{at}: {exc}"]
    if parsed.to_dict() != view:
        return [f"{at}: slack_sdk reads this view differently (an unknown or mistyped field)"]
    return []


# -- blocks -----------------------------------------------------------------------------------


def _check_blocks(blocks: list[Any], at: str, most: int) -> list[str]:
    problems: list[str] = []
    if len(blocks) > most:
        problems.append(f"{at}: {len(blocks):,} blocks, at most {most:,}")
    seen: dict[str, int] = {}
    for i, block in enumerate(blocks):
        here = f"{at}/{i}"
        if not isinstance(block, dict):
            problems.append(f"{here}: a block must be an object")
            continue
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            if block_id in seen:
                problems.append(f"{here}/block_id: {block_id!r} repeats block {seen[block_id]}")
            seen.setdefault(block_id, i)
        found = _check_block(block, here)
        problems += found or _sdk_block(block, here)
    return problems


def _sdk_block(block: dict[str, Any], at: str) -> list[str]:
    """slack_sdk's own reading: known type, required fields, the limits it knows, and nothing
    it would drop or change (an unknown field, a wrong type)."""
    sdk_log = logging.getLogger("slack_sdk.models")
    quiet = sdk_log.disabled
    sdk_log.disabled = True  # it logs unknown block types; the refusal says it instead
    try:
        parsed = Block.parse(block)
        if parsed is None:
            return [f"{at}/type: {block.get('type')!r} is not a Block Kit block"]
        parsed.validate_json()
    except (SlackObjectFormationError, TypeError, ValueError, KeyError, AttributeError) as exc:
        return [f"{at}: {exc}"]
    finally:
        sdk_log.disabled = quiet
    if parsed.to_dict() != block:
        return [f"{at}: slack_sdk reads this block differently (an unknown or mistyped field)"]
    return []


def _check_block(block: dict[str, Any], at: str) -> list[str]:
    """The documented limits of one block, each with its pointer."""
    problems = _string(block, "block_id", at, 255)
    kind = block.get("type")
    if kind == "section":
        if "text" in block:
            problems += _text_object(block["text"], f"{at}/text", 3000)
        fields = block.get("fields")
        if isinstance(fields, list):
            if len(fields) > 10:
                problems.append(f"{at}/fields: {len(fields)} fields, at most 10")
            for j, item in enumerate(fields):
                problems += _text_object(item, f"{at}/fields/{j}", 2000)
        if "accessory" in block:
            problems += _check_element(block["accessory"], f"{at}/accessory")
    elif kind == "header":
        problems += _text_object(block.get("text"), f"{at}/text", 150, plain_only=True)
    elif kind == "context":
        problems += _elements(block, at, 10, interactive=False)
    elif kind == "actions":
        problems += _elements(block, at, 25, interactive=True)
    elif kind == "input":
        problems += _text_object(block.get("label"), f"{at}/label", 2000, plain_only=True)
        if "hint" in block:
            problems += _text_object(block["hint"], f"{at}/hint", 2000, plain_only=True)
        if "element" in block:
            problems += _check_element(block["element"], f"{at}/element")
    return problems


def _elements(block: dict[str, Any], at: str, most: int, *, interactive: bool) -> list[str]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        return [f"{at}/elements: a non-empty list is required"]
    problems = []
    if len(elements) > most:
        problems.append(f"{at}/elements: {len(elements)} elements, at most {most}")
    action_ids: dict[str, int] = {}
    for j, element in enumerate(elements):
        here = f"{at}/elements/{j}"
        if not interactive:
            if isinstance(element, dict) and element.get("type") in ("mrkdwn", "plain_text"):
                problems += _text_object(element, here, 3000)
            continue
        problems += _check_element(element, here)
        action_id = element.get("action_id") if isinstance(element, dict) else None
        if isinstance(action_id, str):
            if action_id in action_ids:
                problems.append(
                    f"{here}/action_id: {action_id!r} repeats element {action_ids[action_id]}"
                )
            action_ids.setdefault(action_id, j)
    return problems


def _check_element(element: Any, at: str) -> list[str]:
    if not isinstance(element, dict):
        return [f"{at}: an element must be an object"]
    problems = _string(element, "action_id", at, 255)
    kind = element.get("type")
    if kind == "button":
        problems += _text_object(element.get("text"), f"{at}/text", 75, plain_only=True)
        problems += _string(element, "value", at, 2000)
        problems += _string(element, "url", at, 3000)
    if "placeholder" in element:
        problems += _text_object(element["placeholder"], f"{at}/placeholder", 150)
    if kind in _WITH_OPTIONS:
        problems += _options(element.get("options"), f"{at}/options", _MAX_OPTIONS.get(kind, 100))
        groups = element.get("option_groups")
        if isinstance(groups, list):
            for g, group in enumerate(groups):
                if isinstance(group, dict):
                    problems += _options(group.get("options"), f"{at}/option_groups/{g}", 100)
    if kind == "plain_text_input":
        most = element.get("max_length")
        if isinstance(most, int) and not 0 < most <= 3000:
            problems.append(f"{at}/max_length: {most:,}, at most 3,000")
    return problems


def _options(options: Any, at: str, most: int) -> list[str]:
    if options is None:
        return []
    if not isinstance(options, list):
        return [f"{at}: must be a list"]
    problems = []
    if len(options) > most:
        problems.append(f"{at}: {len(options):,} options, at most {most}")
    for k, option in enumerate(options):
        if not isinstance(option, dict):
            problems.append(f"{at}/{k}: an option must be an object")
            continue
        problems += _text_object(option.get("text"), f"{at}/{k}/text", 75)
        problems += _string(option, "value", f"{at}/{k}", 150)
        if "description" in option:
            problems += _text_object(option["description"], f"{at}/{k}/description", 75)
    return problems


def _text_object(obj: Any, at: str, most: int, *, plain_only: bool = False) -> list[str]:
    """A composition text object: plain_text (or mrkdwn where allowed), 1 to ``most``."""
    allowed: Sequence[str] = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    if not isinstance(obj, dict):
        return [f"{at}: a text object is required"]
    if obj.get("type") not in allowed:
        return [f"{at}/type: {obj.get('type')!r}, must be {' or '.join(allowed)}"]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return [f"{at}/text: must be a non-empty string"]
    if len(text) > most:
        return [_too_long(f"{at}/text", len(text), most)]
    return []


def _string(obj: Mapping[str, Any], key: str, at: str, most: int) -> list[str]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, str):
        return [f"{at}/{key}: must be a string"]
    if len(value) > most:
        return [_too_long(f"{at}/{key}", len(value), most)]
    return []


def _too_long(at: str, length: int, most: int) -> str:
    return f"{at}: {length:,} characters, at most {most:,}"

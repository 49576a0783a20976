"""Message, embed and component limits (pure): a payload in, Discord's ``errors`` tree out.

The limits and error codes are Discord's (developer docs, "Embed Limits",
"Message Components"); the tree shape is what Discord returns under ``errors``
in a 50035 Invalid Form Body.
"""

from __future__ import annotations

from typing import Any

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
AUTHOR_NAME_MAX = 256
ACTION_ROWS_MAX = 5
ROW_BUTTONS_MAX = 5
SELECT_OPTIONS_MAX = 25
BUTTON_LABEL_MAX = 80
BUTTON_URL_MAX = 512
CUSTOM_ID_MAX = 100
SELECT_TYPES = frozenset({3, 5, 6, 7, 8})

Errors = dict[str, Any]


def _error(code: str, message: str) -> Errors:
    return {"_errors": [{"code": code, "message": message}]}


def _too_long(limit: int) -> Errors:
    return _error("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _check_length(errors: Errors, key: str, value: Any, limit: int) -> None:
    if isinstance(value, str) and len(value) > limit:
        errors[key] = _too_long(limit)


def embed_length(embed: dict[str, Any]) -> int:
    """Characters counted towards the 6000 total: title, description, fields, footer, author."""
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    for item in embed.get("fields") or []:
        total += len(item.get("name") or "") + len(item.get("value") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    return total


def validate_embed(embed: dict[str, Any]) -> Errors:
    errors: Errors = {}
    _check_length(errors, "title", embed.get("title"), TITLE_MAX)
    _check_length(errors, "description", embed.get("description"), DESCRIPTION_MAX)
    fields = embed.get("fields") or []
    if len(fields) > FIELDS_MAX:
        errors["fields"] = _too_long(FIELDS_MAX)
    else:
        field_errors: Errors = {}
        for index, item in enumerate(fields):
            one: Errors = {}
            for key in ("name", "value"):
                if not item.get(key):
                    one[key] = _error("BASE_TYPE_REQUIRED", "This field is required")
            _check_length(one, "name", item.get("name"), FIELD_NAME_MAX)
            _check_length(one, "value", item.get("value"), FIELD_VALUE_MAX)
            if one:
                field_errors[str(index)] = one
        if field_errors:
            errors["fields"] = field_errors
    footer = embed.get("footer") or {}
    if isinstance(footer.get("text"), str) and len(footer["text"]) > FOOTER_MAX:
        errors["footer"] = {"text": _too_long(FOOTER_MAX)}
    author = embed.get("author") or {}
    if isinstance(author.get("name"), str) and len(author["name"]) > AUTHOR_NAME_MAX:
        errors["author"] = {"name": _too_long(AUTHOR_NAME_MAX)}
    return errors


def validate_component(component: dict[str, Any]) -> Errors:
    errors: Errors = {}
    kind = component.get("type")
    _check_length(errors, "custom_id", component.get("custom_id"), CUSTOM_ID_MAX)
    if kind == 2:
        _check_length(errors, "label", component.get("label"), BUTTON_LABEL_MAX)
        _check_length(errors, "url", component.get("url"), BUTTON_URL_MAX)
        if component.get("style") != 5 and component.get("style") != 6 and not component.get("custom_id"):
            errors["custom_id"] = _error("BASE_TYPE_REQUIRED", "This field is required")
    if kind == 3:
        options = component.get("options") or []
        if len(options) > SELECT_OPTIONS_MAX:
            errors["options"] = _too_long(SELECT_OPTIONS_MAX)
    return errors


def validate_components(components: list[dict[str, Any]]) -> Errors:
    errors: Errors = {}
    top_level_rows = [c for c in components if c.get("type") == 1]
    if len(top_level_rows) > ACTION_ROWS_MAX:
        return _error("BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {ACTION_ROWS_MAX} in length.")
    for index, row in enumerate(components):
        if row.get("type") != 1:
            continue  # Components V2 layouts are stored, not checked.
        children = row.get("components") or []
        row_errors: Errors = {}
        if len(children) > ROW_BUTTONS_MAX:
            row_errors["components"] = _error(
                "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {ROW_BUTTONS_MAX} in length."
            )
        else:
            child_errors = {str(i): e for i, child in enumerate(children) if (e := validate_component(child))}
            if child_errors:
                row_errors["components"] = child_errors
        if row_errors:
            errors[str(index)] = row_errors
    return errors


IS_COMPONENTS_V2 = 1 << 15


def validate_message(payload: dict[str, Any]) -> Errors:
    """The ``errors`` tree for a message create/edit payload; empty when it is valid."""
    errors: Errors = {}
    _check_length(errors, "content", payload.get("content"), CONTENT_MAX)
    embeds = payload.get("embeds") or []
    if len(embeds) > EMBEDS_MAX:
        errors["embeds"] = _too_long(EMBEDS_MAX)
    elif embeds:
        embed_errors = {str(i): e for i, embed in enumerate(embeds) if (e := validate_embed(embed))}
        if embed_errors:
            errors["embeds"] = embed_errors
        elif sum(embed_length(e) for e in embeds) > EMBED_TOTAL_MAX:
            errors["embeds"] = _error(
                "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}"
            )
    components = payload.get("components") or []
    # Components V2 layouts have their own (40-component) rules, not modelled here.
    v2 = int(payload.get("flags") or 0) & IS_COMPONENTS_V2
    if components and not v2 and (component_errors := validate_components(components)):
        errors["components"] = component_errors
    return errors


def is_empty(payload: dict[str, Any], *, attachment_count: int = 0) -> bool:
    """True for a message with nothing to show (Discord answers 50006)."""
    return not (
        payload.get("content")
        or payload.get("embeds")
        or payload.get("components")
        or payload.get("sticker_ids")
        or payload.get("poll")
        or attachment_count
    )

"""The ``$addFields`` fix: make SecantusDB merge nested documents like mongod.

SecantusDB 0.7.0b3 evaluates a nested document in ``$addFields`` / ``$set`` as an object
expression and *replaces* the field with it: ``{$addFields: {sub: {b: 2}}}`` on
``{sub: {a: 1}}`` gives ``{sub: {b: 2}}``. mongod *merges* it: a nested document whose keys
are not operators is a specification of fields to add inside the embedded document, applied
recursively, so the result is ``{sub: {a: 1, b: 2}}``. See "Adding Fields to an Embedded
Document" in https://www.mongodb.com/docs/manual/reference/operator/aggregation/addFields/.
django-mongodb-backend builds exactly such stages for ``select_related()`` with ordering on a
related field (``{$addFields: {<alias>: {<column>: "$<alias>.<column>"}}}``), so the joined
document lost every other column and e.g. the admin user change page failed with
``RelatedObjectDoesNotExist: Permission has no content_type``.

:func:`apply_addfields_patch` replaces ``secantus.aggregate._add_fields_one`` (the per-document
body of the ``$addFields`` and ``$set`` stages; both stage handlers look it up at call time)
with a version that follows mongod's ``ProjectionNode::applyExpressionsToValue``:

* a nested non-operator document merges into an existing embedded document, recursively;
* applied to an array, it is applied to every element (nested arrays too);
* applied to a scalar, ``null`` or a missing field, it replaces it with a document of the
  computed fields;
* every expression is evaluated against the stage's input document (``$$ROOT``), and a value
  that evaluates to missing (``$$REMOVE``, an absent field path) removes the field.

A spec without nested documents goes to SecantusDB's own function unchanged. The patch is
applied inside the server process (``python -m buyhive.devdb serve ...``), is idempotent,
and only applies to the pinned SecantusDB version with the expected internals; otherwise it
logs a warning and the server runs unpatched. ``buyhive/tests/test_devdb.py`` pins the
bug on a raw server, so the patch can be dropped once an upgrade fixes it.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping
from types import CodeType
from typing import Any

import structlog

logger = structlog.get_logger(__name__)

#: The SecantusDB release whose internals :func:`apply_addfields_patch` was written against.
PATCHED_SECANTUS_VERSION = "0.7.0b3"
_PATCH_MARKER = "_buyhive_addfields_merge"


def apply_addfields_patch() -> bool:
    """Make SecantusDB's ``$addFields`` / ``$set`` merge nested documents like mongod.

    Returns whether the fix is active. Idempotent. When SecantusDB is not the pinned version
    or its internals changed shape, logs a warning and changes nothing (never raises), so the
    server still starts and the tests that pin the behaviour point at the cause.
    """
    try:
        import secantus
        from secantus import aggregate
    except ImportError as exc:
        logger.warning("embedded_db.addfields_patch_skipped", reason=f"secantus missing: {exc}")
        return False
    current: Any = getattr(aggregate, "_add_fields_one", None)
    if getattr(current, _PATCH_MARKER, False):
        return True
    version = getattr(secantus, "__version__", "unknown")
    if version != PATCHED_SECANTUS_VERSION:
        logger.warning(
            "embedded_db.addfields_patch_skipped",
            reason="secantus version differs; check whether $addFields still replaces "
            "nested documents (buyhive/tests/test_devdb.py) and update the patch",
            found=version,
            expected=PATCHED_SECANTUS_VERSION,
        )
        return False
    problem = _shape_problem(aggregate, current)
    if problem:
        logger.warning("embedded_db.addfields_patch_skipped", reason=problem, found=version)
        return False
    aggregate._add_fields_one = _merging_add_fields_one(
        original=current,
        evaluate_or_missing=aggregate.evaluate_or_missing,
        set_path=aggregate.set_path,
        unset_path=aggregate.unset_path,
        missing=aggregate.MISSING,
    )
    logger.info("embedded_db.addfields_patch_applied", secantus=version)
    return True


def _shape_problem(aggregate: Any, current: Any) -> str:
    """Why the patch cannot be applied to this secantus.aggregate, or '' when it can."""
    if not callable(current):
        return "secantus.aggregate._add_fields_one is gone"
    if list(inspect.signature(current).parameters) != ["doc", "spec", "vars"]:
        return "secantus.aggregate._add_fields_one(doc, spec, vars) changed signature"
    for name in ("evaluate_or_missing", "set_path", "unset_path", "MISSING", "_STAGES"):
        if not hasattr(aggregate, name):
            return f"secantus.aggregate.{name} is gone"
    stages = aggregate._STAGES
    add_fields, set_stage = stages.get("$addFields"), stages.get("$set")
    code = getattr(add_fields, "__code__", None)
    if code is None or "_add_fields_one" not in _names_used(code):
        return "the $addFields stage no longer calls secantus.aggregate._add_fields_one"
    if getattr(set_stage, "func", None) is not add_fields:
        return "the $set stage is no longer the $addFields stage under another name"
    return ""


def _names_used(code: CodeType) -> set[str]:
    """Global names a function's code uses, comprehensions included (nested code objects)."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _names_used(const)
    return names


def _merging_add_fields_one(
    *,
    original: Callable[[dict[str, Any], Mapping[str, Any], dict[str, Any]], dict[str, Any]],
    evaluate_or_missing: Callable[..., Any],
    set_path: Callable[[dict[str, Any], str, Any], None],
    unset_path: Callable[[dict[str, Any], str], None],
    missing: Any,
) -> Callable[[dict[str, Any], Mapping[str, Any], dict[str, Any]], dict[str, Any]]:
    """Build the replacement of ``secantus.aggregate._add_fields_one`` from its helpers."""

    def merge(current: Any, spec: Mapping[str, Any], root: Any, vars: dict[str, Any]) -> Any:
        # mongod: ProjectionNode::applyExpressionsToValue.
        if isinstance(current, list):
            return [merge(element, spec, root, vars) for element in current]
        out = dict(current) if isinstance(current, Mapping) else {}
        for key, expr in spec.items():
            if _is_nested_spec(expr):
                out[key] = merge(out.get(key, missing), expr, root, vars)
                continue
            value = evaluate_or_missing(expr, root, vars)
            if value is missing:
                out.pop(key, None)
            else:
                out[key] = value
        return out

    def add_fields_one(
        doc: dict[str, Any], spec: Mapping[str, Any], vars: dict[str, Any]
    ) -> dict[str, Any]:
        if not any(_is_nested_spec(expr) for expr in spec.values()):
            return original(doc, spec, vars)
        result = copy.deepcopy(doc)
        for path, expr in spec.items():
            if _is_nested_spec(expr):
                # "a.b": {c: 1} is the same specification as a: {b: {c: 1}}.
                head, *rest = path.split(".")
                nested: Mapping[str, Any] = expr
                for part in reversed(rest):
                    nested = {part: nested}
                result[head] = merge(result.get(head, missing), nested, doc, vars)
                continue
            value = evaluate_or_missing(expr, doc, vars)
            if value is missing:
                unset_path(result, path)
            else:
                set_path(result, path, value)
        return result

    setattr(add_fields_one, _PATCH_MARKER, True)
    add_fields_one.__wrapped__ = original  # type: ignore[attr-defined]
    return add_fields_one


def _is_nested_spec(expr: Any) -> bool:
    """A non-empty document of plain field names: fields to add inside an embedded document.

    A document whose first key is an operator is an expression (``{$add: [...]}``); one with
    ``$`` or ``.`` in a later key is invalid in mongod and left to SecantusDB to report, as is
    the empty document (a literal ``{}``).
    """
    return (
        isinstance(expr, Mapping)
        and bool(expr)
        and all(isinstance(k, str) and not k.startswith("$") and "." not in k for k in expr)
    )

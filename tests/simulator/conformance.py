"""OpenAPI conformance checking of every request and response of the simulator.

The official Jellyfin OpenAPI documents (``openapi-<version>.json`` in the shared
folder) are loaded lazily, once per process, and compiled validators are cached per
(document, path, method, status). An aiohttp middleware of each server
(``SimulatedServer._conformance_mw``) checks each request the simulator routes and
each response it sends; every mismatch is appended to the process-wide
:data:`VIOLATIONS` list, which the pytest plugin in :mod:`tests.simulator.fixtures`
turns into a failed test session.

What is checked:

* request: every query parameter is declared by the operation (names compared
  case-insensitively, as ASP.NET does; ``ApiKey``/``api_key`` are the documented auth
  query parameters), its value parses as the declared type (comma lists split, enum
  items checked), required parameters are present, and a JSON body validates against
  the operation's request schema;
* response: the status code is documented for the operation (400, 404 and 5xx error
  answers are allowed even where undocumented, as Jellyfin's exception middleware
  produces them on every route), and a JSON body validates against the documented
  schema (``nullable`` and ``additionalProperties: false`` included).

Cost bound: for list responses (``QueryResult`` envelopes and JSON arrays) with more
than :data:`SAMPLE_ITEMS` entries only the envelope plus the first and last entries
are validated. Responses deliberately broken by fault injection (truncated, invalid
JSON, HTML 200) are marked by the simulator and only their status is checked.

Runtime types: where an operation declares a base class but ASP.NET writes the
runtime type (``GET /Plugins/{pluginId}/Configuration`` declares
``BasePluginConfiguration``, an object without properties and with
``additionalProperties: false``, and returns the plugin's own configuration class),
the simulator passes the runtime type's schema (``runtime_schema``), and the body is
validated against it instead. ``POST /Plugins/{pluginId}/Configuration`` reads
``Request.Body`` itself, so the documents declare no request body
(:data:`BODY_READ_BY_HANDLER`); its body is validated against the runtime schema
when one is known, and must be JSON otherwise.

The documents are found at ``<repo>/../shared/jellyfin`` or in ``$JELLYFIN_OPENAPI_DIR``;
when they are missing every validation raises :class:`OpenApiDocumentsMissingError`,
so conformance can never pass silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
import json
import os
from pathlib import Path
import threading
from typing import Any

from openapi_schema_validator import OAS30Validator

#: Documented versions, one per minor release line the simulator models.
DOC_VERSIONS = {
    (10, 8): "10.8.13",
    (10, 9): "10.9.11",
    (10, 10): "10.10.7",
    (10, 11): "10.11.11",
    (12, 0): "12.0.0",
}
LEGACY_DOC = "10.8.13"
#: Entries validated from each end of a long list response.
SAMPLE_ITEMS = 8
#: Query parameters every route accepts for authentication (API-NOTES §1.1).
AUTH_QUERY_PARAMS = frozenset({"apikey", "api_key"})
#: Operations whose handler reads the body without declaring it
#: (``[v10.10.7] Jellyfin.Api/Controllers/PluginsController.cs:188-208``).
BODY_READ_BY_HANDLER = frozenset({("/Plugins/{pluginId}/Configuration", "POST")})


@dataclass(frozen=True, slots=True)
class Violation:
    """One mismatch between the simulator's traffic and the OpenAPI document."""

    server: str
    doc: str
    method: str
    path: str
    where: str
    message: str

    def __str__(self) -> str:
        """Return a one-line description."""
        return (
            f"[{self.server} openapi-{self.doc}] {self.method} {self.path} "
            f"{self.where}: {self.message}"
        )


#: Every violation recorded in this process (read by the pytest plugin).
VIOLATIONS: list[Violation] = []


class OpenApiDocumentsMissingError(RuntimeError):
    """The Jellyfin OpenAPI documents could not be found."""


def openapi_dir() -> Path:
    """Return the folder that holds ``openapi-<version>.json``."""
    override = os.environ.get("JELLYFIN_OPENAPI_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2].parent / "shared" / "jellyfin"


def doc_version_for(version: tuple[int, ...]) -> str:
    """Return the OpenAPI document version that describes a server version."""
    try:
        return DOC_VERSIONS[(version[0], version[1])]
    except KeyError:
        raise ValueError(f"no OpenAPI document for version {version}") from None


_docs: dict[str, dict[str, Any]] = {}
_validators: dict[tuple[str, str, str, str], OAS30Validator | None] = {}
_lock = threading.Lock()


def load_document(doc: str) -> dict[str, Any]:
    """Return the parsed OpenAPI document of one version (loaded once)."""
    with _lock:
        if doc not in _docs:
            path = openapi_dir() / f"openapi-{doc}.json"
            if not path.is_file():
                raise OpenApiDocumentsMissingError(
                    f"OpenAPI document {path} is missing; set JELLYFIN_OPENAPI_DIR"
                )
            _docs[doc] = json.loads(path.read_text(encoding="utf-8"))
        return _docs[doc]


def operation(doc: str, path: str, method: str) -> dict[str, Any] | None:
    """Return the documented operation, or None when the document lacks it."""
    paths = load_document(doc)["paths"]
    entry = paths.get(path)
    if entry is None:
        return None
    op: dict[str, Any] | None = entry.get(method.lower())
    return op


def _validator(
    doc: str, path: str, method: str, key: str, schema: dict[str, Any]
) -> OAS30Validator:
    cache_key = (doc, path, method, key)
    cached = _validators.get(cache_key)
    if cached is None:
        components = load_document(doc)["components"]
        cached = OAS30Validator({**schema, "components": components})
        _validators[cache_key] = cached
    return cached


_runtime_validators: dict[tuple[str, str], OAS30Validator] = {}


def _runtime_validator(doc: str, schema: dict[str, Any]) -> OAS30Validator:
    """A cached validator for a runtime-type schema (keyed by its JSON text)."""
    key = (doc, json.dumps(schema, sort_keys=True))
    cached = _runtime_validators.get(key)
    if cached is None:
        components = load_document(doc)["components"]
        cached = OAS30Validator({**schema, "components": components})
        _runtime_validators[key] = cached
    return cached


@contextmanager
def allow_violations() -> Iterator[list[Violation]]:
    """Collect instead of record violations (for tests that send off-spec requests).

    Yields the list the violations raised inside the block go to; they do not count
    against the session.
    """
    start = len(VIOLATIONS)
    caught: list[Violation] = []
    try:
        yield caught
    finally:
        caught.extend(VIOLATIONS[start:])
        del VIOLATIONS[start:]


def _errors(validator: OAS30Validator, instance: Any) -> list[str]:
    messages = []
    for error in validator.iter_errors(instance):
        where = "/".join(str(p) for p in error.absolute_path)
        messages.append(f"{where or '<root>'}: {error.message[:300]}")
        if len(messages) >= 5:
            break
    return messages


def _param_schema(param: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = param.get("schema", {})
    return schema


def _resolve(doc: str, schema: dict[str, Any]) -> dict[str, Any]:
    """Resolve one level of ``$ref``/``allOf`` wrapping (for parameter coercion)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        resolved: dict[str, Any] = load_document(doc)["components"]["schemas"][name]
        return resolved
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return _resolve(doc, schema["allOf"][0])
    return schema


def _coerce(doc: str, schema: dict[str, Any], raw: str) -> Any:
    """Convert a query-string value to the declared type, as ASP.NET binds it."""
    schema = _resolve(doc, schema)
    kind = schema.get("type")
    if kind == "array":
        item_schema = schema.get("items", {})
        return [_coerce(doc, item_schema, part) for part in raw.split(",") if part]
    if kind == "integer":
        return int(raw)
    if kind == "number":
        return float(raw)
    if kind == "boolean":
        lowered = raw.lower()
        if lowered not in {"true", "false"}:
            raise ValueError(f"not a boolean: {raw!r}")
        return lowered == "true"
    return raw


def check_request(
    *,
    server: str,
    doc: str,
    doc_path: str,
    method: str,
    query: list[tuple[str, str]],
    path_params: dict[str, str],
    body: bytes,
    content_type: str,
    runtime_schema: dict[str, Any] | None = None,
) -> list[Violation]:
    """Validate one request against its documented operation; return violations.

    ``runtime_schema``: the body schema of an operation in
    :data:`BODY_READ_BY_HANDLER` (the runtime type the handler deserialises).
    """
    op = operation(doc, doc_path, method)
    found: list[Violation] = []

    def add(where: str, message: str) -> None:
        found.append(Violation(server, doc, method, doc_path, where, message))

    if op is None:
        add("request", "operation not in the document")
        return found
    declared = {p["name"].lower(): p for p in op.get("parameters", [])}
    seen: dict[str, list[str]] = {}
    for name, value in query:
        seen.setdefault(name.lower(), []).append(value)
    for name, values in seen.items():
        if name in AUTH_QUERY_PARAMS:
            continue
        param = declared.get(name)
        if param is None or param.get("in") != "query":
            add("request", f"undocumented query parameter {name!r}")
            continue
        schema = _param_schema(param)
        raw = ",".join(values)
        try:
            value = _coerce(doc, schema, raw)
        except ValueError as err:
            add("request", f"query {param['name']}={raw!r}: {err}")
            continue
        validator = _validator(doc, doc_path, method, f"q:{name}", schema)
        for message in _errors(validator, value):
            add("request", f"query {param['name']}: {message}")
    for name, param in declared.items():
        if param.get("in") == "query" and param.get("required") and name not in seen:
            add("request", f"missing required query parameter {param['name']!r}")
        if param.get("in") == "path" and param["name"] not in path_params:
            add("request", f"missing path parameter {param['name']!r}")
    body_spec = op.get("requestBody")
    if body_spec is None and (doc_path, method.upper()) in BODY_READ_BY_HANDLER:
        if body:
            try:
                instance = json.loads(body)
            except ValueError as err:
                add("request", f"body is not JSON: {err}")
            else:
                if runtime_schema is not None:
                    validator = _runtime_validator(doc, runtime_schema)
                    for message in _errors(validator, instance):
                        add("request", f"body {message}")
        return found
    if body_spec is not None:
        content = body_spec.get("content", {})
        media = next((k for k in content if k.startswith("application/json")), None)
        if body:
            if media is None:
                add("request", "body sent but no JSON body is documented")
            else:
                try:
                    instance = json.loads(body)
                except ValueError as err:
                    add("request", f"body is not JSON: {err}")
                else:
                    schema = content[media].get("schema", {})
                    validator = _validator(doc, doc_path, method, "body", schema)
                    for message in _errors(validator, instance):
                        add("request", f"body {message}")
        elif body_spec.get("required"):
            add("request", "missing required body")
    elif body:
        add("request", "body sent to an operation without a request body")
    return found


def _sample(payload: Any) -> Any:
    if isinstance(payload, list) and len(payload) > 2 * SAMPLE_ITEMS:
        return payload[:SAMPLE_ITEMS] + payload[-SAMPLE_ITEMS:]
    if (
        isinstance(payload, dict)
        and isinstance(payload.get("Items"), list)
        and len(payload["Items"]) > 2 * SAMPLE_ITEMS
    ):
        items = payload["Items"]
        return {**payload, "Items": items[:SAMPLE_ITEMS] + items[-SAMPLE_ITEMS:]}
    return payload


def check_response(
    *,
    server: str,
    doc: str,
    doc_path: str,
    method: str,
    status: int,
    content_type: str,
    payload: Any,
    has_payload: bool,
    mangled: bool,
    injected: bool = False,
    runtime_schema: dict[str, Any] | None = None,
) -> list[Violation]:
    """Validate one response against its documented operation; return violations.

    Args:
        server: server name, for messages.
        doc: OpenAPI document version.
        doc_path: documented path template.
        method: HTTP method.
        status: response status.
        content_type: the response's media type (without parameters).
        payload: the decoded JSON body (when ``has_payload``).
        has_payload: whether ``payload`` is a JSON body to validate.
        mangled: the body was broken on purpose by fault injection.
        injected: the whole answer is an injected failure (``fail_next`` etc.); an
            undocumented status is then accepted, a documented one is still checked.
        runtime_schema: schema of the runtime type of a 2xx body whose documented
            schema is a base class (see the module docstring); replaces it.
    """
    op = operation(doc, doc_path, method)
    found: list[Violation] = []

    def add(message: str) -> None:
        found.append(Violation(server, doc, method, doc_path, f"{status}", message))

    if op is None:
        add("operation not in the document")
        return found
    responses = op.get("responses", {})
    spec = responses.get(str(status))
    if spec is None:
        if injected or status in {400, 404} or status >= 500:
            return found
        add(f"status {status} not documented (documented: {sorted(responses)})")
        return found
    if mangled:
        return found
    content = spec.get("content") or {}
    json_media = next((k for k in content if k.startswith("application/json")), None)
    if 200 <= status < 300:
        if content and not has_payload and json_media is not None:
            add(f"documented JSON body but sent {content_type or 'no body'}")
            return found
        if not content and has_payload:
            add("body sent where none is documented")
            return found
    if has_payload and json_media is not None:
        schema = content[json_media].get("schema")
        if runtime_schema is not None and 200 <= status < 300:
            validator = _runtime_validator(doc, runtime_schema)
            for message in _errors(validator, _sample(payload)):
                add(f"body {message}")
            return found
        if schema is not None:
            validator = _validator(doc, doc_path, method, str(status), schema)
            for message in _errors(validator, _sample(payload)):
                add(f"body {message}")
    return found


#: Key under which handlers store the JSON payload they serialised.
PAYLOAD_KEY = "jellyfin_sim_payload"
#: Key marking a response whose body fault injection broke on purpose.
MANGLED_KEY = "jellyfin_sim_mangled"
#: Key marking a response that fault injection produced instead of the handler.
INJECTED_KEY = "jellyfin_sim_injected"


def record(violations: list[Violation]) -> None:
    """Append violations to the process-wide list."""
    VIOLATIONS.extend(violations)

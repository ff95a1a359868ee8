"""A content-coded body is refused, not read (RFC 9110 §15.5.16): 415 in the documented error shape
with ``Accept-Encoding: identity``, on every route (``serving.middleware.BodyLimit``), and the
OpenAPI document says so wherever a body is read. No model is needed: the refusal comes first.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.middleware import CODING_CHARS
from serving.security import Role, create_key
from tests.serving.test_openapi import no_model_settings

pytestmark = [pytest.mark.code]

BODY = json.dumps({"records": []}).encode()
#: a route that reads a body of each kind: JSON with a key, JSON without one, a page's form
ROUTES = [
    ("/v1/assessments", "application/json", "booking-system"),
    ("/cds-services/kykytutka-work-ability/feedback", "application/json", "booking-system"),
    ("/ui/sign-in", "application/x-www-form-urlencoded", None),
]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The service without a model, its lifespan run (keys, audit store), and a key of each role."""
    project = tmp_path_factory.mktemp("encoding")
    keys = {role.value: create_key(project / "keys.json", role.value, role) for role in Role}
    settings = no_model_settings(project)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{project / 'mlflow.db'}")
        with TestClient(create_app(settings)) as app:
            yield app, keys


def post(
    client: tuple[TestClient, dict[str, str]],
    path: str,
    coding: str | bytes | None,
    content: bytes = BODY,
    media_type: str = "application/json",
    role: str | None = "booking-system",
) -> httpx.Response:
    app, keys = client
    headers: dict[str, Any] = {"content-type": media_type}
    if role is not None:
        headers["authorization"] = f"Bearer {keys[role]}"
    if coding is not None:
        headers["content-encoding"] = coding
    return app.post(path, content=content, headers=headers)


def refused(answer: httpx.Response) -> str:
    """The 415's detail, once its shape and headers are checked."""
    assert answer.status_code == 415, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["accept-encoding"] == "identity"
    body = answer.json()
    assert set(body) == {"detail"}
    assert isinstance(body["detail"], str)
    return body["detail"]


@pytest.mark.parametrize(("path", "media_type", "role"), ROUTES)
@pytest.mark.parametrize(
    "coding", ["gzip", "br", "deflate", "GZIP", "gzip, identity", "x-nonsense"]
)
def test_a_content_coded_body_is_refused_on_every_route(
    client: tuple[TestClient, dict[str, str]],
    path: str,
    media_type: str,
    role: str | None,
    coding: str,
) -> None:
    detail = refused(post(client, path, coding, gzip.compress(BODY), media_type, role))
    assert "Content-Encoding" in detail
    assert f'"{coding}"' in detail


@pytest.mark.parametrize(("path", "media_type", "role"), ROUTES)
@pytest.mark.parametrize("coding", [None, "identity", "IDENTITY", " Identity "])
def test_an_identity_coded_or_plain_body_is_read(
    client: tuple[TestClient, dict[str, str]],
    path: str,
    media_type: str,
    role: str | None,
    coding: str | None,
) -> None:
    answer = post(client, path, coding, BODY, media_type, role)
    plain = post(client, path, None, BODY, media_type, role)
    assert answer.status_code == plain.status_code != 415, answer.text
    assert answer.status_code < 500, answer.text


@pytest.mark.parametrize(("path", "media_type", "role"), ROUTES)
@pytest.mark.parametrize("transfer", ["gzip, chunked", "GZIP,chunked", "x-nonsense"])
def test_a_transfer_coding_other_than_chunked_is_refused_501_on_every_route(
    client: tuple[TestClient, dict[str, str]],
    path: str,
    media_type: str,
    role: str | None,
    transfer: str,
) -> None:
    """RFC 9112 §6.1: a transfer coding the server does not understand is a 501, not a body."""
    app, keys = client
    headers = {"content-type": media_type, "transfer-encoding": transfer}
    if role is not None:
        headers["authorization"] = f"Bearer {keys[role]}"
    answer = app.post(path, content=gzip.compress(BODY), headers=headers)
    assert answer.status_code == 501, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {
        "detail": f'Transfer-Encoding "{transfer}" is not supported: send the body chunked '
        "without another coding, or with a Content-Length"
    }


@pytest.mark.parametrize("transfer", ["chunked", "Chunked", " chunked ", ", chunked"])
def test_a_chunked_body_alone_is_read(
    client: tuple[TestClient, dict[str, str]], transfer: str
) -> None:
    app, keys = client
    headers = {
        "content-type": "application/json",
        "transfer-encoding": transfer,
        "authorization": f"Bearer {keys['booking-system']}",
    }
    answer = app.post("/v1/assessments", content=BODY, headers=headers)
    plain = post(client, "/v1/assessments", None)
    assert answer.status_code == plain.status_code != 501, answer.text


def test_a_coding_among_several_headers_is_found(client: tuple[TestClient, dict[str, str]]) -> None:
    app, keys = client
    headers = [
        ("authorization", f"Bearer {keys['booking-system']}"),
        ("content-type", "application/json"),
        ("content-encoding", "gzip"),
        ("content-encoding", "identity"),  # the last one is not the only one looked at
    ]
    refused(app.post("/v1/assessments", content=gzip.compress(BODY), headers=headers))


def test_a_request_without_a_body_is_not_refused_for_its_coding(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    app, _ = client
    assert app.get("/healthz", headers={"content-encoding": "gzip"}).status_code == 200


@pytest.mark.parametrize(
    "coding",
    [
        "gz\u00e4ip".encode(),  # UTF-8 bytes
        b"\xff\xfe\x80",  # not UTF-8
        b"gzip" * 100,  # long
        b"x-131052-308T",  # a personal identity code
    ],
)
def test_the_coding_is_echoed_short_ascii_and_never_personal(
    client: tuple[TestClient, dict[str, str]], coding: bytes
) -> None:
    detail = refused(post(client, "/v1/assessments", coding))
    assert detail.isascii()
    echoed = detail.split("Content-Encoding ", 1)[1].split(" is not", 1)[0]
    assert len(echoed) <= CODING_CHARS + 2  # and its quotes
    assert "131052-308T" not in detail


def test_the_document_lists_415_wherever_a_body_is_read(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    app, _ = client
    paths = app.get("/openapi.json").json()["paths"]
    reading = [op for ops in paths.values() for op in ops.values() if "requestBody" in op]
    assert len(reading) >= 5
    for operation in reading:
        for code in ("415", "501"):
            answer = operation["responses"][code]
            assert answer["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Refusal"
            }
        assert "413" in operation["responses"]


def test_the_document_says_the_server_refuses_in_the_error_shape(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    app, _ = client
    description = app.get("/openapi.json").json()["info"]["description"]
    assert "plain text" not in description
    assert "415" in description and "Accept-Encoding: identity" in description
    assert "501" in description and "Transfer-Encoding" in description

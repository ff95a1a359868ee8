"""No request data in any log line, ever (issue 12, part 2).

Over a real server (two workers, as in production): canary values in every field, header, path and
query string of every endpoint, on success and in broken requests of every kind; then the
server's whole stderr must hold none of them. In process: the formatter keeps an exception's
type and place but never its message, arguments or traceback, for every logger of the process.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import socket
import subprocess
import sys
import textwrap
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from data_contracts.records import as_json_records
from serving.app import create_app
from serving.logs import JsonLines, logging_config
from synthetic.cohort import generate_cohort
from tests.serving.cds_spec import hook_request
from tests.serving.test_transport import Running, answer, running_service

pytestmark = [pytest.mark.code]

TOKEN = secrets.token_hex(5)
PIC = "131052-308T"  # a personal identity code (the issue's)
HOOK = "/cds-services/kykytutka-work-ability"


def canary(tag: str) -> str:
    return f"Kanari{tag}{TOKEN}"


#: besides every canary(...): the identity code as the issue found it written
ALWAYS = [PIC, "131052308T", TOKEN]


class Client:
    def __init__(self, service: Running) -> None:
        self.service = service
        self.url = f"http://127.0.0.1:{service.port}"

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        raw: bytes | None = None,
        role: str | None = "booking-system",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        sep = "&" if "?" in path else "?"
        query = f"{sep}q={canary('query')}&client_ref={PIC}&comment=Asiakas%20{PIC}"
        request = urllib.request.Request(self.url + path + query, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        request.add_header("User-Agent", canary("agent"))
        request.add_header("X-Client-Ref", PIC)
        request.add_header("X-Canary", canary("header"))
        if role is not None:
            request.add_header("Authorization", f"Bearer {self.service.keys[role]}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                payload, status = response.read(), response.status
        except urllib.error.HTTPError as error:
            payload, status = error.read(), error.code
        try:
            return status, json.loads(payload)
        except ValueError:
            return status, payload

    def served(self, method: str, path: str, body: Any, **options: Any) -> tuple[int, Any]:
        """A request that should succeed: retried on 503 (an audit write that timed out on a
        machine busy with other work), so that the success path is the one exercised."""
        for _ in range(5):
            status, answer = self.call(method, path, body, **options)
            if status != 503:
                break
            time.sleep(0.5)
        return status, answer

    def raw(self, data: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", self.service.port), timeout=10) as sock:
            sock.settimeout(10)
            sock.sendall(data)
            return answer(sock)


def a_record(tag: str, **changes: Any) -> dict[str, Any]:
    record = as_json_records(generate_cohort("pirkanmaa", 1, seed=7))[0]
    return {
        **record,
        "client_ref": canary(f"ref{tag}"),
        "booking_id": canary(f"bk{tag}"),
        **changes,
    }


def broken_bodies(valid: dict[str, Any]) -> Iterator[bytes]:
    """Every kind of broken body the issue tried, each carrying canaries."""
    text = json.dumps(valid)

    def number(replacement: str) -> bytes:  # the first number of the body replaced
        return re.sub(r'(": )(\d+)', lambda m: m[1] + replacement, text, count=1).encode()

    for name in valid:  # wrong types, field by field
        yield json.dumps({**valid, name: canary(f"type{name}")}).encode()
        yield json.dumps({**valid, name: {"nested": PIC}}).encode()
    yield json.dumps({**valid, "work_ability_score": True, "sex": canary("sex")}).encode()
    yield json.dumps({**valid, "comment": f"Asiakas {PIC} soitti"}).encode()  # unknown field
    yield json.dumps({**valid, "client_ref": PIC}).encode()  # an identity code as the ref
    yield json.dumps({**valid, "client_ref": f"FI{PIC}"}).encode()
    yield json.dumps({**valid, "booking_id": f"hetu:{PIC}"}).encode()
    yield text[:-20].encode()  # bad JSON, cut
    yield number("NaN")
    yield number("-Infinity")
    yield number("1e400")
    yield number("9" * 4400)
    yield text.replace('": "', '": "\\ud800' + canary("surrogate"), 1).encode()
    yield text.replace('": "', '": "\xff\xfe' + canary("utf"), 1).encode("latin-1")  # bad UTF-8
    yield text.encode()[:-1] + b', "client_ref": "' + canary("dup").encode() + b'"}'  # duplicate
    yield (b'{"x": ' * 3000) + json.dumps(canary("deep")).encode() + (b"}" * 3000)
    yield json.dumps({canary("key"): canary("unknown")}).encode()  # missing fields
    yield json.dumps([valid]).encode()
    yield json.dumps({"records": [{}] * 200 + [valid]}).encode()
    yield json.dumps({**valid, "filler": canary("big") * 5000}).encode()  # over the body limit


@pytest.fixture(scope="module")
def served(champion_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    folder = tmp_path_factory.mktemp("logs")
    with running_service(
        folder,
        workers=2,
        ready="/readyz",
        MLFLOW_TRACKING_URI=f"sqlite:///{champion_project / 'mlflow.db'}",
        KYKYTUTKA_RATE_LIMIT_PER_SECOND="0",
        KYKYTUTKA_LOG_LEVEL="debug",  # the most the service can log
    ) as service:
        yield service


@pytest.mark.slow  # a running service on a trained champion
def test_no_canary_reaches_the_log_from_any_endpoint(served: Running) -> None:
    client = Client(served)
    # Success, with canaries in every field a request may carry.
    status, one = client.served("POST", "/v1/assessments", a_record("one"))
    assert status == 200, one
    decision = one["decision_id"]
    status, batch = client.served(
        "POST", "/v1/assessments:batch", {"records": [a_record("b1"), a_record("b2")]}
    )
    assert status == 200, batch
    for path in (f"/v1/assessments/{decision}", f"/v1/assessments/{decision}/fhir"):
        assert client.call("GET", path, role="auditor")[0] == 200
    outcome = {"support_level": "none", "confirmed_at": datetime.now(UTC).isoformat()}
    status, body = client.served(
        "POST", f"/v1/assessments/{decision}/outcome", outcome, role="coordinator"
    )
    assert status == 201, body
    hook = hook_request(a_record("hook"), patient_id=canary("patient"))
    status, cards = client.served("POST", HOOK, hook, headers={"Accept-Language": canary("lang")})
    assert status == 200, cards
    comment = {"reason": {"code": canary("code"), "system": canary("sys")}}
    comment["userComment"] = f"Asiakas {PIC} {canary('comment')}"  # type: ignore[assignment]
    feedback = {"card": decision, "outcome": "overridden", "overrideReason": comment}
    feedback["outcomeTimestamp"] = "2025-03-03T09:05:00Z"
    client.call("POST", f"{HOOK}/feedback", {"feedback": [feedback]})
    for path in ("/cds-services", "/healthz", "/readyz", "/metrics", f"{HOOK}/model-card"):
        assert client.call("GET", path, role=None)[0] in (200, 404, 422)

    # Broken requests to every endpoint that takes a body.
    valid = a_record("bad")
    bodies = {
        "/v1/assessments": valid,
        "/v1/assessments:batch": {"records": [valid]},
        f"/v1/assessments/{decision}/outcome": {**outcome, "support_level": canary("level")},
        HOOK: hook_request(valid),
        f"{HOOK}/feedback": {"feedback": [{**feedback, "card": canary("card")}]},
    }
    roles = {f"/v1/assessments/{decision}/outcome": "coordinator"}
    statuses = []
    for path, good in bodies.items():
        for raw in broken_bodies(good):
            statuses.append(
                client.call("POST", path, raw=raw, role=roles.get(path, "booking-system"))[0]
            )
        statuses.append(client.call("POST", path, raw=b"{}", role=None)[0])
        statuses.append(client.call("POST", path, raw=b"{}", role="auditor")[0])
    # Canaries where the credentials and the path go.
    for headers in (
        {"Authorization": f"Bearer {canary('bearer')}"},
        {"X-API-Key": canary("apikey")},
        {"Authorization": f"Basic {canary('basic')}"},
    ):
        statuses.append(
            client.call("POST", "/v1/assessments", valid, role=None, headers=headers)[0]
        )
    for path in (
        f"/v1/assessments/{canary('id')}",
        f"/v1/assessments/{canary('id')}/fhir",
        f"/v1/assessments/{PIC}",
        f"/{canary('path')}",
        f"{HOOK}/model-card?version={canary('version')}",
    ):
        statuses.append(client.call("GET", path, role="auditor")[0])
    statuses.append(
        client.call("POST", f"/v1/assessments/{canary('id')}/outcome", outcome, role="coordinator")[
            0
        ]
    )
    # Broken HTTP: a header over the limit, an invalid request line, a bad chunked body.
    huge = b"X-Canary: " + canary("hugeheader").encode() * 2000 + b"\r\n"
    client.raw(b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + huge + b"\r\n")
    client.raw(f"GET /{canary('line')} {PIC} HTTP/1.1\r\n\r\n".encode())
    client.raw(f"{canary('method')} / HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    chunked = (
        b"POST /v1/assessments HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/json\r\nAuthorization: Bearer "
        + served.keys["booking-system"].encode()
        + b"\r\n\r\nzz\r\n"
        + canary("chunk").encode()
        + b"\r\n0\r\n\r\n"
    )
    client.raw(chunked)
    assert statuses  # their statuses are part 1's concern (test_hostile); here the log counts

    # Let the workers write what they will, then read the whole stderr.
    client.call("GET", "/healthz", role=None)
    log = served.log.read_bytes().decode("utf-8", errors="replace")
    leaked = sorted(
        {c for c in ALWAYS if c in log}
        | {line[:300] for line in log.splitlines() if "Kanari" in line}
    )
    assert not leaked, leaked
    # Every line is the service's JSON, except what other programs print (MLflow's progress bar).
    for line in log.splitlines():
        if line.startswith("{"):
            json.loads(line)


def failing_app() -> FastAPI:
    """The service's app with one more route, whose handler fails quoting its input (as
    pydantic's errors do): the 500 path of a real server."""
    app = create_app()

    async def fails(value: str) -> None:
        raise ValueError(f"cannot use {value!r} for {PIC}")

    app.add_api_route("/fails/{value}", fails)
    return app


@pytest.mark.slow  # a running service
def test_a_500_is_an_error_line_with_the_exception_type_and_no_request_data(
    tmp_path: Path,
) -> None:
    app = "tests.serving.test_logs:failing_app"
    with running_service(tmp_path, app=app) as service:
        client = Client(service)
        status, body = client.call("GET", f"/fails/{canary('failing')}", role=None)
        assert status == 500 and body == {"detail": "internal error"}
        client.call("GET", "/healthz", role=None)
        time.sleep(0.2)
    log = service.log.read_text(encoding="utf-8", errors="replace")
    assert "Kanari" not in log and PIC not in log and TOKEN not in log
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    failed = [
        line for line in lines if line["level"] == "error" and line.get("error") == "ValueError"
    ]
    # The service's own line (the route's template), and uvicorn's (where it was raised).
    assert any(line.get("event") == "internal_error" for line in failed), lines
    placed = [line for line in failed if "where" in line]
    assert placed and "test_logs.py" in placed[0]["where"] and "fails" in placed[0]["where"]


# -- in process: the formatter and the process's logging ------------------------------------------


def _record(name: str, message: str, *args: Any, exc: BaseException | None = None) -> str:
    record = logging.LogRecord(name, logging.ERROR, __file__, 1, message, args, None)
    if exc is not None:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    return JsonLines().format(record)


def _raised(message: str) -> BaseException:
    try:
        raise ValueError(message)
    except ValueError as error:
        return error


def test_an_exception_is_logged_by_type_and_place_never_by_message() -> None:
    exc = _raised(f"Input should be a valid integer [input_value='{PIC}']")
    line = json.loads(_record("uvicorn.error", "Exception in ASGI application\n", exc=exc))
    assert line["level"] == "error"
    assert line["error"] == "ValueError"
    assert "test_logs.py" in line["where"] and "_raised" in line["where"]
    assert line["message"] == "Exception in ASGI application"
    assert PIC not in json.dumps(line)


def test_a_failed_startup_names_its_exception_never_its_message() -> None:
    """uvicorn logs an app's failed startup as the traceback's text, without exc_info."""
    text = "".join(traceback.format_exception(_raised(f"bad key file near {PIC}")))
    line = json.loads(_record("uvicorn.error", text))
    assert (line["message"], line["error"]) == ("Traceback", "ValueError")
    assert "test_logs.py" in line["where"] and "_raised" in line["where"]
    assert PIC not in json.dumps(line)


def test_a_library_line_keeps_its_template_never_its_arguments() -> None:
    line = _record("sqlalchemy.engine", "refused %s for %r", PIC, {"client_ref": PIC})
    assert PIC not in line and "refused %s for %r" in line
    preformatted = _record("asyncio", f"Exception in callback Protocol.data_received(b'{PIC}')")
    assert PIC not in preformatted and "not shown" in preformatted
    constant = json.loads(_record("uvicorn.error", "Invalid HTTP request received."))
    assert constant["message"] == "Invalid HTTP request received."
    assert PIC not in _record("somelib", ValueError(PIC))  # type: ignore[arg-type]


def test_an_access_line_has_no_query_string_and_no_identifier() -> None:
    line = json.loads(
        _record(
            "uvicorn.access",
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5",
            "GET",
            f"/v1/assessments/{PIC}/fhir?client_ref={PIC}",
            "1.1",
            200,
        )
    )
    assert line == {**line, "method": "GET", "path": "/v1/assessments/{}/fhir", "status": 200}
    assert PIC not in json.dumps(line)


def test_the_service_own_lines_are_kept_whole() -> None:
    line = json.loads(_record("kykytutka.serving", json.dumps({"event": "x", "n": 1})))
    assert (line["event"], line["n"], line["level"]) == ("x", 1, "error")


def test_every_logger_of_a_served_process_writes_safely(tmp_path: Path) -> None:
    """The configuration ``kykytutka serve`` applies, in a fresh process: uvicorn's loggers, the
    root (any library), Python's warnings, uncaught exceptions in the main and other threads, and
    a line that cannot be formatted; none prints the canary."""
    script = textwrap.dedent(
        f"""
        import asyncio, logging, logging.config, threading, warnings
        from serving.logs import logging_config
        logging.config.dictConfig(logging_config("info"))
        PIC = {PIC!r}
        try:
            int(PIC)
        except ValueError:
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
        logging.getLogger("uvicorn.error").warning("bad %s", PIC)
        logging.getLogger("sqlalchemy.pool").error(f"reset failed for {{PIC}}")
        logging.getLogger().warning("root %s %s", PIC)  # a broken line: not printed
        warnings.warn(f"odd value {{PIC}}", UserWarning)
        loop = asyncio.new_event_loop()
        loop.call_exception_handler({{"message": f"callback {{PIC}}", "exception": ValueError(PIC)}})
        t = threading.Thread(target=lambda: int(PIC)); t.start(); t.join()
        raise KeyError(PIC)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONWARNINGS": "default"},
        timeout=60,
    )
    assert done.returncode == 1
    assert PIC not in done.stderr and PIC not in done.stdout
    # (Warnings of imports before the configuration print plainly; none of them holds data.)
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    errors = {line.get("error") for line in lines}
    assert {"ValueError", "KeyError"} <= errors, lines
    warning = next(line for line in lines if line["logger"] == "py.warnings")
    assert (warning["event"], warning["category"]) == ("warning", "UserWarning")
    assert len(lines) >= 6


def test_the_configuration_routes_uvicorn_and_the_root_through_the_formatter() -> None:
    config = logging_config("info")
    assert config["loggers"]["uvicorn"]["handlers"] == ["stderr"]
    assert config["loggers"]["uvicorn.access"]["handlers"] == ["stderr"]
    assert config["root"]["handlers"] == ["stderr"]
    assert config["handlers"]["stderr"]["formatter"] == "json"
    assert logging_config("debug")["loggers"]["uvicorn.error"]["level"] == "INFO"

"""The web pages in process: sign-in and sessions, roles, CSRF, the front desk's flow, the
auditor's and coordinator's pages, and hostile input (every refusal a 4xx page, never a 500)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from serving.pages.session import COOKIE
from tests.serving.test_failures import client_for

pytestmark = [pytest.mark.slow]  # trains a champion (all but the last test)

BOOKING = {
    "client_ref": "pages-client-0001",
    "booking_id": "UI-test-1",
    "booking_time": "2026-11-20T09:00:00Z",
    "age": "44",
    "sex": "female",
    "first_language": "sv",
    "region": "pirkanmaa",
    "municipality": "837",
    "employment_status": "unemployed",
    "months_unemployed": "30",
    "sickness_absence_days_12m": "120",
    "healthcare_visits_12m": "",
    "contact_reason": "P",
    "complaint_duration_weeks": "",
    "work_ability_score": "3",
    "referral_source": "self",
    "client_group": "new_client",
    "mental_health_concern": "true",
    "substance_use_concern": "-",
    "financial_difficulties": "false",
    "consent_multi_agency": "false",
}


@pytest.fixture(scope="module")
def app_keys(champion_project: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    saved = dict(os.environ)
    try:
        client, keys = client_for(champion_project, KYKYTUTKA_RATE_LIMIT_PER_SECOND="0")
        with client:
            yield client, keys
    finally:
        os.environ.clear()
        os.environ.update(saved)


def signed_in(app_keys: tuple[TestClient, dict[str, str]], role: str) -> TestClient:
    base, keys = app_keys
    client = TestClient(base.app, follow_redirects=False)
    form = client.get("/ui/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    answer = client.post("/ui/sign-in", data={"csrf": token.group(1), "key": keys[role]})
    assert answer.status_code == 303, answer.text
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    return client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_sign_in_lands_each_role_on_its_page_and_a_wrong_key_is_refused(app_keys) -> None:  # type: ignore[no-untyped-def]
    for role, landing in (("front-desk", "/ui/assess"), ("auditor", "/ui/decisions"),
                          ("coordinator", "/ui/outcomes")):  # fmt: skip
        client = signed_in(app_keys, role)
        assert client.get("/ui").headers["location"] == landing
        assert client.get(landing).status_code == 200
    client = TestClient(app_keys[0].app, follow_redirects=False)
    token = csrf_of(client.get("/ui/sign-in").text)
    wrong = client.post("/ui/sign-in", data={"csrf": token, "key": "x" * 43})
    assert wrong.status_code == 401 and COOKIE not in wrong.headers.get("set-cookie", "")
    no_token = client.post("/ui/sign-in", data={"key": app_keys[1]["auditor"]})
    assert no_token.status_code == 403
    assert client.get("/ui/decisions").status_code == 303  # no session: to the sign-in page


def test_roles_see_only_their_pages(app_keys) -> None:  # type: ignore[no-untyped-def]
    desk, auditor, coordinator = (
        signed_in(app_keys, r) for r in ("front-desk", "auditor", "coordinator")
    )
    assert desk.get("/ui/decisions").status_code == 403
    assert auditor.get("/ui/assess").status_code == 403
    assert coordinator.get("/ui/decisions").status_code == 403
    assert desk.get("/ui/outcomes").status_code == 403
    booking = signed_in(app_keys, "booking-system")
    assert booking.get("/ui").status_code == 403


def test_a_forged_or_altered_session_cookie_is_no_session(app_keys) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(app_keys, "auditor")
    value = client.cookies.get(COOKIE)
    assert value
    body, signature = value.split(".")
    for forged in (f"{body}x.{signature}", f"{body}.{signature[:-2]}AA", "a.b", "x" * 5000, ""):
        other = TestClient(app_keys[0].app, follow_redirects=False, cookies={COOKIE: forged})
        assert other.get("/ui/decisions").status_code == 303


def test_the_front_desk_assesses_overrides_and_the_auditor_sees_it(app_keys) -> None:  # type: ignore[no-untyped-def]
    desk = signed_in(app_keys, "front-desk")
    form = desk.get("/ui/assess?lang=sv")
    assert '<html lang="sv">' in form.text
    answer = desk.post("/ui/assess", data={**BOOKING, "csrf": csrf_of(form.text)})
    assert answer.status_code == 201, answer.text
    assert "vilket" in answer.text  # the reasons, in Swedish
    decision_id = re.search(r"data-decision-id>([0-9a-f-]{36})<", answer.text).group(1)  # type: ignore[union-attr]
    token = csrf_of(answer.text)
    no_reason = desk.post(
        f"/ui/decisions/{decision_id}/feedback", data={"csrf": token, "outcome": "overridden"}
    )
    assert no_reason.status_code == 422
    missing_csrf = desk.post(f"/ui/decisions/{decision_id}/feedback", data={"outcome": "accepted"})
    assert missing_csrf.status_code == 403
    saved = desk.post(
        f"/ui/decisions/{decision_id}/feedback",
        data={"csrf": token, "outcome": "overridden", "override_reason": "client-declined"},
    )
    assert saved.status_code == 200
    auditor = signed_in(app_keys, "auditor")
    page = auditor.get(f"/ui/decisions/{decision_id}?lang=fi")
    assert page.status_code == 200
    assert 'data-outcome="overridden"' in page.text and 'data-reason="client-declined"' in page.text
    assert "pages-client-0001" not in page.text  # never a client reference
    assert 'data-chain="intact"' in page.text
    bars = re.findall(
        r'data-kind="(\w+)"[^>]*data-start="([^"]+)"[^>]*data-end="([^"]+)"', page.text
    )
    raw = float(re.search(r'data-raw-score="([^"]+)"', page.text).group(1))  # type: ignore[union-attr]
    assert bars[-1][0] == "total" and abs(float(bars[-1][2]) - raw) < 1e-6
    listing = auditor.get("/ui/decisions?feedback=with&system=front-desk")
    assert decision_id in listing.text and "pages-client-0001" not in listing.text


def test_the_booking_form_names_each_wrong_field_in_the_readers_language(app_keys) -> None:  # type: ignore[no-untyped-def]
    desk = signed_in(app_keys, "front-desk")
    token = csrf_of(desk.get("/ui/assess?lang=fi").text)
    wrong = {
        **BOOKING,
        "csrf": token,
        "work_ability_score": "11",
        "age": "abc",
        "client_ref": "131052-308T",
    }
    answer = desk.post("/ui/assess", data=wrong)
    assert answer.status_code == 422
    assert 'id="p-work_ability_score"' in answer.text and 'id="p-age"' in answer.text
    assert "henkilötunnusta" in answer.text and "131052-308T" not in answer.text


@pytest.mark.parametrize(
    "path",
    ["/ui/decisions?page=0", "/ui/decisions?page=abc", "/ui/decisions?from=2026-13-01",
     "/ui/decisions?level=%00", "/ui/decisions?unknown=1", "/ui/decisions?segment=" + "x" * 500,
     "/ui/decisions?page=99999999999999999999"],
)  # fmt: skip
def test_bad_filters_are_a_422_naming_the_filter(app_keys, path: str) -> None:  # type: ignore[no-untyped-def]
    auditor = signed_in(app_keys, "auditor")
    answer = auditor.get(path)
    assert answer.status_code == 422, (path, answer.status_code)
    assert "<html" in answer.text


def test_hostile_forms_are_refused_with_a_4xx(app_keys) -> None:  # type: ignore[no-untyped-def]
    desk = signed_in(app_keys, "front-desk")
    token = csrf_of(desk.get("/ui/assess").text)
    cases = [
        (b"csrf=" + token.encode() + b"&age=%ff%fe", "application/x-www-form-urlencoded"),
        (b"\xff\xfe\x00", "application/x-www-form-urlencoded"),
        (b'{"csrf": "x"}', "application/json"),
        (b"csrf=" + token.encode() + b"&age=1&age=2", "application/x-www-form-urlencoded"),
        (b"&".join(b"f%d=1" % i for i in range(500)), "application/x-www-form-urlencoded"),
        (
            b"csrf=" + token.encode() + b"&client_ref=" + b"9" * 5000,
            "application/x-www-form-urlencoded",
        ),
        (
            b"csrf=" + token.encode() + b"&months_unemployed=1e400&age=NaN",
            "application/x-www-form-urlencoded",
        ),
    ]
    for body, kind in cases:
        answer = desk.post("/ui/assess", content=body, headers={"Content-Type": kind})
        assert 400 <= answer.status_code < 500, (body[:40], answer.status_code)
    for path in ("/ui/decisions/not-a-uuid", "/ui/decisions/00000000-0000-0000-0000-000000000000"):
        assert signed_in(app_keys, "auditor").get(path).status_code == 404


def test_pages_load_nothing_from_outside_and_forbid_framing(app_keys) -> None:  # type: ignore[no-untyped-def]
    desk = signed_in(app_keys, "front-desk")
    page = desk.get("/ui/assess")
    assert "http://" not in page.text.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page.text and "<script" not in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy


def test_the_auditor_reads_the_models_and_monitoring_pages(app_keys) -> None:  # type: ignore[no-untyped-def]
    auditor = signed_in(app_keys, "auditor")
    models = auditor.get("/ui/models?lang=en")
    assert models.status_code == 200, models.text[:500]
    assert "champion" in models.text and "Fairness by group" in models.text
    assert "<script" not in models.text
    assert auditor.get("/ui/monitoring").status_code == 200
    for path in ("/ui/monitoring/../../etc/passwd", "/ui/monitoring/" + "a" * 32 + "/index.html",
                 "/ui/monitoring/" + "a" * 32 + "/..%2f..%2fx.html"):  # fmt: skip
        assert auditor.get(path).status_code == 404, path
    assert signed_in(app_keys, "front-desk").get("/ui/models").status_code == 403


def test_every_alert_and_support_level_has_its_words_in_three_languages() -> None:
    from models.packaged import AlertLevel
    from models.services import SUPPORT_LEVEL_TEXTS
    from serving.pages.auditor import LEVELS, SUPPORT
    from serving.pages.texts import TEXTS

    assert set(LEVELS) == {level.value for level in AlertLevel}
    for level in LEVELS:
        assert all(TEXTS[f"level_{level}"]) and all(TEXTS[f"alert_{level}"])
    assert set(SUPPORT) <= set(SUPPORT_LEVEL_TEXTS)


def test_what_a_hostile_reviewer_found_is_a_4xx_page_without_echoes(app_keys) -> None:  # type: ignore[no-untyped-def]
    base = app_keys[0].app
    odd = TestClient(base, follow_redirects=False)
    raw = {"Cookie": COOKIE.encode() + b"=\xe4.\xe4"}
    assert odd.get("/ui/decisions", headers=raw).status_code == 303  # a non-ASCII cookie: none
    signer = TestClient(base, follow_redirects=False)
    for cookie, csrf in ((b"kykytutka_sign_in=abc", "\u00e4"), (b"kykytutka_sign_in=\xe4", "x")):
        answer = signer.post(
            "/ui/sign-in", data={"csrf": csrf, "key": "x"}, headers={"Cookie": cookie}
        )
        assert answer.status_code == 403
    desk = signed_in(app_keys, "front-desk")
    token = csrf_of(desk.get("/ui/assess").text)
    for extra in ({"age": "--5"}, {"notes": "131052-308T"}):
        answer = desk.post("/ui/assess", data={**BOOKING, "csrf": token, **extra})
        assert answer.status_code == 422 and "131052-308T" not in answer.text, extra
    twice = desk.post(
        "/ui/assess",
        content=f"csrf={token}&131052-308T=a&131052-308T=b".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert twice.status_code == 400 and "131052-308T" not in twice.text
    auditor = signed_in(app_keys, "auditor")
    for path in ("/ui/decisions?page=" + "1" * 5000, "/ui/decisions?foo=131052-308T",
                 "/ui/decisions?from=131052-308T", "/ui/decisions?segment=131052-308T"):  # fmt: skip
        answer = auditor.get(path)
        assert answer.status_code == 422 and "131052-308T" not in answer.text, path
    assert auditor.get("/ui/decisions?until=9999-12-31").status_code == 200
    linked = auditor.get("/ui/decisions?level=high&x=131052-308T&client_ref=CL-SECRET-9")
    assert "131052-308T" not in linked.text and "CL-SECRET-9" not in linked.text
    for method, path in (
        ("GET", "/ui/nonexistent"),
        ("PUT", "/ui/decisions"),
        ("DELETE", "/ui/assess"),
    ):
        answer = auditor.request(method, path)
        assert answer.status_code in (404, 405) and "<html" in answer.text, (method, path)
    assert auditor.get("/v1/nonexistent").headers["content-type"].startswith("application/json")

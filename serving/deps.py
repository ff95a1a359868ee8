"""What a route needs, as ``Annotated`` dependencies: who calls, in which role, and the service's
model, audit store and metrics (set up in ``serving.app``'s lifespan).

All async on purpose: a sync dependency costs a hop to the thread pool on every request, and these
are a dictionary lookup or an attribute read. The scoring routes take one ``Decisions`` rather
than ``Loaded``, ``Audit`` and the settings and metrics apart: FastAPI spends 10-20 µs a request
resolving each dependency, measurable against an assessment of about 1 ms.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from audit.store import AuditStore
from serving.decisions import DecisionMaker
from serving.metrics import Metrics
from serving.models import LoadedModel
from serving.ratelimit import RateLimiter, retry_after
from serving.security import Caller, Role
from serving.settings import ServiceSettings

# -- credentials -----------------------------------------------------------------------------------


async def caller(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Caller:
    """The holder of the API key sent as ``Authorization: Bearer ...`` or ``X-API-Key``, within
    its rate limit (429 with ``Retry-After`` past it)."""
    key = x_api_key
    if authorization and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    if not key:
        raise HTTPException(401, "credentials required", {"WWW-Authenticate": "Bearer"})
    state = request.app.state
    found: Caller | None = state.keys.identify(key)
    if found is None:
        raise HTTPException(401, "unknown credentials", {"WWW-Authenticate": "Bearer"})
    try:
        limiter: RateLimiter | None = state.rate_limiter
    except AttributeError:  # the first request of this worker
        limiter = state.rate_limiter = rate_limiter(state.settings)
    if limiter is not None and (wait := limiter.wait(found.name)):
        raise HTTPException(
            429,
            f"over the rate limit of this key ({state.settings.rate_limit_per_second:g} requests "
            f"a second, bursts of {state.settings.rate_limit_burst}); retry later",
            {"Retry-After": retry_after(wait)},
        )
    return found


def rate_limiter(settings: ServiceSettings) -> RateLimiter | None:
    """The per-key rate limit of ``settings``; None when it is off (a rate of 0)."""
    if settings.rate_limit_per_second <= 0:
        return None
    return RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)


def role(required: Role) -> Callable[[Caller], Awaitable[Caller]]:
    return any_role(required)


def any_role(*allowed: Role) -> Callable[[Caller], Awaitable[Caller]]:
    async def check(who: Annotated[Caller, Depends(caller)]) -> Caller:
        if who.role not in allowed:
            raise HTTPException(403, f"the role {who.role.value} may not do this")
        return who

    return check


BookingSystem = Annotated[Caller, Depends(role(Role.BOOKING_SYSTEM))]
BookingSystemOrAuditor = Annotated[Caller, Depends(any_role(Role.BOOKING_SYSTEM, Role.AUDITOR))]
Auditor = Annotated[Caller, Depends(role(Role.AUDITOR))]
Coordinator = Annotated[Caller, Depends(role(Role.COORDINATOR))]


# -- the service's state ---------------------------------------------------------------------------


async def loaded_model(request: Request) -> LoadedModel | None:
    # Read once: the request keeps this model even if the champion is swapped meanwhile. None
    # before a model is loaded: the routes that need one answer 503 themselves, after the request
    # has been checked, so that a broken request is still told what is wrong with it.
    loaded: LoadedModel | None = request.app.state.loaded
    return loaded


async def audit_store(request: Request) -> AuditStore:
    audit: AuditStore = request.app.state.audit
    return audit


async def service_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


async def decision_maker(request: Request) -> DecisionMaker:
    state = request.app.state
    return DecisionMaker(state.loaded, state.settings, state.audit, state.metrics)


Loaded = Annotated[LoadedModel | None, Depends(loaded_model)]
Audit = Annotated[AuditStore, Depends(audit_store)]
Prometheus = Annotated[Metrics, Depends(service_metrics)]
Decisions = Annotated[DecisionMaker, Depends(decision_maker)]

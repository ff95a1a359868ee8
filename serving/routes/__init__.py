"""The API's routes, one router per job; ``serving.app`` includes them in this order."""

from __future__ import annotations

from fastapi import APIRouter

from serving.routes import assessments, audit, cds_hooks, operations, outcomes

ROUTERS: tuple[APIRouter, ...] = (
    assessments.router,
    audit.router,
    outcomes.router,
    cds_hooks.router,
    operations.router,
)

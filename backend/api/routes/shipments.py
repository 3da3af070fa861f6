"""The public tracking view: what anyone holding a tracking number may see.

Nothing about the consignee (name, phone, address) and nothing commercial (revenue, declared
value) leaves through here: the response model lists every field that does.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, status

from backend.api.routes import SessionDep
from backend.api.schemas import Problem, ShipmentPublic, TrackingEventPublic
from backend.store.queries import find_shipment, shipment_events
from backend.store.tracking_numbers import validate
from backend.tracking import describe, summarise

router = APIRouter(prefix="/api/shipments", tags=["shipments"])


@router.get(
    "/{tracking_number}",
    response_model=ShipmentPublic,
    summary="Track a parcel",
    description=(
        "Status, last scan, expected delivery day, lateness and the scan history of one "
        "parcel. The number may be typed with spaces, dashes or lower case. 422 explains "
        "what is wrong with a malformed number or a wrong check digit; 404 means a valid "
        "number this carrier does not know; 503 means the database is unreachable."
    ),
    responses={
        404: {"model": Problem, "description": "No parcel has this number."},
        422: {"model": Problem, "description": "Not a valid tracking number."},
        503: {"model": Problem, "description": "The database is unreachable."},
    },
)
def get_shipment(tracking_number: str, session: SessionDep) -> ShipmentPublic:
    # A plain `def`: FastAPI runs it in its thread pool, where blocking database calls belong.
    checked = validate(tracking_number)
    if not checked.ok:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, checked.problem)
    shipment = find_shipment(session, checked.number)
    if shipment is None or shipment.id is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"We have no parcel with the number {checked.number}. "
            "Could you check it against your receipt or shipping email?",
        )
    events = shipment_events(session, shipment.id)
    now = datetime.now(UTC)
    summary = summarise(shipment, events, now)
    return ShipmentPublic(
        tracking_number=summary.tracking_number,
        status=summary.status,
        status_text=summary.status_text,
        summary=describe(summary, now),
        last_scan_place=summary.last_scan_place,
        last_scan_time=summary.last_scan_time,
        eta=summary.eta,
        delivered_at=summary.delivered_at,
        days_late=summary.days_late,
        events=[
            TrackingEventPublic(
                time=event.occurred_at,
                location=event.location,
                code=event.status_code,
                description=event.description,
            )
            for event in events
        ],
    )

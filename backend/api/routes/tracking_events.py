"""Where scanners and the carrier's systems post tracking events.

A delivered event creates the shipment's one survey invitation and gets it to the recipient
(see backend.surveys.proactive). Posting the same event again records nothing new and creates
no second invitation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, HTTPException, status
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from backend.api.routes import EngineDep, GatewayDep, SettingsDep, invalid
from backend.api.routes.auth import INTERNAL_REFUSALS, InternalAuth
from backend.api.schemas import refusal
from backend.store.models import EventCode, Shipment, ShipmentStatus, TrackingEvent
from backend.store.tracking_numbers import validate
from backend.surveys import proactive
from backend.surveys.invitations import invite_delivery
from backend.tracking import status_from_events

router = APIRouter(prefix="/api/tracking-events", tags=["tracking events"])


class TrackingEventIn(BaseModel):
    tracking_number: str = Field(max_length=40)
    code: EventCode
    occurred_at: AwareDatetime | None = None
    location: str = Field(default="", max_length=100)
    description: str = Field(default="", max_length=300)


class TrackingEventResult(BaseModel):
    tracking_number: str
    status: ShipmentStatus
    event_recorded: bool = Field(description="False when the same event was posted before")
    invitation_id: int | None = None
    invitation_created: bool = False
    survey_sent_via: Literal["chat", "outbox", "none"] | None = None


DESCRIPTIONS = {
    EventCode.DL: "Delivered.",
    EventCode.DM: "Damage reported.",
    EventCode.OD: "Out for delivery.",
    EventCode.DF: "Delivery attempt failed.",
}


def _record(engine: Engine, body: TrackingEventIn) -> tuple[TrackingEventResult, int | None]:
    checked = validate(body.tracking_number)
    if not checked.ok:
        raise invalid(("body", "tracking_number"), checked.problem or "", body.tracking_number)
    occurred = (body.occurred_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    with Session(engine) as session:
        shipment = session.exec(
            select(Shipment).where(Shipment.tracking_number == checked.number)
        ).first()
        if shipment is None or shipment.id is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"No parcel has the number {checked.number}."
            )
        duplicate = session.exec(
            select(TrackingEvent.id).where(
                TrackingEvent.shipment_id == shipment.id,
                TrackingEvent.status_code == body.code,
                TrackingEvent.occurred_at == occurred,
            )
        ).first()
        if duplicate is None:
            session.add(
                TrackingEvent(
                    shipment_id=shipment.id,
                    occurred_at=occurred,
                    location=body.location,
                    status_code=body.code,
                    description=body.description or DESCRIPTIONS.get(body.code, body.code.value),
                )
            )
            session.flush()
            codes = session.exec(
                select(TrackingEvent.status_code)
                .where(TrackingEvent.shipment_id == shipment.id)
                .order_by(col(TrackingEvent.occurred_at), col(TrackingEvent.id))
            ).all()
            shipment.status = status_from_events(codes) or shipment.status
            if body.code is EventCode.DM:
                shipment.damaged = True
            if body.code is EventCode.DL:
                shipment.delivered_at = occurred
            session.add(shipment)
        result = TrackingEventResult(
            tracking_number=shipment.tracking_number,
            status=shipment.status,
            event_recorded=duplicate is None,
        )
        session.commit()
        if shipment.status is not ShipmentStatus.delivered:
            return result, None
        invited = invite_delivery(session, shipment)
        session.commit()
        result.invitation_id = invited.invitation.id
        result.invitation_created = invited.created
        return result, invited.invitation.id if invited.created else None


@router.post(
    "",
    response_model=TrackingEventResult,
    dependencies=[InternalAuth],
    responses=INTERNAL_REFUSALS | {404: refusal("No parcel has this number.")},
    summary="Record a scan; a delivery starts the consignee's survey",
    description=(
        "Needs the internal API token. Records the event (once: the same code at the same "
        "moment is recognised as a replay) and updates the parcel's status. When the parcel "
        "is delivered, its one survey invitation is created on the first such event: started "
        "in the recipient's open chat if there is one, otherwise queued in the outbox as an "
        "SMS with a survey link."
    ),
)
async def post_tracking_event(
    body: TrackingEventIn,
    engine: EngineDep,
    gateway: GatewayDep,
    settings: SettingsDep,
) -> TrackingEventResult:
    result, new_invitation = await run_in_threadpool(_record, engine, body)
    if new_invitation is not None:
        result.survey_sent_via = await proactive.deliver(
            gateway, engine, settings, new_invitation, result.tracking_number
        )
    return result

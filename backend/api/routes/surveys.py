"""Survey endpoints: a token's state, opting out, the outbox, follow-ups, sampling. (CSAT,
NPS and the response rate are indicators of the CRM satisfaction index, /api/crm/satisfaction.)

Public (a customer holds the token): `GET /api/surveys/{token}` and the opt-out link.
Everything else needs the internal API token.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from sqlmodel import col, select

from backend.api.routes import RowId, SessionDep, SettingsDep
from backend.api.routes.auth import INTERNAL_REFUSALS, InternalAuth
from backend.api.schemas import refusal
from backend.store.models import Shipment
from backend.surveys.answers import questions_for
from backend.surveys.invitations import closed_reason, find_by_token, opt_out
from backend.surveys.models import (
    FollowUpStatus,
    FollowUpTask,
    OutboxMessage,
    OutboxStatus,
    RelationshipSample,
)
from backend.surveys.sampling import sample_relationships

router = APIRouter(prefix="/api/surveys", tags=["surveys"])
# The internal endpoints' refusal (the survey link's own pages need no token).
INTERNAL: dict[str, Any] = {"dependencies": [InternalAuth], "responses": INTERNAL_REFUSALS}
UNKNOWN_LINK = {404: refusal("No survey has this link.")}

Token = Annotated[str, Path(max_length=64)]


class SurveyState(BaseModel):
    kind: str
    state: Literal["open", "completed", "expired", "opted_out"]
    tracking_number: str | None
    questions: list[str]
    expires_at: datetime


class ContactIn(BaseModel):
    contact: str = Field(min_length=3, max_length=254, description="phone or e-mail")


class OutboxUpdate(BaseModel):
    status: Literal["sent", "failed"]


NOT_FOUND = "There is no survey with this link. Please check it was copied in full."
OPTED_OUT_PAGE = (
    "<!doctype html><meta charset=utf-8><title>Parcelline surveys</title>"
    "<p>Done: we won't send surveys to this phone number or e-mail address any more.</p>"
)


@router.post("/relationship-samples", summary="Run the monthly sample", **INTERNAL)
def post_relationship_samples(
    session: SessionDep,
    settings: SettingsDep,
    # This century's months: the sampler computes the month's end, which year 0 or 9999 breaks.
    period: Annotated[str | None, Query(pattern=r"^20\d{2}-(0[1-9]|1[0-2])$")] = None,
    per_manager: Annotated[int | None, Query(ge=1, le=100)] = None,
    seed: int | None = None,
) -> dict[str, object]:
    """Needs the internal API token. Samples business customers per account manager (default from
    RELATIONSHIP_SAMPLE_SIZE), weighted toward A-tier and at-risk customers, never those sampled
    the month before, and queues their e-mail invitations. A month already sampled is returned
    unchanged (`created: false`). `seed` fixes the draw."""
    result = sample_relationships(
        session,
        period=period,
        per_manager=per_manager or settings.relationship_sample_size,
        seed=seed,
        public_url=settings.public_url,
    )
    session.commit()
    return {
        "period": result.period,
        "created": result.created,
        "samples": [_sample_dict(s) for s in result.samples],
    }


@router.get("/relationship-samples", summary="What was sampled, why", **INTERNAL)
def get_relationship_samples(
    session: SessionDep, period: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$")]
) -> list[dict[str, object]]:
    """Needs the internal API token. Who was sampled in a month, for which manager, with the weight
    and reasons."""
    rows = session.exec(select(RelationshipSample).where(RelationshipSample.period == period)).all()
    return [_sample_dict(s) for s in rows]


def _sample_dict(sample: RelationshipSample) -> dict[str, object]:
    fields = ("period", "customer_id", "account_manager", "weight", "reasons", "invitation_id")
    return {name: getattr(sample, name) for name in fields}


@router.get("/outbox", summary="Messages for the SMS/e-mail gateway", **INTERNAL)
def get_outbox(
    session: SessionDep,
    status_: Annotated[OutboxStatus, Query(alias="status")] = OutboxStatus.pending,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[OutboxMessage]:
    """Needs the internal API token. SMS and e-mail messages with survey links, oldest first, for a
    gateway to send."""
    return list(
        session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.status == status_)
            .order_by(col(OutboxMessage.id))
            .limit(limit)
        ).all()
    )


@router.patch(
    "/outbox/{message_id}",
    summary="Report a send",
    dependencies=[InternalAuth],
    responses=INTERNAL_REFUSALS | {404: refusal("No such outbox message.")},
)
def patch_outbox(message_id: RowId, body: OutboxUpdate, session: SessionDep) -> OutboxMessage:
    """Needs the internal API token. A gateway reports a message sent or failed."""
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such outbox message.")
    message.status = OutboxStatus(body.status)
    message.sent_at = datetime.now(UTC) if body.status == "sent" else None
    session.add(message)
    session.commit()
    session.refresh(message)
    return message


@router.get("/follow-ups", summary="Unhappy answers to act on", **INTERNAL)
def get_follow_ups(
    session: SessionDep,
    status_: Annotated[FollowUpStatus, Query(alias="status")] = FollowUpStatus.open,
) -> list[FollowUpTask]:
    """Needs the internal API token. Service-recovery tasks from unhappy answers; call-backs due
    within 4 hours (A-tier customers) first."""
    return list(
        session.exec(
            select(FollowUpTask)
            .where(FollowUpTask.status == status_)
            .order_by(col(FollowUpTask.priority_callback).desc(), col(FollowUpTask.id))
        ).all()
    )


@router.post("/opt-outs", summary="Stop surveys to a phone or e-mail", **INTERNAL)
def post_opt_out(body: ContactIn, session: SessionDep) -> dict[str, bool]:
    """Needs the internal API token. For a gateway receiving STOP replies: no more surveys to this
    phone number or e-mail address; pending messages to it are cancelled."""
    done = opt_out(session, body.contact)
    session.commit()
    return {"opted_out": done}


@router.get(
    "/{token}", response_model=SurveyState, summary="A survey link's state", responses=UNKNOWN_LINK
)
def get_survey(token: Token, session: SessionDep) -> SurveyState:
    """Public: what a survey link leads to (open, completed, expired or opted out), the parcel and
    the questions. 404 for a link that does not exist."""
    invitation = find_by_token(session, token)
    if invitation is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    reason = closed_reason(invitation, datetime.now(UTC))
    shipment = session.get(Shipment, invitation.shipment_id) if invitation.shipment_id else None
    return SurveyState(
        kind=invitation.kind.value,
        state=reason or "open",  # type: ignore[arg-type]
        tracking_number=shipment.tracking_number if shipment else None,
        questions=list(questions_for(invitation.kind)),
        expires_at=invitation.expires_at,
    )


@router.get(
    "/{token}/opt-out",
    response_class=HTMLResponse,
    summary="The stop link in a survey message",
    responses=UNKNOWN_LINK,
)
def survey_opt_out(token: Token, session: SessionDep) -> HTMLResponse:
    """Public: opening the link stops surveys to the phone or e-mail the survey went to, from
    now on, and says so. Safe to open twice."""
    invitation = find_by_token(session, token)
    if invitation is None or not invitation.contact:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    opt_out(session, invitation.contact)
    session.commit()
    return HTMLResponse(OPTED_OUT_PAGE)

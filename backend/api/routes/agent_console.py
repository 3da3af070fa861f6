"""The agent console's pages (/agent/...) and the APIs only it uses: customer search, the
customer 360 view, the call assist, and address changes taken on the phone.

Pages need a signed-in agent (otherwise a redirect to the login page); they render every text
with textContent, under a policy that allows scripts from this site only.
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field
from sqlmodel import Session

from backend.agents.service import Identity
from backend.api.routes import EngineDep, GatewayDep, SessionDep, SettingsDep
from backend.api.routes.auth import AGENT_REFUSALS, AgentDep, optional_agent
from backend.api.schemas import refusal
from backend.console.assist import assist
from backend.console.customers import customer_360, customer_by_code, search_customers
from backend.store.models import Channel, Customer, ShipmentStatus
from backend.store.queries import AddressChangeNotAllowed, find_shipment, request_address_change
from backend.surveys import invitations
from backend.surveys.models import InvitationStatus

PAGES = FilePath(__file__).resolve().parent.parent.parent / "static" / "agent"
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
MAX_ASSIST_CHARS = 1000

router = APIRouter(include_in_schema=True)
OptionalAgent = Annotated[Identity | None, Depends(optional_agent)]


def _page(name: str) -> HTMLResponse:
    return HTMLResponse((PAGES / name).read_text(encoding="utf-8"), headers=PAGE_HEADERS)


def _signed_in_page(identity: Identity | None, name: str) -> HTMLResponse | RedirectResponse:
    if identity is None:
        return RedirectResponse("/agent/login", status.HTTP_303_SEE_OTHER)
    return _page(name)


@router.get("/agent/login", include_in_schema=False, response_model=None)
def login_page() -> HTMLResponse:
    return _page("login.html")


@router.get("/agent", include_in_schema=False, response_model=None)
def console_page(identity: OptionalAgent) -> HTMLResponse | RedirectResponse:
    return _signed_in_page(identity, "console.html")


@router.get("/agent/conversations/{conversation_id}", include_in_schema=False, response_model=None)
def conversation_page(identity: OptionalAgent) -> HTMLResponse | RedirectResponse:
    return _signed_in_page(identity, "conversation.html")


@router.get("/agent/customers/{code}", include_in_schema=False, response_model=None)
def customer_page(identity: OptionalAgent) -> HTMLResponse | RedirectResponse:
    return _signed_in_page(identity, "customer.html")


api = APIRouter(prefix="/api/agent", tags=["agent console"], responses=AGENT_REFUSALS)
NO_SHIPMENT = {404: refusal("No shipment with that number.")}


class CustomerHit(BaseModel):
    code: str
    name: str
    contact_name: str
    phone: str
    email: str
    city: str


def _hit(customer: Customer) -> CustomerHit:
    return CustomerHit(
        code=customer.code,
        name=customer.name,
        contact_name=customer.contact_name,
        phone=customer.phone,
        email=customer.email,
        city=customer.city,
    )


@api.get("/customers", response_model=list[CustomerHit], summary="Search customers")
def customers(
    session: SessionDep,
    _identity: AgentDep,
    q: Annotated[str, Query(max_length=200, description="name, phone, e-mail or number")] = "",
) -> list[CustomerHit]:
    """Customers whose name, contact, e-mail, code or phone matches, or whose shipment has that
    tracking number.
    """
    return [_hit(c) for c in search_customers(session, q)]


@api.get(
    "/customers/{code}",
    summary="The customer 360 view",
    responses={404: refusal("No customer with that code.")},
)
def customer(
    session: SessionDep,
    _identity: AgentDep,
    code: Annotated[str, Path(max_length=16, pattern=r"^[A-Za-z0-9]+$")],
) -> dict[str, Any]:
    """Tier and value score, churn risk with reasons, recent shipments, open complaints with SLA
    countdown, survey answers and past conversations. 404 if unknown.
    """
    found = customer_by_code(session, code)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No customer with that code.")
    return customer_360(session, found)


class AssistIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_ASSIST_CHARS)


@api.post("/assist", summary="Call assist: intent, records, suggested reply, passages")
async def assist_call(
    body: AssistIn, _identity: AgentDep, gateway: GatewayDep, engine: EngineDep
) -> dict[str, Any]:
    """What a caller said, read by Rasa's NLU (from the backend) with the shipments and customers
    it names, a suggested reply from the bot's own logic, the top knowledge passages and the
    form to open.
    """
    text = " ".join(body.text.split())
    parsed = await gateway.parse(text)

    def work() -> dict[str, Any]:
        with Session(engine) as session:
            return assist(session, text, parsed)

    return await run_in_threadpool(work)


class AddressChangeIn(BaseModel):
    tracking_number: str = Field(min_length=5, max_length=40)
    new_address: str = Field(min_length=8, max_length=500)


@api.post(
    "/address-changes",
    status_code=status.HTTP_201_CREATED,
    summary="Record an address change taken on the phone",
    responses=NO_SHIPMENT | {409: refusal("The parcel cannot be redirected.")},
)
def address_change(
    body: AddressChangeIn, session: SessionDep, identity: AgentDep
) -> dict[str, Any]:
    """A pending address change for a parcel, taken on the phone. 404 for an unknown number, 409
    when the parcel can no longer be redirected.
    """
    shipment = find_shipment(session, body.tracking_number)
    if shipment is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No shipment with that number.")
    try:
        request = request_address_change(
            session, shipment, body.new_address, f"phone:{identity.username}", Channel.phone
        )
    except AddressChangeNotAllowed as refused:
        raise HTTPException(status.HTTP_409_CONFLICT, str(refused)) from None
    session.commit()
    return {
        "reference": f"AC-{request.id}",
        "tracking_number": shipment.tracking_number,
        "new_address": request.new_address,
        "status": request.status.value,
    }


class SurveyIn(BaseModel):
    tracking_number: str = Field(min_length=5, max_length=40)


@api.post(
    "/surveys",
    summary="Send the post-delivery survey of a parcel",
    responses=NO_SHIPMENT | {409: refusal("The parcel is not delivered yet.")},
)
def send_survey(
    body: SurveyIn, session: SessionDep, settings: SettingsDep, _agent: AgentDep
) -> dict[str, Any]:
    """Queues the parcel's post-delivery survey (SMS to the recipient, or e-mail to a business
    customer), once; never to a contact that opted out. 404 for an unknown number, 409 before
    delivery."""
    shipment = find_shipment(session, body.tracking_number)
    if shipment is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No shipment with that number.")
    if shipment.status is not ShipmentStatus.delivered:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "The post-delivery survey is for delivered parcels."
        )
    invited = invitations.invite_delivery(session, shipment)
    customer = session.get(Customer, shipment.customer_id)
    queued = invitations.queue_message(
        session, invited.invitation, settings.public_url, shipment, customer
    )
    session.commit()
    if queued is not None:
        note = f"Survey sent by {queued.channel.value} to {queued.recipient}."
    elif invited.invitation.status is InvitationStatus.opted_out:
        note = "Not sent: this contact asked for no surveys."
    else:
        note = "Already sent for this parcel; not sent twice."
    return {"tracking_number": shipment.tracking_number, "sent": queued is not None, "note": note}


router.include_router(api)

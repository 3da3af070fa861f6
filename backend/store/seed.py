"""Demo data: a year of a UK parcel carrier's customers, shipments and scans.

    python -m backend.store.seed [--customers 600] [--shipments 24000] [--seed 42]
                                 [--anchor 2025-06-11T12:00] [--database-url URL] [--reset]
                                 [--no-complaints]

Brings the schema up to date first, then fills an empty store; on a seeded store it does
nothing and says so (the `seed_info` row records what was seeded); `--reset` empties every
table and seeds again. The same seed and anchor give the same data on SQLite and PostgreSQL.
The anchor is the moment the data ends; by default, noon (UK) of the latest working day, so
that parcels in every state, out for delivery included, exist whenever the seed runs.

What the data looks like, and why:
- Customers: about 60% businesses (company names, landline numbers) and 40% private senders,
  in weighted UK cities; a handful of account managers. Shipment volume per customer follows a
  Zipf-like curve solved so the top 20% of customers send about 78% of shipments, as in the CRM
  literature. Some customers grow, decline, stop shipping, or joined recently, so churn and
  value analyses have something to find; those who stop had more late, damaged or lost
  parcels in the two months before (see TROUBLE).
- Shipments: spread over the 365 days before the anchor (weekdays, a November–December peak),
  promised by service level (same day; express next working day; standard 2–3 and freight
  3–5 working days), with revenue from weight and service and a varying margin.
- Scans: each shipment follows a planned journey (depot, regional hubs, destination depot,
  delivery) with its own mishaps: hub delays, failed attempts, damage, returns, losses. Scans
  after the anchor have not happened yet, so recent shipments are in transit or out for
  delivery, and the status is whatever the last scan says.
- Phone numbers are from Ofcom's ranges reserved for drama (07700 900xxx, 0113 496 0xxx, ...);
  e-mail addresses use example.com/example.net. Working days are Monday to Friday.
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any

from sqlalchemy import Connection, MetaData, func, insert, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel, col, select

from backend.store import tracking_numbers
from backend.store.db import get_engine, resolve_url, upgrade_database
from backend.store.models import (
    Customer,
    CustomerKind,
    EventCode,
    SeedInfo,
    ServiceLevel,
    Shipment,
    ShipmentStatus,
    TrackingEvent,
)
from backend.surveys.backlog import invite_delivered_backlog
from backend.tracking import UK, next_working_day, status_from_events, uk_date

DAYS = 365
BATCH = 5000
TOP_SHARE = 0.78  # share of shipments sent by the top 20% of customers

# city: (region, postcode areas, weight, drama landline prefix or None, regional hub)
CITIES: dict[str, tuple[str, tuple[str, ...], float, str | None, str]] = {
    "London": ("London", ("E", "N", "SE", "SW", "W", "NW"), 16, "+442079460", "London hub"),
    "Birmingham": ("West Midlands", ("B",), 6, "+441214960", "Birmingham hub"),
    "Manchester": ("North West", ("M",), 5.5, "+441614960", "Manchester hub"),
    "Leeds": ("Yorkshire and the Humber", ("LS",), 4, "+441134960", "Leeds hub"),
    "Glasgow": ("Scotland", ("G",), 3.5, "+441414960", "Glasgow hub"),
    "Liverpool": ("North West", ("L",), 3, "+441514960", "Manchester hub"),
    "Bristol": ("South West", ("BS",), 3, "+441174960", "Bristol hub"),
    "Sheffield": ("Yorkshire and the Humber", ("S",), 2.5, "+441144960", "Leeds hub"),
    "Edinburgh": ("Scotland", ("EH",), 2.5, "+441314960", "Glasgow hub"),
    "Newcastle upon Tyne": ("North East", ("NE",), 2.5, "+441914980", "Leeds hub"),
    "Nottingham": ("East Midlands", ("NG",), 2.5, "+441154960", "Birmingham hub"),
    "Leicester": ("East Midlands", ("LE",), 2, "+441164960", "Birmingham hub"),
    "Cardiff": ("Wales", ("CF",), 2, "+442920180", "Bristol hub"),
    "Belfast": ("Northern Ireland", ("BT",), 2, "+442896496", "Manchester hub"),
    "Southampton": ("South East", ("SO",), 1.8, None, "Bristol hub"),
    "Reading": ("South East", ("RG",), 1.5, "+441184960", "London hub"),
    "Coventry": ("West Midlands", ("CV",), 1.5, None, "Birmingham hub"),
    "Brighton": ("South East", ("BN",), 1.5, None, "London hub"),
    "Norwich": ("East of England", ("NR",), 1.2, None, "Birmingham hub"),
    "Cambridge": ("East of England", ("CB",), 1.2, None, "Birmingham hub"),
    "Oxford": ("South East", ("OX",), 1.2, None, "London hub"),
    "Milton Keynes": ("South East", ("MK",), 1.2, None, "London hub"),
    "Derby": ("East Midlands", ("DE",), 1.2, None, "Birmingham hub"),
    "Stoke-on-Trent": ("West Midlands", ("ST",), 1.1, None, "Birmingham hub"),
    "Hull": ("Yorkshire and the Humber", ("HU",), 1.1, None, "Leeds hub"),
    "York": ("Yorkshire and the Humber", ("YO",), 1, None, "Leeds hub"),
    "Plymouth": ("South West", ("PL",), 1, None, "Bristol hub"),
    "Exeter": ("South West", ("EX",), 0.9, None, "Bristol hub"),
    "Swansea": ("Wales", ("SA",), 0.9, None, "Bristol hub"),
    "Aberdeen": ("Scotland", ("AB",), 0.9, None, "Glasgow hub"),
}
CITY_NAMES = tuple(CITIES)
CITY_WEIGHTS = tuple(itertools.accumulate(city[2] for city in CITIES.values()))
NEARBY = {name: [c for c, v in CITIES.items() if v[4] == CITIES[name][4]] for name in CITIES}
CENTRAL_HUB = "Birmingham hub"
BUSINESS_MANAGERS = ("Priya Shah", "Tom Whitaker", "Aisha Bello", "Gareth Evans")
PRIVATE_MANAGERS = ("Fiona MacLeod", "Daniel Okafor")


def _words(text: str, separator: str | None = None) -> tuple[str, ...]:
    """Word lists kept compact: `_words("Ann Bob")`, `_words("Mill Lane|High Street", "|")`."""
    return tuple(text.split(separator))


FIRST_NAMES = _words(
    "Oliver Amelia George Isla Harry Ava Noah Mia Jack Ivy Leo Freya Arthur Lily Muhammad "
    "Florence Oscar Emily Charlie Grace Jacob Sophie Thomas Ella James Chloe William Ruby "
    "Alfie Evie Henry Poppy Joshua Isabella Daniel Hannah Samuel Jessica Priya Aisha Ravi "
    "Zainab Connor Siobhan Rhys Catrin Callum Eilidh Kwame Ngozi Tomasz Agnieszka Wei Mei"
)
LAST_NAMES = _words(
    "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson "
    "Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson "
    "Wood Turner Martin Cooper Hill Ward Morris Moore Clark Lee King Baker Harrison Morgan "
    "Allen James Scott Phillips Watson Davis Parker Price Bennett Young Griffiths Mitchell "
    "Kelly Cook Carter Richardson Bailey Collins Bell Shaw Murphy Miller Cox Khan Ali Begum "
    "Campbell MacDonald Stewart Reid Murray Kaur Singh Nowak Chen Okafor Mensah O'Neill"
)
BUSINESS_PLACES = _words(
    "Pennine Northgate Harbour Calder Oakfield Riverside Westbrook Kingsway Highfield Mersey "
    "Thames Severn Cotswold Moorland Ashford Willow Beacon Heritage Summit Meridian Lakeside "
    "Castle Abbey Orchard Redbrick Foundry Millstone Anchor Lighthouse Thistle Dragon Fenland "
    "Chiltern Mendip Wessex Tyne Clyde Humber Solent Malvern Peak Dales Wolds Brunel Victoria"
)
BUSINESS_TRADES = _words(
    "Outdoor Supplies|Interiors|Print Co.|Bakery Supplies|Auto Parts|Books|Pet Supplies|"
    "Garden Centre|Electricals|Cycles|Tea Company|Ceramics|Textiles|Pharmacy|Homeware|"
    "Engineering|Office Supplies|Toys|Cosmetics|Wine Merchants|Coffee Roasters|Furniture|"
    "Fabrics|Hardware|Audio|Sports|Vintage|Crafts|Components|Lighting|Medical Supplies|"
    "Tools|Packaging|Optics|Gifts|Fashion|Footwear|Kitchenware|Stationery|Signs",
    "|",
)
STREETS = _words(
    "High Street|Station Road|Church Lane|Victoria Road|Green Lane|Manor Road|Park Avenue|"
    "Queens Road|Kings Road|Mill Lane|New Street|School Lane|The Crescent|Albert Road|"
    "London Road|Grange Road|Springfield Road|Highfield Road|Chestnut Close|Willow Way|"
    "Orchard Drive|Windsor Road|York Street|Market Place|Elm Grove|Castle Street|Bridge Street",
    "|",
)
POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # letters used in the inward code

SERVICES = tuple(ServiceLevel)  # standard, express, same_day, freight
SERVICE_MIX = {True: (58, 26, 5, 11), False: (70, 24, 5, 1)}  # by "is a business"
SERVICE_PREFIX = {
    ServiceLevel.standard: "LP",
    ServiceLevel.express: "EE",
    ServiceLevel.same_day: "EE",
    ServiceLevel.freight: "CP",
}
# (base price £, price per kg £) before account discounts
PRICES = {
    ServiceLevel.standard: (4.20, 0.55),
    ServiceLevel.express: (7.90, 0.95),
    ServiceLevel.same_day: (18.50, 1.60),
    ServiceLevel.freight: (45.00, 0.32),
}
DELAY_CHANCE = {
    ServiceLevel.standard: 0.03,
    ServiceLevel.express: 0.035,
    ServiceLevel.same_day: 0.05,
    ServiceLevel.freight: 0.05,
}
FAILED_ATTEMPT = 0.06  # first delivery attempt fails
SECOND_FAILS = 0.22  # ...and so does the second: the parcel goes back
DAMAGE = 0.01
DAMAGED_RETURNED = 0.15
LOST = 0.004
# Customers who leave have usually had trouble first: core service failures are the most
# common reason customers give for switching (Keaveney 1995, "Customer switching behavior in
# service industries"). A "stopped" customer's parcels in the TROUBLE_DAYS before they stop
# are TROUBLE times as likely to be late, to fail at the door, to be damaged or lost, so
# the complaints and survey answers that follow carry some signal of churn.
TROUBLE = 6.0
TROUBLE_DAYS = 90

DF_TEXT = (
    "We called but nobody was in. We left a card and will try again next working day.",
    "We couldn't get access to the building. We'll try again next working day.",
    "Nobody was available to sign for it. We'll try again next working day.",
)
DL_TEXT = (
    "Delivered and signed for.",
    "Delivered to the recipient.",
    "Delivered to a neighbour.",
    "Delivered to the recipient's safe place.",
)

Scan = tuple[datetime, str, EventCode, str]  # local time, location, code, description


@dataclass
class Dataset:
    customers: list[dict[str, Any]]
    shipments: list[dict[str, Any]]  # each carries its scans under "_events"
    events: int = 0


@dataclass
class SeedResult:
    seeded: bool
    message: str
    customers: int = 0
    shipments: int = 0
    events: int = 0
    seconds: float = 0.0
    examples: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------- generation (no database)


def generate(customers: int, shipments: int, seed: int, anchor: datetime) -> Dataset:
    """The whole data set in memory; the same arguments always give the same data."""
    if anchor.tzinfo is None:
        raise ValueError("anchor must be timezone-aware")
    rng = random.Random(seed)
    anchor_local = anchor.astimezone(UK).replace(tzinfo=None)
    serials = rng.sample(range(10**8), shipments)
    people = _customers(rng, customers)
    per_customer = _volumes(rng, people, shipments)
    day_weights = _calendar(anchor_local.date())
    rows: list[dict[str, Any]] = []
    for person, count in zip(people, per_customer, strict=True):
        offsets = rng.choices(range(DAYS), cum_weights=_profile(person, day_weights), k=count)
        for offset in offsets:
            rows.append(_shipment(rng, person, offset, anchor_local))
        first = max(offsets, default=rng.randrange(DAYS))
        tenure = person["_tenure"] if person["_trend"] != "new" else 1 + person["_tenure"] % 14
        joined = anchor_local.date() - timedelta(days=first + tenure)
        person["created_at"] = _utc(datetime.combine(joined, clock(9)) + _minutes(rng, 0, 480))
    # Customer codes in order of joining, as an account system would hand them out.
    people.sort(key=lambda person: person["created_at"])
    for number, person in enumerate(people, start=1):
        person["code"] = f"CU{number:05d}"
    rows.sort(key=lambda row: row["shipped_at"])
    for row, serial in zip(rows, serials, strict=True):
        row["tracking_number"] = tracking_numbers.make(
            SERVICE_PREFIX[row["service_level"]], serial, "GB"
        )
    dataset = Dataset(people, rows)
    for row in rows:
        _settle(row, anchor)
        dataset.events += len(row["_events"])
    return dataset


def _customers(rng: random.Random, count: int) -> list[dict[str, Any]]:
    names: set[str] = set()
    people = []
    for _ in range(count):
        business = rng.random() < 0.6
        city = rng.choices(CITY_NAMES, cum_weights=CITY_WEIGHTS)[0]
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        contact = f"{first} {last}"
        if business:
            name = _company(rng, names)
            slug = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")
            slug = "-".join(part for part in slug.split("-") if part and part not in {"ltd", "co"})
            email = f"{_mailbox(first, last)}@{slug}.example.com"
            phone = _landline(rng, city)
            manager = rng.choice(BUSINESS_MANAGERS)
        else:
            name = contact
            email = f"{_mailbox(first, last)}{rng.randint(1, 99)}@example.net"
            phone = _mobile(rng)
            manager = rng.choice(PRIVATE_MANAGERS)
        people.append(
            {
                "code": "",  # given once everyone's joining date is known
                "name": name,
                "kind": CustomerKind.business if business else CustomerKind.private,
                "contact_name": contact,
                "phone": phone,
                "email": email,
                "city": city,
                "region": CITIES[city][0],
                "account_manager": manager,
                # how the customer's volume moves over the year; tenure before the first shipment
                "_trend": rng.choices(
                    ("steady", "growing", "declining", "stopped", "new"), (70, 10, 12, 5, 3)
                )[0],
                "_turn": rng.randint(30, 240),
                "_tenure": rng.randint(20, 5 * 365),
            }
        )
    return people


def _mailbox(first: str, last: str) -> str:
    return f"{first}.{last}".lower().replace("'", "")


def _company(rng: random.Random, taken: set[str]) -> str:
    for attempt in itertools.count():
        shape = rng.random()
        if shape < 0.12:
            name = f"{rng.choice(LAST_NAMES)} & {rng.choice(LAST_NAMES)}"
        elif shape < 0.2:
            name = f"{rng.choice(LAST_NAMES)} & Sons"
        else:
            name = f"{rng.choice(BUSINESS_PLACES)} {rng.choice(BUSINESS_TRADES)}"
        if not name.endswith("Co.") and rng.random() < 0.55:
            name += " Ltd"
        if attempt > 50:  # a very large seed runs out of combinations
            name = f"{name} {len(taken)}"
        if name not in taken:
            taken.add(name)
            return name
    raise AssertionError("unreachable")


def _landline(rng: random.Random, city: str) -> str:
    # Cities without a drama range get Ofcom's area-less 01632 960xxx.
    return f"{CITIES[city][3] or '+441632960'}{rng.randint(0, 999):03d}"


def _mobile(rng: random.Random) -> str:
    return f"+447700900{rng.randint(0, 999):03d}"


def _volumes(rng: random.Random, people: list[dict[str, Any]], total: int) -> list[int]:
    """Shipments per customer: Zipf-like by rank, businesses mostly at the top."""
    order = sorted(
        range(len(people)),
        key=lambda i: rng.random() * (0.35 if people[i]["kind"] is CustomerKind.business else 1),
    )
    by_rank = _rank_weights(len(people))
    weights = [0.0] * len(people)
    for rank, index in enumerate(order):
        weights[index] = by_rank[rank]
        people[index]["_rank"] = rank / max(len(people) - 1, 1)  # 0 = biggest shipper
    counts = [0] * len(people)
    for index in rng.choices(range(len(people)), weights, k=total):
        counts[index] += 1
    return counts


def _rank_weights(count: int, offset: float = 2.0) -> list[float]:
    """Weights 1/(rank+offset)^s with s solved so the top 20% carry TOP_SHARE."""
    top = max(1, round(count * 0.2))

    def share(s: float) -> float:
        weights = [(rank + offset) ** -s for rank in range(1, count + 1)]
        return sum(weights[:top]) / sum(weights)

    low, high = 0.0, 6.0
    for _ in range(50):
        middle = (low + high) / 2
        low, high = (middle, high) if share(middle) < TOP_SHARE else (low, middle)
    return [(rank + offset) ** -low for rank in range(1, count + 1)]


def _calendar(anchor_day: date) -> list[float]:
    """Relative volume for each day back from the anchor day (index 0 = the anchor day)."""
    weights = []
    for offset in range(DAYS):
        day = anchor_day - timedelta(days=offset)
        weekday = (1.0, 1.05, 1.05, 1.0, 1.1, 0.3, 0.08)[day.weekday()]
        season = {11: 1.25, 12: 1.45 if day.day < 22 else 0.6, 1: 0.85, 2: 0.9, 8: 0.9}
        weights.append(weekday * season.get(day.month, 1.0) * (1 - 0.1 * offset / DAYS))
    return weights


def _profile(person: dict[str, Any], calendar: list[float]) -> list[float]:
    """Cumulative weights over the days back from the anchor for this customer's trend."""
    trend, turn = person["_trend"], person["_turn"]
    cumulative, total = [], 0.0
    for offset, weight in enumerate(calendar):
        age = offset / DAYS  # 0 today, 1 a year ago
        if trend == "growing":
            factor = 0.3 + 1.2 * (1 - age)
        elif trend == "declining":
            factor = 0.4 + 1.1 * age
        elif trend == "stopped":
            factor = float(offset > turn)
        elif trend == "new":
            factor = float(offset < turn)
        else:
            factor = 1.0
        total += weight * factor
        cumulative.append(total)
    return cumulative


def _shipment(
    rng: random.Random, person: dict[str, Any], offset: int, anchor: datetime
) -> dict[str, Any]:
    business = person["kind"] is CustomerKind.business
    service = rng.choices(SERVICES, SERVICE_MIX[business])[0]
    origin = person["city"]
    if service is ServiceLevel.same_day:
        destination = origin if rng.random() < 0.6 else rng.choice(NEARBY[origin])
    elif rng.random() < 0.15:
        destination = origin
    else:
        destination = rng.choices(CITY_NAMES, cum_weights=CITY_WEIGHTS)[0]

    # Label created during the sender's day, never after the anchor.
    label_day = anchor.date() - timedelta(days=offset)
    latest = 17.5 if business else 20.0
    if label_day == anchor.date():
        latest = min(latest, anchor.hour + anchor.minute / 60 - 0.1)
        if latest < 7.5:
            label_day -= timedelta(days=1)
            latest = 17.5 if business else 20.0
    label = datetime.combine(label_day, clock(7)) + _hours(rng, 0.5, latest - 7)

    weight = _weight(rng, service)
    base, per_kg = PRICES[service]
    discount = 0.22 * (1 - person["_rank"]) ** 4 if business else 0.0
    distance = 1.0 if CITIES[origin][4] == CITIES[destination][4] else 1.1
    revenue = (base + per_kg * weight) * distance * (1 - discount)
    margin = min(max(rng.gauss(0.24, 0.08) - discount * 0.5, 0.03), 0.48)
    freight = service is ServiceLevel.freight
    declared = rng.lognormvariate(7.0, 0.8) if freight else rng.lognormvariate(3.8, 0.9)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    street = f"{rng.randint(1, 180)} {rng.choice(STREETS)}"
    if rng.random() < 0.18:
        street = f"Flat {rng.randint(1, 24)}, {street}"
    area = rng.choice(CITIES[destination][1])
    postcode = (
        f"{area}{rng.randint(1, 28)} {rng.randint(1, 9)}"
        f"{rng.choice(POSTCODE_LETTERS)}{rng.choice(POSTCODE_LETTERS)}"
    )
    row: dict[str, Any] = {
        "_customer": person,
        "consignee_name": f"{first} {last}",
        "consignee_phone": _mobile(rng) if rng.random() < 0.85 else _landline(rng, destination),
        "consignee_address": street,
        "consignee_city": destination,
        "consignee_postcode": postcode,
        "origin_city": origin,
        "destination_city": destination,
        "destination_region": CITIES[destination][0],
        "service_level": service,
        "weight_kg": weight,
        "declared_value": round(declared, 2),
        "revenue": round(revenue, 2),
        "cost": round(revenue * (1 - margin), 2),
        "shipped_at": _utc(label),
    }
    trouble = person["_trend"] == "stopped" and 0 <= offset - person["_turn"] < TROUBLE_DAYS
    row["promised_date"], row["_events"] = _journey(rng, row, label, TROUBLE if trouble else 1.0)
    return row


def _weight(rng: random.Random, service: ServiceLevel) -> float:
    if service is ServiceLevel.freight:
        return round(min(max(rng.lognormvariate(5.0, 0.7), 35.0), 1500.0), 1)
    median = {ServiceLevel.express: 1.0, ServiceLevel.same_day: 1.5}.get(service, 2.0)
    return round(min(max(rng.lognormvariate(0, 0.9) * median, 0.1), 30.0), 2)


def _journey(
    rng: random.Random, row: dict[str, Any], label: datetime, trouble: float = 1.0
) -> tuple[date, list[Scan]]:
    """The promised date and every scan the shipment will get, in local time; `trouble`
    multiplies the chance of each mishap."""
    service: ServiceLevel = row["service_level"]
    origin, destination = row["origin_city"], row["destination_city"]
    same_day = service is ServiceLevel.same_day
    cutoff = 11 if same_day else 15
    start = label.date()
    if start.weekday() >= 5 or label.hour >= cutoff:
        start = next_working_day(start)
    route = _route(origin, destination, same_day)
    same_hub = CITIES[origin][4] == CITIES[destination][4]
    if same_day:
        promised = start
    elif service is ServiceLevel.express:
        promised = _add_working(start, 1)
    elif service is ServiceLevel.standard:
        promised = _add_working(start, 2 if same_hub else 3)
    else:
        promised = _add_working(start, 3 if same_hub else rng.choice((4, 5)))

    delivery = promised
    if service in (ServiceLevel.standard, ServiceLevel.freight) and rng.random() < 0.15:
        earlier = _add_working(promised, -1)
        delivery = earlier if earlier > start else promised
    delay_chance = DELAY_CHANCE[service] * (2 if promised.month == 12 else 1) * trouble
    if rng.random() < delay_chance:
        delivery = _add_working(delivery, rng.choices((1, 2, 3), (60, 30, 10))[0])
    mishap = rng.random()
    lost = mishap < LOST * trouble
    damaged = LOST * trouble <= mishap < (LOST + DAMAGE) * trouble
    fails = 0
    if rng.random() < FAILED_ATTEMPT * trouble:
        fails = 2 if rng.random() < SECOND_FAILS else 1

    scans: list[Scan] = [(label, origin, EventCode.LC, "Shipping label created by the sender.")]
    if start == label.date():
        pickup = min(
            label + _hours(rng, 0.25, 1) if same_day else label + _hours(rng, 0.5, 3),
            datetime.combine(start, clock(17, 45)) - _minutes(rng, 0, 30),
        )
        pickup = max(pickup, label + timedelta(minutes=10))
    else:
        pickup = datetime.combine(start, clock(9)) + _hours(rng, 0, 4 if not same_day else 1)
    scans.append((pickup, origin, EventCode.PU, "Collected from the sender."))

    arrive_first = pickup + (_hours(rng, 0.3, 0.8) if same_day else _hours(rng, 1, 3))
    if same_day and delivery == start:  # straight on, to the next town at most
        out = arrive_first + (_hours(rng, 0.2, 0.6) if len(route) == 1 else _hours(rng, 1.5, 3))
    else:
        out = datetime.combine(delivery, clock(6, 45)) + _hours(rng, 0, 2.25)
    # The route's facilities between the first arrival and the morning of delivery.
    legs = _legs(rng, route, arrive_first, out, same_day)
    if lost or damaged:
        cut = rng.randrange(1, len(legs) + 1)
        where = legs[cut - 1][1]
        if lost:
            scans += legs[:cut]
            when = datetime.combine(_add_working(promised, 10), clock(10)) + _hours(rng, 0, 6)
            note = "Declared lost: we couldn't find it after a search of our network."
            scans.append((when, where, EventCode.LS, note))
            return promised, scans
        following = legs[cut][0] if cut < len(legs) else out
        seen = legs[cut - 1][0] + (following - legs[cut - 1][0]) * rng.uniform(0.2, 0.6)
        scans += legs[:cut]
        scans.append((seen, where, EventCode.DM, f"Damage to the parcel was reported at {where}."))
        if rng.random() < DAMAGED_RETURNED:
            turn = datetime.combine(next_working_day(seen.date()), clock(9)) + _hours(rng, 0, 3)
            note = "Returning to the sender: too badly damaged to deliver."
            scans.append((turn, where, EventCode.RT, note))
            scans += _return(rng, route[: route.index(where)][::-1], turn, origin)
            return promised, scans
        scans += legs[cut:]
    else:
        scans += legs

    depot = route[-1]
    attempt_day = delivery
    for attempt in range(min(fails + 1, 2)):  # two failed attempts and it goes back
        if attempt:
            attempt_day = next_working_day(attempt_day)
            out = datetime.combine(attempt_day, clock(6, 45)) + _hours(rng, 0, 2.25)
        scans.append((out, depot, EventCode.OD, "Out for delivery with the driver."))
        window = _hours(rng, 0.3, 3) if same_day else _hours(rng, 0.5, 9.5)
        drop = min(out + window, datetime.combine(attempt_day, clock(20, 30)))
        if attempt < fails:
            scans.append((drop, destination, EventCode.DF, rng.choice(DF_TEXT)))
        else:
            scans.append((drop, destination, EventCode.DL, rng.choice(DL_TEXT)))
    if fails == 2:
        turn = datetime.combine(next_working_day(attempt_day), clock(8)) + _hours(rng, 0, 2)
        note = "Returning to the sender after two failed delivery attempts."
        scans.append((turn, depot, EventCode.RT, note))
        scans += _return(rng, route[:-1][::-1], turn, origin)
    return promised, scans


def _route(origin: str, destination: str, same_day: bool) -> list[str]:
    if same_day or origin == destination:
        return (
            [f"{origin} depot"]
            if origin == destination
            else [f"{origin} depot", f"{destination} depot"]
        )
    hub_from, hub_to = CITIES[origin][4], CITIES[destination][4]
    if hub_from == hub_to:
        hubs = [hub_from]
    elif CENTRAL_HUB in (hub_from, hub_to):
        hubs = [hub_from, hub_to]
    else:
        hubs = [hub_from, CENTRAL_HUB, hub_to]
    return [f"{origin} depot", *hubs, f"{destination} depot"]


def _legs(
    rng: random.Random, route: list[str], first: datetime, out: datetime, same_day: bool
) -> list[Scan]:
    """Arrival and departure scans along `route`, ending with arrival at the last depot."""
    scans: list[Scan] = [(first, route[0], EventCode.AR, f"Arrived at {route[0]}.")]
    if len(route) == 1:
        return scans
    if same_day:
        leave = first + _minutes(rng, 5, 15)
        last = out - _minutes(rng, 5, 10)
    else:  # leave the first depot in the evening, reach the last one before dawn
        leave = max(first + _hours(rng, 0.5, 1), datetime.combine(first.date(), clock(20)))
        leave += _hours(rng, 0, 2.5)
        last = out - _hours(rng, 1, 3)
    scans.append((leave, route[0], EventCode.DP, f"Departed {route[0]}."))
    hubs = route[1:-1]
    step = (last - leave) / (2 * len(hubs) + 1)
    for index, hub in enumerate(hubs, start=1):
        arrive = leave + step * (2 * index - 1) + step * rng.uniform(-0.25, 0.25)
        depart = arrive + step * rng.uniform(0.6, 1.2)
        scans.append((arrive, hub, EventCode.AR, f"Arrived at {hub}."))
        scans.append((depart, hub, EventCode.DP, f"Departed {hub}."))
    scans.append((last, route[-1], EventCode.AR, f"Arrived at {route[-1]}."))
    return scans


def _return(rng: random.Random, places: list[str], start: datetime, origin: str) -> list[Scan]:
    """Scans back through `places` to the sender, arriving two working days after `start`."""
    end = datetime.combine(_add_working(start.date(), 2), clock(10)) + _hours(rng, 0, 6)
    scans: list[Scan] = []
    step = (end - start) / (2 * len(places) + 1)
    for index, place in enumerate(places):
        arrive = start + step * (2 * index + 1)
        scans.append((arrive, place, EventCode.AR, f"Arrived at {place}."))
        if index < len(places) - 1:
            scans.append((arrive + step * 0.8, place, EventCode.DP, f"Departed {place}."))
    scans.append((end, origin, EventCode.RS, "Returned to the sender."))
    return scans


def _settle(row: dict[str, Any], anchor: datetime) -> None:
    """Keep the scans that have happened by `anchor` and set the status they lead to."""
    scans: list[tuple[datetime, str, EventCode, str]] = []
    previous: datetime | None = None
    for local, location, code, description in row["_events"]:
        moment = _utc(local)
        if previous is not None and moment <= previous:  # a clock change can reorder scans
            moment = previous + timedelta(minutes=1)
        if moment > anchor:
            break
        scans.append((moment, location, code, description))
        previous = moment
    row["_events"] = scans
    status = status_from_events(code for _, _, code, _ in scans)
    row["status"] = status or ShipmentStatus.label_created
    delivered = [moment for moment, _, code, _ in scans if code is EventCode.DL]
    row["delivered_at"] = delivered[0] if delivered else None
    row["damaged"] = any(code is EventCode.DM for _, _, code, _ in scans)
    row["updated_at"] = scans[-1][0]


def _add_working(day: date, days: int) -> date:
    step = 1 if days >= 0 else -1
    for _ in range(abs(days)):
        day += timedelta(days=step)
        while day.weekday() >= 5:
            day += timedelta(days=step)
    return day


def _hours(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(minutes=round(rng.uniform(low, high) * 60))


def _minutes(rng: random.Random, low: int, high: int) -> timedelta:
    return timedelta(minutes=rng.randint(low, high))


def _utc(local: datetime) -> datetime:
    return local.replace(tzinfo=UK).astimezone(UTC)


# ---------------------------------------------------------------- writing to the database


def seed_database(
    url: str | None = None,
    *,
    customers: int = 600,
    shipments: int = 24_000,
    seed: int = 42,
    anchor: datetime | None = None,
    reset: bool = False,
    complaints: bool = False,
    echo: Callable[[str], None] = print,
) -> SeedResult:
    """Migrate, then fill an empty store (or, with `reset`, an emptied one); `complaints`
    adds a year of complaint history (backend/complaints/history.py; the command does)."""
    url = resolve_url(url)
    anchor = (anchor or default_anchor()).astimezone(UTC).replace(second=0, microsecond=0)
    began = time.perf_counter()
    upgrade_database(url)
    engine = get_engine(url)
    with engine.begin() as connection:
        if reset:
            cleared = _empty_all_tables(connection)
            echo(f"Emptied {cleared} tables.")
        marker = connection.execute(select(SeedInfo)).first()
        if marker is not None:
            message = (
                f"Already seeded (seed {marker.seed}, {marker.customers} customers, "
                f"{marker.shipments} shipments, anchor {marker.anchor:%Y-%m-%d %H:%M} UTC); "
                "nothing to do. Use --reset to seed again."
            )
            echo(message)
            with Session(engine) as session:
                echo(_example_table(session, example_numbers(session)))
            return SeedResult(seeded=False, message=message)
        has_customers = connection.execute(select(func.count(col(Customer.id)))).scalar()
        if has_customers:
            message = "The store holds customers the seed did not create; not seeding. Use --reset."
            echo(message)
            return SeedResult(seeded=False, message=message)

        echo(
            f"Seeding {make_url(url).render_as_string(hide_password=True)} "
            f"(seed {seed}, anchor {anchor:%Y-%m-%d %H:%M} UTC)"
        )
        phase = time.perf_counter()
        data = generate(customers, shipments, seed, anchor)
        echo(_line("generated", len(data.shipments), "shipments in memory", phase))
        phase = time.perf_counter()
        _insert(connection, Customer, map(_columns, data.customers))
        ids = {code: id_ for code, id_ in connection.execute(select(Customer.code, Customer.id))}
        echo(_line("customers", len(data.customers), "rows", phase))
        phase = time.perf_counter()
        rows = [
            _columns(row) | {"customer_id": ids[row["_customer"]["code"]]} for row in data.shipments
        ]
        _insert(connection, Shipment, rows)
        echo(_line("shipments", len(rows), "rows", phase))
        phase = time.perf_counter()
        numbers = select(Shipment.tracking_number, Shipment.id)
        shipment_ids = {number: id_ for number, id_ in connection.execute(numbers)}
        events = (
            {
                "shipment_id": shipment_ids[row["tracking_number"]],
                "occurred_at": moment,
                "location": location,
                "status_code": code,
                "description": description,
            }
            for row in data.shipments
            for moment, location, code, description in row["_events"]
        )
        _insert(connection, TrackingEvent, events)
        echo(_line("events", data.events, "rows", phase))
        connection.execute(
            insert(SeedInfo),
            {
                "seed": seed,
                "customers": customers,
                "shipments": shipments,
                "anchor": anchor,
                "seeded_at": datetime.now(UTC),
            },
        )
        if complaints:
            from backend.complaints.history import seed_complaint_history

            phase = time.perf_counter()
            with Session(bind=connection) as session:
                keep = set(example_numbers(session).values())
            tickets = seed_complaint_history(connection, anchor, seed, exclude=keep)
            echo(_line("complaints", tickets, "tickets", phase))
    invite_delivered_backlog(url, now=anchor, echo=echo)
    seconds = time.perf_counter() - began
    echo(f"Done in {seconds:.1f} s.")
    with Session(engine) as session:
        examples = example_numbers(session)
        echo(_example_table(session, examples))
    return SeedResult(
        seeded=True,
        message="seeded",
        customers=len(data.customers),
        shipments=len(data.shipments),
        events=data.events,
        seconds=seconds,
        examples=examples,
    )


def default_anchor(now: datetime | None = None) -> datetime:
    """Midday (UK) of the latest working day not after `now`.

    A working-day midday has parcels in every state, out for delivery included, whenever
    the seed runs (at night or at the weekend too); and it is never in the future.
    """
    local = (now or datetime.now(UTC)).astimezone(UK)
    day = local.date() if local.time() >= clock(12) else local.date() - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return datetime.combine(day, clock(12), tzinfo=UK).astimezone(UTC)


def _insert(connection: Connection, model: type[SQLModel], rows: Iterable[dict[str, Any]]) -> None:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            connection.execute(insert(model), batch)
            batch = []
    if batch:
        connection.execute(insert(model), batch)


def _columns(row: dict[str, Any]) -> dict[str, Any]:
    """The row without its generation notes (keys starting with "_")."""
    return {key: value for key, value in row.items() if not key.startswith("_")}


def _empty_all_tables(connection: Connection) -> int:
    """Delete every row of every table (other features' too), keeping the schema version."""
    reflected = MetaData()
    reflected.reflect(connection)
    tables = [t for t in reflected.sorted_tables if t.name != "alembic_version"]
    if connection.dialect.name == "postgresql":
        names = ", ".join(connection.dialect.identifier_preparer.format_table(t) for t in tables)
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in reversed(tables):
            connection.execute(table.delete())
    return len(tables)


def _line(what: str, count: int, unit: str, since: float) -> str:
    return f"  {what:<10} {count:>9,} {unit:<20} {time.perf_counter() - since:6.1f} s"


# ---------------------------------------------------------------- examples for people to try

EXAMPLE_KINDS = (
    "delivered on time",
    "delivered late",
    "in transit",
    "in transit and late",
    "out for delivery",
    "failed attempt",
    "damaged",
    "lost",
    "returned",
    "returning",
    "label created",
)


def example_numbers(session: Session, today: date | None = None) -> dict[str, str]:
    """The most recent tracking number of each kind in EXAMPLE_KINDS that the store holds.

    `today` (for "in transit and late") defaults to the seed's anchor day, or the UK date now.
    """
    if today is None:
        marker = session.exec(select(SeedInfo).order_by(col(SeedInfo.id).desc())).first()
        today = uk_date(marker.anchor if marker else datetime.now(UTC))
    found: dict[str, str] = {}

    def pick(kind: str, status: ShipmentStatus | None, keep: Callable[[Shipment], bool]) -> None:
        query = select(Shipment).order_by(col(Shipment.shipped_at).desc(), col(Shipment.id).desc())
        if status is None:
            query = query.where(col(Shipment.damaged))
        else:
            query = query.where(Shipment.status == status, col(Shipment.damaged).is_(False))
        for shipment in session.exec(query.limit(5000)):
            if keep(shipment):
                found[kind] = shipment.tracking_number
                return

    def late(shipment: Shipment) -> bool:
        delivered = shipment.delivered_at
        return delivered is not None and uk_date(delivered) > shipment.promised_date

    S = ShipmentStatus
    pick("delivered on time", S.delivered, lambda s: not late(s))
    pick("delivered late", S.delivered, late)
    pick("in transit", S.in_transit, lambda s: s.promised_date >= today)
    pick("in transit and late", S.in_transit, lambda s: s.promised_date < today)
    pick("out for delivery", S.out_for_delivery, lambda s: True)
    pick("failed attempt", S.delivery_failed, lambda s: True)
    pick("damaged", None, lambda s: s.status is S.delivered)  # "my box arrived crushed"
    pick("lost", S.lost, lambda s: True)
    pick("returned", S.returned, lambda s: True)
    pick("returning", S.returning, lambda s: True)
    pick("label created", S.label_created, lambda s: True)
    return {kind: found[kind] for kind in EXAMPLE_KINDS if kind in found}


def _example_table(session: Session, examples: dict[str, str]) -> str:
    lines = [
        "Tracking numbers to try (the phone ending verifies the consignee):",
        f"  {'kind':<20} {'tracking number':<16} {'phone ends':<11} status",
    ]
    for kind in EXAMPLE_KINDS:
        number = examples.get(kind)
        if number is None:
            lines.append(f"  {kind:<20} (none at this anchor time)")
            continue
        shipment = session.exec(select(Shipment).where(Shipment.tracking_number == number)).one()
        phone_end = shipment.consignee_phone[-4:]
        lines.append(f"  {kind:<20} {number:<16} {phone_end:<11} {shipment.status}")
    return "\n".join(lines)


# ---------------------------------------------------------------- command line


def parse_anchor(value: str) -> datetime:
    """An ISO date or datetime; a date means noon UK time, a naive datetime UK time."""
    moment = datetime.fromisoformat(value)
    if len(value) <= 10:
        moment = datetime.combine(moment.date(), clock(12))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UK)
    return moment.astimezone(UTC)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m backend.store.seed", description="Fill the customer store with demo data."
    )
    parser.add_argument("--customers", type=int, default=600)
    parser.add_argument("--shipments", type=int, default=24_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--anchor",
        type=parse_anchor,
        default=None,
        help="when the data ends: an ISO date (noon UK time) or datetime "
        "(default: noon of the latest working day)",
    )
    parser.add_argument("--database-url", default=None, help="default: DATABASE_URL")
    parser.add_argument("--reset", action="store_true", help="empty every table, then seed")
    parser.add_argument("--no-complaints", action="store_true", help="seed no complaint history")
    args = parser.parse_args(argv)
    if args.customers < 1 or args.shipments < 1:
        parser.error("--customers and --shipments must be at least 1")
    result = seed_database(
        args.database_url,
        customers=args.customers,
        shipments=args.shipments,
        seed=args.seed,
        anchor=args.anchor,
        reset=args.reset,
        complaints=not args.no_complaints,
    )
    if not result.seeded:
        # A store seeded before surveys existed gets its deliveries' invitations now.
        invite_delivered_backlog(args.database_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How a message sounds: abusive language is answered calmly, a threat or a safety issue goes
to a person at once. Keyword lists, deliberately short and conservative (false alarms send a
customer to a person, which is never wrong)."""

from __future__ import annotations

import re
from enum import StrEnum


class Tone(StrEnum):
    calm = "calm"
    abusive = "abusive"
    safety = "safety"


_SAFETY = re.compile(
    r"\b(kill|murder|bomb|burn (?:down|your)|hurt (?:you|him|her|them)|stab|shoot|weapon|"
    r"injur(?:ed|y)|bleeding|hospital|gas leak|on fire|fire hazard|chemical|leaking acid|"
    r"suicid\w*|self[- ]harm|threat(?:en|ened|ening)?|assault(?:ed)?|attacked|"
    r"dangerous goods|explosive)\b",
    re.IGNORECASE,
)
_ABUSIVE = re.compile(
    r"\b(f+u+c+k\w*|shit\w*|crap|bloody|idiot\w*|stupid|moron\w*|useless|incompetent|"
    r"pathetic|rubbish|bastard\w*|damn\w*|joke of a|disgrace\w*|clowns?|wtf)\b",
    re.IGNORECASE,
)


# What an upset customer hears in a complaint form, and once per conversation elsewhere.
COMPLAINT_CALM = (
    "I can hear how frustrating this has been, and I'm sorry. I'll get it recorded properly "
    "so it's put right, and I can put you through to a person at the end if you'd like."
)
CALM_REPLY = (
    "I can hear how frustrating this is, and I'm sorry. I'm here to get it sorted; if you'd "
    "rather talk to one of our team, just say so or use the button."
)
CALM_BUTTONS = [{"title": "Talk to a person", "payload": "/human_handoff"}]


def tone_of(text: str) -> Tone:
    if _SAFETY.search(text or ""):
        return Tone.safety
    if _ABUSIVE.search(text or ""):
        return Tone.abusive
    return Tone.calm

"""What actions say when the text depends on data (static replies live in domain.yml)."""

from __future__ import annotations

STORE_DOWN = (
    "I'm sorry, I can't reach our parcel records right now. Please try again in a few "
    "minutes, or call us on 0330 123 4567 (Mon–Fri 8:00–20:00, Sat 9:00–14:00)."
)
NO_NUMBER_FOUND = (
    "I couldn't find a tracking number in that. It's on your shipping confirmation and "
    "looks like LP482913073GB: two letters, nine digits, two letters."
)
TOO_MANY_NUMBERS = (
    "I can look up to {limit} parcels at a time, so I'll start with the first {limit}."
)
STILL_INVALID = "I still can't make out a valid tracking number, sorry."
UNKNOWN_NUMBER = (
    "I can't find a parcel with the number {number}. If the label was printed in the last "
    "few hours it may not be in our system yet; otherwise please check the number with the sender."
)
LOCKED = (
    "For the recipient's security, I can't show or change the personal details of {number} "
    "in this conversation any more. Tracking still works, and our team can help on "
    "0330 123 4567."
)
PHONE_FORMAT = (
    "Please type just the last four digits of the recipient's phone number, for example 1234."
)
PHONE_MISMATCH = (
    "That doesn't match the phone number on this parcel. You can try {left} more time{plural}."
)
PHONE_LOCKED_NOW = (
    "That doesn't match either, so I've locked the personal details of {number} for this "
    "conversation to protect the recipient. Tracking still works, and our team can help on "
    "0330 123 4567."
)
DETAILS = (
    "Thanks, that matches. {number} is addressed to {name}, {address}, {city} {postcode}; "
    "recipient's phone {phone}."
)
ADDRESS_TOO_SHORT = (
    "That looks a bit short for an address. Please give the street, number, town and postcode."
)
ADDRESS_NO_POSTCODE = 'Please include the postcode, for example "12 High Street, Leeds LS1 4AB".'
ADDRESS_TOO_LONG = (
    "That's longer than an address should be. Please give just the street, number, town "
    "and postcode."
)
ADDRESS_CHANGED = (
    "Done. I've asked for {number} to be delivered to: {address}. Our depot confirms the "
    "change before the next delivery attempt (reference AC-{request_id})."
)
STOPPED = "No problem, I've stopped there. Anything else I can help with?"
KNOWLEDGE_ANSWER = "{answer}\n\n(Source: {title})"
KNOWLEDGE_NOT_SURE = (
    "I'm not sure about that, and I'd rather not guess. I can answer questions about our "
    "services, prices, deliveries, claims and returns, and track parcels."
)
# A guess offered as buttons (actions/suggestions.py); nothing has been started.
KNOWLEDGE_DID_YOU_MEAN = (
    "I'm not sure I understood that, so I haven't done anything yet. Did you mean {which}? "
    "If not, please put it another way, or ask for a person."
)
KNOWLEDGE_NOT_SURE_CLOSEST = (
    "I'm not sure I have the answer to that, and I'd rather not guess. These are the closest "
    "topics I know about:"
)
# Said for text in another language and for text with no recognisable words alike.
KNOWLEDGE_NOT_ENGLISH = (
    "Sorry, I didn't understand that. I can only answer in English for now; our team can "
    "also help on 0330 123 4567 (Mon–Fri 8:00–20:00, Sat 9:00–14:00)."
)
KNOWLEDGE_UNAVAILABLE = (
    "I'm sorry, I can't look that up right now. Our team can answer on 0330 123 4567 "
    "(Mon–Fri 8:00–20:00, Sat 9:00–14:00)."
)
HANDOFF_UNAVAILABLE = (
    "I'm sorry, I can't reach our team's queue right now. Please call us on 0330 123 4567 "
    "(Mon–Fri 8:00–20:00, Sat 9:00–14:00) or write to help@parcelline.example."
)

"""Stripe's test cards: the test PaymentMethod ids (`pm_card_visa`) and card numbers
(4242 4242 4242 4242, …) and how each behaves. https://docs.stripe.com/testing
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TestCard:
    number: str
    brand: str
    # Decline code when the card is saved (attach / SetupIntent confirm), "" when it saves.
    declined_when_saved: str = ""
    # Decline code of every charge (off-session or not), "" when charges succeed.
    declined_when_charged: str = ""
    # "always": every payment needs 3-D Secure; "unless_set_up": 3-D Secure when it is set up
    # and on charges not covered by an off-session set-up; "": never.
    authentication: str = ""
    # A successful charge on it is disputed at once (charge.dispute.created).
    disputed: bool = False
    funding: str = "credit"
    country: str = "US"

    @property
    def last4(self) -> str:
        return self.number[-4:]


VISA = TestCard("4242424242424242", "visa")

BY_NUMBER = {
    card.number: card
    for card in (
        VISA,
        TestCard("4000056655665556", "visa", funding="debit"),
        TestCard("5555555555554444", "mastercard"),
        TestCard("378282246310005", "amex"),
        TestCard("4000000000000077", "visa"),  # funds available at once (Stripe: bypass pending)
        TestCard("4000000000000341", "visa", declined_when_charged="generic_decline"),
        TestCard("4000002760003184", "visa", authentication="always"),
        TestCard("4000002500003155", "visa", authentication="unless_set_up"),
        TestCard("4000000000003220", "visa", authentication="always"),
        TestCard("4000000000000002", "visa", declined_when_saved="generic_decline"),
        TestCard("4000000000009995", "visa", declined_when_saved="insufficient_funds"),
        TestCard("4000000000009987", "visa", declined_when_saved="lost_card"),
        TestCard("4000000000009979", "visa", declined_when_saved="stolen_card"),
        TestCard("4000000000000069", "visa", declined_when_saved="expired_card"),
        TestCard("4000000000000127", "visa", declined_when_saved="incorrect_cvc"),
        TestCard("4000000000000259", "visa", disputed=True),
        TestCard("4000000000003063", "visa", authentication="always"),
    )
}

BY_TEST_ID = {
    "pm_card_visa": BY_NUMBER["4242424242424242"],
    "pm_card_visa_debit": BY_NUMBER["4000056655665556"],
    "pm_card_mastercard": BY_NUMBER["5555555555554444"],
    "pm_card_amex": BY_NUMBER["378282246310005"],
    "pm_card_bypassPending": BY_NUMBER["4000000000000077"],
    "pm_card_chargeCustomerFail": BY_NUMBER["4000000000000341"],
    "pm_card_authenticationRequired": BY_NUMBER["4000002760003184"],
    "pm_card_authenticationRequiredOnSetup": BY_NUMBER["4000002500003155"],
    "pm_card_visa_chargeDeclined": BY_NUMBER["4000000000000002"],
    "pm_card_chargeDeclined": BY_NUMBER["4000000000000002"],
    "pm_card_visa_chargeDeclinedInsufficientFunds": BY_NUMBER["4000000000009995"],
    "pm_card_chargeDeclinedInsufficientFunds": BY_NUMBER["4000000000009995"],
    "pm_card_visa_chargeDeclinedLostCard": BY_NUMBER["4000000000009987"],
    "pm_card_chargeDeclinedLostCard": BY_NUMBER["4000000000009987"],
    "pm_card_visa_chargeDeclinedStolenCard": BY_NUMBER["4000000000009979"],
    "pm_card_chargeDeclinedExpiredCard": BY_NUMBER["4000000000000069"],
    "pm_card_chargeDeclinedIncorrectCvc": BY_NUMBER["4000000000000127"],
    "pm_card_createDispute": BY_NUMBER["4000000000000259"],
}

# What the Stripe.js stand-in lists under its card field.
LISTED = [
    ("4242 4242 4242 4242", "succeeds"),
    ("4000 0025 0000 3155", "asks for 3-D Secure when saved, then charges"),
    ("4000 0027 6000 3184", "asks for 3-D Secure on every payment"),
    ("4000 0000 0000 0341", "saves, then is declined when charged"),
    ("4000 0000 0000 0002", "declined when saved"),
    ("4000 0000 0000 9995", "declined when saved (insufficient funds)"),
]

DECLINE_MESSAGES = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "lost_card": "Your card was declined.",
    "stolen_card": "Your card was declined.",
    "expired_card": "Your card has expired.",
    "incorrect_cvc": "Your card's security code is incorrect.",
    # An off-session charge on a card that needs 3-D Secure (Stripe answers it as a decline).
    "authentication_required": (
        "Your card was declined. This transaction requires authentication."
    ),
}
ERROR_CODES = {
    "expired_card": "expired_card",
    "incorrect_cvc": "incorrect_cvc",
    "authentication_required": "authentication_required",
}


def decline_message(decline_code: str) -> str:
    return DECLINE_MESSAGES.get(decline_code, "Your card was declined.")


def error_code(decline_code: str) -> str:
    """Stripe's error `code` for a decline (`card_declined` unless more specific)."""
    return ERROR_CODES.get(decline_code, "card_declined")


def decline_error(decline_code: str) -> dict:
    """Stripe's card_error for a decline: the code, decline_code, message and type that the
    402 answer, a failed charge and `last_payment_error` / `last_setup_error` carry."""
    return {
        "code": error_code(decline_code),
        "decline_code": decline_code,
        "message": decline_message(decline_code),
        "type": "card_error",
    }

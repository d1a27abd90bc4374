"""Stripe Connect: Express accounts, their onboarding links, transfers and transfer reversals.

An Express account starts restricted (no charges, no payouts, requirements past due, its
capabilities inactive). Its owner finishes onboarding on the stand-in's hosted page
(`pages/onboarding.py`, reached through an account link that works once and expires after five
minutes, as Stripe's do), or a test skips the browser with the stand-in's own
`POST /v1/accounts/{id}/_complete_onboarding`. Both end in `finish_onboarding()`: verified
(charges and payouts enabled, capabilities active, a bank account attached) or restricted
(details submitted, a verification document still due), each announced with a Connect event
`account.updated` carrying the account's id.

A transfer moves money from the platform's balance to a connected account's: without a
`source_transaction` only from the available balance (else Stripe's `balance_insufficient`);
with one, from that charge even while its funds are pending, up to what is left of it after
refunds and earlier transfers. A reversal moves (part of) it back. Each writes a balance
transaction on both sides (`balance.record`), so `GET /v1/balance` with `Stripe-Account`
shows the connected account's money. Transfers are counted per `metadata.payout_id` for the
double-payout detector in `/_standin/stats`.

What a charge has left to fund and a transfer's reversals are kept as transfers and reversals
are made (`_LEDGER` in the store's `private` table), and transfers are indexed by destination
and transfer group, so none of these requests reads every transfer in the store.
"""

from __future__ import annotations

import copy
import hashlib
import re
import secrets

from .. import params
from ..api import route
from ..errors import bad_value, invalid, missing
from ..params import ANY, METADATA, amount, require, take
from ..state import new_id
from . import balance, search
from .common import created_bounds, created_matches, list_answer, take_list

# --- constants --------------------------------------------------------------------------

# The platform's own account (`GET /v1/account`): fixed, so tests and settings can name it.
PLATFORM_ACCOUNT_ID = "acct_1StandinPlatform"
PLATFORM_COUNTRY = "BE"
PLATFORM_NAME = "Groundswell"  # shown on the onboarding page, as Stripe shows the platform's
LINK_LIFETIME_S = 300  # Stripe's account links expire five minutes after they are made
ONBOARDING_SESSION_S = 3600  # how long an opened onboarding page may take to be submitted
TEST_IBAN = "DE89370400440532013000"  # Stripe's test IBAN that pays out successfully
EMBEDDED_REVERSALS = 10  # Stripe embeds a transfer's ten newest reversals
# standin.private[_LEDGER]: "transferred" (charge id -> the amount transferred from it and not
# reversed) and "reversals" (transfer id -> its reversals' ids, oldest first).
_LEDGER = "index:connect"
_TRANSFER_FILTERS = ("destination", "transfer_group")
for _field in _TRANSFER_FILTERS:
    search.register_index("transfer", _field)

# The euro area (one line reads better than a column of twenty strings).
EURO_AREA = "AT BE CY DE EE ES FI FR GR HR IE IT LT LU LV MT NL PT SI SK".split()  # noqa: SIM905
# Countries where Express accounts can be made, with the currency they are paid out in.
COUNTRY_CURRENCY = {
    **dict.fromkeys(EURO_AREA, "eur"),
    "BG": "bgn",
    "CZ": "czk",
    "DK": "dkk",
    "HU": "huf",
    "PL": "pln",
    "RO": "ron",
    "SE": "sek",
    "CH": "chf",
    "GB": "gbp",
    "NO": "nok",
    "US": "usd",
    "CA": "cad",
    "AU": "aud",
    "NZ": "nzd",
}

_INDIVIDUAL_DUE = [
    "individual.address.city",
    "individual.address.line1",
    "individual.address.postal_code",
    "individual.dob.day",
    "individual.dob.month",
    "individual.dob.year",
    "individual.email",
    "individual.first_name",
    "individual.last_name",
    "individual.phone",
]
_COMPANY_DUE = [
    "company.address.city",
    "company.address.line1",
    "company.address.postal_code",
    "company.name",
    "company.tax_id",
    "representative.first_name",
    "representative.last_name",
    "representative.dob.day",
    "representative.dob.month",
    "representative.dob.year",
    "representative.email",
    "representative.phone",
    "representative.relationship.title",
]
RESTRICTED_DUE = ["individual.verification.document"]

_BUSINESS_PROFILE = dict.fromkeys(
    (
        "mcc",
        "name",
        "product_description",
        "support_email",
        "support_phone",
        "support_url",
        "url",
    ),
    str,
)
_CAPABILITY = {"requested": bool}
_CREATE = {
    "type": ("express", "standard", "custom"),
    "country": str,
    "email": str,
    "business_type": ("individual", "company", "non_profit", "government_entity"),
    "capabilities": {"card_payments": _CAPABILITY, "transfers": _CAPABILITY},
    "business_profile": _BUSINESS_PROFILE,
    "metadata": METADATA,
    "default_currency": str,
    "tos_acceptance": {"service_agreement": ("full", "recipient")},
}
_UPDATE = {"email": str, "business_profile": _BUSINESS_PROFILE, "metadata": METADATA}


# --- accounts ---------------------------------------------------------------------------


@route("POST", "/v1/accounts")
def create_account(call):
    values = take(call.params, _CREATE)
    require(values, "type")
    if values["type"] != "express":
        raise invalid(
            f"The Stripe stand-in creates Express accounts only (type=express), not "
            f"type={values['type']}: Groundswell pays organizers out through Express accounts.",
            param="type",
        )
    country = values.get("country", PLATFORM_COUNTRY)
    if country not in COUNTRY_CURRENCY:
        raise bad_value(
            "country",
            f"Country '{country}' is unknown or not supported for Express accounts (use an "
            "ISO 3166-1 alpha-2 code such as BE, NL, DE, FR).",
        )
    currency = (
        params.currency(values, "default_currency")
        if "default_currency" in values
        else COUNTRY_CURRENCY[country]
    )
    email = values.get("email") or None
    if email is not None:
        _check_email(email, "email")
    requested = {
        name: True
        for name, flags in values.get("capabilities", {}).items()
        if flags.get("requested")
    }
    agreement = values.get("tos_acceptance", {}).get("service_agreement", "full")
    _check_capabilities(requested, agreement)
    profile = _business_profile(values.get("business_profile", {}))

    standin = call.standin
    account_id = new_id("acct", 16)
    due = _initial_requirements(values.get("business_type"), profile)
    account = {
        "id": account_id,
        "object": "account",
        "business_profile": profile,
        "business_type": values.get("business_type"),
        "capabilities": dict.fromkeys(sorted(requested), "inactive"),
        "charges_enabled": False,
        "controller": {
            "fees": {"payer": "application_express"},
            "is_controller": True,
            "losses": {"payments": "application"},
            "requirement_collection": "stripe",
            "stripe_dashboard": {"type": "express"},
            "type": "application",
        },
        "country": country,
        "created": standin.now(),
        "default_currency": currency,
        "details_submitted": False,
        "email": email,
        "external_accounts": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"/v1/accounts/{account_id}/external_accounts",
        },
        "future_requirements": _requirements([], disabled_reason=None),
        "metadata": values.get("metadata", {}),
        "payouts_enabled": False,
        "requirements": _requirements(due, disabled_reason="requirements.past_due"),
        "settings": _settings(profile, country),
        "tos_acceptance": {
            "date": None,
            "ip": None,
            "service_agreement": agreement,
            "user_agent": None,
        },
        "type": "express",
    }
    standin.add(account)
    return account


@route("GET", "/v1/accounts/{account_id}")
def retrieve_account(call, account_id):
    take(call.params, {})
    if account_id == PLATFORM_ACCOUNT_ID:
        return platform_account()
    return call.standin.get("account", account_id)


@route("GET", "/v1/account")
def retrieve_own_account(call):
    """The platform itself, or with `Stripe-Account` the connected account acting."""
    take(call.params, {})
    if call.account and call.account != PLATFORM_ACCOUNT_ID:
        return call.standin.get("account", call.account, param="Stripe-Account")
    return platform_account()


@route("POST", "/v1/accounts/{account_id}")
def update_account(call, account_id):
    values = take(call.params, _UPDATE)
    account = call.standin.get("account", account_id)
    before = copy.deepcopy(account)
    if "email" in values:
        if values["email"]:
            _check_email(values["email"], "email")
        account["email"] = values["email"] or None
    if "business_profile" in values:
        for key, value in values["business_profile"].items():
            account["business_profile"][key] = value or None
        if "name" in values["business_profile"]:
            account["settings"]["dashboard"]["display_name"] = account["business_profile"]["name"]
        _drop_profile_requirements(account)
    if "metadata" in values:
        call.standin.update_metadata(account, values["metadata"])
    _announce(call.standin, account, before, request=call.request)
    return account


@route("DELETE", "/v1/accounts/{account_id}")
def delete_account(call, account_id):
    """Test-mode accounts may be deleted at any time (live ones only with a zero balance)."""
    take(call.params, {})
    if account_id == PLATFORM_ACCOUNT_ID:
        raise invalid("You cannot delete your own account.", param="account")
    call.standin.get("account", account_id)
    del call.standin.objects["account"][account_id]
    return {"id": account_id, "object": "account", "deleted": True}


@route("GET", "/v1/accounts")
def list_accounts(call):
    values = take_list(call)
    return list_answer("/v1/accounts", call.standin.all("account"), values)


@route("GET", "/v1/accounts/{account_id}/external_accounts")
def list_external_accounts(call, account_id):
    values = take_list(call, {"object": ("bank_account", "card")})
    account = call.standin.get("account", account_id)
    items = account["external_accounts"]["data"]
    if "object" in values:
        items = [item for item in items if item["object"] == values["object"]]
    return list_answer(f"/v1/accounts/{account_id}/external_accounts", items, values)


@route("POST", "/v1/accounts/{account_id}/_complete_onboarding")
def complete_onboarding(call, account_id):
    """The stand-in's own shortcut: what submitting the hosted onboarding page does."""
    values = take(call.params, {"outcome": ("verified", "restricted")})
    account = call.standin.get("account", account_id)
    return finish_onboarding(
        call.standin,
        account,
        outcome=values.get("outcome", "verified"),
        first_name="Jenny",
        last_name="Rosen",
        dob="1901-01-01",
        iban=TEST_IBAN,
        request=call.request,
    )


def platform_account() -> dict:
    """The platform's own (standard) account, fully enabled; it is not a connected account,
    so it is built on demand and never listed."""
    profile = _business_profile({"name": PLATFORM_NAME, "url": "https://groundswell.example"})
    return {
        "id": PLATFORM_ACCOUNT_ID,
        "object": "account",
        "business_profile": profile,
        "business_type": "non_profit",
        "capabilities": {"card_payments": "active", "transfers": "active"},
        "charges_enabled": True,
        "controller": {"type": "account"},
        "country": PLATFORM_COUNTRY,
        "created": 1_700_000_000,
        "default_currency": "eur",
        "details_submitted": True,
        "email": "platform@groundswell.example",
        "external_accounts": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"/v1/accounts/{PLATFORM_ACCOUNT_ID}/external_accounts",
        },
        "future_requirements": _requirements([], disabled_reason=None),
        "metadata": {},
        "payouts_enabled": True,
        "requirements": _requirements([], disabled_reason=None),
        "settings": _settings(profile, PLATFORM_COUNTRY),
        "tos_acceptance": {
            "date": 1_700_000_000,
            "ip": "127.0.0.1",
            "service_agreement": "full",
            "user_agent": None,
        },
        "type": "standard",
    }


# --- onboarding -------------------------------------------------------------------------


def finish_onboarding(
    standin,
    account: dict,
    *,
    outcome: str,
    first_name: str,
    last_name: str,
    dob: str,
    iban: str,
    ip: str | None = None,
    user_agent: str | None = None,
    request: dict | None = None,
) -> dict:
    """The owner submitted their details: verified, or restricted for a missing document.
    Call with the store's lock held."""
    before = copy.deepcopy(account)
    now = standin.now()
    holder = f"{first_name} {last_name}".strip()
    standin.private[account["id"]]["individual"] = {
        "first_name": first_name,
        "last_name": last_name,
        "dob": dob,
    }
    if account["business_type"] is None:
        account["business_type"] = "individual"
    account["details_submitted"] = True
    account["tos_acceptance"].update({"date": now, "ip": ip, "user_agent": user_agent})
    _set_bank_account(standin, account, iban, holder, request=request)
    verified = outcome == "verified"
    account["charges_enabled"] = verified
    account["payouts_enabled"] = verified
    account["capabilities"] = dict.fromkeys(
        account["capabilities"], "active" if verified else "inactive"
    )
    if verified:
        account["requirements"] = _requirements([], disabled_reason=None)
    else:
        account["requirements"] = _requirements(
            RESTRICTED_DUE, disabled_reason="requirements.past_due"
        )
    _announce(standin, account, before, request=request)
    return account


def iban_problem(iban: str) -> str | None:
    """Why an IBAN is not valid (its length, letters or check digits), or None."""
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}", iban):
        return "An IBAN starts with two letters and two digits, then 11 to 30 letters or digits."
    digits = "".join(str(int(char, 36)) for char in iban[4:] + iban[:4])
    if int(digits) % 97 != 1:
        return "This IBAN's check digits are wrong: check it for a typing mistake."
    return None


def normalise_iban(text: str) -> str:
    return "".join(text.split()).upper()


def _set_bank_account(standin, account: dict, iban: str, holder: str, *, request) -> None:
    """The IBAN becomes the account's one bank account for payouts (the same IBAN given
    again keeps the bank account it has)."""
    fingerprint = hashlib.sha256(iban.encode()).hexdigest()[:16]
    current = account["external_accounts"]["data"]
    if [item["fingerprint"] for item in current] == [fingerprint]:
        current[0]["account_holder_name"] = holder or None
        return
    bank_account = _bank_account(account, iban, holder, fingerprint)
    account["external_accounts"]["data"] = [bank_account]
    for replaced in current:
        standin.emit(
            "account.external_account.deleted", replaced, account=account["id"], request=request
        )
    standin.emit(
        "account.external_account.created", bank_account, account=account["id"], request=request
    )


def _bank_account(account: dict, iban: str, holder: str, fingerprint: str) -> dict:
    country = iban[:2]
    return {
        "id": new_id("ba"),
        "object": "bank_account",
        "account": account["id"],
        "account_holder_name": holder or None,
        "account_holder_type": "individual",
        "account_type": None,
        "available_payout_methods": ["standard"],
        "bank_name": "STRIPE TEST BANK",
        "country": country,
        "currency": COUNTRY_CURRENCY.get(country, account["default_currency"]),
        "customer": None,
        "default_for_currency": True,
        "fingerprint": fingerprint,
        "last4": iban[-4:],
        "metadata": {},
        "routing_number": None,  # IBAN countries have none
        "status": "new",
    }


def _announce(standin, account: dict, before: dict, *, request=None) -> None:
    """`account.updated` (a Connect event) with the previous value of each changed field."""
    previous = {key: before[key] for key in account if before.get(key) != account[key]}
    if previous:
        standin.emit(
            "account.updated",
            account,
            account=account["id"],
            previous_attributes=previous,
            request=request,
        )


# --- account links ----------------------------------------------------------------------


@route("POST", "/v1/account_links")
def create_account_link(call):
    values = take(
        call.params,
        {
            "account": str,
            "refresh_url": str,
            "return_url": str,
            "type": ("account_onboarding", "account_update"),
            "collect": ("currently_due", "eventually_due"),
            "collection_options": {
                "fields": ("currently_due", "eventually_due"),
                "future_requirements": ("include", "omit"),
            },
        },
    )
    require(values, "account", "type", "refresh_url", "return_url")
    standin = call.standin
    account = standin.get("account", values["account"], param="account")
    if values["type"] == "account_update":
        raise invalid(
            "You cannot create `account_update` type Account Links for Express accounts: "
            "use `account_onboarding` (Express owners edit their details in the Express "
            "Dashboard).",
            param="type",
        )
    for name in ("refresh_url", "return_url"):
        if not re.match(r"^https?://[^/\s]+", values[name]):
            raise bad_value(name, f"Not a valid URL: {values[name]}", "url_invalid")
    now = standin.now()
    link_id = new_id("link")
    standin.private[link_id] = {
        "account_link": True,
        "account": account["id"],
        "refresh_url": values["refresh_url"],
        "return_url": values["return_url"],
        "expires_at": now + LINK_LIFETIME_S,
        "opened_at": None,
        "session": None,
        "finished": False,
    }
    return {
        "object": "account_link",
        "created": now,
        "expires_at": now + LINK_LIFETIME_S,
        "url": f"{standin.public_url}/_standin/connect/onboarding/{link_id}",
    }


def onboarding_link(standin, link_id: str) -> dict | None:
    """The stand-in's record of an account link (None for an unknown id)."""
    record = standin.private.get(link_id)
    if not record or not record.get("account_link"):
        return None
    return record


def link_usable_to_open(standin, link: dict) -> bool:
    """A link opens the page once, before it expires, for an account that still exists."""
    return (
        link["opened_at"] is None
        and standin.now() < link["expires_at"]
        and link["account"] in standin.objects["account"]
    )


def link_usable_to_submit(standin, link: dict, session: str) -> bool:
    return (
        link["opened_at"] is not None
        and not link["finished"]
        and bool(session)
        and secrets.compare_digest(session.encode(), link["session"].encode())
        and standin.now() < link["opened_at"] + ONBOARDING_SESSION_S
        and link["account"] in standin.objects["account"]
    )


# --- transfers --------------------------------------------------------------------------


@route("POST", "/v1/transfers")
def create_transfer(call):
    values = take(
        call.params,
        {
            "amount": int,
            "currency": str,
            "destination": str,
            "source_transaction": str,
            "source_type": ("card",),
            "transfer_group": str,
            "description": str,
            "metadata": METADATA,
        },
    )
    require(values, "amount", "currency", "destination")
    if call.account:
        raise invalid(
            "The Stripe stand-in makes transfers from the platform's balance only; send this "
            "request without the Stripe-Account header.",
            param="Stripe-Account",
        )
    standin = call.standin
    value = amount(values)
    currency = params.currency(values)
    destination = _destination(standin, values["destination"])

    charge = None
    if values.get("source_transaction"):
        charge = _source_charge(standin, values["source_transaction"], value, currency)
    elif value > balance.available(standin, currency):
        raise invalid(
            "You have insufficient available funds in your Stripe account. Try adding funds "
            "directly to your available balance by creating Charges using the "
            "4000000000000077 test card. See: https://stripe.com/docs/testing#available-balance",
            code="balance_insufficient",
        )

    transfer_id = new_id("tr")
    payment_id = new_id("py")
    # Funds drawn from a charge become available (on both sides) when the charge's do.
    available_on = _charge_available_on(standin, charge) if charge else standin.now()
    platform_side = _record_at(
        call,
        available_on,
        type="transfer",
        amount=-value,
        currency=currency,
        source=transfer_id,
        description=values.get("description"),
    )
    _record_at(
        call,
        available_on,
        type="payment",
        amount=value,
        currency=currency,
        source=payment_id,
        account=destination["id"],
        reporting_category="charge",
    )
    transfer = {
        "id": transfer_id,
        "object": "transfer",
        "amount": value,
        "amount_reversed": 0,
        "balance_transaction": platform_side["id"],
        "created": standin.now(),
        "currency": currency,
        "description": values.get("description") or None,
        "destination": destination["id"],
        "destination_payment": payment_id,
        "livemode": False,
        "metadata": values.get("metadata", {}),
        "reversals": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"/v1/transfers/{transfer_id}/reversals",
        },
        "reversed": False,
        "source_transaction": charge["id"] if charge else None,
        "source_type": "card",
        "transfer_group": values.get("transfer_group") or None,
    }
    standin.add(transfer, available_on=available_on)
    for key in _TRANSFER_FILTERS:
        search.index_field(standin, transfer, key)
    if charge:
        transferred = _ledger(standin)["transferred"]
        transferred[charge["id"]] = transferred.get(charge["id"], 0) + value
    standin.stats.count("transfers", transfer["metadata"].get("payout_id") or transfer_id)
    standin.emit("transfer.created", transfer, request=call.request)
    return transfer


@route("GET", "/v1/transfers/{transfer_id}")
def retrieve_transfer(call, transfer_id):
    take(call.params, {})
    return call.standin.get("transfer", transfer_id)


@route("POST", "/v1/transfers/{transfer_id}")
def update_transfer(call, transfer_id):
    values = take(call.params, {"description": str, "metadata": METADATA})
    standin = call.standin
    transfer = standin.get("transfer", transfer_id)
    previous = {key: copy.deepcopy(transfer[key]) for key in values}
    if "description" in values:
        transfer["description"] = values["description"] or None
    if "metadata" in values:
        standin.update_metadata(transfer, values["metadata"])
    previous = {key: value for key, value in previous.items() if transfer[key] != value}
    if previous:
        standin.emit(
            "transfer.updated", transfer, previous_attributes=previous, request=call.request
        )
    return transfer


@route("GET", "/v1/transfers")
def list_transfers(call):
    values = take_list(call, {"destination": str, "transfer_group": str, "created": ANY})
    bounds = created_bounds(values.get("created"))
    standin = call.standin
    wanted = [key for key in _TRANSFER_FILTERS if key in values]
    if wanted:
        items = search.by_field(standin, "transfer", wanted[0], values[wanted[0]])
        items = [item for item in items if all(item[key] == values[key] for key in wanted)]
    else:
        items = standin.all("transfer")
    if bounds:
        items = [item for item in items if created_matches(item, bounds)]
    return list_answer("/v1/transfers", items, values)


def _destination(standin, account_id: str) -> dict:
    if account_id == PLATFORM_ACCOUNT_ID:
        raise invalid("You cannot create a transfer to your own account.", param="destination")
    account = standin.objects["account"].get(account_id)
    if account is None:
        raise invalid(
            f"No such destination: '{account_id}'", param="destination", code="resource_missing"
        )
    if account["capabilities"].get("transfers") != "active":
        raise invalid(
            "Your destination account needs to have at least one of the following capabilities "
            "enabled: transfers, crypto_transfers, legacy_payments",
            param="destination",
            code="insufficient_capabilities_for_transfer",
        )
    return account


def _source_charge(standin, charge_id: str, value: int, currency: str) -> dict:
    charge = standin.get("charge", charge_id, param="source_transaction")
    if charge.get("status") not in ("succeeded", "pending") or not charge.get("captured", True):
        raise invalid(
            f"The source transaction {charge_id} cannot fund a transfer: only a captured, "
            f"successful charge can (this one's status is {charge.get('status')}).",
            param="source_transaction",
        )
    if charge["currency"] != currency:
        raise invalid(
            f"The currency of source_transaction's balance transaction ({charge['currency']}) "
            f"must be the same as the transfer currency ({currency}).",
            param="currency",
        )
    left = source_left(standin, charge)
    if value > left:
        raise invalid(
            f"Insufficient funds in the source transaction: the transfer amount ({value}) is "
            f"more than what is left of {charge_id} ({left} {currency}: its amount less "
            "refunds and earlier transfers from it).",
            param="amount",
            code="balance_insufficient",
        )
    return charge


def source_left(standin, charge: dict) -> int:
    """What a charge can still fund: its amount less refunds and (unreversed) transfers."""
    transferred = _ledger(standin)["transferred"].get(charge["id"], 0)
    return charge["amount"] - charge.get("amount_refunded", 0) - transferred


def _ledger(standin) -> dict:
    """Connect's running records (plain containers in `private`: a reset forgets them, a
    saved store keeps them)."""
    ledger = standin.private[_LEDGER]
    if not ledger:
        ledger.update(transferred={}, reversals={})
    return ledger


def _charge_available_on(standin, charge: dict) -> int:
    transaction = standin.objects["balance_transaction"].get(charge.get("balance_transaction"))
    if transaction is not None:
        return max(transaction["available_on"], standin.now())
    return standin.now() + int(standin.settings["available_after_s"])


def _record_at(call, available_on: int, **fields) -> dict:
    """A balance transaction that becomes available at `available_on` (a charge's funds
    moved before they are available stay pending on both sides until then)."""
    return balance.record(call, available_on=max(available_on, call.standin.now()), **fields)


# --- transfer reversals -----------------------------------------------------------------


@route("POST", "/v1/transfers/{transfer_id}/reversals")
def create_reversal(call, transfer_id):
    values = take(
        call.params,
        {
            "amount": int,
            "description": str,
            "metadata": METADATA,
            "refund_application_fee": bool,  # accepted; the stand-in takes no application fees
        },
    )
    standin = call.standin
    transfer = standin.get("transfer", transfer_id)
    left = transfer["amount"] - transfer["amount_reversed"]
    if left == 0:
        raise invalid(
            f"Transfer {transfer_id} has already been fully reversed.",
            param="amount" if "amount" in values else None,
        )
    value = amount(values) if "amount" in values else left
    if value > left:
        raise invalid(
            f"You cannot reverse {value} of transfer {transfer_id}: only {left} "
            f"{transfer['currency']} of it is left to reverse.",
            param="amount",
        )
    reversal_id = new_id("trr")
    refund_id = new_id("pyr")
    available_on = max(standin.private[transfer_id].get("available_on", 0), standin.now())
    platform_side = _record_at(
        call,
        available_on,
        type="transfer_refund",
        amount=value,
        currency=transfer["currency"],
        source=reversal_id,
        description=values.get("description"),
        reporting_category="transfer_reversal",
    )
    _record_at(
        call,
        available_on,
        type="payment_refund",
        amount=-value,
        currency=transfer["currency"],
        source=refund_id,
        account=transfer["destination"],
        reporting_category="refund",
    )
    reversal = {
        "id": reversal_id,
        "object": "transfer_reversal",
        "amount": value,
        "balance_transaction": platform_side["id"],
        "created": standin.now(),
        "currency": transfer["currency"],
        "destination_payment_refund": refund_id,
        "metadata": values.get("metadata", {}),
        "source_refund": None,
        "transfer": transfer_id,
    }
    # Stripe takes a description but does not show it on the reversal object.
    standin.add(reversal, description=values.get("description"))
    _ledger(standin)["reversals"].setdefault(transfer_id, []).append(reversal_id)
    if transfer["source_transaction"]:
        _ledger(standin)["transferred"][transfer["source_transaction"]] -= value
    previous = {
        "amount_reversed": transfer["amount_reversed"],
        "reversed": transfer["reversed"],
        "reversals": copy.deepcopy(transfer["reversals"]),
    }
    transfer["amount_reversed"] += value
    transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
    _embed_reversals(standin, transfer)
    standin.emit("transfer.reversed", transfer, previous_attributes=previous, request=call.request)
    return reversal


@route("GET", "/v1/transfers/{transfer_id}/reversals")
def list_reversals(call, transfer_id):
    values = take_list(call)
    call.standin.get("transfer", transfer_id)
    return list_answer(
        f"/v1/transfers/{transfer_id}/reversals", _reversals_of(call.standin, transfer_id), values
    )


@route("GET", "/v1/transfers/{transfer_id}/reversals/{reversal_id}")
def retrieve_reversal(call, transfer_id, reversal_id):
    take(call.params, {})
    return _reversal(call, transfer_id, reversal_id)


@route("POST", "/v1/transfers/{transfer_id}/reversals/{reversal_id}")
def update_reversal(call, transfer_id, reversal_id):
    values = take(call.params, {"metadata": METADATA})
    reversal = _reversal(call, transfer_id, reversal_id)
    if "metadata" in values:
        call.standin.update_metadata(reversal, values["metadata"])
    return reversal


def _reversal(call, transfer_id, reversal_id) -> dict:
    call.standin.get("transfer", transfer_id)
    reversal = call.standin.get("transfer_reversal", reversal_id)
    if reversal["transfer"] != transfer_id:
        raise missing("transfer reversal", reversal_id)
    return reversal


def _reversals_of(standin, transfer_id: str) -> list[dict]:
    """The transfer's reversals, oldest first."""
    table = standin.objects["transfer_reversal"]
    return [
        table[reversal_id] for reversal_id in _ledger(standin)["reversals"].get(transfer_id, ())
    ]


def _embed_reversals(standin, transfer: dict) -> None:
    newest_first = list(reversed(_reversals_of(standin, transfer["id"])))
    transfer["reversals"]["data"] = newest_first[:EMBEDDED_REVERSALS]
    transfer["reversals"]["has_more"] = len(newest_first) > EMBEDDED_REVERSALS


# --- shapes and rules -------------------------------------------------------------------


def _check_email(email: str, param: str) -> None:
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise bad_value(param, f"Invalid email address: {email}", "email_invalid")


def _check_capabilities(requested: dict, agreement: str) -> None:
    if "transfers" not in requested:
        raise invalid(
            "Express accounts must request the `transfers` capability "
            "(capabilities[transfers][requested]=true), alone or with `card_payments`: "
            "without it the account cannot receive transfers.",
            param="capabilities",
        )
    if agreement == "recipient" and "card_payments" in requested:
        raise invalid(
            "Accounts with the `recipient` service agreement cannot request the "
            "`card_payments` capability.",
            param="capabilities[card_payments]",
        )


def _business_profile(values: dict) -> dict:
    profile = {
        "annual_revenue": None,
        "estimated_worker_count": None,
        "mcc": None,
        "minority_owned_business_designation": None,
        "name": None,
        "product_description": None,
        "support_address": None,
        "support_email": None,
        "support_phone": None,
        "support_url": None,
        "url": None,
    }
    for key, value in values.items():
        profile[key] = value or None
    return profile


def _initial_requirements(business_type: str | None, profile: dict) -> list[str]:
    due = ["external_account", "tos_acceptance.date", "tos_acceptance.ip"]
    if not profile["mcc"]:
        due.append("business_profile.mcc")
    if not (profile["url"] or profile["product_description"]):
        due.append("business_profile.url")
    if business_type is None:
        due += ["business_type", *_INDIVIDUAL_DUE]
    elif business_type == "individual":
        due += _INDIVIDUAL_DUE
    else:
        due += _COMPANY_DUE
    return sorted(due)


def _drop_profile_requirements(account: dict) -> None:
    """A business URL, description or MCC given by update is no longer due."""
    profile = account["business_profile"]
    done = set()
    if profile["mcc"]:
        done.add("business_profile.mcc")
    if profile["url"] or profile["product_description"]:
        done.add("business_profile.url")
    requirements = account["requirements"]
    for key in ("currently_due", "eventually_due", "past_due"):
        requirements[key] = [item for item in requirements[key] if item not in done]
    if not requirements["currently_due"] and not requirements["past_due"]:
        requirements["disabled_reason"] = None


def _requirements(due: list[str], *, disabled_reason: str | None) -> dict:
    return {
        "alternatives": [],
        "current_deadline": None,
        "currently_due": list(due),
        "disabled_reason": disabled_reason,
        "errors": [],
        "eventually_due": list(due),
        "past_due": list(due),
        "pending_verification": [],
    }


def _settings(profile: dict, country: str) -> dict:
    return {
        "bacs_debit_payments": {"display_name": None, "service_user_number": None},
        "branding": {"icon": None, "logo": None, "primary_color": None, "secondary_color": None},
        "card_issuing": {"tos_acceptance": {"date": None, "ip": None}},
        "card_payments": {
            "decline_on": {"avs_failure": False, "cvc_failure": False},
            "statement_descriptor_prefix": None,
            "statement_descriptor_prefix_kana": None,
            "statement_descriptor_prefix_kanji": None,
        },
        "dashboard": {"display_name": profile["name"], "timezone": "Etc/UTC"},
        "invoices": {"default_account_tax_ids": None, "hosted_payment_method_save": None},
        "payments": {
            "statement_descriptor": None,
            "statement_descriptor_kana": None,
            "statement_descriptor_kanji": None,
            "statement_descriptor_prefix_kana": None,
            "statement_descriptor_prefix_kanji": None,
        },
        "payouts": {
            "debit_negative_balances": True,
            "schedule": {"delay_days": 7 if country != "US" else 2, "interval": "daily"},
            "statement_descriptor": None,
        },
        "sepa_debit_payments": {},
    }

"""The hosted Connect onboarding page: where an account link (`POST /v1/account_links`) leads.

    GET  /_standin/connect/onboarding/{link_id}   the form (a link opens it once, before expiry)
    POST /_standin/connect/onboarding/{link_id}   submit it: the account is verified or stays
                                                   restricted, then 303 to the link's return_url

As on Stripe, a link that has expired or was already opened sends the browser to its
`refresh_url`, where the platform makes a new link. The form asks what Stripe's Express
onboarding asks in test mode, shortened: the owner's name, date of birth, an IBAN for payouts
(Stripe's test IBAN filled in), the terms, and whether verification should pass or leave the
account restricted for a missing document. The account's state changes in
`resources/connect.finish_onboarding`, the same code `POST /v1/accounts/{id}/_complete_onboarding`
runs.
"""

from __future__ import annotations

import datetime as dt
import secrets
from html import escape
from urllib.parse import parse_qsl

from starlette.responses import HTMLResponse, RedirectResponse

from ..resources import connect
from . import page

MINIMUM_AGE = 13  # Stripe's minimum age for an account owner
NO_STORE = {"Cache-Control": "no-store"}  # the back button must not show a used form again


@page("/_standin/connect/onboarding/{link_id}", methods=("GET", "POST"))
async def onboarding(request):
    standin = request.app.state.standin
    link_id = request.path_params["link_id"]
    fields = {}
    if request.method == "POST":
        body = await request.body()
        fields = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    with standin.lock:
        link = connect.onboarding_link(standin, link_id)
        if link is None:
            return HTMLResponse(_invalid_link_page(), status_code=404, headers=NO_STORE)
        if request.method == "GET":
            return _open(standin, link)
        return _submit(standin, request, link, fields)


def _open(standin, link: dict):
    if not connect.link_usable_to_open(standin, link):
        return RedirectResponse(link["refresh_url"], status_code=302, headers=NO_STORE)
    link["opened_at"] = standin.now()
    link["session"] = secrets.token_urlsafe(18)
    account = standin.objects["account"][link["account"]]
    values = {
        "first_name": "Jenny",
        "last_name": "Rosen",
        "dob": "1901-01-01",
        "iban": grouped_iban(connect.TEST_IBAN),
        "outcome": "verified",
    }
    return HTMLResponse(_form_page(account, link, values, {}), headers=NO_STORE)


def _submit(standin, request, link: dict, fields: dict):
    if not connect.link_usable_to_submit(standin, link, fields.get("session", "")):
        return RedirectResponse(link["refresh_url"], status_code=303, headers=NO_STORE)
    account = standin.objects["account"][link["account"]]
    values, errors = _clean(standin, fields)
    if errors:
        page_html = _form_page(account, link, fields, errors)
        return HTMLResponse(page_html, status_code=400, headers=NO_STORE)
    connect.finish_onboarding(
        standin,
        account,
        outcome=values["outcome"],
        first_name=values["first_name"],
        last_name=values["last_name"],
        dob=values["dob"],
        iban=values["iban"],
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )
    link["finished"] = True
    return RedirectResponse(link["return_url"], status_code=303, headers=NO_STORE)


def _clean(standin, fields: dict) -> tuple[dict, dict]:
    """The submitted values, checked; errors by field name."""
    values, errors = {}, {}
    for name, label in (("first_name", "first name"), ("last_name", "last name")):
        text = " ".join(fields.get(name, "").split())
        if not text:
            errors[name] = f"Enter your {label}."
        elif len(text) > 100:
            errors[name] = f"Your {label} can be at most 100 characters."
        values[name] = text
    today = dt.datetime.fromtimestamp(standin.now(), dt.UTC).date()
    try:
        born = dt.date.fromisoformat(fields.get("dob", "").strip())
    except ValueError:
        errors["dob"] = "Enter your date of birth (year, month, day)."
    else:
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        if born >= today:
            errors["dob"] = "Your date of birth must be in the past."
        elif age < MINIMUM_AGE:
            errors["dob"] = f"Account owners must be at least {MINIMUM_AGE} years old."
        values["dob"] = born.isoformat()
    iban = connect.normalise_iban(fields.get("iban", ""))
    problem = connect.iban_problem(iban) if iban else "Enter the IBAN payouts should go to."
    if problem:
        errors["iban"] = problem
    values["iban"] = iban
    if fields.get("tos") != "accepted":
        errors["tos"] = "Accept the terms to continue."
    values["outcome"] = fields.get("outcome", "verified")
    if values["outcome"] not in ("verified", "restricted"):
        errors["outcome"] = "Choose how verification should end."
    return values, errors


def grouped_iban(iban: str) -> str:
    """An IBAN as it is printed, in groups of four."""
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


# --- HTML -------------------------------------------------------------------------------

_STYLE = """
*{box-sizing:border-box}
body{margin:0;background:#f6f9fc;color:#1a1f36;font:15px/1.5 -apple-system,BlinkMacSystemFont,
"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
.testmode{background:#fff4e5;color:#9e4a00;border-bottom:1px solid #ffd8a8;text-align:center;
font-size:13px;font-weight:500;padding:6px 12px}
.testmode b{font-weight:600}
main{max-width:460px;margin:36px auto 24px;padding:0 16px}
.brand{display:flex;align-items:center;gap:12px;margin-bottom:20px}
.logo{width:36px;height:36px;border-radius:8px;background:#0a2540;color:#fff;display:flex;
align-items:center;justify-content:center;font-weight:700;font-size:18px}
.brand p{margin:0;font-size:13px;color:#697386}
.brand strong{display:block;font-size:15px;color:#1a1f36}
.card{background:#fff;border-radius:10px;padding:28px 28px 24px;box-shadow:0 0 0 1px
rgba(60,66,87,.08),0 2px 5px rgba(60,66,87,.08),0 8px 24px rgba(60,66,87,.06)}
h1{font-size:22px;line-height:1.25;margin:0 0 6px}
.lead{margin:0 0 22px;color:#4f566b;font-size:14px}
label,legend{display:block;font-size:13px;font-weight:500;color:#3c4257;margin:0 0 6px;
padding:0}
.field{margin-bottom:16px}
.row{display:grid;grid-template-columns:1fr 1fr;gap:12px}
input[type=text],input[type=date]{width:100%;padding:9px 11px;font:inherit;color:#1a1f36;
border:1px solid #d5dbe1;border-radius:6px;background:#fff;
box-shadow:0 1px 1px rgba(0,0,0,.03)}
input:focus{outline:none;border-color:#635bff;box-shadow:0 0 0 3px rgba(99,91,255,.2)}
input.invalid{border-color:#df1b41}
.hint{font-size:12px;color:#697386;margin-top:4px}
.error{font-size:13px;color:#df1b41;margin-top:4px}
.summary{background:#fff0f3;border:1px solid #ffccd5;color:#a41c4e;border-radius:6px;
padding:10px 12px;font-size:14px;margin-bottom:18px}
fieldset{border:0;padding:0;margin:20px 0 16px}
.choice{display:flex;gap:10px;align-items:flex-start;border:1px solid #d5dbe1;border-radius:6px;
padding:10px 12px;margin-bottom:8px;cursor:pointer;font-weight:400;color:#1a1f36}
.choice:has(input:checked){border-color:#635bff;background:#f7f7ff}
.choice input{margin-top:4px;accent-color:#635bff}
.choice span{display:block;font-size:13px;color:#697386}
.choice b{font-weight:600;font-size:14px}
.terms{display:flex;gap:10px;align-items:flex-start;font-weight:400;font-size:13px;color:#4f566b}
.terms input{margin-top:3px;accent-color:#635bff}
button{width:100%;margin-top:18px;padding:11px 16px;border:0;border-radius:6px;
background:#635bff;color:#fff;font:inherit;font-weight:600;cursor:pointer;
box-shadow:0 1px 2px rgba(0,0,0,.08)}
button:hover{background:#5851e5}
footer{text-align:center;font-size:12px;color:#8792a2;margin:18px 0}
.notice{max-width:460px;margin:72px auto;padding:0 16px;text-align:center;color:#4f566b}
"""


def _document(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        "<div class='testmode'><b>Stripe stand-in · test mode</b> · no real account, "
        "money or documents</div>"
        f"{body}</body></html>"
    )


def _form_page(account: dict, link: dict, values: dict, errors: dict) -> str:
    def value(name: str) -> str:
        return escape(values.get(name, ""), quote=True)

    def error(name: str) -> str:
        return (
            f"<div class='error' id='{name}-error'>{escape(errors[name])}</div>"
            if (name in errors)
            else ""
        )

    def invalid(name: str) -> str:
        return (
            f" class='invalid' aria-invalid='true' aria-describedby='{name}-error'"
            if name in errors
            else ""
        )

    def checked(outcome: str) -> str:
        return " checked" if values.get("outcome", "verified") == outcome else ""

    summary = (
        "<div class='summary' role='alert'>Some details need another look.</div>" if errors else ""
    )
    email = account["email"] or account["id"]
    platform = escape(connect.PLATFORM_NAME)
    filled = "" if errors else " Test values are filled in; change any of them."
    tos_checked = " checked" if values.get("tos") == "accepted" else ""
    body = f"""
<main>
  <div class="brand">
    <div class="logo" aria-hidden="true">{platform[:1]}</div>
    <p><strong>{platform}</strong>partners with Stripe for fast, secure payouts</p>
  </div>
  <div class="card">
    <h1>Set up payouts</h1>
    <p class="lead">Tell us a little about yourself to receive payouts as
      <b>{escape(email)}</b>.{filled}</p>
    {summary}
    <form method="post" novalidate>
      <input type="hidden" name="session" value="{escape(link["session"] or "", quote=True)}">
      <div class="row">
        <div class="field">
          <label for="first_name">First name</label>
          <input type="text" id="first_name" name="first_name" autocomplete="given-name"
                 value="{value("first_name")}"{invalid("first_name")}>
          {error("first_name")}
        </div>
        <div class="field">
          <label for="last_name">Last name</label>
          <input type="text" id="last_name" name="last_name" autocomplete="family-name"
                 value="{value("last_name")}"{invalid("last_name")}>
          {error("last_name")}
        </div>
      </div>
      <div class="field">
        <label for="dob">Date of birth</label>
        <input type="date" id="dob" name="dob" autocomplete="bday"
               value="{value("dob")}"{invalid("dob")}>
        {error("dob")}
      </div>
      <div class="field">
        <label for="iban">IBAN for payouts</label>
        <input type="text" id="iban" name="iban" autocomplete="off" spellcheck="false"
               value="{value("iban")}"{invalid("iban")}>
        <div class="hint">Stripe's test IBAN {grouped_iban(connect.TEST_IBAN)} pays out.</div>
        {error("iban")}
      </div>
      <fieldset>
        <legend>How should verification end?</legend>
        <label class="choice"><input type="radio" name="outcome" value="verified"
          {checked("verified")}><div><b>Complete verification</b>
          <span>Charges and payouts are enabled at once.</span></div></label>
        <label class="choice"><input type="radio" name="outcome" value="restricted"
          {checked("restricted")}><div><b>Leave it restricted (missing documents)</b>
          <span>Details are submitted, an identity document stays due: charges and payouts
          stay disabled.</span></div></label>
        {error("outcome")}
      </fieldset>
      <label class="terms"><input type="checkbox" name="tos" value="accepted"{tos_checked}>
        <span>I agree to the Stripe Connected Account Agreement (in the stand-in nothing is
        signed).</span></label>
      {error("tos")}
      <button type="submit">Agree and submit</button>
    </form>
  </div>
  <footer>Powered by Stripe (stand-in) · account {escape(account["id"])}</footer>
</main>"""
    return _document("Set up payouts · Stripe stand-in", body)


def _invalid_link_page() -> str:
    return _document(
        "Link not valid · Stripe stand-in",
        "<div class='notice'><h1>This link is not valid</h1><p>Go back to the platform and "
        "start setting up payouts again: it will make a new link.</p></div>",
    )

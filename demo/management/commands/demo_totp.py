"""`manage.py demo_totp [treasurer|admin]`: the demo account's current two-factor code and how
long it stays current, so the quick start needs no phone (demo.staff has the public demo keys).
"""

from allauth.mfa.models import Authenticator
from allauth.mfa.utils import decrypt
from django.core.management.base import BaseCommand, CommandError

from demo import staff

ACCOUNTS = {"treasurer": staff.TREASURER_EMAIL, "admin": staff.ADMIN_EMAIL}


class Command(BaseCommand):
    help = (
        "Print the current two-factor code of the demo treasurer (or the demo admin) and the "
        "seconds it stays current. Only for accounts enrolled with the demo's public key."
    )

    def add_arguments(self, parser):
        parser.add_argument("account", nargs="?", choices=sorted(ACCOUNTS), default="treasurer")

    def handle(self, *args, account, **options):
        email = ACCOUNTS[account]
        secret = staff.DEMO_TOTP_SECRETS[email]
        totp = Authenticator.objects.filter(user__email=email, type=Authenticator.Type.TOTP).first()
        # A code is printed only for the demo's key: an account someone enrolled with their
        # own phone keeps its codes to itself.
        if totp is None or decrypt(totp.data["secret"]) != secret:
            raise CommandError(
                f"{email} is not enrolled with the demo key: run manage.py seed_demo first."
            )
        code, seconds_left = staff.current_code(secret)
        self.stdout.write(f"{email}: {code} (current for {seconds_left} more seconds)")

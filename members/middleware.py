"""Two-factor authentication on the admin: members.two_factor.admin_gate before every view of the
admin site (its URL namespace, wherever it is mounted).

After AuthenticationMiddleware, MessageMiddleware and allauth's AccountMiddleware. The admin's
login page is allauth's (config/urls.py wraps it in secure_admin_login), so a password and, for
an enrolled member, a code are asked there; this catches every other way into a session.
"""

from members import two_factor


class AdminTwoFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is None or "admin" not in match.app_names:
            return None
        # Logging out is always allowed: it is how someone asked for a code gets away.
        if match.url_name == "logout":
            return None
        return two_factor.admin_gate(request)

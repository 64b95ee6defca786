"""Response headers every view gets, so no view can forget them."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase


class NoStoreWhenAuthenticated:
    """`Cache-Control: no-store` on every response to an authenticated request: pages, API,
    exports, admin, API docs. A browser's cache or a proxy must keep no copy of what one
    agency's user was shown. Anonymous responses (the login page, health) keep their own.

    Placed after AuthenticationMiddleware; DRF's token authentication, done in the view,
    sets the same `request.user`, and a request that sent credentials at all (even refused
    ones) is treated alike."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated) or "HTTP_AUTHORIZATION" in request.META:
            # Replaces whatever a view set: no-store cannot be combined with caching rules.
            response["Cache-Control"] = "no-store"
        return response

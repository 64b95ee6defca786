"""Responses every view gets, so no view can forget them: headers, and the answer to a busy
database."""

from collections.abc import Callable

from django.db import OperationalError
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.shortcuts import render


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


# What SQLite says when another request held its only write lock past the busy timeout.
DATABASE_BUSY = "database is locked"
RETRY_AFTER_SECONDS = 5


class BusyDatabaseIsUnavailable:
    """A request that waited past the database's busy timeout for the embedded default's
    one write lock (an import holds it while it writes) is a 503 saying so, with
    Retry-After: JSON under /api/, a page elsewhere. It was a 500 and Django's HTML error
    page, also to API clients (an attack helper's uploads during a long one)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponseBase | None:
        if not isinstance(exception, OperationalError) or DATABASE_BUSY not in str(exception):
            return None
        detail = "the database is busy with another agency's or user's write; try again in a few seconds"
        if request.path.startswith("/api/"):
            response: HttpResponseBase = JsonResponse({"detail": detail}, status=503)
        else:
            response = render(request, "503.html", {"detail": detail}, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

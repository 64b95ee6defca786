"""Opaque public identifiers. What the API, the pages and their URLs call an object by is a
random UUID (version 4, from the standard library's `uuid`), never the database's key: a
sequence tells a reader how many rows exist, which is older, and that an object someone
else holds was there before they asked; a number near a known one invites guessing. The
integer key stays inside, where joins, the outbox and the graph use it.

`PublicIdentity` gives a model its public id; `PublicSerializer` answers with it for the
object and for every object it refers to, so no serializer built on it can show a key;
`PublicLookup` finds a viewset's objects by it. Paths of plain views take it as `<uuid:pk>`."""

import uuid

from django.db import models
from rest_framework import serializers

# The canonical text form only, as Django's `uuid` path converter: anything else does not
# match a URL (404), like a missing id.
UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


class PublicIdentity(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    class Meta:
        abstract = True


class PublicRelatedField(serializers.SlugRelatedField):
    """A related object by its public id, read and written. Reading needs the related row
    (there is no key-only shortcut as for primary keys): querysets select it."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="public_id", **kwargs)

    def to_internal_value(self, data):
        try:
            public_id = uuid.UUID(str(data))
        except ValueError:
            self.fail("invalid")
        return super().to_internal_value(public_id)

    def to_representation(self, obj: models.Model) -> str:
        return str(obj.public_id)


class SlugField(serializers.SlugRelatedField):
    """An object named by its code or reference. A value no object can have (a NUL
    character, which PostgreSQL refuses outright) is answered as one no object has."""

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data)
        return super().to_internal_value(data)


class PublicIdField(serializers.UUIDField):
    """A public id given in a request body: text only. DRF's field also takes an integer as
    the UUID of that value (1 as 00000000-...-0001), a number where an opaque id belongs."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class PublicSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    serializer_related_field = PublicRelatedField


class PublicLookup:
    """A viewset's objects are found by their public id in the URL, as `pk` for actions."""

    lookup_field = "public_id"
    lookup_url_kwarg = "pk"
    lookup_value_regex = UUID_PATTERN

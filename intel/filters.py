"""Filters of the record, entity and link lists. A filter naming another object does so by
its public id as a plain value, never with a lookup of that object: "Select a valid choice"
for a record that does not exist but an empty list for one the caller may not see would
tell the two apart. Both answer the same empty list; a value that is no UUID is refused as
bad input for either."""

import django_filters
from django import forms

from intel.models import (
    CLASSIFICATION_BY_NAME,
    Category,
    Classification,
    Entity,
    EntityType,
    Link,
    LinkType,
    Record,
)
from intel.querysets import NO_ROW


class PublicIdFilter(django_filters.UUIDFilter):
    """Rows pointing at the object with this public id, whether or not it exists or is visible."""


def classification_level(value: str) -> int:
    return int(value) if value.isdigit() else CLASSIFICATION_BY_NAME[value]


class LevelField(forms.TypedChoiceField):
    # A level's name in any case, as the import takes it and the API shows it ("Secret").
    def to_python(self, value: object) -> str:
        return super().to_python(value).lower()


class LevelFilter(django_filters.TypedChoiceFilter):
    field_class = LevelField


# A level by its number, as records are listed, or by its name, as files are imported.
CLASSIFICATION_CHOICES = [
    *((str(level), label) for level, label in Classification.choices),
    *((name, name) for name in CLASSIFICATION_BY_NAME),
]


class RecordFilter(django_filters.FilterSet):
    owner = django_filters.CharFilter(field_name="owner__code")
    category = django_filters.ChoiceFilter(choices=Category.choices)
    classification = LevelFilter(choices=CLASSIFICATION_CHOICES, coerce=classification_level)
    occurred_after = django_filters.DateFilter(field_name="occurred_on", lookup_expr="gte")
    occurred_before = django_filters.DateFilter(field_name="occurred_on", lookup_expr="lte")
    external_ref = django_filters.CharFilter()

    class Meta:
        model = Record
        fields = ["owner", "category", "classification", "external_ref"]


class EntityFilter(django_filters.FilterSet):
    type = django_filters.ChoiceFilter(choices=EntityType.choices)


class LinkFilter(django_filters.FilterSet):
    type = django_filters.ChoiceFilter(choices=LinkType.choices)
    record = PublicIdFilter(field_name="record__public_id")
    source = PublicIdFilter(method="ending_at", label="Links from this entity")
    target = PublicIdFilter(method="ending_at", label="Links to this entity")
    entity = PublicIdFilter(method="ending_at", label="Links from or to this entity")

    class Meta:
        model = Link
        fields = ["type", "record", "source", "target"]

    def ending_at(self, queryset, name, value):
        # By key, looked up first: a test of either end's public id (a column of two joined
        # tables) can use no index. An id that names no entity asks for the links of none, by
        # the same statements as an entity whose links are all hidden.
        entity_id = Entity.objects.filter(public_id=value).values_list("pk", flat=True).first()
        ends = ("source", "target") if name == "entity" else (name,)
        return queryset.ending_at(entity_id or NO_ROW, ends=ends)

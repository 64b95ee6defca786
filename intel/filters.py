"""Filters of the record, entity and link lists. A filter naming another object does so by
plain id, never with a lookup of that object: "Select a valid choice" for a record that does
not exist but an empty list for one the caller may not see would tell the two apart. Both
answer the same empty list; an id past the bounds of ids is refused as bad input for either."""

import django_filters
from django import forms
from django.db.models import Q

from config.inputs import ID_MAX
from intel.models import Category, Classification, EntityType, Link, LinkType, Record


class IdField(forms.IntegerField):
    def __init__(self, **kwargs):
        super().__init__(min_value=1, max_value=ID_MAX, **kwargs)


class IdFilter(django_filters.NumberFilter):
    """Rows pointing at the object with this id, whether or not it exists or is visible."""

    field_class = IdField


class RecordFilter(django_filters.FilterSet):
    owner = django_filters.CharFilter(field_name="owner__code")
    category = django_filters.ChoiceFilter(choices=Category.choices)
    classification = django_filters.TypedChoiceFilter(choices=Classification.choices, coerce=int)
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
    record = IdFilter(field_name="record_id")
    source = IdFilter(field_name="source_id")
    target = IdFilter(field_name="target_id")
    entity = IdFilter(method="touching", label="Links from or to this entity")

    class Meta:
        model = Link
        fields = ["type", "record", "source", "target"]

    def touching(self, queryset, name, value):
        return queryset.filter(Q(source_id=value) | Q(target_id=value))

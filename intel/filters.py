import django_filters

from intel.models import Category, Classification, EntityType, Link, LinkType, Record


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
    entity = django_filters.NumberFilter(method="touching", label="Links from or to this entity")

    class Meta:
        model = Link
        fields = ["type", "record", "source", "target"]

    def touching(self, queryset, name, value):
        from django.db.models import Q

        return queryset.filter(Q(source_id=value) | Q(target_id=value))

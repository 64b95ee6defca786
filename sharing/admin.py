"""Agreements and disclosure requests in the admin: every write through the services the
API uses. Agency admins reach the agreements of their own agency; platform admins all."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from agencies.admin import AgencyAdminAccess
from agencies.models import Agency, User
from audit.admin import ReadOnlyAdmin
from intel.models import Category, Classification, Purpose
from sharing import agreements, requests
from sharing.models import Agreement, AgreementParty, DisclosureRequest

# --- agreements: every write through the lifecycle services -------------------------------


class TermsForm(forms.ModelForm):
    """The terms of an agreement, checked as the services check them."""

    categories = forms.MultipleChoiceField(choices=Category.choices, widget=forms.CheckboxSelectMultiple)
    purposes = forms.MultipleChoiceField(choices=Purpose.choices, widget=forms.CheckboxSelectMultiple)
    classification_ceiling = forms.TypedChoiceField(choices=Classification.choices, coerce=int)
    redacted_fields = forms.CharField(
        required=False,
        help_text=f"Comma-separated, from: {', '.join(agreements.REDACTABLE_FIELDS)}",
    )

    class Meta:
        model = Agreement
        fields = agreements.AMENDABLE_TERMS

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.initial["redacted_fields"] = ", ".join(self.instance.redacted_fields or [])

    def clean_redacted_fields(self) -> list[str]:
        return [f.strip() for f in self.cleaned_data["redacted_fields"].split(",") if f.strip()]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        try:
            if data.get("starts_at") and data.get("ends_at"):
                agreements.validate_dates(data["starts_at"], data["ends_at"])
            if "categories" in data and "purposes" in data:
                agreements.validate_scope(
                    data["categories"], data["purposes"], data.get("redacted_fields", [])
                )
        except ValidationError as error:
            for name, problems in error.message_dict.items():
                self.add_error(name if name in self.fields else None, problems)
        return data

    def changes(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.changed_data}

    def _post_clean(self) -> None:
        # The model instance is the stored agreement; the services apply the changes.
        pass


class PartiesFormSet(BaseInlineFormSet):
    user: User | None = None

    def parties(self) -> list[tuple[Agency, bool, bool]]:
        return [
            (form.cleaned_data["agency"], form.cleaned_data["provides"], form.cleaned_data["receives"])
            for form in self.forms
            if form.cleaned_data.get("agency") and not form.cleaned_data.get("DELETE")
        ]

    def clean(self) -> None:
        super().clean()
        if any(self.errors) or self.instance.pk is not None:
            return
        try:
            agreements.validate_parties(self.user, self.parties())
        except (ValidationError, PermissionDenied) as error:
            problems = error.messages if isinstance(error, ValidationError) else [str(error)]
            raise ValidationError(problems) from error


class AgreementPartyInline(admin.TabularInline):
    """Parties are chosen when an agreement is drafted and shown read-only afterwards: an
    agreement keeps its parties (a new one is drafted for others)."""

    model = AgreementParty
    formset = PartiesFormSet
    extra = 2
    fields = ("agency", "provides", "receives", "signed_at", "signed_by")
    readonly_fields = ("signed_at", "signed_by")

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        return type("PartiesFormSetFor", (formset,), {"user": request.user})

    def get_extra(self, request, obj=None, **kwargs):
        return 2 if obj is None else 0

    def has_view_permission(self, request, obj=None):
        return True

    def has_add_permission(self, request, obj=None):
        return obj is None

    def has_change_permission(self, request, obj=None):
        return obj is None

    def has_delete_permission(self, request, obj=None):
        return False


def run_action(modeladmin, request, queryset, service, *args) -> None:
    """Runs a lifecycle service on each selected agreement and reports each refusal."""
    for agreement in queryset:
        try:
            service(agreement, request.user, *args)
        except (ValidationError, PermissionDenied) as error:
            text = "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
            modeladmin.message_user(request, f"{agreement}: {text}", messages.ERROR)
        else:
            modeladmin.message_user(request, f"{agreement}: done", messages.SUCCESS)


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea, help_text="Recorded in the audit log with your name.")


class WithReason:
    """Suspension, resumption, termination and refusals need a reason: ask for it first."""

    def with_reason(self, request, queryset, service, verb: str):
        if "reason" in request.POST:
            form = ReasonForm(request.POST)
            if form.is_valid():
                run_action(self, request, queryset, service, form.cleaned_data["reason"])
                return None
        else:
            form = ReasonForm()
        return render(
            request,
            "admin/sharing/agreement/reason.html",
            {
                **self.admin_site.each_context(request),
                "form": form,
                "agreements": queryset,
                "verb": verb,
                "action": request.POST.get("action"),
                "opts": self.model._meta,
            },
        )


@admin.register(Agreement)
class AgreementAdmin(AgencyAdminAccess, WithReason, admin.ModelAdmin):
    """Drafting, revising a draft and amending go through `sharing.agreements` (the API's checks
    and audit events); the lifecycle is a set of actions calling the services. A proposed or
    signed agreement is read-only here; its versions are listed on it."""

    form = TermsForm
    list_display = ("reference", "version", "title", "status", "starts_at", "ends_at", "discovery_allowed")
    list_filter = ("status", "discovery_allowed", "onward_sharing_allowed")
    search_fields = ("reference", "title")
    inlines = [AgreementPartyInline]
    actions = ["propose", "sign", "activate", "suspend", "resume", "terminate"]
    # The reference is assigned by the platform (agreements.new_reference), shown, never edited.
    bookkeeping = (
        "reference",
        "status",
        "version",
        "fully_signed_at",
        "superseded_at",
        "created_by",
        "version_history",
    )

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(parties__agency_id=request.user.agency_id).distinct()

    def get_fields(self, request, obj=None):
        return [*agreements.AMENDABLE_TERMS, *(self.bookkeeping if obj else ())]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        if obj.status != Agreement.Status.DRAFT:
            return [*agreements.AMENDABLE_TERMS, *self.bookkeeping]
        return self.bookkeeping

    def has_change_permission(self, request, obj=None):
        # Only a draft is edited, through `revise_draft`; a signed agreement is amended.
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or obj.status == Agreement.Status.DRAFT)

    @admin.display(description="Versions")
    def version_history(self, obj: Agreement) -> str:
        rows = format_html_join(
            "",
            '<li><a href="{}">v{} {}</a>: {}{}</li>',
            (
                (
                    reverse("admin:sharing_agreement_change", args=[v.pk]),
                    v.version,
                    v.reference,
                    v.get_status_display(),
                    f", superseded {v.superseded_at:%Y-%m-%d %H:%M}" if v.superseded_at else "",
                )
                for v in obj.versions()
            ),
        )
        amend = ""
        if obj.status in agreements.AMENDABLE_STATUSES:
            url = reverse("admin:sharing_agreement_amend", args=[obj.pk])
            amend = format_html('<a href="{}">Amend (draft the next version)</a>', url)
        return format_html("<ul>{}</ul>{}", rows, amend)

    def save_model(self, request, obj, form, change):
        # Written by `save_related`, once the parties are known (adding) or by `revise_draft`.
        pass

    def save_related(self, request, form, formsets, change):
        if change:
            changes = form.changes()
            if changes:
                agreements.revise_draft(Agreement.objects.get(pk=form.instance.pk), request.user, **changes)
            return
        parties = next(f for f in formsets if isinstance(f, PartiesFormSet)).parties()
        data = form.cleaned_data
        created = agreements.create_agreement(
            request.user,
            parties=parties,
            **{name: data[name] for name in agreements.AMENDABLE_TERMS if name != "document"},
        )
        if data.get("document"):
            agreements.revise_draft(created, request.user, document=data["document"])
        form.instance.pk = created.pk
        form.instance._state.adding = False

    def construct_change_message(self, request, form, formsets, add=False):
        # The parties were written by the service, not by the inline formset.
        return super().construct_change_message(request, form, [], add)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/amend/",
                self.admin_site.admin_view(self.amend_view),
                name="sharing_agreement_amend",
            ),
            *super().get_urls(),
        ]

    def amend_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Drafts the next version through `agreements.amend`; it takes effect when every party
        has signed it (propose it, then each party signs)."""
        if not self.has_module_permission(request):
            raise PermissionDenied
        agreement = get_object_or_404(self.get_queryset(request), pk=object_id)
        form = TermsForm(request.POST or None, request.FILES or None, instance=agreement)
        if request.method == "POST" and form.is_valid():
            try:
                amendment = agreements.amend(agreement, request.user, **form.changes())
            except ValidationError as error:
                for name, problems in getattr(error, "error_dict", {None: error.error_list}).items():
                    form.add_error(name if name in form.fields else None, problems)
            else:
                self.message_user(request, f"{amendment}: drafted; propose it for every party to sign")
                return HttpResponseRedirect(reverse("admin:sharing_agreement_change", args=[amendment.pk]))
        return render(
            request,
            "admin/sharing/agreement/amend.html",
            {
                **self.admin_site.each_context(request),
                "form": form,
                "agreement": agreement,
                "opts": self.model._meta,
                "title": f"Amend {agreement.reference}",
            },
        )

    @admin.action(description="Propose the selected agreements")
    def propose(self, request, queryset):
        run_action(self, request, queryset, agreements.propose)

    @admin.action(description="Sign for my agency")
    def sign(self, request, queryset):
        run_action(self, request, queryset, agreements.sign)

    @admin.action(description="Activate (start date reached, signed by all)")
    def activate(self, request, queryset):
        run_action(self, request, queryset, agreements.activate)

    @admin.action(description="Suspend (platform admin, with a reason)")
    def suspend(self, request, queryset):
        return self.with_reason(request, queryset, agreements.suspend, "suspend")

    @admin.action(description="Resume (platform admin, with a reason)")
    def resume(self, request, queryset):
        return self.with_reason(request, queryset, agreements.resume, "resume")

    @admin.action(description="Terminate (platform admin, with a reason)")
    def terminate(self, request, queryset):
        return self.with_reason(request, queryset, agreements.terminate, "terminate")


@admin.register(DisclosureRequest)
class DisclosureRequestAdmin(WithReason, ReadOnlyAdmin):
    """Requests are decided only through the services (the liaison's approval or refusal)."""

    list_display = ("id", "kind", "requesting_agency", "owner", "urgency", "status", "due_at")
    list_filter = ("kind", "status", "urgency")
    exclude = ("records",)
    actions = ["approve", "refuse"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(owner_id=request.user.agency_id)

    @admin.action(description="Approve (liaison of the owner)")
    def approve(self, request, queryset):
        run_action(self, request, queryset, requests.approve)

    @admin.action(description="Refuse (liaison of the owner, with a reason)")
    def refuse(self, request, queryset):
        return self.with_reason(request, queryset, requests.refuse, "refuse")

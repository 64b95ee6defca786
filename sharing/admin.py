"""The admin. It writes only through the services the API uses (agreements, disclosure
decisions), or audits every write it makes itself (agencies, users, and any other model an
installed app registers), or is read-only. Agency admins reach the users and agreements of
their own agency; platform admins (superusers) everything."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from intel.admin import ReadOnlyAdmin
from intel.models import Category, Classification, Purpose
from sharing import services
from sharing.audit import record_event
from sharing.models import Agency, Agreement, AgreementParty, AuditEvent, DisclosureRequest, User

# Values the audit log never holds: a password hash, a token key.
SECRET_FIELDS = {"password", "key"}


def is_agency_admin(user: Any) -> bool:
    return bool(user.is_active and user.is_staff and user.agency_id and user.role == User.Role.AGENCY_ADMIN)


def snapshot(obj: models.Model) -> dict[str, Any]:
    """The stored values of a row's fields and many-to-many relations, as the audit log keeps them."""
    key = obj._meta.pk.attname  # not `pk`: a proxy (API tokens) may map `pk` to another column
    stored = type(obj)._default_manager.get(**{key: getattr(obj, key)})
    values = {f.name: f.value_from_object(stored) for f in obj._meta.concrete_fields}
    values |= {f.name: sorted(o.pk for o in f.value_from_object(stored)) for f in obj._meta.many_to_many}
    return values


def differences(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    changed = {}
    for name, value in after.items():
        if before.get(name) != value:
            secret = name in SECRET_FIELDS
            changed[name] = "changed" if secret else {"old": before.get(name), "new": value}
    return changed


def audit(request: HttpRequest, action: str, obj: models.Model, details: dict[str, Any]) -> None:
    details = {"via": "admin", **details}
    if obj._meta.pk.name in SECRET_FIELDS:
        # An API token's primary key is its secret: name the row by its model only.
        record_event(action, actor=request.user, details={"model": obj._meta.label_lower, **details})
    else:
        record_event(action, actor=request.user, obj=obj, details=details)


class AuditedAdmin(admin.ModelAdmin):
    """An admin that saves rows itself: every add, change and delete leaves an audit event
    naming the fields changed with their old and new values, in the admin's transaction."""

    def save_model(self, request: HttpRequest, obj: models.Model, form: Any, change: bool) -> None:
        obj._audit_before = snapshot(obj) if change else {}
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        obj = form.instance
        changes = differences(getattr(obj, "_audit_before", {}), snapshot(obj))
        audit(request, "admin.change" if change else "admin.add", obj, {"changes": changes})

    def delete_model(self, request: HttpRequest, obj: models.Model) -> None:
        self.audit_deletion(request, [obj])
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        self.audit_deletion(request, list(queryset))
        super().delete_queryset(request, queryset)

    def audit_deletion(self, request: HttpRequest, objs: list[models.Model]) -> None:
        for obj in objs:
            values = {k: v for k, v in snapshot(obj).items() if k not in SECRET_FIELDS}
            audit(request, "admin.delete", obj, {"values": values})


class AgencyAdminAccess:
    """For the models agency admins manage for their own agency (users, agreements): open to
    them and to platform admins by role, not by model permissions; nothing is ever deleted."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or is_agency_admin(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Agency)
class AgencyAdmin(AuditedAdmin):
    """Platform admins create and edit agencies (audited); an agency is never deleted: the
    audit log and its records name it."""

    list_display = ("code", "name", "country", "kind")
    list_filter = ("kind", "country")
    search_fields = ("code", "name")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(User)
class UserAdmin(AgencyAdminAccess, AuditedAdmin, DjangoUserAdmin):
    """Platform admins manage every user; an agency admin the users of their agency (roles,
    deactivation, passwords), never staff or superuser flags or permissions. Users are
    deactivated, never deleted: the audit log names them."""

    list_display = ("username", "agency", "role", "is_active", "is_superuser")
    list_filter = ("agency", "role", "is_active", "is_superuser")
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Agency", {"fields": ("agency", "role")}))
    add_fieldsets = (*DjangoUserAdmin.add_fieldsets, ("Agency", {"fields": ("agency", "role")}))
    agency_fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Person", {"fields": ("first_name", "last_name", "email")}),
        ("Agency", {"fields": ("role", "is_active")}),
    )
    agency_add_fieldsets = (
        (None, {"fields": ("username", "usable_password", "password1", "password2")}),
        ("Agency", {"fields": ("role",)}),
    )

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(agency_id=request.user.agency_id, is_superuser=False)

    def get_list_filter(self, request):
        return self.list_filter if request.user.is_superuser else ("role", "is_active")

    def get_fieldsets(self, request, obj=None):
        if request.user.is_superuser:
            return super().get_fieldsets(request, obj)
        return self.agency_add_fieldsets if obj is None else self.agency_fieldsets

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if request.user.is_superuser:
            return form
        agency_id = request.user.agency_id

        class OwnAgencyForm(form):
            def _post_clean(self) -> None:
                # Validated as a member of the agency admin's own agency, which it will be.
                self.instance.agency_id = agency_id
                super()._post_clean()

        return OwnAgencyForm

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser:
            # The fields an agency admin sees do not include these: keep them so.
            obj.agency_id = request.user.agency_id
            obj.is_superuser = False
            if not change:
                obj.is_staff = False
        if not obj.is_superuser and (obj.agency_id is None or not obj.role):
            raise PermissionDenied("every user but a platform admin belongs to an agency with a role")
        super().save_model(request, obj, form, change)

    def user_change_password(self, request, id, form_url=""):
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            user = self.get_object(request, id)
            audit(request, "admin.password_change", user, {})
        return response


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "at", "actor_username", "agency", "action", "object_type", "object_id")
    list_filter = ("action", "object_type")
    search_fields = ("actor_username", "object_id")
    date_hierarchy = "at"

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser


# --- agreements: every write through the lifecycle services -------------------------------


class TermsForm(forms.ModelForm):
    """The terms of an agreement, checked as the services check them."""

    categories = forms.MultipleChoiceField(choices=Category.choices, widget=forms.CheckboxSelectMultiple)
    purposes = forms.MultipleChoiceField(choices=Purpose.choices, widget=forms.CheckboxSelectMultiple)
    classification_ceiling = forms.TypedChoiceField(choices=Classification.choices, coerce=int)
    redacted_fields = forms.CharField(
        required=False,
        help_text=f"Comma-separated: {', '.join(services.REDACTABLE_FIELDS)} or details.<key>",
    )

    class Meta:
        model = Agreement
        fields = services.AMENDABLE_TERMS

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.initial["redacted_fields"] = ", ".join(self.instance.redacted_fields or [])

    def clean_reference(self) -> str:
        reference = self.cleaned_data["reference"]
        if Agreement.objects.filter(reference=reference).exclude(pk=self.instance.pk).exists():
            raise ValidationError("an agreement with this reference exists")
        return reference

    def clean_redacted_fields(self) -> list[str]:
        return [f.strip() for f in self.cleaned_data["redacted_fields"].split(",") if f.strip()]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        try:
            if data.get("starts_at") and data.get("ends_at"):
                services.validate_dates(data["starts_at"], data["ends_at"])
            if "categories" in data and "purposes" in data:
                services.validate_scope(data["categories"], data["purposes"], data.get("redacted_fields", []))
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
            services.validate_parties(self.user, self.parties())
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
    """Drafting, revising a draft and amending go through `sharing.services` (the API's checks
    and audit events); the lifecycle is a set of actions calling the services. A proposed or
    signed agreement is read-only here; its versions are listed on it."""

    form = TermsForm
    list_display = ("reference", "version", "title", "status", "starts_at", "ends_at", "discovery_allowed")
    list_filter = ("status", "discovery_allowed", "onward_sharing_allowed")
    search_fields = ("reference", "title")
    inlines = [AgreementPartyInline]
    actions = ["propose", "sign", "activate", "suspend", "resume", "terminate"]
    bookkeeping = ("status", "version", "fully_signed_at", "superseded_at", "created_by", "version_history")

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(parties__agency_id=request.user.agency_id).distinct()

    def get_fields(self, request, obj=None):
        return [*services.AMENDABLE_TERMS, *(self.bookkeeping if obj else ())]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        if obj.status != Agreement.Status.DRAFT:
            return [*services.AMENDABLE_TERMS, *self.bookkeeping]
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
        if obj.status in services.AMENDABLE_STATUSES:
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
                services.revise_draft(Agreement.objects.get(pk=form.instance.pk), request.user, **changes)
            return
        parties = next(f for f in formsets if isinstance(f, PartiesFormSet)).parties()
        data = form.cleaned_data
        created = services.create_agreement(
            request.user,
            parties=parties,
            **{name: data[name] for name in services.AMENDABLE_TERMS if name != "document"},
        )
        if data.get("document"):
            services.revise_draft(created, request.user, document=data["document"])
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
        """Drafts the next version through `services.amend`; it takes effect when every party
        has signed it (propose it, then each party signs)."""
        if not self.has_module_permission(request):
            raise PermissionDenied
        agreement = get_object_or_404(self.get_queryset(request), pk=object_id)
        form = TermsForm(request.POST or None, request.FILES or None, instance=agreement)
        if request.method == "POST" and form.is_valid():
            try:
                amendment = services.amend(agreement, request.user, **form.changes())
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
        run_action(self, request, queryset, services.propose)

    @admin.action(description="Sign for my agency")
    def sign(self, request, queryset):
        run_action(self, request, queryset, services.sign)

    @admin.action(description="Activate (start date reached, signed by all)")
    def activate(self, request, queryset):
        run_action(self, request, queryset, services.activate)

    @admin.action(description="Suspend (platform admin, with a reason)")
    def suspend(self, request, queryset):
        return self.with_reason(request, queryset, services.suspend, "suspend")

    @admin.action(description="Resume (platform admin, with a reason)")
    def resume(self, request, queryset):
        return self.with_reason(request, queryset, services.resume, "resume")

    @admin.action(description="Terminate (platform admin, with a reason)")
    def terminate(self, request, queryset):
        return self.with_reason(request, queryset, services.terminate, "terminate")


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
        run_action(self, request, queryset, services.approve)

    @admin.action(description="Refuse (liaison of the owner, with a reason)")
    def refuse(self, request, queryset):
        return self.with_reason(request, queryset, services.refuse, "refuse")


class DeleteOnlyAdmin:
    """Second-factor devices and lock-out records: an admin resets a lost device or lifts a
    lock-out by deleting the row; adding or changing one (a device key of the admin's choosing)
    would let the admin pass another person's second factor."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


DELETE_ONLY = {
    "otp_totp.totpdevice",
    "otp_static.staticdevice",
    "axes.accessattempt",
    "axes.accesslog",
    "axes.accessfailurelog",
}


def audit_every_other_admin(site: admin.AdminSite) -> None:
    """Admins registered by installed apps (groups, devices, lock-outs) write rows themselves:
    give each the audit of `AuditedAdmin`, so no admin write goes unrecorded."""
    for model, model_admin in list(site._registry.items()):
        if model._meta.app_label in {"sharing", "intel", "graph"} or isinstance(model_admin, AuditedAdmin):
            continue
        site.unregister(model)
        bases = (DeleteOnlyAdmin,) if model._meta.label_lower in DELETE_ONLY else ()
        audited = type(f"Audited{type(model_admin).__name__}", (*bases, AuditedAdmin, type(model_admin)), {})
        site.register(model, audited)

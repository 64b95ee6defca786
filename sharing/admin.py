from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import render

from sharing import services
from sharing.audit import record_event
from sharing.models import Agency, Agreement, AgreementParty, AuditEvent, DisclosureRequest, User


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "country", "kind")
    list_filter = ("kind", "country")
    search_fields = ("code", "name")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "agency", "role", "is_active", "is_superuser")
    list_filter = ("agency", "role", "is_active", "is_superuser")
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Agency", {"fields": ("agency", "role")}))
    add_fieldsets = (*DjangoUserAdmin.add_fieldsets, ("Agency", {"fields": ("agency", "role")}))

    def get_queryset(self, request):
        # An agency admin manages the users of their own agency only.
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(agency_id=request.user.agency_id)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("id", "at", "actor_username", "agency", "action", "object_type", "object_id")
    list_filter = ("action", "object_type")
    search_fields = ("actor_username", "object_id")
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_module_permission(self, request):
        return request.user.is_superuser


class AgreementPartyInline(admin.TabularInline):
    model = AgreementParty
    extra = 2
    fields = ("agency", "provides", "receives", "signed_at", "signed_by")
    readonly_fields = ("signed_at", "signed_by")

    def has_change_permission(self, request, obj=None):
        return obj is None or obj.status == Agreement.Status.DRAFT


def run_action(modeladmin, request, queryset, service, *args) -> None:
    """Runs a lifecycle service on each selected agreement and reports each refusal."""
    for agreement in queryset:
        try:
            service(agreement, request.user, *args)
        except (ValidationError, PermissionDenied) as error:
            text = "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
            modeladmin.message_user(request, f"{agreement.reference}: {text}", messages.ERROR)
        else:
            modeladmin.message_user(request, f"{agreement.reference}: done", messages.SUCCESS)


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea, help_text="Recorded in the audit log with your name.")


@admin.register(Agreement)
class AgreementAdmin(admin.ModelAdmin):
    list_display = ("reference", "title", "status", "starts_at", "ends_at", "discovery_allowed")
    list_filter = ("status", "discovery_allowed", "onward_sharing_allowed")
    search_fields = ("reference", "title")
    readonly_fields = ("status", "fully_signed_at", "created_by")
    inlines = [AgreementPartyInline]
    actions = ["propose", "sign", "activate", "suspend", "resume", "terminate"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(parties__agency_id=request.user.agency_id).distinct()

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        services.validate_scope(obj.categories, obj.purposes, obj.redacted_fields)
        super().save_model(request, obj, form, change)
        if not change:
            record_event("agreement.draft", actor=request.user, obj=obj, details={"via": "admin"})

    @admin.action(description="Propose the selected agreements")
    def propose(self, request, queryset):
        run_action(self, request, queryset, services.propose)

    @admin.action(description="Sign for my agency")
    def sign(self, request, queryset):
        run_action(self, request, queryset, services.sign)

    @admin.action(description="Activate (start date reached, signed by all)")
    def activate(self, request, queryset):
        run_action(self, request, queryset, services.activate)

    def with_reason(self, request, queryset, service, verb: str):
        """Suspension, resumption and termination need a reason: ask for it first."""
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
class DisclosureRequestAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "requesting_agency", "owner", "urgency", "status", "due_at")
    list_filter = ("kind", "status", "urgency")
    readonly_fields = [f.name for f in DisclosureRequest._meta.fields]

    def has_add_permission(self, request):
        return False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(owner_id=request.user.agency_id)

"""The admin's Load sample data page: generate synthetic candles or upload a CSV file."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from candles.api.paths import candle_url
from candles.api.registry import django_modes
from candles.csv_format import ImportRejected
from candles.forms import GenerateForm, UploadForm
from candles.models import Exchange, Pair
from candles.services import ImportResult, candles_import, candles_seed

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

TEMPLATE = "admin/candles/load_sample_data.html"
GENERATE_PERMS = ("candles.add_candle", "candles.add_pair", "candles.add_exchange")
UPLOAD_PERM = "candles.add_candle"
REPLACE_PERMS = ("candles.add_candle", "candles.change_candle", "candles.delete_candle")
PAIRS_LISTED = 20
# The request attribute that carries the page's upload limiter from the view to the page.
_LIMITER_ATTRIBUTE = "_candles_upload_limiter"


class UploadLimitHandler(FileUploadHandler):
    """Drops an upload once it passes the size limit, so it never reaches the disk.

    Django would otherwise store the whole body in a temporary file before the form
    could look at its size. This is the one size check of the page: the view tells the
    form which file fields were dropped (`oversized`), and the form says why.
    """

    def __init__(self, request: HttpRequest, limit: int):
        super().__init__(request)
        self.limit = limit
        self.oversized: set[str] = set()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            self.oversized.add(self.field_name)
            raise SkipFile()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handlers build the file object


def candle_changelist_url(pair: Pair, interval: str) -> str:
    query = urlencode({"pair__id__exact": pair.pk, "interval__exact": interval})
    return f"{reverse('admin:candles_candle_changelist')}?{query}"


def api_url(mode: str, pair: Pair, interval: str, limit: int = 100) -> str:
    """The endpoint URL as /api/modes documents it."""
    return candle_url(
        mode, pair.exchange.name, pair.market, pair.asset, interval=interval, limit=limit
    )


def _permissions(request: HttpRequest) -> dict[str, bool]:
    user = request.user
    return {
        "can_upload": user.has_perm(UPLOAD_PERM),
        "can_generate": user.has_perms(GENERATE_PERMS),
        "can_replace": user.has_perms(REPLACE_PERMS),
        "can_add_exchange": user.has_perm("candles.add_exchange"),
        "can_add_pair": user.has_perm("candles.add_pair"),
    }


def _links(pair: Pair, counts: dict[str, int]) -> str:
    per_interval = format_html_join(
        ", ",
        '<a href="{}">{}: {}</a>',
        ((candle_changelist_url(pair, i), i, f"{n:,}") for i, n in counts.items()),
    )
    first = next(iter(counts))
    return format_html(
        '{} &middot; query them: <a href="{}">API (raw mode)</a>, <a href="{}">all modes</a>',
        per_interval,
        api_url("raw", pair, first, limit=5),
        reverse("modes"),
    )


def _generate(
    model_admin: ModelAdmin, request: HttpRequest, form: GenerateForm
) -> HttpResponse | None:
    data = form.cleaned_data
    try:
        counts = candles_seed(
            exchange=data["exchange"],
            market=data["market"],
            asset=data["asset"],
            count=data["count"],
            start=data["start"],
            seed=data["seed"],
            intervals=data["intervals"],
        )
    except ValueError as exc:
        form.add_error(None, str(exc))
        return None
    pair = Pair.objects.select_related("exchange").get(
        exchange__name=data["exchange"], market=data["market"], asset=data["asset"]
    )
    summary = ", ".join(f"{i}: {n}" for i, n in counts.items())
    model_admin.log_change(request, pair, f"Generated candles (seed {data['seed']}): {summary}")
    messages.success(
        request,
        format_html(
            "Generated candles for {} from {} UTC (0 = already stored): {}",
            pair,
            f"{data['start']:%Y-%m-%d %H:%M}",
            _links(pair, counts),
        ),
    )
    return HttpResponseRedirect(request.path)


def _check_create_perms(form: UploadForm, perms: dict[str, bool]) -> bool:
    exchange, market, asset = form.cleaned_data["names"]
    if Pair.objects.filter(exchange__name=exchange, market=market, asset=asset).exists():
        return True
    if not perms["can_add_pair"] or (
        not perms["can_add_exchange"] and not Exchange.objects.filter(name=exchange).exists()
    ):
        form.add_error(
            None,
            f"{exchange}/{market}/{asset} does not exist yet and you may not create "
            "exchanges or pairs; choose an existing pair.",
        )
        return False
    return True


def _upload_message(result: ImportResult, file_name: str) -> str:
    created = []
    if result.exchange_created:
        created.append(f"created exchange {result.pair.exchange.name}")
    if result.pair_created:
        created.append(f"created pair {result.pair}")
    return format_html(
        "Imported {} rows from {} into {} {}: {}{}. {}",
        f"{result.rows:,}",
        file_name,
        result.pair,
        result.interval,
        result.summary,
        f" ({', '.join(created)})" if created else "",
        _links(result.pair, {result.interval: result.inserted}),
    )


def _upload(
    model_admin: ModelAdmin, request: HttpRequest, form: UploadForm, perms: dict[str, bool]
) -> tuple[HttpResponse | None, ImportRejected | None]:
    data = form.cleaned_data
    if data["mode"] == "replace" and not perms["can_replace"]:
        form.add_error(
            "mode", "Replacing needs permission to change and delete candles; choose skip."
        )
        return None, None
    if not _check_create_perms(form, perms):
        return None, None
    exchange, market, asset = data["names"]
    upload = data["file"]
    try:
        result = candles_import(
            source=upload,
            exchange=exchange,
            market=market,
            asset=asset,
            interval=data["interval"],
            mode=data["mode"],
        )
    except ImportRejected as rejection:
        return None, rejection
    except ValueError as exc:
        form.add_error(None, str(exc))
        return None, None
    model_admin.log_change(
        request, result.pair, f"Imported {upload.name} ({result.interval}): {result.summary}"
    )
    messages.success(request, _upload_message(result, upload.name))
    return HttpResponseRedirect(request.path), None


def _page(model_admin: ModelAdmin, request: HttpRequest) -> HttpResponse:
    perms = _permissions(request)
    if not perms["can_upload"]:
        raise PermissionDenied
    generate_form = GenerateForm(prefix="gen")
    upload_form = UploadForm(prefix="up")
    rejection: ImportRejected | None = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "generate":
            if not perms["can_generate"]:
                raise PermissionDenied
            generate_form = GenerateForm(request.POST, prefix="gen")
            if generate_form.is_valid() and (
                response := _generate(model_admin, request, generate_form)
            ):
                return response
        elif action == "upload":
            limiter: UploadLimitHandler | None = getattr(request, _LIMITER_ATTRIBUTE, None)
            upload_form = UploadForm(
                request.POST,
                request.FILES,
                prefix="up",
                oversized_files=limiter.oversized if limiter else (),
            )
            if upload_form.is_valid():
                response, rejection = _upload(model_admin, request, upload_form, perms)
                if response:
                    return response
        else:
            return HttpResponseBadRequest("unknown action")
    pairs = list(Pair.objects.select_related("exchange")[: PAIRS_LISTED + 1])
    context: dict[str, Any] = {
        **model_admin.admin_site.each_context(request),
        **perms,
        "title": "Load sample data",
        "opts": Pair._meta,
        "generate_form": generate_form,
        "upload_form": upload_form,
        "rejection": rejection,
        "rejected_file": upload_form.cleaned_data["file"].name if rejection else "",
        "max_upload": filesizeformat(settings.CANDLES_UPLOAD_MAX_BYTES),
        "pairs": [
            {
                "pair": p,
                "links": [(m.name, api_url(m.name, p, "1m", limit=5)) for m in django_modes()],
            }
            for p in pairs[:PAIRS_LISTED]
        ],
        "more_pairs": len(pairs) > PAIRS_LISTED,
        "modes_url": reverse("modes"),
    }
    # Invalid forms and rejected files answer 200 with the page, as the admin's own forms do.
    return TemplateResponse(request, TEMPLATE, context)


def load_sample_data_view(model_admin: ModelAdmin) -> Callable[[HttpRequest], HttpResponse]:
    """The page's view, to be wrapped by admin_site.admin_view (login, staff, never_cache)."""
    protected = csrf_protect(lambda request: _page(model_admin, request))

    # The upload handler must be installed before anything reads request.POST, which
    # CsrfViewMiddleware does; so CSRF is checked here, after the handler is in place
    # (the pattern Django's upload-handler docs describe).
    @csrf_exempt
    def view(request: HttpRequest) -> HttpResponse:
        if request.method == "POST":
            limiter = UploadLimitHandler(request, settings.CANDLES_UPLOAD_MAX_BYTES)
            # Django's setter refuses once the upload has been read (no handler can apply).
            request.upload_handlers = [limiter, *request.upload_handlers]
            setattr(request, _LIMITER_ATTRIBUTE, limiter)
        return protected(request)

    return view

"""Admin for exchanges, pairs and candles, built to stay fast on millions of candles.

The stock changelist counts the whole table (twice), sorts by -pk and renders facet
counts; the delete page loads every cascaded row. Each of those is replaced below by
something whose cost does not grow with the candle table.
"""

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.utils.html import format_html
from django.utils.text import capfirst

from candles.admin_views import candle_changelist_url, load_sample_data_view
from candles.models import Candle, Exchange, Pair

# The index gets a "Load sample data" box (candles/templates/admin/candles/index.html);
# the default site is used, so the template is set on it rather than on a subclass.
admin.site.index_template = "admin/candles/index.html"

DELETE_LISTED = 20


class CappedCountPaginator(Paginator):
    """Counts at most `cap` rows: COUNT(*) over millions of candles takes seconds.

    Past the cap the changelist says "more than 100,000" and pages up to the cap;
    filters and the date hierarchy narrow the list further.
    """

    object_list: QuerySet[Any]  # the changelist's queryset: count runs in the database
    cap = 100_000
    more = False  # set by count: True when the rows go on past the cap

    @cached_property
    def count(self) -> int:
        # COUNT(*) FROM (SELECT ... LIMIT cap + 1): stops after cap + 1 index entries.
        counted = self.object_list[: self.cap + 1].count()
        self.more = counted > self.cap
        return min(counted, self.cap)


class PairListFilter(admin.RelatedFieldListFilter):
    """The pair filter, without one exchange query per pair for the labels."""

    def field_choices(
        self, field: Any, request: HttpRequest, model_admin: admin.ModelAdmin
    ) -> list:
        return [(pair.pk, str(pair)) for pair in Pair.objects.select_related("exchange")]


class SummarizedDeleteMixin:
    """Delete confirmation that counts cascaded rows instead of loading and listing them.

    The stock page renders every candle a pair or exchange cascades to; the delete
    itself is cheap (Django fast-deletes candles with one DELETE ... WHERE pair_id IN).
    """

    model: type[Model]  # the ModelAdmin's (admin.ModelAdmin comes after the mixin)

    def cascades(self, objs: QuerySet) -> Sequence[QuerySet]:
        return ()

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[list, dict, set, list]:
        model = self.model
        queryset = (
            objs
            if isinstance(objs, QuerySet)
            else model._default_manager.filter(pk__in=[o.pk for o in objs])
        )
        shown = list(queryset[:DELETE_LISTED])
        listed: list[Any] = [f"{capfirst(model._meta.verbose_name)}: {obj}" for obj in shown]
        total = queryset.count()
        if total > len(shown):
            listed.append(f"... and {total - len(shown)} more")
        # Verbose names, lazy translations as in Django's own get_deleted_objects.
        model_count: dict[Any, int] = {model._meta.verbose_name_plural: total}
        perms_needed: set[Any] = set()
        for related in (queryset, *self.cascades(queryset)):
            opts = related.model._meta
            count = total if related is queryset else related.count()
            if not count:
                continue
            if related is not queryset:
                model_count[opts.verbose_name_plural] = count
                listed.append(f"{count:,} {opts.verbose_name_plural}")
            if not request.user.has_perm(f"{opts.app_label}.delete_{opts.model_name}"):
                perms_needed.add(opts.verbose_name)
        return listed, model_count, perms_needed, []


@admin.register(Exchange)
class ExchangeAdmin(SummarizedDeleteMixin, admin.ModelAdmin):
    list_display = ("name",)
    search_fields = ("name",)

    def cascades(self, objs: QuerySet) -> Sequence[QuerySet]:
        return (
            Pair.objects.filter(exchange__in=objs),
            Candle.objects.filter(pair__exchange__in=objs),
        )


@admin.register(Pair)
class PairAdmin(SummarizedDeleteMixin, admin.ModelAdmin):
    # The changelist template (admin/candles/pair/change_list.html) is found by name.
    list_display = ("label", "exchange", "market", "asset", "candles")
    list_filter = ("exchange",)
    list_select_related = ("exchange",)
    search_fields = ("=market", "=asset", "=exchange__name")
    search_help_text = "Exact symbol: asset (BTC), market (KRW) or exchange (upbit)."

    def cascades(self, objs: QuerySet) -> Sequence[QuerySet]:
        return (Candle.objects.filter(pair__in=objs),)

    @admin.display(description="pair", ordering="exchange__name")
    def label(self, pair: Pair) -> str:
        return str(pair)

    @admin.display(description="candles")
    def candles(self, pair: Pair) -> str:
        # A link, not a count: counting each pair's candles would cost a scan per row.
        return format_html('<a href="{}">view candles</a>', candle_changelist_url(pair, "1m"))

    def get_urls(self) -> list[URLPattern]:
        page = path(
            "load-sample-data/",
            self.admin_site.admin_view(load_sample_data_view(self)),
            name="candles_load_sample_data",
        )
        # Before the stock patterns: their "<path:object_id>/" would swallow this path.
        return [page, *super().get_urls()]


@admin.register(Candle)
class CandleAdmin(admin.ModelAdmin):
    list_display = ("basetm", "pair", "interval", "o", "h", "l", "c", "v")
    list_filter = (
        ("pair__exchange", admin.RelatedFieldListFilter),
        ("pair", PairListFilter),
        "interval",
    )
    list_select_related = ("pair__exchange",)
    search_fields = ("=pair__asset", "=pair__market", "=pair__exchange__name")
    search_help_text = "Exact symbol: asset (BTC), market (KRW) or exchange (upbit)."
    date_hierarchy = "basetm"
    raw_id_fields = ("pair",)
    # Backwards along the (pair, interval, basetm) unique index: no sort step, newest
    # candle first within a pair and interval, and a total order so no "-pk" is added.
    ordering = ("-pair_id", "-interval", "-basetm")
    sortable_by = ("basetm",)
    paginator = CappedCountPaginator
    show_full_result_count = False
    if hasattr(admin, "ShowFacets"):  # Django 5.0+; 4.2 (the stacks of 2023) counts no facets
        show_facets = admin.ShowFacets.NEVER

    readonly_fields = ("pair", "interval", "basetm", "o", "h", "l", "c", "v")
    # No bulk actions, so no "Delete selected": across all candles it would log one LogEntry
    # per row; whole series are deleted through their pair, single candles from their page.
    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Candles come from the generator or an import, which check every rule (aligned
        # times, l <= o, c <= h, ...); a hand-made candle would bypass them. Stored ones
        # are fixed by re-importing with "replace", not by editing single numbers.
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict | None = None
    ) -> HttpResponse:
        # The date hierarchy runs MIN/MAX and DISTINCT over the filtered rows; only with
        # a pair and an interval chosen is that one index range instead of the table.
        context = {
            "date_hierarchy_ready": "pair__id__exact" in request.GET
            and "interval__exact" in request.GET,
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

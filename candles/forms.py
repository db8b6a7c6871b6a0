"""Forms of the admin's Load sample data page."""

from collections.abc import Callable, Collection
from datetime import UTC
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat

from candles.csv_format import HEADER
from candles.models import SYMBOL_MAX_LENGTHS, Interval, Pair, clean_symbol
from candles.random_walk import DEFAULT_COUNT, DEFAULT_SEED, DEFAULT_START

_NAME_HELP = {
    "exchange": "e.g. upbit",
    "market": "the quote currency, e.g. KRW",
    "asset": "the base currency, e.g. BTC",
}


def _symbol_field(name: str, required: bool) -> forms.CharField:
    return forms.CharField(
        max_length=SYMBOL_MAX_LENGTHS[name], required=required, help_text=_NAME_HELP[name]
    )


def _clean_symbol(cleaned_data: dict[str, Any], name: str) -> str:
    value = cleaned_data.get(name, "")
    if not value:
        return value
    try:
        return clean_symbol(name, value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


class SymbolFieldsMixin:
    """exchange, market and asset cleaned alike in both forms."""

    cleaned_data: dict[str, Any]  # the form's (forms.Form comes after the mixin)

    def clean_exchange(self) -> str:
        return _clean_symbol(self.cleaned_data, "exchange")

    def clean_market(self) -> str:
        return _clean_symbol(self.cleaned_data, "market")

    def clean_asset(self) -> str:
        return _clean_symbol(self.cleaned_data, "asset")


class GenerateForm(SymbolFieldsMixin, forms.Form):
    """The arguments of services.candles_seed, with `manage.py seed_candles`'s defaults."""

    exchange = _symbol_field("exchange", required=True)
    market = _symbol_field("market", required=True)
    asset = _symbol_field("asset", required=True)
    intervals = forms.MultipleChoiceField(
        choices=Interval.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=list(Interval.values),
        help_text="Longer intervals are rolled up from the 1m series; only complete candles are stored.",
    )
    count = forms.IntegerField(
        label="Number of 1m candles",
        min_value=1,
        initial=DEFAULT_COUNT,
        help_text="1440 is one day; the default, 90 days, is what seed_candles generates.",
    )
    start = forms.DateTimeField(
        label="Start time (UTC)",
        initial=DEFAULT_START,
        widget=forms.DateTimeInput(format="%Y-%m-%d %H:%M"),
        help_text="Time of the first 1m candle, on a whole minute, e.g. 2023-07-01 00:00.",
    )
    seed = forms.IntegerField(
        label="Random seed",
        min_value=0,
        max_value=2**63 - 1,
        initial=DEFAULT_SEED,
        help_text="The same seed, pair and start give the same candles on every machine.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Read per form rather than at import, so override_settings and env changes apply.
        limit = settings.CANDLES_GENERATE_MAX_COUNT
        count = self.fields["count"]
        count.validators.append(_max_count(limit))
        count.widget.attrs["max"] = limit

    def clean_start(self) -> Any:
        start = self.cleaned_data["start"].astimezone(UTC)
        if start.second or start.microsecond:
            raise ValidationError("The start time must be on a whole minute (seconds = 0).")
        return start


def _max_count(limit: int) -> Callable[[int], None]:
    def validate(value: int) -> None:
        if value > limit:
            raise ValidationError(
                f"At most {limit:,} candles per request (setting CANDLES_GENERATE_MAX_COUNT); "
                "use manage.py seed_candles for more."
            )

    return validate


class UploadForm(SymbolFieldsMixin, forms.Form):
    """The arguments of services.candles_import.

    The size limit is not checked here: the page's upload handler drops a file as soon as
    it passes the limit, so it never reaches the disk. When `oversized_files` (the
    handler's list of dropped fields) names this form's file, the form explains the
    missing file instead of asking for one.
    """

    file = forms.FileField(
        label="CSV file",
        error_messages={"empty": f"The file is empty; the first line must be the header {HEADER}."},
        help_text=f"UTF-8 CSV with the header {HEADER}, as described above.",
    )
    pair = forms.ModelChoiceField(
        queryset=Pair.objects.select_related("exchange"),
        required=False,
        empty_label="(a new pair, named below)",
    )
    exchange = _symbol_field("exchange", required=False)
    market = _symbol_field("market", required=False)
    asset = _symbol_field("asset", required=False)
    interval = forms.ChoiceField(choices=Interval.choices)
    mode = forms.ChoiceField(
        label="Candles already stored at a file's time",
        choices=[
            ("skip", "Skip them (keep what is stored)"),
            ("replace", "Replace them with the file's values"),
        ],
        initial="skip",
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, oversized_files: Collection[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.add_prefix("file") in oversized_files:
            limit = filesizeformat(settings.CANDLES_UPLOAD_MAX_BYTES)
            self.fields["file"].error_messages["required"] = (
                f"The file is larger than the {limit} limit (setting CANDLES_UPLOAD_MAX_BYTES). "
                "Split it into smaller files."
            )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        pair: Pair | None = data.get("pair")
        names = [data.get(name, "") for name in SYMBOL_MAX_LENGTHS]
        if any(name in self.errors for name in SYMBOL_MAX_LENGTHS):
            return data
        if pair is not None:
            if any(names) and names != [pair.exchange.name, pair.market, pair.asset]:
                raise ValidationError("Choose an existing pair or name a new one, not both.")
            data["names"] = (pair.exchange.name, pair.market, pair.asset)
        elif all(names):
            data["names"] = tuple(names)
        else:
            raise ValidationError(
                "Choose a pair, or fill in exchange, market and asset for a new one."
            )
        return data

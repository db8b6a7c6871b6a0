import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "candleproject.settings")
django.setup(set_prefix=False)

from candles.api.gc_setups import apply_at_app_load  # noqa: E402
from candles.api.registry import ServerKind  # noqa: E402

from .handlers import SplitASGIApplication  # noqa: E402 - needs the apps loaded

application = SplitASGIApplication()
# settings.CANDLEBENCH_GC, once the app is loaded (under gunicorn: its post_worker_init).
apply_at_app_load(ServerKind.DJANGO)

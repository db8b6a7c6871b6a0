import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "candleproject.settings")
django.setup(set_prefix=False)

from .handlers import SplitASGIApplication  # noqa: E402 - needs the apps loaded

application = SplitASGIApplication()

"""What the locustfile offers Locust for a command line, as JSON: the user classes a run would
use and the picker would offer, each mode class's mode, and the web form's custom parameters.
test_locustfile runs it in a process of its own: Locust patches the process with gevent."""

import json
import sys

from locust.argument_parser import get_parser, ui_extra_args_dict
from locust.env import Environment

from loadtest import locustfile


def main(argv: list[str]) -> None:
    options = get_parser(default_config_files=[]).parse_args(argv)
    classes = {"CandleUser": locustfile.CandleUser, **locustfile.MODE_USERS}
    environment = Environment(
        user_classes=list(classes.values()),
        available_user_classes=dict(classes),
        host=options.host,
        parsed_options=options,
    )
    locustfile.choose_user_classes(environment)
    print(
        json.dumps(
            {
                "running": [user.__name__ for user in environment.user_classes],
                "offered": list(environment.available_user_classes or {}),
                "modes": {name: user.mode for name, user in locustfile.MODE_USERS.items()},
                "form": ui_extra_args_dict(argv),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])

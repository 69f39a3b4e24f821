"""``python -m streamer``: the command-line interface."""

from streamer.cli import main

raise SystemExit(main())

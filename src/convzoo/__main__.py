"""``python -m convzoo`` runs the command line."""

from convzoo.cli.main import main

raise SystemExit(main())

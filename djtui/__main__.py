from djtui.cli import main

raise SystemExit(main())

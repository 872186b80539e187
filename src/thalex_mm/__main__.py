from thalex_mm.cli.main import main

raise SystemExit(main())

from photofind.cli import main

raise SystemExit(main())

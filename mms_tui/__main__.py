from mms_tui.cli import main

main()

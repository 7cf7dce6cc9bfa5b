from mms_tui.cli import main

if __name__ == "__main__":  # (not again in a helper process, which imports this module as __mp_main__)
    main()
